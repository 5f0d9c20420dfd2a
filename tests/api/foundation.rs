//! Foundation: conventions, auth, accounts, groups and messages.

use serde_json::{json, Value};

use crate::helpers::*;

#[actix_web::test]
async fn account_import_then_check() {
    let app = spawn_app().await;
    app.ok("im_open_login_svc/account_import", json!({"UserID": "alice", "Nick": "A"})).await;
    let v = app
        .ok("im_open_login_svc/account_check", json!({"CheckItem": [{"UserID": "alice"}, {"UserID": "nobody"}]}))
        .await;
    assert_eq!(v["ResultItem"][0]["AccountStatus"], "Imported");
    assert_eq!(v["ResultItem"][1]["AccountStatus"], "NotImported");
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const IMPORT: &str = "im_open_login_svc/account_import";
const CREATE_GROUP: &str = "group_open_http_svc/create_group";
const SENDMSG: &str = "openim/sendmsg";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A query string with explicit parts (each `None` is left out).
fn query(sdkappid: Option<&str>, identifier: Option<&str>, usersig: Option<&str>) -> String {
    let mut parts = vec![];
    if let Some(a) = sdkappid {
        parts.push(format!("sdkappid={a}"));
    }
    if let Some(i) = identifier {
        parts.push(format!("identifier={i}"));
    }
    if let Some(s) = usersig {
        parts.push(format!("usersig={s}"));
    }
    parts.push("random=99&contenttype=json".into());
    parts.join("&")
}

/// A query for the admin with the given usersig.
fn admin_query(usersig: &str) -> String {
    query(Some(&SDKAPPID.to_string()), Some(ADMIN), Some(usersig))
}

/// The `AccountStatus` of each id, in order.
async fn account_status(app: &TestApp, ids: &[&str]) -> Vec<String> {
    let items: Vec<Value> = ids.iter().map(|id| json!({"UserID": id})).collect();
    let v = app.ok("im_open_login_svc/account_check", json!({"CheckItem": items})).await;
    let list = v["ResultItem"].as_array().unwrap();
    assert_eq!(list.len(), ids.len(), "{v}");
    list.iter()
        .zip(ids)
        .map(|(item, id)| {
            assert_eq!(item["UserID"], *id, "{v}");
            item["AccountStatus"].as_str().unwrap().to_string()
        })
        .collect()
}

/// get_group_info for one group: the per-group item.
async fn group_info(app: &TestApp, gid: &str) -> Value {
    let v = app.ok("group_open_http_svc/get_group_info", json!({"GroupIdList": [gid]})).await;
    v["GroupInfo"][0].clone()
}

/// Current members as (account, role), and MemberNum.
async fn members(app: &TestApp, gid: &str) -> (i64, Vec<(String, String)>) {
    let v = app.ok("group_open_http_svc/get_group_member_info", json!({"GroupId": gid})).await;
    let list = v["MemberList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Member_Account"].as_str().unwrap().to_string(), m["Role"].as_str().unwrap().to_string()))
        .collect();
    (v["MemberNum"].as_i64().unwrap(), list)
}

fn role_of<'a>(list: &'a [(String, String)], who: &str) -> Option<&'a str> {
    list.iter().find(|(a, _)| a == who).map(|(_, r)| r.as_str())
}

/// group_msg_get_simple: (MsgSeq list, IsFinished).
async fn history(app: &TestApp, gid: &str, number: i64, seq: Option<i64>) -> (Vec<i64>, i64, Value) {
    let mut body = json!({"GroupId": gid, "ReqMsgNumber": number});
    if let Some(s) = seq {
        body["ReqMsgSeq"] = s.into();
    }
    let v = app.ok("group_open_http_svc/group_msg_get_simple", body).await;
    assert_eq!(v["GroupId"], gid);
    let seqs = v["RspMsgList"].as_array().unwrap().iter().map(|m| m["MsgSeq"].as_i64().unwrap()).collect();
    (seqs, v["IsFinished"].as_i64().unwrap(), v)
}

fn text_body() -> Value {
    json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}])
}

/// One page of admin_getroammsg between alice and bob.
async fn roam_page(app: &TestApp, max_cnt: i64, last_key: Option<&str>) -> Value {
    let mut body = json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": max_cnt, "MinTime": 0, "MaxTime": now() + 3600});
    if let Some(k) = last_key {
        body["LastMsgKey"] = k.into();
    }
    app.ok("openim/admin_getroammsg", body).await
}

