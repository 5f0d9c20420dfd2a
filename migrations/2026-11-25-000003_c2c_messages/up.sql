-- One-to-one messages. Per-message receipt state lives on the message row, so a C2C receipt
-- is a single-row update. As in Tencent, a MsgKey identifies a message within its
-- (sender, receiver) pair: batchsendmsg gives all its copies one MsgKey.
CREATE TABLE c2c_messages (
    id                BIGSERIAL PRIMARY KEY,
    msg_key           TEXT NOT NULL,
    from_account      TEXT NOT NULL,
    to_account        TEXT NOT NULL,
    msg_seq           BIGINT NOT NULL,
    msg_random        BIGINT NOT NULL,
    msg_time          BIGINT NOT NULL,
    msg_body          JSONB NOT NULL,
    cloud_custom_data TEXT NOT NULL DEFAULT '',
    need_receipt      BOOLEAN NOT NULL DEFAULT FALSE,
    counts_unread     BOOLEAN NOT NULL DEFAULT TRUE,
    delivered_at      TIMESTAMPTZ,
    peer_read_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX c2c_messages_key ON c2c_messages (from_account, to_account, msg_key);
CREATE INDEX c2c_messages_inbox ON c2c_messages (to_account, from_account, msg_time, id);
CREATE INDEX c2c_messages_outbox ON c2c_messages (from_account, to_account, msg_time, id);

-- Conversation-level read time (admin_set_msg_read): messages with msg_time <= read_time are read.
CREATE TABLE c2c_read_state (
    reader     TEXT NOT NULL,
    peer       TEXT NOT NULL,
    read_time  BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (reader, peer)
);
