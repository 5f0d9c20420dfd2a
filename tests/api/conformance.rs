//! One conformance test per Tencent command: the request sample of Tencent's documentation page
//! (cited above each call; `//` comments of the samples removed, ids of groups replaced by the
//! ones created here) is accepted, and the answer holds every field of the page's response
//! sample with the same JSON type. Known, documented differences are listed in `SKIPPED`.

use serde_json::{json, Value};

use crate::helpers::*;

/// Fields of Tencent's samples that imreceipts does not answer (README, "Known differences").
const SKIPPED: [&str; 3] = ["AppDefinedData", "AppMemberDefinedData", "RequestId"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every field of `sample` is in `got` with the same JSON type (recursively; arrays compare
/// their first elements).
fn same_shape(sample: &Value, got: &Value, at: &str, problems: &mut Vec<String>) {
    if kind(sample) != kind(got) {
        problems.push(format!("{at}: Tencent sends {} ({sample}), imreceipts {} ({got})", kind(sample), kind(got)));
        return;
    }
    match (sample, got) {
        (Value::Object(s), Value::Object(g)) => {
            for (k, v) in s {
                if SKIPPED.contains(&k.as_str()) {
                    continue;
                }
                match g.get(k) {
                    Some(gv) => same_shape(v, gv, &format!("{at}.{k}"), problems),
                    None => problems.push(format!("{at}.{k}: missing")),
                }
            }
        }
        (Value::Array(s), Value::Array(g)) => {
            if let (Some(s0), Some(g0)) = (s.first(), g.first()) {
                same_shape(s0, g0, &format!("{at}[0]"), problems);
            }
        }
        _ => {}
    }
}

/// Posts `request` to `path` as the admin, expects success and the shape of `response`.
async fn conform(app: &TestApp, path: &str, request: Value, response: Value) -> Value {
    let got = app.call(path, request.clone()).await;
    assert_eq!(got["ErrorCode"], 0, "{path} refused Tencent's sample {request}: {got}");
    let mut problems = Vec::new();
    same_shape(&response, &got, path, &mut problems);
    assert!(
        problems.is_empty(),
        "{path} differs from Tencent's response sample:\n  {}\ngot: {got}",
        problems.join("\n  ")
    );
    got
}

fn envelope() -> Value {
    json!({"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0})
}

fn with(base: Value, extra: Value) -> Value {
    let mut v = base;
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    v
}

#[actix_web::test]
async fn login_service_samples() {
    let app = spawn_app().await;
    // https://cloud.tencent.com/document/product/269/1608
    conform(
        &app,
        "im_open_login_svc/account_import",
        json!({"UserID": "test", "Nick": "test", "FaceUrl": "http://www.qq.com"}),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1609
    conform(
        &app,
        "im_open_login_svc/multiaccount_import",
        json!({"Accounts": ["test1", "test2", "test3"]}),
        with(envelope(), json!({"FailAccounts": ["test3"]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/38417
    conform(
        &app,
        "im_open_login_svc/account_check",
        json!({"CheckItem": [{"UserID": "UserID_1"}, {"UserID": "test1"}]}),
        with(envelope(), json!({"ResultItem": [{"UserID": "UserID_1", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "NotImported"}]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/36443
    conform(
        &app,
        "im_open_login_svc/account_delete",
        json!({"DeleteItem": [{"UserID": "test1"}, {"UserID": "test2"}]}),
        with(envelope(), json!({"ResultItem": [{"ResultCode": 0, "ResultInfo": "", "UserID": "test1"}]})),
    )
    .await;
}

#[actix_web::test]
async fn openim_samples() {
    let app = spawn_app().await;
    app.import(&[
        "administrator",
        "lumotuwe1",
        "lumotuwe2",
        "bonnie",
        "rong",
        "user1",
        "user2",
        "dramon1",
        "dramon2",
        "teacher",
        "vinson",
        "dramon",
    ])
    .await;
    let text = json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi, beauty"}}]);
    // https://cloud.tencent.com/document/product/269/2282 (admin sends to another account)
    conform(
        &app,
        "openim/sendmsg",
        json!({"SyncOtherMachine": 2, "To_Account": "lumotuwe2", "MsgSeq": 93847636, "MsgRandom": 1287657, "MsgBody": text,
               "CloudCustomData": "your cloud custom data", "SupportMessageExtension": 0}),
        with(envelope(), json!({"MsgTime": 1572870301, "MsgKey": "89541_2574206_1572870301"})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1612
    conform(
        &app,
        "openim/batchsendmsg",
        json!({"SyncOtherMachine": 2, "To_Account": ["bonnie", "rong"], "MsgSeq": 28360, "MsgRandom": 19901224, "MsgBody": text}),
        with(envelope(), json!({"MsgKey": "28360_19901224_1572870301", "ErrorList": []})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/2568 (history import)
    let import = json!({"SyncFromOldSystem": 2, "From_Account": "lumotuwe1", "To_Account": "lumotuwe2", "MsgSeq": 827092,
                        "MsgRandom": 1287657, "MsgTimeStamp": 1556178721, "MsgBody": text, "CloudCustomData": "your cloud custom data"});
    conform(&app, "openim/importmsg", import.clone(), envelope()).await;
    // Real-time import during a migration (same page).
    conform(&app, "openim/importmsg", with(import, json!({"SyncFromOldSystem": 5, "MsgSeq": 827093})), envelope())
        .await;

    // https://cloud.tencent.com/document/product/269/42794 (both request spellings)
    let page = with(
        envelope(),
        json!({"Complete": 1, "MsgCnt": 2, "LastMsgTime": 1584669601, "LastMsgKey": "1456_23287_1584669601",
               "MsgList": [{"From_Account": "user1", "To_Account": "user2", "MsgSeq": 1456, "MsgRandom": 23287, "MsgTimeStamp": 1584669601,
                            "MsgFlagBits": 0, "IsPeerRead": 0, "MsgKey": "1456_23287_1584669601",
                            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "msg 13"}}], "CloudCustomData": "your cloud custom data"}]}),
    );
    for (seq, random, time) in [(549396494, 2578554, 1584669680), (1456, 23287, 1584669601)] {
        app.ok(
            "openim/importmsg",
            json!({"SyncFromOldSystem": 2, "From_Account": "user1", "To_Account": "user2", "MsgSeq": seq, "MsgRandom": random,
                   "MsgTimeStamp": time, "MsgBody": text, "CloudCustomData": "your cloud custom data", "IsNeedReadReceipt": 1}),
        )
        .await;
    }
    let old = json!({"From_Account": "user2", "To_Account": "user1", "MaxCnt": 100, "MinTime": 1584669600, "MaxTime": 1584673200});
    let got = conform(&app, "openim/admin_getroammsg", old, page.clone()).await;
    assert_eq!(got["LastMsgKey"], "1456_23287_1584669601", "the oldest message of the page");
    let new = json!({"Operator_Account": "user2", "Peer_Account": "user1", "MaxCnt": 100, "MinTime": 1584669600, "MaxTime": 1584673200});
    conform(&app, "openim/admin_getroammsg", new, page).await;

    // https://cloud.tencent.com/document/product/269/104121
    conform(
        &app,
        "openim/c2c_msg_read_receipt",
        json!({"Operator_Account": "user2", "Peer_Account": "user1",
               "C2CMsgInfo": [{"From_Account": "user1", "To_Account": "user2", "MsgKey": "549396494_2578554_1584669680"}]}),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/50349
    conform(
        &app,
        "openim/admin_set_msg_read",
        json!({"Report_Account": "dramon1", "Peer_Account": "dramon2"}),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/56043 (both forms)
    conform(
        &app,
        "openim/get_c2c_unread_msg_num",
        json!({"To_Account": "dramon1"}),
        with(envelope(), json!({"AllC2CUnreadMsgNum": 12})),
    )
    .await;
    conform(
        &app,
        "openim/get_c2c_unread_msg_num",
        json!({"To_Account": "dramon1", "Peer_Account": ["dramon2", "teacher"]}),
        with(envelope(), json!({"C2CUnreadMsgNumList": [{"Peer_Account": "dramon2", "C2CUnreadMsgNum": 12}]})),
    )
    .await;
    // https://www.tencentcloud.com/document/product/1047/35015
    app.ok(
        "openim/importmsg",
        json!({"SyncFromOldSystem": 2, "From_Account": "vinson", "To_Account": "dramon", "MsgSeq": 31906, "MsgRandom": 833502,
               "MsgTimeStamp": 1572869830, "MsgBody": text}),
    )
    .await;
    conform(
        &app,
        "openim/admin_msgwithdraw",
        json!({"From_Account": "vinson", "To_Account": "dramon", "MsgKey": "31906_833502_1572869830"}),
        envelope(),
    )
    .await;
}

/// Replaces the group ids of Tencent's samples with `gid`.
fn for_group(sample: Value, gid: &str) -> Value {
    let text = sample.to_string();
    let re_ids = [
        "@TGS#2J4SZEAEL",
        "@TGS#1NVTZEAE4",
        "@TGS#2C5SZEAEF",
        "@TGS#2CLUZEAEJ",
        "@TGS#15ERQPAER",
        "@TGS#2TTV7VSII",
        "@TGS#2KIFZCIPQ",
    ];
    let replaced = re_ids.iter().fold(text, |t, id| t.replace(id, gid));
    serde_json::from_str(&replaced).unwrap()
}

fn member_sample() -> Value {
    json!({"Member_Account": "leckie", "Role": "Owner", "JoinTime": 1425976500, "MsgSeq": 1233, "MsgFlag": "AcceptAndNotify",
           "LastSendMsgTime": 1425976500, "ShutUpUntil": 1431069882, "AppMemberDefinedData": []})
}

#[actix_web::test]
async fn group_samples() {
    let app = spawn_app().await;
    app.import(&["leckie", "peter", "tommy", "jared", "bob", "emily", "brennanli"]).await;
    // https://cloud.tencent.com/document/product/269/1615
    let v = conform(
        &app,
        "group_open_http_svc/create_group",
        json!({"Owner_Account": "leckie", "Type": "Public", "Name": "TestGroup"}),
        with(envelope(), json!({"GroupId": "@TGS#2J4SZEAEL"})),
    )
    .await;
    let gid = v["GroupId"].as_str().unwrap().to_string();
    let g = |sample: Value| for_group(sample, &gid);

    // https://cloud.tencent.com/document/product/269/1621
    conform(
        &app,
        "group_open_http_svc/add_group_member",
        g(json!({"GroupId": "@TGS#2J4SZEAEL", "MemberList": [{"Member_Account": "tommy"}, {"Member_Account": "jared"}, {"Member_Account": "bob"}, {"Member_Account": "peter"}]})),
        with(envelope(), json!({"MemberList": [{"Member_Account": "tommy", "Result": 1}]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1629
    conform(
        &app,
        "group_open_http_svc/send_group_msg",
        g(json!({"GroupId": "@TGS#2C5SZEAEF", "Random": 8912345,
                 "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}, {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 6, "Data": "abc\u{0}\u{1}"}}]})),
        with(envelope(), json!({"MsgTime": 1497249503, "MsgSeq": 1})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/2738 (both forms)
    let history = with(
        envelope(),
        json!({"GroupId": "@TGS#15ERQPAER", "IsFinished": 1,
               "RspMsgList": [{"From_Account": "144115197276518801", "IsPlaceMsg": 0, "MsgBody": [{"MsgContent": {"Text": "报上来"}, "MsgType": "TIMTextElem"}],
                               "MsgPriority": 1, "MsgRandom": 51083293, "MsgSeq": 7803321, "MsgTimeStamp": 1458721802}]}),
    );
    conform(
        &app,
        "group_open_http_svc/group_msg_get_simple",
        g(json!({"GroupId": "@TGS#15ERQPAER", "ReqMsgNumber": 2})),
        history.clone(),
    )
    .await;
    conform(
        &app,
        "group_open_http_svc/group_msg_get_simple",
        g(json!({"GroupId": "@TGS#15ERQPAER", "ReqMsgSeq": 7803321, "ReqMsgNumber": 2})),
        history,
    )
    .await;

    // https://cloud.tencent.com/document/product/269/1616
    conform(
        &app,
        "group_open_http_svc/get_group_info",
        g(json!({"GroupIdList": ["@TGS#1NVTZEAE4"]})),
        with(
            envelope(),
            json!({"GroupInfo": [{"GroupId": "@TGS#2J4SZEAEL", "ErrorCode": 0, "ErrorInfo": "", "Type": "Public", "Name": "MyFirstGroup", "Appid": 1400001001,
                   "Introduction": "TestGroup", "Notification": "TestGroup", "FaceUrl": "http://this.is.face.url", "Owner_Account": "leckie",
                   "CreateTime": 1426976500, "LastInfoTime": 1426976500, "LastMsgTime": 1426976600, "NextMsgSeq": 1234, "MemberNum": 2,
                   "MaxMemberNum": 50, "ApplyJoinOption": "FreeAccess", "ShutUpAllMember": "On", "AppDefinedData": [], "MemberList": [member_sample()]}]}),
        ),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1617 (basic and paged)
    let members = with(envelope(), json!({"MemberNum": 2, "MemberList": [member_sample()]}));
    conform(
        &app,
        "group_open_http_svc/get_group_member_info",
        g(json!({"GroupId": "@TGS#1NVTZEAE4"})),
        members.clone(),
    )
    .await;
    conform(
        &app,
        "group_open_http_svc/get_group_member_info",
        g(json!({"GroupId": "@TGS#1NVTZEAE4", "Limit": 100, "Offset": 0})),
        members,
    )
    .await;
    // https://trtc.io/document/64897
    conform(
        &app,
        "group_open_http_svc/get_specified_group_member_info",
        g(json!({"GroupId": "@TGS#2KIFZCIPQ", "Member_List_Account": ["bob", "peter"],
                 "MemberInfoFilter": ["Role", "JoinTime", "MsgSeq", "MsgFlag", "LastSendMsgTime", "MuteUntil", "NameCard"]})),
        with(
            envelope(),
            json!({"GroupId": "@TGS#2KIFZCIPQ", "MemberList": [{"JoinTime": 1728964923, "LastSendMsgTime": 1728973475, "Member_Account": "bob",
                   "MsgFlag": "AcceptAndNotify", "MsgSeq": 7, "MuteUntil": 1728977081, "NameCard": "bob", "Role": "Member"}]}),
        ),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1623 (set admin, unset, message flag, name card)
    for sample in [
        json!({"GroupId": "@TGS#2CLUZEAEJ", "Member_Account": "bob", "Role": "Admin"}),
        json!({"GroupId": "@TGS#2CLUZEAEJ", "Member_Account": "bob", "Role": "Member"}),
        json!({"GroupId": "@TGS#2CLUZEAEJ", "Member_Account": "bob", "MsgFlag": "AcceptAndNotify"}),
        json!({"GroupId": "@TGS#2CLUZEAEJ", "Member_Account": "bob", "NameCard": "bob"}),
        json!({"GroupId": "@TGS#2CLUZEAEJ", "Member_Account": "bob", "ShutUpTime": 86400}),
    ] {
        conform(&app, "group_open_http_svc/modify_group_member_info", g(sample), envelope()).await;
    }
    // https://cloud.tencent.com/document/product/269/1626
    conform(
        &app,
        "group_open_http_svc/get_role_in_group",
        g(json!({"GroupId": "@TGS#2J4SZEAEL", "User_Account": ["leckie", "peter", "wesley"]})),
        with(envelope(), json!({"UserIdList": [{"Member_Account": "leckie", "Role": "Owner"}]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1625
    conform(
        &app,
        "group_open_http_svc/get_joined_group_list",
        json!({"Member_Account": "bob", "Limit": 10, "Offset": 0,
               "ResponseFilter": {"GroupBaseInfoFilter": ["Type", "Name", "Introduction", "Notification", "FaceUrl", "CreateTime", "Owner_Account",
                                  "LastInfoTime", "LastMsgTime", "NextMsgSeq", "MemberNum", "MaxMemberNum", "ApplyJoinOption", "ShutUpAllMember"],
                                  "SelfInfoFilter": ["Role", "JoinTime", "MsgFlag", "MsgSeq"]}}),
        with(
            envelope(),
            json!({"TotalCount": 1, "GroupIdList": [{"ApplyJoinOption": "DisableApply", "CreateTime": 1585718204, "FaceUrl": "", "GroupId": "@TGS#16UMONKGG",
                   "Introduction": "", "LastInfoTime": 1588148506, "LastMsgTime": 0, "MaxMemberNum": 200, "MemberNum": 1, "Name": "d", "NextMsgSeq": 2,
                   "Notification": "", "Owner_Account": "", "SelfInfo": {"JoinTime": 1588148506, "MsgFlag": "AcceptAndNotify", "Role": "Member", "MsgSeq": 1},
                   "ShutUpAllMember": "Off", "Type": "Private"}]}),
        ),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1620 (InviteJoinOption and From_Account are accepted and ignored)
    conform(
        &app,
        "group_open_http_svc/modify_group_base_info",
        g(json!({"GroupId": "@TGS#1NVTZEAE4", "Name": "NewName", "Introduction": "NewIntroduction", "Notification": "NewNotification",
                 "FaceUrl": "http://this.is.new.face.url", "MaxMemberNum": 500, "ApplyJoinOption": "NeedPermission", "MuteAllMember": "On",
                 "InviteJoinOption": "FreeAccess", "From_Account": "brennanli"})),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/12341
    conform(
        &app,
        "group_open_http_svc/group_msg_recall",
        g(json!({"GroupId": "@TGS#2J4SZEAEL", "MsgSeqList": [{"MsgSeq": 100}, {"MsgSeq": 1}], "Reason": "撤回原因"})),
        with(envelope(), json!({"RecallRetList": [{"MsgSeq": 100, "RetCode": 10030}]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1633 (both versions)
    conform(
        &app,
        "group_open_http_svc/change_group_owner",
        g(json!({"GroupId": "@TGS#1NVTZEAE4", "NewOwner_Account": "peter"})),
        envelope(),
    )
    .await;
    conform(
        &app,
        "group_open_http_svc/change_group_owner",
        g(json!({"GroupId": "@TGS#1NVTZEAE4", "NewOwner_Account": "leckie", "From_Account": "emily"})),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1622
    conform(
        &app,
        "group_open_http_svc/delete_group_member",
        g(json!({"GroupId": "@TGS#2J4SZEAEL", "MemberToDel_Account": ["tommy", "jared"]})),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1624
    conform(&app, "group_open_http_svc/destroy_group", g(json!({"GroupId": "@TGS#2J4SZEAEL"})), envelope()).await;
}

#[actix_web::test]
async fn group_receipt_samples() {
    let app = spawn_app().await;
    app.import(&["leckie", "peter", "bob"]).await;
    let gid = app.group("Work", "leckie", &["peter", "bob"]).await;
    let g = |sample: Value| for_group(sample, &gid);
    app.group_msg(&gid, "leckie", true).await;
    app.group_msg(&gid, "leckie", true).await;
    // https://cloud.tencent.com/document/product/269/107478 (request fields as sent by doocs' GroupMsgReceiptRequest)
    conform(
        &app,
        "group_open_http_svc/group_msg_receipt",
        g(json!({"GroupId": "@TGS#2TTV7VSII", "From_Account": "peter", "MsgSeqList": [{"MsgSeq": 1}]})),
        envelope(),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/77694
    conform(
        &app,
        "group_open_http_svc/get_group_msg_receipt",
        g(json!({"GroupId": "@TGS#2TTV7VSII", "MsgSeqList": [{"MsgSeq": 1}, {"MsgSeq": 2}]})),
        with(envelope(), json!({"GroupMsgReceiptList": [{"Code": 0, "MsgSeq": 1, "ReadNum": 1, "UnreadNum": 6}]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/77693 (the page has no response sample; fields from its text)
    let v = conform(
        &app,
        "group_open_http_svc/get_group_msg_receipt_detail",
        g(json!({"GroupId": "@TGS#2TTV7VSII", "MsgSeq": 1, "Filter": 1, "Cursor": "", "Count": 5})),
        with(envelope(), json!({"IsFinish": 1, "Cursor": "", "UnreadList": [{"Unread_Account": "bob"}]})),
    )
    .await;
    assert_eq!(v["UnreadList"], json!([{"Unread_Account": "bob"}]));
}

#[actix_web::test]
async fn import_samples() {
    let app = spawn_app().await;
    app.import(&["leckie", "tommy", "jared", "peter"]).await;
    // https://cloud.tencent.com/document/product/269/1634
    let v = conform(
        &app,
        "group_open_http_svc/import_group",
        json!({"Owner_Account": "leckie", "Type": "Public", "Name": "TestGroup", "CreateTime": 1448357837}),
        with(envelope(), json!({"GroupId": "@TGS#2J4SZEAEL"})),
    )
    .await;
    let gid = v["GroupId"].as_str().unwrap().to_string();
    let g = |sample: Value| for_group(sample, &gid);
    // https://cloud.tencent.com/document/product/269/1636
    conform(
        &app,
        "group_open_http_svc/import_group_member",
        g(json!({"GroupId": "@TGS#2J4SZEAEL", "MemberList": [{"Member_Account": "tommy", "Role": "Admin", "JoinTime": 1448357837, "UnreadMsgNum": 5},
                                                             {"Member_Account": "jared", "JoinTime": 1448357857, "UnreadMsgNum": 2}]})),
        with(envelope(), json!({"MemberList": [{"Member_Account": "tommy", "Result": 1}]})),
    )
    .await;
    // https://cloud.tencent.com/document/product/269/1635
    let v = conform(
        &app,
        "group_open_http_svc/import_group_msg",
        g(json!({"GroupId": "@TGS#2C5SZEAEF", "RecentContactFlag": 1, "MsgList": [
            {"From_Account": "leckie", "SendTime": 1620808101, "Random": 8912345,
             "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}, {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 6, "Data": "abc\u{0}\u{1}"}}]},
            {"From_Account": "peter", "SendTime": 1620892821, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}]}]})),
        with(envelope(), json!({"ImportMsgResult": [{"MsgSeq": 1, "MsgTime": 1620808101, "Result": 0}]})),
    )
    .await;
    assert_eq!(v["ImportMsgResult"][1], json!({"MsgSeq": 2, "MsgTime": 1620892821, "Result": 0}));
}
