//! The system under test: an in-process server on a fresh database of an embedded cluster,
//! or a server that is already running elsewhere, plus the admin API client used to drive it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use imreceipts::embedded_pg::{EmbeddedPg, PgOptions};
use imreceipts::settings::Settings;
use imreceipts::state::AppIdentity;
use imreceipts::{db, usersig, Application};
use serde_json::Value;

use crate::pgstats;

/// Set while the harness tears the server down, so the expected "lost its connection"
/// warnings of the webhook listener do not look like failures.
pub static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Prefix of the databases this harness creates (leftovers of crashed runs are dropped).
const DB_PREFIX: &str = "imr_bench_";

/// A client of the `/v4` API that authenticates as the App admin.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Arc<str>,
    query: Arc<str>,
    /// The app it signs for, and the key (S8 points a second client at a second server).
    pub sdkappid: u64,
    pub secret_key: Arc<str>,
}

impl Api {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, sdkappid: u64, key: &str, admin: &str) -> Result<Api> {
        let now = chrono::Utc::now().timestamp();
        // Valid for a day: far longer than any run.
        let sig = usersig::generate(key, sdkappid, admin, now, 86_400);
        let http = reqwest::Client::builder()
            // Every request is bounded, so every load loop ends even if the server hangs.
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(512)
            .build()?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').into(),
            query: format!("sdkappid={sdkappid}&identifier={admin}&usersig={sig}&random=1&contenttype=json").into(),
            sdkappid,
            secret_key: key.into(),
        })
    }

    /// The URL of `service/command` with the admin's query string.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v4/{path}?{}", self.base, self.query)
    }

    /// The sum of the server's `/metrics` counter `name` over all its labels.
    pub async fn counter(&self, name: &str) -> Result<f64, String> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("/metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("/metrics: {e}"))?;
        Ok(text
            .lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{'])))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Calls `service/command` with a JSON body; an error unless HTTP 200 and ActionStatus OK.
    pub async fn call(&self, path: &str, body: &Value) -> Result<Value, String> {
        let url = self.url(path);
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("{path}: reading the body: {e}"))?;
        if !status.is_success() {
            return Err(format!("{path}: HTTP {status}"));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{path}: invalid JSON: {e}"))?;
        if v["ActionStatus"] != "OK" {
            return Err(format!("{path}: ErrorCode {} {}", v["ErrorCode"], v["ErrorInfo"]));
        }
        Ok(v)
    }
}

/// An in-process server on its own actix System, backed by an embedded cluster.
pub struct Embedded {
    pg: EmbeddedPg,
    /// URL of the cluster's maintenance database (for scratch databases and pgbench).
    pub admin_url: String,
    /// URL of the fresh database the server uses.
    pub db_url: String,
    /// Its name.
    pub db_name: String,
    /// The key sealing webhook secrets (base64), for S8's second server on the same database.
    pub secrets_key: String,
    system: actix_web::rt::System,
    thread: Option<JoinHandle<()>>,
    /// The server's port on 127.0.0.1.
    pub port: u16,
}

impl Embedded {
    /// Starts (or reuses) the cluster under `data_dir`, creates a fresh database and runs the
    /// server on it with the library's default settings (port 0, loopback webhooks allowed).
    /// With `pg_stats`, the cluster is (re)started with `pg_stat_statements` loaded; without,
    /// it is restarted without it if an earlier run left it loaded.
    pub fn start(data_dir: &Path, identity: AppIdentity, pg_stats: bool) -> Result<Embedded> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        // Durable settings (fsync on), like a real deployment: the raw baseline runs on the
        // same cluster, so both pay the same commit cost.
        let mut pg = EmbeddedPg::start(data_dir, &PgOptions::default())?;
        let started = switch_pg_stats(&mut pg, data_dir, pg_stats).and_then(|()| launch(&pg, data_dir, identity));
        match started {
            Ok(s) => Ok(Embedded {
                admin_url: pg.url("postgres"),
                pg,
                db_url: s.db_url,
                db_name: s.db_name,
                secrets_key: s.secrets_key,
                system: s.system,
                thread: Some(s.thread),
                port: s.port,
            }),
            Err(e) => {
                // Never leave a cluster running behind a failed start.
                pg.stop();
                Err(e)
            }
        }
    }

    /// Stops the server, drops its database (unless `keep`) and stops the cluster.
    pub fn stop(mut self, keep: bool) {
        SHUTTING_DOWN.store(true, Ordering::SeqCst);
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if !keep {
            if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.db_name))
                    .execute(&mut conn);
            }
        }
        self.pg.stop();
    }
}