/// An account_import body just over 1 MiB that is otherwise valid.
fn oversize_import() -> Vec<u8> {
    let head = br#"{"UserID":"zed","Pad":""#;
    let mut body = head.to_vec();
    body.resize(1024 * 1024 - 1, b'a');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), 1024 * 1024 + 1);
    body
}

// ---------------------------------------------------------------------------------------------
// im_open_login_svc
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn login_service_imports_checks_and_deletes() {
    let app = spawn_app().await;
    // Single import is idempotent.
    for _ in 0..2 {
        app.ok(IMPORT, json!({"UserID": "alice", "Nick": "A", "FaceUrl": "http://x/a.png"})).await;
    }
    // Legacy `Accounts` form.
    let v = app.ok("im_open_login_svc/multiaccount_import", json!({"Accounts": ["bob", "carol"]})).await;
    assert_eq!(v["FailAccounts"], json!([]));
    // New `AccountList` form, with one id longer than 32 bytes.
    let long = "x".repeat(33);
    let v = app
        .ok(
            "im_open_login_svc/multiaccount_import",
            json!({"AccountList": [{"UserID": "dave", "Nick": "D"}, {"UserID": long}, {"UserID": "erin"},
                                   {"UserID": "frank", "Nick": "n".repeat(501)}]}),
        )
        .await;
    // A bad id or an oversize profile field fails only that entry.
    assert_eq!(v["FailAccounts"], json!([long, "frank"]));
    assert_eq!(
        account_status(&app, &["alice", "bob", "carol", "dave", "erin", &long, "frank"]).await,
        ["Imported", "Imported", "Imported", "Imported", "Imported", "NotImported", "NotImported"]
    );

    // account_delete: ResultCode 0 for a deleted account, 70107 for an unknown one.
    let v = app
        .ok("im_open_login_svc/account_delete", json!({"DeleteItem": [{"UserID": "bob"}, {"UserID": "ghost"}]}))
        .await;
    let items = v["ResultItem"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!((items[0]["UserID"].as_str(), items[0]["ResultCode"].as_i64()), (Some("bob"), Some(0)));
    assert_eq!((items[1]["UserID"].as_str(), items[1]["ResultCode"].as_i64()), (Some("ghost"), Some(70107)));
    assert!(!items[1]["ResultInfo"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(account_status(&app, &["bob", "carol"]).await, ["NotImported", "Imported"]);
}

// ---------------------------------------------------------------------------------------------
// openim
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn sendmsg_and_batchsendmsg() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;

    let before = now();
    let v = app
        .ok(
            SENDMSG,
            // Unknown fields (here real Tencent ones this server does not use) are ignored.
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 12345, "IsNeedReadReceipt": 1, "MsgBody": text_body(),
                   "SyncOtherMachine": 2, "OfflinePushInfo": {"PushFlag": 0}, "SomethingNew": [1, 2]}),
        )
        .await;
    let t = v["MsgTime"].as_i64().expect("MsgTime");
    assert!((before - 1..=now() + 1).contains(&t), "MsgTime {t} not now: {v}");
    let key = v["MsgKey"].as_str().expect("MsgKey").to_string();
    assert!(!key.is_empty());
    let plain = app.c2c_msg("bob", "alice", false).await;
    assert_ne!(plain, key, "MsgKeys must be unique");

    // Both are stored, with their IsNeedReadReceipt.
    let page = roam_page(&app, 10, None).await;
    let list = page["MsgList"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{page}");
    let find =
        |k: &str| list.iter().find(|m| m["MsgKey"] == k).unwrap_or_else(|| panic!("{k} missing: {page}")).clone();
    let m = find(&key);
    assert_eq!((m["From_Account"].as_str(), m["To_Account"].as_str()), (Some("alice"), Some("bob")));
    assert_eq!(m["MsgRandom"], 12345);
    assert_eq!(m["NeedReadReceipt"], 1);
    assert_eq!(m["MsgBody"], text_body());
    assert_eq!(find(&plain)["NeedReadReceipt"], 0);

    // batchsendmsg: unknown receivers are listed with 90003, known ones get the message.
    let v = app
        .ok(
            "openim/batchsendmsg",
            json!({"From_Account": "alice", "To_Account": ["bob", "ghost", "carol"], "MsgRandom": 7, "MsgBody": text_body()}),
        )
        .await;
    let batch_key = v["MsgKey"].as_str().expect("MsgKey");
    assert!(!batch_key.is_empty());
    assert_eq!(v["ErrorList"], json!([{"To_Account": "ghost", "ErrorCode": 90003}]));
    let page = roam_page(&app, 10, None).await;
    assert_eq!(page["MsgList"][2]["MsgKey"], batch_key, "oldest first within the page: {page}");
    assert_eq!(page["MsgCnt"], 3);
    let v = app
        .ok(
            "openim/admin_getroammsg",
            json!({"Operator_Account": "carol", "Peer_Account": "alice", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 10}),
        )
        .await;
    assert_eq!(v["MsgCnt"], 1, "{v}");
    assert_eq!(v["MsgList"][0]["MsgKey"], batch_key);
}

#[actix_web::test]
async fn admin_getroammsg_pages_walk_back_in_time_each_oldest_first() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let (from, to) = if i % 2 == 0 { ("alice", "bob") } else { ("bob", "alice") };
        sent.push(app.c2c_msg(from, to, true).await);
    }
    // A message with someone else never shows up.
    app.c2c_msg("alice", "carol", false).await;

    // Tencent's sample: each page lists its messages oldest first, and LastMsgKey/LastMsgTime
    // name the page's oldest message, where the next (older) page continues.
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut completes = Vec::new();
    let mut last: Option<String> = None;
    for _ in 0..5 {
        let v = roam_page(&app, 2, last.as_deref()).await;
        let list = v["MsgList"].as_array().unwrap();
        assert_eq!(v["MsgCnt"].as_u64(), Some(list.len() as u64), "{v}");
        for m in list {
            assert_eq!(m["IsPeerRead"], 0, "IsPeerRead must be present and 0: {m}");
        }
        pages.push(list.iter().map(|m| m["MsgKey"].as_str().unwrap().to_string()).collect());
        assert_eq!(v["LastMsgKey"], list[0]["MsgKey"], "{v}");
        assert_eq!(v["LastMsgTime"], list[0]["MsgTimeStamp"], "{v}");
        completes.push(v["Complete"].as_i64().unwrap());
        if v["Complete"] == 1 {
            break;
        }
        last = Some(v["LastMsgKey"].as_str().unwrap().to_string());
    }
    assert_eq!(completes, [0, 0, 1]);
    let expected = vec![sent[3..5].to_vec(), sent[1..3].to_vec(), sent[0..1].to_vec()];
    assert_eq!(pages, expected, "newest page first, oldest message first within a page, each exactly once");
}

