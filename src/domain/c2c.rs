//! C2C receipts: conversation read time, unread counts, per-message read and delivery.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::PgConnection;
use serde_json::json;

use crate::db::schema::{c2c_messages, c2c_read_state};
use crate::domain::messages::{self, C2cMessage};
use crate::domain::{accounts, notifications, now_secs};
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::{self, Origin};

/// Most messages one per-message receipt call may name (Tencent's client limit).
pub const MAX_RECEIPT_ITEMS: usize = 30;

/// Fails with 90008 (the first account) / 90003 (the second) unless both are imported, in one
/// query.
pub fn require_pair(conn: &mut PgConnection, reader: &str, peer: &str) -> ApiResult<()> {
    let known = accounts::existing(conn, &[reader.to_string(), peer.to_string()])?;
    if !known.iter().any(|k| k == reader) {
        return Err(ApiError::SenderNotFound(format!("account {reader:?} is not imported")));
    }
    if !known.iter().any(|k| k == peer) {
        return Err(ApiError::PeerNotFound(format!("account {peer:?} is not imported")));
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Total C2C unread of `user`: messages to them newer than their read time for that peer.
pub fn total_unread(conn: &mut PgConnection, user: &str) -> ApiResult<i64> {
    let row: Count = crate::db::cached(
        "SELECT count(*) AS n FROM c2c_messages m
         LEFT JOIN c2c_read_state r ON r.reader = m.to_account AND r.peer = m.from_account
         WHERE m.to_account = $1 AND m.counts_unread AND m.recalled_at IS NULL
           AND m.msg_time > coalesce(r.read_time, -1)",
    )
    .bind::<Text, _>(user)
    .get_result(conn)?;
    Ok(row.n)
}

/// Unread count of `user` in the conversation with `peer`.
pub fn unread_with(conn: &mut PgConnection, user: &str, peer: &str) -> ApiResult<i64> {
    let row: Count = crate::db::cached(
        "SELECT count(*) AS n FROM c2c_messages m
         WHERE m.to_account = $1 AND m.from_account = $2 AND m.counts_unread AND m.recalled_at IS NULL
           AND m.msg_time > coalesce((SELECT read_time FROM c2c_read_state WHERE reader = $1 AND peer = $2), -1)",
    )
    .bind::<Text, _>(user)
    .bind::<Text, _>(peer)
    .get_result(conn)?;
    Ok(row.n)
}

/// Marks the conversation read up to `read_time` (default now, never in the future, never
/// backwards) and fires `C2C.CallbackAfterMsgReport`. Returns the effective read time.
///
/// Only a read time that moves forward records anything (a notification for the peer, a
/// callback), so repeating a call cannot flood the peer's stream or the app's webhooks. With
/// `require_conversation` (a user acting for themselves) the two accounts must have exchanged
/// a message.
pub fn set_read(
    conn: &mut PgConnection,
    origin: &Origin,
    reader: &str,
    peer: &str,
    read_time: Option<i64>,
    require_conversation: bool,
) -> ApiResult<i64> {
    require_pair(conn, reader, peer)?;
    let now = now_secs();
    let wanted = read_time.unwrap_or(now).min(now);
    if wanted < 0 {
        return Err(ApiError::invalid("MsgReadTime must be a unix time in seconds, not negative"));
    }
    if require_conversation && !conversation_exists(conn, reader, peer)? {
        return Err(ApiError::invalid(format!(
            "{reader:?} and {peer:?} have no conversation (no message between them), so there is nothing to mark read"
        )));
    }
    #[derive(QueryableByName)]
    struct ReadTime {
        #[diesel(sql_type = BigInt)]
        read_time: i64,
    }
    let moved: Option<ReadTime> = crate::db::cached(
        "INSERT INTO c2c_read_state AS s (reader, peer, read_time) VALUES ($1, $2, $3)
         ON CONFLICT (reader, peer) DO UPDATE SET read_time = EXCLUDED.read_time, updated_at = now()
           WHERE s.read_time < EXCLUDED.read_time
         RETURNING s.read_time",
    )
    .bind::<Text, _>(reader)
    .bind::<Text, _>(peer)
    .bind::<BigInt, _>(wanted)
    .get_result(conn)
    .optional()?;
    let Some(ReadTime { read_time: effective }) = moved else {
        // Already read up to (or past) the requested time: nothing changed, nothing to tell.
        return Ok(c2c_read_state::table.find((reader, peer)).select(c2c_read_state::read_time).first(conn)?);
    };
    crate::domain::completion::after_c2c_conversation_read(conn, origin, reader, peer, effective)?;
    // The peer (whose messages were read) sees the conversation read when they come online;
    // a private reader's read without their name.
    let private = crate::domain::privacy::is_private(conn, reader)?;
    let mut report = json!({"Report_Account": reader, "Peer_Account": peer, "LastReadTime": effective});
    if private {
        report["Report_Account"] = json!("");
        report["Private"] = json!(1);
    }
    notifications::record(conn, peer, "C2C.ReadReport", &report)?;
    if !outbox::has_subscribers(conn, "C2C.CallbackAfterMsgReport")? {
        return Ok(effective);
    }
    let unread = total_unread(conn, reader)?;
    let mut payload = json!({
        "CallbackCommand": "C2C.CallbackAfterMsgReport",
        "Report_Account": reader,
        "Peer_Account": peer,
        "LastReadTime": effective,
        "UnreadMsgNum": unread,
        "EventTime": outbox::event_time_ms(),
    });
    if private {
        payload["Report_Account"] = json!("");
        payload["Private"] = json!(1);
    }
    outbox::enqueue(conn, origin, "C2C.CallbackAfterMsgReport", &payload)?;
    Ok(effective)
}

/// Whether `a` and `b` have exchanged at least one message (either direction).
fn conversation_exists(conn: &mut PgConnection, a: &str, b: &str) -> ApiResult<bool> {
    use diesel::dsl::exists;
    let pair = |from: &str, to: &str| {
        c2c_messages::table
            .filter(c2c_messages::from_account.eq(from.to_string()))
            .filter(c2c_messages::to_account.eq(to.to_string()))
    };
    Ok(diesel::select(exists(pair(a, b)).or(exists(pair(b, a)))).get_result(conn)?)
}

/// Unread counts of `user`: the total, per requested peer, and peers that are not imported.
pub struct UnreadCounts {
    pub total: i64,
    pub per_peer: Vec<(String, i64)>,
    pub errors: Vec<(String, ApiError)>,
}

/// Unread counts for `get_c2c_unread_msg_num`.
pub fn unread_counts(conn: &mut PgConnection, user: &str, peers: &[String]) -> ApiResult<UnreadCounts> {
    if peers.len() > 10 {
        return Err(ApiError::invalid(format!("Peer_Account has {} entries, at most 10 allowed", peers.len())));
    }
    if !accounts::exists(conn, user)? {
        return Err(ApiError::AccountNotFound(user.to_string()));
    }
    let known = accounts::existing(conn, peers)?;
    let mut out = UnreadCounts { total: total_unread(conn, user)?, per_peer: Vec::new(), errors: Vec::new() };
    for p in peers {
        if known.contains(p) {
            out.per_peer.push((p.clone(), unread_with(conn, user, p)?));
        } else {
            out.errors.push((p.clone(), ApiError::AccountNotFound(p.clone())));
        }
    }
    Ok(out)
}

/// One message named by a receipt call.
#[derive(Debug, Clone)]
pub struct MsgRef {
    pub from: String,
    pub to: String,
    pub key: String,
}

/// Whether a receipt call acknowledges reading or only delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    Read,
    Delivered,
}

/// Items of a receipt call that were refused, by MsgKey, with why.
pub type KeyErrors = Vec<(String, ApiError)>;

/// Per-item outcome of a receipt call: what changed, and the items refused.
#[derive(Debug, Default)]
pub struct AckOutcome {
    pub changed: Vec<String>,
    pub errors: KeyErrors,
}

/// The `MsgId` of a message (answered by sendmsg and carried by callbacks), distinct from its
/// MsgKey: REST sends carry no client message id, so it is derived from the MsgKey
/// `{MsgSeq}_{MsgRandom}_{MsgTime}` as `{MsgSeq}-{MsgTime}-{MsgRandom}`, the shape of Tencent's
/// `{sender}-{time}-{random}` client ids (empty for a key of another shape).
pub fn msg_id(msg_key: &str) -> String {
    let mut parts = msg_key.split('_');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(seq), Some(random), Some(time), None) => format!("{seq}-{time}-{random}"),
        _ => String::new(),
    }
}

