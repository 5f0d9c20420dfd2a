//! Webhook retention: `deliveries::purge_finished` removes exactly the finished deliveries past
//! the window, their attempts and the events left without deliveries, in bounded batches that
//! skip locked rows.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use imreceipts::webhooks::deliveries::{purge_finished, PurgeCounts};
use serde_json::json;

use crate::helpers::*;

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn sql(conn: &mut PgConnection, q: &str) {
    diesel::sql_query(q).execute(conn).unwrap_or_else(|e| panic!("{q}: {e}"));
}

fn ids(conn: &mut PgConnection, q: &str) -> Vec<i64> {
    diesel::sql_query(q).load::<Id>(conn).expect(q).into_iter().map(|r| r.id).collect()
}

async fn read(app: &TestApp, gid: &str, reader: &str, seq: i64) {
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]}),
    )
    .await;
}

async fn create_endpoint(app: &TestApp) -> i64 {
    let v = app.ok("webhook_svc/create_endpoint", json!({"Url": "http://127.0.0.1:9/never"})).await;
    v["Endpoint"]["EndpointId"].as_i64().expect("EndpointId")
}

#[actix_web::test]
async fn purge_removes_only_finished_deliveries_past_the_window_and_orphaned_events() {
    let mut settings = test_settings();
    // Nothing is sent: the test sets every state by hand.
    settings.webhooks.dispatch = false;
    let app = spawn_app_with(settings).await;
    let readers: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    let mut all: Vec<&str> = readers.iter().map(String::as_str).collect();
    all.push("owner");
    app.import(&all).await;
    let gid = app.group("Public", "owner", &all[..8]).await;
    let seq = app.group_msg(&gid, "owner", true).await;

    // Two events for an endpoint that is then deleted: their deliveries go, the events stay.
    let gone = create_endpoint(&app).await;
    read(&app, &gid, "r0", seq).await;
    read(&app, &gid, "r1", seq).await;
    app.ok("webhook_svc/delete_endpoint", json!({"EndpointId": gone})).await;
    create_endpoint(&app).await;
    for r in &readers[2..] {
        read(&app, &gid, r, seq).await;
    }

    let mut conn = PgConnection::establish(&app.db_url).expect("connect");
    let events = ids(&mut conn, "SELECT id FROM webhook_events ORDER BY id");
    assert_eq!(events.len(), 8, "one event per first read");
    let rows: Vec<Row> =
        diesel::sql_query("SELECT id, event_id FROM webhook_deliveries ORDER BY id").load(&mut conn).expect("load");
    assert_eq!(rows.len(), 6, "the deleted endpoint's deliveries went with it");
    let d: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let (e0, e1) = (events[0], events[1]);
    // Every remaining event is old; what keeps one is a delivery that is not purgeable.
    sql(&mut conn, "UPDATE webhook_events SET created_at = now() - interval '41 days'");
    sql(&mut conn, &format!("UPDATE webhook_events SET created_at = now() - interval '40 days' WHERE id = {e0}"));
    sql(&mut conn, &format!("UPDATE webhook_events SET created_at = now() - interval '1 day' WHERE id = {e1}"));
    sql(&mut conn, "UPDATE webhook_deliveries SET created_at = now() - interval '41 days'");
    let set = |id: i64, state: i16, finished: &str| {
        format!("UPDATE webhook_deliveries SET state = {state}, finished_at = {finished} WHERE id = {id}")
    };
    // d0 succeeded 40 days ago (2 attempts), d1 dead 31 days ago (1 attempt): purged.
    sql(&mut conn, &set(d[0], 2, "now() - interval '40 days'"));
    sql(&mut conn, &set(d[1], 3, "now() - interval '31 days'"));
    for (id, n) in [(d[0], 1), (d[0], 2), (d[1], 1), (d[2], 1)] {
        sql(
            &mut conn,
            &format!(
                "INSERT INTO webhook_attempts (delivery_id, attempt_no, started_at, latency_ms, status_code)
                 VALUES ({id}, {n}, now() - interval '40 days', 5, 500)"
            ),
        );
    }
    // d2 succeeded yesterday: kept. d3 pending, d4 in flight, d5 paused, all old: kept.
    sql(&mut conn, &set(d[2], 2, "now() - interval '1 day'"));
    sql(&mut conn, &set(d[4], 1, "NULL"));
    sql(&mut conn, "UPDATE webhook_deliveries SET lease_until = now() + interval '1 hour' WHERE state = 1");
    sql(&mut conn, &set(d[5], 4, "NULL"));
    let keep = chrono::Duration::days(30);

    // A batch of one removes one delivery (with its attempts) and one event.
    let first = purge_finished(&mut conn, keep, 1).expect("purge");
    assert_eq!(first, PurgeCounts { deliveries: 1, attempts: 2, events: 1 });

    // A row held by another transaction is skipped, not waited for.
    let mut other = PgConnection::establish(&app.db_url).expect("connect");
    other
        .transaction::<_, diesel::result::Error, _>(|o| {
            diesel::sql_query(format!("SELECT id FROM webhook_deliveries WHERE id = {} FOR UPDATE", d[1]))
                .execute(o)?;
            let started = Instant::now();
            let skipped = purge_finished(&mut conn, keep, 100).expect("purge");
            assert!(started.elapsed() < Duration::from_secs(2), "purge waited on a locked row");
            assert_eq!(skipped, PurgeCounts { deliveries: 0, attempts: 0, events: 1 }, "only the other orphan goes");
            Ok(())
        })
        .expect("locking transaction");

    let second = purge_finished(&mut conn, keep, 100).expect("purge");
    assert_eq!(second, PurgeCounts { deliveries: 1, attempts: 1, events: 1 });
    assert_eq!(purge_finished(&mut conn, keep, 100).expect("purge"), PurgeCounts::default(), "nothing left to do");

    let left = ids(&mut conn, "SELECT id FROM webhook_deliveries ORDER BY id");
    assert_eq!(left, d[2..].to_vec(), "recent, pending, in-flight and paused deliveries stay");
    let left_events = ids(&mut conn, "SELECT id FROM webhook_events ORDER BY id");
    let mut expected = vec![e1];
    expected.extend(rows[2..].iter().map(|r| r.event_id));
    assert_eq!(left_events, expected, "the recent orphan and every event with a kept delivery stay");
    let attempts = ids(&mut conn, "SELECT delivery_id AS id FROM webhook_attempts ORDER BY id");
    assert_eq!(attempts, vec![d[2]]);

    // The API still lists the kept deliveries with their states.
    let v = app.ok("webhook_svc/list_deliveries", json!({})).await;
    let states: Vec<&str> = v["Deliveries"].as_array().unwrap().iter().map(|x| x["State"].as_str().unwrap()).collect();
    assert_eq!(states, ["paused", "in_flight", "pending", "succeeded"]);
}

#[actix_web::test]
async fn purge_refuses_an_empty_batch() {
    let app = spawn_app().await;
    let mut conn = PgConnection::establish(&app.db_url).expect("connect");
    assert!(purge_finished(&mut conn, chrono::Duration::days(30), 0).is_err());
}
