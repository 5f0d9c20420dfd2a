//! Delivery and read receipts: group counts and reader lists, membership changes around a
//! message, conversation-level read, C2C receipts, user-level access and receipt config.

use serde_json::{json, Value};

use crate::helpers::*;

const RECEIPT: &str = "group_open_http_svc/group_msg_receipt";
const COUNTS: &str = "group_open_http_svc/get_group_msg_receipt";
const DETAIL: &str = "group_open_http_svc/get_group_msg_receipt_detail";
const DELIVERED: &str = "receipt_svc/msg_delivered";
const READ_REPORT: &str = "receipt_svc/group_msg_read_report";
const C2C_READ: &str = "openim/c2c_msg_read_receipt";
const C2C_STATE: &str = "receipt_svc/get_c2c_msg_receipt";
const SET_CONFIG: &str = "receipt_svc/set_receipt_config";

/// Filter values of `get_group_msg_receipt_detail`.
pub const READ: i64 = 0;
pub const UNREAD: i64 = 1;

/// Imports `owner` and `members`, creates a group of `gtype`; returns its id.
pub async fn group_with(app: &TestApp, gtype: &str, owner: &str, members: &[&str]) -> String {
    let mut all = vec![owner];
    all.extend_from_slice(members);
    app.import(&all).await;
    app.group(gtype, owner, members).await
}

/// `group_msg_receipt` as the admin for `reader`, without AckContent.
pub async fn receipt(app: &TestApp, gid: &str, reader: &str, seqs: &[i64]) -> Value {
    let list: Vec<Value> = seqs.iter().map(|s| json!({"MsgSeq": s})).collect();
    app.call(RECEIPT, json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": list})).await
}

/// `group_msg_receipt` that must succeed; returns NewlyReadNum.
pub async fn read(app: &TestApp, gid: &str, reader: &str, seqs: &[i64]) -> i64 {
    let v = receipt(app, gid, reader, seqs).await;
    assert_eq!(v["ErrorCode"], 0, "receipt of {reader} for {seqs:?}: {v}");
    v["NewlyReadNum"].as_i64().unwrap()
}

/// One page of `get_group_msg_receipt_detail` as the admin.
pub async fn detail(app: &TestApp, gid: &str, seq: i64, filter: i64, cursor: &str, count: i64) -> Value {
    app.call(DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": filter, "Cursor": cursor, "Count": count})).await
}

/// Walks the read (`READ`) or unread (`UNREAD`) list to the end with pages of `count`;
/// returns the page entries in order, checking the paging fields on the way.
pub async fn walk(app: &TestApp, gid: &str, seq: i64, filter: i64, count: i64) -> Vec<Value> {
    let (list, key) = if filter == READ { ("ReadList", "Read_Account") } else { ("UnreadList", "Unread_Account") };
    let mut cursor = String::new();
    let mut out = Vec::new();
    for page_no in 0.. {
        assert!(page_no < 100_000, "list of {gid}/{seq} never finishes");
        let v = detail(app, gid, seq, filter, &cursor, count).await;
        assert_eq!(v["ErrorCode"], 0, "page {page_no} of {gid}/{seq}: {v}");
        assert_eq!(v["MsgSeq"], seq);
        assert_eq!(v["IsFinish"], v["IsFinished"], "{v}");
        let items = v[list].as_array().unwrap_or_else(|| panic!("no {list}: {v}"));
        assert!(items.len() as i64 <= count.min(200), "page larger than asked: {v}");
        assert!(items.iter().all(|i| i[key].is_string()), "{v}");
        out.extend(items.iter().cloned());
        if v["IsFinish"] == 1 {
            break;
        }
        assert_eq!(items.len() as i64, count.min(200), "a page before the last must be full: {v}");
        cursor = v["Cursor"].as_str().unwrap().to_string();
        assert!(!cursor.is_empty(), "an unfinished page needs a Cursor: {v}");
    }
    out
}

/// The accounts of a walked list, asserting they are strictly ascending (so no duplicates).
pub async fn accounts(app: &TestApp, gid: &str, seq: i64, filter: i64, count: i64) -> Vec<String> {
    let key = if filter == READ { "Read_Account" } else { "Unread_Account" };
    let names: Vec<String> =
        walk(app, gid, seq, filter, count).await.iter().map(|i| i[key].as_str().unwrap().to_string()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "list of {gid}/{seq} is not strictly ordered: {names:?}");
    names
}

/// Asserts that the counts of (gid, seq) are `(read, unread)` and agree with both lists.
async fn assert_counts(app: &TestApp, gid: &str, seq: i64, read: &[&str], unread: &[&str]) {
    let (r, u, _, code) = app.counts(gid, seq).await;
    assert_eq!(code, 0);
    assert_eq!((r, u), (read.len() as i64, unread.len() as i64), "counts of {gid}/{seq}");
    assert_eq!(accounts(app, gid, seq, READ, 2).await, read, "read list of {gid}/{seq}");
    assert_eq!(accounts(app, gid, seq, UNREAD, 2).await, unread, "unread list of {gid}/{seq}");
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------- group: counting

#[actix_web::test]
async fn group_receipt_counts_and_lists() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2", "m3", "m4"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    // Eligible readers: every member but the sender.
    assert_eq!(app.counts(&gid, seq).await, (0, 4, 0, 0));
    assert_counts(&app, &gid, seq, &[], &["m1", "m2", "m3", "m4"]).await;

    assert_eq!(read(&app, &gid, "m2", &[seq]).await, 1);
    assert_eq!(app.counts(&gid, seq).await, (1, 3, 1, 0), "read implies delivered");
    assert_counts(&app, &gid, seq, &["m2"], &["m1", "m3", "m4"]).await;
    let page = detail(&app, &gid, seq, READ, "", 10).await;
    let now = chrono::Utc::now().timestamp();
    let read_time = page["ReadList"][0]["ReadTime"].as_i64().unwrap();
    assert!((now - 60..=now).contains(&read_time), "ReadTime {read_time} is not the time of the receipt");
    assert_eq!(page["ReadList"][0]["AckContent"], "");
    assert_eq!(
        (page["IsFinish"].clone(), page["IsFinished"].clone(), page["Cursor"].clone()),
        (json!(1), json!(1), json!(""))
    );

    // A message sent by the admin as the system (no From_Account) is read by every member.
    let v = app
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "Random": 1, "NeedReadReceipt": 1, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]}),
        )
        .await;
    let system = v["MsgSeq"].as_i64().unwrap();
    assert_eq!(app.counts(&gid, system).await, (0, 5, 0, 0));
}

