//! Optional per-scenario statement statistics from `pg_stat_statements` (`--pg-stats`): which
//! SQL the server spent its database time on, with planning time shown separately.

use anyhow::Result;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};
use serde::Serialize;

/// One statement's share of a scenario.
#[derive(Debug, Clone, Serialize, QueryableByName)]
pub struct Statement {
    #[diesel(sql_type = Text)]
    pub query: String,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    /// Mean execution time.
    #[diesel(sql_type = Double)]
    pub exec_ms: f64,
    /// Mean planning time (0 for statements that reuse a cached plan).
    #[diesel(sql_type = Double)]
    pub plan_ms: f64,
    /// Share of all statements' execution plus planning time.
    #[diesel(sql_type = Double)]
    pub share: f64,
}

/// Whether the module is loaded in the cluster behind `url`.
pub fn loaded(url: &str) -> Result<bool> {
    #[derive(QueryableByName)]
    struct Libs {
        #[diesel(sql_type = Text)]
        libs: String,
    }
    let mut conn = PgConnection::establish(url)?;
    let l: Libs =
        diesel::sql_query("SELECT current_setting('shared_preload_libraries') AS libs").get_result(&mut conn)?;
    Ok(l.libs.contains("pg_stat_statements"))
}

/// Asks for the module to be loaded (or not) from the next start of the cluster.
pub fn configure(admin_url: &str, on: bool) -> Result<()> {
    let statement = if on {
        "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    } else {
        "ALTER SYSTEM RESET shared_preload_libraries"
    };
    crate::target::sql(admin_url, statement)
}

/// Turns on planning-time tracking (only accepted once the module is loaded).
pub fn track_planning(admin_url: &str) -> Result<()> {
    crate::target::sql(admin_url, "ALTER SYSTEM SET pg_stat_statements.track_planning = on")?;
    crate::target::sql(admin_url, "SELECT pg_reload_conf()")
}

/// Creates the extension in `db_url` and clears its counters.
pub fn reset(db_url: &str) -> Result<()> {
    crate::target::sql(db_url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()")
}

/// The `n` statements that took the most time since the last reset.
pub fn top(db_url: &str, n: i64) -> Result<Vec<Statement>> {
    let mut conn = PgConnection::establish(db_url)?;
    Ok(diesel::sql_query(
        "WITH s AS (SELECT query, calls, total_exec_time, total_plan_time FROM pg_stat_statements
                    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
         SELECT regexp_replace(left(query, 160), '\\s+', ' ', 'g') AS query, calls,
                total_exec_time / greatest(calls, 1) AS exec_ms,
                total_plan_time / greatest(calls, 1) AS plan_ms,
                (total_exec_time + total_plan_time) / greatest((SELECT sum(total_exec_time + total_plan_time) FROM s), 1e-9) AS share
           FROM s ORDER BY total_exec_time + total_plan_time DESC LIMIT $1",
    )
    .bind::<BigInt, _>(n)
    .load(&mut conn)?)
}
