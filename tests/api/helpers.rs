//! Test harness: a real server on port 0 against its own fresh database cloned from a
//! migrated template in a shared embedded PostgreSQL cluster.

use std::sync::{Mutex, OnceLock};

use diesel::prelude::*;
use imreceipts::embedded_pg::{EmbeddedPg, PgOptions};
use imreceipts::settings::Settings;
use imreceipts::state::AppIdentity;
use imreceipts::{db, usersig, Application};
use serde_json::{json, Value};

pub const SDKAPPID: u64 = 1400000000;
pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
pub const ADMIN: &str = "administrator";
/// The key sealing webhook secrets in test servers (so none writes `var/app.json`).
pub const SECRETS_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";

/// Databases of this test process are named `imr_<pid>_...`, so concurrent runs sharing the
/// cluster never drop each other's databases.
fn prefix() -> String {
    format!("imr_{}_", std::process::id())
}

fn template() -> String {
    format!("{}template", prefix())
}

struct Cluster {
    pg: EmbeddedPg,
    lock: Mutex<()>,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::env::var("IMRECEIPTS_TEST_DATA_DIR")
            .unwrap_or_else(|_| format!("{}/var/test", env!("CARGO_MANIFEST_DIR")));
        let pg = EmbeddedPg::start(std::path::Path::new(&dir), &PgOptions { unsafe_fast: true })
            .expect("start the test PostgreSQL cluster");
        // A fresh template per test run, so migration changes are always picked up; databases
        // left by finished runs (their process is gone) are dropped.
        let mut conn = PgConnection::establish(&pg.url("postgres")).expect("connect to test cluster");
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let old: Vec<Name> = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'imr\\_%'")
            .load(&mut conn)
            .expect("list databases");
        for n in old {
            let pid = n.datname.split('_').nth(1).unwrap_or_default();
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", n.datname))
                .execute(&mut conn)
                .expect("drop old test database");
        }
        diesel::sql_query(format!("CREATE DATABASE {}", template())).execute(&mut conn).expect("create template");
        db::migrate(&pg.url(&template())).expect("migrate template");
        Cluster { pg, lock: Mutex::new(()) }
    })
}

/// A fresh, migrated database; returns its URL.
pub fn fresh_database() -> (String, String) {
    let c = cluster();
    let name = format!("{}t{:016x}", prefix(), rand::random::<u64>());
    {
        let _guard = c.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut conn = PgConnection::establish(&c.pg.url("postgres")).expect("connect");
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {}", template()))
            .execute(&mut conn)
            .expect("create db");
    }
    (c.pg.url(&name), name)
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub db_url: String,
    db_name: String,
    pub client: reqwest::Client,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Best effort: the next run drops leftovers anyway.
        if let Ok(mut conn) = PgConnection::establish(&cluster().pg.url("postgres")) {
            let _ =
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name)).execute(&mut conn);
        }
    }
}

/// Settings for a test server: port 0, loopback webhooks allowed, fast retries.
pub fn test_settings() -> Settings {
    let mut s = Settings::defaults();
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.pool_size = 10;
    s.workers = Some(2);
    s.webhooks.allow_loopback = true;
    s.webhooks.retry_scale = 0.1;
    s.webhooks.poll_ms = 200;
    s.secrets_key = Some(SECRETS_KEY.parse().unwrap());
    s
}

pub fn identity() -> AppIdentity {
    AppIdentity { sdkappid: SDKAPPID, secret_key: KEY.into(), admins: vec![ADMIN.into()] }
}

/// Starts a server with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

