//! Sending and listing C2C and group messages.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel::PgConnection;
use serde_json::Value;

use crate::db::schema::{c2c_messages, c2c_read_state, group_members, group_messages, groups};
use crate::domain::config::ReceiptConfig;
use crate::domain::{accounts, groups as group_dom, now_secs};
use crate::error::{ApiError, ApiResult};

/// Largest `MsgBody` in bytes of JSON text: Tencent's 12 KB message size limit.
pub const MAX_BODY_BYTES: usize = 12 * 1024;

/// Checks a Tencent `MsgBody`: a non-empty array of `{MsgType, MsgContent}` objects of at most
/// [`MAX_BODY_BYTES`] (80002 beyond, as Tencent answers).
pub fn validate_body(body: &Value) -> ApiResult<()> {
    let size = serde_json::to_vec(body).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_BODY_BYTES {
        return Err(ApiError::MsgTooLong(format!(
            "MsgBody is {size} bytes of JSON; a message may have at most {MAX_BODY_BYTES} bytes (12 KB)"
        )));
    }
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

/// Checks a message's `CloudCustomData`: it counts towards Tencent's 12 KB message size.
pub fn validate_custom_data(data: &str) -> ApiResult<()> {
    if data.len() > MAX_BODY_BYTES {
        return Err(ApiError::MsgTooLong(format!(
            "CloudCustomData is {} bytes; a message may have at most {MAX_BODY_BYTES} bytes (12 KB)",
            data.len()
        )));
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
    /// Seconds within which the same (sender, receiver, MsgRandom) is the same message.
    pub dedup_window: i64,
}

/// What a C2C send produced: time, key and receivers that were refused.
#[derive(Debug)]
pub struct C2cSent {
    pub msg_time: i64,
    pub msg_key: String,
    pub failed: Vec<(String, ApiError)>,
    /// The send repeated an earlier one: the earlier message's key and time are answered.
    pub duplicate: bool,
}

/// SQL comparing `msg_body` with a bound body text. Bodies are `json` (kept as sent, NUL escapes
/// included), which has no `=`; the stored text is serde_json's rendering of the same value
/// (keys sorted), so equal bodies have equal texts.
pub const SAME_BODY: &str = "msg_body::text = ";

/// Takes a transaction-scoped advisory lock on `key`, so concurrent retries of one send are
/// decided one after the other.
pub fn lock_key(conn: &mut PgConnection, key: &str) -> ApiResult<()> {
    crate::db::cached("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)?;
    Ok(())
}

/// Stores one message per receiver, all sharing one MsgKey `{MsgSeq}_{MsgRandom}_{MsgTime}`
/// (as Tencent's batchsendmsg does). A repeat of a send within the window (same sender and
/// MsgRandom, to a receiver that already has it) answers the original key and time and stores
/// a copy only for receivers that have none. As in Tencent, the body is part of the identity,
/// so clients that reuse one MsgRandom for different messages lose nothing.
pub fn send_c2c(conn: &mut PgConnection, m: &C2cSend) -> ApiResult<C2cSent> {
    validate_body(m.body)?;
    validate_custom_data(m.cloud_custom_data)?;
    if !accounts::exists(conn, m.from)? {
        return Err(ApiError::SenderNotFound(format!("From_Account {:?} is not imported", m.from)));
    }
    let known = accounts::existing(conn, m.to)?;
    lock_key(conn, &format!("c2c:{}:{}", m.from, m.msg_random))?;
    let now = now_secs();
    let earlier: Vec<(String, String, i64, i64)> = c2c_messages::table
        .filter(c2c_messages::from_account.eq(m.from))
        .filter(c2c_messages::msg_random.eq(m.msg_random))
        .filter(c2c_messages::msg_time.ge(now - m.dedup_window))
        .filter(c2c_messages::to_account.eq_any(m.to))
        .filter(sql::<Bool>(SAME_BODY).bind::<Text, _>(m.body.to_string()))
        .select((c2c_messages::to_account, c2c_messages::msg_key, c2c_messages::msg_time, c2c_messages::msg_seq))
        .order(c2c_messages::id)
        .load(conn)?;
    // A retry keeps the first send's key, time and seq, also for receivers it adds.
    let (msg_key, msg_time, msg_seq) = match earlier.first() {
        Some((_, key, time, seq)) => (key.clone(), *time, *seq),
        None => (format!("{}_{}_{now}", m.msg_seq, m.msg_random), now, m.msg_seq),
    };
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for to in m.to {
        if !known.contains(to) {
            failed.push((to.clone(), ApiError::PeerNotFound(format!("To_Account {to:?} is not imported"))));
            continue;
        }
        if earlier.iter().any(|(t, ..)| t == to) {
            continue;
        }
        rows.push((
            c2c_messages::msg_key.eq(msg_key.clone()),
            c2c_messages::from_account.eq(m.from),
            c2c_messages::to_account.eq(to.clone()),
            c2c_messages::msg_seq.eq(msg_seq),
            c2c_messages::msg_random.eq(m.msg_random),
            c2c_messages::msg_time.eq(msg_time),
            c2c_messages::msg_body.eq(m.body),
            c2c_messages::cloud_custom_data.eq(m.cloud_custom_data),
            c2c_messages::need_receipt.eq(m.need_receipt),
            c2c_messages::counts_unread.eq(m.counts_unread),
        ));
    }
    let wanted = rows.len();
    if wanted > 0 {
        let stored = diesel::insert_into(c2c_messages::table).values(rows).on_conflict_do_nothing().execute(conn)?;
        // The key is taken by another message (same MsgSeq and MsgRandom in the same second,
        // another body): refuse rather than answer that message's key.
        if stored < wanted {
            return Err(ApiError::InvalidMsgKey(format!(
                "MsgKey {msg_key:?} already names another message in this conversation (same MsgSeq and MsgRandom in the same second); send again with another MsgRandom"
            )));
        }
    }
    Ok(C2cSent { msg_time, msg_key, failed, duplicate: !earlier.is_empty() })
}

/// A stored `MsgBody` as its JSON text. History answers pass it through verbatim: loading a
/// page of 12 KB bodies into `serde_json::Value` trees would cost many times their size.
#[derive(Debug, Clone, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Json)]
pub struct StoredBody(Box<serde_json::value::RawValue>);

impl StoredBody {
    /// The body of a recalled message: `[]`.
    pub fn empty() -> StoredBody {
        // "[]" is valid JSON.
        StoredBody(serde_json::value::RawValue::from_string("[]".into()).expect("[] is JSON"))
    }

    /// Bytes of the JSON text.
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    /// Whether the text is empty (never, for a stored body).
    pub fn is_empty(&self) -> bool {
        self.0.get().is_empty()
    }
}

impl serde::Serialize for StoredBody {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Json, diesel::pg::Pg> for StoredBody {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        // A `json` column arrives as its text; RawValue checks it without building a tree.
        let text = std::str::from_utf8(value.as_bytes())?;
        Ok(StoredBody(serde_json::value::RawValue::from_string(text.to_owned())?))
    }
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
    pub msg_body: StoredBody,
    pub cloud_custom_data: String,
    pub need_receipt: bool,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub peer_read_at: Option<chrono::DateTime<chrono::Utc>>,
    pub recalled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A message of a roaming page with its peer-read state resolved.
#[derive(Debug, Clone)]
pub struct RoamMessage {
    pub msg: C2cMessage,
    /// When the receiver read it: its per-message receipt, or a conversation read covering it.
    pub peer_read_time: Option<i64>,
}

/// A page of history between two accounts, oldest first (as in Tencent's sample); `complete`
/// when nothing older remains.
pub struct RoamPage {
    pub messages: Vec<RoamMessage>,
    pub complete: bool,
}

/// The read time of `receiver` for a message of `sender` at `msg_time`: its own receipt, or
/// the conversation read time when that covers it (`read_time` is `receiver`'s read time of
/// the conversation with `sender`).
pub fn peer_read_time(
    peer_read_at: Option<chrono::DateTime<chrono::Utc>>,
    msg_time: i64,
    read_time: Option<i64>,
) -> Option<i64> {
    peer_read_at.map(|t| t.timestamp()).or(read_time.filter(|t| *t >= msg_time))
}

/// Conversation read times of `a` and `b` for each other: (a's of b, b's of a).
pub fn read_times(conn: &mut PgConnection, a: &str, b: &str) -> ApiResult<(Option<i64>, Option<i64>)> {
    let rows: Vec<(String, i64)> = c2c_read_state::table
        .filter(c2c_read_state::reader.eq(a).and(c2c_read_state::peer.eq(b)))
        .or_filter(c2c_read_state::reader.eq(b).and(c2c_read_state::peer.eq(a)))
        .select((c2c_read_state::reader, c2c_read_state::read_time))
        .load(conn)?;
    let of = |who: &str| rows.iter().find(|(r, _)| r == who).map(|(_, t)| *t);
    Ok((of(a), of(b)))
}

/// The newest `max_cnt` messages between `a` and `b` with `min_time <= MsgTime <= max_time`
/// older than `last_key` (keyset paging on (time, id)), listed oldest first.
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
                ApiError::InvalidMsgKey(format!("LastMsgKey {key:?} is not a message between {a:?} and {b:?}"))
            })?;
        q = q.filter(c2c_messages::msg_time.lt(t).or(c2c_messages::msg_time.eq(t).and(c2c_messages::id.lt(id))));
    }
    let mut rows = q.load(conn)?;
    let complete = rows.len() as i64 <= max_cnt;
    rows.truncate(max_cnt as usize);
    rows.reverse();
    let (a_reads_b, b_reads_a) = read_times(conn, a, b)?;
    let messages = rows
        .into_iter()
        .map(|msg| {
            let conv = if msg.to_account == a { a_reads_b } else { b_reads_a };
            RoamMessage { peer_read_time: peer_read_time(msg.peer_read_at, msg.msg_time, conv), msg }
        })
        .collect();
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
    /// 1 High, 2 Normal, 3 Low, 4 Lowest.
    pub priority: i16,
    /// Seconds within which the same (group, sender, Random) is the same message.
    pub dedup_window: i64,
    /// `ReadThresholdPercent` as sent: 0 for none, absent for the group type's default.
    pub read_threshold: Option<i64>,
}

