//! Private receipts: the per-user setting, and how a private read shows to the sender, other
//! members, the App admin and the reader (the policy matrix of `set_user_receipt_privacy`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::Receiver;
use crate::stream::EventStream;

const SET: &str = "receipt_svc/set_user_receipt_privacy";
const GET: &str = "receipt_svc/get_user_receipt_privacy";
const DETAIL: &str = "group_open_http_svc/get_group_msg_receipt_detail";
const WAIT: Duration = Duration::from_secs(15);

/// The read list of (gid, seq) as `viewer` sees it (one page is enough here).
async fn read_list(app: &TestApp, viewer: &str, gid: &str, seq: i64) -> Vec<Value> {
    let v = app.call_as(viewer, DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": 0, "Count": 100})).await;
    assert_eq!(v["ErrorCode"], 0, "{viewer}: {v}");
    v["ReadList"].as_array().cloned().unwrap_or_default()
}

fn accounts(list: &[Value]) -> Vec<&str> {
    list.iter().map(|r| r["Read_Account"].as_str().unwrap()).collect()
}

async fn set_private(app: &TestApp, user: &str, private: i64) {
    let v = app.call_as(user, SET, json!({"Private": private})).await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    assert_eq!(v["Private"], private);
}

/// Reads `identifier`'s event stream from the start until `n` events arrived.
async fn stream_events(app: &TestApp, identifier: &str, n: usize) -> Vec<crate::stream::Event> {
    let url = format!("{}/v4/receipt_svc/event_stream?{}", app.base, app.query(identifier));
    EventStream::open(&app.client, &url, Some("0")).await.next_events(n, Duration::from_secs(10)).await
}

#[actix_web::test]
async fn the_setting_is_set_and_read_by_the_user_and_the_admin() {
    let app = spawn_app().await;
    app.import(&["ann", "ben"]).await;

    // Never set: not private.
    let v = app.call_as("ann", GET, json!({})).await;
    assert_eq!((v["ErrorCode"].clone(), v["UserID"].clone(), v["Private"].clone()), (json!(0), json!("ann"), json!(0)));

    // The user for themselves (named or not), the admin naming the user in either field.
    set_private(&app, "ann", 1).await;
    assert_eq!(app.call_as("ann", GET, json!({"From_Account": "ann"})).await["Private"], 1);
    let v = app.ok(GET, json!({"To_Account": "ann"})).await;
    assert_eq!((v["UserID"].clone(), v["Private"].clone()), (json!("ann"), json!(1)));
    let v = app.ok(SET, json!({"From_Account": "ann", "Private": 0})).await;
    assert_eq!((v["UserID"].clone(), v["Private"].clone()), (json!("ann"), json!(0)));
    assert_eq!(app.ok(GET, json!({"From_Account": "ann"})).await["Private"], 0);
    app.ok(SET, json!({"To_Account": "ben", "Private": 1})).await;
    assert_eq!(app.call_as("ben", GET, json!({})).await["Private"], 1);
    assert_eq!(app.ok(GET, json!({"From_Account": "ann"})).await["Private"], 0, "ben's setting is his own");

    // Bad input.
    let info = assert_fail(&app.call_as("ann", SET, json!({"Private": 2})).await, 10004);
    assert!(info.contains("Private"), "{info}");
    let info = assert_fail(&app.call_as("ann", SET, json!({})).await, 10004);
    assert!(info.contains("Private"), "{info}");
    assert_fail(&app.call_as("ann", SET, json!({"Private": "yes"})).await, 10004);
    let info = assert_fail(&app.call_as("ann", SET, json!({"From_Account": "ben", "Private": 0})).await, 60010);
    assert!(info.contains("From_Account"), "{info}");
    assert_fail(&app.call_as("ann", GET, json!({"To_Account": "ben"})).await, 60010);
    let info = assert_fail(&app.call(SET, json!({"Private": 1})).await, 10004);
    assert!(info.contains("From_Account"), "the admin must name the user: {info}");
    assert_fail(&app.call(SET, json!({"From_Account": "ann", "To_Account": "ben", "Private": 1})).await, 10004);
    assert_fail(&app.call(SET, json!({"From_Account": "nobody", "Private": 1})).await, 70107);
    // Refused calls changed nothing.
    assert_eq!(app.ok(GET, json!({"From_Account": "ann"})).await["Private"], 0);
    assert_eq!(app.ok(GET, json!({"From_Account": "ben"})).await["Private"], 1);
}

#[actix_web::test]
async fn a_private_group_read_counts_but_is_named_only_to_the_admin_and_the_reader() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    app.ok(
        "webhook_svc/create_endpoint",
        json!({"Url": format!("{}/ok", rx.base), "Events": ["Group.CallbackAfterReadReceipt"]}),
    )
    .await;
    app.import(&["owner", "bob", "carol", "dave"]).await;
    let gid = app.group("Public", "owner", &["bob", "carol", "dave"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let (_, unread_before, _, _) = app.counts(&gid, seq).await;

    set_private(&app, "bob", 1).await;
    let v = app
        .call_as(
            "bob",
            "group_open_http_svc/group_msg_receipt",
            json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": seq, "AckContent": "secret"}]}),
        )
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let v = app
        .call_as(
            "carol",
            "group_open_http_svc/group_msg_receipt",
            json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": seq, "AckContent": "ok"}]}),
        )
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");

    // Counts include the private read; the private reader is not listed as unread.
    let (read, unread, _, code) = app.counts(&gid, seq).await;
    assert_eq!((read, unread, code), (2, unread_before - 2, 0));
    let v = app.ok(DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": 1, "Count": 100})).await;
    let unread_list: Vec<&str> =
        v["UnreadList"].as_array().unwrap().iter().map(|u| u["Unread_Account"].as_str().unwrap()).collect();
    assert!(!unread_list.contains(&"bob") && unread_list.contains(&"dave"), "{unread_list:?}");

    // The sender and another member: only carol, and not bob's AckContent.
    for viewer in ["owner", "dave"] {
        let list = read_list(&app, viewer, &gid, seq).await;
        assert_eq!(accounts(&list), ["carol"], "{viewer}: {list:?}");
        assert_eq!(list[0]["AckContent"], "ok");
        assert!(list[0].get("Private").is_none(), "{list:?}");
        assert!(!Value::Array(list).to_string().contains("secret"), "{viewer} sees bob's AckContent");
    }
    // The admin: everyone, bob marked Private 1 with his AckContent.
    let list = read_list(&app, ADMIN, &gid, seq).await;
    assert_eq!(accounts(&list), ["bob", "carol"]);
    assert_eq!((list[0]["Private"].clone(), list[0]["AckContent"].clone()), (json!(1), json!("secret")));
    assert!(list[1].get("Private").is_none(), "{list:?}");
    // The reader sees themselves.
    let list = read_list(&app, "bob", &gid, seq).await;
    assert_eq!(accounts(&list), ["bob", "carol"]);
    assert_eq!(list[0]["Private"], 1);

    // The webhook counts bob's read without naming him or showing his AckContent.
    let got = rx.wait_for("/ok", 2, WAIT).await;
    let items: Vec<Value> = got.iter().map(|r| r.json()["GroupMsgReceiptList"][0].clone()).collect();
    let private = items
        .iter()
        .find(|i| i["ReadReceiptMembers"][0]["Private"] == 1)
        .unwrap_or_else(|| panic!("a private receipt event: {items:?}"));
    assert_eq!(private["ReadReceiptMembers"], json!([{"Member_Account": "", "Private": 1}]));
    assert_eq!(private["ReadNum"], 1);
    let public = items.iter().find(|i| i["ReadReceiptMembers"][0]["Member_Account"] == "carol").unwrap();
    assert_eq!(public["ReadReceiptMembers"], json!([{"Member_Account": "carol", "AckContent": "ok"}]));
    assert!(!got.iter().any(|r| r.body.windows(3).any(|w| w == b"bob")), "bob is not named in any webhook");

    // The sender's live stream: the read without the name.
    let events = stream_events(&app, "owner", 2).await;
    assert_eq!(events[0].kind, "Group.ReadReceipt");
    assert_eq!(events[0].data, json!({"GroupId": gid, "Member_Account": "", "Private": 1, "MsgSeqList": [seq]}));
    assert_eq!(events[1].data["Member_Account"], "carol");

    // Turning privacy off does not expose the earlier read; later reads are public.
    set_private(&app, "bob", 0).await;
    assert_eq!(accounts(&read_list(&app, "owner", &gid, seq).await), ["carol"]);
    let seq2 = app.group_msg(&gid, "owner", true).await;
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq2}]}),
    )
    .await;
    let list = read_list(&app, "owner", &gid, seq2).await;
    assert_eq!(accounts(&list), ["bob"]);
    assert!(list[0].get("Private").is_none(), "{list:?}");
    let got = rx.wait_for("/ok", 3, WAIT).await;
    let last = got.iter().map(|r| r.json()).find(|b| b["GroupMsgReceiptList"][0]["MsgSeq"] == seq2).unwrap();
    assert_eq!(last["GroupMsgReceiptList"][0]["ReadReceiptMembers"], json!([{"Member_Account": "bob"}]));
}

