//! Read analytics (`receipt_svc/get_read_stats`): counts, time-to-read percentiles and the
//! read-over-time histogram against hand-computed values, leavers, access and bad input.
//!
//! Receipts are written through the API; their times are then set in the test database (send
//! times in `group_messages.msg_time`, read times in `group_receipts.read_at`) so that every
//! expected figure can be computed by hand. Nothing else reads those columns in these tests.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receipts::{group_with, read};

const STATS: &str = "receipt_svc/get_read_stats";
/// Send time of the first message of each test (unix seconds, 2026-01-01T00:00:00Z).
const T0: i64 = 1_767_225_600;

fn sql(app: &TestApp, q: &str) {
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query(q).execute(&mut conn).unwrap();
}

/// Moves message `seq` of `gid` to send time `t` (unix seconds).
fn set_msg_time(app: &TestApp, gid: &str, seq: i64, t: i64) {
    sql(app, &format!("UPDATE group_messages SET msg_time = {t} WHERE group_id = '{gid}' AND msg_seq = {seq}"));
}

/// Sets `reader`'s read of `seq` to `ms` milliseconds after unix time `t`.
fn set_read_at(app: &TestApp, gid: &str, seq: i64, reader: &str, t: i64, ms: i64) {
    let at = t * 1000 + ms;
    sql(
        app,
        &format!(
            "UPDATE group_receipts SET read_at = to_timestamp({at}::numeric / 1000), delivered_at = to_timestamp({at}::numeric / 1000)
              WHERE group_id = '{gid}' AND msg_seq = {seq} AND reader = '{reader}' AND read_at IS NOT NULL"
        ),
    );
}

async fn stats(app: &TestApp, body: Value) -> Value {
    app.ok(STATS, body).await
}

/// The histogram as (Start, ReadNum) pairs.
fn histogram(v: &Value) -> Vec<(i64, i64)> {
    v["Histogram"]
        .as_array()
        .unwrap_or_else(|| panic!("no Histogram: {v}"))
        .iter()
        .map(|b| (b["Start"].as_i64().unwrap(), b["ReadNum"].as_i64().unwrap()))
        .collect()
}

/// The non-empty buckets as (index, ReadNum), and the bucket count.
fn nonzero(v: &Value) -> (Vec<(i64, i64)>, usize) {
    let width = v["BucketSeconds"].as_i64().unwrap();
    let h = histogram(v);
    let first = h.first().map_or(0, |b| b.0);
    for (i, (start, _)) in h.iter().enumerate() {
        assert_eq!(*start, first + i as i64 * width, "buckets are contiguous: {v}");
    }
    (h.iter().filter(|b| b.1 > 0).map(|(s, n)| ((s - first) / width, *n)).collect(), h.len())
}

