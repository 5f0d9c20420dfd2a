//! Retention: the background worker deletes data past its keep period in batches, shows it in
//! /metrics, and a stream resumed from before the catch-up window is told so.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::json;

use crate::helpers::*;

/// Waits (bounded) until `q` counts `want`.
async fn eventually(app: &TestApp, q: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let n = count(app, q);
        if n == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{q}: {n}, expected {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn settings() -> imreceipts::settings::Settings {
    let mut s = test_settings();
    s.retention.interval_secs = 1;
    s.retention.batch = 2; // several batches per family, as with a real backlog
    s.retention.notification_hours = 1;
    s.retention.message_days = 2;
    s.retention.webhook_days = 3;
    s
}

#[actix_web::test]
async fn old_notifications_are_deleted_and_a_resume_from_before_them_is_refused() {
    let app = spawn_app_with(settings()).await;
    app.import(&["alice", "bob"]).await;
    let gid = app.group("Public", "alice", &["bob"]).await;
    let mut seqs = Vec::new();
    for _ in 0..7 {
        let seq = app.group_msg(&gid, "alice", true).await;
        app.ok(
            "group_open_http_svc/group_msg_receipt",
            json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]}),
        )
        .await;
        seqs.push(seq);
    }
    assert_eq!(count(&app, "SELECT count(*) AS n FROM user_events"), 7);
    // Five of alice's notifications are older than the one-hour window.
    sql(&app, "UPDATE user_events SET created_at = now() - interval '2 hours' WHERE id IN (SELECT id FROM user_events ORDER BY id LIMIT 5)");
    #[derive(QueryableByName)]
    struct Pos {
        #[diesel(sql_type = BigInt)]
        txid: i64,
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let positions: Vec<Pos> = {
        let mut conn = PgConnection::establish(&app.db_url).unwrap();
        diesel::sql_query("SELECT txid, id FROM user_events ORDER BY id").load(&mut conn).unwrap()
    };
    eventually(&app, "SELECT count(*) AS n FROM user_events", 2).await;

    let stream = |last: String| {
        app.client
            .get(format!("{}/v4/receipt_svc/event_stream?{}", app.base, app.query("alice")))
            .header("Last-Event-ID", last)
    };
    // Resuming after the second event: events 3-5 are gone, so the client is told.
    let old = &positions[1];
    let v: serde_json::Value = stream(format!("{}-{}", old.txid, old.id)).send().await.unwrap().json().await.unwrap();
    assert!(assert_fail(&v, 19003).contains("catch-up window"), "{v}");
    // Resuming after the fifth (the last deleted) loses nothing: the stream opens.
    let fifth = &positions[4];
    let resp = stream(format!("{}-{}", fifth.txid, fifth.id)).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");

    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("imreceipts_retention_removed_rows_total{table=\"user_events\"} 5"), "{metrics}");
    assert!(metrics.contains("imreceipts_table_bytes{table=\"user_events\"}"), "{metrics}");
    assert!(metrics.contains("imreceipts_table_rows_estimate{table=\"group_receipts\"}"), "{metrics}");
    // group_receipts is partitioned: its size is its partitions' (each has at least a page of
    // primary-key index), and the partitions are not listed on their own.
    let receipts_bytes: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("imreceipts_table_bytes{table=\"group_receipts\"} "))
        .and_then(|v| v.parse().ok())
        .expect("group_receipts size");
    assert!(receipts_bytes >= 16 * 8192, "{metrics}");
    assert!(!metrics.contains("group_receipts_p0"), "{metrics}");
}

#[actix_web::test]
async fn messages_past_the_retention_go_with_their_receipts_and_recent_ones_stay() {
    let app = spawn_app_with(settings()).await;
    let members: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    app.import(&[&["alice", "bob"][..], &refs[..]].concat()).await;
    let gid = app.group("Public", "alice", &refs).await;
    let old_seq = app.group_msg(&gid, "alice", true).await;
    let new_seq = app.group_msg(&gid, "alice", true).await;
    for m in &refs {
        for seq in [old_seq, new_seq] {
            app.ok(
                "group_open_http_svc/group_msg_receipt",
                json!({"GroupId": gid, "From_Account": m, "MsgSeqList": [{"MsgSeq": seq}]}),
            )
            .await;
        }
    }
    app.c2c_msg("alice", "bob", true).await;
    app.c2c_msg("alice", "bob", true).await;
    let three_days_ago = chrono::Utc::now().timestamp() - 3 * 86400;
    sql(&app, &format!("UPDATE group_messages SET msg_time = {three_days_ago} WHERE msg_seq = {old_seq}"));
    sql(
        &app,
        &format!("UPDATE c2c_messages SET msg_time = {three_days_ago} WHERE id = (SELECT min(id) FROM c2c_messages)"),
    );

    eventually(&app, "SELECT count(*) AS n FROM group_messages", 1).await;
    eventually(&app, "SELECT count(*) AS n FROM c2c_messages", 1).await;
    assert_eq!(count(&app, &format!("SELECT count(*) AS n FROM group_receipts WHERE msg_seq = {old_seq}")), 0);
    assert_eq!(count(&app, &format!("SELECT count(*) AS n FROM group_receipts WHERE msg_seq = {new_seq}")), 5);
    assert_eq!(app.counts(&gid, new_seq).await, (5, 0, 5, 0));
    assert_eq!(app.counts(&gid, old_seq).await.3, 10062, "a deleted message has no receipt information");
    // The group keeps numbering after its last seq.
    assert_eq!(app.group_msg(&gid, "alice", false).await, new_seq + 1);
}

#[actix_web::test]
async fn finished_webhook_deliveries_past_their_keep_period_are_removed_by_the_worker() {
    let receiver = crate::receiver::Receiver::start();
    let app = spawn_app_with(settings()).await;
    app.import(&["alice", "bob"]).await;
    app.ok(
        "webhook_svc/create_endpoint",
        json!({"Url": format!("{}/ok", receiver.base), "Events": ["C2C.CallbackAfterMsgReport"]}),
    )
    .await;
    for _ in 0..5 {
        app.c2c_msg("bob", "alice", false).await;
        app.ok("openim/admin_set_msg_read", json!({"Report_Account": "alice", "Peer_Account": "bob"})).await;
        tokio::time::sleep(Duration::from_millis(1100)).await; // a new read time each round
    }
    eventually(&app, "SELECT count(*) AS n FROM webhook_deliveries WHERE finished_at IS NOT NULL", 5).await;
    sql(&app, "UPDATE webhook_deliveries SET finished_at = now() - interval '4 days' WHERE id IN (SELECT id FROM webhook_deliveries ORDER BY id LIMIT 3)");
    sql(&app, "UPDATE webhook_events SET created_at = now() - interval '4 days'");
    eventually(&app, "SELECT count(*) AS n FROM webhook_deliveries", 2).await;
    eventually(&app, "SELECT count(*) AS n FROM webhook_events", 2).await;
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("imreceipts_retention_removed_rows_total{table=\"webhook_deliveries\"} 3"), "{metrics}");
}
