//! The transactional outbox: events are written in the caller's transaction.

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Text};
use diesel::PgConnection;
use rand::Rng;
use serde_json::Value;

use crate::error::ApiResult;

/// The NOTIFY channel that wakes dispatchers in every process.
pub const CHANNEL: &str = "imreceipts_webhooks";
/// `NOTIFY` on [`CHANNEL`], as a static string so its statement is cached.
const NOTIFY: &str = "NOTIFY imreceipts_webhooks";

/// Callback command names fired by imreceipts.
pub const EVENT_TYPES: [&str; 10] = [
    "C2C.CallbackAfterMsgReport",
    "C2C.CallbackAfterMsgReadReceipt",
    "Group.CallbackAfterReadReceipt",
    "C2C.CallbackAfterMsgWithDraw",
    "Group.CallbackAfterRecallMsg",
    "Group.CallbackAfterAllRead",
    "Group.CallbackAfterReadThreshold",
    "C2C.CallbackAfterAllRead",
    "Group.CallbackReadDeadlineExpired",
    "C2C.CallbackReadDeadlineExpired",
];

/// Where the request that caused an event came from: the callback's `ClientIP` and
/// `OptPlatform` query parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The caller's address (the TCP peer, or the trusted proxy header).
    pub client_ip: String,
    /// `RESTAPI`, or the platform the caller named.
    pub platform: String,
}

/// A new `webhook-id`: `msg_` + time-ordered hex, never containing a dot.
pub fn new_event_id() -> String {
    let ms = chrono::Utc::now().timestamp_millis();
    format!("msg_{ms:012x}{:016x}", rand::thread_rng().gen::<u64>())
}

/// Current time in milliseconds, as `EventTime`.
pub fn event_time_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Whether any enabled endpoint subscribes to `event_type`, or the pull feed is on (so payloads
/// that cost queries are built only when someone listens).
pub fn has_subscribers(conn: &mut PgConnection, event_type: &str) -> ApiResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        yes: bool,
    }
    let row: Row = crate::db::cached(
        "SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND (events IS NULL OR $1 = ANY(events)))
             OR EXISTS (SELECT 1 FROM receipt_config WHERE event_feed) AS yes",
    )
    .bind::<Text, _>(event_type)
    .get_result(conn)?;
    Ok(row.yes)
}

/// Stores `payload` for every enabled endpoint subscribed to `event_type`, and for the pull feed
/// when it is on, in the caller's transaction; returns how many deliveries were queued.
pub fn enqueue(conn: &mut PgConnection, origin: &Origin, event_type: &str, payload: &Value) -> ApiResult<usize> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        n: i32,
    }
    // One SQL function (migration 000035) so events queued inside larger statements and here
    // follow the same rules.
    let row: Row = crate::db::cached("SELECT imr_enqueue_event($1, $2, $3, $4, $5) AS n")
        .bind::<Text, _>(event_type)
        .bind::<Text, _>(serde_json::to_string(payload)?)
        .bind::<Text, _>(&origin.client_ip)
        .bind::<Text, _>(&origin.platform)
        .bind::<Text, _>(new_event_id())
        .get_result(conn)?;
    Ok(usize::try_from(row.n).unwrap_or(0))
}

/// Stores `payload` for endpoint `endpoint_id` alone, whatever it subscribes to and even when
/// disabled (then the delivery waits, paused): the console's "send a test event". Returns 1.
pub fn enqueue_to(
    conn: &mut PgConnection,
    endpoint_id: i64,
    origin: &Origin,
    event_type: &str,
    payload: &Value,
) -> ApiResult<usize> {
    let body = serde_json::to_vec(payload)?;
    let queued = crate::db::cached(
        "WITH ep AS (SELECT id, enabled FROM webhook_endpoints WHERE id = $6),
              ev AS (INSERT INTO webhook_events (public_id, event_type, body, client_ip, opt_platform)
                     SELECT $2, $1, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM ep) RETURNING id)
         INSERT INTO webhook_deliveries (event_id, endpoint_id, state)
         SELECT ev.id, ep.id, CASE WHEN ep.enabled THEN 0 ELSE 4 END FROM ev, ep",
    )
    .bind::<Text, _>(event_type)
    .bind::<Text, _>(new_event_id())
    .bind::<Bytea, _>(body)
    .bind::<Text, _>(&origin.client_ip)
    .bind::<Text, _>(&origin.platform)
    .bind::<diesel::sql_types::BigInt, _>(endpoint_id)
    .execute(conn)?;
    if queued == 0 {
        return Err(crate::error::ApiError::invalid(format!("EndpointId {endpoint_id} does not exist")));
    }
    crate::db::cached(NOTIFY).execute(conn)?;
    Ok(queued)
}
