-- Group messages with receipt counters. eligible_count is frozen at send time; read_count and
-- delivered_count move only when a receipt row is first inserted or first marked read, so a
-- receipt costs O(1) rows whatever the group size and a count query reads one row per message.
CREATE TABLE group_messages (
    group_id          TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    msg_seq           BIGINT NOT NULL,
    from_account      TEXT NOT NULL,
    msg_random        BIGINT NOT NULL,
    msg_time          BIGINT NOT NULL,
    msg_body          JSONB NOT NULL,
    cloud_custom_data TEXT NOT NULL DEFAULT '',
    need_receipt      BOOLEAN NOT NULL DEFAULT FALSE,
    eligible_count    INT NOT NULL DEFAULT 0,
    read_count        INT NOT NULL DEFAULT 0,
    delivered_count   INT NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, msg_seq)
);

-- One row per (message, member) once that member acknowledged delivery or read.
CREATE TABLE group_receipts (
    group_id     TEXT NOT NULL,
    msg_seq      BIGINT NOT NULL,
    reader       TEXT NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at      TIMESTAMPTZ,
    ack_content  TEXT,
    PRIMARY KEY (group_id, msg_seq, reader),
    FOREIGN KEY (group_id, msg_seq) REFERENCES group_messages (group_id, msg_seq) ON DELETE CASCADE
);
