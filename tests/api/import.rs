//! Migration from Tencent: imported C2C messages, groups, members with their join time and
//! group messages with their original time; eligibility of imported history follows join times.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::receipts::{receipt, READ, UNREAD};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn body(text: &str) -> Value {
    json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}])
}

async fn unread(app: &TestApp, user: &str) -> i64 {
    app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": user})).await["AllC2CUnreadMsgNum"].as_i64().unwrap()
}

async fn webhook_events(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    let mut c = PgConnection::establish(&app.db_url).unwrap();
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM webhook_events").get_result::<N>(&mut c).unwrap().n
}

#[actix_web::test]
async fn importmsg_keeps_time_deduplicates_and_counts_unread_only_in_real_time_mode() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let rx = crate::receiver::Receiver::start();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base)})).await;
    let t = now() - 86_400;
    let msg = |sync: i64, seq: i64, time: i64| {
        json!({"SyncFromOldSystem": sync, "From_Account": "alice", "To_Account": "bob", "MsgSeq": seq,
               "MsgRandom": 1287657, "MsgTimeStamp": time, "MsgBody": body("old"), "CloudCustomData": "c"})
    };
    let v = app.ok("openim/importmsg", msg(2, 827092, t)).await;
    assert_eq!(v["MsgKey"], format!("827092_1287657_{t}"));
    app.ok("openim/importmsg", msg(2, 827092, t)).await; // a retry
                                                         // The same triple with sender and receiver swapped is the same message too.
    let swapped = json!({"SyncFromOldSystem": 2, "From_Account": "bob", "To_Account": "alice", "MsgSeq": 827092,
                         "MsgRandom": 1287657, "MsgTimeStamp": t, "MsgBody": body("old")});
    app.ok("openim/importmsg", swapped).await;
    assert_eq!(unread(&app, "bob").await, 0, "history (2) is not counted unread");
    app.ok("openim/importmsg", msg(5, 1, t + 10)).await;
    assert_eq!(unread(&app, "bob").await, 1, "real-time (5) is counted");

    let roam = app
        .ok(
            "openim/admin_getroammsg",
            json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 10, "MinTime": 0, "MaxTime": now()}),
        )
        .await;
    assert_eq!(roam["MsgCnt"], 2, "{roam}");
    assert_eq!(roam["MsgList"][0]["MsgTimeStamp"], t, "the original time is kept");
    assert_eq!(roam["MsgList"][0]["CloudCustomData"], "c");
    assert_eq!(webhook_events(&app).await, 0, "imports fire no callbacks");

    for (bad, code) in [
        (msg(3, 1, t), 90001),
        (msg(2, 1, now() + 3600), 90001),
        (
            json!({"SyncFromOldSystem": 2, "From_Account": "ghost", "To_Account": "bob", "MsgRandom": 1, "MsgTimeStamp": t, "MsgBody": body("x")}),
            90008,
        ),
        (
            json!({"SyncFromOldSystem": 2, "From_Account": "alice", "To_Account": "ghost", "MsgRandom": 1, "MsgTimeStamp": t, "MsgBody": body("x")}),
            90003,
        ),
        (
            json!({"SyncFromOldSystem": 2, "From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": body("x")}),
            90001,
        ),
    ] {
        assert_fail(&app.call("openim/importmsg", bad).await, code);
    }
}

