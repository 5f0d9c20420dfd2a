//! Receipts under load: many concurrent, duplicated receipts on one group, and reader lists of
//! a 10,000-member group walked page by page.

use std::collections::BTreeSet;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receipts::{accounts, READ, UNREAD};

const RECEIPT: &str = "group_open_http_svc/group_msg_receipt";
const READ_REPORT: &str = "receipt_svc/group_msg_read_report";

/// Requests in flight while setting up data.
const SETUP_CONCURRENCY: usize = 12;

/// `n` zero-padded account names with `prefix`, in the order the server sorts them.
fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

/// Imports accounts in chunks of 100, several chunks at a time.
async fn import_many(app: &TestApp, ids: &[String]) {
    stream::iter(ids.chunks(100))
        .for_each_concurrent(SETUP_CONCURRENCY, |chunk| async move {
            app.ok("im_open_login_svc/multiaccount_import", json!({ "Accounts": chunk })).await;
        })
        .await;
}

/// Creates a Private group of `owner` and `members` (imported), adding 300 members per call with
/// several calls in flight; returns its id.
async fn big_group(app: &TestApp, owner: &str, members: &[String]) -> String {
    let first: Vec<Value> = members.iter().take(100).map(|m| json!({"Member_Account": m})).collect();
    let v = app
        .ok(
            "group_open_http_svc/create_group",
            json!({"Type": "Private", "Name": "big", "Owner_Account": owner, "MemberList": first}),
        )
        .await;
    let gid = v["GroupId"].as_str().unwrap().to_string();
    let rest = members.get(100..).unwrap_or_default();
    stream::iter(rest.chunks(300))
        .for_each_concurrent(SETUP_CONCURRENCY, |chunk| {
            let gid = &gid;
            async move {
                let list: Vec<Value> = chunk.iter().map(|m| json!({"Member_Account": m})).collect();
                let v =
                    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": list})).await;
                assert!(v["MemberList"].as_array().unwrap().iter().all(|m| m["Result"] == 1), "{v}");
            }
        })
        .await;
    let info = app.ok("group_open_http_svc/get_group_info", json!({"GroupIdList": [gid]})).await;
    assert_eq!(info["GroupInfo"][0]["MemberNum"], members.len() + 1);
    gid
}

/// How one member acknowledges the messages in one round.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One call per message.
    Singles,
    /// One call naming every message.
    All,
    /// One call naming every message twice.
    AllTwice,
    /// Two calls of half the messages each.
    Halves,
    /// One call naming every message, newest first.
    Reversed,
    /// A conversation-level read up to the newest message.
    ReadReport,
}

/// Runs one round of `member`; returns (NewlyReadNum summed, failed answers).
async fn acknowledge(app: &TestApp, gid: &str, member: &str, seqs: &[i64], shape: Shape) -> (i64, Vec<Value>) {
    let calls: Vec<(&str, Value)> = {
        let receipt = |list: Vec<i64>| {
            let items: Vec<Value> = list.iter().map(|s| json!({"MsgSeq": s})).collect();
            (RECEIPT, json!({"GroupId": gid, "From_Account": member, "MsgSeqList": items}))
        };
        match shape {
            Shape::Singles => seqs.iter().map(|s| receipt(vec![*s])).collect(),
            Shape::All => vec![receipt(seqs.to_vec())],
            Shape::AllTwice => vec![receipt(seqs.iter().chain(seqs).copied().collect())],
            Shape::Halves => seqs.chunks(seqs.len().div_ceil(2)).map(|c| receipt(c.to_vec())).collect(),
            Shape::Reversed => vec![receipt(seqs.iter().rev().copied().collect())],
            Shape::ReadReport => {
                vec![(READ_REPORT, json!({"GroupId": gid, "Member_Account": member, "MsgSeq": seqs.last().unwrap()}))]
            }
        }
    };
    let mut newly = 0;
    let mut failed = Vec::new();
    for (path, body) in calls {
        let v = app.call(path, body).await;
        if v["ErrorCode"] == 0 {
            newly += v["NewlyReadNum"].as_i64().unwrap();
        } else {
            failed.push(json!({"member": member, "shape": format!("{shape:?}"), "path": path, "answer": v}));
        }
    }
    (newly, failed)
}