#[actix_web::test]
async fn single_message_stats_match_a_hand_computed_set_with_leavers() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["m1", "m2", "m3", "m4", "m5", "m6"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    for m in ["m1", "m2", "m3"] {
        assert_eq!(read(&app, &gid, m, &[seq]).await, 1);
    }
    // m3 leaves after reading (keeps the read), m4 leaves without reading (stops counting),
    // m6 leaves without reading, comes back and reads (counts as a read again).
    let remove = |who: &str| json!({"GroupId": gid, "MemberToDel_Account": [who]});
    for who in ["m3", "m4", "m6"] {
        app.ok("group_open_http_svc/delete_group_member", remove(who)).await;
    }
    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": [{"Member_Account": "m6"}]}))
        .await;
    assert_eq!(read(&app, &gid, "m6", &[seq]).await, 1);
    // A later joiner is never eligible.
    app.import(&["late"]).await;
    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": [{"Member_Account": "late"}]}))
        .await;

    // Sent at T0; read 1.5 s, 65 s, 200 s and 30 s after.
    set_msg_time(&app, &gid, seq, T0);
    for (reader, ms) in [("m1", 1_500), ("m2", 65_000), ("m3", 200_000), ("m6", 30_000)] {
        set_read_at(&app, &gid, seq, reader, T0, ms);
    }

    // Eligible: m1..m6 (6) minus m4 who left unread = 5; read by m1, m2, m3, m6; unread m5.
    let (read_num, unread_num, _, code) = app.counts(&gid, seq).await;
    assert_eq!((read_num, unread_num, code), (4, 1, 0));
    let v = stats(&app, json!({"GroupId": gid, "MsgSeq": seq})).await;
    assert_eq!(v["GroupId"], gid.as_str());
    assert_eq!(v["MsgSeq"], seq);
    assert_eq!((v["MsgNum"].as_i64(), v["EligibleNum"].as_i64()), (Some(1), Some(5)), "{v}");
    assert_eq!((v["ReadNum"].as_i64(), v["UnreadNum"].as_i64()), (Some(read_num), Some(unread_num)), "{v}");
    assert_eq!(v["ReadPercent"].as_f64(), Some(80.0), "{v}");
    // Sorted times 1500, 30000, 65000, 200000 (N = 4): ranks ceil(2) = 2, ceil(3.6) = 4, ceil(3.96) = 4.
    assert_eq!(v["TimeToReadP50Ms"], 30_000, "{v}");
    assert_eq!(v["TimeToReadP90Ms"], 200_000, "{v}");
    assert_eq!(v["TimeToReadP99Ms"], 200_000, "{v}");
    assert_eq!(v["Truncated"], 0);
    // Reads at T0+1, +30, +65, +200: a span of 201 s needs 5 s buckets (41 of them).
    assert_eq!(v["BucketSeconds"], 5, "{v}");
    assert_eq!(histogram(&v)[0].0, T0);
    assert_eq!(nonzero(&v), (vec![(0, 1), (6, 1), (13, 1), (40, 1)], 41), "{v}");

    // Given widths: 60 s fits (4 buckets); 1 s would need 201 buckets and is widened to 3 s.
    let v = stats(&app, json!({"GroupId": gid, "MsgSeq": seq, "BucketSeconds": 60})).await;
    assert_eq!(v["BucketSeconds"], 60);
    assert_eq!(histogram(&v), vec![(T0, 2), (T0 + 60, 1), (T0 + 120, 0), (T0 + 180, 1)]);
    let v = stats(&app, json!({"GroupId": gid, "MsgSeq": seq, "BucketSeconds": 1})).await;
    assert_eq!(v["BucketSeconds"], 3);
    assert_eq!(nonzero(&v), (vec![(0, 1), (10, 1), (21, 1), (66, 1)], 67), "{v}");

    // The last unread member reads: 100 %, and the stats still agree with the counts.
    assert_eq!(read(&app, &gid, "m5", &[seq]).await, 1);
    set_read_at(&app, &gid, seq, "m5", T0, 100);
    let v = stats(&app, json!({"GroupId": gid, "MsgSeq": seq})).await;
    assert_eq!(app.counts(&gid, seq).await.0, 5);
    assert_eq!(
        (v["EligibleNum"].as_i64(), v["ReadNum"].as_i64(), v["UnreadNum"].as_i64()),
        (Some(5), Some(5), Some(0))
    );
    assert_eq!(v["ReadPercent"].as_f64(), Some(100.0));
    // 100, 1500, 30000, 65000, 200000 (N = 5): ranks 3, 5, 5.
    assert_eq!((v["TimeToReadP50Ms"].as_i64(), v["TimeToReadP90Ms"].as_i64()), (Some(30_000), Some(200_000)));
}

