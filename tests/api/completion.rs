//! Completion events: `Group.CallbackAfterAllRead`, `Group.CallbackAfterReadThreshold` and
//! `C2C.CallbackAfterAllRead`, each fired once per message, checked at a real receiver.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::Receiver;

const WAIT: Duration = Duration::from_secs(15);
/// How long a test keeps listening after the expected events, so a duplicate would show.
const SETTLE: Duration = Duration::from_millis(1500);

const ALL_READ: &str = "Group.CallbackAfterAllRead";
const THRESHOLD: &str = "Group.CallbackAfterReadThreshold";
const C2C_ALL_READ: &str = "C2C.CallbackAfterAllRead";

/// Subscribes a receiver path to the completion events only.
async fn listen(app: &TestApp, rx: &Receiver) {
    app.ok(
        "webhook_svc/create_endpoint",
        json!({"Url": format!("{}/ok", rx.base), "Events": [ALL_READ, THRESHOLD, C2C_ALL_READ]}),
    )
    .await;
}

/// The bodies received so far with `CallbackCommand` `cmd`.
fn bodies(rx: &Receiver, cmd: &str) -> Vec<Value> {
    rx.on("/ok").iter().map(|r| r.json()).filter(|b| b["CallbackCommand"] == cmd).collect()
}

/// Waits until `n` events in all arrived, then a while longer; returns every body.
/// Every body is checked against the callback's schema in the OpenAPI document.
async fn settle(rx: &Receiver, n: usize) -> Vec<Value> {
    rx.wait_for("/ok", n, WAIT).await;
    tokio::time::sleep(SETTLE).await;
    let got: Vec<Value> = rx.on("/ok").iter().map(|r| r.json()).collect();
    got.iter().for_each(crate::schema::check_callback);
    got
}

async fn send(app: &TestApp, gid: &str, extra: Value) -> Value {
    let mut body = json!({"GroupId": gid, "From_Account": "owner", "Random": rand::random::<u32>(), "NeedReadReceipt": 1,
                          "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]});
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    app.call("group_open_http_svc/send_group_msg", body).await
}

async fn read(app: &TestApp, gid: &str, reader: &str, seqs: &[i64]) {
    let list: Vec<Value> = seqs.iter().map(|s| json!({"MsgSeq": s})).collect();
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": list}),
    )
    .await;
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r{i:02}")).collect()
}

#[actix_web::test]
async fn all_read_and_threshold_fire_once_under_concurrent_receipts() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    listen(&app, &rx).await;
    let readers = names(20);
    let refs: Vec<&str> = readers.iter().map(String::as_str).collect();
    let mut all = refs.clone();
    all.push("owner");
    app.import(&all).await;
    let gid = app.group("Public", "owner", &refs).await;
    let plain = send(&app, &gid, json!({})).await["MsgSeq"].as_i64().unwrap();
    let half = send(&app, &gid, json!({"ReadThresholdPercent": 50})).await["MsgSeq"].as_i64().unwrap();

    // Every reader reads both messages twice, 16 calls at a time.
    let jobs: Vec<&str> = refs.iter().chain(refs.iter()).copied().collect();
    let both = [plain, half];
    stream::iter(jobs).for_each_concurrent(16, |r| read(&app, &gid, r, &both)).await;

    let got = settle(&rx, 3).await;
    assert_eq!(got.len(), 3, "two all-read events and one threshold event, no more: {got:#?}");
    let done = bodies(&rx, ALL_READ);
    let seqs: Vec<i64> = {
        let mut s: Vec<i64> = done.iter().map(|b| b["MsgSeq"].as_i64().unwrap()).collect();
        s.sort();
        s
    };
    assert_eq!(seqs, vec![plain, half]);
    for b in &done {
        assert_eq!((&b["GroupId"], &b["Type"], &b["From_Account"]), (&json!(gid), &json!("Public"), &json!("owner")));
        assert_eq!((&b["ReadNum"], &b["UnreadNum"]), (&json!(20), &json!(0)));
        assert!(b["LastReadTime"].as_i64().unwrap() >= b["MsgTime"].as_i64().unwrap(), "{b}");
        assert!(b["Random"].is_i64() && b["EventTime"].is_i64(), "{b}");
    }
    let th = bodies(&rx, THRESHOLD);
    assert_eq!(th[0]["MsgSeq"], half);
    assert_eq!(th[0]["ReadThresholdPercent"], 50);
    let n = th[0]["ReadNum"].as_i64().unwrap();
    // Coalesced receipts may cross the threshold several readers at a time.
    assert!((10..=20).contains(&n), "first reached at 10 of 20 or a little later: {}", th[0]);
    assert_eq!(th[0]["UnreadNum"], 20 - n);
    assert_eq!(app.counts(&gid, plain).await.0, 20);
}