#[actix_web::test]
async fn repeated_receipts_change_no_count() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["m1", "m2"]).await;
    let a = app.group_msg(&gid, "owner", true).await;
    let b = app.group_msg(&gid, "owner", true).await;
    let first = app
        .ok(
            RECEIPT,
            json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": [{"MsgSeq": a, "AckContent": "first"}]}),
        )
        .await;
    assert_eq!(first["NewlyReadNum"], 1);
    let before = detail(&app, &gid, a, READ, "", 10).await["ReadList"].clone();

    // The same receipt again, the same seq twice in one call, and a mix with a new one.
    let again = app
        .ok(
            RECEIPT,
            json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": [{"MsgSeq": a, "AckContent": "second"}]}),
        )
        .await;
    assert_eq!(again["NewlyReadNum"], 0);
    assert_eq!(read(&app, &gid, "m1", &[a, a, a]).await, 0);
    assert_eq!(read(&app, &gid, "m1", &[b, a, b]).await, 1);
    assert_eq!(read(&app, &gid, "m1", &[a, b]).await, 0);

    assert_eq!(app.counts(&gid, a).await, (1, 1, 1, 0));
    assert_eq!(app.counts(&gid, b).await, (1, 1, 1, 0));
    // Neither the read time nor the AckContent of the first receipt moved.
    assert_eq!(detail(&app, &gid, a, READ, "", 10).await["ReadList"], before);
    assert_eq!(before[0]["AckContent"], "first");
    // A delivery ack after the read changes nothing either.
    let v = app.ok(DELIVERED, json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": [{"MsgSeq": a}]})).await;
    assert_eq!(v["NewlyDeliveredNum"], 0);
    assert_eq!(app.counts(&gid, a).await, (1, 1, 1, 0));
}