#[actix_web::test]
async fn range_stats_count_only_receipt_messages_sent_in_the_range() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Private", "owner", &["m1", "m2", "m3", "m4"]).await;
    let s1 = app.group_msg(&gid, "owner", true).await;
    let s2 = app.group_msg(&gid, "owner", false).await;
    let s3 = app.group_msg(&gid, "m4", true).await;
    let s4 = app.group_msg(&gid, "owner", true).await;
    let s5 = app.group_msg(&gid, "owner", true).await;
    for (m, seqs) in [("m1", vec![s1, s3, s4]), ("m2", vec![s1, s3]), ("m3", vec![s3, s5])] {
        assert_eq!(read(&app, &gid, m, &seqs).await, seqs.len() as i64);
    }
    // A recalled message leaves the stats.
    app.ok("group_open_http_svc/group_msg_recall", json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": s5}]})).await;
    for (seq, t) in [(s1, T0), (s2, T0 + 10), (s3, T0 + 100), (s4, T0 + 5_000), (s5, T0 + 50)] {
        set_msg_time(&app, &gid, seq, t);
    }
    // s1 (T0): m1 +1 s, m2 +3 s. s3 (T0+100, from m4): m1 +0.5 s, m2 +20 s, m3 +40 s.
    for (seq, reader, t, ms) in [
        (s1, "m1", T0, 1_000),
        (s1, "m2", T0, 3_000),
        (s3, "m1", T0 + 100, 500),
        (s3, "m2", T0 + 100, 20_000),
        (s3, "m3", T0 + 100, 40_000),
        (s4, "m1", T0 + 5_000, 10),
        (s5, "m3", T0 + 50, 10),
    ] {
        set_read_at(&app, &gid, seq, reader, t, ms);
    }

    // [T0, T0+100] inclusive: s1 and s3 (s2 did not request receipts, s4 is later, s5 recalled).
    let v = stats(&app, json!({"GroupId": gid, "StartTime": T0, "EndTime": T0 + 100, "BucketSeconds": 60})).await;
    assert_eq!((v["StartTime"].as_i64(), v["EndTime"].as_i64()), (Some(T0), Some(T0 + 100)));
    assert!(v.get("MsgSeq").is_none(), "{v}");
    assert_eq!(v["MsgNum"], 2, "{v}");
    // Eligible 4 each (s1: m1..m4; s3: owner, m1..m3), read 2 + 3.
    assert_eq!(
        (v["EligibleNum"].as_i64(), v["ReadNum"].as_i64(), v["UnreadNum"].as_i64()),
        (Some(8), Some(5), Some(3))
    );
    assert_eq!(v["ReadPercent"].as_f64(), Some(62.5));
    // 500, 1000, 3000, 20000, 40000 (N = 5): ranks 3, 5, 5.
    assert_eq!(v["TimeToReadP50Ms"], 3_000, "{v}");
    assert_eq!(v["TimeToReadP90Ms"], 40_000, "{v}");
    assert_eq!(v["TimeToReadP99Ms"], 40_000, "{v}");
    // Reads at T0+1, +3, +100, +120, +140 counted from the first message's send time.
    assert_eq!(histogram(&v), vec![(T0, 2), (T0 + 60, 1), (T0 + 120, 2)]);
    assert_eq!(v["Truncated"], 0);
    // Span 141 s: 2 s buckets by default.
    let v = stats(&app, json!({"GroupId": gid, "StartTime": T0, "EndTime": T0 + 100})).await;
    assert_eq!(v["BucketSeconds"], 2);
    assert_eq!(nonzero(&v), (vec![(0, 1), (1, 1), (50, 1), (60, 1), (70, 1)], 71), "{v}");

    // A one-second range is one message; the sum over ranges equals the whole.
    let v = stats(&app, json!({"GroupId": gid, "StartTime": T0 + 100, "EndTime": T0 + 100})).await;
    assert_eq!((v["MsgNum"].as_i64(), v["ReadNum"].as_i64(), v["EligibleNum"].as_i64()), (Some(1), Some(3), Some(4)));
    let all = stats(&app, json!({"GroupId": gid, "StartTime": 0, "EndTime": T0 + 10_000})).await;
    assert_eq!(
        (all["MsgNum"].as_i64(), all["ReadNum"].as_i64(), all["EligibleNum"].as_i64()),
        (Some(3), Some(6), Some(12))
    );
    // A range with no message: zeros, no percentiles, no buckets.
    let v = stats(&app, json!({"GroupId": gid, "StartTime": T0 + 1, "EndTime": T0 + 99})).await;
    assert_eq!((v["MsgNum"].as_i64(), v["EligibleNum"].as_i64(), v["ReadNum"].as_i64()), (Some(0), Some(0), Some(0)));
    assert_eq!(v["ReadPercent"].as_f64(), Some(0.0));
    assert!(v["TimeToReadP50Ms"].is_null() && v["TimeToReadP99Ms"].is_null(), "{v}");
    assert_eq!(histogram(&v), vec![]);
}

