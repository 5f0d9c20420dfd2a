CREATE OR REPLACE FUNCTION user_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