/// What a group send produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSent {
    pub msg_seq: i64,
    pub msg_time: i64,
    /// The send repeated an earlier one, whose seq and time are answered.
    pub duplicate: bool,
}

/// Sends a group message. Sequence numbers are gap-free: the group row stays locked until
/// commit, and a failed send rolls the increment back. A repeat (same sender and Random within
/// the window) answers the original message and stores nothing.
pub fn send_group(conn: &mut PgConnection, cfg: &ReceiptConfig, m: &GroupSend) -> ApiResult<GroupSent> {
    validate_body(m.body)?;
    validate_custom_data(m.cloud_custom_data)?;
    let g = group_dom::lock(conn, m.group_id)?;
    let now = now_secs();
    let earlier: Option<(i64, i64)> = group_messages::table
        .filter(group_messages::group_id.eq(m.group_id))
        .filter(group_messages::msg_random.eq(m.msg_random))
        .filter(group_messages::msg_time.ge(now - m.dedup_window))
        .filter(group_messages::from_account.eq(m.sender_name))
        .filter(sql::<Bool>(SAME_BODY).bind::<Text, _>(m.body.to_string()))
        .select((group_messages::msg_seq, group_messages::msg_time))
        .order(group_messages::msg_seq)
        .first(conn)
        .optional()?;
    if let Some((msg_seq, msg_time)) = earlier {
        return Ok(GroupSent { msg_seq, msg_time, duplicate: true });
    }
    let sender_member = match m.from {
        Some(u) => Some(group_dom::membership(conn, m.group_id, u)?.ok_or_else(|| {
            ApiError::forbidden(format!(
                "From_Account {u:?} is not a member of group {:?} and cannot send to it",
                m.group_id
            ))
        })?),
        None => None,
    };
    if let Some(member) = &sender_member {
        check_not_muted(conn, &g, member)?;
    }
    if m.need_receipt {
        cfg.require_enabled(&g.group_type, m.group_id)?;
        if let Some(member) = &sender_member {
            if cfg.request_roles == "OwnerAndAdmin" && member.role == "Member" {
                return Err(ApiError::forbidden(format!(
                    "only the owner and admins may request read receipts in this app (GroupReceiptRequestRoles is OwnerAndAdmin); {:?} is a Member",
                    member.user_id
                )));
            }
        }
        if g.member_count > cfg.max_group_members {
            return Err(ApiError::invalid(format!(
                "group {:?} has {} members, more than MaxReceiptGroupMembers ({}); send without NeedReadReceipt or raise the limit with receipt_svc/set_receipt_config",
                m.group_id, g.member_count, cfg.max_group_members
            )));
        }
    }
    let threshold = read_threshold(cfg, &g.group_type, m)?;
    // An admin posting without From_Account may still be a member: never count the sender.
    let sender_is_member = match (&sender_member, m.from) {
        (Some(_), _) => true,
        (None, None) => group_dom::membership(conn, m.group_id, m.sender_name)?.is_some(),
        (None, Some(_)) => false,
    };
    let seq: i64 = diesel::update(groups::table.find(m.group_id))
        .set((groups::last_seq.eq(groups::last_seq + 1), groups::last_msg_time.eq(now)))
        .returning(groups::last_seq)
        .get_result(conn)?;
    let eligible = g.member_count - i32::from(sender_is_member);
    insert_group_message(conn, m, seq, now, if m.need_receipt { eligible } else { 0 }, threshold)?;
    if sender_is_member {
        diesel::update(
            group_members::table
                .filter(group_members::group_id.eq(m.group_id))
                .filter(group_members::user_id.eq(m.sender_name))
                .filter(group_members::leave_seq.is_null()),
        )
        .set(group_members::last_send_msg_time.eq(now))
        .execute(conn)?;
    }
    Ok(GroupSent { msg_seq: seq, msg_time: now, duplicate: false })
}

