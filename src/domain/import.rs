//! Migration from Tencent: imported C2C messages, groups, members (with their join time) and
//! group messages (with their original time). Imports fire no callbacks.
//!
//! Eligibility of imported history is decided by time: a member is an eligible reader of a
//! message sent at or after they joined. After every import the members' `join_seq` is raised
//! to the last message sent before they joined, so the seq-based rules of receipts agree.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel::PgConnection;
use serde_json::Value;

use crate::db::schema::{c2c_messages, group_members, groups};
use crate::domain::config::ReceiptConfig;
use crate::domain::groups::{self as group_dom, NewGroup};
use crate::domain::messages::{self, GroupSend};
use crate::domain::{accounts, now_secs};
use crate::error::{ApiError, ApiResult};

/// Most messages one `import_group_msg` call may carry.
pub const MAX_GROUP_MSGS: usize = 20;
/// Most members one `import_group_member` call may carry.
pub const MAX_MEMBERS: usize = 300;

/// One C2C message to import (`openim/importmsg`).
#[derive(Debug)]
pub struct C2cImport<'a> {
    /// 2 = history (not counted unread); 1 or 5 = real-time during a migration (counted).
    pub sync_from_old_system: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub msg_seq: i64,
    pub msg_random: i64,
    pub msg_time: i64,
    pub body: &'a Value,
    pub cloud_custom_data: &'a str,
    pub need_receipt: bool,
}

