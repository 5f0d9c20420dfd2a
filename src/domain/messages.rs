//! Sending and listing C2C and group messages.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::PgConnection;
use serde_json::Value;

use crate::db::schema::{c2c_messages, group_messages, groups};
use crate::domain::config::ReceiptConfig;
use crate::domain::{accounts, groups as group_dom, now_secs};
use crate::error::{ApiError, ApiResult};

/// Checks a Tencent `MsgBody`: a non-empty array of `{MsgType, MsgContent}` objects.
pub fn validate_body(body: &Value) -> ApiResult<()> {
    let items = body.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
        ApiError::invalid("MsgBody must be a non-empty array of {\"MsgType\":..,\"MsgContent\":{..}}")
    })?;
    for (i, item) in items.iter().enumerate() {
        let ok =
            item.get("MsgType").is_some_and(Value::is_string) && item.get("MsgContent").is_some_and(Value::is_object);
        if !ok {
            return Err(ApiError::invalid(format!(
                "MsgBody[{i}] must be an object with a string MsgType and an object MsgContent"
            )));
        }
    }
    Ok(())
}

/// A C2C message to store.
#[derive(Debug)]
pub struct C2cSend<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub msg_seq: i64,
    pub msg_random: i64,
    pub body: &'a Value,
    pub cloud_custom_data: &'a str,
    pub need_receipt: bool,
    pub counts_unread: bool,
}

/// What a C2C send produced: time, key and receivers that were refused.
#[derive(Debug)]
pub struct C2cSent {
    pub msg_time: i64,
    pub msg_key: String,
    pub failed: Vec<(String, u32)>,
}

/// Stores one message per receiver, all sharing one MsgKey (as Tencent's batchsendmsg does).
pub fn send_c2c(conn: &mut PgConnection, m: &C2cSend) -> ApiResult<C2cSent> {
    validate_body(m.body)?;
    if !accounts::exists(conn, m.from)? {
        return Err(ApiError::Service(90008, format!("From_Account {:?} is not imported", m.from)));
    }
    let known = accounts::existing(conn, m.to)?;
    let msg_time = now_secs();
    let n: i64 = diesel::select(diesel::dsl::sql::<BigInt>("nextval('c2c_messages_id_seq')")).get_result(conn)?;
    let msg_key = format!("{n}_{}_{msg_time}", m.msg_random);
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for to in m.to {
        if !known.contains(to) {
            failed.push((to.clone(), 90003));
            continue;
        }
        rows.push((
            c2c_messages::msg_key.eq(msg_key.clone()),
            c2c_messages::from_account.eq(m.from),
            c2c_messages::to_account.eq(to.clone()),
            c2c_messages::msg_seq.eq(m.msg_seq),
            c2c_messages::msg_random.eq(m.msg_random),
            c2c_messages::msg_time.eq(msg_time),
            c2c_messages::msg_body.eq(m.body),
            c2c_messages::cloud_custom_data.eq(m.cloud_custom_data),
            c2c_messages::need_receipt.eq(m.need_receipt),
            c2c_messages::counts_unread.eq(m.counts_unread),
        ));
    }
    if !rows.is_empty() {
        diesel::insert_into(c2c_messages::table).values(rows).on_conflict_do_nothing().execute(conn)?;
    }
    Ok(C2cSent { msg_time, msg_key, failed })
}

/// One stored C2C message.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = c2c_messages)]
pub struct C2cMessage {
    pub id: i64,
    pub msg_key: String,
    pub from_account: String,
    pub to_account: String,
    pub msg_seq: i64,
    pub msg_random: i64,
    pub msg_time: i64,
    pub msg_body: Value,
    pub cloud_custom_data: String,
    pub need_receipt: bool,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub peer_read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of history between two accounts, newest first; `complete` when nothing older remains.
pub struct RoamPage {
    pub messages: Vec<C2cMessage>,
    pub complete: bool,
}

/// History between `a` and `b` with `min_time <= MsgTime <= max_time`, newest first,
/// continuing after `last_key` (keyset paging on (time, id)).
pub fn roam(
    conn: &mut PgConnection,
    a: &str,
    b: &str,
    max_cnt: i64,
    min_time: i64,
    max_time: i64,
    last_key: Option<&str>,
) -> ApiResult<RoamPage> {
    let pair = c2c_messages::from_account
        .eq(a)
        .and(c2c_messages::to_account.eq(b))
        .or(c2c_messages::from_account.eq(b).and(c2c_messages::to_account.eq(a)));
    let mut q = c2c_messages::table
        .filter(pair)
        .filter(c2c_messages::msg_time.between(min_time, max_time))
        .select(C2cMessage::as_select())
        .order((c2c_messages::msg_time.desc(), c2c_messages::id.desc()))
        .limit(max_cnt + 1)
        .into_boxed();
    if let Some(key) = last_key.filter(|k| !k.is_empty()) {
        let (t, id): (i64, i64) = c2c_messages::table
            .filter(pair)
            .filter(c2c_messages::msg_key.eq(key))
            .select((c2c_messages::msg_time, c2c_messages::id))
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                ApiError::Service(90054, format!("LastMsgKey {key:?} is not a message between {a:?} and {b:?}"))
            })?;
        q = q.filter(c2c_messages::msg_time.lt(t).or(c2c_messages::msg_time.eq(t).and(c2c_messages::id.lt(id))));
    }
    let mut messages = q.load(conn)?;
    let complete = messages.len() as i64 <= max_cnt;
    messages.truncate(max_cnt as usize);
    Ok(RoamPage { messages, complete })
}