#[actix_web::test]
async fn owners_and_admins_see_group_stats_members_only_their_own_messages() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["adm", "m1", "m2"]).await;
    app.import(&["outsider"]).await;
    app.ok(
        "group_open_http_svc/modify_group_member_info",
        json!({"GroupId": gid, "Member_Account": "adm", "Role": "Admin"}),
    )
    .await;
    let by_owner = app.group_msg(&gid, "owner", true).await;
    let by_m1 = app.group_msg(&gid, "m1", true).await;
    let no_receipt = app.group_msg(&gid, "owner", false).await;
    assert_eq!(read(&app, &gid, "m2", &[by_owner, by_m1]).await, 2);
    let range = json!({"GroupId": gid, "StartTime": 0, "EndTime": 4_000_000_000i64});
    let one = |seq: i64| json!({"GroupId": gid, "MsgSeq": seq});

    for who in ["owner", "adm"] {
        let v = app.call_as(who, STATS, range.clone()).await;
        assert_eq!(
            (v["ErrorCode"].as_i64(), v["MsgNum"].as_i64(), v["ReadNum"].as_i64()),
            (Some(0), Some(2), Some(2)),
            "{who}: {v}"
        );
        let v = app.call_as(who, STATS, one(by_m1)).await;
        assert_eq!(v["ErrorCode"], 0, "{who}: {v}");
    }
    // The sender of a message sees its stats: 3 eligible (owner, adm, m2), 1 read.
    let v = app.call_as("m1", STATS, one(by_m1)).await;
    assert_eq!(
        (v["ErrorCode"].as_i64(), v["EligibleNum"].as_i64(), v["ReadNum"].as_i64()),
        (Some(0), Some(3), Some(1)),
        "{v}"
    );
    let info = assert_fail(&app.call_as("m1", STATS, one(by_owner)).await, 10007);
    assert!(info.contains("own messages"), "{info}");
    assert_fail(&app.call_as("m1", STATS, range.clone()).await, 10007);
    assert_fail(&app.call_as("outsider", STATS, one(by_owner)).await, 10007);
    assert_fail(&app.call_as("outsider", STATS, range).await, 10007);
    // Errors about the message come before access (the caller learns nothing private).
    assert_fail(&app.call_as("owner", STATS, one(no_receipt)).await, 10062);
}

#[actix_web::test]
async fn bad_read_stats_requests_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let gid = group_with(&app, "Public", "owner", &["m1"]).await;
    let plain = app.group_msg(&gid, "owner", false).await;
    let cases: Vec<(Value, i64, &str)> = vec![
        (json!({"MsgSeq": 1}), 10004, "GroupId"),
        (json!({"GroupId": "", "MsgSeq": 1}), 10004, "GroupId"),
        (json!({"GroupId": gid}), 10004, "MsgSeq"),
        (json!({"GroupId": gid, "StartTime": T0}), 10004, "EndTime"),
        (json!({"GroupId": gid, "EndTime": T0}), 10004, "StartTime"),
        (json!({"GroupId": gid, "MsgSeq": 1, "StartTime": T0, "EndTime": T0}), 10004, "not both"),
        (json!({"GroupId": gid, "StartTime": T0 + 10, "EndTime": T0}), 10004, "reversed"),
        (json!({"GroupId": gid, "StartTime": -1, "EndTime": T0}), 10004, "StartTime"),
        (json!({"GroupId": gid, "MsgSeq": 0}), 10004, "MsgSeq"),
        (json!({"GroupId": gid, "MsgSeq": "one"}), 10004, "invalid"),
        (json!({"GroupId": gid, "MsgSeq": 1, "BucketSeconds": 0}), 10004, "BucketSeconds"),
        (json!({"GroupId": gid, "MsgSeq": 1, "BucketSeconds": 400 * 86_400}), 10004, "BucketSeconds"),
        (json!({"GroupId": "no_such_group", "MsgSeq": 1}), 10010, "no_such_group"),
        (json!({"GroupId": "no_such_group", "StartTime": 0, "EndTime": T0}), 10010, "no_such_group"),
        (json!({"GroupId": gid, "MsgSeq": plain}), 10062, "NeedReadReceipt"),
        (json!({"GroupId": gid, "MsgSeq": plain + 1}), 10062, "MsgSeq"),
    ];
    for (body, code, needle) in cases {
        let v = app.call(STATS, body.clone()).await;
        let info = assert_fail(&v, code);
        assert!(info.contains(needle), "{body}: ErrorInfo {info:?} should mention {needle:?}");
    }
    // An empty body is the common 60003.
    let (status, v) = app.raw(STATS, &app.query(ADMIN), "").await;
    assert_eq!(status, 200);
    assert_fail(&v, 60003);
}
