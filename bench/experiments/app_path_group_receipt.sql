-- Experiment (not run by the harness): the statements imreceipts issues for one single-message
-- group read receipt, as of commit 653ea22 (src/domain/group_receipts.rs: context, lock_targets,
-- write_reads; src/webhooks/outbox.rs: has_subscribers), replayed by pgbench against a kept bench
-- database (imreceipts-bench run --scenarios s4 --keep-db; CREATE SEQUENCE exp_n;):
--   pgbench -n -M extended -c 16 -j 2 -T 10 -D g=<bench_g200 group id> -f app_path_group_receipt.sql <db url>
-- -M extended sends unnamed statements, parsed and planned every time as diesel's sql_query is;
-- -M prepared shows the same statements prepared once per connection. Prepend `SELECT 1;` to add
-- r2d2's checkout ping. The first line numbers transactions so every receipt is new.
SELECT nextval('exp_n') - 1 AS n \gset
\set seq 1 + :n % 5400
\set r 1 + (:n / 5400) % 199
BEGIN;
SELECT g.group_type, g.last_seq, c.group_types, m.role, m.join_seq, m.read_seq, m.joined_at
  FROM groups g CROSS JOIN receipt_config c
  LEFT JOIN group_members m ON m.group_id = g.group_id AND m.user_id = 'u' || lpad(:r::text, 5, '0') AND m.leave_seq IS NULL
 WHERE g.group_id = :g;
SELECT msg_seq, from_account, need_receipt FROM group_messages
 WHERE group_id = :g AND msg_seq = ANY(ARRAY[:seq]::bigint[]) ORDER BY msg_seq FOR NO KEY UPDATE;
WITH input AS (SELECT * FROM unnest(ARRAY[:seq]::bigint[], ARRAY[NULL]::text[]) AS t(seq, ack)),
 up AS (
   INSERT INTO group_receipts AS r (group_id, msg_seq, reader, delivered_at, read_at, ack_content)
   SELECT :g, seq, 'u' || lpad(:r::text, 5, '0'), now(), now(), ack FROM input
   ON CONFLICT (group_id, msg_seq, reader)
     DO UPDATE SET read_at = now(), ack_content = EXCLUDED.ack_content WHERE r.read_at IS NULL
   RETURNING r.msg_seq, (r.xmax = 0) AS inserted),
 changed AS (
 UPDATE group_messages m
    SET read_count = m.read_count + 1,
        delivered_count = m.delivered_count + CASE WHEN up.inserted THEN 1 ELSE 0 END
   FROM up WHERE m.group_id = :g AND m.msg_seq = up.msg_seq
 RETURNING m.msg_seq, m.from_account),
 notify AS (
   INSERT INTO user_events (user_id, event_type, payload)
   SELECT from_account, 'Group.ReadReceipt',
          jsonb_build_object('GroupId', :g::text, 'Member_Account', 'u' || lpad(:r::text, 5, '0'),
                             'MsgSeqList', jsonb_agg(msg_seq ORDER BY msg_seq))
     FROM changed GROUP BY from_account)
 SELECT msg_seq FROM changed;
SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND (events IS NULL OR 'Group.CallbackAfterReadReceipt' = ANY(events))) AS yes;
COMMIT;
