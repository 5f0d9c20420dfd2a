//! The pull feed (`receipt_svc/get_receipt_events`): exact paging under concurrent writers,
//! the same bodies as webhooks, retention and its expired cursors.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::Receiver;

const FEED: &str = "receipt_svc/get_receipt_events";

async fn feed_on(app: &TestApp) {
    let v = app.ok("receipt_svc/set_receipt_config", json!({"EventFeed": 1})).await;
    assert_eq!(v["EventFeed"], 1);
}

async fn read(app: &TestApp, gid: &str, reader: &str, seq: i64) {
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]}),
    )
    .await;
}

/// A group of `n` readers owned by `owner`; returns (gid, readers).
async fn group(app: &TestApp, n: usize) -> (String, Vec<String>) {
    let readers: Vec<String> = (0..n).map(|i| format!("f{i:02}")).collect();
    let mut all: Vec<&str> = readers.iter().map(String::as_str).collect();
    all.push("owner");
    app.import(&all).await;
    let gid = app.group("Public", "owner", &all[..n]).await;
    (gid, readers)
}

/// One page; asserts success.
async fn page(app: &TestApp, cursor: &str, limit: i64) -> (Vec<Value>, String) {
    let v = app.ok(FEED, json!({"Cursor": cursor, "Limit": limit})).await;
    let events = v["Events"].as_array().unwrap().clone();
    assert_eq!(v["HasMore"], i32::from(events.len() as i64 == limit), "{v}");
    (events, v["NextCursor"].as_str().unwrap().to_string())
}

#[actix_web::test]
async fn pages_never_skip_or_repeat_an_event_under_concurrent_writers() {
    const READERS: usize = 30;
    const MESSAGES: usize = 4;
    let app = spawn_app().await;
    feed_on(&app).await;
    let (gid, readers) = group(&app, READERS).await;
    let mut seqs = Vec::new();
    for _ in 0..MESSAGES {
        seqs.push(app.group_msg(&gid, "owner", true).await);
    }
    let jobs: Vec<(&str, i64)> = readers.iter().flat_map(|r| seqs.iter().map(move |s| (r.as_str(), *s))).collect();
    let done = AtomicBool::new(false);
    let writers = async {
        stream::iter(jobs).for_each_concurrent(16, |(r, s)| read(&app, &gid, r, s)).await;
        done.store(true, Ordering::SeqCst);
    };
    // Pages of 7 while the receipts commit; stops after an empty page once the writers are done.
    let pager = async {
        let (mut seen, mut cursor) = (Vec::<Value>::new(), String::new());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let finished = done.load(Ordering::SeqCst);
            let (events, next) = page(&app, &cursor, 7).await;
            if events.is_empty() {
                assert_eq!(next, if cursor.is_empty() { "0".to_string() } else { cursor.clone() });
                if finished {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen.extend(events);
            cursor = next;
            assert!(Instant::now() < deadline, "the feed did not drain in 90 s");
        }
        seen
    };
    let ((), seen) = futures_util::future::join(writers, pager).await;

    let ids: Vec<&str> = seen.iter().map(|e| e["EventId"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no event is answered twice");
    // One receipt event per call (each read one new message) and one completion per message.
    let count = |t: &str| seen.iter().filter(|e| e["EventType"] == t).count();
    assert_eq!(count("Group.CallbackAfterReadReceipt"), READERS * MESSAGES);
    assert_eq!(count("Group.CallbackAfterAllRead"), MESSAGES);
    assert_eq!(seen.len(), READERS * MESSAGES + MESSAGES);
    // Exactly the events the database holds for the feed.
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        public_id: String,
    }
    let stored: Vec<Id> =
        diesel::sql_query("SELECT e.public_id FROM receipt_feed f JOIN webhook_events e ON e.id = f.event_id")
            .load(&mut conn)
            .unwrap();
    let stored: HashSet<&str> = stored.iter().map(|r| r.public_id.as_str()).collect();
    assert_eq!(stored, unique);
    // Commit order: each message's ReadNum never falls along the feed (calls coalesced into one
    // commit all report its count after that commit), and its completion comes after the
    // receipt that brought it to READERS.
    let mut last: HashMap<i64, i64> = HashMap::new();
    for e in &seen {
        let ev = &e["Event"];
        crate::schema::check_callback(ev);
        assert_eq!(e["EventType"], ev["CallbackCommand"]);
        if e["EventType"] == "Group.CallbackAfterReadReceipt" {
            let item = &ev["GroupMsgReceiptList"][0];
            let (seq, n) = (item["MsgSeq"].as_i64().unwrap(), item["ReadNum"].as_i64().unwrap());
            let before = last.insert(seq, n).unwrap_or(0);
            assert!(n >= before, "ReadNum of {seq} went from {before} to {n} along the feed");
        } else {
            let seq = ev["MsgSeq"].as_i64().unwrap();
            assert_eq!(last.get(&seq), Some(&(READERS as i64)), "{seq} completed before its last read in the feed");
        }
    }
}

#[actix_web::test]
async fn the_feed_answers_the_webhook_bodies_and_filters_by_type() {
    let app = spawn_app().await;
    let v = app.call(FEED, json!({})).await;
    assert!(assert_fail(&v, 19004).contains("EventFeed"), "{v}");
    let rx = Receiver::start();
    let events = [
        "Group.CallbackAfterReadReceipt",
        "Group.CallbackAfterAllRead",
        "C2C.CallbackAfterAllRead",
        "C2C.CallbackAfterMsgReport",
    ];
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base), "Events": events})).await;
    let (gid, readers) = group(&app, 2).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    // Written while the feed is off: delivered, not kept for the feed.
    read(&app, &gid, &readers[0], seq).await;
    feed_on(&app).await;
    read(&app, &gid, &readers[1], seq).await;
    app.import(&["alice", "bob"]).await;
    app.c2c_msg("alice", "bob", true).await;
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;

    let got = rx.wait_for("/ok", 5, Duration::from_secs(15)).await;
    let (events, _) = page(&app, "", 100).await;
    let types: Vec<&str> = events.iter().map(|e| e["EventType"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "Group.CallbackAfterReadReceipt",
            "Group.CallbackAfterAllRead",
            "C2C.CallbackAfterAllRead",
            "C2C.CallbackAfterMsgReport"
        ],
        "in commit order, without the one written while the feed was off"
    );
    for e in &events {
        let hook = got.iter().find(|r| r.webhook_id() == e["EventId"]).expect("delivered with the same webhook-id");
        assert_eq!(hook.json(), e["Event"]);
    }
    let v = app.ok(FEED, json!({"EventTypes": ["C2C.CallbackAfterAllRead"], "Limit": "5"})).await;
    assert_eq!(v["Events"].as_array().unwrap().len(), 1);
    assert_eq!(v["Events"][0]["Event"]["From_Account"], "alice");

    for (body, needle) in [
        (json!({"Cursor": "abc"}), "Cursor"),
        (json!({"Limit": 1001}), "Limit"),
        (json!({"EventTypes": []}), "EventTypes"),
        (json!({"EventTypes": ["Group.Nope"]}), "Group.Nope"),
    ] {
        let v = app.call(FEED, body).await;
        assert!(assert_fail(&v, 10004).contains(needle), "{v}");
    }
    app.ok("receipt_svc/set_receipt_config", json!({"EventFeed": 0})).await;
    assert_fail(&app.call(FEED, json!({})).await, 19004);
}

