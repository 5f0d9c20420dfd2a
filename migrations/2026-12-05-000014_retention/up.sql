-- How far the retention worker has deleted each family: a stream resumed from an event at or
-- below `purged_through` may have lost events after it, so it is told so instead of silently
-- skipping them.
CREATE TABLE retention_state (
    family         TEXT PRIMARY KEY,
    purged_through BIGINT NOT NULL DEFAULT 0,
    rows_removed   BIGINT NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Message retention walks old messages by time.
CREATE INDEX group_messages_time ON group_messages (msg_time);
CREATE INDEX c2c_messages_time ON c2c_messages (msg_time);