#[actix_web::test]
async fn a_leave_can_complete_a_message_and_a_rejoined_reader_does_not_complete_it_twice() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    listen(&app, &rx).await;
    app.import(&["owner", "bob", "carol", "dave", "erin"]).await;
    let gid = app.group("Private", "owner", &["bob", "carol", "dave", "erin"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let untouched = app.group_msg(&gid, "owner", true).await;
    let remove = |who: &str| json!({"GroupId": gid, "MemberToDel_Account": [who]});

    read(&app, &gid, "bob", &[seq]).await;
    read(&app, &gid, "carol", &[seq]).await;
    // Dave leaves unread: erin is still unread, so nothing is complete yet.
    app.ok("group_open_http_svc/delete_group_member", remove("dave")).await;
    tokio::time::sleep(SETTLE).await;
    assert!(rx.on("/ok").is_empty(), "no message is complete yet: {:?}", bodies(&rx, ALL_READ));

    // Dave comes back; his old membership still makes him a reader of `seq`, and his read
    // undoes his departure without completing the message (erin is unread).
    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": [{"Member_Account": "dave"}]}))
        .await;
    read(&app, &gid, "dave", &[seq]).await;
    tokio::time::sleep(SETTLE).await;
    assert!(rx.on("/ok").is_empty(), "erin has not read: {:?}", bodies(&rx, ALL_READ));

    // Erin leaving unread leaves bob, carol and dave, who all read it.
    app.ok("group_open_http_svc/delete_group_member", remove("erin")).await;
    let got = settle(&rx, 1).await;
    assert_eq!(got.len(), 1, "exactly one completion: {got:#?}");
    assert_eq!((&got[0]["CallbackCommand"], &got[0]["MsgSeq"]), (&json!(ALL_READ), &json!(seq)));
    assert_eq!((&got[0]["ReadNum"], &got[0]["UnreadNum"]), (&json!(3), &json!(0)));
    assert!(got[0]["LastReadTime"].as_i64().unwrap() > 0);

    // `untouched` was read by nobody; everyone but the owner leaving does not complete it.
    for who in ["bob", "carol", "dave"] {
        app.ok("group_open_http_svc/delete_group_member", remove(who)).await;
    }
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.on("/ok").len(), 1, "a message nobody read never completes ({untouched})");
}

