//! (b) PostgreSQL stopped (`pg_ctl stop -m fast`) and started again under load: the clear
//! 60008 answer, never a 5xx or a hang, `/readyz` flips, everything acknowledged is kept and
//! the webhook dispatcher resumes by itself. Run against the server's own embedded cluster and
//! against an external `DATABASE_URL` cluster.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imreceipts::embedded_pg::{EmbeddedPg, PgOptions};

use crate::flaky::Flaky;
use crate::support::*;

/// How long the database stays down.
const OUTAGE: Duration = Duration::from_secs(3);
/// The server's pool wait (the default).
const POOL_WAIT_MS: u64 = 2000;

/// One answered call during the load.
struct Sample {
    at: Instant,
    latency: Duration,
    answer: Answer,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_database_restart_under_load() {
    let _serial = serial().await;
    let cluster = Cluster::start("pg-restart");
    let url = cluster.fresh_database("faults");
    let server = Server::start(Db::Url(&url), &[]);
    restart_under_load("pg-restart-external", server, &url, &cluster.pg, &FAST).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_database_restart_under_load() {
    use diesel::prelude::*;
    let _serial = serial().await;
    let dir = base_dir("embedded-server");
    // A clean database for the server's own cluster; the server then starts the cluster itself.
    let pg = EmbeddedPg::start(&dir, &PgOptions::default()).expect("prepare the embedded cluster");
    let mut conn = PgConnection::establish(&pg.url("postgres")).expect("connect");
    diesel::sql_query("DROP DATABASE IF EXISTS imreceipts WITH (FORCE)").execute(&mut conn).expect("drop");
    drop(conn);
    pg.stop_fast().expect("stop the cluster before the server starts it");
    let server = Server::start(Db::Embedded(&dir), &[]);
    // The cluster the server started, found running: this handle does not own it.
    let pg = EmbeddedPg::start(&dir, &PgOptions::default()).expect("attach to the server's cluster");
    let url = pg.url("imreceipts");
    let mut server = restart_under_load("pg-restart-embedded", server, &url, &pg, &PgOptions::default()).await;
    // SIGTERM: the server stops the cluster it started (stop_fast covers a failed shutdown).
    server.terminate();
    let _ = pg.stop_fast();
}

async fn restart_under_load(name: &str, mut server: Server, url: &str, pg: &EmbeddedPg, opts: &PgOptions) -> Server {
    let rx = Flaky::start(vec![], Duration::ZERO, Duration::ZERO).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let (gid, readers, seqs) = group_fixture(&client, &base, 40, 40, &format!("{}/hook", rx.base), 2).await;
    let queue: Arc<Mutex<VecDeque<(String, i64)>>> =
        Arc::new(Mutex::new(seqs.iter().flat_map(|s| readers.iter().map(move |r| (r.clone(), *s))).collect()));
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let ready: Arc<Mutex<Vec<(Instant, u16, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    // 8 clients; a refused receipt is retried later, as a real client would.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (queue, acked, samples, stop) = (queue.clone(), acked.clone(), samples.clone(), stop.clone());
        let (client, base, gid) = (client.clone(), base.clone(), gid.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let Some((r, s)) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else { break };
                let started = Instant::now();
                let answer =
                    call(&client, &base, "group_open_http_svc/group_msg_receipt", &group_receipt(&gid, &r, s)).await;
                if answer.code() == Some(0) {
                    acked.lock().unwrap_or_else(|e| e.into_inner()).push((r, s));
                } else {
                    queue.lock().unwrap_or_else(|e| e.into_inner()).push_back((r, s));
                }
                samples.lock().unwrap_or_else(|e| e.into_inner()).push(Sample {
                    at: Instant::now(),
                    latency: started.elapsed(),
                    answer,
                });
                // Paced so the load spans the outage and the time after it.
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }));
    }
    {
        let (ready, stop, client, base) = (ready.clone(), stop.clone(), client.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let (status, body) = readyz(&client, &base).await;
                let text = body["status"].as_str().unwrap_or_default().to_string();
                ready.lock().unwrap_or_else(|e| e.into_inner()).push((Instant::now(), status, text));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let t_stop = Instant::now();
    pg.stop_fast().expect("stop PostgreSQL");
    let stop_ms = ms(t_stop);
    tokio::time::sleep(OUTAGE).await;
    let t_start = Instant::now();
    pg.start_again(opts).expect("start PostgreSQL again");
    let start_ms = ms(t_start);
    // Load continues until every receipt went through (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("load task");
    }
    assert!(server.alive(), "the server kept running");

    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    let (mut ok, mut refused, mut max_refusal) = (0, 0, Duration::ZERO);
    for s in &samples {
        match &s.answer {
            Answer::Json(200, v) if v["ErrorCode"] == 0 => ok += 1,
            Answer::Json(200, v) if v["ErrorCode"] == UNAVAILABLE => {
                refused += 1;
                max_refusal = max_refusal.max(s.latency);
                let info = v["ErrorInfo"].as_str().unwrap_or_default();
                assert!(info.contains("database") && info.contains("retry"), "a clear ErrorInfo: {info}");
            }
            other => panic!("during the restart every answer is 0 or 60008, got {other:?}"),
        }
    }
    assert!(refused > 0, "the outage was noticed");
    let bound = Duration::from_millis(POOL_WAIT_MS + 1500);
    assert!(max_refusal <= bound, "refusals are bounded by the pool wait: slowest {max_refusal:?}");
    let max_latency = samples.iter().map(|s| s.latency).max().unwrap_or_default();
    assert!(max_latency <= bound, "no call hung: slowest {max_latency:?}");
    let recovered = samples
        .iter()
        .filter(|s| s.at > t_start && s.answer.code() == Some(0))
        .map(|s| s.at - t_start)
        .min()
        .expect("receipts succeed again after the restart");
    assert!(recovered < Duration::from_secs(10), "recovered within seconds: {recovered:?}");

    let ready = std::mem::take(&mut *ready.lock().unwrap_or_else(|e| e.into_inner()));
    assert!(
        ready.iter().any(|(at, s, text)| *at > t_stop && *at <= t_start && *s == 503 && text == "database unreachable"),
        "/readyz answered 503 `database unreachable` during the outage: {:?}",
        ready.iter().map(|(_, s, t)| (*s, t.clone())).collect::<Vec<_>>()
    );
    let ready_again = ready
        .iter()
        .filter(|(at, s, _)| *at > t_start && *s == 200)
        .map(|(at, _, _)| *at - t_start)
        .min()
        .expect("/readyz is 200 again");
    assert!(ready.iter().all(|(_, s, _)| *s == 200 || *s == 503), "/readyz answered 200 or 503 only");

    let acked = std::mem::take(&mut *acked.lock().unwrap_or_else(|e| e.into_inner()));
    let total = readers.len() * seqs.len();
    assert_eq!(acked.len(), total, "every receipt was acknowledged in the end (retried)");
    let rows: HashSet<(String, i64)> =
        json_rows(url, "SELECT jsonb_build_array(reader, msg_seq) AS v FROM group_receipts WHERE read_at IS NOT NULL")
            .into_iter()
            .map(|v| (v[0].as_str().unwrap_or_default().to_string(), v[1].as_i64().unwrap_or(-1)))
            .collect();
    let events = group_events(url);
    for a in &acked {
        assert!(rows.contains(a), "acknowledged {a:?} is stored");
        assert!(events.contains(a), "acknowledged {a:?} has its webhook event");
    }
    let checked = assert_no_drift(&client, &base, url, &gid, &seqs, readers.len() as i64).await;

    // The dispatcher resumed: every event arrives.
    let ids = event_ids(url);
    let waiting = Instant::now();
    while !ids.is_subset(&rx.delivered()) {
        assert!(waiting.elapsed() < Duration::from_secs(40), "webhook dispatch did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unreachable = metric(&client, &base, "imreceipts_db_unavailable_total{reason=\"unreachable\"}").await;
    assert!(unreachable >= refused as f64, "/metrics counts the refusals: {unreachable} < {refused}");
    figure(
        name,
        format!(
            "8 clients ({} calls, {ok} OK, {refused} answered 60008, 0 other, slowest refusal {} ms, slowest call {} ms); \
             pg_ctl stop -m fast took {stop_ms} ms, down {} ms, start took {start_ms} ms; first receipt OK {} ms \
             after the start returned, /readyz 200 again after {} ms; {total} receipts acknowledged, all stored with \
             events; {checked} messages without drift; {} events delivered {} ms after the load",
            samples.len(),
            max_refusal.as_millis(),
            max_latency.as_millis(),
            OUTAGE.as_millis(),
            recovered.as_millis(),
            ready_again.as_millis(),
            ids.len(),
            ms(waiting),
        ),
    );
    server
}
