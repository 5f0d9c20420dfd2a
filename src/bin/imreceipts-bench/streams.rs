//! S7: many open event streams. They are held by a server process of their own with no
//! background work (no webhook dispatcher, no retention worker), so its CPU and its database
//! statements are what the streams cost: first idle, against the same window before they were
//! opened, then while receipts arrive through it open loop, how fast each reaches its
//! sender's stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use crate::load::Percentiles;
use crate::seed::account;
use crate::target::{Api, Embedded};
use crate::{cpu, multi};

/// Quiet before an idle window, after opening the streams.
const SETTLE: Duration = Duration::from_secs(1);
/// How long to wait for the last events after the generator stops.
const DRAIN: Duration = Duration::from_secs(5);
/// Streams opened at a time.
const OPEN_CONCURRENCY: usize = 32;

/// What S7 does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Open streams (distinct users, each the sender of one message).
    pub streams: usize,
    /// Receipts per second while they are open.
    pub rate: u32,
    /// Length of each idle window.
    pub idle: Duration,
    pub warmup: Duration,
    pub duration: Duration,
}

/// The dedicated stream server: its process and how its database connections are named.
#[derive(Debug, Clone)]
pub struct Watched {
    pub pid: u32,
    /// The `application_name` in its `DATABASE_URL`.
    pub application_name: String,
    /// A database of the same cluster to watch from (so the watching is not counted).
    pub admin_url: String,
    /// The server's database.
    pub db_name: String,
}

/// One idle window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Idle {
    pub seconds: f64,
    /// The stream server's own CPU, in cores.
    pub server_cores: Option<f64>,
    /// Everything, as in the other scenarios (the in-process server's background work too).
    pub cpu: cpu::Usage,
    /// The stream server's database connections that started a statement during the window
    /// (pg_stat_activity, which is current: 0 means it sent no statement at all).
    pub connections_with_a_statement: Option<i64>,
    /// Of its connections, how many were open.
    pub connections: Option<i64>,
}

/// S7's results.
#[derive(Debug, Clone, Serialize)]
pub struct StreamsResult {
    pub streams: usize,
    /// Seconds to open every stream (each connect checks the account and finds its position).
    pub open_s: f64,
    /// The same window before the streams were opened, and with them open.
    pub idle_without: Idle,
    pub idle_with: Idle,
    pub rate: u32,
    pub calls: u64,
    pub call_errors: u64,
    pub call_latency: Percentiles,
    /// New receipts of the recorded window (each owes its sender's stream one event).
    pub events_expected: u64,
    pub events_received: u64,
    /// Expected events that had not arrived `DRAIN` after the generator stopped.
    pub events_missing: u64,
    /// Events that arrived twice, or on a stream other than their sender's.
    pub events_duplicated: u64,
    pub events_misrouted: u64,
    /// From the start of the receipt call to the event's arrival on the sender's stream.
    pub receipt_to_stream: Percentiles,
    /// CPU during the load (warm-up, recorded window, drain) and the receipts it covers.
    pub cpu: cpu::Usage,
    pub cpu_s: f64,
    pub cpu_calls: u64,
    pub error_samples: Vec<String>,
}

impl StreamsResult {
    /// Server and PostgreSQL CPU microseconds per receipt under load.
    pub fn cpu_us_per_receipt(&self) -> (f64, f64) {
        let per = |cores: f64| cores * self.cpu_s * 1e6 / self.cpu_calls.max(1) as f64;
        (per(self.cpu.server_cores), per(self.cpu.postgres_cores))
    }
}

/// A receipt of the load phase: (MsgSeq, reader).
type Key = (u64, String);

#[derive(Default)]
struct Book {
    /// When each receipt's call started, whether it is in the recorded window and (once
    /// answered) whether it was new.
    sent: HashMap<Key, (Instant, bool, Option<bool>)>,
    arrived: HashMap<Key, Instant>,
    duplicated: u64,
    misrouted: u64,
    call_latencies_us: Vec<u64>,
    calls: u64,
    errors: u64,
    error_samples: Vec<String>,
}