// ---------------------------------------------------------------------------------------------
// group_open_http_svc
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn create_group_types_ids_and_members() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;

    let types = [
        ("Private", "Private"),
        ("Public", "Public"),
        ("ChatRoom", "ChatRoom"),
        ("AVChatRoom", "AVChatRoom"),
        ("Community", "Community"),
        ("Work", "Private"),
        ("Meeting", "ChatRoom"),
    ];
    let mut ids: Vec<(String, &str, &str)> = Vec::new();
    for (requested, canonical) in types {
        let v = app.ok(CREATE_GROUP, json!({"Type": requested, "Name": requested, "Owner_Account": "alice"})).await;
        let gid = v["GroupId"].as_str().unwrap().to_string();
        assert!(gid.starts_with("@TGS#"), "generated id {gid}");
        assert!(!ids.iter().any(|(g, _, _)| g == &gid), "generated ids must be unique");
        ids.push((gid, canonical, requested));
    }
    let list: Vec<&str> = ids.iter().map(|(g, _, _)| g.as_str()).collect();
    let v = app.ok("group_open_http_svc/get_group_info", json!({"GroupIdList": list})).await;
    for (info, (gid, canonical, name)) in v["GroupInfo"].as_array().unwrap().iter().zip(&ids) {
        assert_eq!(info["GroupId"], gid.as_str());
        assert_eq!(info["ErrorCode"], 0);
        assert_eq!(info["Type"], *canonical, "{info}");
        assert_eq!(info["Name"], *name);
        assert_eq!(info["Owner_Account"], "alice");
        assert_eq!(info["MemberNum"], 1);
    }

    // Custom GroupId; a second group with the same id is refused.
    let v = app
        .ok(
            CREATE_GROUP,
            json!({"Type": "Public", "Name": "team", "GroupId": "team-1", "Owner_Account": "alice",
                   "MemberList": [{"Member_Account": "bob", "Role": "Admin"}, {"Member_Account": "carol"}]}),
        )
        .await;
    assert_eq!(v["GroupId"], "team-1");
    let dup = app.call(CREATE_GROUP, json!({"Type": "Private", "Name": "again", "GroupId": "team-1"})).await;
    assert_fail(&dup, 10021);
    assert_eq!(group_info(&app, "team-1").await["Type"], "Public", "the first group is untouched");

    let (num, list) = members(&app, "team-1").await;
    assert_eq!(num, 3);
    assert_eq!(role_of(&list, "alice"), Some("Owner"));
    assert_eq!(role_of(&list, "bob"), Some("Admin"));
    assert_eq!(role_of(&list, "carol"), Some("Member"));

    // A group without an owner.
    let v = app.ok(CREATE_GROUP, json!({"Type": "Public", "Name": "ownerless"})).await;
    let info = group_info(&app, v["GroupId"].as_str().unwrap()).await;
    assert_eq!((info["Owner_Account"].as_str(), info["MemberNum"].as_i64()), (Some(""), Some(0)));

    // An AVChatRoom cannot be created with a MemberList.
    let v = app
        .call(
            CREATE_GROUP,
            json!({"Type": "AVChatRoom", "Name": "live", "GroupId": "live-1", "MemberList": [{"Member_Account": "bob"}]}),
        )
        .await;
    assert_fail(&v, 10007);
    assert_eq!(group_info(&app, "live-1").await["ErrorCode"], 10010, "nothing was created");
}