/// The share of readers at which `Group.CallbackAfterReadThreshold` fires for message `m`.
fn read_threshold(cfg: &ReceiptConfig, group_type: &str, m: &GroupSend) -> ApiResult<Option<i16>> {
    match m.read_threshold {
        Some(p) if !(0..=100).contains(&p) => {
            Err(ApiError::invalid(format!("ReadThresholdPercent {p} must be between 1 and 100 (or 0 for none)")))
        }
        Some(p) if p > 0 && !m.need_receipt => {
            Err(ApiError::invalid("ReadThresholdPercent applies only to messages sent with NeedReadReceipt 1"))
        }
        Some(0) => Ok(None),
        Some(p) => Ok(Some(p as i16)),
        None if m.need_receipt => Ok(cfg.default_threshold(group_type)),
        None => Ok(None),
    }
}

/// Fails with 10017 when `member` is muted, or when the whole group is and they are a plain
/// member (the owner and admins may still speak).
fn check_not_muted(conn: &mut PgConnection, g: &group_dom::Group, member: &group_dom::Member) -> ApiResult<()> {
    if g.shut_up_all_member && member.role == "Member" {
        return Err(ApiError::SenderMuted(format!(
            "group {:?} is muted for all members (ShutUpAllMember On); {:?} may not send",
            g.group_id, member.user_id
        )));
    }
    let until: i64 = group_members::table
        .filter(group_members::group_id.eq(&g.group_id))
        .filter(group_members::user_id.eq(&member.user_id))
        .filter(group_members::leave_seq.is_null())
        .select(group_members::shut_up_until)
        .first(conn)?;
    if until > now_secs() {
        return Err(ApiError::SenderMuted(format!(
            "{:?} is muted in group {:?} until {until} (unix seconds)",
            member.user_id, g.group_id
        )));
    }
    Ok(())
}

