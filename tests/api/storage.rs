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
