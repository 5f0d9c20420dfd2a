//! Shared pieces: a cluster per scenario, the server process, signed calls, figures.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use imreceipts::embedded_pg::{EmbeddedPg, PgOptions};
use serde_json::{json, Value};

pub const SDKAPPID: u64 = 1400000000;
pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
pub const ADMIN: &str = "administrator";
/// The clear "database unavailable or busy, retry" code.
pub const UNAVAILABLE: i64 = 60008;

/// Scenarios run one at a time: they measure recovery times and share two cores. (An async
/// lock: each test has its own runtime, and a failed test must not poison the others.)
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Prints one figure line (shown with `--nocapture`).
pub fn figure(scenario: &str, text: String) {
    println!("FIGURE {scenario}: {text}");
}

/// `var/test-faults/<name>` in this checkout.
pub fn base_dir(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/var/test-faults/{name}", env!("CARGO_MANIFEST_DIR")))
}

/// A PostgreSQL cluster owned by one scenario, stopped when dropped.
pub struct Cluster {
    pub pg: EmbeddedPg,
}

pub const FAST: PgOptions = PgOptions { unsafe_fast: true };

impl Cluster {
    /// Starts (initialising on first use) the cluster under `var/test-faults/<name>`.
    pub fn start(name: &str) -> Cluster {
        let pg = EmbeddedPg::start(&base_dir(name), &FAST).expect("start the scenario's PostgreSQL cluster");
        Cluster { pg }
    }

    /// A fresh, empty database `name` (the server migrates it); returns its URL.
    pub fn fresh_database(&self, name: &str) -> String {
        self.sql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.pg.url(name)
    }

    /// Runs one statement in database `db`.
    pub fn sql(&self, db: &str, sql: &str) {
        let mut conn = PgConnection::establish(&self.pg.url(db)).expect("connect to the scenario cluster");
        diesel::sql_query(sql).execute(&mut conn).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg.stop_fast();
    }
}

