//! S6: webhook delivery to a local receiver. Receipts are generated open loop at a fixed rate
//! (a timer, not a closed loop, so a slow server cannot slow the generator down and hide its
//! own latency); the receiver compares each event's `EventTime` (ms, taken when the event is
//! enqueued in the receipt's transaction) with its arrival time on the same clock. S8 runs the
//! same steps with the receipts split over two server processes, both dispatching.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::{anyhow, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::cpu;
use crate::load::Percentiles;
use crate::scenarios::Span;
use crate::seed::account;
use crate::target::{spawn_system, Api};

/// How long to wait for the backlog after the generator stops.
const DRAIN: Duration = Duration::from_secs(30);

/// One delivery seen by the receiver.
struct Arrival {
    id: String,
    /// `MsgSeq/Member_Account` of the receipt that caused it.
    receipt: String,
    received_ms: i64,
    event_time_ms: i64,
}

type Log = Arc<Mutex<Vec<Arrival>>>;

/// A webhook receiver on 127.0.0.1:0 in its own actix System.
pub struct Receiver {
    pub port: u16,
    log: Log,
    system: actix_web::rt::System,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts the receiver: every POST is answered 200 and logged.
    pub fn start() -> Result<Receiver> {
        let log: Log = Arc::default();
        let data = web::Data::new(log.clone());
        let (port, system, thread) = spawn_system("bench-receiver", move || {
            let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
                .workers(1)
                .disable_signals()
                .bind("127.0.0.1:0")?;
            let port = server.addrs()[0].port();
            actix_web::rt::spawn(server.run());
            Ok(port)
        })?;
        Ok(Receiver { port, log, system, thread: Some(thread) })
    }

