//! What unmodified Tencent server SDKs send and parse: alternative spellings, JSON types,
//! paging meanings, send de-duplication, conversation reads as peer reads, callback origin.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::receipts::group_with;
use crate::receiver::Receiver;

fn body(text: &str) -> Value {
    json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}])
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[actix_web::test]
async fn group_history_answers_integer_priority_and_treats_seq_zero_as_newest() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1"]).await;
    app.group_msg(&gid, "owner", false).await;
    // SDKs send the priority as a name; history answers its number (1 High ... 4 Lowest).
    let send = |p: Value| json!({"GroupId": gid, "From_Account": "owner", "Random": rand::random::<u32>(), "MsgPriority": p, "MsgBody": body("x")});
    app.ok("group_open_http_svc/send_group_msg", send(json!("Low"))).await;
    app.ok("group_open_http_svc/send_group_msg", send(json!("Normal"))).await;
    assert_fail(&app.call("group_open_http_svc/send_group_msg", send(json!("Urgent"))).await, 10004);
    // Go SDKs always send ReqMsgSeq, 0 when the caller wants the newest messages.
    let v = app
        .ok("group_open_http_svc/group_msg_get_simple", json!({"GroupId": gid, "ReqMsgNumber": 2, "ReqMsgSeq": 0}))
        .await;
    let list = v["RspMsgList"].as_array().unwrap();
    let seqs: Vec<i64> = list.iter().map(|m| m["MsgSeq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [3, 2], "{v}");
    for m in list {
        assert!(m["MsgPriority"].is_i64(), "Java and Go SDKs decode MsgPriority as an integer: {m}");
        assert_eq!(m["MsgPriority"], if m["MsgSeq"] == 2 { 3 } else { 2 }, "Low, Normal: {m}");
        assert_eq!(m["IsPlaceMsg"], 0);
        let key = m["MsgKey"].as_str().unwrap();
        assert_eq!(key, format!("{}_{}_{}", m["MsgSeq"], m["MsgRandom"], m["MsgTimeStamp"]));
    }
}

#[actix_web::test]
async fn admin_getroammsg_accepts_the_from_to_spelling() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let k1 = app.c2c_msg("alice", "bob", false).await;
    let k2 = app.c2c_msg("bob", "alice", false).await;
    let range = json!({"MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60});
    let mut new = json!({"Operator_Account": "alice", "Peer_Account": "bob"});
    let mut old = json!({"From_Account": "alice", "To_Account": "bob"});
    for b in [&mut new, &mut old] {
        b.as_object_mut().unwrap().extend(range.as_object().unwrap().clone());
    }
    let a = app.ok("openim/admin_getroammsg", new).await;
    let b = app.ok("openim/admin_getroammsg", old).await;
    assert_eq!(a["MsgList"], b["MsgList"]);
    let keys: Vec<&str> = b["MsgList"].as_array().unwrap().iter().map(|m| m["MsgKey"].as_str().unwrap()).collect();
    assert_eq!(keys, [k1.as_str(), k2.as_str()], "oldest first");
    // Neither spelling: a clear error naming the field.
    let v = app.call("openim/admin_getroammsg", range).await;
    assert!(assert_fail(&v, 90001).contains("Operator_Account"), "{v}");
}

#[actix_web::test]
async fn get_group_member_info_limit_zero_offset_and_next_paging() {
    let app = spawn_app().await;
    let members: Vec<String> = (0..249).map(|i| format!("u{i:03}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let gid = group_with(&app, "Public", "owner", &refs).await;
    let page = |body: Value| {
        let app = &app;
        let gid = gid.clone();
        async move {
            let mut b = json!({"GroupId": gid});
            b.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
            app.ok("group_open_http_svc/get_group_member_info", b).await
        }
    };
    let names = |v: &Value| -> Vec<String> {
        v["MemberList"].as_array().unwrap().iter().map(|m| m["Member_Account"].as_str().unwrap().to_string()).collect()
    };
    // Limit 0 (Go SDKs always send it) and an omitted Limit both mean a full page of 200.
    for req in [json!({"Limit": 0, "Offset": 0}), json!({}), json!({"Limit": 0, "Offset": 0, "MemberInfoFilter": null})]
    {
        let v = page(req).await;
        assert_eq!(v["MemberNum"], 250, "{v}");
        assert_eq!(names(&v).len(), 200);
        assert_ne!(v["Next"], "", "more members remain");
    }
    let first = page(json!({})).await;
    let by_offset = page(json!({"Limit": 100, "Offset": 200})).await;
    let by_next = page(json!({"Next": first["Next"]})).await;
    assert_eq!(names(&by_offset), names(&by_next));
    assert_eq!(names(&by_next).len(), 50);
    assert_eq!(by_next["Next"], "", "the last page");
    let mut all = names(&first);
    all.extend(names(&by_next));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 250, "every member exactly once");
    let v = app.call("group_open_http_svc/get_group_member_info", json!({"GroupId": gid, "Limit": 201})).await;
    assert!(assert_fail(&v, 10004).contains("200"));
    let v = app.call("group_open_http_svc/get_group_member_info", json!({"GroupId": gid, "Next": "garbage"})).await;
    assert_fail(&v, 10004);
    // Filters pick fields and roles.
    let v = page(json!({"MemberRoleFilter": ["Owner"], "MemberInfoFilter": ["Role"]})).await;
    assert_eq!(v["MemberList"], json!([{"Member_Account": "owner", "Role": "Owner"}]));
}

#[actix_web::test]
async fn get_group_info_has_members_times_info_seq_and_honours_the_filter() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["m1", "m2"]).await;
    let seq = app.group_msg(&gid, "m1", false).await;
    let info = |filter: Option<Value>| {
        let app = &app;
        let mut b = json!({"GroupIdList": [gid, "nosuch"]});
        if let Some(f) = filter {
            b["ResponseFilter"] = f;
        }
        async move { app.ok("group_open_http_svc/get_group_info", b).await }
    };
    let v = info(None).await;
    let g = &v["GroupInfo"][0];
    assert_eq!((g["ErrorCode"].as_i64(), g["ShutUpAllMember"].as_str()), (Some(0), Some("Off")), "{g}");
    assert_eq!(g["NextMsgSeq"], seq + 1);
    assert!((now() - 5..=now() + 1).contains(&g["LastMsgTime"].as_i64().unwrap()), "{g}");
    assert_eq!(g["InfoSeq"], 1);
    assert_eq!(g["Appid"], SDKAPPID);
    let list = g["MemberList"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    let m1 = list.iter().find(|m| m["Member_Account"] == "m1").unwrap();
    assert_eq!(m1["Role"], "Member");
    assert_eq!(m1["MsgFlag"], "AcceptAndNotify");
    assert!(m1["LastSendMsgTime"].as_i64().unwrap() > 0, "m1 sent a message: {m1}");
    assert_eq!((m1["ShutUpUntil"].as_i64(), m1["MuteUntil"].as_i64()), (Some(0), Some(0)));
    assert_eq!(v["GroupInfo"][1]["ErrorCode"], 10010, "per-group errors: {v}");

    // A filter answers only what it names; the member list only with MemberInfoFilter.
    let v = info(Some(json!({"GroupBaseInfoFilter": ["Name", "InfoSeq"]}))).await;
    let g = v["GroupInfo"][0].as_object().unwrap();
    let mut keys: Vec<&str> = g.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["ErrorCode", "ErrorInfo", "GroupId", "InfoSeq", "Name"]);
    let v = info(Some(json!({"GroupBaseInfoFilter": ["Type"], "MemberInfoFilter": ["Role"]}))).await;
    let m = &v["GroupInfo"][0]["MemberList"][0];
    assert_eq!(m.as_object().unwrap().len(), 2, "Member_Account and Role: {m}");

    // modify_group_base_info moves InfoSeq and ShutUpAllMember.
    app.ok(
        "group_open_http_svc/modify_group_base_info",
        json!({"GroupId": gid, "Name": "renamed", "ShutUpAllMember": "On", "MaxMemberNum": 500}),
    )
    .await;
    let g = info(None).await["GroupInfo"][0].clone();
    assert_eq!((g["Name"].as_str(), g["InfoSeq"].as_i64()), (Some("renamed"), Some(2)));
    assert_eq!((g["ShutUpAllMember"].as_str(), g["MuteAllMember"].as_str()), (Some("On"), Some("On")));
    assert_eq!(g["MaxMemberNum"], 500);
    let v =
        app.call("group_open_http_svc/modify_group_base_info", json!({"GroupId": gid, "MuteAllMember": "maybe"})).await;
    assert_fail(&v, 10004);
    let v = app.call("group_open_http_svc/modify_group_base_info", json!({"GroupId": gid, "MaxMemberNum": 2})).await;
    assert!(assert_fail(&v, 10004).contains("3 current members"));
}

#[actix_web::test]
async fn modify_group_member_info_stores_name_card_flag_and_mute() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["m1", "m2", "m3"]).await;
    let modify = |extra: Value| {
        let app = &app;
        let mut b = json!({"GroupId": gid});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        async move { app.call("group_open_http_svc/modify_group_member_info", b).await }
    };
    let ok = |v: Value| assert_eq!(v["ErrorCode"], 0, "{v}");
    ok(modify(
        json!({"Member_Account": "m1", "NameCard": "Mister One", "MsgFlag": "AcceptNotNotify", "ShutUpTime": 600}),
    )
    .await);
    ok(modify(json!({"Member_Account": "m2", "MuteTime": 60})).await); // Java SDK
    let until = now() + 3600;
    ok(modify(json!({"Member_Account": "m3", "ShutUpUntil": until})).await); // Go SDK
    let v = app
        .ok(
            "group_open_http_svc/get_specified_group_member_info",
            json!({"GroupId": gid, "Member_List_Account": ["m1", "m2", "m3", "stranger"]}),
        )
        .await;
    let list = v["MemberList"].as_array().unwrap();
    assert_eq!(list.len(), 3, "non-members are left out: {v}");
    let m = |who: &str| list.iter().find(|m| m["Member_Account"] == who).unwrap().clone();
    assert_eq!(
        (m("m1")["NameCard"].as_str(), m("m1")["MsgFlag"].as_str()),
        (Some("Mister One"), Some("AcceptNotNotify"))
    );
    let t = m("m1")["MuteUntil"].as_i64().unwrap();
    assert!((now() + 590..=now() + 601).contains(&t), "ShutUpTime is seconds from now: {t}");
    assert!((now() + 50..=now() + 61).contains(&m("m2")["ShutUpUntil"].as_i64().unwrap()));
    assert_eq!(m("m3")["ShutUpUntil"], until);
    // A muted member may not send (10017) until the mute is lifted.
    let send = |from: &str| json!({"GroupId": gid, "From_Account": from, "Random": rand::random::<u32>(), "MsgBody": body("x")});
    let v = app.call("group_open_http_svc/send_group_msg", send("m1")).await;
    assert!(assert_fail(&v, 10017).contains("muted"));
    ok(modify(json!({"Member_Account": "m1", "ShutUpTime": 0})).await);
    app.ok("group_open_http_svc/send_group_msg", send("m1")).await;
    let v = app
        .ok(
            "group_open_http_svc/get_specified_group_member_info",
            json!({"GroupId": gid, "Member_List_Account": ["m1"]}),
        )
        .await;
    assert_eq!(v["MemberList"][0]["ShutUpUntil"], 0, "0 lifts the mute");
    assert_eq!(v["MemberList"][0]["NameCard"], "Mister One", "other fields stay");

    for (bad, code) in [
        (json!({"Member_Account": "m1", "MsgFlag": "Sometimes"}), 10004),
        (json!({"Member_Account": "m1", "NameCard": "x".repeat(51)}), 10004),
        (json!({"Member_Account": "m1", "AppMemberDefinedData": [{"Key": "k", "Value": "v"}]}), 10004),
        (json!({"Member_Account": "owner", "ShutUpTime": 60}), 10007),
        (json!({"Member_Account": "stranger", "NameCard": "x"}), 10007),
    ] {
        assert_fail(&modify(bad).await, code);
    }
}

