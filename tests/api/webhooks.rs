//! Webhooks: signatures, payloads, retries, Retry-After, 410, replay, isolation, SSRF, rotation.

use std::time::{Duration, Instant};

use imreceipts::webhooks::sign;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::{Received, Receiver};

const WAIT: Duration = Duration::from_secs(15);

/// Creates an endpoint; returns (EndpointId, Secret).
async fn endpoint(app: &TestApp, url: &str, extra: Value) -> (i64, String) {
    let mut body = json!({ "Url": url });
    if let Value::Object(m) = extra {
        body.as_object_mut().unwrap().extend(m);
    }
    let v = app.ok("webhook_svc/create_endpoint", body).await;
    (v["Endpoint"]["EndpointId"].as_i64().unwrap(), v["Endpoint"]["Secret"].as_str().unwrap().to_string())
}

/// A group of owner + readers with one receipt-requesting message; returns (gid, seq).
async fn group_with_message(app: &TestApp, readers: &[&str]) -> (String, i64) {
    let mut all = vec!["owner"];
    all.extend_from_slice(readers);
    app.import(&all).await;
    let gid = app.group("Public", "owner", readers).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    (gid, seq)
}

async fn read(app: &TestApp, gid: &str, reader: &str, seq: i64) {
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]}),
    )
    .await;
}

fn verify_signature(r: &Received, secret: &str) {
    let now = chrono::Utc::now().timestamp();
    sign::verify(
        secret,
        r.webhook_id(),
        &r.headers["webhook-timestamp"],
        &r.headers["webhook-signature"],
        &r.body,
        now,
    )
    .unwrap_or_else(|e| panic!("signature does not verify: {e}; headers {:?}", r.headers));
}

async fn delivery_of(app: &TestApp, endpoint_id: i64) -> Value {
    let v = app.ok("webhook_svc/list_deliveries", json!({"EndpointId": endpoint_id})).await;
    let id = v["Deliveries"][0]["DeliveryId"].as_i64().expect("a delivery exists");
    app.ok("webhook_svc/get_delivery", json!({"DeliveryId": id})).await
}

#[actix_web::test]
async fn every_event_is_delivered_signed_with_tencent_parameters() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    let (_, secret) = endpoint(&app, &format!("{}/ok", rx.base), json!({"Token": "xxxxyyyy"})).await;
    let (gid, seq) = group_with_message(&app, &["bob", "carol"]).await;
    app.import(&["alice"]).await;
    let key = app.c2c_msg("alice", "bob", true).await;

    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;
    app.ok(
        "openim/c2c_msg_read_receipt",
        json!({"Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": key}]}),
    )
    .await;
    read(&app, &gid, "bob", seq).await;
    app.ok("receipt_svc/group_msg_read_report", json!({"GroupId": gid, "Member_Account": "carol", "MsgSeq": seq}))
        .await;

    let got = rx.wait_for("/ok", 4, WAIT).await;
    let by_cmd = |cmd: &str| {
        got.iter().find(|r| r.query["CallbackCommand"] == cmd).unwrap_or_else(|| panic!("no {cmd}")).clone()
    };
    for r in &got {
        verify_signature(r, &secret);
        assert_eq!(r.query["SdkAppid"], SDKAPPID.to_string());
        assert_eq!(r.query["contenttype"], "json");
        assert_eq!(r.query["OptPlatform"], "RESTAPI");
        assert!(r.query.contains_key("ClientIP"));
        let t: i64 = r.query["RequestTime"].parse().unwrap();
        assert_eq!(r.query["Sign"], sign::tencent_sign("xxxxyyyy", t));
        assert!(r.webhook_id().starts_with("msg_") && !r.webhook_id().contains('.'));
        let body = r.json();
        assert_eq!(body["CallbackCommand"], r.query["CallbackCommand"]);
        let event_ms = body["EventTime"].as_i64().unwrap();
        assert!(event_ms > 1_600_000_000_000, "EventTime is in milliseconds: {event_ms}");
    }
    let report = by_cmd("C2C.CallbackAfterMsgReport").json();
    assert_eq!(report["Report_Account"], "bob");
    assert_eq!(report["Peer_Account"], "alice");
    assert_eq!(report["UnreadMsgNum"], 0);
    assert!(report["LastReadTime"].as_i64().unwrap() > 0);
    let c2c = by_cmd("C2C.CallbackAfterMsgReadReceipt").json();
    assert_eq!(c2c["Operator_Account"], "bob");
    assert_eq!(c2c["Peer_Account"], "alice");
    assert_eq!(c2c["C2CMsgInfo"][0]["MsgKey"], key.as_str());
    let groups: Vec<Value> = got
        .iter()
        .filter(|r| r.query["CallbackCommand"] == "Group.CallbackAfterReadReceipt")
        .map(Received::json)
        .collect();
    assert_eq!(groups.len(), 2);
    let readers: Vec<&str> = groups
        .iter()
        .map(|g| g["GroupMsgReceiptList"][0]["ReadReceiptMembers"][0]["Member_Account"].as_str().unwrap())
        .collect();
    assert!(readers.contains(&"bob") && readers.contains(&"carol"));
    for g in &groups {
        assert_eq!(g["GroupId"], gid.as_str());
        assert_eq!(g["Type"], "Public");
        assert_eq!(g["GroupMsgReceiptList"][0]["MsgSeq"], seq);
    }
    let last =
        groups.iter().find(|g| g["GroupMsgReceiptList"][0]["ReadNum"] == 2).expect("second read reports ReadNum 2");
    assert_eq!(last["GroupMsgReceiptList"][0]["UnreadNum"], 0);
}

