//! Read deadlines: Group/C2C.CallbackReadDeadlineExpired fire once for messages still unread
//! when their ReadDeadlineSeconds pass, never for read, recalled or retried ones, across
//! restarts and processes.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::processes::{must, ServerProcess};
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(20);
const EVENTS: [&str; 2] = ["Group.CallbackReadDeadlineExpired", "C2C.CallbackReadDeadlineExpired"];

fn fast_settings() -> imreceipts::settings::Settings {
    let mut s = test_settings();
    s.deadlines.poll_ms = 100;
    s
}

/// An endpoint subscribed to the deadline events only, so every request it gets is one.
async fn subscribe(app: &TestApp, rx: &Receiver) {
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base), "Events": EVENTS})).await;
}

fn events(rx: &Receiver) -> Vec<Value> {
    rx.on("/ok").iter().map(|r| r.json()).collect()
}

fn body() -> Value {
    json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "please read"}}])
}

async fn send_group(app: &TestApp, gid: &str, deadline: Value) -> i64 {
    let v = app
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "owner", "Random": rand::random::<u32>(), "NeedReadReceipt": 1,
                   "ReadDeadlineSeconds": deadline, "MsgBody": body()}),
        )
        .await;
    v["MsgSeq"].as_i64().unwrap()
}

async fn read(app: &TestApp, gid: &str, reader: &str, seq: i64) {
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]}),
    )
    .await;
}

#[actix_web::test]
async fn group_deadline_fires_once_with_the_unread_count_and_list_and_never_for_read_or_recalled_messages() {
    let app = spawn_app_with(fast_settings()).await;
    let rx = Receiver::start();
    subscribe(&app, &rx).await;
    app.import(&["owner", "bob", "carol", "dave"]).await;
    let gid = app.group("Public", "owner", &["bob", "carol", "dave"]).await;
    let partly = send_group(&app, &gid, json!(2)).await;
    let fully = send_group(&app, &gid, json!("2")).await;
    let recalled = send_group(&app, &gid, json!(2)).await;
    read(&app, &gid, "bob", partly).await;
    for r in ["bob", "carol", "dave"] {
        read(&app, &gid, r, fully).await;
    }
    app.ok("group_open_http_svc/group_msg_recall", json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": recalled}]})).await;

    let got = rx.wait_for("/ok", 1, WAIT).await;
    let e = got[0].json();
    assert_eq!(e["CallbackCommand"], "Group.CallbackReadDeadlineExpired", "{e}");
    assert_eq!(e["GroupId"], gid.as_str());
    assert_eq!(e["MsgSeq"], partly);
    assert_eq!(e["From_Account"], "owner");
    assert_eq!(e["ReadDeadlineSeconds"], 2);
    assert_eq!(e["ReadNum"], 1);
    assert_eq!(e["UnreadNum"], 2);
    assert_eq!(e["UnreadList"], json!([{"Unread_Account": "carol"}, {"Unread_Account": "dave"}]));
    assert_eq!(e["HasMoreUnread"], 0);
    assert!(e["MsgTime"].is_i64() && e["Random"].is_i64() && e["EventTime"].as_i64().unwrap() > 1_600_000_000_000);
    // The other two were due at the same moment: had they fired, they would be here by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(events(&rx).len(), 1, "exactly one deadline event: {:?}", events(&rx));
}

#[actix_web::test]
async fn a_group_type_default_deadline_applies_and_pages_the_unread_list() {
    let app = spawn_app_with(fast_settings()).await;
    let rx = Receiver::start();
    subscribe(&app, &rx).await;
    let v =
        app.ok("receipt_svc/set_receipt_config", json!({"GroupReadDeadlineSeconds": {"Work": 1, "Public": 0}})).await;
    assert_eq!(v["GroupReadDeadlineSeconds"], json!({"Private": 1}));
    let v = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!(v["GroupReadDeadlineSeconds"], json!({"Private": 1}));
    let members: Vec<String> = (0..120).map(|i| format!("m{i:03}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    app.import(&refs).await;
    app.import(&["owner"]).await;
    let gid = app.group("Private", "owner", &refs).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    // Without NeedReadReceipt the default does not apply.
    app.group_msg(&gid, "owner", false).await;
    let got = rx.wait_for("/ok", 1, WAIT).await;
    let e = got[0].json();
    assert_eq!(e["MsgSeq"], seq);
    assert_eq!(e["ReadDeadlineSeconds"], 1);
    assert_eq!(e["UnreadNum"], 120);
    assert_eq!(e["UnreadList"].as_array().unwrap().len(), 100);
    assert_eq!(e["UnreadList"][0]["Unread_Account"], "m000");
    assert_eq!(e["HasMoreUnread"], 1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(events(&rx).len(), 1);
}

#[actix_web::test]
async fn c2c_deadline_fires_for_unread_copies_only() {
    let app = spawn_app_with(fast_settings()).await;
    let rx = Receiver::start();
    subscribe(&app, &rx).await;
    app.import(&["alice", "bob", "carol"]).await;
    let send = |to: Value, batch: bool| {
        let path = if batch { "openim/batchsendmsg" } else { "openim/sendmsg" };
        app.ok(
            path,
            json!({"From_Account": "alice", "To_Account": to, "MsgRandom": rand::random::<u32>(), "IsNeedReadReceipt": 1,
                   "ReadDeadlineSeconds": 2, "MsgBody": body()}),
        )
    };
    let unread = send(json!("bob"), false).await["MsgKey"].as_str().unwrap().to_string();
    let receipted = send(json!("bob"), false).await["MsgKey"].as_str().unwrap().to_string();
    let batch = send(json!(["bob", "carol"]), true).await["MsgKey"].as_str().unwrap().to_string();
    app.ok(
        "openim/c2c_msg_read_receipt",
        json!({"Operator_Account": "bob", "Peer_Account": "alice",
               "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": receipted}]}),
    )
    .await;
    // carol reads the conversation: her copy of the batch is read.
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "carol", "Peer_Account": "alice"})).await;

    rx.wait_for("/ok", 2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = events(&rx);
    assert_eq!(got.len(), 2, "{got:?}");
    let mut keys: Vec<(String, String)> =
        got.iter().map(|e| (e["MsgKey"].as_str().unwrap().into(), e["To_Account"].as_str().unwrap().into())).collect();
    keys.sort();
    let mut want = vec![(unread.clone(), "bob".to_string()), (batch, "bob".to_string())];
    want.sort();
    assert_eq!(keys, want);
    let e = got.iter().find(|e| e["MsgKey"] == unread.as_str()).unwrap();
    assert_eq!(e["CallbackCommand"], "C2C.CallbackReadDeadlineExpired");
    assert_eq!(e["From_Account"], "alice");
    assert_eq!(e["ReadDeadlineSeconds"], 2);
    for f in ["MsgSeq", "MsgRandom", "MsgTime", "EventTime"] {
        assert!(e[f].is_i64(), "{f} is an integer: {e}");
    }
}

