//! (a) kill -9 of the server during a flood of group and C2C read receipts.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use serde_json::{json, Value};

use crate::flaky::Flaky;
use crate::support::*;

/// One receipt a client sends.
#[derive(Clone, Debug)]
enum Item {
    Group(String, i64),
    C2c(String, String),
}

impl Item {
    fn request(&self, gid: &str) -> (&'static str, Value) {
        match self {
            Item::Group(reader, seq) => ("group_open_http_svc/group_msg_receipt", group_receipt(gid, reader, *seq)),
            Item::C2c(reader, key) => (
                "openim/c2c_msg_read_receipt",
                json!({"Operator_Account": reader, "Peer_Account": "owner",
                       "C2CMsgInfo": [{"From_Account": "owner", "To_Account": reader, "MsgKey": key}]}),
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_receipt_flood_loses_no_acknowledged_receipt() {
    let _serial = serial().await;
    let cluster = Cluster::start("crash");
    let url = cluster.fresh_database("faults");
    let rx = Flaky::start(vec![], Duration::ZERO, Duration::ZERO).await;
    let client = reqwest::Client::new();
    let mut first = Server::start(Db::Url(&url), &[]);
    let (gid, readers, seqs) = group_fixture(&client, &first.base, 40, 40, &format!("{}/hook", rx.base), 2).await;
    let mut items = Vec::new();
    for r in &readers {
        for s in &seqs {
            items.push(Item::Group(r.clone(), *s));
        }
        for i in 0..3 {
            let body = json!({"From_Account": "owner", "To_Account": r, "MsgRandom": i, "IsNeedReadReceipt": 1,
                              "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "c2c"}}]});
            let v = must(&client, &first.base, "openim/sendmsg", body).await;
            items.push(Item::C2c(r.clone(), v["MsgKey"].as_str().expect("MsgKey").to_string()));
        }
    }
    items.shuffle(&mut rand::thread_rng());
    let total = items.len();

    // 16 clients; SIGKILL lands once 400 receipts were acknowledged.
    let queue = Arc::new(Mutex::new(items));
    let acked: Arc<Mutex<Vec<Item>>> = Arc::default();
    let in_doubt = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let flood_started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (queue, acked, in_doubt, stop) = (queue.clone(), acked.clone(), in_doubt.clone(), stop.clone());
        let (client, base, gid) = (client.clone(), first.base.clone(), gid.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let Some(item) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else { break };
                let (path, body) = item.request(&gid);
                match call(&client, &base, path, &body).await {
                    Answer::Json(200, v) if v["ErrorCode"] == 0 => {
                        acked.lock().unwrap_or_else(|e| e.into_inner()).push(item)
                    }
                    Answer::Json(200, v) => panic!("{path}: unexpected answer before the kill: {v}"),
                    // No answer: the kill landed while this one was in flight.
                    _ => {
                        in_doubt.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap_or_else(|e| e.into_inner()).len() < 400 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let load_ms = ms(flood_started);
    first.kill();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.expect("client task");
    }
    let acked = acked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(acked.len() >= 400 && acked.len() < total, "the kill landed mid-flood: {} of {total}", acked.len());

    let restarted = Instant::now();
    let second = Server::start(Db::Url(&url), &[]);
    let restart_ms = ms(restarted);

    // Every acknowledged receipt is stored ...
    let group_rows: HashSet<(String, i64)> =
        json_rows(&url, "SELECT jsonb_build_array(reader, msg_seq) AS v FROM group_receipts WHERE read_at IS NOT NULL")
            .into_iter()
            .map(|v| (v[0].as_str().unwrap_or_default().to_string(), v[1].as_i64().unwrap_or(-1)))
            .collect();
    let c2c_rows: HashSet<String> =
        json_rows(&url, "SELECT to_jsonb(msg_key) AS v FROM c2c_messages WHERE peer_read_at IS NOT NULL")
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    // ... and has its webhook event in the outbox.
    let group_events = group_events(&url);
    let c2c_events: HashSet<String> = json_rows(
        &url,
        "SELECT convert_from(body, 'UTF8')::jsonb AS v FROM webhook_events WHERE event_type = 'C2C.CallbackAfterMsgReadReceipt'",
    )
    .iter()
    .flat_map(|ev| ev["C2CMsgInfo"].as_array().cloned().unwrap_or_default())
    .filter_map(|i| i["MsgKey"].as_str().map(str::to_string))
    .collect();
    let (mut n_group, mut n_c2c) = (0, 0);
    for item in &acked {
        match item {
            Item::Group(r, s) => {
                n_group += 1;
                let key = (r.clone(), *s);
                assert!(group_rows.contains(&key), "acknowledged group receipt {key:?} is missing");
                assert!(group_events.contains(&key), "acknowledged group receipt {key:?} has no webhook event");
            }
            Item::C2c(r, k) => {
                n_c2c += 1;
                assert!(c2c_rows.contains(k), "acknowledged C2C receipt of {r} for {k} is missing");
                assert!(c2c_events.contains(k), "acknowledged C2C receipt {k} has no webhook event");
            }
        }
    }
    // No counter drift, answered through the restarted server.
    let checked = assert_no_drift(&client, &second.base, &url, &gid, &seqs, readers.len() as i64).await;

    // The restarted server delivers every stored event (leases of the killed one expire).
    let ids = event_ids(&url);
    let delivered_at = Instant::now();
    while !ids.is_subset(&rx.delivered()) {
        assert!(delivered_at.elapsed() < Duration::from_secs(40), "events never delivered after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_ms = ms(delivered_at);
    let dups: usize = rx.log.lock().unwrap_or_else(|e| e.into_inner()).delivered.values().map(|n| n - 1).sum();

    // And keeps taking receipts.
    let rest: Vec<Item> = queue.lock().unwrap_or_else(|e| e.into_inner()).iter().take(50).cloned().collect();
    for item in &rest {
        let (path, body) = item.request(&gid);
        must(&client, &second.base, path, body).await;
    }
    let per_kind: HashMap<&str, usize> = [("group", n_group), ("c2c", n_c2c)].into_iter().collect();
    figure(
        "kill9",
        format!(
            "16 clients, kill -9 after {load_ms} ms; acknowledged {} receipts ({per_kind:?}) of {total}, all present \
             with their webhook events; {} in flight at the kill (no answer); {checked} messages' ReadNum/UnreadNum \
             equal the recount; restart to listening {restart_ms} ms; {} events delivered after restart within \
             {drain_ms} ms ({dups} duplicate deliveries)",
            acked.len(),
            in_doubt.load(Ordering::SeqCst),
            ids.len()
        ),
    );
}
