//! Hostile and heavy input: access rules that stop one user flooding another, size and list
//! limits, invalid characters, sigs from the future, slow bodies.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query(sql).get_result::<N>(&mut conn).unwrap().n
}

fn text(s: &str) -> serde_json::Value {
    json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": s}}])
}

#[actix_web::test]
async fn a_user_marks_read_only_real_conversations_and_repeats_record_nothing() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "mallory"]).await;
    app.ok(
        "webhook_svc/create_endpoint",
        json!({"Url": "http://127.0.0.1:9/hook", "Events": ["C2C.CallbackAfterMsgReport"]}),
    )
    .await;
    // mallory has never talked to bob: she cannot put events in bob's stream.
    let v = app
        .call_as("mallory", "openim/admin_set_msg_read", json!({"Report_Account": "mallory", "Peer_Account": "bob"}))
        .await;
    assert!(assert_fail(&v, 90001).contains("no conversation"), "{v}");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM user_events WHERE user_id = 'bob'"), 0);

    app.c2c_msg("alice", "bob", false).await;
    let t = chrono::Utc::now().timestamp();
    for _ in 0..20 {
        let v = app
            .call_as(
                "bob",
                "openim/admin_set_msg_read",
                json!({"Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": t}),
            )
            .await;
        assert_eq!(v["ErrorCode"], 0, "{v}");
        assert_eq!(v["MsgReadTime"], t);
    }
    // Twenty identical calls changed the read time once: one notification, one callback.
    assert_eq!(count(&app, "SELECT count(*) AS n FROM user_events WHERE user_id = 'alice'"), 1);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM webhook_events"), 1);
    // An earlier time changes nothing either, and answers the time in force.
    let v = app
        .call_as(
            "bob",
            "openim/admin_set_msg_read",
            json!({"Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": t - 60}),
        )
        .await;
    assert_eq!(v["MsgReadTime"], t);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM webhook_events"), 1);
    // The admin may still mark any pair read (Tencent's admin semantics).
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "mallory", "Peer_Account": "bob"})).await;
}

#[actix_web::test]
async fn a_deleted_account_cannot_read_its_stream_even_when_resuming() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    app.c2c_msg("alice", "bob", true).await;
    app.ok("im_open_login_svc/account_delete", json!({"DeleteItem": [{"UserID": "alice"}]})).await;
    for resume in [None, Some("0"), Some("1-1")] {
        let mut req = app.client.get(format!("{}/v4/receipt_svc/event_stream?{}", app.base, app.query("alice")));
        if let Some(id) = resume {
            req = req.header("Last-Event-ID", id);
        }
        let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
        assert_fail(&v, 70107);
    }
    // Nor may an admin follow the stream of an account that does not exist.
    let url = format!("{}/v4/receipt_svc/event_stream?{}&To_Account=ghost", app.base, app.query(ADMIN));
    let v: serde_json::Value =
        app.client.get(url).header("Last-Event-ID", "0").send().await.unwrap().json().await.unwrap();
    assert_fail(&v, 70107);
}

#[actix_web::test]
async fn nul_and_control_characters_in_cursors_and_query_fields_are_invalid_parameters() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let gid = app.group("Public", "alice", &["bob"]).await;
    let seq = app.group_msg(&gid, "alice", true).await;
    // "AA" is base64 of a NUL byte.
    for cursor in ["AA", "AQ", "YQBi"] {
        let v = app
            .call(
                "group_open_http_svc/get_group_msg_receipt_detail",
                json!({"GroupId": gid, "MsgSeq": seq, "Filter": 1, "Cursor": cursor, "Count": 10}),
            )
            .await;
        assert!(assert_fail(&v, 10004).contains("Cursor"), "{v}");
    }
    for to in ["a%00b", "a%01b", "a%0Ab"] {
        let url = format!("{}/v4/receipt_svc/event_stream?{}&To_Account={to}", app.base, app.query(ADMIN));
        let v: serde_json::Value = app.client.get(url).send().await.unwrap().json().await.unwrap();
        assert!(assert_fail(&v, 10004).contains("control character"), "{v}");
    }
    // A NUL that reaches SQL some other way is still an invalid parameter, not 10002.
    let v = app
        .call(
            "receipt_svc/get_c2c_msg_receipt",
            json!({"From_Account": "alice", "To_Account": "b\u{0}", "MsgKeyList": ["x"]}),
        )
        .await;
    assert_eq!(v["ActionStatus"], "FAIL", "{v}");
    assert_ne!(v["ErrorCode"], 10002, "{v}");
}

