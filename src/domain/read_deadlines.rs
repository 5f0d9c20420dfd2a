//! Read deadlines: a sender (or the group type's default) asks to be told when a message is
//! still unread some seconds after it was sent. A deadline is a `read_deadlines` row written in
//! the send's transaction; [`fire_due`] claims due rows with `FOR UPDATE SKIP LOCKED` and, in one
//! transaction, queues the event and deletes the row, so it fires exactly once whichever process
//! gets it and whenever the processes restart.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text};
use diesel::PgConnection;
use serde_json::{json, Value};

use crate::domain::config::{ReceiptConfig, RECEIPT_CAPABLE_TYPES};
use crate::domain::group_receipts;
use crate::error::{ApiError, ApiResult};
use crate::webhooks::outbox::{self, Origin};

/// The longest deadline: 30 days.
pub const MAX_SECONDS: i64 = 2_592_000;
/// Unread members named in a group event (the first page of `get_group_msg_receipt_detail`'s
/// default size); the rest are listed through that call.
pub const UNREAD_PAGE: i64 = 100;
/// The group event.
pub const GROUP_EVENT: &str = "Group.CallbackReadDeadlineExpired";
/// The C2C event.
pub const C2C_EVENT: &str = "C2C.CallbackReadDeadlineExpired";

/// Checks a `ReadDeadlineSeconds` value: 0 or absent is none, else 1 to [`MAX_SECONDS`].
pub fn seconds(v: Option<i64>, field: &str) -> ApiResult<Option<i32>> {
    match v.unwrap_or(0) {
        0 => Ok(None),
        // In range, so it fits an i32.
        n if (1..=MAX_SECONDS).contains(&n) => Ok(Some(n as i32)),
        n => Err(ApiError::invalid(format!(
            "{field} must be 1 to {MAX_SECONDS} seconds (30 days), or 0 for no deadline; got {n}"
        ))),
    }
}

/// Checks the requested deadline of a send against its receipt flag (`receipt_field` names
/// it): a deadline is about readers, and only a message that requests receipts has any.
pub fn requested(v: Option<i64>, need_receipt: bool, receipt_field: &str) -> ApiResult<Option<i32>> {
    let secs = seconds(v, "ReadDeadlineSeconds")?;
    if secs.is_some() && !need_receipt {
        return Err(ApiError::invalid(format!(
            "ReadDeadlineSeconds needs {receipt_field} 1: only a message that requests read receipts can have a read deadline"
        )));
    }
    Ok(secs)
}

/// Parses `GroupReadDeadlineSeconds` (group type to seconds; 0 drops a type's default).
pub fn parse_type_defaults(v: &Value) -> ApiResult<BTreeMap<String, i32>> {
    let obj = v.as_object().ok_or_else(|| {
        ApiError::invalid("GroupReadDeadlineSeconds must be an object of group type to seconds, e.g. {\"Public\": 600}")
    })?;
    let mut out = BTreeMap::new();
    for (t, secs) in obj {
        let c = super::groups::canonical_type(t)?;
        if !RECEIPT_CAPABLE_TYPES.contains(&c) {
            return Err(ApiError::invalid(format!(
                "GroupReadDeadlineSeconds cannot name {c}: its groups have no read receipts; only Private (Work), Public and ChatRoom (Meeting) do"
            )));
        }
        let field = format!("GroupReadDeadlineSeconds.{t}");
        let n = match secs {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::invalid(format!("{field} must be an integer number of seconds, got {secs}")))?;
        if let Some(s) = seconds(Some(n), &field)? {
            out.insert(c.to_string(), s);
        }
    }
    Ok(out)
}

/// Stores the deadline of a group message just sent with NeedReadReceipt, in the send's
/// transaction: `requested` seconds, else its group type's default. Returns the seconds used.
pub fn schedule_group(
    conn: &mut PgConnection,
    cfg: &ReceiptConfig,
    origin: &Origin,
    group_id: &str,
    msg_seq: i64,
    requested: Option<i32>,
) -> ApiResult<Option<i32>> {
    let secs = match requested {
        Some(s) => Some(s),
        // Most apps set no defaults: no lookup then.
        None if cfg.group_read_deadline.is_empty() => None,
        None => {
            use crate::db::schema::groups;
            let t: String = groups::table.find(group_id).select(groups::group_type).first(conn)?;
            cfg.group_read_deadline.get(&t).copied()
        }
    };
    let Some(secs) = secs else { return Ok(None) };
    crate::db::cached(
        "INSERT INTO read_deadlines (due_at, seconds, group_id, msg_seq, client_ip, platform)
         VALUES (now() + make_interval(secs => $1::float8), $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind::<Int4, _>(secs)
    .bind::<Text, _>(group_id)
    .bind::<BigInt, _>(msg_seq)
    .bind::<Text, _>(&origin.client_ip)
    .bind::<Text, _>(&origin.platform)
    .execute(conn)?;
    Ok(Some(secs))
}

/// Stores the deadlines of a C2C send (one per receiver's copy of `msg_key`) in the send's
/// transaction. A retried send adds deadlines only for copies that have none.
pub fn schedule_c2c(
    conn: &mut PgConnection,
    origin: &Origin,
    from: &str,
    to: &[String],
    msg_key: &str,
    secs: i32,
) -> ApiResult<usize> {
    Ok(crate::db::cached(
        "INSERT INTO read_deadlines (due_at, seconds, c2c_id, client_ip, platform)
         SELECT now() + make_interval(secs => $1::float8), $1, m.id, $5, $6 FROM c2c_messages m
          WHERE m.from_account = $2 AND m.to_account = ANY($3) AND m.msg_key = $4
            AND m.need_receipt AND m.recalled_at IS NULL
         ON CONFLICT DO NOTHING",
    )
    .bind::<Int4, _>(secs)
    .bind::<Text, _>(from)
    .bind::<Array<Text>, _>(to)
    .bind::<Text, _>(msg_key)
    .bind::<Text, _>(&origin.client_ip)
    .bind::<Text, _>(&origin.platform)
    .execute(conn)?)
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Int4)]
    seconds: i32,
    #[diesel(sql_type = Nullable<Text>)]
    group_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    msg_seq: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c2c_id: Option<i64>,
    #[diesel(sql_type = Text)]
    client_ip: String,
    #[diesel(sql_type = Text)]
    platform: String,
}