/// Imports one C2C message; a repeat (same conversation, MsgSeq, MsgRandom and time, in either
/// direction) changes nothing. Returns the MsgKey.
pub fn import_c2c(conn: &mut PgConnection, m: &C2cImport) -> ApiResult<String> {
    let counts_unread = match m.sync_from_old_system {
        2 => false,
        1 | 5 => true,
        other => {
            return Err(ApiError::invalid(format!(
                "SyncFromOldSystem must be 2 (history) or 5 (real-time during migration; 1 is the legacy spelling), got {other}"
            )))
        }
    };
    messages::validate_body(m.body)?;
    if !(0..=now_secs()).contains(&m.msg_time) {
        return Err(ApiError::invalid(format!("MsgTimeStamp {} must be a past unix time in seconds", m.msg_time)));
    }
    crate::domain::c2c::require_pair(conn, m.from, m.to)?;
    let key = format!("{}_{}_{}", m.msg_seq, m.msg_random, m.msg_time);
    let reverse: i64 = c2c_messages::table
        .filter(c2c_messages::from_account.eq(m.to))
        .filter(c2c_messages::to_account.eq(m.from))
        .filter(c2c_messages::msg_key.eq(&key))
        .count()
        .get_result(conn)?;
    if reverse == 0 {
        diesel::insert_into(c2c_messages::table)
            .values((
                c2c_messages::msg_key.eq(&key),
                c2c_messages::from_account.eq(m.from),
                c2c_messages::to_account.eq(m.to),
                c2c_messages::msg_seq.eq(m.msg_seq),
                c2c_messages::msg_random.eq(m.msg_random),
                c2c_messages::msg_time.eq(m.msg_time),
                c2c_messages::msg_body.eq(m.body),
                c2c_messages::cloud_custom_data.eq(m.cloud_custom_data),
                c2c_messages::need_receipt.eq(m.need_receipt),
                c2c_messages::counts_unread.eq(counts_unread),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
    }
    Ok(key)
}

/// Imports a group (`import_group`): like creating one, with its original creation time.
pub fn import_group(conn: &mut PgConnection, g: NewGroup) -> ApiResult<(String, &'static str)> {
    if group_dom::canonical_type(&g.group_type)? == "AVChatRoom" {
        return Err(ApiError::forbidden("AVChatRoom groups cannot be imported"));
    }
    if let Some(t) = g.create_time {
        if !(0..=now_secs()).contains(&t) {
            return Err(ApiError::invalid(format!("CreateTime {t} must be a past unix time in seconds")));
        }
    }
    group_dom::create(conn, g)
}

/// One member to import.
#[derive(Debug, Clone)]
pub struct MemberImport {
    pub account: String,
    /// `Admin` or `Member`.
    pub role: String,
    /// Unix seconds; `None` = now.
    pub join_time: Option<i64>,
    pub unread: Option<i64>,
}

/// Imports members with their join time; per member 0 = failed (not imported, or join time
/// outside the group's life), 1 = imported, 2 = already a member.
pub fn import_members(
    conn: &mut PgConnection,
    group_id: &str,
    items: &[MemberImport],
) -> ApiResult<Vec<(String, i32)>> {
    if items.is_empty() || items.len() > MAX_MEMBERS {
        return Err(ApiError::invalid(format!("MemberList must have 1 to {MAX_MEMBERS} entries, got {}", items.len())));
    }
    let g = group_dom::lock(conn, group_id)?;
    if g.group_type == "AVChatRoom" {
        return Err(ApiError::forbidden("members cannot be imported into an AVChatRoom"));
    }
    let ids: Vec<String> = items.iter().map(|i| i.account.clone()).collect();
    let known = accounts::existing(conn, &ids)?;
    let now = now_secs();
    let mut results: Vec<(String, i32)> = Vec::with_capacity(items.len());
    let mut added: Vec<String> = Vec::new();
    for it in items {
        if results.iter().any(|(a, _)| *a == it.account) {
            continue;
        }
        let join_time = it.join_time.filter(|t| *t > 0).unwrap_or(now);
        let result = if !known.contains(&it.account) || join_time < g.created_at.timestamp() || join_time > now {
            0
        } else if group_dom::membership(conn, group_id, &it.account)?.is_some() {
            2
        } else {
            let unread = it.unread.unwrap_or(0).clamp(0, g.last_seq);
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(group_id),
                    group_members::user_id.eq(&it.account),
                    group_members::role.eq(&it.role),
                    group_members::join_seq.eq(0i64),
                    group_members::read_seq.eq(g.last_seq - unread),
                    group_members::joined_at.eq(DateTime::from_timestamp(join_time, 0).unwrap_or_else(Utc::now)),
                ))
                .execute(conn)?;
            added.push(it.account.clone());
            1
        };
        results.push((it.account.clone(), result));
    }
    let count = g.member_count + added.len() as i32;
    if count > g.max_member_count {
        return Err(ApiError::GroupFull(format!(
            "group {group_id:?} is full: {} members + {} imported > MaxMemberCount {}",
            g.member_count,
            added.len(),
            g.max_member_count
        )));
    }
    diesel::update(groups::table.find(group_id)).set(groups::member_count.eq(count)).execute(conn)?;
    if added.is_empty() {
        return Ok(results);
    }
    align_join_seqs(conn, group_id)?;
    // The new members become eligible readers of the receipt-requesting messages sent after
    // they joined.
    crate::db::cached(
        "UPDATE group_messages m
            SET eligible_count = m.eligible_count + (
                SELECT count(*) FROM group_members s
                 WHERE s.group_id = $1 AND s.user_id = ANY($2) AND s.leave_seq IS NULL
                   AND s.join_seq < m.msg_seq AND s.user_id <> m.from_account)
          WHERE m.group_id = $1 AND m.need_receipt
            AND m.msg_seq > (SELECT min(join_seq) FROM group_members
                              WHERE group_id = $1 AND user_id = ANY($2) AND leave_seq IS NULL)",
    )
    .bind::<Text, _>(group_id)
    .bind::<Array<Text>, _>(&added)
    .execute(conn)?;
    Ok(results)
}

/// Raises each member's `join_seq` to the last message sent before they joined.
fn align_join_seqs(conn: &mut PgConnection, group_id: &str) -> ApiResult<()> {
    crate::db::cached(
        "UPDATE group_members s
            SET join_seq = t.last_before
           FROM (SELECT s2.id, (SELECT coalesce(max(m.msg_seq), 0) FROM group_messages m
                                 WHERE m.group_id = s2.group_id
                                   AND m.msg_time < floor(extract(epoch FROM s2.joined_at))::bigint) AS last_before
                   FROM group_members s2 WHERE s2.group_id = $1 AND s2.leave_seq IS NULL) t
          WHERE s.id = t.id AND t.last_before > s.join_seq",
    )
    .bind::<Text, _>(group_id)
    .execute(conn)?;
    Ok(())
}

/// One group message to import.
#[derive(Debug)]
pub struct GroupMsgImport {
    pub from: String,
    pub send_time: i64,
    pub random: i64,
    pub body: Value,
    /// The original MsgSeq (extension); `None` = the next one.
    pub msg_seq: Option<i64>,
    /// Extension: the message requested receipts.
    pub need_receipt: bool,
}

