//! Per-user receipt notifications: what happened to the messages a user sent, kept so a sender
//! who was offline catches up by resuming from the last event id they saw.

use diesel::prelude::*;
use diesel::PgConnection;
use serde_json::Value;

use crate::db::schema::user_events;
use crate::error::ApiResult;

/// Most events answered by one [`since`] call.
pub const PAGE: i64 = 500;

/// One notification.
#[derive(Debug, Clone, Queryable)]
pub struct Notification {
    pub id: i64,
    pub event_type: String,
    pub payload: Value,
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

/// The next notifications of `user` after event id `after`, oldest first.
pub fn since(conn: &mut PgConnection, user: &str, after: i64) -> ApiResult<Vec<Notification>> {
    Ok(user_events::table
        .filter(user_events::user_id.eq(user))
        .filter(user_events::id.gt(after))
        .order(user_events::id)
        .limit(PAGE)
        .select((user_events::id, user_events::event_type, user_events::payload))
        .load(conn)?)
}

/// The newest event id of `user` (0 when none): where a stream without a resume point starts.
pub fn latest_id(conn: &mut PgConnection, user: &str) -> ApiResult<i64> {
    Ok(user_events::table
        .filter(user_events::user_id.eq(user))
        .select(diesel::dsl::max(user_events::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}