#[actix_web::test]
async fn a_cursor_older_than_the_retention_is_told_it_lost_events() {
    let app = spawn_app().await;
    let v = app.ok("receipt_svc/set_receipt_config", json!({"EventFeed": 1, "EventFeedRetentionSeconds": 60})).await;
    assert_eq!(v["EventFeedRetentionSeconds"], 60);
    let (gid, readers) = group(&app, 3).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    for r in &readers[..2] {
        read(&app, &gid, r, seq).await;
    }
    let (first, after_first) = page(&app, "", 1).await;
    let (second, after_second) = page(&app, &after_first, 1).await;
    read(&app, &gid, &readers[2], seq).await;

    // The two oldest events age past the retention (backdated: the minimum retention is a
    // minute), and one purge batch takes them out of the feed.
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    let old = [first[0]["EventId"].as_str().unwrap(), second[0]["EventId"].as_str().unwrap()];
    let n = diesel::sql_query(format!(
        "UPDATE receipt_feed f SET created_at = now() - interval '5 minutes' FROM webhook_events e
          WHERE e.id = f.event_id AND e.public_id IN ('{}', '{}')",
        old[0], old[1]
    ))
    .execute(&mut conn)
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(imreceipts::domain::feed::purge(&mut conn, 100).unwrap(), 2);
    assert_eq!(imreceipts::domain::feed::purge(&mut conn, 100).unwrap(), 0);

    let v = app.call(FEED, json!({"Cursor": after_first})).await;
    let info = assert_fail(&v, 19003);
    assert!(info.contains("EventFeedRetentionSeconds 60") && info.contains("empty Cursor"), "{info}");
    // Who had seen both lost nothing; a fresh reader starts at the oldest event kept.
    let rest =
        |events: Vec<Value>| events.iter().map(|e| e["EventType"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (from_second, _) = page(&app, &after_second, 10).await;
    let (from_start, _) = page(&app, "", 10).await;
    assert_eq!(rest(from_second.clone()), ["Group.CallbackAfterReadReceipt", "Group.CallbackAfterAllRead"]);
    assert_eq!(rest(from_start), rest(from_second));
}

#[actix_web::test]
async fn an_event_committed_late_comes_after_younger_ones_and_is_not_skipped() {
    let app = spawn_app().await;
    feed_on(&app).await;
    let (gid, readers) = group(&app, 1).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    // A transaction that queues an event and stays open, as a slow receipt write would.
    let mut slow = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut slow).unwrap();
    diesel::sql_query(
        "SELECT imr_enqueue_event('C2C.CallbackAfterMsgReport', '{\"CallbackCommand\":\"C2C.CallbackAfterMsgReport\"}', \
         '127.0.0.1', 'RESTAPI', 'msg_slow')",
    )
    .execute(&mut slow)
    .unwrap();
    // A younger transaction commits first: its events come first, the open one's not at all.
    read(&app, &gid, &readers[0], seq).await;
    let (events, cursor) = page(&app, "", 10).await;
    let types: Vec<&str> = events.iter().map(|e| e["EventType"].as_str().unwrap()).collect();
    assert_eq!(types, ["Group.CallbackAfterReadReceipt", "Group.CallbackAfterAllRead"]);
    // Committed after a reader moved past the younger events, it is still answered next.
    diesel::sql_query("COMMIT").execute(&mut slow).unwrap();
    let (events, _) = page(&app, &cursor, 10).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (&events[0]["EventId"], &events[0]["EventType"]),
        (&json!("msg_slow"), &json!("C2C.CallbackAfterMsgReport"))
    );
}