/// What [`launch`] started.
struct Launched {
    db_url: String,
    db_name: String,
    secrets_key: String,
    system: actix_web::rt::System,
    thread: JoinHandle<()>,
    port: u16,
}

/// Restarts the cluster when pg_stat_statements is loaded and should not be, or vice versa.
fn switch_pg_stats(pg: &mut EmbeddedPg, data_dir: &Path, wanted: bool) -> Result<()> {
    if pgstats::loaded(&pg.url("postgres"))? != wanted {
        pgstats::configure(&pg.url("postgres"), wanted)?;
        pg.stop();
        *pg = EmbeddedPg::start(data_dir, &PgOptions::default())?;
    }
    let loaded = pgstats::loaded(&pg.url("postgres"))?;
    if loaded != wanted {
        tracing::warn!("the bench cluster was running before this run, so pg_stat_statements could not be switched; stop it and run again");
    } else if wanted {
        pgstats::track_planning(&pg.url("postgres"))?;
    }
    Ok(())
}

/// Creates a fresh database and starts the server on it.
fn launch(pg: &EmbeddedPg, data_dir: &Path, identity: AppIdentity) -> Result<Launched> {
    let admin_url = pg.url("postgres");
    drop_leftovers(&admin_url)?;
    let db_name = format!("{DB_PREFIX}{}_{}", chrono::Utc::now().format("%Y%m%d%H%M%S"), std::process::id());
    db::create_database_if_missing(&admin_url, &db_name, None)?;
    let db_url = pg.url(&db_name);
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".parse()?;
    settings.data_dir = data_dir.to_path_buf();
    settings.webhooks.allow_loopback = true;
    // Given rather than generated into the data directory, so a second server can share it.
    let key = imreceipts::vault::Key::generate();
    let secrets_key = key.to_base64();
    settings.secrets_key = Some(key);
    let url = db_url.clone();
    let (port, system, thread) = spawn_system("imreceipts-server", move || {
        let app = Application::build(&settings, identity, &url)?;
        let port = app.port();
        actix_web::rt::spawn(async move {
            if let Err(e) = app.run_until_stopped().await {
                tracing::error!(error = %e, "the server under test stopped");
            }
        });
        Ok(port)
    })?;
    Ok(Launched { db_url, db_name, secrets_key, system, thread, port })
}

/// Runs `init` inside a new actix System on a thread of its own and keeps that System running
/// until it is stopped; returns what `init` produced, the System and the thread.
pub fn spawn_system<T, F>(name: &str, init: F) -> Result<(T, actix_web::rt::System, JoinHandle<()>)>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        let sys = actix_web::rt::System::new();
        let started = sys.block_on(async { init().map(|v| (v, actix_web::rt::System::current())) });
        let ok = started.is_ok();
        let _ = tx.send(started);
        if ok {
            // Drives the spawned server until System::stop.
            let _ = sys.run();
        }
    })?;
    let (value, system) = rx.recv().map_err(|_| anyhow!("{name} thread died while starting"))??;
    Ok((value, system, thread))
}

fn drop_leftovers(admin_url: &str) -> Result<()> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let mut conn = PgConnection::establish(admin_url).context("connecting to the bench cluster")?;
    let old: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'imr\\_bench\\_%'").load(&mut conn)?;
    for n in old {
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", n.datname)).execute(&mut conn)?;
    }
    Ok(())
}

/// Runs SQL statements on `url` (setup of scratch tables, ANALYZE, CHECKPOINT).
pub fn sql(url: &str, statements: &str) -> Result<()> {
    let mut conn = PgConnection::establish(url).with_context(|| "connecting to the database")?;
    conn.batch_execute(statements)?;
    Ok(())
}

/// The server's PostgreSQL version string.
pub fn pg_version(url: &str) -> Result<String> {
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut conn = PgConnection::establish(url)?;
    let v: V = diesel::sql_query("SELECT version() AS v").get_result(&mut conn)?;
    Ok(v.v)
}
