//! Per-user receipt notifications: what happened to the messages a user sent, kept so a sender
//! who was offline catches up by resuming from the last event they saw.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text};
use diesel::PgConnection;
use serde_json::Value;

use crate::db::schema::user_events;
use crate::error::{ApiError, ApiResult};

/// Most events answered by one [`since`] call.
pub const PAGE: i64 = 500;

/// A position in a user's stream: (transaction id, event id), written `txid-id` on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub txid: i64,
    pub id: i64,
}

impl Position {
    /// Parses a `Last-Event-ID` (`txid-id`; `0` means the beginning).
    pub fn parse(s: &str) -> ApiResult<Position> {
        let s = s.trim();
        if s == "0" {
            return Ok(Position::default());
        }
        let bad = || ApiError::invalid(format!("Last-Event-ID {s:?} is not an event id from this stream (or 0)"));
        let (t, i) = s.split_once('-').ok_or_else(bad)?;
        Ok(Position { txid: t.parse().map_err(|_| bad())?, id: i.parse().map_err(|_| bad())? })
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.txid, self.id)
    }
}

/// One notification.
#[derive(Debug, Clone, QueryableByName)]
pub struct Notification {
    #[diesel(sql_type = BigInt)]
    pub txid: i64,
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: Value,
}

impl Notification {
    /// Where the stream stands after this event.
    pub fn position(&self) -> Position {
        Position { txid: self.txid, id: self.id }
    }
}

/// Records a notification for `user` in the caller's transaction.
pub fn record(conn: &mut PgConnection, user: &str, event_type: &str, payload: &Value) -> ApiResult<()> {
    diesel::insert_into(user_events::table)
        .values((
            user_events::user_id.eq(user),
            user_events::event_type.eq(event_type),
            user_events::payload.eq(payload),
        ))
        .execute(conn)?;
    Ok(())
}

/// The next notifications of `user` after `after`, in stream order, limited to transactions
/// that have all finished (so nothing can still appear before them). The flag says whether
/// newer ones exist that are still held back by an unfinished older transaction: the caller
/// should look again shortly.
pub fn since(conn: &mut PgConnection, user: &str, after: Position) -> ApiResult<(Vec<Notification>, bool)> {
    let rows: Vec<Pending> = crate::db::cached(
        "SELECT txid, id, event_type, payload,
                txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS settled
           FROM user_events
          WHERE user_id = $1 AND (txid, id) > ($2, $3)
          ORDER BY txid, id LIMIT $4",
    )
    .bind::<Text, _>(user)
    .bind::<BigInt, _>(after.txid)
    .bind::<BigInt, _>(after.id)
    .bind::<BigInt, _>(PAGE)
    .load(conn)?;
    let total = rows.len();
    let ready: Vec<Notification> = rows.into_iter().take_while(|r| r.settled).map(|r| r.event).collect();
    // More to read: the rest of a full page, or events behind an unfinished transaction.
    let more = ready.len() < total || total as i64 == PAGE;
    Ok((ready, more))
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(embed)]
    event: Notification,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    settled: bool,
}

/// The current end of `user`'s stream: where a stream without a resume point starts.
pub fn latest(conn: &mut PgConnection, user: &str) -> ApiResult<Position> {
    let rows: Vec<Notification> = crate::db::cached(
        "SELECT txid, id, event_type, payload FROM user_events
          WHERE user_id = $1 AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
          ORDER BY txid DESC, id DESC LIMIT 1",
    )
    .bind::<Text, _>(user)
    .load(conn)?;
    Ok(rows.first().map(Notification::position).unwrap_or_default())
}