#[actix_web::test]
async fn usersigs_from_the_future_are_refused_beyond_the_clock_skew() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let query = |time: i64| {
        let sig = imreceipts::usersig::generate(KEY, SDKAPPID, ADMIN, time, 86400);
        format!("sdkappid={SDKAPPID}&identifier={ADMIN}&usersig={sig}&random=1&contenttype=json")
    };
    let (_, v) =
        app.raw("im_open_login_svc/account_check", &query(now + 60), r#"{"CheckItem":[{"UserID":"x"}]}"#).await;
    assert_eq!(v["ErrorCode"], 0, "a minute of skew is allowed: {v}");
    let (_, v) = app
        .raw("im_open_login_svc/account_check", &query(now + 10 * 365 * 86400), r#"{"CheckItem":[{"UserID":"x"}]}"#)
        .await;
    assert!(assert_fail(&v, 70009).contains("future"), "{v}");
}

#[actix_web::test]
async fn message_sizes_and_list_lengths_are_bounded() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let gid = app.group("Public", "alice", &["bob"]).await;
    let big = "x".repeat(12 * 1024);
    let v = app
        .call(
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": text(&big)}),
        )
        .await;
    assert!(assert_fail(&v, 80002).contains("12 KB"), "{v}");
    let v = app
        .call("group_open_http_svc/send_group_msg", json!({"GroupId": gid, "Random": 1, "MsgBody": text(&big)}))
        .await;
    assert_fail(&v, 80002);
    let v = app
        .call(
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": text("hi"), "CloudCustomData": format!("{big}!")}),
        )
        .await;
    assert_fail(&v, 80002);
    // Just under the limit is fine.
    let fits = "y".repeat(12 * 1024 - 100);
    let v = app
        .call(
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 2, "MsgBody": text(&fits)}),
        )
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");

    let many_elems: Vec<_> = (0..2000).map(|_| json!({"MsgType": "TIMTextElem", "MsgContent": {"Text": ""}})).collect();
    let v = app
        .call(
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 3, "MsgBody": many_elems}),
        )
        .await;
    assert_fail(&v, 90001);
    let control: Vec<_> = (0..50).map(|_| "NoUnread").collect();
    let v = app
        .call(
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 4, "MsgBody": text("hi"), "SendMsgControl": control}),
        )
        .await;
    assert!(assert_fail(&v, 90001).contains("SendMsgControl"), "{v}");
    let types: Vec<_> = (0..100).map(|_| "Public").collect();
    let v = app.call("receipt_svc/set_receipt_config", json!({"GroupReceiptTypes": types})).await;
    assert!(assert_fail(&v, 10004).contains("GroupReceiptTypes"), "{v}");
    let events: Vec<_> = (0..100).map(|_| "Group.CallbackAfterReadReceipt").collect();
    let v = app.call("webhook_svc/create_endpoint", json!({"Url": "http://127.0.0.1:9/x", "Events": events})).await;
    assert!(assert_fail(&v, 10004).contains("Events"), "{v}");
    let ids: Vec<_> = (0..5000).map(|i| format!("u{i}")).collect();
    let v = app.call("im_open_login_svc/multiaccount_import", json!({"Accounts": ids})).await;
    assert!(assert_fail(&v, 70402).contains("1000"), "{v}");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM c2c_messages"), 1, "only the message that fits was stored");
}

#[actix_web::test]
async fn a_body_sent_too_slowly_is_cut_off() {
    let mut settings = test_settings();
    settings.body_timeout_secs = 1;
    let app = spawn_app_with(settings).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v4/im_open_login_svc/account_check?{} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{",
        app.query(ADMIN)
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.expect("answered").unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "cut off after about a second");
    assert!(answer.contains("60003") && answer.contains("within"), "{answer}");
}

#[actix_web::test]
async fn rate_limits_refuse_with_tencent_frequency_codes_and_show_in_metrics() {
    let mut settings = test_settings();
    settings.rate_limits.user_per_sec = 2;
    settings.rate_limits.app_per_sec = 0;
    let app = spawn_app_with(settings).await;
    app.import(&["alice", "bob"]).await;
    let key = app.c2c_msg("alice", "bob", true).await;
    let body = json!({"From_Account": "alice", "To_Account": "bob", "MsgKeyList": [key]});
    // A burst of twice the rate passes, the next call in the same second is refused.
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(
            app.call_as("alice", "receipt_svc/get_c2c_msg_receipt", body.clone()).await["ErrorCode"].as_i64().unwrap(),
        );
    }
    assert_eq!(&codes[..4], &[0, 0, 0, 0], "{codes:?}");
    assert_eq!(codes[5], 60007, "{codes:?}");
    let v = app.call_as("alice", "receipt_svc/get_c2c_msg_receipt", body.clone()).await;
    assert!(assert_fail(&v, 60007).contains("per second"), "{v}");
    // Another identifier, and the admin, are not held back by alice.
    assert_eq!(app.call_as("bob", "openim/get_c2c_unread_msg_num", json!({"To_Account": "bob"})).await["ErrorCode"], 0);
    assert_eq!(app.call("receipt_svc/get_c2c_msg_receipt", body.clone()).await["ErrorCode"], 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.call_as("alice", "receipt_svc/get_c2c_msg_receipt", body.clone()).await["ErrorCode"], 0, "refilled");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("imreceipts_refused_requests_total{reason=\"rate_limit_identifier\"} 3"), "{metrics}");

    let mut settings = test_settings();
    settings.rate_limits.app_per_sec = 2;
    let app = spawn_app_with(settings).await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(
            app.call("im_open_login_svc/account_check", json!({"CheckItem": [{"UserID": "x"}]})).await["ErrorCode"]
                .as_i64()
                .unwrap(),
        );
    }
    assert!(codes.contains(&60011), "{codes:?}");
}

#[actix_web::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let mut settings = test_settings();
    settings.workers = Some(1);
    settings.max_connections = 1;
    let app = spawn_app_with(settings).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let body = r#"{"CheckItem":[{"UserID":"x"}]}"#;
    let request = format!(
        "POST /v4/im_open_login_svc/account_check?{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        app.query(ADMIN),
        body.len()
    );
    async fn answer(sock: &mut tokio::net::TcpStream, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(wait, sock.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
            _ => None,
        }
    }
    // The first (keep-alive) connection holds the only slot.
    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    first.write_all(request.as_bytes()).await.unwrap();
    assert!(answer(&mut first, Duration::from_secs(5)).await.unwrap().contains("\"ErrorCode\":0"));
    // A second one is accepted by the kernel but not served while the first stays open...
    let mut second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    second.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(answer(&mut second, Duration::from_millis(700)).await, None, "served beyond the limit");
    // ...and is served as soon as the first closes.
    drop(first);
    let got = answer(&mut second, Duration::from_secs(5)).await.expect("served after the first closed");
    assert!(got.contains("\"ErrorCode\":0"), "{got}");
}