#[actix_web::test]
async fn get_group_info_and_destroy_group() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;
    let gid = app.group("Private", "alice", &["bob", "carol"]).await;

    let v = app.ok("group_open_http_svc/get_group_info", json!({"GroupIdList": [gid, "nosuch"]})).await;
    let infos = v["GroupInfo"].as_array().unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0]["MemberNum"], 3);
    assert_eq!(infos[0]["ErrorCode"], 0);
    assert_eq!((infos[1]["GroupId"].as_str(), infos[1]["ErrorCode"].as_i64()), (Some("nosuch"), Some(10010)));
    assert!(!infos[1]["ErrorInfo"].as_str().unwrap().is_empty());

    app.group_msg(&gid, "bob", true).await;
    app.ok("group_open_http_svc/destroy_group", json!({"GroupId": gid})).await;
    assert_eq!(group_info(&app, &gid).await["ErrorCode"], 10010);
    let v = app
        .call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "bob", "Random": 1, "MsgBody": text_body()}),
        )
        .await;
    assert_fail(&v, 10010);
    assert_fail(&app.call("group_open_http_svc/destroy_group", json!({"GroupId": gid})).await, 10010);
    assert_fail(&app.call("group_open_http_svc/get_group_member_info", json!({"GroupId": gid})).await, 10010);
    // The id can be reused after destruction.
    let v = app.ok(CREATE_GROUP, json!({"Type": "Public", "Name": "again", "GroupId": "g-reuse"})).await;
    app.ok("group_open_http_svc/destroy_group", json!({"GroupId": v["GroupId"]})).await;
    app.ok(CREATE_GROUP, json!({"Type": "Public", "Name": "again", "GroupId": "g-reuse"})).await;
    assert_eq!(group_info(&app, "g-reuse").await["MemberNum"], 0, "a reused id starts empty");
}

#[actix_web::test]
async fn group_members_add_delete_and_roles() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol", "dave"]).await;
    let gid = app.group("Public", "alice", &["bob"]).await;

    let v = app
        .ok(
            "group_open_http_svc/add_group_member",
            json!({"GroupId": gid, "MemberList": [{"Member_Account": "carol"}, {"Member_Account": "bob"}, {"Member_Account": "ghost"}]}),
        )
        .await;
    assert_eq!(
        v["MemberList"],
        json!([{"Member_Account": "carol", "Result": 1}, {"Member_Account": "bob", "Result": 2}, {"Member_Account": "ghost", "Result": 0}])
    );
    let (num, list) = members(&app, &gid).await;
    assert_eq!(num, 3);
    assert_eq!(list.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), ["alice", "bob", "carol"]);
    assert_eq!(group_info(&app, &gid).await["MemberNum"], 3);

    // delete_group_member removes; the owner cannot be removed.
    app.ok("group_open_http_svc/delete_group_member", json!({"GroupId": gid, "MemberToDel_Account": ["carol"]})).await;
    let (num, list) = members(&app, &gid).await;
    assert_eq!(num, 2);
    assert_eq!(role_of(&list, "carol"), None);
    assert_eq!(group_info(&app, &gid).await["MemberNum"], 2);
    assert_fail(
        &app.call("group_open_http_svc/delete_group_member", json!({"GroupId": gid, "MemberToDel_Account": ["alice"]}))
            .await,
        10007,
    );
    // A removed member cannot send.
    let v = app
        .call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "carol", "Random": 1, "MsgBody": text_body()}),
        )
        .await;
    assert_fail(&v, 10007);

    // modify_group_member_info: Member -> Admin is visible; the owner's role cannot change.
    app.ok(
        "group_open_http_svc/modify_group_member_info",
        json!({"GroupId": gid, "Member_Account": "bob", "Role": "Admin"}),
    )
    .await;
    assert_eq!(role_of(&members(&app, &gid).await.1, "bob"), Some("Admin"));
    let v = app
        .call(
            "group_open_http_svc/modify_group_member_info",
            json!({"GroupId": gid, "Member_Account": "alice", "Role": "Member"}),
        )
        .await;
    assert_fail(&v, 10007);
    assert_eq!(role_of(&members(&app, &gid).await.1, "alice"), Some("Owner"));
    let v = app
        .call(
            "group_open_http_svc/modify_group_member_info",
            json!({"GroupId": gid, "Member_Account": "bob", "Role": "Owner"}),
        )
        .await;
    assert_fail(&v, 10004);
    let v = app
        .call(
            "group_open_http_svc/modify_group_member_info",
            json!({"GroupId": gid, "Member_Account": "dave", "Role": "Admin"}),
        )
        .await;
    assert_fail(&v, 10007);
    app.ok(
        "group_open_http_svc/modify_group_member_info",
        json!({"GroupId": gid, "Member_Account": "bob", "Role": "Member"}),
    )
    .await;
    assert_eq!(role_of(&members(&app, &gid).await.1, "bob"), Some("Member"));
}

