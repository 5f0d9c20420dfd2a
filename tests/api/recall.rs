//! Recall: a recalled message leaves unread and receipt counts, takes no new receipts, shows as
//! recalled in history, and fires its callback through the outbox.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::receipts::{group_with, read, receipt};
use crate::receiver::Receiver;

const WITHDRAW: &str = "openim/admin_msgwithdraw";
const RECALL: &str = "group_open_http_svc/group_msg_recall";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn unread(app: &TestApp, user: &str) -> i64 {
    app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": user})).await["AllC2CUnreadMsgNum"].as_i64().unwrap()
}

#[actix_web::test]
async fn c2c_recall() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base)})).await;
    app.import(&["alice", "bob"]).await;
    let keep = app.c2c_msg("alice", "bob", true).await;
    let gone = app.c2c_msg("alice", "bob", true).await;
    assert_eq!(unread(&app, "bob").await, 2);

    let w = |key: &str| json!({"From_Account": "alice", "To_Account": "bob", "MsgKey": key});
    app.ok(WITHDRAW, w(&gone)).await;
    assert_eq!(unread(&app, "bob").await, 1, "a recalled message leaves the unread count");
    assert!(assert_fail(&app.call(WITHDRAW, w(&gone)).await, 20023).contains("already"));
    assert_fail(&app.call(WITHDRAW, w("1_2_3")).await, 20022);
    assert_fail(
        &app.call(WITHDRAW, json!({"From_Account": "ghost", "To_Account": "bob", "MsgKey": keep})).await,
        90008,
    );
    assert_fail(
        &app.call(WITHDRAW, json!({"From_Account": "alice", "To_Account": "ghost", "MsgKey": keep})).await,
        90003,
    );

    // New receipts for it are refused; alongside a good one it is reported per item.
    let info = |k: &str| json!({"From_Account": "alice", "To_Account": "bob", "MsgKey": k});
    let ack = |items: Vec<Value>| json!({"Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": items});
    assert_fail(&app.call("openim/c2c_msg_read_receipt", ack(vec![info(&gone)])).await, 20023);
    let v = app.ok("openim/c2c_msg_read_receipt", ack(vec![info(&keep), info(&gone)])).await;
    assert_eq!(v["NewlyReadNum"], 1);
    assert_eq!(v["ErrorList"][0]["ErrorCode"], 20023);

    // History: Tencent's MsgFlagBits 8, without the content.
    let roam = app
        .ok("openim/admin_getroammsg", json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60}))
        .await;
    let m = roam["MsgList"].as_array().unwrap().iter().find(|m| m["MsgKey"] == gone.as_str()).unwrap().clone();
    assert_eq!((m["MsgFlagBits"].as_i64(), m["MsgBody"].clone()), (Some(8), json!([])), "{m}");
    assert_eq!(roam["MsgList"][0]["MsgFlagBits"], 0);
    let v = app
        .ok(
            "receipt_svc/get_c2c_msg_receipt",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgKeyList": [gone]}),
        )
        .await;
    assert_eq!(v["MsgReceiptList"][0]["Code"], 19002, "receipt_svc answers the extension code");

    let got = rx.wait_for("/ok", 2, Duration::from_secs(15)).await;
    let cb = got
        .iter()
        .find(|r| r.query["CallbackCommand"] == "C2C.CallbackAfterMsgWithDraw")
        .expect("C2C.CallbackAfterMsgWithDraw delivered")
        .json();
    assert_eq!((cb["From_Account"].as_str(), cb["To_Account"].as_str()), (Some("alice"), Some("bob")));
    assert_eq!((cb["MsgKey"].as_str(), cb["UnreadMsgNum"].as_i64()), (Some(gone.as_str()), Some(1)));
    assert!(cb["EventTime"].as_i64().unwrap() > 1_600_000_000_000, "milliseconds: {cb}");
}

