-- Per-user receipt notifications (what happened to the messages a user sent), written in the
-- receipt's transaction. Streams read them in (txid, id) order and only below the oldest
-- transaction still running: ids alone are taken before commit, so a smaller id can become
-- visible after a larger one, while every transaction below that horizon has finished.
CREATE TABLE user_events (
    id         BIGSERIAL PRIMARY KEY,
    txid       BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    user_id    TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_events_stream ON user_events (user_id, txid, id);