#[actix_web::test]
async fn send_group_msg_and_history() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol", "dave"]).await;
    let gid = app.group("Private", "alice", &["bob", "carol"]).await;

    assert_eq!(app.group_msg(&gid, "alice", true).await, 1);
    // A non-member is refused, and the refusal does not use up a MsgSeq.
    let v = app
        .call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "dave", "Random": 1, "MsgBody": text_body()}),
        )
        .await;
    assert_fail(&v, 10007);
    assert_eq!(app.group_msg(&gid, "bob", false).await, 2);
    // The admin may post without a From_Account.
    let v = app
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "Random": 77, "MsgBody": text_body(), "CloudCustomData": "cd"}),
        )
        .await;
    assert_eq!(v["MsgSeq"], 3);
    assert!((now() - 5..=now() + 1).contains(&v["MsgTime"].as_i64().unwrap()), "{v}");
    assert_eq!(app.group_msg(&gid, "carol", false).await, 4);
    assert_eq!(app.group_msg(&gid, "alice", false).await, 5);

    // NeedReadReceipt is stored: seq 1 has receipt info (2 eligible readers), seq 2 has none.
    assert_eq!(app.counts(&gid, 1).await, (0, 2, 0, 0));
    assert_eq!(app.counts(&gid, 2).await.3, 10062);

    // Newest first, ReqMsgNumber honoured, IsFinished says whether older ones remain.
    let (seqs, finished, v) = history(&app, &gid, 2, None).await;
    assert_eq!((seqs, finished), (vec![5, 4], 0));
    assert_eq!(v["RspMsgList"][0]["From_Account"], "alice");
    let (seqs, finished, v) = history(&app, &gid, 2, Some(3)).await;
    assert_eq!((seqs, finished), (vec![3, 2], 0));
    assert_eq!(v["RspMsgList"][0]["From_Account"], ADMIN);
    assert_eq!(v["RspMsgList"][0]["MsgRandom"], 77);
    assert_eq!(v["RspMsgList"][0]["CloudCustomData"], "cd");
    assert_eq!(v["RspMsgList"][0]["MsgBody"], text_body());
    let (seqs, finished, _) = history(&app, &gid, 20, Some(2)).await;
    assert_eq!((seqs, finished), (vec![2, 1], 1));
    let (seqs, finished, _) = history(&app, &gid, 20, None).await;
    assert_eq!((seqs, finished), (vec![5, 4, 3, 2, 1], 1));
    assert_eq!(group_info(&app, &gid).await["NextMsgSeq"], 6);
    assert_fail(
        &app.call("group_open_http_svc/group_msg_get_simple", json!({"GroupId": gid, "ReqMsgNumber": 21})).await,
        10004,
    );
}