/// Key sealing webhook secrets in every server process of the suite.
const SECRETS_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Where a server process finds its database.
pub enum Db<'a> {
    /// `DATABASE_URL`.
    Url(&'a str),
    /// The server's own embedded cluster under this data directory.
    Embedded(&'a std::path::Path),
}

/// The real server binary.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts the binary and waits for its banner; `env` adds or overrides settings.
    pub fn start(db: Db<'_>, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imreceipts"));
        match db {
            Db::Url(url) => {
                let data = std::env::temp_dir().join(format!("imr-faults-{:x}", rand::random::<u64>()));
                cmd.env("DATABASE_URL", url).env("IMRECEIPTS_DATA_DIR", data);
            }
            Db::Embedded(dir) => {
                cmd.env_remove("DATABASE_URL").env("IMRECEIPTS_DATA_DIR", dir);
            }
        }
        cmd.env("IMRECEIPTS_LISTEN", "127.0.0.1:0")
            .env("IMRECEIPTS_SDKAPPID", SDKAPPID.to_string())
            .env("IMRECEIPTS_SECRET_KEY", KEY)
            // One secrets key for every process, as in any multi-process deployment: a restart
            // with a fresh data directory must still open the endpoints' sealed secrets.
            .env("IMRECEIPTS_SECRETS_KEY", SECRETS_KEY)
            .env("IMRECEIPTS_ADMINS", ADMIN)
            .env("IMRECEIPTS_WORKERS", "2")
            .env("IMRECEIPTS_POOL_SIZE", "8")
            .env("IMRECEIPTS_WEBHOOK_ALLOW_LOOPBACK", "true")
            .env("IMRECEIPTS_WEBHOOK_RETRY_SCALE", "0.001")
            .env("IMRECEIPTS_WEBHOOK_POLL_MS", "100")
            .env("IMRECEIPTS_WEBHOOK_LEASE_MARGIN_SECS", "2")
            .env("RUST_LOG", std::env::var("IMR_FAULTS_LOG").unwrap_or_else(|_| "error".into()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start the server binary");
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
        Server { child, base }
    }

    /// SIGKILL: no graceful shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the server stops the embedded cluster it started.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A valid admin query string.
fn query() -> String {
    let sig = imreceipts::usersig::generate(KEY, SDKAPPID, ADMIN, chrono::Utc::now().timestamp(), 86400);
    format!("sdkappid={SDKAPPID}&identifier={ADMIN}&usersig={sig}&random=1&contenttype=json")
}

/// What one call produced.
#[derive(Debug, Clone)]
pub enum Answer {
    /// HTTP status and the envelope (checked against the OpenAPI document).
    Json(u16, Value),
    /// No answer: connection refused or reset, timeout (the cause is shown by `Debug`).
    Transport(#[allow(dead_code)] String),
}

impl Answer {
    /// The ErrorCode of an HTTP 200 envelope.
    pub fn code(&self) -> Option<i64> {
        match self {
            Answer::Json(200, v) => v["ErrorCode"].as_i64(),
            _ => None,
        }
    }
}

/// POSTs `body` to `/v4/{path}` as the admin.
pub async fn call(client: &reqwest::Client, base: &str, path: &str, body: &Value) -> Answer {
    let res = client
        .post(format!("{base}/v4/{path}?{}", query()))
        .timeout(Duration::from_secs(15))
        .body(body.to_string())
        .send()
        .await;
    let resp = match res {
        Ok(r) => r,
        Err(e) => return Answer::Transport(e.to_string()),
    };
    let status = resp.status().as_u16();
    match resp.text().await {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                if status == 200 {
                    crate::schema::check(path, &v);
                }
                Answer::Json(status, v)
            }
            Err(_) => Answer::Json(status, json!({ "raw": text })),
        },
        Err(e) => Answer::Transport(e.to_string()),
    }
}

/// A call that must succeed.
pub async fn must(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    match call(client, base, path, &body).await {
        Answer::Json(200, v) if v["ErrorCode"] == 0 => v,
        other => panic!("{path}: {other:?}"),
    }
}

/// `GET /readyz`: the status code, or 0 without an answer.
pub async fn readyz(client: &reqwest::Client, base: &str) -> (u16, Value) {
    match client.get(format!("{base}/readyz")).timeout(Duration::from_secs(10)).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// One series of `GET /metrics`, 0 when absent.
pub async fn metric(client: &reqwest::Client, base: &str, series: &str) -> f64 {
    let text = match client.get(format!("{base}/metrics")).timeout(Duration::from_secs(10)).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

/// `n` readers and an owner, a Private group of them, `msgs` messages asking for receipts and
/// an endpoint at `hook` with a `timeout_secs` timeout; returns the GroupId, readers and seqs.
pub async fn group_fixture(
    client: &reqwest::Client,
    base: &str,
    n: usize,
    msgs: usize,
    hook: &str,
    timeout_secs: u32,
) -> (String, Vec<String>, Vec<i64>) {
    let readers: Vec<String> = (0..n).map(|i| format!("reader{i:03}")).collect();
    let mut all = readers.clone();
    all.push("owner".into());
    for chunk in all.chunks(100) {
        must(client, base, "im_open_login_svc/multiaccount_import", json!({ "Accounts": chunk })).await;
    }
    let members: Vec<Value> = readers.iter().take(100).map(|m| json!({"Member_Account": m})).collect();
    let v = must(
        client,
        base,
        "group_open_http_svc/create_group",
        json!({"Type": "Private", "Name": "faults", "Owner_Account": "owner", "MemberList": members}),
    )
    .await;
    let gid = v["GroupId"].as_str().expect("GroupId").to_string();
    let mut seqs = Vec::new();
    for i in 0..msgs {
        let body = json!({"GroupId": gid, "From_Account": "owner", "Random": i, "NeedReadReceipt": 1,
                          "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": format!("m{i}")}}]});
        let v = must(client, base, "group_open_http_svc/send_group_msg", body).await;
        seqs.push(v["MsgSeq"].as_i64().expect("MsgSeq"));
    }
    must(client, base, "webhook_svc/create_endpoint", json!({"Url": hook, "TimeoutSeconds": timeout_secs})).await;
    (gid, readers, seqs)
}

/// A group read receipt of `reader` for `seq`.
pub fn group_receipt(gid: &str, reader: &str, seq: i64) -> Value {
    json!({"GroupId": gid, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]})
}

