//! Completion of group messages when members leave, and of C2C messages when a conversation
//! read covers them; the receipt writes themselves reach milestones in their own statement
//! ([`crate::domain::group_acks`], [`crate::domain::c2c_acks`]).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Text};
use diesel::PgConnection;

use crate::error::ApiResult;
use crate::webhooks::outbox::Origin;

/// Counts the messages that members who just left (`leavers`: user and the seq they joined
/// at) had not read as departed unread, and fires the milestones that this reaches. Runs in
/// the leave's transaction after the memberships ended and with the group row locked; the
/// receipt write holds a shared lock on the reader's membership, so a read racing its reader's
/// leave is either seen here or refused.
pub fn after_leave(
    conn: &mut PgConnection,
    origin: &Origin,
    group_id: &str,
    leavers: &[(String, i64)],
    leave_seq: i64,
) -> ApiResult<i32> {
    if leavers.is_empty() {
        return Ok(0);
    }
    let users: Vec<&str> = leavers.iter().map(|(u, _)| u.as_str()).collect();
    let joined: Vec<i64> = leavers.iter().map(|(_, j)| *j).collect();
    #[derive(QueryableByName)]
    struct Reached {
        #[diesel(sql_type = Int4)]
        n: i32,
    }
    let r: Reached = crate::db::cached(
        "WITH gone AS (SELECT * FROM unnest($2::text[], $3::int8[]) AS t(user_id, join_seq)),
         cand AS (
           SELECT m.msg_seq, count(*)::int AS n FROM gone g
             JOIN group_messages m ON m.group_id = $1 AND m.msg_seq > g.join_seq AND m.msg_seq <= $4
                                  AND m.need_receipt AND m.from_account <> g.user_id
            WHERE NOT EXISTS (SELECT 1 FROM group_receipts r WHERE r.group_id = $1 AND r.msg_seq = m.msg_seq
                                AND r.reader = g.user_id AND r.read_at IS NOT NULL)
            GROUP BY m.msg_seq),
         -- Locked in seq order, as the receipt writes lock them.
         lk AS (SELECT m.msg_seq FROM group_messages m WHERE m.group_id = $1 AND m.msg_seq IN (SELECT msg_seq FROM cand)
                 ORDER BY m.msg_seq FOR NO KEY UPDATE),
         ch AS (
           UPDATE group_messages m SET departed_unread = m.departed_unread + c.n
             FROM cand c WHERE m.group_id = $1 AND m.msg_seq = c.msg_seq AND m.msg_seq IN (SELECT msg_seq FROM lk)
           RETURNING m.msg_seq, m.from_account, m.msg_time, m.msg_random, m.read_count, m.eligible_count,
                     m.departed_unread, m.read_threshold, m.recalled_at)
         SELECT coalesce(sum(imr_group_milestones($1, ch.msg_seq, ch.from_account, ch.msg_time, ch.msg_random,
                    ch.read_count, ch.eligible_count - ch.departed_unread, ch.read_threshold, $5, $6, NULL)), 0)::int AS n
           FROM ch WHERE ch.recalled_at IS NULL AND ch.read_count > 0",
    )
    .bind::<Text, _>(group_id)
    .bind::<Array<Text>, _>(&users)
    .bind::<Array<BigInt>, _>(&joined)
    .bind::<BigInt, _>(leave_seq)
    .bind::<Text, _>(&origin.client_ip)
    .bind::<Text, _>(&origin.platform)
    .get_result(conn)?;
    Ok(r.n)
}

/// Fires `C2C.CallbackAfterAllRead` for the messages `peer` sent `reader` that requested a
/// receipt, were not read yet and that a conversation read up to `read_time` now covers; each
/// message fires once, whichever of its receipt and a conversation read comes first.
pub fn after_c2c_conversation_read(
    conn: &mut PgConnection,
    origin: &Origin,
    reader: &str,
    peer: &str,
    read_time: i64,
) -> ApiResult<usize> {
    Ok(crate::db::cached(
        "WITH lk AS (SELECT id FROM c2c_messages
                      WHERE from_account = $2 AND to_account = $1 AND msg_time <= $3
                        AND need_receipt AND all_read_at IS NULL AND recalled_at IS NULL
                      ORDER BY id FOR NO KEY UPDATE),
              done AS (UPDATE c2c_messages m SET all_read_at = now() WHERE m.id IN (SELECT id FROM lk)
                          AND m.all_read_at IS NULL
                       RETURNING m.from_account, m.to_account, m.msg_key, m.msg_seq, m.msg_random, m.msg_time),
              -- A private reader is not named (To_Account empty, Private 1).
              priv AS (SELECT EXISTS (SELECT 1 FROM receipt_privacy p WHERE p.user_id = $1 AND p.private) AS on)
         SELECT imr_enqueue_event('C2C.CallbackAfterAllRead', json_strip_nulls(json_build_object(
                    'CallbackCommand', 'C2C.CallbackAfterAllRead', 'From_Account', from_account,
                    'To_Account', CASE WHEN priv.on THEN '' ELSE to_account END, 'MsgKey', msg_key,
                    'MsgSeq', msg_seq, 'MsgRandom', msg_random,
                    'MsgTime', msg_time, 'ReadTime', $3::int8, 'ReadBy', 'ConversationRead',
                    'Private', CASE WHEN priv.on THEN 1 END,
                    'EventTime', (extract(epoch FROM clock_timestamp()) * 1000)::int8))::text, $4, $5, NULL)
           FROM done, priv",
    )
    .bind::<Text, _>(reader)
    .bind::<Text, _>(peer)
    .bind::<BigInt, _>(read_time)
    .bind::<Text, _>(&origin.client_ip)
    .bind::<Text, _>(&origin.platform)
    .execute(conn)?)
}