#[actix_web::test]
async fn membership_lookups_roles_joined_groups_and_owner_change() {
    let app = spawn_app().await;
    let g1 = group_with(&app, "Public", "owner", &["m1", "m2"]).await;
    let g2 = app.group("Private", "m1", &["m2"]).await;
    let _other = app.group("Public", "owner", &[]).await;

    let v = app
        .ok("group_open_http_svc/get_role_in_group", json!({"GroupId": g1, "User_Account": ["owner", "m1", "nobody"]}))
        .await;
    assert_eq!(
        v["UserIdList"],
        json!([{"Member_Account": "owner", "Role": "Owner"}, {"Member_Account": "m1", "Role": "Member"},
               {"Member_Account": "nobody", "Role": "NotMember"}])
    );

    let v = app.ok("group_open_http_svc/get_joined_group_list", json!({"Member_Account": "m2"})).await;
    assert_eq!(v["TotalCount"], 2);
    let ids: Vec<&str> = v["GroupIdList"].as_array().unwrap().iter().map(|g| g["GroupId"].as_str().unwrap()).collect();
    assert_eq!(ids, [g1.as_str(), g2.as_str()]);
    assert_eq!(v["GroupIdList"][0].as_object().unwrap().len(), 1, "only GroupId without a filter: {v}");
    let v = app
        .ok(
            "group_open_http_svc/get_joined_group_list",
            json!({"Member_Account": "m2", "GroupType": "Private", "Limit": 1, "Offset": 0,
                   "ResponseFilter": {"GroupBaseInfoFilter": ["Type", "Name", "ShutUpAllMember"], "SelfInfoFilter": ["Role", "JoinTime"]}}),
        )
        .await;
    assert_eq!(v["TotalCount"], 1);
    let g = &v["GroupIdList"][0];
    assert_eq!(
        (g["GroupId"].as_str(), g["Type"].as_str(), g["ShutUpAllMember"].as_str()),
        (Some(g2.as_str()), Some("Private"), Some("Off"))
    );
    assert_eq!(g["SelfInfo"]["Role"], "Member");
    assert!(g["SelfInfo"]["JoinTime"].as_i64().unwrap() > 0);
    let v = app.call("group_open_http_svc/get_joined_group_list", json!({"Member_Account": "ghost"})).await;
    assert_fail(&v, 70107);

    // A new owner decides who may request receipts under OwnerAndAdmin.
    app.ok("receipt_svc/set_receipt_config", json!({"GroupReceiptRequestRoles": "OwnerAndAdmin"})).await;
    app.ok("group_open_http_svc/change_group_owner", json!({"GroupId": g1, "NewOwner_Account": "m1"})).await;
    let v =
        app.ok("group_open_http_svc/get_role_in_group", json!({"GroupId": g1, "User_Account": ["owner", "m1"]})).await;
    assert_eq!(v["UserIdList"][0]["Role"], "Member");
    assert_eq!(v["UserIdList"][1]["Role"], "Owner");
    let info = app.ok("group_open_http_svc/get_group_info", json!({"GroupIdList": [g1]})).await;
    assert_eq!(info["GroupInfo"][0]["Owner_Account"], "m1");
    let send = |from: &str| json!({"GroupId": g1, "From_Account": from, "Random": rand::random::<u32>(), "NeedReadReceipt": 1, "MsgBody": body("x")});
    app.ok("group_open_http_svc/send_group_msg", send("m1")).await;
    assert_fail(&app.call("group_open_http_svc/send_group_msg", send("owner")).await, 10007);
    let v = app
        .call("group_open_http_svc/change_group_owner", json!({"GroupId": g1, "NewOwner_Account": "stranger"}))
        .await;
    assert_fail(&v, 10007);
    let v = app
        .call("group_open_http_svc/change_group_owner", json!({"GroupId": "nosuch", "NewOwner_Account": "m1"}))
        .await;
    assert_fail(&v, 10010);
}