/// Rows of one query as JSON values (`SELECT to_jsonb(...) AS v`).
pub fn json_rows(url: &str, sql: &str) -> Vec<Value> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        v: Value,
    }
    let mut conn = PgConnection::establish(url).expect("connect");
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut conn).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|r| r.v).collect()
}

/// Every (reader, seq) named by a stored `Group.CallbackAfterReadReceipt` event.
pub fn group_events(url: &str) -> std::collections::HashSet<(String, i64)> {
    let mut out = std::collections::HashSet::new();
    let sql = "SELECT convert_from(body, 'UTF8')::jsonb AS v FROM webhook_events
                WHERE event_type = 'Group.CallbackAfterReadReceipt'";
    for ev in json_rows(url, sql) {
        for item in ev["GroupMsgReceiptList"].as_array().into_iter().flatten() {
            for m in item["ReadReceiptMembers"].as_array().into_iter().flatten() {
                let who = m["Member_Account"].as_str().unwrap_or_default().to_string();
                out.insert((who, item["MsgSeq"].as_i64().unwrap_or(-1)));
            }
        }
    }
    out
}

/// Milliseconds since `t`, for figures.
pub fn ms(t: Instant) -> u128 {
    t.elapsed().as_millis()
}

/// Every public id of a stored webhook event.
pub fn event_ids(url: &str) -> std::collections::HashSet<String> {
    json_rows(url, "SELECT to_jsonb(public_id) AS v FROM webhook_events")
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Counter drift check: for every seq, ReadNum answered by the API and `read_count` stored
/// equal a recount of the receipt rows, and ReadNum + UnreadNum is the `eligible` readers.
/// Returns how many messages were checked.
pub async fn assert_no_drift(
    client: &reqwest::Client,
    base: &str,
    url: &str,
    gid: &str,
    seqs: &[i64],
    eligible: i64,
) -> usize {
    let sql = format!(
        "SELECT jsonb_build_array(m.msg_seq, m.read_count,
                (SELECT count(*) FROM group_receipts r WHERE r.group_id = m.group_id AND r.msg_seq = m.msg_seq
                    AND r.read_at IS NOT NULL)) AS v
           FROM group_messages m WHERE m.group_id = '{gid}'"
    );
    let stored: std::collections::HashMap<i64, (i64, i64)> = json_rows(url, &sql)
        .into_iter()
        .map(|v| (v[0].as_i64().unwrap_or(-1), (v[1].as_i64().unwrap_or(-1), v[2].as_i64().unwrap_or(-2))))
        .collect();
    for chunk in seqs.chunks(10) {
        let list: Vec<Value> = chunk.iter().map(|s| json!({"MsgSeq": s})).collect();
        let v = must(
            client,
            base,
            "group_open_http_svc/get_group_msg_receipt",
            json!({"GroupId": gid, "MsgSeqList": list}),
        )
        .await;
        for item in v["GroupMsgReceiptList"].as_array().expect("GroupMsgReceiptList") {
            let seq = item["MsgSeq"].as_i64().expect("MsgSeq");
            let (read_count, recount) = stored[&seq];
            let (read, unread) =
                (item["ReadNum"].as_i64().expect("ReadNum"), item["UnreadNum"].as_i64().expect("UnreadNum"));
            assert_eq!(read_count, recount, "seq {seq}: stored read_count drifted from the receipt rows");
            assert_eq!(read, recount, "seq {seq}: ReadNum differs from the receipt rows");
            assert_eq!(read + unread, eligible, "seq {seq}: ReadNum {read} + UnreadNum {unread}");
        }
    }
    seqs.len()
}
