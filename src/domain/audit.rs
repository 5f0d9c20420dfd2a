//! The audit log: who changed which setting or endpoint, when, from what to what.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::PgConnection;

use crate::db::schema::audit_log;
use crate::error::ApiResult;

/// Where a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The operator console.
    Console,
    /// A `/v4` REST command.
    Rest,
}

impl Via {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Rest => "rest",
        }
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// The identifier that made it.
    pub actor: &'a str,
    /// Console or REST.
    pub via: Via,
    /// What was done, e.g. `receipt_config.update`, `webhook.create`.
    pub action: &'a str,
    /// What it was done to, e.g. `GroupReceiptTypes`, `endpoint 3`.
    pub target: &'a str,
    /// The value before (`None` when there was none).
    pub old: Option<&'a str>,
    /// The value after (`None` when it is gone).
    pub new: Option<&'a str>,
}

/// A recorded change.
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    /// Row id (newest is highest).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// `console` or `rest`.
    pub via: String,
    /// What was done.
    pub action: String,
    /// To what.
    pub target: String,
    /// Before.
    pub old_value: Option<String>,
    /// After.
    pub new_value: Option<String>,
}

/// Records `c` in the caller's transaction (so a change and its record commit together).
pub fn record(conn: &mut PgConnection, c: &Change<'_>) -> ApiResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor.eq(c.actor),
            audit_log::via.eq(c.via.name()),
            audit_log::action.eq(c.action),
            audit_log::target.eq(c.target),
            audit_log::old_value.eq(c.old),
            audit_log::new_value.eq(c.new),
        ))
        .execute(conn)?;
    Ok(())
}

/// The newest `limit` entries older than `before_id` (keyset paging), optionally of actions
/// starting with `action_prefix`; and whether older ones remain.
pub fn list(
    conn: &mut PgConnection,
    action_prefix: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> ApiResult<(Vec<Entry>, bool)> {
    let limit = limit.clamp(1, 500);
    let mut q = audit_log::table
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor,
            audit_log::via,
            audit_log::action,
            audit_log::target,
            audit_log::old_value,
            audit_log::new_value,
        ))
        .order(audit_log::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(p) = action_prefix {
        // Prefixes come from code (`receipt_config.`, `webhook.`), never from a request.
        q = q.filter(audit_log::action.like(format!("{p}%")));
    }
    if let Some(b) = before_id {
        q = q.filter(audit_log::id.lt(b));
    }
    let mut rows: Vec<Entry> = q.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
