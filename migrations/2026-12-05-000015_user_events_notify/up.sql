-- Open event streams sleep until a notification for their user commits: each statement that
-- inserts notifications sends one NOTIFY naming the users concerned (delivered at commit, to
-- every server process). A payload that would not fit wakes every stream ('*').
CREATE FUNCTION user_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    users text;
BEGIN
    SELECT string_agg(DISTINCT user_id, E'\n') INTO users FROM new_rows;
    IF users IS NOT NULL THEN
        PERFORM pg_notify('imreceipts_user_events', CASE WHEN length(users) > 7000 THEN '*' ELSE users END);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER user_events_notify AFTER INSERT ON user_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_events_notify();
