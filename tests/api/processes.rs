//! Whole server processes: SIGKILL during load, and two processes sharing one database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::Receiver;
use crate::stream::EventStream;

/// A server binary running against `db_url`.
pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) base: String,
}

impl ServerProcess {
    pub(crate) fn start(db_url: &str) -> ServerProcess {
        let data = std::env::temp_dir().join(format!("imr-proc-{:x}", rand::random::<u64>()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_imreceipts"))
            .env("DATABASE_URL", db_url)
            .env("IMRECEIPTS_LISTEN", "127.0.0.1:0")
            .env("IMRECEIPTS_DATA_DIR", &data)
            .env("IMRECEIPTS_SDKAPPID", SDKAPPID.to_string())
            .env("IMRECEIPTS_SECRET_KEY", KEY)
            // Processes sharing a database must share the key sealing webhook secrets.
            .env("IMRECEIPTS_SECRETS_KEY", SECRETS_KEY)
            .env("IMRECEIPTS_ADMINS", ADMIN)
            .env("IMRECEIPTS_WORKERS", "2")
            .env("IMRECEIPTS_WEBHOOK_ALLOW_LOOPBACK", "true")
            .env("IMRECEIPTS_WEBHOOK_RETRY_SCALE", "0.01")
            .env("IMRECEIPTS_WEBHOOK_POLL_MS", "100")
            .env("IMRECEIPTS_WEBHOOK_LEASE_MARGIN_SECS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("server exited before listening").expect("read stdout");
            if let Some(rest) = line.strip_prefix("imreceipts is listening on ") {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServerProcess { child, base }
    }

    /// SIGKILL: no graceful shutdown, in-flight work is simply lost.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn post(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Result<Value, reqwest::Error> {
    let q = format!("sdkappid={SDKAPPID}&identifier={ADMIN}&usersig={}&random=1&contenttype=json", sig(ADMIN));
    client
        .post(format!("{base}/v4/{path}?{q}"))
        .timeout(Duration::from_secs(20))
        .body(body.to_string())
        .send()
        .await?
        .json()
        .await
}

pub(crate) async fn must(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let v = post(client, base, path, body).await.expect("request");
    assert_eq!(v["ErrorCode"], 0, "{path}: {v}");
    v
}

/// Accounts `reader0000..` and `owner`, a group of the `n` readers owned by `owner` and `msgs`
/// receipt-requesting messages from the owner (MsgSeq 1..=msgs).
async fn group_with_readers(client: &reqwest::Client, base: &str, n: usize, msgs: usize) -> (String, Vec<String>) {
    let readers: Vec<String> = (0..n).map(|i| format!("reader{i:04}")).collect();
    let mut all = readers.clone();
    all.push("owner".into());
    for chunk in all.chunks(100) {
        must(client, base, "im_open_login_svc/multiaccount_import", json!({ "Accounts": chunk })).await;
    }
    let v = must(
        client,
        base,
        "group_open_http_svc/create_group",
        json!({"Type": "Private", "Name": "crash", "Owner_Account": "owner"}),
    )
    .await;
    let gid = v["GroupId"].as_str().unwrap().to_string();
    for chunk in readers.chunks(300) {
        let list: Vec<Value> = chunk.iter().map(|m| json!({"Member_Account": m})).collect();
        must(client, base, "group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": list})).await;
    }
    for i in 0..msgs {
        let body = json!({"GroupId": gid, "From_Account": "owner", "Random": i, "NeedReadReceipt": 1,
                          "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]});
        let v = must(client, base, "group_open_http_svc/send_group_msg", body).await;
        assert_eq!(v["MsgSeq"], i + 1);
    }
    (gid, readers)
}

/// A group of `n` readers with one receipt-requesting message, and an endpoint.
async fn setup(client: &reqwest::Client, base: &str, rx: &Receiver, n: usize) -> (String, Vec<String>) {
    let (gid, readers) = group_with_readers(client, base, n, 1).await;
    must(client, base, "webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base), "TimeoutSeconds": 2}))
        .await;
    (gid, readers)
}

fn reader_of(event: &Value) -> String {
    event["GroupMsgReceiptList"][0]["ReadReceiptMembers"][0]["Member_Account"].as_str().unwrap_or_default().to_string()
}

#[actix_web::test]
async fn sigkill_during_load_loses_no_acknowledged_event() {
    let (db_url, _) = fresh_database();
    let rx = Receiver::start();
    let client = reqwest::Client::new();
    let mut first = ServerProcess::start(&db_url);
    let (gid, readers) = setup(&client, &first.base, &rx, 300).await;

    // Receipts from 16 concurrent clients; the process is killed while they are in flight.
    let base = first.base.clone();
    let calls = stream::iter(readers.clone())
        .map(|r| {
            let (client, base, gid) = (client.clone(), base.clone(), gid.clone());
            async move {
                let body = json!({"GroupId": gid, "From_Account": r, "MsgSeqList": [{"MsgSeq": 1}]});
                let res = post(&client, &base, "group_open_http_svc/group_msg_receipt", body).await;
                (r, matches!(res, Ok(v) if v["ErrorCode"] == 0))
            }
        })
        .buffer_unordered(16);
    let killer = async {
        rx.wait_for("/ok", 40, Duration::from_secs(30)).await;
        first.kill();
    };
    let (results, _) = tokio::join!(calls.collect::<Vec<_>>(), killer);
    let acknowledged: Vec<String> = results.into_iter().filter(|(_, ok)| *ok).map(|(r, _)| r).collect();
    assert!(
        acknowledged.len() >= 40 && acknowledged.len() < readers.len(),
        "the kill landed mid-load: {} acknowledged",
        acknowledged.len()
    );

    let _second = ServerProcess::start(&db_url);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got: std::collections::HashSet<String> = rx.on("/ok").iter().map(|r| reader_of(&r.json())).collect();
        let missing: Vec<&String> = acknowledged.iter().filter(|r| !got.contains(*r)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} acknowledged events never arrived, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_web::test]
async fn two_processes_share_one_database_without_loss_or_duplicates() {
    let (db_url, _) = fresh_database();
    let rx = Receiver::start();
    let client = reqwest::Client::new();
    let a = ServerProcess::start(&db_url);
    let b = ServerProcess::start(&db_url);
    let (gid, readers) = setup(&client, &a.base, &rx, 200).await;
    let bases = [a.base.clone(), b.base.clone()];
    let results: Vec<Value> = stream::iter(readers.iter().enumerate())
        .map(|(i, r)| {
            let (client, base, gid) = (client.clone(), bases[i % 2].clone(), gid.clone());
            let body = json!({"GroupId": gid, "From_Account": r, "MsgSeqList": [{"MsgSeq": 1}]});
            async move { must(&client, &base, "group_open_http_svc/group_msg_receipt", body).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(results.len(), 200);
    let got = rx.wait_for("/ok", 200, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_after = rx.on("/ok");
    assert_eq!(got_after.len(), 200, "no duplicates without a crash");
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.webhook_id()).collect();
    assert_eq!(ids.len(), 200);
    let who: std::collections::HashSet<String> = got.iter().map(|r| reader_of(&r.json())).collect();
    assert_eq!(who.len(), 200, "every reader's event arrived exactly once");
}

#[actix_web::test]
async fn sigterm_finishes_in_flight_deliveries_before_exiting() {
    use diesel::prelude::*;
    let (db_url, _) = fresh_database();
    let rx = Receiver::start();
    let client = reqwest::Client::new();
    let mut server = ServerProcess::start(&db_url);
    let (gid, readers) = setup(&client, &server.base, &rx, 1).await;
    // A second endpoint that takes 2 s to answer: the delivery is in flight when SIGTERM lands.
    must(&client, &server.base, "webhook_svc/create_endpoint", json!({"Url": format!("{}/sleep/2000", rx.base)})).await;
    let body = json!({"GroupId": gid, "From_Account": readers[0], "MsgSeqList": [{"MsgSeq": 1}]});
    must(&client, &server.base, "group_open_http_svc/group_msg_receipt", body).await;
    rx.wait_for("/sleep/2000", 1, Duration::from_secs(10)).await;
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "graceful exit: {exit:?}");
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::SmallInt)]
        state: i16,
    }
    let mut conn = PgConnection::establish(&db_url).expect("connect");
    let rows: Vec<Row> =
        diesel::sql_query("SELECT state FROM webhook_deliveries ORDER BY id").load(&mut conn).expect("query");
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.state == 2),
        "both deliveries finished before exit: {:?}",
        rows.iter().map(|r| r.state).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn receipts_racing_through_two_processes_count_each_reader_once() {
    let (db_url, _) = fresh_database();
    let client = reqwest::Client::new();
    let a = ServerProcess::start(&db_url);
    let b = ServerProcess::start(&db_url);
    let (gid, readers) = group_with_readers(&client, &a.base, 60, 4).await;
    // Readers 0..48 read; every one of them sends each receipt twice, once through each
    // process, both at the same time, as single-message and as whole-list calls.
    let reading = &readers[..48];
    let bases = [a.base.clone(), b.base.clone()];
    let calls: Vec<(String, String, Vec<i64>)> = reading
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            let lists: Vec<Vec<i64>> =
                if i % 2 == 0 { vec![vec![1, 2, 3, 4]] } else { (1..=4).map(|s| vec![s]).collect() };
            let bases = bases.clone();
            lists.into_iter().flat_map(move |l| bases.clone().into_iter().map(move |b| (b, r.clone(), l.clone())))
        })
        .collect();
    let newly: Vec<(Vec<i64>, i64)> = stream::iter(calls)
        .map(|(base, reader, seqs)| {
            let (client, gid) = (client.clone(), gid.clone());
            async move {
                let list: Vec<Value> = seqs.iter().map(|s| json!({"MsgSeq": s})).collect();
                let body = json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": list});
                let v = must(&client, &base, "group_open_http_svc/group_msg_receipt", body).await;
                (seqs, v["NewlyReadNum"].as_i64().expect("NewlyReadNum"))
            }
        })
        .buffer_unordered(24)
        .collect()
        .await;
    // Each (message, reader) became new exactly once, whichever process won the race.
    let total_new: i64 = newly.iter().map(|(_, n)| n).sum();
    assert_eq!(total_new, 48 * 4, "new receipts across both processes: {newly:?}");

    for base in &bases {
        let list: Vec<Value> = (1..=4).map(|s| json!({"MsgSeq": s})).collect();
        let v = must(
            &client,
            base,
            "group_open_http_svc/get_group_msg_receipt",
            json!({"GroupId": gid, "MsgSeqList": list}),
        )
        .await;
        for item in v["GroupMsgReceiptList"].as_array().expect("list") {
            assert_eq!(item["Code"], 0, "{item}");
            assert_eq!(item["ReadNum"], 48, "exact reads on {base}: {item}");
            assert_eq!(item["UnreadNum"], 12, "exact unread on {base}: {item}");
        }
        // The lists agree with the counters: exactly the 48 readers, once each.
        let v = must(
            &client,
            base,
            "group_open_http_svc/get_group_msg_receipt_detail",
            json!({"GroupId": gid, "MsgSeq": 3, "Filter": 0, "Cursor": "", "Count": 100}),
        )
        .await;
        let mut listed: Vec<String> = v["ReadList"]
            .as_array()
            .expect("ReadList")
            .iter()
            .map(|r| r["Read_Account"].as_str().unwrap().to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, reading, "read list on {base}");
    }
}

/// The `event_stream` URL of `user`'s stream on `base`, followed as the admin.
fn stream_url(base: &str, user: &str) -> String {
    let q = format!("sdkappid={SDKAPPID}&identifier={ADMIN}&usersig={}&random=1&contenttype=json", sig(ADMIN));
    format!("{base}/v4/receipt_svc/event_stream?{q}&To_Account={user}")
}

async fn read_one(client: &reqwest::Client, base: &str, gid: &str, reader: &str) {
    let body = json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": [{"MsgSeq": 1}]});
    let v = must(client, base, "group_open_http_svc/group_msg_receipt", body).await;
    assert_eq!(v["NewlyReadNum"], 1, "{v}");
}

#[actix_web::test]
async fn a_stream_on_one_process_gets_events_made_through_the_other_live_and_on_resume() {
    let (db_url, _) = fresh_database();
    let client = reqwest::Client::new();
    let a = ServerProcess::start(&db_url);
    let b = ServerProcess::start(&db_url);
    let (gid, readers) = group_with_readers(&client, &a.base, 8, 1).await;

    // Live: the owner follows their stream on B while reader0000 reads through A.
    let mut on_b = EventStream::open(&client, &stream_url(&b.base, "owner"), None).await;
    let t = std::time::Instant::now();
    read_one(&client, &a.base, &gid, &readers[0]).await;
    let live = on_b.next_events(1, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert_eq!(live[0].kind, "Group.ReadReceipt");
    assert_eq!(live[0].data, json!({"GroupId": gid, "Member_Account": readers[0], "MsgSeqList": [1]}));
    // Woken by A's NOTIFY through B's LISTEN: well under the 15 s keep-alive, the only other
    // moment an idle stream looks.
    assert!(took < Duration::from_secs(2), "the event took {took:?} to reach the other process's stream");
    drop(on_b);

    // Offline: readers 1..=5 read, through A and through B, while the owner is away.
    for (i, r) in readers[1..=5].iter().enumerate() {
        read_one(&client, if i % 2 == 0 { &a.base } else { &b.base }, &gid, r).await;
    }
    // Resuming on B returns exactly the missed events, in order, and then follows live.
    let mut resumed = EventStream::open(&client, &stream_url(&b.base, "owner"), Some(&live[0].id)).await;
    let missed = resumed.next_events(5, Duration::from_secs(5)).await;
    let who: Vec<&str> = missed.iter().map(|e| e.data["Member_Account"].as_str().unwrap()).collect();
    assert_eq!(who, readers[1..=5].iter().map(String::as_str).collect::<Vec<_>>(), "missed events: {missed:?}");
    assert!(missed.iter().all(|e| e.kind == "Group.ReadReceipt" && e.id != live[0].id));
    resumed.assert_no_more(Duration::from_millis(300)).await;
    read_one(&client, &a.base, &gid, &readers[6]).await;
    let next = resumed.next_events(1, Duration::from_secs(5)).await;
    assert_eq!(next[0].data["Member_Account"], readers[6].as_str());

    // The same resume point on A gives the same events with the same ids.
    let mut on_a = EventStream::open(&client, &stream_url(&a.base, "owner"), Some(&live[0].id)).await;
    let again = on_a.next_events(6, Duration::from_secs(5)).await;
    let ids = |evs: &[crate::stream::Event]| evs.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again[..5]), ids(&missed));
    assert_eq!(again[5].id, next[0].id);
}