#[actix_web::test]
async fn receipt_items_are_judged_one_by_one() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2"]).await;
    let plain = app.group_msg(&gid, "owner", false).await;
    let ok = app.group_msg(&gid, "owner", true).await;

    // A call whose every item is bad fails with the (first) item's code and writes nothing.
    assert_fail(&receipt(&app, &gid, "m1", &[999]).await, 10062);
    assert_fail(&receipt(&app, &gid, "m1", &[plain]).await, 10062);
    assert_fail(&receipt(&app, &gid, "m1", &[plain, 999]).await, 10062);
    assert_fail(&receipt(&app, &gid, "owner", &[ok]).await, 10004);
    assert_eq!(app.counts(&gid, ok).await, (0, 2, 0, 0));
    assert!(accounts(&app, &gid, ok, READ, 10).await.is_empty());
    // Otherwise the good items are recorded and each bad one is reported with its code.
    let v = app
        .call(DELIVERED, json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": [{"MsgSeq": ok}, {"MsgSeq": 999}]}))
        .await;
    assert_eq!((v["ErrorCode"].as_i64(), v["NewlyDeliveredNum"].as_i64()), (Some(0), Some(1)), "{v}");
    assert_eq!(v["ErrorList"][0]["MsgSeq"], 999);
    assert_eq!(v["ErrorList"][0]["ErrorCode"], 10062);
    assert_eq!(app.counts(&gid, ok).await, (0, 2, 1, 0));
    let v = receipt(&app, &gid, "m1", &[plain, ok, 999]).await;
    assert_eq!((v["ErrorCode"].as_i64(), v["NewlyReadNum"].as_i64()), (Some(0), Some(1)), "{v}");
    let bad: Vec<(i64, i64)> = v["ErrorList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["MsgSeq"].as_i64().unwrap(), e["ErrorCode"].as_i64().unwrap()))
        .collect();
    assert_eq!(bad, [(plain, 10062), (999, 10062)]);
    assert!(v["ErrorList"][0]["ErrorInfo"].as_str().unwrap().contains("NeedReadReceipt"), "{v}");
    assert_eq!(app.counts(&gid, ok).await, (1, 1, 1, 0));
    assert_eq!(accounts(&app, &gid, ok, READ, 10).await, ["m1"]);

    // Counts and lists answer 10062 for such seqs.
    let v = app
        .ok(COUNTS, json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": ok}, {"MsgSeq": plain}, {"MsgSeq": 999}]}))
        .await;
    let codes: Vec<&Value> = v["GroupMsgReceiptList"].as_array().unwrap().iter().map(|i| &i["Code"]).collect();
    assert_eq!(codes, [&json!(0), &json!(10062), &json!(10062)]);
    assert_eq!(v["GroupMsgReceiptList"][1]["MsgSeq"], plain);
    assert_eq!(v["GroupMsgReceiptList"][2]["MsgSeq"], 999);
    for item in v["GroupMsgReceiptList"].as_array().unwrap() {
        for field in ["MsgSeq", "ReadNum", "UnreadNum", "DeliveredNum", "Code"] {
            assert!(item[field].is_i64(), "{field} missing in {item}");
        }
    }
    assert_fail(&detail(&app, &gid, plain, READ, "", 10).await, 10062);
    assert_fail(&detail(&app, &gid, 999, UNREAD, "", 10).await, 10062);
    assert_fail(&receipt(&app, "nosuchgroup", "m1", &[ok]).await, 10010);
}

#[actix_web::test]
async fn receipt_call_limits() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let too_many: Vec<i64> = (0..51).map(|_| seq).collect();
    let cases = [
        (json!([]), "empty MsgSeqList"),
        (json!(too_many.iter().map(|s| json!({"MsgSeq": s})).collect::<Vec<_>>()), "51 items"),
        (json!([{"MsgSeq": 0}]), "MsgSeq 0"),
        (json!([{"MsgSeq": -3}]), "negative MsgSeq"),
        (json!([{"MsgSeq": seq, "AckContent": "x".repeat(1025)}]), "AckContent over 1 KiB"),
        (json!([{"MsgSeq": seq, "AckContent": "é".repeat(513)}]), "AckContent of 1026 bytes in 513 chars"),
    ];
    for (list, what) in cases {
        let v = app.call(RECEIPT, json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": list})).await;
        assert_eq!(v["ErrorCode"], 10004, "{what}: {v}");
        assert!(!v["ErrorInfo"].as_str().unwrap().is_empty(), "{what}: {v}");
    }
    let v = app
        .call(
            COUNTS,
            json!({"GroupId": gid, "MsgSeqList": (0..51).map(|_| json!({"MsgSeq": seq})).collect::<Vec<_>>()}),
        )
        .await;
    assert_fail(&v, 10004);
    assert_eq!(app.counts(&gid, seq).await, (0, 1, 0, 0));
    // 50 items (all the same seq) are accepted.
    let fifty: Vec<i64> = (0..50).map(|_| seq).collect();
    assert_eq!(read(&app, &gid, "m1", &fifty).await, 1);
}

#[actix_web::test]
async fn ack_content_round_trip() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2", "m3"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let long = "k".repeat(1024);
    let acks = [("m1", json!("👍 got it")), ("m2", json!(long)), ("m3", Value::Null)];
    for (who, ack) in &acks {
        let mut item = json!({"MsgSeq": seq});
        if !ack.is_null() {
            item["AckContent"] = ack.clone();
        }
        app.ok(RECEIPT, json!({"GroupId": gid, "From_Account": who, "MsgSeqList": [item]})).await;
    }
    let list = walk(&app, &gid, seq, READ, 200).await;
    let got: Vec<(&Value, &Value)> = list.iter().map(|r| (&r["Read_Account"], &r["AckContent"])).collect();
    assert_eq!(got, [(&json!("m1"), &json!("👍 got it")), (&json!("m2"), &json!(long)), (&json!("m3"), &json!(""))]);
}

// ---------------------------------------------------------------- group: membership changes

#[actix_web::test]
async fn member_who_joined_after_the_message_is_not_a_reader() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2"]).await;
    app.import(&["late"]).await;
    let before = app.group_msg(&gid, "owner", true).await;
    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": [{"Member_Account": "late"}]}))
        .await;
    let after = app.group_msg(&gid, "owner", true).await;

    let info = assert_fail(&receipt(&app, &gid, "late", &[before]).await, 10007);
    assert!(info.contains("joined"), "{info}");
    // Next to a message the joiner may read, only the earlier one is refused, in ErrorList.
    let v = receipt(&app, &gid, "late", &[before, after]).await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    assert_eq!(v["NewlyReadNum"], 1);
    assert_eq!(v["ErrorList"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        (v["ErrorList"][0]["MsgSeq"].as_i64(), v["ErrorList"][0]["ErrorCode"].as_i64()),
        (Some(before), Some(10007))
    );
    let v =
        app.call(DELIVERED, json!({"GroupId": gid, "From_Account": "late", "MsgSeqList": [{"MsgSeq": before}]})).await;
    assert_fail(&v, 10007);
    // A conversation-level read covers only what the joiner was there for (already read).
    let v = app.ok(READ_REPORT, json!({"GroupId": gid, "Member_Account": "late", "MsgSeq": after})).await;
    assert_eq!(v["NewlyReadNum"], 0);

    assert_counts(&app, &gid, before, &[], &["m1", "m2"]).await;
    assert_counts(&app, &gid, after, &["late"], &["m1", "m2"]).await;
}

#[actix_web::test]
async fn members_who_leave_after_the_message() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["reader", "quitter", "stayer", "rejoiner"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    assert_eq!(read(&app, &gid, "reader", &[seq]).await, 1);
    let remove = |who: &str| json!({"GroupId": gid, "MemberToDel_Account": [who]});
    app.ok("group_open_http_svc/delete_group_member", remove("reader")).await;
    app.ok("group_open_http_svc/delete_group_member", remove("quitter")).await;
    app.ok("group_open_http_svc/delete_group_member", remove("rejoiner")).await;
    app.ok(
        "group_open_http_svc/add_group_member",
        json!({"GroupId": gid, "MemberList": [{"Member_Account": "rejoiner"}]}),
    )
    .await;

    // The reader keeps their receipt; the others who left stop counting as unread.
    assert_counts(&app, &gid, seq, &["reader"], &["stayer"]).await;
    assert_eq!(app.counts(&gid, seq).await.2, 1);
    // Former members can no longer acknowledge; a rejoined member may acknowledge what they
    // were a reader of in their earlier membership (without having counted as unread since).
    assert_fail(&receipt(&app, &gid, "quitter", &[seq]).await, 10007);
    assert_fail(&receipt(&app, &gid, "reader", &[seq]).await, 10007);
    assert_eq!(read(&app, &gid, "rejoiner", &[seq]).await, 1);
    assert_counts(&app, &gid, seq, &["reader", "rejoiner"], &["stayer"]).await;
    assert_eq!(read(&app, &gid, "stayer", &[seq]).await, 1);
    assert_counts(&app, &gid, seq, &["reader", "rejoiner", "stayer"], &[]).await;
    // A message sent while they were away stays out of reach.
    app.ok("group_open_http_svc/delete_group_member", remove("rejoiner")).await;
    let away = app.group_msg(&gid, "owner", true).await;
    app.ok(
        "group_open_http_svc/add_group_member",
        json!({"GroupId": gid, "MemberList": [{"Member_Account": "rejoiner"}]}),
    )
    .await;
    assert!(assert_fail(&receipt(&app, &gid, "rejoiner", &[away]).await, 10007).contains("not a member"));
}

#[actix_web::test]
async fn conversation_read_covers_earlier_memberships_and_runs_in_bounded_batches() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2", "back"]).await;
    let mut first = Vec::new();
    for _ in 0..4 {
        first.push(app.group_msg(&gid, "owner", true).await);
    }
    let remove = json!({"GroupId": gid, "MemberToDel_Account": ["back"]});
    app.ok("group_open_http_svc/delete_group_member", remove).await;
    let away = app.group_msg(&gid, "owner", true).await;
    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": [{"Member_Account": "back"}]}))
        .await;
    let mut second = Vec::new();
    for _ in 0..7 {
        second.push(app.group_msg(&gid, "owner", true).await);
    }
    let last = *second.last().unwrap();
    // `back` reads the conversation: both memberships' messages, not the one sent while away.
    let v = app.ok(READ_REPORT, json!({"GroupId": gid, "Member_Account": "back", "MsgSeq": last})).await;
    assert_eq!(v["NewlyReadNum"], 11, "{v}");
    assert_eq!(app.counts(&gid, away).await.0, 0);
    assert_eq!(app.counts(&gid, first[0]).await.0, 1);
    assert_eq!(
        app.ok(READ_REPORT, json!({"GroupId": gid, "Member_Account": "back", "MsgSeq": last})).await["NewlyReadNum"],
        0
    );

    // Batches of 3 give exactly what one batch gives: m1 through the library, m2 through HTTP.
    let mut conn = diesel::Connection::establish(&app.db_url).unwrap();
    let origin = imreceipts::webhooks::outbox::Origin { client_ip: "127.0.0.1".into(), platform: "RESTAPI".into() };
    let (mark, changed) =
        imreceipts::domain::group_receipts::read_report_in_batches(&mut conn, &origin, &gid, "m1", last, 3).unwrap();
    let v = app.ok(READ_REPORT, json!({"GroupId": gid, "Member_Account": "m2", "MsgSeq": last})).await;
    assert_eq!(mark, last);
    assert_eq!(changed.len() as i64, v["NewlyReadNum"].as_i64().unwrap());
    let all: Vec<i64> = first.iter().chain([&away]).chain(second.iter()).copied().collect();
    assert_eq!(changed, all, "every message, in order, once");
    for seq in all {
        let readers = accounts(&app, &gid, seq, READ, 10).await;
        assert!(readers.contains(&"m1".to_string()) && readers.contains(&"m2".to_string()), "{seq}: {readers:?}");
    }
}