#[actix_web::test]
async fn group_recall() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    app.ok(
        "webhook_svc/create_endpoint",
        json!({"Url": format!("{}/ok", rx.base), "Events": ["Group.CallbackAfterRecallMsg"]}),
    )
    .await;
    let gid = group_with(&app, "Public", "owner", &["m1", "m2"]).await;
    let s1 = app.group_msg(&gid, "owner", true).await;
    let s2 = app.group_msg(&gid, "owner", true).await;
    let s3 = app.group_msg(&gid, "owner", true).await;
    assert_eq!(read(&app, &gid, "m1", &[s2]).await, 1);

    // Per item: recalled, not found (10030); a repeat is already recalled.
    let v = app
        .ok(RECALL, json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": s2}, {"MsgSeq": 999}], "Reason": "oops"}))
        .await;
    assert_eq!(v["RecallRetList"], json!([{"MsgSeq": s2, "RetCode": 0}, {"MsgSeq": 999, "RetCode": 10030}]));
    assert_eq!(v["Results"], v["RecallRetList"], "the Go SDK reads Results");
    // Python SDKs may send the seq as a string.
    let v = app.ok(RECALL, json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": s2.to_string()}]})).await;
    assert_eq!(v["RecallRetList"][0]["RetCode"], 19002);
    assert_fail(&app.call(RECALL, json!({"GroupId": "nosuch", "MsgSeqList": [{"MsgSeq": 1}]})).await, 10010);
    let eleven: Vec<Value> = (1..=11).map(|s| json!({"MsgSeq": s})).collect();
    assert_fail(&app.call(RECALL, json!({"GroupId": gid, "MsgSeqList": eleven})).await, 10004);

    // It leaves the receipt counts and takes no receipts.
    let v = app
        .ok(
            "group_open_http_svc/get_group_msg_receipt",
            json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": s1}, {"MsgSeq": s2}]}),
        )
        .await;
    assert_eq!(v["GroupMsgReceiptList"][1]["Code"], 10062, "{v}");
    assert_fail(&receipt(&app, &gid, "m2", &[s2]).await, 19002);
    let v = receipt(&app, &gid, "m2", &[s1, s2]).await;
    assert_eq!((v["NewlyReadNum"].as_i64(), v["ErrorList"][0]["ErrorCode"].as_i64()), (Some(1), Some(19002)), "{v}");
    let detail = app
        .call(
            "group_open_http_svc/get_group_msg_receipt_detail",
            json!({"GroupId": gid, "MsgSeq": s2, "Filter": 0, "Cursor": "", "Count": 10}),
        )
        .await;
    assert_fail(&detail, 10062);
    // A conversation-level read passes over it.
    let v = app
        .ok("receipt_svc/group_msg_read_report", json!({"GroupId": gid, "Member_Account": "m2", "MsgSeq": s3}))
        .await;
    assert_eq!(v["NewlyReadNum"], 1, "only s3 (s1 was read, s2 recalled): {v}");

    // History hides it unless WithRecalledMsg is 1, then shows it as IsPlaceMsg 2 without content.
    let history = |with: i64| {
        let app = &app;
        let gid = gid.clone();
        async move {
            app.ok(
                "group_open_http_svc/group_msg_get_simple",
                json!({"GroupId": gid, "ReqMsgNumber": 10, "WithRecalledMsg": with}),
            )
            .await
        }
    };
    let v = history(0).await;
    let seqs: Vec<i64> = v["RspMsgList"].as_array().unwrap().iter().map(|m| m["MsgSeq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [s3, s1]);
    let v = history(1).await;
    let m = &v["RspMsgList"][1];
    assert_eq!((m["MsgSeq"].as_i64(), m["IsPlaceMsg"].as_i64(), m["MsgBody"].clone()), (Some(s2), Some(2), json!([])));

    let got = rx.wait_for("/ok", 1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "one callback for the one recall that changed something");
    let cb = got[0].json();
    assert_eq!(cb["CallbackCommand"], "Group.CallbackAfterRecallMsg");
    assert_eq!(
        (cb["GroupId"].as_str(), cb["Type"].as_str(), cb["Operator_Account"].as_str()),
        (Some(gid.as_str()), Some("Public"), Some(ADMIN))
    );
    assert_eq!(cb["MsgSeqList"], json!([{"MsgSeq": s2}]));
}