    fn stop(mut self) {
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn receive(log: web::Data<Log>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let received_ms = chrono::Utc::now().timestamp_millis();
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let item = &v["GroupMsgReceiptList"][0];
    let receipt = receipt_key(
        item["MsgSeq"].as_u64().unwrap_or(0),
        item["ReadReceiptMembers"][0]["Member_Account"].as_str().unwrap_or_default(),
    );
    let id = req.headers().get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if let Ok(mut l) = log.lock() {
        l.push(Arrival { id, receipt, received_ms, event_time_ms: v["EventTime"].as_i64().unwrap_or(0) });
    }
    HttpResponse::Ok().finish()
}

fn receipt_key(seq: u64, reader: &str) -> String {
    format!("{seq}/{reader}")
}

/// Results of one S6 step.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookResult {
    /// Receipts generated per second (target).
    pub rate: u32,
    /// Receipt calls made in the recorded window and how many failed.
    pub calls: u64,
    pub call_errors: u64,
    /// Latency of the receipt calls themselves.
    pub call_latency: Percentiles,
    /// Events the recorded calls produced (new receipts), and how many arrived.
    pub events_expected: u64,
    pub events_delivered: u64,
    /// Deliveries of an id already seen (at-least-once duplicates).
    pub duplicates: u64,
    /// Events beyond one per receipt (a receipt that fired under two webhook ids).
    pub extra_events: u64,
    /// Delivery attempts each server process made during the step (its
    /// `imreceipts_webhook_attempts_total`), in the order of the receipts' servers.
    pub attempts_by_process: Vec<u64>,
    /// Events that arrived per second of the recorded window.
    pub delivered_per_s: f64,
    /// Arrival time minus EventTime.
    pub enqueue_to_delivery: Percentiles,
    /// Seconds after the generator stopped until the last expected event arrived.
    pub drain_s: f64,
    /// CPU over the step (warm-up, recorded window and drain).
    pub cpu: cpu::Usage,
    /// Seconds the CPU figures cover.
    pub cpu_s: f64,
    /// Receipt calls made during those seconds (warm-up included).
    pub cpu_calls: u64,
    pub error_samples: Vec<String>,
}

impl WebhookResult {
    /// Server and PostgreSQL CPU microseconds per receipt call of the step.
    pub fn cpu_us_per_receipt(&self) -> (f64, f64) {
        let per = |cores: f64| cores * self.cpu_s * 1e6 / self.cpu_calls.max(1) as f64;
        (per(self.cpu.server_cores), per(self.cpu.postgres_cores))
    }
}

/// Where the generated receipts go: messages `span` of `group`, read by accounts
/// 1..=`readers`, each call to `apis[k % apis.len()]`.
#[derive(Clone)]
pub struct Receipts {
    pub apis: Vec<Api>,
    pub group: String,
    pub span: Span,
    pub readers: u64,
}

/// Runs S6 at each rate in turn against one endpoint; returns one result per rate.
pub async fn run(
    receipts: &Receipts,
    rates: &[u32],
    max_in_flight: Option<u32>,
    warmup: Duration,
    duration: Duration,
) -> Result<Vec<WebhookResult>> {
    let receiver = Receiver::start()?;
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    let mut endpoint = json!({"Url": url, "Events": ["Group.CallbackAfterReadReceipt"], "TimeoutSeconds": 5});
    if let Some(n) = max_in_flight {
        endpoint["MaxInFlight"] = n.into();
    }
    let api = &receipts.apis[0];
    let created = api
        .call("webhook_svc/create_endpoint", &endpoint)
        .await
        .map_err(|e| anyhow!("creating the webhook endpoint (is webhooks.allow_loopback on?): {e}"))?;
    let endpoint = created["Endpoint"]["EndpointId"].as_i64().ok_or_else(|| anyhow!("no EndpointId in {created}"))?;
    let next = Arc::new(AtomicU64::new(0));
    let mut out = Vec::new();
    for &rate in rates {
        out.push(step(receipts, &receiver.log, &next, rate, warmup, duration).await);
    }
    // Later scenarios and the raw baseline must not pay for deliveries.
    let _ = api.call("webhook_svc/delete_endpoint", &json!({"EndpointId": endpoint})).await;
    receiver.stop();
    Ok(out)
}

/// Each server's delivery attempts so far (0 where /metrics cannot be read).
async fn attempts(apis: &[Api]) -> Vec<u64> {
    let mut out = Vec::new();
    for api in apis {
        out.push(api.counter("imreceipts_webhook_attempts_total").await.unwrap_or(0.0) as u64);
    }
    out
}

struct Calls {
    latencies_us: Vec<u64>,
    ok: u64,
    errors: u64,
    /// Receipts of the recorded window that were new, so each fired one event.
    expected: HashSet<String>,
    error_samples: Vec<String>,
}

async fn step(
    receipts: &Receipts,
    log: &Log,
    next: &Arc<AtomicU64>,
    rate: u32,
    warmup: Duration,
    duration: Duration,
) -> WebhookResult {
    let label = format!("{} webhooks @{rate}/s", if receipts.apis.len() > 1 { "s8b" } else { "s6" });
    log.lock().map(|mut l| l.clear()).unwrap_or_default();
    let cpu_before = cpu::Snapshot::take();
    let attempts_before = attempts(&receipts.apis).await;
    let (msgs, readers) = (receipts.span.count, receipts.readers);
    let calls = Arc::new(Mutex::new(Calls {
        latencies_us: Vec::new(),
        ok: 0,
        errors: 0,
        expected: HashSet::new(),
        error_samples: Vec::new(),
    }));
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    let mut tasks = Vec::new();
    let mut last_print = start;
    let mut generated = 0u64;
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now.duration_since(last_print) >= Duration::from_secs(1) {
            last_print = now;
            let delivered = log.lock().map(|l| l.len()).unwrap_or(0);
            let c = calls.lock().map(|c| (c.ok, c.errors)).unwrap_or_default();
            eprintln!(
                "[{label}] {:>3}s{}  calls ok {}  errors {}  deliveries {delivered}",
                now.duration_since(start).as_secs(),
                if now < measure_from { " (warm-up)" } else { "" },
                c.0,
                c.1
            );
        }
        let n = next.fetch_add(1, Ordering::Relaxed);
        generated += 1;
        let k = n % (msgs * readers);
        let seq = receipts.span.first + k % msgs;
        let reader = account(1 + (k / msgs) as usize);
        let api = receipts.apis[n as usize % receipts.apis.len()].clone();
        let (calls, group) = (calls.clone(), receipts.group.clone());
        let recorded = now >= measure_from;
        tasks.push(tokio::spawn(async move {
            let body = json!({"GroupId": group, "From_Account": &reader, "MsgSeqList": [{"MsgSeq": seq}]});
            let t = Instant::now();
            let res = api.call("group_open_http_svc/group_msg_receipt", &body).await;
            let us = t.elapsed().as_micros() as u64;
            if !recorded {
                return;
            }
            if let Ok(mut c) = calls.lock() {
                match res {
                    Ok(v) => {
                        c.ok += 1;
                        if v["NewlyReadNum"].as_u64().unwrap_or(0) > 0 {
                            c.expected.insert(receipt_key(seq, &reader));
                        }
                        c.latencies_us.push(us);
                    }
                    Err(e) => {
                        c.errors += 1;
                        if c.error_samples.len() < 3 {
                            c.error_samples.push(e);
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let stopped = Instant::now();
    let expected = calls.lock().map(|mut c| std::mem::take(&mut c.expected)).unwrap_or_default();
    // Wait for the backlog: events of the recorded window that have not arrived yet.
    let deadline = stopped + DRAIN;
    let mut drained_at = stopped;
    loop {
        let arrived = log.lock().map(|l| l.iter().filter(|a| expected.contains(&a.receipt)).count()).unwrap_or(0);
        if arrived >= expected.len() {
            drained_at = Instant::now();
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen = HashSet::new();
    let mut receipts_seen = HashSet::new();
    let mut duplicates = 0;
    let mut latencies = Vec::new();
    let mut first_ms = i64::MAX;
    let mut last_ms = i64::MIN;
    if let Ok(log) = log.lock() {
        for a in log.iter().filter(|a| expected.contains(&a.receipt)) {
            if !seen.insert(a.id.clone()) {
                duplicates += 1;
                continue;
            }
            receipts_seen.insert(a.receipt.clone());
            latencies.push(((a.received_ms - a.event_time_ms).max(0) as u64) * 1000);
            first_ms = first_ms.min(a.event_time_ms);
            last_ms = last_ms.max(a.received_ms);
        }
    }
    let attempts_by_process =
        attempts(&receipts.apis).await.iter().zip(&attempts_before).map(|(a, b)| a.saturating_sub(*b)).collect();
    let (mut call_latencies, ok, errors, error_samples) = calls
        .lock()
        .map(|mut c| (std::mem::take(&mut c.latencies_us), c.ok, c.errors, c.error_samples.clone()))
        .unwrap_or_default();
    let r = WebhookResult {
        rate,
        calls: ok + errors,
        call_errors: errors,
        call_latency: Percentiles::of(&mut call_latencies),
        events_expected: expected.len() as u64,
        events_delivered: receipts_seen.len() as u64,
        duplicates,
        extra_events: (seen.len() - receipts_seen.len()) as u64,
        attempts_by_process,
        // From the first event's enqueue to the last arrival: below the rate when delivery
        // falls behind.
        delivered_per_s: if last_ms > first_ms {
            seen.len() as f64 * 1000.0 / (last_ms - first_ms) as f64
        } else {
            0.0
        },
        enqueue_to_delivery: Percentiles::of(&mut latencies),
        drain_s: drained_at.duration_since(stopped).as_secs_f64(),
        cpu: cpu_before.usage_until(&cpu::Snapshot::take(), start.elapsed().as_secs_f64()),
        cpu_s: start.elapsed().as_secs_f64(),
        cpu_calls: generated,
        error_samples,
    };
    eprintln!(
        "[{label}] delivered {}/{} events, {:.0}/s, enqueue->delivery p50 {:.1} ms p99 {:.1} ms",
        r.events_delivered,
        r.events_expected,
        r.delivered_per_s,
        r.enqueue_to_delivery.p50_ms,
        r.enqueue_to_delivery.p99_ms
    );
    r
}