// ---------------------------------------------------------------- group: delivery and conversation read

#[actix_web::test]
async fn group_delivery_acks_and_read_implies_delivered() {
    let app = spawn_app().await;
    let gid = group_with(&app, "ChatRoom", "owner", &["m1", "m2", "m3"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let delivered = |who: &str| json!({"GroupId": gid, "From_Account": who, "MsgSeqList": [{"MsgSeq": seq}]});

    assert_eq!(app.ok(DELIVERED, delivered("m1")).await["NewlyDeliveredNum"], 1);
    assert_eq!(app.ok(DELIVERED, delivered("m1")).await["NewlyDeliveredNum"], 0);
    assert_eq!(app.counts(&gid, seq).await, (0, 3, 1, 0), "delivered is not read");
    assert_eq!(read(&app, &gid, "m1", &[seq]).await, 1);
    assert_eq!(app.counts(&gid, seq).await, (1, 2, 1, 0), "a read after delivery is one delivery");
    assert_eq!(read(&app, &gid, "m2", &[seq]).await, 1);
    assert_eq!(app.counts(&gid, seq).await, (2, 1, 2, 0), "a read without delivery ack implies delivery");
    assert_fail(&app.call(DELIVERED, delivered("owner")).await, 10004);
    let v = app.call(DELIVERED, json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": seq}]})).await;
    assert_fail(&v, 10004);
    let v = app.call(DELIVERED, json!({"From_Account": "m1"})).await;
    assert_fail(&v, 10004);
}

#[actix_web::test]
async fn group_read_report_reads_everything_up_to_seq() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2"]).await;
    let s1 = app.group_msg(&gid, "owner", true).await;
    let s2 = app.group_msg(&gid, "owner", false).await;
    let s3 = app.group_msg(&gid, "m1", true).await;
    let s4 = app.group_msg(&gid, "m2", true).await;
    let s5 = app.group_msg(&gid, "owner", true).await;
    let report = |who: &str, seq: i64| json!({"GroupId": gid, "Member_Account": who, "MsgSeq": seq});

    // m1: s1 and s4 (s2 asked no receipt, s3 is m1's own); s5 is after the watermark.
    let v = app.ok(READ_REPORT, report("m1", s4)).await;
    assert_eq!((v["NewlyReadNum"].clone(), v["MsgReadSeq"].clone()), (json!(2), json!(s4)));
    assert_eq!(app.counts(&gid, s1).await, (1, 1, 1, 0));
    assert_eq!(app.counts(&gid, s3).await, (0, 2, 0, 0));
    assert_eq!(app.counts(&gid, s4).await, (1, 1, 1, 0));
    assert_eq!(app.counts(&gid, s5).await, (0, 2, 0, 0));
    // Again, or backwards: nothing changes and the watermark stays.
    let v = app.ok(READ_REPORT, report("m1", s4)).await;
    assert_eq!((v["NewlyReadNum"].clone(), v["MsgReadSeq"].clone()), (json!(0), json!(s4)));
    let v = app.ok(READ_REPORT, report("m1", s1)).await;
    assert_eq!((v["NewlyReadNum"].clone(), v["MsgReadSeq"].clone()), (json!(0), json!(s4)));

    // m2 acknowledged s1 per message first; the report adds only the rest.
    assert_eq!(read(&app, &gid, "m2", &[s1]).await, 1);
    let v = app.ok(READ_REPORT, report("m2", 1_000_000)).await;
    assert_eq!((v["NewlyReadNum"].clone(), v["MsgReadSeq"].clone()), (json!(2), json!(s5)), "s3 and s5");
    assert_counts(&app, &gid, s1, &["m1", "m2"], &[]).await;
    assert_counts(&app, &gid, s3, &["m2"], &["owner"]).await;
    assert_counts(&app, &gid, s5, &["m2"], &["m1"]).await;
    assert_eq!(app.counts(&gid, s2).await.3, 10062);

    assert_fail(&app.call(READ_REPORT, report("m1", 0)).await, 10004);
    assert_fail(&app.call(READ_REPORT, report("stranger", s1)).await, 10007);
}

// ---------------------------------------------------------------- reader lists

#[actix_web::test]
async fn reader_list_paging_and_parameters() {
    let app = spawn_app().await;
    let members: Vec<String> = (0..230).map(|i| format!("p{i:03}")).collect();
    let gid = group_with(&app, "Private", "owner", &strs(&members)).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let readers: Vec<String> = members.iter().step_by(3).cloned().collect();
    for r in &readers {
        read(&app, &gid, r, &[seq]).await;
    }
    let unread: Vec<String> = members.iter().filter(|m| !readers.contains(m)).cloned().collect();
    for count in [1, 7, 76, 200] {
        assert_eq!(accounts(&app, &gid, seq, READ, count).await, readers, "Count {count}");
        assert_eq!(accounts(&app, &gid, seq, UNREAD, count).await, unread, "Count {count}");
    }

    // Count above 200 is served as 200.
    let all = detail(&app, &gid, seq, UNREAD, "", 5000).await;
    assert_eq!((all["UnreadList"].as_array().unwrap().len(), all["IsFinish"].clone()), (unread.len(), json!(1)));
    let big =
        group_with(&app, "Private", "owner2", &strs(&(0..260).map(|i| format!("q{i:03}")).collect::<Vec<_>>())).await;
    let big_seq = app.group_msg(&big, "owner2", true).await;
    let v = detail(&app, &big, big_seq, UNREAD, "", 1000).await;
    assert_eq!(v["UnreadList"].as_array().unwrap().len(), 200);
    assert_eq!((v["IsFinish"].clone(), v["IsFinished"].clone()), (json!(0), json!(0)));
    let rest = detail(&app, &big, big_seq, UNREAD, v["Cursor"].as_str().unwrap(), 1000).await;
    assert_eq!(rest["UnreadList"].as_array().unwrap().len(), 60);
    assert_eq!(rest["IsFinish"], 1);

    // Legacy Flag/Num, numeric strings, the default page size.
    let legacy = app.ok(DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Flag": 0, "Cursor": "", "Num": 5})).await;
    assert_eq!(legacy["ReadList"].as_array().unwrap().len(), 5);
    assert!(legacy.get("UnreadList").is_none(), "{legacy}");
    let strings =
        app.ok(DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": "1", "Cursor": "", "Count": "4"})).await;
    assert_eq!(strings["UnreadList"].as_array().unwrap().len(), 4);
    let default = app.ok(DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": 1})).await;
    assert_eq!(default["UnreadList"].as_array().unwrap().len(), 100);

    let bad = [
        (
            json!({"GroupId": gid, "MsgSeq": seq, "Filter": 1, "Cursor": "%% not a cursor %%", "Count": 10}),
            "invalid Cursor",
        ),
        (json!({"GroupId": gid, "MsgSeq": seq, "Filter": 2, "Cursor": "", "Count": 10}), "Filter 2"),
        (json!({"GroupId": gid, "MsgSeq": seq, "Cursor": "", "Count": 10}), "no Filter"),
        (json!({"GroupId": gid, "MsgSeq": seq, "Filter": 0, "Cursor": "", "Count": 0}), "Count 0"),
    ];
    for (body, what) in bad {
        let v = app.call(DETAIL, body).await;
        assert_eq!(v["ErrorCode"], 10004, "{what}: {v}");
    }
    assert!(assert_fail(&detail(&app, &gid, seq, UNREAD, "%%", 10).await, 10004).contains("Cursor"));
}

// ---------------------------------------------------------------- C2C

/// One `C2CMsgInfo` item.
fn c2c_info(from: &str, to: &str, key: &str) -> Value {
    json!({"From_Account": from, "To_Account": to, "MsgKey": key})
}

#[actix_web::test]
async fn c2c_read_receipt_items_are_judged_one_by_one() {
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;
    let k1 = app.c2c_msg("alice", "bob", true).await;
    let k2 = app.c2c_msg("alice", "bob", true).await;
    let plain = app.c2c_msg("alice", "bob", false).await;
    let back = app.c2c_msg("bob", "alice", true).await;
    let other = app.c2c_msg("carol", "bob", true).await;
    let ack = |items: Vec<Value>| json!({"Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": items});
    let info = |k: &str| c2c_info("alice", "bob", k);

    // Alone, each bad item fails the call with its code and writes nothing.
    let cases = [
        (ack(vec![c2c_info("bob", "alice", &back)]), 90001, "wrong direction"),
        (ack(vec![c2c_info("carol", "bob", &other)]), 90001, "another conversation"),
        (ack(vec![info("no-such-key")]), 90054, "unknown MsgKey"),
        (ack(vec![info(&back)]), 90054, "key of the other direction"),
        (ack(vec![info(&plain)]), 10062, "no IsNeedReadReceipt"),
        (ack(vec![]), 90001, "no items"),
        (ack((0..31).map(|_| info(&k1)).collect()), 90001, "31 items"),
    ];
    for (body, code, what) in cases {
        let v = app.call(C2C_READ, body).await;
        assert_eq!(v["ErrorCode"], code, "{what}: {v}");
        assert!(!v["ErrorInfo"].as_str().unwrap().is_empty());
    }
    let state = |keys: Vec<&str>| json!({"From_Account": "alice", "To_Account": "bob", "MsgKeyList": keys});
    let v = app.ok(C2C_STATE, state(vec![&k1])).await;
    assert_eq!(v["MsgReceiptList"][0]["IsPeerRead"], 0, "a failed call wrote nothing: {v}");
    // Next to a good item, bad ones are reported one by one and the good one is recorded.
    let v = app
        .ok(C2C_READ, ack(vec![info(&k2), info("no-such-key"), info(&plain), c2c_info("bob", "alice", &back)]))
        .await;
    assert_eq!(v["NewlyReadNum"], 1, "{v}");
    let bad: Vec<(String, i64)> = v["ErrorList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["MsgKey"].as_str().unwrap().to_string(), e["ErrorCode"].as_i64().unwrap()))
        .collect();
    assert_eq!(bad, [("no-such-key".to_string(), 90054), (plain.clone(), 10062), (back.clone(), 90001)]);
    assert_eq!(app.ok(C2C_STATE, state(vec![&k2])).await["MsgReceiptList"][0]["IsPeerRead"], 1);

    let v = app.ok(C2C_READ, ack((0..30).map(|i| info(if i % 2 == 0 { &k1 } else { &k2 })).collect())).await;
    assert_eq!(v["NewlyReadNum"], 1, "k2 was read above: {v}");
    assert_eq!(app.ok(C2C_READ, ack(vec![info(&k1)])).await["NewlyReadNum"], 0);

    let v = app.ok(C2C_STATE, state(vec![&k1, &plain, "nope"])).await;
    let list = v["MsgReceiptList"].as_array().unwrap();
    assert_eq!(
        (list[0]["MsgKey"].clone(), list[0]["IsPeerRead"].clone(), list[0]["IsDelivered"].clone()),
        (json!(k1), json!(1), json!(1))
    );
    assert!(list[0]["ReadTime"].as_i64().unwrap() > 0);
    assert_eq!((list[1]["IsPeerRead"].clone(), list[1]["Code"].clone()), (json!(0), json!(0)));
    assert_eq!(list[2]["Code"], 90054);

    let now = chrono::Utc::now().timestamp();
    let roam = app
        .ok(
            "openim/admin_getroammsg",
            json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 100, "MinTime": 0, "MaxTime": now + 10}),
        )
        .await;
    for m in roam["MsgList"].as_array().unwrap() {
        let read = m["MsgKey"] == json!(k1) || m["MsgKey"] == json!(k2);
        assert_eq!(m["IsPeerRead"], i32::from(read), "{m}");
        assert_eq!(m["ReadTime"].as_i64().unwrap() > 0, read, "{m}");
    }
}

#[actix_web::test]
async fn c2c_delivery_acks() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let k = app.c2c_msg("alice", "bob", true).await;
    let body = json!({"Operator_Account": "bob", "Peer_Account": "alice", "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": k}]});
    assert_eq!(app.ok(DELIVERED, body.clone()).await["NewlyDeliveredNum"], 1);
    assert_eq!(app.ok(DELIVERED, body).await["NewlyDeliveredNum"], 0);
    let v = app.ok(C2C_STATE, json!({"From_Account": "alice", "To_Account": "bob", "MsgKeyList": [k]})).await;
    let s = &v["MsgReceiptList"][0];
    assert_eq!(
        (s["IsDelivered"].clone(), s["IsPeerRead"].clone(), s["ReadTime"].clone()),
        (json!(1), json!(0), json!(0))
    );
    let wrong = json!({"Operator_Account": "alice", "Peer_Account": "bob", "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": k}]});
    assert_fail(&app.call(DELIVERED, wrong).await, 10004);
}