/// Imports group messages in time order with their original time (and optionally seq).
/// Per message: (MsgSeq, MsgTime, None) when stored (or already there), or why not.
pub fn import_group_msgs(
    conn: &mut PgConnection,
    cfg: &ReceiptConfig,
    group_id: &str,
    msgs: &[GroupMsgImport],
    dedup_window: i64,
) -> ApiResult<Vec<(i64, i64, Option<ApiError>)>> {
    if msgs.is_empty() || msgs.len() > MAX_GROUP_MSGS {
        return Err(ApiError::invalid(format!("MsgList must have 1 to {MAX_GROUP_MSGS} messages, got {}", msgs.len())));
    }
    let g = group_dom::lock(conn, group_id)?;
    if g.group_type == "AVChatRoom" {
        return Err(ApiError::forbidden("messages cannot be imported into an AVChatRoom (it keeps no history)"));
    }
    if msgs.iter().any(|m| m.need_receipt) {
        cfg.require_enabled(&g.group_type, group_id)?;
    }
    let (mut last_seq, mut last_time) = (g.last_seq, g.last_msg_time);
    let now = now_secs();
    let mut out = Vec::with_capacity(msgs.len());
    for m in msgs {
        let earlier: Option<(i64, i64)> = crate::db::schema::group_messages::table
            .filter(crate::db::schema::group_messages::group_id.eq(group_id))
            .filter(crate::db::schema::group_messages::from_account.eq(&m.from))
            .filter(crate::db::schema::group_messages::msg_random.eq(m.random))
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(messages::SAME_BODY).bind::<Text, _>(m.body.to_string()),
            )
            .filter(
                crate::db::schema::group_messages::msg_time
                    .between(m.send_time - dedup_window, m.send_time + dedup_window),
            )
            .select((crate::db::schema::group_messages::msg_seq, crate::db::schema::group_messages::msg_time))
            .first(conn)
            .optional()?;
        if let Some((seq, time)) = earlier {
            out.push((seq, time, None));
            continue;
        }
        let refuse = if messages::validate_body(&m.body).is_err() {
            Some("MsgBody must be a non-empty array of {MsgType, MsgContent}".to_string())
        } else if m.send_time > now || m.send_time < g.created_at.timestamp() || m.send_time < last_time {
            Some(format!(
                "SendTime {} must be after the group's creation, not in the future, and not before the group's latest message ({last_time})",
                m.send_time
            ))
        } else if m.msg_seq.is_some_and(|s| s <= last_seq) {
            Some(format!("MsgSeq {} must be greater than the group's latest MsgSeq {last_seq}", m.msg_seq.unwrap_or(0)))
        } else {
            None
        };
        if let Some(why) = refuse {
            out.push((0, m.send_time, Some(ApiError::invalid(why))));
            continue;
        }
        let seq = m.msg_seq.unwrap_or_else(|| last_seq + 1);
        let eligible = if m.need_receipt { eligible_at(conn, group_id, &m.from, m.send_time)? } else { 0 };
        let send = GroupSend {
            group_id,
            from: Some(&m.from),
            sender_name: &m.from,
            msg_random: m.random,
            body: &m.body,
            cloud_custom_data: "",
            need_receipt: m.need_receipt,
            priority: 2,
            dedup_window,
            read_threshold: None,
        };
        messages::insert_group_message(conn, &send, seq, m.send_time, eligible, None)?;
        (last_seq, last_time) = (seq, m.send_time);
        out.push((seq, m.send_time, None));
    }
    diesel::update(groups::table.find(group_id))
        .set((groups::last_seq.eq(last_seq), groups::last_msg_time.eq(last_time)))
        .execute(conn)?;
    align_join_seqs(conn, group_id)?;
    Ok(out)
}

/// Current members (other than `sender`) who had joined by `time`. An imported message gets a
/// seq above every departure, so members who have left are never its readers.
fn eligible_at(conn: &mut PgConnection, group_id: &str, sender: &str, time: i64) -> ApiResult<i32> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: N = crate::db::cached(
        "SELECT count(*) AS n FROM group_members
          WHERE group_id = $1 AND user_id <> $2 AND leave_seq IS NULL
            AND floor(extract(epoch FROM joined_at))::bigint <= $3",
    )
    .bind::<Text, _>(group_id)
    .bind::<Text, _>(sender)
    .bind::<BigInt, _>(time)
    .get_result(conn)?;
    Ok(row.n as i32)
}
