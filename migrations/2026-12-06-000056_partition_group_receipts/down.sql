ALTER TABLE group_receipts RENAME TO group_receipts_parted;
ALTER TABLE group_receipts_parted RENAME CONSTRAINT group_receipts_pkey TO group_receipts_parted_pkey;
ALTER TABLE group_receipts_parted RENAME CONSTRAINT group_receipts_group_id_msg_seq_fkey TO group_receipts_parted_fkey;
CREATE TABLE group_receipts (LIKE group_receipts_parted INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE group_receipts DROP COLUMN txid;
INSERT INTO group_receipts SELECT group_id, msg_seq, reader, delivered_at, read_at, ack_content, private
  FROM group_receipts_parted;
DROP TABLE group_receipts_parted;
ALTER TABLE group_receipts ADD PRIMARY KEY (group_id, msg_seq, reader);
ALTER TABLE group_receipts ADD FOREIGN KEY (group_id, msg_seq)
    REFERENCES group_messages (group_id, msg_seq) ON DELETE CASCADE;