#[actix_web::test]
async fn bad_read_deadline_values_are_refused_naming_the_field() {
    let app = spawn_app().await;
    app.import(&["owner", "bob"]).await;
    let gid = app.group("Public", "owner", &["bob"]).await;
    let group = |deadline: Value, receipt: i32| {
        app.call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "owner", "Random": rand::random::<u32>(), "NeedReadReceipt": receipt,
                   "ReadDeadlineSeconds": deadline, "MsgBody": body()}),
        )
    };
    for bad in [json!(-1), json!(2_592_001), json!("-5")] {
        let v = group(bad.clone(), 1).await;
        assert!(assert_fail(&v, 10004).contains("ReadDeadlineSeconds"), "{bad}: {v}");
    }
    let v = group(json!("soon"), 1).await;
    assert_eq!(v["ActionStatus"], "FAIL", "{v}");
    let v = group(json!(60), 0).await;
    let info = assert_fail(&v, 10004);
    assert!(info.contains("ReadDeadlineSeconds") && info.contains("NeedReadReceipt"), "{info}");
    // 0 is no deadline, also without receipts; the largest value is accepted.
    assert_eq!(group(json!(0), 0).await["ErrorCode"], 0);
    assert_eq!(group(json!(2_592_000), 1).await["ErrorCode"], 0);

    let c2c = |deadline: Value, receipt: i32| {
        app.call(
            "openim/sendmsg",
            json!({"From_Account": "owner", "To_Account": "bob", "MsgRandom": rand::random::<u32>(),
                   "IsNeedReadReceipt": receipt, "ReadDeadlineSeconds": deadline, "MsgBody": body()}),
        )
    };
    let v = c2c(json!(0x7fff_ffff_i64), 1).await;
    assert!(assert_fail(&v, 90001).contains("ReadDeadlineSeconds"), "{v}");
    let v = c2c(json!(30), 0).await;
    assert!(assert_fail(&v, 90001).contains("IsNeedReadReceipt"), "{v}");
    assert_eq!(c2c(json!("30"), 1).await["ErrorCode"], 0);

    for bad in [
        json!({"GroupReadDeadlineSeconds": {"Public": -1}}),
        json!({"GroupReadDeadlineSeconds": {"Public": 2_592_001}}),
        json!({"GroupReadDeadlineSeconds": {"Public": "later"}}),
        json!({"GroupReadDeadlineSeconds": {"AVChatRoom": 60}}),
        json!({"GroupReadDeadlineSeconds": {"Nope": 60}}),
        json!({"GroupReadDeadlineSeconds": [60]}),
    ] {
        let v = app.call("receipt_svc/set_receipt_config", bad.clone()).await;
        assert_eq!(v["ActionStatus"], "FAIL", "{bad}: {v}");
        assert!(!v["ErrorInfo"].as_str().unwrap_or_default().is_empty(), "{v}");
    }
    let v = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!(v["GroupReadDeadlineSeconds"], json!({}));
}

