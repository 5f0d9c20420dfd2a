-- Read deadlines: written in the send's transaction, fired once by whichever process claims the
-- row first (SELECT ... FOR UPDATE SKIP LOCKED), which deletes it in the transaction that queues
-- the event. A row is either a group message's (group_id, msg_seq) or a C2C message's id; the
-- foreign keys drop it with its message, so a deleted message fires nothing.
CREATE TABLE read_deadlines (
    id         BIGSERIAL PRIMARY KEY,
    due_at     TIMESTAMPTZ NOT NULL,
    seconds    INT NOT NULL CHECK (seconds BETWEEN 1 AND 2592000),
    group_id   TEXT,
    msg_seq    BIGINT,
    c2c_id     BIGINT REFERENCES c2c_messages (id) ON DELETE CASCADE,
    -- The send's ClientIP and OptPlatform, reported with the event.
    client_ip  TEXT NOT NULL,
    platform   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((group_id IS NOT NULL AND msg_seq IS NOT NULL AND c2c_id IS NULL)
        OR (group_id IS NULL AND msg_seq IS NULL AND c2c_id IS NOT NULL)),
    FOREIGN KEY (group_id, msg_seq) REFERENCES group_messages (group_id, msg_seq) ON DELETE CASCADE
);
-- The worker's scan: the earliest due rows first.
CREATE INDEX read_deadlines_due ON read_deadlines (due_at);
-- One deadline per message (a retried send adds none); also serve the cascades.
CREATE UNIQUE INDEX read_deadlines_group_msg ON read_deadlines (group_id, msg_seq) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX read_deadlines_c2c_msg ON read_deadlines (c2c_id) WHERE c2c_id IS NOT NULL;