#[actix_web::test]
async fn concurrent_group_sends_get_gap_free_seqs() {
    let app = spawn_app().await;
    let users: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    let ids: Vec<&str> = users.iter().map(String::as_str).collect();
    app.import(&ids).await;
    let gid = app.group("Public", ids[0], &ids[1..]).await;

    let tasks = ids.iter().map(|u| {
        let (app, gid) = (&app, &gid);
        async move {
            let mut seqs = Vec::new();
            for i in 0..10 {
                seqs.push(app.group_msg(gid, u, i % 3 == 0).await);
            }
            seqs
        }
    });
    let mut all: Vec<i64> = futures_util::future::join_all(tasks).await.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<i64>>());
    let (seqs, finished, _) = history(&app, &gid, 1, None).await;
    assert_eq!((seqs, finished), (vec![200], 0));
    assert_eq!(group_info(&app, &gid).await["NextMsgSeq"], 201);
}

// ---------------------------------------------------------------------------------------------
// Conventions and errors
// ---------------------------------------------------------------------------------------------

/// (name, path, query, body, expected ErrorCode, word ErrorInfo must mention)
type FailCase<'a> = (&'a str, &'a str, String, Vec<u8>, i64, &'a str);

/// POSTs each (name, path, query, body) and checks HTTP 200, FAIL, the code, and that ErrorInfo
/// mentions `hint` (case-insensitive) so a person can act on it.
async fn expect_failures(app: &TestApp, cases: Vec<FailCase<'_>>) {
    for (name, path, query, body, code, hint) in cases {
        let (status, v) = app.raw(path, &query, body).await;
        assert_eq!(status, 200, "{name}: HTTP status must be 200: {v}");
        assert_eq!(v["ErrorCode"], code, "{name}: {v}");
        let info = assert_fail(&v, code);
        assert!(
            info.to_lowercase().contains(&hint.to_lowercase()),
            "{name}: ErrorInfo {info:?} should mention {hint:?}"
        );
    }
}

#[actix_web::test]
async fn auth_and_query_errors() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let appid = SDKAPPID.to_string();
    let signed = |key: &str, appid: u64, time: i64, expire: i64| {
        admin_query(&imreceipts::usersig::generate(key, appid, ADMIN, time, expire))
    };
    let admin_sig = sig(ADMIN);
    // (name, query, code, hint); each would import "zed" if it were accepted.
    let cases: Vec<(&str, String, i64, &str)> = vec![
        ("garbage usersig", admin_query("not-a-usersig"), 70003, "usersig"),
        ("sig of another key", signed("another-key", SDKAPPID, now(), 86400), 70009, "key"),
        ("expired sig", signed(KEY, SDKAPPID, now() - 1000, 10), 70001, "expired"),
        ("sig of another identifier", admin_query(&sig("bob")), 70013, "identifier"),
        ("sig of another sdkappid", signed(KEY, SDKAPPID + 1, now(), 86400), 70014, "sdkappid"),
        ("wrong sdkappid", query(Some("1400000001"), Some(ADMIN), Some(&admin_sig)), 60006, "sdkappid"),
        ("missing sdkappid", query(None, Some(ADMIN), Some(&admin_sig)), 60012, "sdkappid"),
        ("non-numeric sdkappid", query(Some("abc"), Some(ADMIN), Some(&admin_sig)), 60002, "sdkappid"),
        ("missing usersig", query(Some(&appid), Some(ADMIN), None), 60002, "usersig"),
        ("missing identifier", query(Some(&appid), None, Some(&admin_sig)), 60002, "identifier"),
        ("non-numeric random", app.query(ADMIN).replace("random=7", "random=abc"), 60002, "random"),
        ("user calls admin command", app.query("alice"), 60010, "admin"),
    ];
    let cases = cases
        .into_iter()
        .map(|(name, q, code, hint)| (name, IMPORT, q, br#"{"UserID":"zed"}"#.to_vec(), code, hint))
        .collect();
    expect_failures(&app, cases).await;
    assert_eq!(account_status(&app, &["zed"]).await, ["NotImported"]);

    let j = |v: Value| v.to_string().into_bytes();
    let unread = "openim/get_c2c_unread_msg_num";
    expect_failures(
        &app,
        vec![
            (
                "user creates group",
                CREATE_GROUP,
                app.query("alice"),
                j(json!({"Type": "Public", "Name": "x"})),
                60010,
                "admin",
            ),
            ("user not imported", unread, app.query("stranger"), j(json!({"To_Account": "stranger"})), 70107, "import"),
        ],
    )
    .await;
}

#[actix_web::test]
async fn body_and_field_errors() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let j = |v: Value| v.to_string().into_bytes();
    let send = |from: &str, to: &str| {
        j(json!({"From_Account": from, "To_Account": to, "MsgRandom": 1, "MsgBody": text_body()}))
    };
    let roam = json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 5, "MinTime": 0,
                      "MaxTime": now(), "LastMsgKey": "1_2_3"});
    let group_send = json!({"GroupId": "nosuch", "Random": 1, "MsgBody": text_body()});
    // (name, path, body, code, hint)
    let cases: Vec<(&str, &str, Vec<u8>, i64, &str)> = vec![
        ("malformed JSON", IMPORT, br#"{"UserID": "#.to_vec(), 60003, "JSON"),
        ("empty body", IMPORT, vec![], 60003, "empty"),
        ("JSON array body", IMPORT, b"[]".to_vec(), 60003, "object"),
        ("oversize body", IMPORT, oversize_import(), 60003, "1 MiB"),
        ("login: missing UserID", IMPORT, b"{}".to_vec(), 70402, "UserID"),
        ("login: UserID too long", IMPORT, j(json!({"UserID": "x".repeat(33)})), 70402, "UserID"),
        ("group: missing Type", CREATE_GROUP, j(json!({"Name": "x"})), 10004, "Type"),
        ("group: unknown Type", CREATE_GROUP, j(json!({"Type": "Secret", "Name": "x"})), 10004, "Type"),
        (
            "openim: missing MsgRandom",
            SENDMSG,
            j(json!({"To_Account": "bob", "MsgBody": text_body()})),
            90001,
            "MsgRandom",
        ),
        (
            "openim: empty MsgBody",
            SENDMSG,
            j(json!({"To_Account": "bob", "MsgRandom": 1, "MsgBody": []})),
            90001,
            "MsgBody",
        ),
        ("openim: unknown From_Account", SENDMSG, send("ghost", "bob"), 90008, "From_Account"),
        ("openim: unknown To_Account", SENDMSG, send("alice", "ghost"), 90003, "To_Account"),
        ("openim: unknown LastMsgKey", "openim/admin_getroammsg", j(roam), 90054, "LastMsgKey"),
        (
            "group: unknown group",
            "group_open_http_svc/get_group_member_info",
            j(json!({"GroupId": "nosuch"})),
            10010,
            "nosuch",
        ),
        ("group: send to unknown group", "group_open_http_svc/send_group_msg", j(group_send), 10010, "nosuch"),
        ("unknown command", "im_open_login_svc/no_such_command", b"{}".to_vec(), 60009, "no_such_command"),
        ("unknown service", "no_such_svc/account_import", b"{}".to_vec(), 60009, "no_such_svc"),
    ];
    let good = app.query(ADMIN);
    let cases =
        cases.into_iter().map(|(n, path, body, code, hint)| (n, path, good.clone(), body, code, hint)).collect();
    expect_failures(&app, cases).await;
    // Nothing was stored by the refused calls.
    assert_eq!(account_status(&app, &["zed"]).await, ["NotImported"]);
    let v = app.ok("openim/admin_getroammsg", json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 5, "MinTime": 0, "MaxTime": now() + 10})).await;
    assert_eq!(v["MsgCnt"], 0, "{v}");
}