#[actix_web::test]
async fn a_deadline_fires_exactly_once_after_a_restart_in_between() {
    let (db_url, _) = fresh_database();
    let rx = Receiver::start();
    let client = reqwest::Client::new();
    let mut first = ServerProcess::start(&db_url);
    let base = first.base.clone();
    must(&client, &base, "im_open_login_svc/multiaccount_import", json!({"Accounts": ["owner", "bob", "carol"]})).await;
    must(&client, &base, "webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base), "Events": EVENTS}))
        .await;
    let v = must(
        &client,
        &base,
        "group_open_http_svc/create_group",
        json!({"Type": "Public", "Name": "restart", "Owner_Account": "owner",
               "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "carol"}]}),
    )
    .await;
    let gid = v["GroupId"].as_str().unwrap().to_string();
    let v = must(
        &client,
        &base,
        "group_open_http_svc/send_group_msg",
        json!({"GroupId": gid, "From_Account": "owner", "Random": 1, "NeedReadReceipt": 1, "ReadDeadlineSeconds": 3,
               "MsgBody": body()}),
    )
    .await;
    let seq = v["MsgSeq"].as_i64().unwrap();
    // Stopped well before the deadline, without any chance to fire it.
    first.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(rx.on("/ok").is_empty(), "nothing ran while no server did");
    let _second = ServerProcess::start(&db_url);
    let got = rx.wait_for("/ok", 1, WAIT).await;
    let e = got[0].json();
    assert_eq!((e["GroupId"].as_str().unwrap(), e["MsgSeq"].as_i64().unwrap()), (gid.as_str(), seq));
    assert_eq!(e["UnreadNum"], 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(events(&rx).len(), 1, "{:?}", events(&rx));
}

#[actix_web::test]
async fn two_processes_never_fire_one_deadline_twice() {
    let mut s = fast_settings();
    s.deadlines.poll_ms = 20;
    s.deadlines.batch = 1;
    let app = spawn_app_with(s.clone()).await;
    let other = spawn_server_on(s, &app.db_url).await.expect("second server");
    let rx = Receiver::start();
    subscribe(&app, &rx).await;
    app.import(&["owner", "bob"]).await;
    let gid = app.group("Public", "owner", &["bob"]).await;
    const N: usize = 30;
    for i in 0..N {
        // Half through each server: the deadlines fall due together and both workers race.
        let base = if i % 2 == 0 { app.base.clone() } else { other.clone() };
        let q = app.query(ADMIN);
        let v: Value = app
            .client
            .post(format!("{base}/v4/group_open_http_svc/send_group_msg?{q}"))
            .body(
                json!({"GroupId": gid, "From_Account": "owner", "Random": i, "NeedReadReceipt": 1,
                       "ReadDeadlineSeconds": 1, "MsgBody": body()})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["ErrorCode"], 0, "{v}");
    }
    rx.wait_for("/ok", N, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = events(&rx);
    let seqs: HashSet<i64> = got.iter().map(|e| e["MsgSeq"].as_i64().unwrap()).collect();
    assert_eq!(got.len(), N, "one event per deadline");
    assert_eq!(seqs.len(), N);
}