/// What one [`fire_due`] call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// Deadlines claimed (and removed).
    pub claimed: usize,
    /// Events queued.
    pub events: usize,
}

/// Claims up to `batch` due deadlines not held by another process, queues an event for each
/// message still unread and removes them. Must run inside a transaction: the claim, the events
/// and the removal commit together or not at all.
pub fn fire_due(conn: &mut PgConnection, batch: i64) -> ApiResult<Fired> {
    let due: Vec<Claimed> = crate::db::cached(
        "DELETE FROM read_deadlines WHERE id IN (
           SELECT id FROM read_deadlines WHERE due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING seconds, group_id, msg_seq, c2c_id, client_ip, platform",
    )
    .bind::<BigInt, _>(batch.max(1))
    .load(conn)?;
    let mut fired = Fired { claimed: due.len(), events: 0 };
    for d in &due {
        let origin = Origin { client_ip: d.client_ip.clone(), platform: d.platform.clone() };
        let payload = match (&d.group_id, d.msg_seq, d.c2c_id) {
            (Some(gid), Some(seq), _) => group_payload(conn, gid, seq, d.seconds)?,
            (_, _, Some(id)) => c2c_payload(conn, id, d.seconds)?,
            _ => None,
        };
        if let Some((event, body)) = payload {
            outbox::enqueue(conn, &origin, event, &body)?;
            fired.events += 1;
        }
    }
    Ok(fired)
}

/// The group event of (group, seq), or `None` when nobody counted is unread any more, or the
/// message was recalled (or never requested receipts).
fn group_payload(conn: &mut PgConnection, gid: &str, seq: i64, secs: i32) -> ApiResult<Option<(&'static str, Value)>> {
    // The counts `get_group_msg_receipt` answers: leavers no longer count as unread, so a
    // message complete by the completion rule (read >= eligible - departed) has none.
    let Some(c) = group_receipts::counts(conn, gid, &[seq])?.into_iter().next().filter(|c| c.found) else {
        return Ok(None);
    };
    if c.unread == 0 {
        return Ok(None);
    }
    use crate::db::schema::group_messages as gm;
    let (from, msg_time, random): (String, i64, i64) =
        gm::table.find((gid, seq)).select((gm::from_account, gm::msg_time, gm::msg_random)).first(conn)?;
    let (unread, finished) = group_receipts::unread_page(conn, gid, seq, &from, "", UNREAD_PAGE)?;
    let list: Vec<Value> = unread.iter().map(|u| json!({ "Unread_Account": u })).collect();
    Ok(Some((
        GROUP_EVENT,
        json!({
            "CallbackCommand": GROUP_EVENT,
            "GroupId": gid,
            "MsgSeq": seq,
            "From_Account": from,
            "MsgTime": msg_time,
            "Random": random,
            "ReadDeadlineSeconds": secs,
            "ReadNum": c.read,
            "UnreadNum": c.unread,
            "UnreadList": list,
            "HasMoreUnread": i32::from(!finished),
            "EventTime": outbox::event_time_ms(),
        }),
    )))
}

#[derive(QueryableByName)]
struct C2cRow {
    #[diesel(sql_type = Text)]
    from_account: String,
    #[diesel(sql_type = Text)]
    to_account: String,
    #[diesel(sql_type = Text)]
    msg_key: String,
    #[diesel(sql_type = BigInt)]
    msg_seq: i64,
    #[diesel(sql_type = BigInt)]
    msg_random: i64,
    #[diesel(sql_type = BigInt)]
    msg_time: i64,
    #[diesel(sql_type = Bool)]
    unread: bool,
}

/// The C2C event of message `id`, or `None` when its peer read it (by receipt or by a
/// conversation read covering it) or it was recalled.
fn c2c_payload(conn: &mut PgConnection, id: i64, secs: i32) -> ApiResult<Option<(&'static str, Value)>> {
    let row: Option<C2cRow> = crate::db::cached(
        "SELECT m.from_account, m.to_account, m.msg_key, m.msg_seq, m.msg_random, m.msg_time,
                m.recalled_at IS NULL AND m.all_read_at IS NULL AND m.peer_read_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM c2c_read_state s WHERE s.reader = m.to_account
                                   AND s.peer = m.from_account AND s.read_time >= m.msg_time) AS unread
           FROM c2c_messages m WHERE m.id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .optional()?;
    let Some(m) = row.filter(|m| m.unread) else { return Ok(None) };
    Ok(Some((
        C2C_EVENT,
        json!({
            "CallbackCommand": C2C_EVENT,
            "From_Account": m.from_account,
            "To_Account": m.to_account,
            "MsgKey": m.msg_key,
            "MsgSeq": m.msg_seq,
            "MsgRandom": m.msg_random,
            "MsgTime": m.msg_time,
            "ReadDeadlineSeconds": secs,
            "EventTime": outbox::event_time_ms(),
        }),
    )))
}