/// bob's (total, with alice) C2C unread counts.
async fn unread(app: &TestApp) -> (i64, i64) {
    let v = app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": "bob", "Peer_Account": ["alice"]})).await;
    (v["AllC2CUnreadMsgNum"].as_i64().unwrap(), v["C2CUnreadMsgNumList"][0]["C2CUnreadMsgNum"].as_i64().unwrap())
}

#[actix_web::test]
async fn c2c_conversation_read_moves_forward_only() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    app.c2c_msg("alice", "bob", false).await;
    app.c2c_msg("alice", "bob", true).await;
    app.c2c_msg("bob", "alice", false).await;
    assert_eq!(unread(&app).await, (2, 2));
    let set = |t: Value| json!({"Report_Account": "bob", "Peer_Account": "alice", "MsgReadTime": t});

    // A time before the messages reads nothing; a numeric string is accepted.
    let early = chrono::Utc::now().timestamp() - 3600;
    let v = app.ok("openim/admin_set_msg_read", set(json!(early.to_string()))).await;
    assert_eq!(v["MsgReadTime"], early);
    assert_eq!(unread(&app).await, (2, 2));
    // Without MsgReadTime: now.
    let v = app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;
    let read_time = v["MsgReadTime"].as_i64().unwrap();
    assert!(read_time >= early + 3600);
    assert_eq!(unread(&app).await, (0, 0));
    // Never backwards.
    let v = app.ok("openim/admin_set_msg_read", set(json!(early))).await;
    assert_eq!(v["MsgReadTime"], read_time);
    assert_eq!(unread(&app).await, (0, 0));

    // Messages sent after the read time count again (MsgTime has second resolution).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.c2c_msg("alice", "bob", false).await;
    assert_eq!(unread(&app).await, (1, 1));
    let alice = app.ok("openim/get_c2c_unread_msg_num", json!({"To_Account": "alice"})).await;
    assert_eq!(alice["AllC2CUnreadMsgNum"], 1, "bob's read does not touch alice's side");
    assert_fail(&app.call("openim/admin_set_msg_read", set(json!("soon"))).await, 90001);
}