#[actix_web::test]
async fn a_retried_send_is_the_same_message() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;
    let send = |to: &str, random: u32, text: &str| json!({"From_Account": "alice", "To_Account": to, "MsgRandom": random, "MsgBody": body(text), "IsNeedReadReceipt": 1});
    let a = app.ok("openim/sendmsg", send("bob", 42, "hi")).await;
    let b = app.ok("openim/sendmsg", send("bob", 42, "hi")).await;
    assert_eq!((a["MsgKey"].clone(), a["MsgTime"].clone()), (b["MsgKey"].clone(), b["MsgTime"].clone()));
    let key = a["MsgKey"].as_str().unwrap();
    let parts: Vec<&str> = key.split('_').collect();
    assert_eq!(parts.len(), 3, "{{MsgSeq}}_{{MsgRandom}}_{{MsgTime}}: {key}");
    assert_eq!((parts[1], parts[2]), ("42", a["MsgTime"].to_string().as_str()));
    assert_ne!(a["MsgId"], a["MsgKey"]);
    // Another body, or another receiver, with the same MsgRandom is another message.
    let c = app.ok("openim/sendmsg", send("bob", 42, "something else")).await;
    assert_ne!(c["MsgKey"], a["MsgKey"]);
    app.ok("openim/sendmsg", send("carol", 42, "hi")).await;
    let roam = app
        .ok("openim/admin_getroammsg", json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60}))
        .await;
    assert_eq!(roam["MsgCnt"], 2, "the retry stored nothing: {roam}");
    let unread = app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": "bob"})).await;
    assert_eq!(unread["AllC2CUnreadMsgNum"], 2);

    // batchsendmsg: a retry (even to more receivers) keeps the key and adds only new copies.
    let batch =
        |to: Vec<&str>| json!({"From_Account": "alice", "To_Account": to, "MsgRandom": 7, "MsgBody": body("all")});
    let first = app.ok("openim/batchsendmsg", batch(vec!["bob"])).await;
    let again = app.ok("openim/batchsendmsg", batch(vec!["bob", "carol"])).await;
    assert_eq!(first["MsgKey"], again["MsgKey"]);
    let unread = app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": "bob"})).await;
    assert_eq!(unread["AllC2CUnreadMsgNum"], 3, "bob got the batch once");
    assert_eq!(app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": "carol"})).await["AllC2CUnreadMsgNum"], 2);
    // The copy the retry added carries the first send's seq, matching its MsgKey.
    let roam = app
        .ok("openim/admin_getroammsg", json!({"Operator_Account": "alice", "Peer_Account": "carol", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60}))
        .await;
    let copy = roam["MsgList"].as_array().unwrap().iter().find(|m| m["MsgKey"] == first["MsgKey"]).unwrap().clone();
    assert_eq!(first["MsgKey"].as_str().unwrap().split('_').next().unwrap(), copy["MsgSeq"].to_string(), "{copy}");

    // Concurrent retries of one group send: one message, one seq, counted once.
    let gid = app.group("Public", "alice", &["bob", "carol"]).await;
    let gsend =
        json!({"GroupId": gid, "From_Account": "alice", "Random": 99, "NeedReadReceipt": 1, "MsgBody": body("g")});
    let tries =
        futures_util::future::join_all((0..5).map(|_| app.ok("group_open_http_svc/send_group_msg", gsend.clone())))
            .await;
    for t in &tries {
        assert_eq!(
            (t["MsgSeq"].clone(), t["MsgTime"].clone()),
            (tries[0]["MsgSeq"].clone(), tries[0]["MsgTime"].clone())
        );
    }
    assert_eq!(tries[0]["MsgSeq"], 1);
    let next = app.group_msg(&gid, "alice", true).await;
    assert_eq!(next, 2, "no gap after the de-duplicated sends");
    assert_eq!(app.counts(&gid, 1).await, (0, 2, 0, 0));
}

