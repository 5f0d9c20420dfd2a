ALTER TABLE group_receipts RENAME TO group_receipts_parted;
ALTER TABLE group_receipts_parted RENAME CONSTRAINT group_receipts_pkey TO group_receipts_parted_pkey;
ALTER TABLE group_receipts_parted RENAME CONSTRAINT group_receipts_group_id_msg_seq_fkey TO group_receipts_parted_fkey;
CREATE TABLE group_receipts (
    group_id     TEXT NOT NULL,
    msg_seq      BIGINT NOT NULL,
    reader       TEXT NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at      TIMESTAMPTZ,
    ack_content  TEXT,
    private      BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (group_id, msg_seq, reader),
    FOREIGN KEY (group_id, msg_seq) REFERENCES group_messages (group_id, msg_seq) ON DELETE CASCADE
);
INSERT INTO group_receipts (group_id, msg_seq, reader, delivered_at, read_at, ack_content, private)
SELECT group_id, msg_seq, reader, delivered_at, read_at, ack_content, private FROM group_receipts_parted;
DROP TABLE group_receipts_parted;
