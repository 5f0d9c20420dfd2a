//! Persistence details that the API relies on for speed.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4};

use crate::helpers::*;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn prepared_named(conn: &mut PgConnection, marker: &str) -> i64 {
    let rows: Vec<N> = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%' || $1 || '%' AND name <> ''",
    )
    .bind::<diesel::sql_types::Text, _>(marker)
    .load(conn)
    .unwrap();
    rows[0].n
}

#[test]
fn cached_queries_are_prepared_once_per_connection_with_binds_in_order() {
    let (url, _) = fresh_database();
    let mut conn = PgConnection::establish(&url).unwrap();
    for i in 0..3 {
        let row: N = imreceipts::db::cached("SELECT ($1::int * 10 + $2::int)::bigint AS n /* marker-a */")
            .bind::<Int4, _>(i)
            .bind::<Int4, _>(7)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(row.n, i64::from(i) * 10 + 7, "binds arrive as $1, $2 in bind order");
    }
    assert_eq!(prepared_named(&mut conn, "marker-a"), 1, "one named prepared statement, reused");
    // diesel's own sql_query is never cached: that is why the hot paths do not use it.
    for _ in 0..2 {
        let _: N = diesel::sql_query("SELECT 1::bigint AS n /* marker-b */").get_result(&mut conn).unwrap();
    }
    assert_eq!(prepared_named(&mut conn, "marker-b"), 0);
}

#[actix_web::test]
async fn connections_lost_to_a_database_restart_are_replaced() {
    let app = spawn_app().await;
    app.import(&["alice"]).await;
    // Terminate every server-side connection of this app's database, as a restart would.
    let mut admin = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .unwrap();
    let mut codes = Vec::new();
    for _ in 0..25 {
        let v =
            app.call("im_open_login_svc/account_check", serde_json::json!({"CheckItem": [{"UserID": "alice"}]})).await;
        codes.push(v["ErrorCode"].as_i64().unwrap());
    }
    // Each dead connection fails at most one request (answered as an internal-error envelope,
    // never a 500); then the pool replaces it instead of reusing it forever.
    assert!(codes[15..].iter().all(|c| *c == 0), "requests keep failing after the restart: {codes:?}");
}