/// Runs S7 against `api` (the stream server, `watched` when the harness started it): seeds
/// its group, measures the idle windows, then the load.
pub async fn run(api: &Api, watched: Option<&Watched>, opts: &Options) -> Result<StreamsResult> {
    raise_fd_limit(opts.streams * 2 + 1024)?;
    let (group, sender_of) = seed(api, opts.streams).await.context("seeding S7's group")?;
    let users: Vec<String> = (1..=opts.streams).map(account).collect();

    eprintln!("[s7] idle window without streams ({:.0} s)", opts.idle.as_secs_f64());
    tokio::time::sleep(SETTLE).await;
    let idle_without = idle_window(watched, opts.idle).await?;

    let book = Arc::new(Mutex::new(Book::default()));
    let t = Instant::now();
    // No overall timeout: a stream is a response that never ends.
    let http =
        reqwest::Client::builder().no_proxy().tcp_nodelay(true).connect_timeout(Duration::from_secs(10)).build()?;
    let readers: Vec<tokio::task::JoinHandle<()>> = stream::iter(users.iter().cloned())
        .map(|user| {
            let (http, api, book, sender_of) = (http.clone(), api.clone(), book.clone(), sender_of.clone());
            async move {
                let url = format!("{}&To_Account={user}", api.url("receipt_svc/event_stream"));
                let resp = http.get(url).send().await.with_context(|| format!("opening {user}'s stream"))?;
                let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
                if kind != "text/event-stream" {
                    let body = resp.text().await.unwrap_or_default();
                    bail!("{user}'s stream did not open: {body}");
                }
                Ok(tokio::spawn(follow(resp, user, book, sender_of)))
            }
        })
        .buffer_unordered(OPEN_CONCURRENCY)
        .try_collect()
        .await?;
    let open_s = t.elapsed().as_secs_f64();
    eprintln!("[s7] {} streams open in {open_s:.1} s; idle window with them open", readers.len());
    tokio::time::sleep(SETTLE).await;
    let idle_with = idle_window(watched, opts.idle).await?;

    let result = load(api, &group, &sender_of, &book, opts).await;
    for r in readers {
        r.abort();
    }
    let (cpu, cpu_s, cpu_calls) = result;
    let mut b = book.lock().map_err(|_| anyhow!("S7's book was poisoned"))?;
    let mut latencies = Vec::new();
    let (mut expected, mut missing) = (0u64, 0u64);
    for (key, (at, recorded, new)) in &b.sent {
        if !*recorded || *new != Some(true) {
            continue;
        }
        expected += 1;
        match b.arrived.get(key) {
            Some(got) => latencies.push(got.saturating_duration_since(*at).as_micros() as u64),
            None => missing += 1,
        }
    }
    let r = StreamsResult {
        streams: opts.streams,
        open_s,
        idle_without,
        idle_with,
        rate: opts.rate,
        calls: b.calls,
        call_errors: b.errors,
        call_latency: Percentiles::of(&mut b.call_latencies_us),
        events_expected: expected,
        events_received: expected - missing,
        events_missing: missing,
        events_duplicated: b.duplicated,
        events_misrouted: b.misrouted,
        receipt_to_stream: Percentiles::of(&mut latencies),
        cpu,
        cpu_s,
        cpu_calls,
        error_samples: b.error_samples.clone(),
    };
    eprintln!(
        "[s7] idle: stream server {:.1}% of a core ({:.1}% without streams), {:?} of its connections ran a statement; load: {}/{} events, receipt-to-stream p50 {:.1} ms p99 {:.1} ms",
        r.idle_with.server_cores.unwrap_or(r.idle_with.cpu.server_cores) * 100.0,
        r.idle_without.server_cores.unwrap_or(r.idle_without.cpu.server_cores) * 100.0,
        r.idle_with.connections_with_a_statement,
        r.events_received,
        r.events_expected,
        r.receipt_to_stream.p50_ms,
        r.receipt_to_stream.p99_ms
    );
    Ok(r)
}

/// S7 on a stream server of its own: a second process with no background work whose database
/// connections carry an `application_name`, so what the streams cost is what it costs.
pub async fn run_on_own_server(api: &Api, e: &Embedded, o: &Options, admin: &str) -> Result<StreamsResult> {
    const NAME: &str = "imreceipts-bench-s7";
    let db_url = format!("{}?application_name={NAME}", e.db_url);
    let spec = multi::Spec {
        db_url: &db_url,
        sdkappid: api.sdkappid,
        secret_key: &api.secret_key,
        secrets_key: &e.secrets_key,
        admin,
        env: vec![
            ("IMRECEIPTS_WEBHOOK_DISPATCH", "false"),
            ("IMRECEIPTS_RETENTION", "false"),
            ("IMRECEIPTS_DEADLINES", "false"),
        ],
    };
    let server = multi::Second::start(&spec)?;
    let pid = server.pid();
    cpu::watch_server(pid);
    eprintln!("[s7] stream server (pid {pid}) at {}", server.base);
    let watched =
        Watched { pid, application_name: NAME.into(), admin_url: e.admin_url.clone(), db_name: e.db_name.clone() };
    let result = match Api::new(&server.base, api.sdkappid, &api.secret_key, admin) {
        Ok(other) => run(&other, Some(&watched), o).await,
        Err(e) => Err(e),
    };
    cpu::unwatch_server(pid);
    // No dispatcher, nothing in flight: nothing a graceful stop would save.
    server.kill();
    result
}