#[actix_web::test]
async fn a_conversation_read_makes_the_peer_read_flag_true() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let before = app.c2c_msg("alice", "bob", true).await;
    let v = app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;
    let read_time = v["MsgReadTime"].as_i64().unwrap();
    // A message sent after the read time (the next second) stays unread.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = app.c2c_msg("alice", "bob", true).await;

    let roam = app
        .ok("openim/admin_getroammsg", json!({"Operator_Account": "bob", "Peer_Account": "alice", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60}))
        .await;
    let flags: Vec<(String, i64, i64)> = roam["MsgList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["MsgKey"].as_str().unwrap().to_string(),
                m["IsPeerRead"].as_i64().unwrap(),
                m["ReadTime"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(flags, [(before.clone(), 1, read_time), (after.clone(), 0, 0)]);
    let v = app
        .ok(
            "receipt_svc/get_c2c_msg_receipt",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgKeyList": [before, after]}),
        )
        .await;
    let list = v["MsgReceiptList"].as_array().unwrap();
    assert_eq!((list[0]["IsPeerRead"].as_i64(), list[0]["IsDelivered"].as_i64()), (Some(1), Some(1)), "{v}");
    assert_eq!(list[0]["ReadTime"], read_time);
    assert_eq!(list[1]["IsPeerRead"], 0);
}

#[actix_web::test]
async fn callbacks_carry_the_callers_address_platform_and_msg_id() {
    let mut settings = test_settings();
    settings.client_ip_header = Some("X-Forwarded-For".into());
    let app = spawn_app_with(settings).await;
    let rx = Receiver::start();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base)})).await;
    app.import(&["alice", "bob"]).await;
    let key = app.c2c_msg("alice", "bob", true).await;
    let body = json!({"Operator_Account": "bob", "Peer_Account": "alice",
                      "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": key}]});
    let resp = app
        .client
        .post(format!("{}/v4/openim/c2c_msg_read_receipt?{}&platform=Android", app.base, app.query("bob")))
        .header("X-Forwarded-For", "198.51.100.9, 203.0.113.7")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["ErrorCode"], 0);
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;

    let got = rx.wait_for("/ok", 2, Duration::from_secs(15)).await;
    let by = |cmd: &str| got.iter().find(|r| r.query.get("CallbackCommand").map(String::as_str) == Some(cmd)).unwrap();
    let receipt = by("C2C.CallbackAfterMsgReadReceipt");
    assert_eq!(receipt.query["ClientIP"], "203.0.113.7");
    assert_eq!(receipt.query["OptPlatform"], "Android");
    let item = &receipt.json()["C2CMsgInfo"][0];
    assert_eq!(item["MsgKey"], key.as_str());
    assert!(!item["MsgId"].as_str().unwrap().is_empty() && item["MsgId"] != item["MsgKey"], "{item}");
    let report = by("C2C.CallbackAfterMsgReport");
    assert_eq!(report.query["ClientIP"], "127.0.0.1", "no header: the TCP peer");
    assert_eq!(report.query["OptPlatform"], "RESTAPI");
    let v = app.raw("openim/admin_set_msg_read", &format!("{}&platform=Toaster", app.query(ADMIN)), "{}").await.1;
    assert_fail(&v, 60002);
}