// ---------------------------------------------------------------- user-level access

#[actix_web::test]
async fn users_act_only_as_themselves() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["bob", "carol"]).await;
    app.import(&["dave"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let k = app.c2c_msg("carol", "bob", true).await;
    let item = json!([{"MsgSeq": seq}]);
    let c2c_item = json!([{"From_Account": "carol", "To_Account": "bob", "MsgKey": k}]);

    // Naming someone else: 60010.
    let as_other = [
        (RECEIPT, json!({"GroupId": gid, "From_Account": "carol", "MsgSeqList": item})),
        (DELIVERED, json!({"GroupId": gid, "From_Account": "carol", "MsgSeqList": item})),
        (READ_REPORT, json!({"GroupId": gid, "Member_Account": "carol", "MsgSeq": seq})),
        (C2C_READ, json!({"Operator_Account": "carol", "Peer_Account": "bob", "C2CMsgInfo": c2c_item})),
        (DELIVERED, json!({"Operator_Account": "carol", "Peer_Account": "bob", "C2CMsgInfo": c2c_item})),
        (C2C_STATE, json!({"From_Account": "carol", "To_Account": "bob", "MsgKeyList": [k]})),
        ("openim/admin_set_msg_read", json!({"Report_Account": "carol", "Peer_Account": "bob"})),
        ("openim/get_c2c_unread_msg_num", json!({"To_Account": "carol"})),
        (SET_CONFIG, json!({"GroupReceiptRequestRoles": "Any"})),
        ("receipt_svc/get_receipt_config", json!({})),
        (
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "bob", "Random": 1, "MsgBody": []}),
        ),
    ];
    for (path, body) in as_other {
        let v = app.call_as("bob", path, body).await;
        assert_eq!(v["ErrorCode"], 60010, "{path}: {v}");
    }
    assert_eq!(app.counts(&gid, seq).await, (0, 2, 0, 0));
    let v = app.ok(C2C_STATE, json!({"From_Account": "carol", "To_Account": "bob", "MsgKeyList": [k]})).await;
    assert_eq!(
        (v["MsgReceiptList"][0]["IsPeerRead"].clone(), v["MsgReceiptList"][0]["IsDelivered"].clone()),
        (json!(0), json!(0))
    );

    // Acting as themselves, with or without naming themselves.
    let v = app.call_as("bob", RECEIPT, json!({"GroupId": gid, "MsgSeqList": item})).await;
    assert_eq!(v["NewlyReadNum"], 1, "{v}");
    let v = app.call_as("carol", RECEIPT, json!({"GroupId": gid, "From_Account": "carol", "MsgSeqList": item})).await;
    assert_eq!(v["NewlyReadNum"], 1, "{v}");
    let v = app
        .call_as("bob", C2C_READ, json!({"Operator_Account": "bob", "Peer_Account": "carol", "C2CMsgInfo": c2c_item}))
        .await;
    assert_eq!(v["NewlyReadNum"], 1, "{v}");
    let v = app.call_as("carol", C2C_STATE, json!({"To_Account": "bob", "MsgKeyList": [k]})).await;
    assert_eq!(v["MsgReceiptList"][0]["IsPeerRead"], 1, "{v}");

    // Members may look at their group's receipts, others may not.
    let v = app.call_as("bob", COUNTS, json!({"GroupId": gid, "MsgSeqList": item})).await;
    assert_eq!(v["GroupMsgReceiptList"][0]["ReadNum"], 2, "{v}");
    let v = app
        .call_as("bob", DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": 0, "Cursor": "", "Count": 10}))
        .await;
    assert_eq!(v["ReadList"].as_array().map(Vec::len), Some(2), "{v}");
    assert_fail(&app.call_as("dave", COUNTS, json!({"GroupId": gid, "MsgSeqList": item})).await, 10007);
    let v = app
        .call_as("dave", DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": 1, "Cursor": "", "Count": 10}))
        .await;
    assert_fail(&v, 10007);
    assert_fail(&app.call_as("dave", RECEIPT, json!({"GroupId": gid, "MsgSeqList": item})).await, 10007);
    assert_fail(&app.call_as("dave", READ_REPORT, json!({"GroupId": gid, "MsgSeq": seq})).await, 10007);

    // An admin must say whom it acts for.
    assert_fail(&app.call(RECEIPT, json!({"GroupId": gid, "MsgSeqList": item})).await, 10004);
}

// ---------------------------------------------------------------- configuration

#[actix_web::test]
async fn receipts_disabled_for_a_group_type() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["m1", "m2"]).await;
    let private = app.group("Work", "owner", &["m1"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    let cfg = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!(cfg["GroupReceiptTypes"], json!(["Private", "Public", "ChatRoom"]));
    assert_eq!(
        (cfg["GroupReceiptRequestRoles"].clone(), cfg["MaxReceiptGroupMembers"].clone()),
        (json!("Any"), json!(10000))
    );

    let v = app.ok(SET_CONFIG, json!({"GroupReceiptTypes": ["Work", "Meeting", "Work"]})).await;
    assert_eq!(v["GroupReceiptTypes"], json!(["Private", "ChatRoom"]));
    assert_eq!(
        app.ok("receipt_svc/get_receipt_config", json!({})).await["GroupReceiptTypes"],
        json!(["Private", "ChatRoom"])
    );

    let item = json!([{"MsgSeq": seq}]);
    let refused = [
        (RECEIPT, json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": item})),
        (COUNTS, json!({"GroupId": gid, "MsgSeqList": item})),
        (DETAIL, json!({"GroupId": gid, "MsgSeq": seq, "Filter": 0, "Cursor": "", "Count": 10})),
        (DELIVERED, json!({"GroupId": gid, "From_Account": "m1", "MsgSeqList": item})),
        (READ_REPORT, json!({"GroupId": gid, "Member_Account": "m1", "MsgSeq": seq})),
        (
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "owner", "Random": 1, "NeedReadReceipt": 1,
                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]}),
        ),
    ];
    for (path, body) in refused {
        let info = assert_fail(&app.call(path, body).await, 19001);
        assert!(info.contains("set_receipt_config") && info.contains("Public"), "{path}: {info}");
    }
    // Private groups still work, and Public messages without receipts are unaffected.
    let p = app.group_msg(&private, "owner", true).await;
    assert_eq!(read(&app, &private, "m1", &[p]).await, 1);
    app.group_msg(&gid, "owner", false).await;

    // Turning Public back on restores the earlier message's receipts.
    app.ok(SET_CONFIG, json!({"GroupReceiptTypes": ["Private", "Public", "ChatRoom"]})).await;
    assert_eq!(read(&app, &gid, "m1", &[seq]).await, 1);
    assert_eq!(app.counts(&gid, seq).await, (1, 1, 1, 0));

    // AVChatRoom and Community cannot be enabled; the configuration stays as it was.
    let live = app.group("AVChatRoom", "owner", &[]).await;
    let v = app
        .call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": live, "From_Account": "owner", "Random": 1, "NeedReadReceipt": 1,
                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]}),
        )
        .await;
    assert!(assert_fail(&v, 19001).contains("do not support"));
    for t in ["AVChatRoom", "Community"] {
        let info = assert_fail(&app.call(SET_CONFIG, json!({"GroupReceiptTypes": ["Private", t]})).await, 10004);
        assert!(info.contains(t), "{info}");
    }
    assert_fail(&app.call(SET_CONFIG, json!({"GroupReceiptTypes": ["Nope"]})).await, 10004);
    let cfg = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!(cfg["GroupReceiptTypes"], json!(["Private", "Public", "ChatRoom"]));
}