#[actix_web::test]
async fn events_filter_and_repeated_receipts_fire_once() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    endpoint(&app, &format!("{}/ok", rx.base), json!({"Events": ["Group.CallbackAfterReadReceipt"]})).await;
    let (gid, seq) = group_with_message(&app, &["bob"]).await;
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq, "AckContent": "seen it"}]}),
    )
    .await;
    read(&app, &gid, "bob", seq).await;
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "owner"})).await;
    rx.wait_for("/ok", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = rx.on("/ok");
    assert_eq!(got.len(), 1, "one event: the repeat changed nothing and the C2C event is filtered out");
    assert_eq!(got[0].query["CallbackCommand"], "Group.CallbackAfterReadReceipt");
    let member = &got[0].json()["GroupMsgReceiptList"][0]["ReadReceiptMembers"][0];
    assert_eq!(member["Member_Account"], "bob");
    assert_eq!(member["AckContent"], "seen it", "AckContent travels with the callback");
}

#[actix_web::test]
async fn failures_and_timeouts_are_retried_until_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    let (fail_ep, _) = endpoint(&app, &format!("{}/fail/2", rx.base), json!({})).await;
    let (slow_ep, _) = endpoint(&app, &format!("{}/slowfirst/2500", rx.base), json!({"TimeoutSeconds": 1})).await;
    let (gid, seq) = group_with_message(&app, &["bob"]).await;
    read(&app, &gid, "bob", seq).await;

    let fails = rx.wait_for("/fail/2", 3, WAIT).await;
    assert!(fails.iter().all(|r| r.webhook_id() == fails[0].webhook_id()), "webhook-id is stable across retries");
    assert_eq!(fails[0].body, fails[2].body, "body bytes are fixed at enqueue");
    rx.wait_for("/slowfirst/2500", 2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let d = delivery_of(&app, fail_ep).await;
    assert_eq!(d["Delivery"]["State"], "succeeded");
    assert_eq!(d["Delivery"]["Attempts"], 3);
    let attempts = d["Attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["StatusCode"], 500);
    assert_eq!(attempts[0]["Response"], "boom");
    assert_eq!(attempts[2]["StatusCode"], 200);
    let d = delivery_of(&app, slow_ep).await;
    assert_eq!(d["Delivery"]["State"], "succeeded");
    assert!(d["Attempts"][0]["Error"].as_str().unwrap().contains("timed out"), "{d}");
}

#[actix_web::test]
async fn retry_after_is_honoured() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    endpoint(&app, &format!("{}/retryafter/2", rx.base), json!({})).await;
    let (gid, seq) = group_with_message(&app, &["bob"]).await;
    read(&app, &gid, "bob", seq).await;
    let got = rx.wait_for("/retryafter/2", 2, WAIT).await;
    let gap = got[1].at - got[0].at;
    // The test schedule would retry after ~0.5 s; Retry-After: 2 pushes it to 2 s.
    assert!(gap >= Duration::from_millis(1900), "retried after {gap:?}");
}

#[actix_web::test]
async fn gone_disables_the_endpoint_and_parks_its_deliveries() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    let (ep, _) = endpoint(&app, &format!("{}/gone", rx.base), json!({})).await;
    let (gid, seq) = group_with_message(&app, &["bob", "carol"]).await;
    read(&app, &gid, "bob", seq).await;
    rx.wait_for("/gone", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v = app.ok("webhook_svc/list_endpoints", json!({})).await;
    let e = &v["Endpoints"][0];
    assert_eq!(e["Enabled"], 0);
    assert!(e["DisabledReason"].as_str().unwrap().contains("410"));
    // A disabled endpoint gets no new events.
    read(&app, &gid, "carol", seq).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.on("/gone").len(), 1);
    let d = app.ok("webhook_svc/list_deliveries", json!({"EndpointId": ep})).await;
    assert_eq!(d["Deliveries"][0]["State"], "paused");
}

#[actix_web::test]
async fn replay_resends_with_the_same_webhook_id() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    let (ep, _) = endpoint(&app, &format!("{}/ok", rx.base), json!({})).await;
    let (gid, seq) = group_with_message(&app, &["bob"]).await;
    read(&app, &gid, "bob", seq).await;
    let first = rx.wait_for("/ok", 1, WAIT).await;
    let d = delivery_of(&app, ep).await;
    let v = app.ok("webhook_svc/replay", json!({"DeliveryId": d["Delivery"]["DeliveryId"]})).await;
    assert_eq!(v["ReplayedNum"], 1);
    let got = rx.wait_for("/ok", 2, WAIT).await;
    assert_eq!(got[1].webhook_id(), first[0].webhook_id());
    assert_eq!(got[1].body, first[0].body);
}