/// Inserts one group message row.
pub fn insert_group_message(
    conn: &mut PgConnection,
    m: &GroupSend,
    seq: i64,
    msg_time: i64,
    eligible: i32,
    read_threshold: Option<i16>,
) -> ApiResult<()> {
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
            group_messages::eligible_count.eq(eligible),
            group_messages::msg_priority.eq(m.priority),
            group_messages::read_threshold.eq(read_threshold),
        ))
        .execute(conn)?;
    Ok(())
}

/// One stored group message.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = group_messages)]
pub struct GroupMessage {
    pub msg_seq: i64,
    pub from_account: String,
    pub msg_random: i64,
    pub msg_time: i64,
    pub msg_body: StoredBody,
    pub cloud_custom_data: String,
    pub need_receipt: bool,
    pub recalled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub msg_priority: i16,
}

/// Tencent's `MsgPriority` names and their numbers.
pub const PRIORITIES: [(&str, i16); 4] = [("High", 1), ("Normal", 2), ("Low", 3), ("Lowest", 4)];

/// Up to `n` messages with seq <= `max_seq` (or the newest), newest first; and whether
/// nothing older remains. Recalled messages are left out unless `with_recalled`.
pub fn group_history(
    conn: &mut PgConnection,
    group_id: &str,
    n: i64,
    max_seq: Option<i64>,
    with_recalled: bool,
) -> ApiResult<(Vec<GroupMessage>, bool)> {
    group_dom::get(conn, group_id)?;
    let mut q = group_messages::table
        .filter(group_messages::group_id.eq(group_id))
        .filter(group_messages::msg_seq.le(max_seq.unwrap_or(i64::MAX)))
        .order(group_messages::msg_seq.desc())
        .limit(n + 1)
        .select(GroupMessage::as_select())
        .into_boxed();
    if !with_recalled {
        q = q.filter(group_messages::recalled_at.is_null());
    }
    let mut rows: Vec<GroupMessage> = q.load(conn)?;
    let finished = rows.len() as i64 <= n;
    rows.truncate(n as usize);
    Ok((rows, finished))
}