/// Starts a server with the given settings on a fresh database.
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    static TRACING: OnceLock<()> = OnceLock::new();
    TRACING.get_or_init(|| {
        // Quiet by default; RUST_LOG=imreceipts=debug shows the server's logs under test.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    });
    let (db_url, db_name) = fresh_database();
    let app = Application::build(&settings, identity(), &db_url).expect("build app");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp { base, db_url, db_name, client: reqwest::Client::new() }
}

/// Starts one more server on an existing database (owned by the `TestApp` that made it);
/// returns its base URL, or why it would not start.
pub async fn spawn_server_on(settings: Settings, db_url: &str) -> anyhow::Result<String> {
    let app = Application::build(&settings, identity(), db_url)?;
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    Ok(base)
}

/// A valid UserSig for `identifier`.
pub fn sig(identifier: &str) -> String {
    usersig::generate(KEY, SDKAPPID, identifier, chrono::Utc::now().timestamp(), 86400)
}

impl TestApp {
    /// The query string for `identifier` with a valid sig.
    pub fn query(&self, identifier: &str) -> String {
        format!("sdkappid={SDKAPPID}&identifier={identifier}&usersig={}&random=7&contenttype=json", sig(identifier))
    }

    /// POSTs raw bytes with a raw query string; returns (HTTP status, parsed JSON body).
    pub async fn raw(&self, path: &str, query: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp =
            self.client.post(format!("{}/v4/{path}?{query}", self.base)).body(body).send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                crate::schema::check(path, &v);
                (status, v)
            }
            Err(_) => (status, json!({ "raw": text })),
        }
    }

    /// POSTs `body` as `identifier`; asserts HTTP 200 and returns the JSON answer.
    pub async fn call_as(&self, identifier: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.raw(path, &self.query(identifier), body.to_string()).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// POSTs `body` as the admin.
    pub async fn call(&self, path: &str, body: Value) -> Value {
        self.call_as(ADMIN, path, body).await
    }

    /// POSTs as the admin and asserts success.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let v = self.call(path, body).await;
        assert_eq!(v["ErrorCode"], 0, "{path} failed: {v}");
        assert_eq!(v["ActionStatus"], "OK");
        v
    }

    /// Imports accounts.
    pub async fn import(&self, ids: &[&str]) {
        for chunk in ids.chunks(100) {
            self.ok("im_open_login_svc/multiaccount_import", json!({ "Accounts": chunk })).await;
        }
    }

    /// Creates a group of `gtype` owned by `owner` with `members`; returns its id.
    pub async fn group(&self, gtype: &str, owner: &str, members: &[&str]) -> String {
        let first: Vec<Value> = members.iter().take(100).map(|m| json!({"Member_Account": m})).collect();
        let v = self
            .ok(
                "group_open_http_svc/create_group",
                json!({"Type": gtype, "Name": "test", "Owner_Account": owner, "MemberList": first}),
            )
            .await;
        let gid = v["GroupId"].as_str().unwrap().to_string();
        for chunk in members.iter().skip(100).collect::<Vec<_>>().chunks(300) {
            let list: Vec<Value> = chunk.iter().map(|m| json!({"Member_Account": m})).collect();
            self.ok("group_open_http_svc/add_group_member", json!({"GroupId": gid, "MemberList": list})).await;
        }
        gid
    }

    /// Sends a group message; returns its MsgSeq.
    pub async fn group_msg(&self, gid: &str, from: &str, need_receipt: bool) -> i64 {
        let v = self
            .ok(
                "group_open_http_svc/send_group_msg",
                json!({"GroupId": gid, "From_Account": from, "Random": rand::random::<u32>(), "NeedReadReceipt": i32::from(need_receipt),
                       "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]}),
            )
            .await;
        v["MsgSeq"].as_i64().unwrap()
    }

    /// Sends a C2C message; returns its MsgKey.
    pub async fn c2c_msg(&self, from: &str, to: &str, need_receipt: bool) -> String {
        let v = self
            .ok(
                "openim/sendmsg",
                json!({"From_Account": from, "To_Account": to, "MsgRandom": rand::random::<u32>(), "IsNeedReadReceipt": i32::from(need_receipt),
                       "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]}),
            )
            .await;
        v["MsgKey"].as_str().unwrap().to_string()
    }

    /// Counts of (group, seq) as (ReadNum, UnreadNum, DeliveredNum, Code).
    pub async fn counts(&self, gid: &str, seq: i64) -> (i64, i64, i64, i64) {
        let v = self
            .ok("group_open_http_svc/get_group_msg_receipt", json!({"GroupId": gid, "MsgSeqList": [{"MsgSeq": seq}]}))
            .await;
        let item = &v["GroupMsgReceiptList"][0];
        (
            item["ReadNum"].as_i64().unwrap(),
            item["UnreadNum"].as_i64().unwrap(),
            item["DeliveredNum"].as_i64().unwrap(),
            item["Code"].as_i64().unwrap(),
        )
    }
}

/// Asserts a failed call with `code`, returning ErrorInfo.
pub fn assert_fail(v: &Value, code: i64) -> String {
    assert_eq!(v["ActionStatus"], "FAIL", "expected failure {code}, got {v}");
    assert_eq!(v["ErrorCode"], code, "wrong code: {v}");
    let info = v["ErrorInfo"].as_str().unwrap_or_default().to_string();
    assert!(!info.is_empty(), "ErrorInfo must explain the error: {v}");
    info
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Runs `q` on a connection of its own (closed at once, so its statistics reach PostgreSQL).
pub fn sql(app: &TestApp, q: &str) {
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query(q).execute(&mut conn).unwrap();
}

/// The `n` column (bigint) of the one row `q` returns.
pub fn count(app: &TestApp, q: &str) -> i64 {
    let mut conn = PgConnection::establish(&app.db_url).unwrap();
    diesel::sql_query(q).get_result::<Count>(&mut conn).unwrap().n
}
