-- Raw PostgreSQL baseline for S1a: one group read receipt per transaction. Inserts a
-- group_receipts-like row and moves the message's counters in a single statement (the fewest
-- round trips possible). raw_n numbers the transactions so that consecutive ones hit
-- consecutive messages and no (message, reader) repeats: every write is new, as in S1a.
-- Variables (pgbench -D): msgs = messages, readers = readers per message.
WITH n AS (SELECT nextval('raw_n') - 1 AS n),
     t AS (SELECT 1 + n % :msgs AS seq,
                  'u' || lpad((1 + (n / :msgs) % :readers)::text, 5, '0') AS reader
             FROM n),
     ins AS (INSERT INTO raw_group_receipts (group_id, msg_seq, reader, delivered_at, read_at)
             SELECT 'bench_g200', seq, reader, now(), now() FROM t
             ON CONFLICT DO NOTHING
             RETURNING msg_seq)
UPDATE raw_group_messages m
   SET read_count = m.read_count + 1, delivered_count = m.delivered_count + 1
  FROM ins
 WHERE m.group_id = 'bench_g200' AND m.msg_seq = ins.msg_seq;
