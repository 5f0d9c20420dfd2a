//! Recall: a recalled message stays in history as a placeholder, leaves unread and receipt
//! counts, takes no new receipts, and fires the recall callbacks through the outbox.

use diesel::prelude::*;
use diesel::PgConnection;
use serde_json::json;

use crate::db::schema::{c2c_messages, group_messages};
use crate::domain::{c2c, groups};
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::{self, Origin};

/// Most messages one `group_msg_recall` call may name (Tencent's limit).
pub const MAX_GROUP_RECALL: usize = 10;

/// Recalls the C2C message `key` from `from` to `to` (`admin_msgwithdraw`) and fires
/// `C2C.CallbackAfterMsgWithDraw` with the receiver's unread count afterwards.
pub fn withdraw_c2c(conn: &mut PgConnection, origin: &Origin, from: &str, to: &str, key: &str) -> ApiResult<()> {
    c2c::require_pair(conn, from, to)?;
    if key.is_empty() {
        return Err(ApiError::InvalidMsgKey("MsgKey must not be empty".into()));
    }
    let msg = c2c_messages::table
        .filter(c2c_messages::from_account.eq(from))
        .filter(c2c_messages::to_account.eq(to))
        .filter(c2c_messages::msg_key.eq(key));
    let recalled: Option<Option<chrono::DateTime<chrono::Utc>>> =
        msg.select(c2c_messages::recalled_at).for_no_key_update().first(conn).optional()?;
    match recalled {
        None => {
            return Err(ApiError::RecallTargetNotFound(format!(
                "MsgKey {key:?} is not a message from {from:?} to {to:?}"
            )))
        }
        Some(Some(_)) => return Err(ApiError::MsgRecalled(format!("MsgKey {key:?} has already been recalled"))),
        Some(None) => {}
    }
    diesel::update(msg).set(c2c_messages::recalled_at.eq(diesel::dsl::now)).execute(conn)?;
    if outbox::has_subscribers(conn, "C2C.CallbackAfterMsgWithDraw")? {
        let unread = c2c::total_unread(conn, to)?;
        outbox::enqueue(
            conn,
            origin,
            "C2C.CallbackAfterMsgWithDraw",
            &json!({
                "CallbackCommand": "C2C.CallbackAfterMsgWithDraw",
                "From_Account": from,
                "To_Account": to,
                "MsgKey": key,
                "UnreadMsgNum": unread,
                "EventTime": outbox::event_time_ms(),
            }),
        )?;
    }
    Ok(())
}

/// Recalls group messages (`group_msg_recall`), item by item: each seq gets `None` (recalled)
/// or why not. Fires one `Group.CallbackAfterRecallMsg` for the recalled ones.
pub fn recall_group(
    conn: &mut PgConnection,
    origin: &Origin,
    operator: &str,
    group_id: &str,
    seqs: &[i64],
) -> ApiResult<Vec<(i64, Option<ApiError>)>> {
    if seqs.is_empty() || seqs.len() > MAX_GROUP_RECALL {
        return Err(ApiError::invalid(format!(
            "MsgSeqList must have 1 to {MAX_GROUP_RECALL} items, got {}",
            seqs.len()
        )));
    }
    let g = groups::get(conn, group_id)?;
    // Locked in seq order, as receipts lock them, so the two cannot deadlock.
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let rows: Vec<(i64, Option<chrono::DateTime<chrono::Utc>>)> = group_messages::table
        .filter(group_messages::group_id.eq(group_id))
        .filter(group_messages::msg_seq.eq_any(&sorted))
        .order(group_messages::msg_seq)
        .select((group_messages::msg_seq, group_messages::recalled_at))
        .for_no_key_update()
        .load(conn)?;
    let mut recalled = Vec::new();
    let results = seqs
        .iter()
        .map(|seq| {
            let verdict = match rows.iter().find(|(s, _)| s == seq) {
                None => {
                    Some(ApiError::RecallTargetNotFound(format!("group {group_id:?} has no message with MsgSeq {seq}")))
                }
                Some((_, Some(_))) => Some(ApiError::MsgRecalled(format!("MsgSeq {seq} has already been recalled"))),
                Some((_, None)) if recalled.contains(seq) => None,
                Some((_, None)) => {
                    recalled.push(*seq);
                    None
                }
            };
            (*seq, verdict)
        })
        .collect();
    if recalled.is_empty() {
        return Ok(results);
    }
    diesel::update(
        group_messages::table
            .filter(group_messages::group_id.eq(group_id))
            .filter(group_messages::msg_seq.eq_any(&recalled)),
    )
    .set(group_messages::recalled_at.eq(diesel::dsl::now))
    .execute(conn)?;
    let list: Vec<_> = recalled.iter().map(|s| json!({ "MsgSeq": s })).collect();
    outbox::enqueue(
        conn,
        origin,
        "Group.CallbackAfterRecallMsg",
        &json!({
            "CallbackCommand": "Group.CallbackAfterRecallMsg",
            "Operator_Account": operator,
            "Type": g.group_type,
            "GroupId": group_id,
            "MsgSeqList": list,
            "EventTime": outbox::event_time_ms(),
        }),
    )?;
    Ok(results)
}
