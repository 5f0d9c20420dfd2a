//! Write coalescing: concurrent receipt calls share statements and commits, and keep their
//! own outcomes.

use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::*;

/// The value of one sample line of /metrics (0 when absent).
async fn metric(app: &TestApp, line_prefix: &str) -> u64 {
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(line_prefix).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0)
}

fn one_writer() -> imreceipts::settings::Settings {
    let mut s = test_settings();
    // One batch at a time, so calls arriving meanwhile are sure to share the next one.
    s.writers = 1;
    s
}

#[actix_web::test]
async fn concurrent_group_receipts_share_commits_and_a_call_that_breaks_its_batch_fails_alone() {
    const MEMBERS: usize = 40;
    let app = spawn_app_with(one_writer()).await;
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("m{i:02}")).collect();
    let mut ids: Vec<&str> = members.iter().map(String::as_str).collect();
    ids.push("owner");
    app.import(&ids).await;
    let gid = app.group("Public", "owner", &ids[..MEMBERS]).await;
    // A database rule that refuses m00's receipts: the statement of any batch holding m00's
    // call fails, and the batch is written again call by call.
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query(
        "CREATE FUNCTION refuse_m00() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.reader = 'm00' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER refuse_m00 BEFORE INSERT ON group_receipts FOR EACH ROW EXECUTE FUNCTION refuse_m00()",
    )
    .execute(&mut conn)
    .unwrap();

    let splits = "imreceipts_write_batch_splits_total{family=\"group_read\"}";
    let mut rounds = 0;
    while metric(&app, splits).await == 0 {
        rounds += 1;
        assert!(rounds <= 8, "in {rounds} rounds the bad call never shared a batch");
        let seq = app.group_msg(&gid, "owner", true).await;
        let calls = members.iter().map(|m| {
            app.call(
                "group_open_http_svc/group_msg_receipt",
                json!({"GroupId": gid, "From_Account": m, "MsgSeqList": [{"MsgSeq": seq, "AckContent": m}]}),
            )
        });
        let answers: Vec<Value> = join_all(calls).await;
        for (m, v) in members.iter().zip(&answers) {
            if m == "m00" {
                assert_fail(v, 10002);
            } else {
                assert_eq!((&v["ActionStatus"], &v["NewlyReadNum"]), (&json!("OK"), &json!(1)), "{m}: {v}");
            }
        }
        let (read, unread, ..) = app.counts(&gid, seq).await;
        assert_eq!((read, unread), (MEMBERS as i64 - 1, 1), "everyone but m00 read MsgSeq {seq}");
    }
    let batches = metric(&app, "imreceipts_write_batches_total{family=\"group_read\"}").await;
    let calls = metric(&app, "imreceipts_write_batch_calls_total{family=\"group_read\"}").await;
    assert!(calls > batches, "{calls} calls in {batches} batches: concurrent calls should share batches");
}

#[actix_web::test]
async fn coalesced_c2c_receipts_keep_each_calls_outcome() {
    const PAIRS: usize = 30;
    let app = spawn_app_with(one_writer()).await;
    let names: Vec<String> = (0..PAIRS).flat_map(|i| [format!("s{i:02}"), format!("r{i:02}")]).collect();
    let ids: Vec<&str> = names.iter().map(String::as_str).collect();
    app.import(&ids).await;
    let mut keys = Vec::new();
    for i in 0..PAIRS {
        keys.push(app.c2c_msg(&format!("s{i:02}"), &format!("r{i:02}"), true).await);
    }
    // Every third call names a key that is not theirs: it fails on its own.
    let body = |i: usize, key: &str| {
        let (s, r) = (format!("s{i:02}"), format!("r{i:02}"));
        json!({"Operator_Account": r, "Peer_Account": s,
               "C2CMsgInfo": [{"From_Account": s, "To_Account": r, "MsgKey": key}]})
    };
    for _ in 0..2 {
        let calls = (0..PAIRS).map(|i| {
            let key = if i % 3 == 0 { "1_2_3".to_string() } else { keys[i].clone() };
            app.call("openim/c2c_msg_read_receipt", body(i, &key))
        });
        let answers: Vec<Value> = join_all(calls).await;
        for (i, v) in answers.iter().enumerate() {
            if i % 3 == 0 {
                assert_fail(v, 90054);
            } else {
                assert_eq!(v["ActionStatus"], "OK", "{v}");
            }
        }
    }
    // Exactly the good messages are read, once each (the second round changed nothing).
    for (i, key) in keys.iter().enumerate() {
        let v = app
            .ok(
                "receipt_svc/get_c2c_msg_receipt",
                json!({"From_Account": format!("s{i:02}"), "To_Account": format!("r{i:02}"), "MsgKeyList": [key]}),
            )
            .await;
        assert_eq!(v["MsgReceiptList"][0]["IsPeerRead"], json!(i64::from(i % 3 != 0)), "pair {i}: {v}");
    }
    let batches = metric(&app, "imreceipts_write_batches_total{family=\"c2c_read\"}").await;
    let calls = metric(&app, "imreceipts_write_batch_calls_total{family=\"c2c_read\"}").await;
    assert_eq!(calls, 2 * PAIRS as u64, "every call went through the coalescer");
    assert!(calls > batches, "{calls} calls in {batches} batches: concurrent calls should share batches");
}

#[actix_web::test]
async fn calls_of_one_reader_that_share_a_batch_fire_one_callback_each() {
    const MESSAGES: usize = 20;
    let app = spawn_app_with(one_writer()).await;
    let rx = crate::receiver::Receiver::start();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base)})).await;
    app.import(&["owner", "bob"]).await;
    let gid = app.group("Public", "owner", &["bob"]).await;
    let mut seqs = Vec::new();
    for _ in 0..MESSAGES {
        seqs.push(app.group_msg(&gid, "owner", true).await);
    }
    let calls = seqs.iter().map(|seq| {
        app.ok(
            "group_open_http_svc/group_msg_receipt",
            json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]}),
        )
    });
    join_all(calls).await;
    let got = rx.wait_for("/ok", MESSAGES, std::time::Duration::from_secs(15)).await;
    let mut reported: Vec<i64> = got
        .iter()
        .map(|r| {
            let list = r.json()["GroupMsgReceiptList"].as_array().cloned().unwrap_or_default();
            assert_eq!(list.len(), 1, "one receipt per callback: {}", r.json());
            list[0]["MsgSeq"].as_i64().unwrap_or(-1)
        })
        .collect();
    reported.sort_unstable();
    assert_eq!(reported, seqs, "one callback per call, none merged");
}
