-- Scratch tables for the raw PostgreSQL baseline, shaped like imreceipts' group_messages,
-- group_receipts and c2c_messages (same columns, keys, foreign key, indexes and fillfactor).
-- The harness replaces {msgs}, {readers} and {c2c_rows} and runs this in a scratch database
-- of the cluster under test.
DROP TABLE IF EXISTS raw_group_receipts, raw_group_messages, raw_c2c_messages;
DROP SEQUENCE IF EXISTS raw_n;

CREATE TABLE raw_group_messages (
    group_id          TEXT NOT NULL,
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
) WITH (fillfactor = 70);

CREATE TABLE raw_group_receipts (
    group_id     TEXT NOT NULL,
    msg_seq      BIGINT NOT NULL,
    reader       TEXT NOT NULL,
    delivered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at      TIMESTAMPTZ,
    ack_content  TEXT,
    PRIMARY KEY (group_id, msg_seq, reader),
    FOREIGN KEY (group_id, msg_seq) REFERENCES raw_group_messages (group_id, msg_seq) ON DELETE CASCADE
);

CREATE TABLE raw_c2c_messages (
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
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX raw_c2c_messages_key ON raw_c2c_messages (from_account, to_account, msg_key);
CREATE INDEX raw_c2c_messages_inbox ON raw_c2c_messages (to_account, from_account, msg_time, id);
CREATE INDEX raw_c2c_messages_outbox ON raw_c2c_messages (from_account, to_account, msg_time, id);

INSERT INTO raw_group_messages (group_id, msg_seq, from_account, msg_random, msg_time, msg_body, need_receipt, eligible_count)
SELECT 'bench_g200', s, 'u00000', s, 0, '[{"MsgType":"TIMTextElem","MsgContent":{"Text":"bench"}}]', TRUE, {readers}
  FROM generate_series(1, {msgs}) AS s;

INSERT INTO raw_c2c_messages (msg_key, from_account, to_account, msg_seq, msg_random, msg_time, msg_body, need_receipt)
SELECT s || '_1_0', 'u' || lpad((s % 100)::text, 5, '0'), 'u' || lpad((100 + s % 1000)::text, 5, '0'), s, 1, 0,
       '[{"MsgType":"TIMTextElem","MsgContent":{"Text":"bench"}}]', TRUE
  FROM generate_series(1, {c2c_rows}) AS s;

-- Numbers the transactions across all pgbench clients, so every one writes new rows.
CREATE SEQUENCE raw_n;
