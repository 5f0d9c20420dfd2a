//! Live notifications: a sender's server-sent event stream, resumable after being offline.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;

/// One parsed SSE event.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

/// An open event stream (of any server process) and what it has sent so far.
pub struct EventStream {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>>>>,
    text: String,
    /// Events already handed out by [`EventStream::next_events`].
    taken: usize,
}

impl EventStream {
    /// Opens `url` (a full `event_stream` URL), resuming after `last_event_id` if given.
    pub async fn open(client: &reqwest::Client, url: &str, last_event_id: Option<&str>) -> EventStream {
        let mut req = client.get(url);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("stream");
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        EventStream { body: Box::pin(resp.bytes_stream()), text: String::new(), taken: 0 }
    }

    /// The next `n` events (panics if they have not all arrived within `within`).
    pub async fn next_events(&mut self, n: usize, within: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Only complete events (a block ends with a blank line) count.
            let complete = self.text.rfind("\n\n").map_or(0, |end| end + 2);
            let events = parse_events(&self.text[..complete]);
            if events.len() >= self.taken + n {
                let out: Vec<Event> = events.into_iter().skip(self.taken).take(n).collect();
                self.taken += n;
                return out;
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .unwrap_or_else(|_| panic!("{} more event(s) within {within:?}; got so far: {}", n, self.text))
                .expect("open stream");
            self.text.push_str(std::str::from_utf8(&chunk.expect("chunk")).unwrap());
        }
    }

    /// Asserts that no further event arrives within `quiet`.
    pub async fn assert_no_more(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, self.body.next()).await {
            self.text.push_str(std::str::from_utf8(&chunk.expect("chunk")).unwrap());
        }
        let complete = self.text.rfind("\n\n").map_or(0, |end| end + 2);
        let extra: Vec<Event> = parse_events(&self.text[..complete]).into_iter().skip(self.taken).collect();
        assert!(extra.is_empty(), "no further events expected, got {extra:?}");
    }
}

/// The complete events in SSE `text` (comments and the `retry:` line skipped).
fn parse_events(text: &str) -> Vec<Event> {
    text.split("\n\n")
        .filter(|block| block.starts_with("id: "))
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_else(|| panic!("{name} in {block}"))
                    .to_string()
            };
            Event { id: field("id: "), kind: field("event: "), data: serde_json::from_str(&field("data: ")).unwrap() }
        })
        .collect()
}

/// Reads the stream as `identifier` until `n` events arrived (panics after 10 s).
async fn read_events(app: &TestApp, identifier: &str, last_event_id: Option<&str>, n: usize) -> Vec<Event> {
    let url = format!("{}/v4/receipt_svc/event_stream?{}", app.base, app.query(identifier));
    EventStream::open(&app.client, &url, last_event_id).await.next_events(n, Duration::from_secs(10)).await
}

#[actix_web::test]
async fn senders_get_live_notifications_and_catch_up_after_being_offline() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let key = app.c2c_msg("alice", "bob", true).await;
    let gid = app.group("Private", "alice", &["bob"]).await;
    let seq = app.group_msg(&gid, "alice", true).await;

    // Live: alice is connected while bob reads.
    let live = read_events(&app, "alice", Some("0"), 2);
    let acts = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let v = app
            .call_as(
                "bob",
                "openim/c2c_msg_read_receipt",
                json!({"Operator_Account": "bob", "Peer_Account": "alice",
                       "C2CMsgInfo": [{"From_Account": "alice", "To_Account": "bob", "MsgKey": key}]}),
            )
            .await;
        assert_eq!(v["ErrorCode"], 0, "{v}");
        let v = app
            .call_as(
                "bob",
                "group_open_http_svc/group_msg_receipt",
                json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": seq}]}),
            )
            .await;
        assert_eq!(v["ErrorCode"], 0, "{v}");
    };
    let (events, _) = tokio::join!(live, acts);
    assert_eq!(events[0].kind, "C2C.ReadReceipt");
    assert_eq!(events[0].data["Operator_Account"], "bob");
    assert_eq!(events[0].data["MsgKeyList"], json!([key]));
    assert_eq!(events[1].kind, "Group.ReadReceipt");
    assert_eq!(events[1].data, json!({"GroupId": gid, "Member_Account": "bob", "MsgSeqList": [seq]}));
    assert_ne!(events[1].id, events[0].id);

    // Offline: bob reads the whole conversation while alice is away; she resumes after the last id.
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;
    let caught_up = read_events(&app, "alice", Some(&events[1].id), 1).await;
    assert_eq!(caught_up.len(), 1, "only what happened after the resume point: {caught_up:?}");
    assert_eq!(caught_up[0].kind, "C2C.ReadReport");
    assert_eq!(caught_up[0].data["Report_Account"], "bob");
}

#[actix_web::test]
async fn a_user_cannot_follow_someone_elses_stream() {
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let url = format!("{}/v4/receipt_svc/event_stream?{}&To_Account=alice", app.base, app.query("bob"));
    let v: Value = app.client.get(url).send().await.unwrap().json().await.unwrap();
    assert_fail(&v, 60010);
    let url = format!("{}/v4/receipt_svc/event_stream?{}", app.base, app.query(ADMIN));
    let v: Value = app.client.get(url).send().await.unwrap().json().await.unwrap();
    assert_fail(&v, 10004);
    let url = format!("{}/v4/receipt_svc/event_stream?{}&last_event_id=abc", app.base, app.query("bob"));
    let v: Value = app.client.get(url).send().await.unwrap().json().await.unwrap();
    assert_fail(&v, 10004);
}

#[actix_web::test]
async fn idle_streams_send_no_queries_and_wake_on_their_users_events() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Activity {
        #[diesel(sql_type = diesel::sql_types::Text)]
        at: String,
    }
    let mut settings = test_settings();
    // Nothing else in the server may query while we watch.
    settings.webhooks.dispatch = false;
    settings.retention.enabled = false;
    settings.deadlines.enabled = false;
    let app = spawn_app_with(settings).await;
    let users: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    app.import(&refs).await;
    app.import(&["alice"]).await;
    let key = app.c2c_msg("u0", "alice", true).await;
    let mut open = Vec::new();
    for u in &refs {
        let resp =
            app.client.get(format!("{}/v4/receipt_svc/event_stream?{}", app.base, app.query(u))).send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        open.push(resp.bytes_stream());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The latest statement start of the server's connections, read from pg_stat_activity.
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    let mut last_query = || {
        diesel::sql_query(
            "SELECT coalesce(max(query_start), 'epoch')::text AS at FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result::<Activity>(&mut conn)
        .unwrap()
        .at
    };
    let before = last_query();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(last_query(), before, "20 idle streams sent no query in 2 s");

    // A receipt wakes u0's stream only; the event arrives without polling.
    let v = app
        .call_as(
            "alice",
            "openim/c2c_msg_read_receipt",
            json!({"Operator_Account": "alice", "Peer_Account": "u0",
                   "C2CMsgInfo": [{"From_Account": "u0", "To_Account": "alice", "MsgKey": key}]}),
        )
        .await;
    assert_eq!(v["ErrorCode"], 0, "{v}");
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !text.contains("C2C.ReadReceipt") {
        let chunk = tokio::time::timeout_at(deadline, open[0].next()).await.expect("event in time").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    // Closed streams unregister at once.
    drop(open);
}
