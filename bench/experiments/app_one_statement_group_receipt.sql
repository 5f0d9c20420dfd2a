-- Experiment (not run by the harness): the same receipt as app_path_group_receipt.sql folded into
-- one statement (context, eligibility, lock, write, counters, live event, subscriber check), so a
-- single-message receipt is one round trip in autocommit; `eligible` < the number of MsgSeqs
-- tells the caller to roll back and diagnose with the existing per-step queries. Run as
--   pgbench -n -M prepared -c 16 -j 2 -T 10 -D g=<bench_g200 group id> -f app_one_statement_group_receipt.sql <db url>
SELECT nextval('exp_n') - 1 AS n \gset
\set seq 1 + :n % 5400
\set r 1 + (:n / 5400) % 199
WITH ctx AS (
  SELECT g.group_type = ANY(c.group_types) AS enabled, m.join_seq
    FROM groups g CROSS JOIN receipt_config c
    LEFT JOIN group_members m ON m.group_id = g.group_id AND m.user_id = 'u' || lpad(:r::text, 5, '0') AND m.leave_seq IS NULL
   WHERE g.group_id = :g),
 tgt AS (
  SELECT msg.msg_seq FROM group_messages msg, ctx
   WHERE msg.group_id = :g AND msg.msg_seq = ANY(ARRAY[:seq]::bigint[]) AND ctx.enabled AND msg.need_receipt
     AND msg.from_account <> 'u' || lpad(:r::text, 5, '0') AND msg.msg_seq > ctx.join_seq
   ORDER BY msg.msg_seq FOR NO KEY UPDATE OF msg),
 up AS (
   INSERT INTO group_receipts AS r (group_id, msg_seq, reader, delivered_at, read_at, ack_content)
   SELECT :g, msg_seq, 'u' || lpad(:r::text, 5, '0'), now(), now(), NULL FROM tgt
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
SELECT (SELECT count(*) FROM tgt) AS eligible, (SELECT count(*) FROM changed) AS newly_read,
       EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND (events IS NULL OR 'Group.CallbackAfterReadReceipt' = ANY(events))) AS subscribed;
