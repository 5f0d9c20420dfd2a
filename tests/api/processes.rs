//! Whole server processes: SIGKILL during load, and two processes sharing one database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{stream, StreamExt};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::Receiver;

/// A server binary running against `db_url`.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    fn start(db_url: &str) -> ServerProcess {
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
    fn kill(&mut self) {
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

async fn must(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let v = post(client, base, path, body).await.expect("request");
    assert_eq!(v["ErrorCode"], 0, "{path}: {v}");
    v
}

/// Accounts, a group of `n` readers with one receipt-requesting message, and an endpoint.
async fn setup(client: &reqwest::Client, base: &str, rx: &Receiver, n: usize) -> (String, Vec<String>) {
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
    let body = json!({"GroupId": gid, "From_Account": "owner", "Random": 1, "NeedReadReceipt": 1,
                      "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}]});
    must(client, base, "group_open_http_svc/send_group_msg", body).await;
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
