-- Raw PostgreSQL baseline for S1b: 30 group read receipts of one reader per transaction
-- (30 receipt rows inserted, 30 message counters moved) in a single statement. Consecutive
-- transactions take consecutive 30-message chunks, so concurrent ones touch different rows.
-- Variables (pgbench -D): chunks = msgs / 30, readers = readers per message.
WITH n AS (SELECT nextval('raw_n') - 1 AS n),
     t AS (SELECT 1 + (n % :chunks) * 30 AS first,
                  'u' || lpad((1 + (n / :chunks) % :readers)::text, 5, '0') AS reader
             FROM n),
     ins AS (INSERT INTO raw_group_receipts (group_id, msg_seq, reader, delivered_at, read_at)
             SELECT 'bench_g200', t.first + g, t.reader, now(), now()
               FROM t, generate_series(0, 29) AS g
             ON CONFLICT DO NOTHING
             RETURNING msg_seq)
UPDATE raw_group_messages m
   SET read_count = m.read_count + 1, delivered_count = m.delivered_count + 1
  FROM ins
 WHERE m.group_id = 'bench_g200' AND m.msg_seq = ins.msg_seq;
