//! First planner statistics: a table that grows from (nearly) empty is analyzed by the server
//! once it has real rows, so plans made while it was empty are replanned; then it is left to
//! autovacuum.

use std::time::Duration;

use crate::helpers::*;

/// The planner's row estimate of `table` (-1 while it was never analyzed).
fn reltuples(app: &TestApp, table: &str) -> i64 {
    count(app, &format!("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = '{table}'::regclass"))
}

#[actix_web::test]
async fn a_table_that_grows_from_empty_gets_statistics_once_it_has_real_rows() {
    let app = spawn_app().await;
    // Autovacuum off on these tables: whatever analyzes them is the server.
    sql(&app, "CREATE TABLE probe_big (id bigint PRIMARY KEY) WITH (autovacuum_enabled = false)");
    sql(&app, "CREATE TABLE probe_small (id bigint PRIMARY KEY) WITH (autovacuum_enabled = false)");
    // Analyzed while empty, as a seeding script (or autovacuum on a young table) may do.
    sql(&app, "CREATE TABLE probe_early (id bigint PRIMARY KEY) WITH (autovacuum_enabled = false)");
    sql(&app, "ANALYZE probe_early");
    assert_eq!(reltuples(&app, "probe_early"), 0);
    sql(&app, "INSERT INTO probe_big SELECT generate_series(1, 1500)");
    sql(&app, "INSERT INTO probe_small SELECT generate_series(1, 10)");
    // Small and busy: 2,000 row changes, 10 rows.
    sql(&app, "CREATE TABLE probe_hot (id bigint PRIMARY KEY, n int) WITH (autovacuum_enabled = false)");
    sql(&app, "INSERT INTO probe_hot SELECT generate_series(1, 10), 0");
    sql(&app, "DO $$ BEGIN FOR i IN 1..200 LOOP UPDATE probe_hot SET n = n + 1; END LOOP; END $$");
    sql(&app, "INSERT INTO probe_early SELECT generate_series(1, 1200)");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while reltuples(&app, "probe_big") != 1500 || reltuples(&app, "probe_early") != 1200 {
        assert!(tokio::time::Instant::now() < deadline, "the grown tables were not analyzed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A table with only a few rows, however busy, is left to autovacuum's own thresholds.
    assert_eq!(reltuples(&app, "probe_small"), -1);
    assert_eq!(reltuples(&app, "probe_hot"), -1);
    let changed = count(&app, "SELECT n_mod_since_analyze AS n FROM pg_stat_user_tables WHERE relname = 'probe_hot'");
    assert!(changed >= 2000, "probe_hot's updates are counted as changes ({changed})");

    // Once its statistics saw real rows, a table is autovacuum's: more rows bring no ANALYZE.
    sql(&app, "INSERT INTO probe_big SELECT generate_series(1501, 4000)");
    tokio::time::sleep(Duration::from_secs(7)).await; // longer than one round of the worker
    assert_eq!(reltuples(&app, "probe_big"), 1500);
    assert_eq!(reltuples(&app, "probe_small"), -1);
}
