-- Per-user receipt notifications (what happened to the messages a user sent), written in the
-- receipt's transaction. The id orders a user's stream and is the SSE event id clients resume
-- from after being offline.
CREATE TABLE user_events (
    id         BIGSERIAL PRIMARY KEY,
    user_id    TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload    JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_events_stream ON user_events (user_id, id);