#[actix_web::test]
async fn oversize_chunked_body_is_refused_without_reading_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v4/im_open_login_svc/account_import?{} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.query(ADMIN)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Valid JSON of 1 MiB + 64 KiB in chunks of 64 KiB; the server may stop reading at any point.
    let body = format!(r#"{{"UserID":"big","Pad":"{}"}}"#, "a".repeat(1024 * 1024 + 0x10000));
    for chunk in body.as_bytes().chunks(0x10000) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut resp)).await;
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = &text[text.find('{').expect("JSON body")..=text.rfind('}').unwrap()];
    let v: Value = serde_json::from_str(body).unwrap();
    assert_fail(&v, 60003);
    assert_eq!(account_status(&app, &["big"]).await, ["NotImported"]);
}

#[actix_web::test]
async fn body_is_json_whatever_the_content_type() {
    let app = spawn_app().await;
    // No Content-Type at all.
    let (status, v) = app.raw(IMPORT, &app.query(ADMIN), r#"{"UserID":"nohdr"}"#.to_string()).await;
    assert_eq!((status, v["ActionStatus"].as_str(), v["ErrorCode"].as_i64()), (200, Some("OK"), Some(0)), "{v}");
    assert_eq!(v["ErrorInfo"], "");
    // text/plain, application/json and a form type.
    for (ctype, user) in
        [("text/plain", "plain"), ("application/json", "json"), ("application/x-www-form-urlencoded", "form")]
    {
        let resp = app
            .client
            .post(format!("{}/v4/im_open_login_svc/account_import?{}", app.base, app.query(ADMIN)))
            .header("content-type", ctype)
            .body(json!({"UserID": user}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["ErrorCode"], 0, "{ctype}: {v}");
    }
    assert_eq!(account_status(&app, &["nohdr", "plain", "json", "form"]).await, ["Imported"; 4]);
}

#[actix_web::test]
async fn user_sig_acts_only_as_its_user() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    app.c2c_msg("bob", "alice", false).await;
    app.c2c_msg("bob", "alice", true).await;

    let v = app
        .call_as("alice", "openim/get_c2c_unread_msg_num", json!({"To_Account": "alice", "Peer_Account": ["bob"]}))
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    assert_eq!(v["AllC2CUnreadMsgNum"], 2);
    assert_eq!(v["C2CUnreadMsgNumList"], json!([{"Peer_Account": "bob", "C2CUnreadMsgNum": 2}]));

    let v = app.call_as("alice", "openim/get_c2c_unread_msg_num", json!({"To_Account": "bob"})).await;
    assert_fail(&v, 60010);
    // The admin may ask for anyone.
    let v = app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": "bob"})).await;
    assert_eq!(v["AllC2CUnreadMsgNum"], 0);
}

#[actix_web::test]
async fn cli_prints_a_verifiable_usersig() {
    let dir = std::env::temp_dir().join(format!("imr-cli-{:016x}", rand::random::<u64>()));
    let run = |with_key: bool| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_imreceipts"));
        cmd.args(["usersig", "--identifier", "bob"])
            .env("IMRECEIPTS_DATA_DIR", &dir)
            .env_remove("IMRECEIPTS_SDKAPPID")
            .env_remove("IMRECEIPTS_SECRET_KEY")
            .env_remove("IMRECEIPTS_ADMINS");
        if with_key {
            cmd.env("IMRECEIPTS_SDKAPPID", SDKAPPID.to_string()).env("IMRECEIPTS_SECRET_KEY", KEY);
        }
        async move {
            let out = cmd.output().await.expect("run the imreceipts binary");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let stdout = String::from_utf8(out.stdout).unwrap();
            let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "stdout must be just the UserSig: {stdout:?}");
            lines[0].trim().to_string()
        }
    };

    let sig = run(true).await;
    imreceipts::usersig::verify(KEY, SDKAPPID, "bob", &sig, now()).expect("CLI UserSig verifies");
    assert!(imreceipts::usersig::verify(KEY, SDKAPPID, "alice", &sig, now()).is_err());

    // Without configuration the identity is generated once, persisted, and reused.
    let first = run(false).await;
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("app.json")).unwrap()).unwrap();
    let (appid, key) = (stored["sdkappid"].as_u64().unwrap(), stored["secret_key"].as_str().unwrap());
    let second = run(false).await;
    for s in [&first, &second] {
        imreceipts::usersig::verify(key, appid, "bob", s, now()).expect("verifies with the persisted identity");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn non_post_calls_get_the_envelope() {
    let app = spawn_app().await;
    let url = format!("{}/v4/im_open_login_svc/account_check?{}", app.base, app.query(ADMIN));
    let resp = app.client.get(url).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.expect("json");
    let info = assert_fail(&v, 60002);
    assert!(info.contains("POST"), "{info}");
}

#[actix_web::test]
async fn nul_characters_are_kept_in_message_bodies_and_refused_elsewhere() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    // Tencent's samples carry binary data in message elements ("Data": "abc\u0000\u0001").
    let face = json!([{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 6, "Data": "abc\u{0}\u{1}"}}]);
    app.ok("openim/sendmsg", json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": face}))
        .await;
    let roam = app
        .ok("openim/admin_getroammsg", json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 1, "MinTime": 0, "MaxTime": now() + 60}))
        .await;
    assert_eq!(roam["MsgList"][0]["MsgBody"], face, "stored and answered byte for byte");
    // A retry with the NUL body is still recognised as the same message.
    app.ok("openim/sendmsg", json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": 1, "MsgBody": face}))
        .await;
    let roam = app
        .ok("openim/admin_getroammsg", json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 10, "MinTime": 0, "MaxTime": now() + 60}))
        .await;
    assert_eq!(roam["MsgCnt"], 1);

    let body = r#"{"From_Account":"al\u0000ice","To_Account":"bob","MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"ab"}}]}"#;
    let (status, v) = app.raw("openim/sendmsg", &app.query(ADMIN), body).await;
    assert_eq!(status, 200);
    let info = assert_fail(&v, 90001);
    assert!(info.contains("NUL"), "{info}");
    let v = app.call("group_open_http_svc/create_group", json!({"Type": "Public", "Name": "a\u{0}b"})).await;
    assert_fail(&v, 10004);
}