#[actix_web::test]
async fn a_threshold_default_per_group_type_and_bad_thresholds() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    listen(&app, &rx).await;
    let cfg = app.ok("receipt_svc/set_receipt_config", json!({"GroupReadThresholdPercent": {"Work": 50}})).await;
    assert_eq!(cfg["GroupReadThresholdPercent"], json!({"Private": 50}));
    app.import(&["owner", "a", "b", "c", "d"]).await;
    let private = app.group("Private", "owner", &["a", "b", "c", "d"]).await;
    let public = app.group("Public", "owner", &["a", "b", "c", "d"]).await;
    let p1 = send(&app, &private, json!({})).await["MsgSeq"].as_i64().unwrap();
    // An explicit 0 turns the default off for one message.
    let p2 = send(&app, &private, json!({"ReadThresholdPercent": "0"})).await["MsgSeq"].as_i64().unwrap();
    let q1 = send(&app, &public, json!({})).await["MsgSeq"].as_i64().unwrap();
    for r in ["a", "b"] {
        read(&app, &private, r, &[p1, p2]).await;
        read(&app, &public, r, &[q1]).await;
    }
    let got = settle(&rx, 1).await;
    assert_eq!(got.len(), 1, "only p1 has a threshold: {got:#?}");
    assert_eq!(
        (&got[0]["CallbackCommand"], &got[0]["GroupId"], &got[0]["MsgSeq"]),
        (&json!(THRESHOLD), &json!(private), &json!(p1))
    );
    assert_eq!(
        (&got[0]["ReadNum"], &got[0]["UnreadNum"], &got[0]["ReadThresholdPercent"]),
        (&json!(2), &json!(2), &json!(50))
    );

    for (extra, needle) in [
        (json!({"ReadThresholdPercent": 101}), "between 1 and 100"),
        (json!({"ReadThresholdPercent": -5}), "between 1 and 100"),
        (json!({"ReadThresholdPercent": 30, "NeedReadReceipt": 0}), "NeedReadReceipt"),
    ] {
        let v = send(&app, &public, extra).await;
        assert!(assert_fail(&v, 10004).contains(needle), "{v}");
    }
    for (body, needle) in [
        (json!({"GroupReadThresholdPercent": {"Public": 150}}), "between 1 and 100"),
        (json!({"GroupReadThresholdPercent": {"Nonsense": 10}}), "Nonsense"),
        (json!({"EventFeed": 2}), "EventFeed"),
        (json!({"EventFeedRetentionSeconds": 5}), "EventFeedRetentionSeconds"),
    ] {
        let v = app.call("receipt_svc/set_receipt_config", body).await;
        assert!(assert_fail(&v, 10004).contains(needle), "{v}");
    }
    // A refused update changed nothing.
    let cfg = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!((&cfg["GroupReadThresholdPercent"], &cfg["EventFeed"]), (&json!({"Private": 50}), &json!(0)));
}

#[actix_web::test]
async fn c2c_all_read_fires_once_by_receipt_or_by_conversation_read() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    listen(&app, &rx).await;
    app.import(&["alice", "bob"]).await;
    let first = app.c2c_msg("alice", "bob", true).await;
    let second = app.c2c_msg("alice", "bob", true).await;
    let _plain = app.c2c_msg("alice", "bob", false).await;
    let receipt = json!({"Operator_Account": "bob", "Peer_Account": "alice",
                         "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": first}]});
    app.ok("openim/c2c_msg_read_receipt", receipt.clone()).await;
    app.ok("openim/c2c_msg_read_receipt", receipt).await;
    rx.wait_for("/ok", 1, WAIT).await;
    // The conversation read covers all three: only `second` is newly read with a receipt asked.
    let set_read = json!({"Report_Account": "bob", "Peer_Account": "alice"});
    app.ok("openim/admin_set_msg_read", set_read.clone()).await;
    app.ok("openim/admin_set_msg_read", set_read).await;
    let got = settle(&rx, 2).await;
    assert_eq!(got.len(), 2, "one event per receipt-requesting message: {got:#?}");
    let by_key =
        |k: &str| got.iter().find(|b| b["MsgKey"] == k).unwrap_or_else(|| panic!("no event for {k}: {got:#?}"));
    assert_eq!(by_key(&first)["ReadBy"], "Receipt");
    assert_eq!(by_key(&second)["ReadBy"], "ConversationRead");
    for b in &got {
        assert_eq!(
            (&b["CallbackCommand"], &b["From_Account"], &b["To_Account"]),
            (&json!(C2C_ALL_READ), &json!("alice"), &json!("bob"))
        );
        assert!(
            b["MsgSeq"].is_i64()
                && b["MsgRandom"].is_i64()
                && b["ReadTime"].as_i64().unwrap() >= b["MsgTime"].as_i64().unwrap()
        );
    }
    // A receipt after the conversation read changes nothing.
    app.ok(
        "openim/c2c_msg_read_receipt",
        json!({"Operator_Account": "bob", "Peer_Account": "alice",
               "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": second}]}),
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.on("/ok").len(), 2);
}