#[actix_web::test]
async fn only_owner_and_admins_may_request_receipts() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["boss", "m1", "m2"]).await;
    app.ok(
        "group_open_http_svc/modify_group_member_info",
        json!({"GroupId": gid, "Member_Account": "boss", "Role": "Admin"}),
    )
    .await;
    let v = app.ok(SET_CONFIG, json!({"GroupReceiptRequestRoles": "OwnerAndAdmin"})).await;
    assert_eq!(v["GroupReceiptRequestRoles"], "OwnerAndAdmin");
    let send = |from: &str, need: i32| {
        json!({"GroupId": gid, "From_Account": from, "Random": 1, "NeedReadReceipt": need,
               "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]})
    };
    let info = assert_fail(&app.call("group_open_http_svc/send_group_msg", send("m1", 1)).await, 10007);
    assert!(info.contains("OwnerAndAdmin"), "{info}");
    app.ok("group_open_http_svc/send_group_msg", send("m1", 0)).await;
    let by_owner = app.group_msg(&gid, "owner", true).await;
    let by_admin = app.group_msg(&gid, "boss", true).await;
    assert_eq!(app.counts(&gid, by_owner).await, (0, 3, 0, 0));
    assert_eq!(app.counts(&gid, by_admin).await, (0, 3, 0, 0));
    // Members still send receipts.
    assert_eq!(read(&app, &gid, "m1", &[by_owner, by_admin]).await, 2);
    // The failed send used no sequence number: seqs stay gap-free.
    assert_eq!(by_admin, by_owner + 1);
    assert_eq!(by_owner, 2);

    assert_fail(&app.call(SET_CONFIG, json!({"GroupReceiptRequestRoles": "Admins"})).await, 10004);
    app.ok(SET_CONFIG, json!({"GroupReceiptRequestRoles": "Any"})).await;
    app.group_msg(&gid, "m1", true).await;
}

#[actix_web::test]
async fn groups_above_the_size_limit_cannot_request_receipts() {
    let app = spawn_app().await;
    let small = group_with(&app, "Private", "owner", &["m1", "m2"]).await;
    app.import(&["m3"]).await;
    let big = app.group("Private", "owner", &["m1", "m2", "m3"]).await;
    assert_eq!(app.ok(SET_CONFIG, json!({"MaxReceiptGroupMembers": 3})).await["MaxReceiptGroupMembers"], 3);
    let v = app
        .call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": big, "From_Account": "owner", "Random": 1, "NeedReadReceipt": 1,
                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}]}),
        )
        .await;
    let info = assert_fail(&v, 10004);
    assert!(info.contains("MaxReceiptGroupMembers"), "{info}");
    app.group_msg(&big, "owner", false).await;
    let seq = app.group_msg(&small, "owner", true).await;
    assert_eq!(app.counts(&small, seq).await, (0, 2, 0, 0));
    for bad in [0, -1, 1_000_001] {
        assert_fail(&app.call(SET_CONFIG, json!({"MaxReceiptGroupMembers": bad})).await, 10004);
    }
}

#[actix_web::test]
async fn an_admin_who_is_a_member_is_not_a_reader_of_their_own_system_message() {
    let app = spawn_app().await;
    app.import(&["bob"]).await;
    let gid = app.group("Private", ADMIN, &["bob"]).await;
    let v = app
        .ok(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "Random": 1, "NeedReadReceipt": 1,
                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "system"}}]}),
        )
        .await;
    let seq = v["MsgSeq"].as_i64().unwrap();
    assert_eq!(app.counts(&gid, seq).await, (0, 1, 0, 0), "only bob is a reader");
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]}),
    )
    .await;
    assert_eq!(app.counts(&gid, seq).await, (1, 0, 1, 0), "everyone read it");
}
