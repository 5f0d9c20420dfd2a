//! First planner statistics for tables that grow from empty.
//!
//! PostgreSQL keeps a plan per connection for every prepared statement (ours, through
//! [`crate::db::cached`], and its own foreign-key checks). A plan made while a table was (nearly)
//! empty scans the whole table, and nothing replans it until the table is analyzed again:
//! autovacuum gets there only after its naptime (a minute by default) and its queue. Measured on
//! the webhook queue of a fresh database, that minute ran deliveries at a fraction of their rate
//! (BENCHMARKS.md, S6). So this worker analyzes a table whose statistics still describe it as
//! nearly empty as soon as it has real rows; autovacuum keeps the statistics current after that.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::PgConnection;

use crate::error::ApiResult;
use crate::state::AppState;

/// Rows below which a table's statistics count as nearly empty, and live rows it must have for
/// new ones.
pub const MIN_ROWS: i64 = 1000;
/// Seconds between checks (one catalog query each; nothing else while every table is settled).
const EVERY: Duration = Duration::from_secs(5);

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Analyzes every table of the current schema whose statistics (if any) saw fewer than
/// `min_rows` rows and that now has at least `min_rows` live rows; returns their names. Updates
/// alone never qualify a table: a small, busy one (a group's counters) stays autovacuum's.
pub fn analyze_new_tables(conn: &mut PgConnection, min_rows: i64) -> ApiResult<Vec<String>> {
    // reltuples is -1 for a table never analyzed (nor vacuumed).
    let tables: Vec<Table> = crate::db::cached(
        "SELECT format('%I.%I', s.schemaname, s.relname) AS name
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
          WHERE s.schemaname = current_schema() AND c.reltuples < $1 AND s.n_live_tup >= $1
          ORDER BY s.relname",
    )
    .bind::<BigInt, _>(min_rows)
    .load(conn)?;
    for t in &tables {
        // The name comes quoted from `format('%I')` above, never from a client.
        diesel::sql_query(format!("ANALYZE {}", t.name)).execute(conn)?;
        tracing::info!(table = %t.name, "first planner statistics taken");
    }
    Ok(tables.into_iter().map(|t| t.name).collect())
}

/// Starts the worker on the current runtime; it stops when `stop` is set.
pub fn start(state: AppState, stop: Arc<AtomicBool>) {
    actix_web::rt::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = state.db(|c| analyze_new_tables(c, MIN_ROWS)).await {
                tracing::warn!(error = %e, "taking first planner statistics failed; retrying");
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}
