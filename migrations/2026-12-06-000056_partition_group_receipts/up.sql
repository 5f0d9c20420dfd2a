-- Group receipts, the largest table, are hash-partitioned by group (16 partitions): a receipt,
-- a reader list and a group's purge each touch one partition, whose index is a sixteenth of
-- the whole, and a later move to more partitions or to shards (docs/scaling.md) keeps the
-- same key. Measured before adopting it: S1a, S1b and S5 within 3% of the flat table.
--
-- The receipt write tells a new receipt from a read added to a delivery receipt by the
-- transaction that wrote the row: PostgreSQL cannot return `xmax` from an INSERT ... ON
-- CONFLICT DO UPDATE on a partitioned table, so the insert records its transaction id and the
-- update leaves it alone.
ALTER TABLE group_receipts RENAME TO group_receipts_flat;
ALTER TABLE group_receipts_flat RENAME CONSTRAINT group_receipts_pkey TO group_receipts_flat_pkey;
ALTER TABLE group_receipts_flat RENAME CONSTRAINT group_receipts_group_id_msg_seq_fkey TO group_receipts_flat_fkey;
CREATE TABLE group_receipts (LIKE group_receipts_flat INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY HASH (group_id);
ALTER TABLE group_receipts ADD COLUMN txid BIGINT NOT NULL DEFAULT pg_current_xact_id()::text::bigint;
DO $$ BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format('CREATE TABLE group_receipts_p%s PARTITION OF group_receipts
                      FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
  END LOOP;
END $$;
ALTER TABLE group_receipts ADD PRIMARY KEY (group_id, msg_seq, reader);
INSERT INTO group_receipts (group_id, msg_seq, reader, delivered_at, read_at, ack_content, private)
SELECT group_id, msg_seq, reader, delivered_at, read_at, ack_content, private FROM group_receipts_flat;
DROP TABLE group_receipts_flat;
ALTER TABLE group_receipts ADD FOREIGN KEY (group_id, msg_seq)
    REFERENCES group_messages (group_id, msg_seq) ON DELETE CASCADE;
ANALYZE group_receipts;