/// A `Public` group of account 0 and the stream users, each of whom sends one message with
/// `NeedReadReceipt`; returns the group and the sender of each MsgSeq (index 0 unused).
async fn seed(api: &Api, streams: usize) -> Result<(String, Arc<Vec<String>>)> {
    let t = Instant::now();
    let group = format!("bench_s7_{:06x}", rand::random::<u32>() & 0xff_ffff);
    let members: Vec<Value> = (1..=streams).map(|i| json!({"Member_Account": account(i)})).collect();
    // create_group takes at most 100 members (with the owner), add_group_member 300.
    let (first, rest) = members.split_at(streams.min(99));
    let body =
        json!({"Type": "Public", "Name": group, "GroupId": group, "Owner_Account": account(0), "MemberList": first});
    api.call("group_open_http_svc/create_group", &body).await.map_err(|e| anyhow!(e))?;
    for c in rest.chunks(300) {
        let body = json!({"GroupId": group, "MemberList": c});
        api.call("group_open_http_svc/add_group_member", &body).await.map_err(|e| anyhow!(e))?;
    }
    let sent: Vec<(u64, String)> = stream::iter(1..=streams)
        .map(|i| {
            let (api, group) = (api.clone(), group.clone());
            async move {
                let body = json!({
                    "GroupId": group, "From_Account": account(i), "Random": i, "NeedReadReceipt": 1,
                    "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "s7"}}],
                });
                let v = api.call("group_open_http_svc/send_group_msg", &body).await?;
                let seq = v["MsgSeq"].as_u64().ok_or_else(|| format!("no MsgSeq in {v}"))?;
                Ok::<_, String>((seq, account(i)))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await
        .map_err(|e| anyhow!(e))?;
    let mut sender_of = vec![String::new(); streams + 1];
    for (seq, from) in sent {
        *sender_of.get_mut(seq as usize).ok_or_else(|| anyhow!("unexpected MsgSeq {seq}"))? = from;
    }
    eprintln!("[s7] group {group} with {streams} senders seeded in {:.1} s", t.elapsed().as_secs_f64());
    Ok((group, Arc::new(sender_of)))
}

/// Reads one stream until aborted, booking every receipt event it carries.
async fn follow(resp: reqwest::Response, user: String, book: Arc<Mutex<Book>>, sender_of: Arc<Vec<String>>) {
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    while let Some(Ok(chunk)) = body.next().await {
        let now = Instant::now();
        text.push_str(&String::from_utf8_lossy(&chunk));
        // Complete events end with a blank line; keep any unfinished tail for the next chunk.
        let Some(end) = text.rfind("\n\n") else { continue };
        let done: String = text.drain(..end + 2).collect();
        for block in done.split("\n\n") {
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let Ok(v) = serde_json::from_str::<Value>(data) else { continue };
            let Some(reader) = v["Member_Account"].as_str() else { continue };
            let Ok(mut b) = book.lock() else { return };
            for seq in v["MsgSeqList"].as_array().into_iter().flatten().filter_map(Value::as_u64) {
                if sender_of.get(seq as usize) != Some(&user) {
                    b.misrouted += 1;
                }
                if b.arrived.insert((seq, reader.to_string()), now).is_some() {
                    b.duplicated += 1;
                }
            }
        }
    }
}

/// Receipts at `opts.rate` per second, open loop, for warm-up + duration; then waits for the
/// events. Returns the CPU used, the seconds it covers and the receipts made.
async fn load(
    api: &Api,
    group: &str,
    sender_of: &Arc<Vec<String>>,
    book: &Arc<Mutex<Book>>,
    opts: &Options,
) -> (cpu::Usage, f64, u64) {
    let before = cpu::Snapshot::take();
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;
    let msgs = (sender_of.len() - 1) as u64;
    let users = opts.streams as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(opts.rate.max(1))));
    let mut tasks = Vec::new();
    let mut last_print = start;
    let mut k = 0u64;
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now.duration_since(last_print) >= Duration::from_secs(1) {
            last_print = now;
            let (calls, arrived) = book.lock().map(|b| (b.calls, b.arrived.len())).unwrap_or_default();
            let phase = if now < measure_from { " (warm-up)" } else { "" };
            eprintln!(
                "[s7 streams @{}/s] {:>3}s{phase}  calls {calls}  events {arrived}",
                opts.rate,
                now.duration_since(start).as_secs()
            );
        }
        // Message m's reader is the member `1 + k / msgs` places after its sender: every
        // (message, reader) is new until msgs x (users - 1) receipts.
        let seq = 1 + k % msgs;
        let sender: usize = sender_of[seq as usize][1..].parse().unwrap_or(1);
        let offset = 1 + (k / msgs) % (users - 1).max(1);
        let reader = account(1 + (sender - 1 + offset as usize) % opts.streams);
        k += 1;
        let recorded = now >= measure_from;
        if let Ok(mut b) = book.lock() {
            b.sent.insert((seq, reader.clone()), (now, recorded, None));
        }
        let (api, book, group) = (api.clone(), book.clone(), group.to_string());
        tasks.push(tokio::spawn(async move {
            let body = json!({"GroupId": group, "From_Account": reader, "MsgSeqList": [{"MsgSeq": seq}]});
            let res = api.call("group_open_http_svc/group_msg_receipt", &body).await;
            let us = now.elapsed().as_micros() as u64;
            let Ok(mut b) = book.lock() else { return };
            b.calls += u64::from(recorded);
            match res {
                Ok(v) => {
                    let new = v["NewlyReadNum"].as_u64().unwrap_or(0) > 0;
                    if let Some(e) = b.sent.get_mut(&(seq, reader)) {
                        e.2 = Some(new);
                    }
                    if recorded {
                        b.call_latencies_us.push(us);
                    }
                }
                Err(e) => {
                    b.errors += u64::from(recorded);
                    if b.error_samples.len() < 3 {
                        b.error_samples.push(e);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let deadline = Instant::now() + DRAIN;
    while Instant::now() < deadline {
        let pending = book.lock().map_or(0, |b| {
            b.sent
                .iter()
                .filter(|(key, (_, rec, new))| *rec && *new == Some(true) && !b.arrived.contains_key(*key))
                .count()
        });
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    (before.usage_until(&cpu::Snapshot::take(), secs), secs, k)
}

/// CPU and database statements of the stream server over `length` of quiet.
async fn idle_window(watched: Option<&Watched>, length: Duration) -> Result<Idle> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        active: i64,
        #[diesel(sql_type = BigInt)]
        open: i64,
        #[diesel(sql_type = Text)]
        now: String,
    }
    // Statements started after `since` by the watched server's connections, and the time now.
    let look = |w: &Watched, since: &str| -> Result<Row> {
        let mut conn = PgConnection::establish(&w.admin_url).context("connecting to the bench cluster")?;
        let r = diesel::sql_query(
            "SELECT count(*) FILTER (WHERE query_start > $3::timestamptz) AS active, count(*) AS open,
                    clock_timestamp()::text AS now
               FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
        )
        .bind::<Text, _>(&w.db_name)
        .bind::<Text, _>(&w.application_name)
        .bind::<Text, _>(since)
        .get_result(&mut conn)?;
        Ok(r)
    };
    let start = watched.map(|w| look(w, "infinity")).transpose()?;
    let own = |w: Option<&Watched>| w.and_then(|w| cpu::process_seconds(w.pid));
    let (before, own_before) = (cpu::Snapshot::take(), own(watched));
    let t = Instant::now();
    tokio::time::sleep(length).await;
    let seconds = t.elapsed().as_secs_f64();
    let cpu = before.usage_until(&cpu::Snapshot::take(), seconds);
    let server_cores = own(watched).zip(own_before).map(|(b, a)| (b - a) / seconds);
    let end = match (watched, &start) {
        (Some(w), Some(s)) => Some(look(w, &s.now)?),
        _ => None,
    };
    Ok(Idle {
        seconds,
        server_cores,
        cpu,
        connections_with_a_statement: end.as_ref().map(|r| r.active),
        connections: end.as_ref().map(|r| r.open),
    })
}

/// Raises this process's open-file limit to at least `wanted` (within the hard limit): every
/// stream is a socket at each end, and the in-process server's ends are in this process too.
fn raise_fd_limit(wanted: usize) -> Result<()> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by reference.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error()).context("reading RLIMIT_NOFILE");
    }
    let wanted = wanted as libc::rlim_t;
    if lim.rlim_cur >= wanted {
        return Ok(());
    }
    if lim.rlim_max < wanted {
        bail!(
            "S7 needs {wanted} open files but the hard limit is {} (raise it, e.g. `ulimit -Hn {wanted}` as root, or use fewer --streams)",
            lim.rlim_max
        );
    }
    lim.rlim_cur = wanted;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error()).context("raising RLIMIT_NOFILE");
    }
    Ok(())
}
