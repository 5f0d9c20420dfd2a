-- Raw PostgreSQL baseline for S2: one C2C message marked read per transaction (the single-row
-- UPDATE that c2c_msg_read_receipt ends in). raw_n walks the rows so every update is new.
-- Variables (pgbench -D): rows = seeded messages.
UPDATE raw_c2c_messages
   SET peer_read_at = now(), delivered_at = coalesce(delivered_at, now())
 WHERE id = (SELECT 1 + (nextval('raw_n') - 1) % :rows)
   AND peer_read_at IS NULL;