/// The sender's view of one message.
#[derive(Debug)]
pub struct ReceiptState {
    pub key: String,
    /// `None` when found, else why not (90054: no such message).
    pub error: Option<ApiError>,
    pub need_receipt: bool,
    pub read_time: Option<i64>,
    pub delivered_time: Option<i64>,
}

/// Receipt state of messages `sender` sent to `peer`.
pub fn receipt_states(
    conn: &mut PgConnection,
    sender: &str,
    peer: &str,
    keys: &[String],
) -> ApiResult<Vec<ReceiptState>> {
    if keys.is_empty() || keys.len() > 100 {
        return Err(ApiError::invalid(format!("MsgKeyList must have 1 to 100 keys, got {}", keys.len())));
    }
    require_pair(conn, sender, peer)?;
    let rows: Vec<C2cMessage> = c2c_messages::table
        .filter(c2c_messages::from_account.eq(sender))
        .filter(c2c_messages::to_account.eq(peer))
        .filter(c2c_messages::msg_key.eq_any(keys))
        .select(C2cMessage::as_select())
        .load(conn)?;
    // A conversation read by the peer covering a message's time means the peer has read it.
    let (_, peer_read) = messages::read_times(conn, sender, peer)?;
    Ok(keys
        .iter()
        .map(|k| match rows.iter().find(|r| &r.msg_key == k) {
            Some(m) => ReceiptState {
                key: k.clone(),
                error: m.recalled_at.map(|_| ApiError::MsgRecalled(format!("MsgKey {k:?} was recalled"))),
                need_receipt: m.need_receipt,
                read_time: messages::peer_read_time(m.peer_read_at, m.msg_time, peer_read),
                delivered_time: m.delivered_at.map(|t| t.timestamp()),
            },
            None => ReceiptState {
                key: k.clone(),
                error: Some(ApiError::InvalidMsgKey(format!(
                    "MsgKey {k:?} is not a message from {sender:?} to {peer:?}"
                ))),
                need_receipt: false,
                read_time: None,
                delivered_time: None,
            },
        })
        .collect())
}
