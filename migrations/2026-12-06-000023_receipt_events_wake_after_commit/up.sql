-- A NOTIFY in a transaction holds PostgreSQL's global notify lock from pre-commit through the
-- commit's WAL flush, so every notifying transaction commits one after another. Receipt writes
-- (the hot path) therefore wake streams with their own NOTIFY right after they commit (a
-- transaction without writes: no flush); the trigger keeps waking for everything else.
CREATE OR REPLACE FUNCTION user_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    users text;
BEGIN
    SELECT string_agg(DISTINCT user_id, E'\n') INTO users FROM new_rows
     WHERE event_type NOT IN ('Group.ReadReceipt', 'Group.Delivered', 'C2C.ReadReceipt', 'C2C.Delivered');
    IF users IS NOT NULL THEN
        PERFORM pg_notify('imreceipts_user_events', CASE WHEN length(users) > 7000 THEN '*' ELSE users END);
    END IF;
    RETURN NULL;
END
$$;