#[actix_web::test]
async fn exhausted_deliveries_are_dead_and_replayable_by_time() {
    let mut settings = test_settings();
    // The two-day schedule (and breaker pauses) compressed to about ten seconds.
    settings.webhooks.retry_scale = 0.00005;
    let app = spawn_app_with(settings).await;
    let rx = Receiver::start();
    let (ep, _) = endpoint(&app, &format!("{}/fail/11", rx.base), json!({})).await;
    let since = chrono::Utc::now().timestamp() - 5;
    let (gid, seq) = group_with_message(&app, &["bob"]).await;
    read(&app, &gid, "bob", seq).await;
    rx.wait_for("/fail/11", 11, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = delivery_of(&app, ep).await;
    assert_eq!(d["Delivery"]["State"], "dead");
    assert_eq!(d["Delivery"]["Attempts"], 11);
    let v = app.ok("webhook_svc/replay", json!({"EndpointId": ep, "Since": since})).await;
    assert_eq!(v["ReplayedNum"], 1);
    let got = rx.wait_for("/fail/11", 12, WAIT).await;
    assert_eq!(got[11].webhook_id(), got[0].webhook_id());
}

#[actix_web::test]
async fn a_slow_endpoint_does_not_delay_a_healthy_one() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    endpoint(&app, &format!("{}/sleep/10000", rx.base), json!({"TimeoutSeconds": 30, "MaxInFlight": 2})).await;
    endpoint(&app, &format!("{}/ok", rx.base), json!({})).await;
    let readers: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let names: Vec<&str> = readers.iter().map(String::as_str).collect();
    let (gid, seq) = group_with_message(&app, &names).await;
    let started = Instant::now();
    for r in &names {
        read(&app, &gid, r, seq).await;
    }
    rx.wait_for("/ok", 10, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "healthy endpoint got all 10 events in {took:?}");
    assert!(rx.on("/sleep/10000").len() <= 2, "the slow endpoint holds at most its MaxInFlight");
}

#[actix_web::test]
async fn rotated_secret_signs_with_both_keys_during_grace() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    let (ep, old) = endpoint(&app, &format!("{}/ok", rx.base), json!({})).await;
    let v = app.ok("webhook_svc/rotate_secret", json!({"EndpointId": ep, "GraceSeconds": 3600})).await;
    let new = v["Endpoint"]["Secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(v["Endpoint"]["PreviousSecretExpiresAt"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    let (gid, seq) = group_with_message(&app, &["bob"]).await;
    read(&app, &gid, "bob", seq).await;
    let got = rx.wait_for("/ok", 1, WAIT).await;
    assert_eq!(got[0].headers["webhook-signature"].split(' ').count(), 2);
    verify_signature(&got[0], &old);
    verify_signature(&got[0], &new);
}

#[actix_web::test]
async fn endpoint_management_validates_input() {
    let app = spawn_app().await;
    for (body, why) in [
        (json!({}), "Url missing"),
        (json!({"Url": "not a url"}), "unparsable"),
        (json!({"Url": "ftp://127.0.0.1/x"}), "scheme"),
        (json!({"Url": "http://169.254.169.254/latest"}), "link-local metadata"),
        (json!({"Url": "http://10.0.0.1/x"}), "private"),
        (json!({"Url": "http://127.0.0.1/x", "TimeoutSeconds": 31}), "timeout"),
        (json!({"Url": "http://127.0.0.1/x", "Events": ["C2C.Nope"]}), "event"),
        (json!({"Url": "http://127.0.0.1/x", "Enabled": 2}), "enabled"),
    ] {
        let v = app.call("webhook_svc/create_endpoint", body).await;
        assert_eq!(v["ErrorCode"], 10004, "{why}: {v}");
    }
    let v = app.call("webhook_svc/update_endpoint", json!({"EndpointId": 999, "Enabled": 1})).await;
    assert_fail(&v, 10004);
    // Not an admin: refused.
    app.import(&["bob"]).await;
    let v = app.call_as("bob", "webhook_svc/list_endpoints", json!({})).await;
    assert_fail(&v, 60010);
}

#[actix_web::test]
async fn loopback_targets_are_refused_unless_allowed() {
    let mut settings = test_settings();
    settings.webhooks.allow_loopback = false;
    let app = spawn_app_with(settings).await;
    for url in ["http://127.0.0.1:9/x", "http://[::1]:9/x", "http://localhost:9/x", "http://[::ffff:127.0.0.1]:9/x"] {
        let v = app.call("webhook_svc/create_endpoint", json!({"Url": url})).await;
        let info = assert_fail(&v, 10004);
        assert!(info.contains("not allowed"), "{url}: {info}");
    }
}