#[actix_web::test]
async fn imported_group_history_counts_only_members_who_were_there() {
    let app = spawn_app().await;
    app.import(&["leckie", "early", "late", "peter"]).await;
    let rx = crate::receiver::Receiver::start();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base)})).await;
    let created = now() - 10 * 86_400;
    let v = app
        .ok(
            "group_open_http_svc/import_group",
            json!({"Owner_Account": "leckie", "Type": "Public", "Name": "TestGroup", "CreateTime": created}),
        )
        .await;
    let gid = v["GroupId"].as_str().unwrap().to_string();
    let info = app.ok("group_open_http_svc/get_group_info", json!({"GroupIdList": [gid]})).await;
    assert_eq!(info["GroupInfo"][0]["CreateTime"], created);

    // Members first, with their original join times (Tencent's recommended order).
    let v = app
        .ok(
            "group_open_http_svc/import_group_member",
            json!({"GroupId": gid, "MemberList": [
                {"Member_Account": "early", "Role": "Admin", "JoinTime": created + 100, "UnreadMsgNum": 0},
                {"Member_Account": "late", "JoinTime": created + 5 * 86_400},
                {"Member_Account": "ghost", "JoinTime": created + 100},
                {"Member_Account": "peter", "JoinTime": created - 5}]}),
        )
        .await;
    assert_eq!(
        v["MemberList"],
        json!([{"Member_Account": "early", "Result": 1}, {"Member_Account": "late", "Result": 1},
               {"Member_Account": "ghost", "Result": 0}, {"Member_Account": "peter", "Result": 0}]),
        "unknown accounts and join times before the group's creation fail"
    );
    let again = app
        .ok(
            "group_open_http_svc/import_group_member",
            json!({"GroupId": gid, "MemberList": [{"Member_Account": "early"}]}),
        )
        .await;
    assert_eq!(again["MemberList"][0]["Result"], 2, "already a member");

    // Then messages with their original times; one before `late` joined, one after.
    let v = app
        .ok(
            "group_open_http_svc/import_group_msg",
            json!({"GroupId": gid, "RecentContactFlag": 1, "MsgList": [
                {"From_Account": "leckie", "SendTime": created + 86_400, "Random": 8912345, "MsgBody": body("one"), "NeedReadReceipt": 1},
                {"From_Account": "early", "SendTime": created + 6 * 86_400, "MsgBody": body("two"), "NeedReadReceipt": 1},
                {"From_Account": "leckie", "SendTime": created, "MsgBody": body("too early")}]}),
        )
        .await;
    let results = v["ImportMsgResult"].as_array().unwrap();
    assert_eq!(
        (results[0]["MsgSeq"].as_i64(), results[0]["MsgTime"].as_i64(), results[0]["Result"].as_i64()),
        (Some(1), Some(created + 86_400), Some(0))
    );
    assert_eq!((results[1]["MsgSeq"].as_i64(), results[1]["Result"].as_i64()), (Some(2), Some(0)));
    assert_eq!(results[2]["Result"], 10004, "not before the latest imported message: {v}");
    // A retry of the first message (same sender and Random) is not stored twice.
    let retry = app
        .ok("group_open_http_svc/import_group_msg", json!({"GroupId": gid, "MsgList": [
            {"From_Account": "leckie", "SendTime": created + 86_400, "Random": 8912345, "MsgBody": body("one"), "NeedReadReceipt": 1}]}))
        .await;
    assert_eq!(retry["ImportMsgResult"][0]["MsgSeq"], 1);

    assert_eq!(webhook_events(&app).await, 0, "imports fire no callbacks");

    // Message 1: readers early (late joined after it); message 2 (from early): leckie and late.
    assert_eq!(app.counts(&gid, 1).await, (0, 1, 0, 0));
    assert_eq!(app.counts(&gid, 2).await, (0, 2, 0, 0));
    assert_fail(&receipt(&app, &gid, "late", &[1]).await, 10007);
    assert_eq!(receipt(&app, &gid, "late", &[2]).await["NewlyReadNum"], 1);
    let unread_list = app
        .ok(
            "group_open_http_svc/get_group_msg_receipt_detail",
            json!({"GroupId": gid, "MsgSeq": 2, "Filter": UNREAD, "Cursor": "", "Count": 10}),
        )
        .await;
    assert_eq!(unread_list["UnreadList"], json!([{"Unread_Account": "leckie"}]));
    let read_list = app
        .ok(
            "group_open_http_svc/get_group_msg_receipt_detail",
            json!({"GroupId": gid, "MsgSeq": 2, "Filter": READ, "Cursor": "", "Count": 10}),
        )
        .await;
    assert_eq!(read_list["ReadList"][0]["Read_Account"], "late");

    // A member imported after the messages is eligible only for those sent after their join.
    app.import(&["middle"]).await;
    app.ok(
        "group_open_http_svc/import_group_member",
        json!({"GroupId": gid, "MemberList": [{"Member_Account": "middle", "JoinTime": created + 2 * 86_400}]}),
    )
    .await;
    assert_eq!(app.counts(&gid, 1).await, (0, 1, 0, 0));
    assert_eq!(app.counts(&gid, 2).await, (1, 2, 1, 0), "late read it; leckie and middle have not");
    assert_fail(&receipt(&app, &gid, "middle", &[1]).await, 10007);

    // New sends continue after the imported seqs.
    assert_eq!(app.group_msg(&gid, "leckie", true).await, 3);

    // An original MsgSeq must be a uint32 above the group's latest.
    let big = json!({"GroupId": gid, "MsgList": [{"From_Account": "leckie", "SendTime": now() - 10, "MsgSeq": i64::MAX, "MsgBody": body("x")}]});
    assert_fail(&app.call("group_open_http_svc/import_group_msg", big).await, 10004);
    let v = app
        .ok("group_open_http_svc/import_group_msg", json!({"GroupId": gid, "MsgList": [{"From_Account": "leckie", "SendTime": now() - 10, "MsgSeq": 2, "MsgBody": body("x")}]}))
        .await;
    assert_eq!(v["ImportMsgResult"][0]["Result"], 10004, "not above the latest seq: {v}");
    let v = app.call("group_open_http_svc/import_group", json!({"Type": "AVChatRoom", "Name": "live"})).await;
    assert_fail(&v, 10007);
    let v = app
        .call(
            "group_open_http_svc/import_group",
            json!({"Type": "Public", "Name": "future", "CreateTime": now() + 3600}),
        )
        .await;
    assert_fail(&v, 10004);
}