#[actix_web::test]
async fn private_c2c_reads_are_reported_without_the_reader() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    app.ok(
        "webhook_svc/create_endpoint",
        json!({"Url": format!("{}/ok", rx.base),
               "Events": ["C2C.CallbackAfterMsgReadReceipt", "C2C.CallbackAfterMsgReport", "C2C.CallbackAfterAllRead"]}),
    )
    .await;
    app.import(&["alice", "bob"]).await;
    let key = app.c2c_msg("alice", "bob", true).await;
    // Read by the conversation read below: its completion event must not name bob either.
    let second = app.c2c_msg("alice", "bob", true).await;
    set_private(&app, "bob", 1).await;

    let v = app
        .call_as(
            "bob",
            "openim/c2c_msg_read_receipt",
            json!({"Operator_Account": "bob", "Peer_Account": "alice",
                   "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": key}]}),
        )
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;

    let got = rx.wait_for("/ok", 4, WAIT).await;
    let by_cmd = |cmd: &str| got.iter().map(|r| r.json()).find(|b| b["CallbackCommand"] == cmd).unwrap();
    let done: Vec<Value> =
        got.iter().map(|r| r.json()).filter(|b| b["CallbackCommand"] == "C2C.CallbackAfterAllRead").collect();
    assert_eq!(done.len(), 2, "{done:?}");
    for (k, by) in [(&key, "Receipt"), (&second, "ConversationRead")] {
        let b = done.iter().find(|b| b["MsgKey"] == k.as_str()).unwrap_or_else(|| panic!("no event for {k}: {done:?}"));
        assert_eq!(
            (&b["MsgKey"], &b["ReadBy"], &b["To_Account"], &b["Private"]),
            (&json!(k), &json!(by), &json!(""), &json!(1))
        );
        crate::schema::check_callback(b);
    }
    let receipt = by_cmd("C2C.CallbackAfterMsgReadReceipt");
    assert_eq!((receipt["Operator_Account"].clone(), receipt["Private"].clone()), (json!(""), json!(1)));
    assert_eq!(receipt["Peer_Account"], "alice");
    assert_eq!(receipt["C2CMsgInfo"][0]["To_Account"], "");
    assert_eq!(receipt["C2CMsgInfo"][0]["MsgKey"], key.as_str());
    let report = by_cmd("C2C.CallbackAfterMsgReport");
    assert_eq!((report["Report_Account"].clone(), report["Private"].clone()), (json!(""), json!(1)));
    assert_eq!(report["UnreadMsgNum"], 0, "the read still cleared bob's unread state");
    assert!(!got.iter().any(|r| r.body.windows(3).any(|w| w == b"bob")), "bob is not named in any webhook");

    let events = stream_events(&app, "alice", 2).await;
    assert_eq!(events[0].kind, "C2C.ReadReceipt");
    assert_eq!(events[0].data["Operator_Account"], "");
    assert_eq!(events[0].data["Private"], 1);
    assert_eq!(events[1].kind, "C2C.ReadReport");
    assert_eq!(events[1].data["Report_Account"], "");
    assert_eq!(events[1].data["Private"], 1);
}