#[actix_web::test]
async fn concurrent_duplicate_receipts_count_each_reader_once() {
    const MEMBERS: usize = 500;
    const MESSAGES: usize = 20;
    const TASKS: usize = 50;
    let app = spawn_app().await;
    let members = names("c", MEMBERS);
    let mut all = members.clone();
    all.push("owner".into());
    import_many(&app, &all).await;
    let gid = big_group(&app, "owner", &members).await;
    let mut seqs = Vec::new();
    for _ in 0..MESSAGES {
        seqs.push(app.group_msg(&gid, "owner", true).await);
    }

    // Every member acknowledges everything twice, in two differently shaped rounds; the rounds
    // of all members run shuffled, TASKS at a time, so a member's two rounds may overlap.
    let mut jobs: Vec<(&str, Shape)> = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let pair = match i % 5 {
            0 => [Shape::Singles, Shape::All],
            1 => [Shape::All, Shape::All],
            2 => [Shape::AllTwice, Shape::ReadReport],
            3 => [Shape::Halves, Shape::Reversed],
            _ => [Shape::ReadReport, Shape::Singles],
        };
        jobs.extend(pair.iter().map(|s| (m.as_str(), *s)));
    }
    jobs.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let started = Instant::now();
    let results: Vec<(i64, Vec<Value>)> = stream::iter(jobs)
        .map(|(m, shape)| acknowledge(&app, &gid, m, &seqs, shape))
        .buffer_unordered(TASKS)
        .collect()
        .await;
    eprintln!("concurrent receipts: {:?}", started.elapsed());
    let failed: Vec<&Value> = results.iter().flat_map(|(_, f)| f).collect();
    assert!(failed.is_empty(), "{} receipt calls failed, first: {:#}", failed.len(), failed[0]);
    let newly: i64 = results.iter().map(|(n, _)| n).sum();
    assert_eq!(newly, (MEMBERS * MESSAGES) as i64, "every (member, message) is newly read exactly once");

    let list: Vec<Value> = seqs.iter().map(|s| json!({"MsgSeq": s})).collect();
    let v = app.ok("group_open_http_svc/get_group_msg_receipt", json!({"GroupId": gid, "MsgSeqList": list})).await;
    for (item, seq) in v["GroupMsgReceiptList"].as_array().unwrap().iter().zip(&seqs) {
        let got = (&item["MsgSeq"], &item["ReadNum"], &item["UnreadNum"], &item["DeliveredNum"], &item["Code"]);
        assert_eq!(got, (&json!(seq), &json!(MEMBERS), &json!(0), &json!(MEMBERS), &json!(0)));
    }
    for seq in &seqs {
        assert_eq!(accounts(&app, &gid, *seq, READ, 200).await, members, "read list of {seq}");
        assert!(accounts(&app, &gid, *seq, UNREAD, 200).await.is_empty(), "unread list of {seq}");
    }
}

#[actix_web::test]
async fn reader_lists_of_a_ten_thousand_member_group() {
    const MEMBERS: usize = 9_999; // plus the owner: 10,000, the default receipt size limit
    let started = Instant::now();
    let app = spawn_app().await;
    let members = names("u", MEMBERS);
    let mut all = members.clone();
    all.extend(["owner".to_string(), "late".to_string()]);
    import_many(&app, &all).await;
    let gid = big_group(&app, "owner", &members).await;
    eprintln!("10k group set up: {:?}", started.elapsed());

    let seq = app.group_msg(&gid, "owner", true).await;
    app.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": [{"Member_Account": "late"}]}))
        .await;
    // ~3,000 readers: half acknowledge the message, half report the conversation read.
    let readers: Vec<&String> = members.iter().enumerate().filter(|(i, _)| i % 10 < 3).map(|(_, m)| m).collect();
    let reading = Instant::now();
    let seqs = [seq];
    let results: Vec<(i64, Vec<Value>)> = stream::iter(readers.iter().enumerate())
        .map(|(i, m)| {
            let shape = if i % 2 == 0 { Shape::All } else { Shape::ReadReport };
            acknowledge(&app, &gid, m, &seqs, shape)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    eprintln!("{} readers: {:?}", readers.len(), reading.elapsed());
    let failed: Vec<&Value> = results.iter().flat_map(|(_, f)| f).collect();
    assert!(failed.is_empty(), "{} receipt calls failed, first: {:#}", failed.len(), failed[0]);
    assert_eq!(results.iter().map(|(n, _)| n).sum::<i64>(), readers.len() as i64);

    let walking = Instant::now();
    let read = accounts(&app, &gid, seq, READ, 200).await;
    eprintln!("read list walked: {:?}", walking.elapsed());
    let unread = accounts(&app, &gid, seq, UNREAD, 200).await;
    eprintln!("lists walked: {:?}", walking.elapsed());
    let expected_read: Vec<String> = readers.iter().map(|m| m.to_string()).collect();
    assert_eq!(read, expected_read);
    let read_set: BTreeSet<&String> = read.iter().collect();
    let expected_unread: Vec<String> = members.iter().filter(|m| !read_set.contains(m)).cloned().collect();
    assert_eq!(unread, expected_unread);
    // Together: exactly the eligible readers (members when sent, minus the sender).
    let union: BTreeSet<&String> = read.iter().chain(&unread).collect();
    assert_eq!(union.len(), read.len() + unread.len(), "a reader is in both lists");
    assert_eq!(union, members.iter().collect::<BTreeSet<_>>());

    let (r, u, d, code) = app.counts(&gid, seq).await;
    assert_eq!((r, u, d, code), (read.len() as i64, unread.len() as i64, read.len() as i64, 0));
    assert_eq!(r + u, MEMBERS as i64);
    eprintln!("10k test total: {:?}", started.elapsed());
}