/// A group message to store.
#[derive(Debug)]
pub struct GroupSend<'a> {
    pub group_id: &'a str,
    /// The sending member, or `None` when an admin posts as the system.
    pub from: Option<&'a str>,
    pub sender_name: &'a str,
    pub msg_random: i64,
    pub body: &'a Value,
    pub cloud_custom_data: &'a str,
    pub need_receipt: bool,
}

/// Sends a group message; returns (MsgSeq, MsgTime). Sequence numbers are gap-free: the
/// increment row-locks the group until commit, and a failed send rolls it back.
pub fn send_group(conn: &mut PgConnection, cfg: &ReceiptConfig, m: &GroupSend) -> ApiResult<(i64, i64)> {
    validate_body(m.body)?;
    let (seq, gtype, member_count): (i64, String, i32) = diesel::update(groups::table.find(m.group_id))
        .set(groups::last_seq.eq(groups::last_seq + 1))
        .returning((groups::last_seq, groups::group_type, groups::member_count))
        .get_result(conn)
        .optional()?
        .ok_or_else(|| ApiError::GroupNotFound(m.group_id.to_string()))?;
    let sender_member = match m.from {
        Some(u) => Some(group_dom::membership(conn, m.group_id, u)?.ok_or_else(|| {
            ApiError::forbidden(format!(
                "From_Account {u:?} is not a member of group {:?} and cannot send to it",
                m.group_id
            ))
        })?),
        None => None,
    };
    if m.need_receipt {
        cfg.require_enabled(&gtype, m.group_id)?;
        if let Some(member) = &sender_member {
            if cfg.request_roles == "OwnerAndAdmin" && member.role == "Member" {
                return Err(ApiError::forbidden(format!(
                    "only the owner and admins may request read receipts in this app (GroupReceiptRequestRoles is OwnerAndAdmin); {:?} is a Member",
                    member.user_id
                )));
            }
        }
        if member_count > cfg.max_group_members {
            return Err(ApiError::invalid(format!(
                "group {:?} has {member_count} members, more than MaxReceiptGroupMembers ({}); send without NeedReadReceipt or raise the limit with receipt_svc/set_receipt_config",
                m.group_id, cfg.max_group_members
            )));
        }
    }
    // An admin posting without From_Account may still be a member: never count the sender.
    let sender_is_member = match (&sender_member, m.from) {
        (Some(_), _) => true,
        (None, None) => group_dom::membership(conn, m.group_id, m.sender_name)?.is_some(),
        (None, Some(_)) => false,
    };
    let eligible = member_count - i32::from(sender_is_member);
    let msg_time = now_secs();
    diesel::insert_into(group_messages::table)
        .values((
            group_messages::group_id.eq(m.group_id),
            group_messages::msg_seq.eq(seq),
            group_messages::from_account.eq(m.sender_name),
            group_messages::msg_random.eq(m.msg_random),
            group_messages::msg_time.eq(msg_time),
            group_messages::msg_body.eq(m.body),
            group_messages::cloud_custom_data.eq(m.cloud_custom_data),
            group_messages::need_receipt.eq(m.need_receipt),
            group_messages::eligible_count.eq(if m.need_receipt { eligible } else { 0 }),
        ))
        .execute(conn)?;
    Ok((seq, msg_time))
}

/// One stored group message.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = group_messages)]
pub struct GroupMessage {
    pub msg_seq: i64,
    pub from_account: String,
    pub msg_random: i64,
    pub msg_time: i64,
    pub msg_body: Value,
    pub cloud_custom_data: String,
    pub need_receipt: bool,
}

/// Up to `n` messages with seq <= `max_seq` (or the newest), newest first; and whether
/// nothing older remains.
pub fn group_history(
    conn: &mut PgConnection,
    group_id: &str,
    n: i64,
    max_seq: Option<i64>,
) -> ApiResult<(Vec<GroupMessage>, bool)> {
    group_dom::get(conn, group_id)?;
    let mut rows: Vec<GroupMessage> = group_messages::table
        .filter(group_messages::group_id.eq(group_id))
        .filter(group_messages::msg_seq.le(max_seq.unwrap_or(i64::MAX)))
        .order(group_messages::msg_seq.desc())
        .limit(n + 1)
        .select(GroupMessage::as_select())
        .load(conn)?;
    let finished = rows.len() as i64 <= n;
    rows.truncate(n as usize);
    Ok((rows, finished))
}
