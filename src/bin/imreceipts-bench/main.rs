//! `imreceipts-bench`: load scenarios for the receipt API and the webhook dispatcher, with a
//! raw PostgreSQL baseline, written up as Markdown and JSON under `bench/results/`.
//!
//! `imreceipts-bench all` starts the server in-process on a fresh database of an embedded
//! cluster (`var/bench`), seeds it, runs every scenario for a fixed time and stops everything.
//! S8 adds a second server process (this binary re-run as the hidden `serve` subcommand).
//! See BENCHMARKS.md.

mod baseline;
mod cpu;
mod load;
mod memory;
mod multi;
mod pgstats;
mod report;
mod scenarios;
mod seed;
mod stats;
mod streams;
mod target;
mod webhook;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use imreceipts::state::AppIdentity;
use tracing_subscriber::prelude::*;

use crate::load::{Measured, Plan};
use crate::report::{Config, Machine, Report, Scenario, Seed};
use crate::scenarios::{ReadGroup, Span};
use crate::seed::{Sizes, World};
use crate::target::{Api, Embedded};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "imreceipts-bench",
    about = "Benchmarks imreceipts: receipt writes and reads, webhook delivery, and a raw PostgreSQL baseline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every scenario (S1-S9) and the pgbench baseline.
    All(Opts),
    /// Only the named scenarios.
    Run {
        /// Comma-separated: s1,s2,s3,s4,s5,s6,s7,s8,s9,pg.
        #[arg(long, value_delimiter = ',', required = true)]
        scenarios: Vec<Id>,
        #[command(flatten)]
        opts: Opts,
    },
    /// The server's memory (a separate `imreceipts` process) while large histories are pulled.
    Memory {
        /// Messages of about 12 KB stored in each of a C2C conversation and a group.
        #[arg(long, default_value_t = 100)]
        messages: usize,
        /// Rounds of concurrent history pulls.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// History pulls in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Data directory of the embedded cluster.
        #[arg(long, default_value = "var/bench")]
        data_dir: PathBuf,
    },
    /// S8's second server process (started by the harness; settings from the environment, as
    /// the `imreceipts` binary reads them).
    #[command(hide = true)]
    Serve {
        #[command(flatten)]
        settings: Box<imreceipts::settings::Settings>,
    },
}

/// Scenario ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Id {
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    /// Open event streams: idle cost, receipt-to-stream latency.
    S7,
    /// Two server processes on one database: S1a split over both, webhooks from both.
    S8,
    /// Read analytics (`get_read_stats`) at 10,000 members.
    S9,
    /// The pgbench baseline for S1 and S2.
    Pg,
}

#[derive(Debug, Clone, Args)]
struct Opts {
    /// Recorded seconds per scenario.
    #[arg(long, default_value_t = 15)]
    duration: u64,
    /// Unrecorded warm-up seconds before each scenario.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Concurrent requests of the write scenarios (S1-S3), and pgbench clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Concurrent requests of the read scenarios (S4, S5).
    #[arg(long, default_value_t = 4)]
    read_concurrency: usize,
    /// Receipts per second generated in S6, one step per value.
    #[arg(long, value_delimiter = ',', default_value = "200,400,800")]
    webhook_rates: Vec<u32>,
    /// MaxInFlight of the S6 endpoint (1-64; the server's default when unset).
    #[arg(long)]
    webhook_max_in_flight: Option<u32>,
    /// Event streams S7 opens (distinct users).
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// Receipts per second S7 generates while its streams are open.
    #[arg(long, default_value_t = 500)]
    stream_rate: u32,
    /// Seconds of each S7 idle window.
    #[arg(long, default_value_t = 5)]
    stream_idle: u64,
    /// Receipts per second of S8's webhook step (two dispatching processes).
    #[arg(long, default_value_t = 400)]
    multi_webhook_rate: u32,
    /// Skip the 100,000-member group (its seeding and S4/S5 on it).
    #[arg(long)]
    skip_100k: bool,
    /// A small data set (for the smoke test).
    #[arg(long)]
    small_seed: bool,
    /// Where the reports go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Data directory of the embedded cluster.
    #[arg(long, default_value = "var/bench")]
    data_dir: PathBuf,
    /// Keep the bench database after the run (embedded mode).
    #[arg(long)]
    keep_db: bool,
    /// Load pg_stat_statements in the embedded cluster and report the top statements of each
    /// scenario (restarts the bench cluster when switching on or off).
    #[arg(long)]
    pg_stats: bool,
    /// Benchmark a running server instead (e.g. http://127.0.0.1:8080).
    #[arg(long, requires_all = ["sdkappid", "key"])]
    target: Option<String>,
    /// SDKAppID of the running server.
    #[arg(long)]
    sdkappid: Option<u64>,
    /// Secret key of the running server.
    #[arg(long)]
    key: Option<String>,
    /// App admin identifier.
    #[arg(long, default_value = "administrator")]
    admin: String,
    /// With --target: URL of a database in the server's PostgreSQL cluster, for the pgbench
    /// baseline (skipped without it).
    #[arg(long)]
    pg_url: Option<String>,
}

fn main() -> Result<()> {
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()));
    // The server's webhook listener complains when its database goes away at teardown.
    let quiet = tracing_subscriber::filter::filter_fn(|_| !target::SHUTTING_DOWN.load(Ordering::Relaxed));
    tracing_subscriber::registry().with(fmt.with_filter(quiet)).init();

    let cli = Cli::parse();
    let (ids, opts, command) = match cli.command {
        Command::All(o) => {
            (vec![Id::S1, Id::S2, Id::S3, Id::S4, Id::S5, Id::S6, Id::S7, Id::S8, Id::S9, Id::Pg], o, "all".to_string())
        }
        Command::Run { scenarios, opts } => {
            let names: Vec<String> = scenarios.iter().map(|s| format!("{s:?}").to_lowercase()).collect();
            (scenarios, opts, format!("run --scenarios {}", names.join(",")))
        }
        Command::Memory { messages, rounds, concurrency, data_dir } => {
            return memory::run(&data_dir, messages.max(1), rounds.max(1), concurrency.max(1));
        }
        Command::Serve { settings } => return multi::serve(*settings),
    };
    if opts.duration == 0 || opts.concurrency == 0 || opts.read_concurrency == 0 {
        bail!("--duration, --concurrency and --read-concurrency must be at least 1");
    }
    if opts.streams < 2 || opts.stream_rate == 0 || opts.multi_webhook_rate == 0 {
        bail!("--streams must be at least 2, --stream-rate and --multi-webhook-rate at least 1");
    }
    let started = Instant::now();
    let mut machine = Machine::describe();
    let sdkappid = opts.sdkappid.unwrap_or(1_400_000_001);
    let key = opts.key.clone().unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    let embedded = match &opts.target {
        Some(_) => None,
        None => {
            eprintln!("[setup] starting the embedded cluster under {} and the server", opts.data_dir.display());
            let identity = AppIdentity { sdkappid, secret_key: key.clone(), admins: vec![opts.admin.clone()] };
            Some(Embedded::start(&opts.data_dir, identity, opts.pg_stats)?)
        }
    };
    let base = match (&opts.target, &embedded) {
        (Some(t), _) => t.clone(),
        (None, Some(e)) => format!("http://127.0.0.1:{}", e.port),
        (None, None) => unreachable!("embedded is set when there is no target"),
    };
    let api = Api::new(&base, sdkappid, &key, &opts.admin)?;
    let pg_admin = embedded.as_ref().map(|e| e.admin_url.clone()).or(opts.pg_url.clone());
    if let Some(url) = &pg_admin {
        machine.postgres = target::pg_version(url).unwrap_or_default();
        if let Some(port) = url::Url::parse(url).ok().and_then(|u| u.port()) {
            cpu::watch_postgres(port);
        }
    }
    let config = Config {
        command: format!("imreceipts-bench {command}"),
        target: if embedded.is_some() { format!("in-process server at {base}") } else { base.clone() },
        duration_s: opts.duration,
        warmup_s: opts.warmup,
        write_concurrency: opts.concurrency,
        read_concurrency: opts.read_concurrency,
        webhook_rates: opts.webhook_rates.clone(),
        webhook_max_in_flight: opts.webhook_max_in_flight,
        streams: opts.streams,
        stream_rate: opts.stream_rate,
        stream_idle_s: opts.stream_idle,
        multi_webhook_rate: opts.multi_webhook_rate,
        skip_100k: opts.skip_100k,
        server: if embedded.is_some() {
            let defaults = imreceipts::settings::Settings::defaults();
            format!(
                "library defaults ({} HTTP workers = cores, pool of {} connections, webhook dispatcher on), log filter {:?}, PostgreSQL with fsync and synchronous_commit on",
                report_workers(&defaults),
                defaults.pool_size,
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())
            )
        } else {
            "as configured by its operator".into()
        },
    };
    let mut report = Report {
        generated_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        machine,
        config,
        seed: None,
        scenarios: Vec::new(),
        webhooks: Vec::new(),
        webhook_cpu: None,
        streams: None,
        multi_webhooks: Vec::new(),
        baselines: Vec::new(),
        ratios: Vec::new(),
        goals: Vec::new(),
        failures: Vec::new(),
        total_s: 0.0,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = rt.block_on(run(&api, &ids, &opts, embedded.as_ref(), pg_admin.as_deref(), &mut report));
    if let Err(e) = &result {
        report.failures.push(format!("{e:#}"));
    }
    report.machine.loadavg_after = cpu::loadavg();
    report.total_s = started.elapsed().as_secs_f64();
    report.evaluate();
    let written = report.write(&opts.out);
    drop(rt);
    if let Some(e) = embedded {
        e.stop(opts.keep_db);
    }
    let path = written?;
    eprintln!("\n{}", report.markdown());
    eprintln!("[done] {} (and latest.json) in {:.0} s", path.display(), report.total_s);
    result
}

/// Seeds, then runs the wanted scenarios in order, filling `report`.
async fn run(
    api: &Api,
    ids: &[Id],
    opts: &Opts,
    embedded: Option<&Embedded>,
    pg_admin: Option<&str>,
    report: &mut Report,
) -> Result<()> {
    let mut sizes = if opts.small_seed { Sizes::small() } else { Sizes::full() };
    // What only some scenarios use is seeded only for them (`run` with a few is quicker).
    let reads = ids.contains(&Id::S4) || ids.contains(&Id::S5);
    if opts.skip_100k || !reads {
        sizes.huge_members = 0;
        sizes.huge_readers = 0;
    }
    // S9 reads the stats of the 10,000-member group, whose reads S4/S5 also use.
    if !reads && !ids.contains(&Id::S9) {
        sizes.large_readers = 0;
    }
    if !(ids.contains(&Id::S2) || ids.contains(&Id::S3)) {
        sizes.c2c_senders = 0;
    }
    if !ids.contains(&Id::S8) {
        sizes.medium_multi_msgs = 0;
        sizes.small_multi_msgs = 0;
    }
    if ids.contains(&Id::S7) && opts.streams > sizes.accounts() - 1 {
        bail!("--streams {} needs as many accounts besides u00000; the seed has {}", opts.streams, sizes.accounts());
    }
    let t = Instant::now();
    let db_url = embedded.map(|e| e.db_url.clone());
    let (world, steps) = seed::seed(api, &sizes, db_url.as_deref()).await.context("seeding")?;
    let mut notes = vec![
        format!(
            "{} accounts imported: the issue's {} plus the rest of the {}-member group's members (the group needs one account per member)",
            sizes.accounts(),
            sizes.base_accounts,
            sizes.large_members
        ),
        format!(
            "groups: {} ({} members, {} messages, S6), {} ({} members, {} messages for S1a + {} for S1b), {} ({} members, {} messages, S4/S5); all messages from the owner with NeedReadReceipt=1",
            world.small_group,
            sizes.small_members,
            sizes.small_msgs,
            world.medium_group,
            sizes.medium_members,
            sizes.medium_single_msgs,
            sizes.medium_batch_msgs,
            world.large_group,
            sizes.large_members,
            sizes.large_msgs
        ),
        format!(
            "{} of {}'s members read messages 1..k (k spread evenly over 1..{}) before the run, so its read and unread lists are both long",
            sizes.large_readers,
            world.large_group,
            sizes.large_msgs
        ),
        format!(
            "the medium group's messages after S1's ({}) and the S6 group's after S6's ({}) are S8's",
            sizes.medium_multi_msgs, sizes.small_multi_msgs
        ),
    ];
    if let Some(h) = &world.huge_group {
        notes.push(format!(
            "{h}: {} members (accounts imported and members added through the API, MaxReceiptGroupMembers raised to fit), {} messages; {} members read messages 1..k (k spread over 1..{}) {}",
            sizes.huge_members,
            sizes.huge_msgs,
            sizes.huge_readers,
            sizes.huge_msgs,
            if embedded.is_some() {
                "through the bulk path: one INSERT ... SELECT into group_receipts and one UPDATE of the counters in the bench database, checked through get_group_msg_receipt"
            } else {
                "through group_msg_read_report"
            }
        ));
    }
    if let Some(e) = embedded {
        // Fresh statistics and no pending dirty pages, as a long-running database would have.
        target::sql(&e.db_url, "ANALYZE")?;
        notes.push("ANALYZE after seeding".into());
    }
    report.seed = Some(Seed {
        method: "through the HTTP API, 8-16 requests in flight".into(),
        sizes: sizes.clone(),
        total_s: t.elapsed().as_secs_f64(),
        steps,
        notes,
    });
    let db = db_url.as_deref();
    let write = |label: &str| plan(label, opts.concurrency, opts);
    let read = |label: &str| plan(label, opts.read_concurrency, opts);
    if ids.contains(&Id::S1) {
        let p = write("s1a group_msg_receipt x1");
        let m = measure(db, opts.pg_stats, scenarios::s1_single(api, &world, &p)).await;
        push(
            report,
            "s1a",
            "group receipt, 1 msg/call, 200 members",
            "group_open_http_svc/group_msg_receipt",
            &p,
            m,
            &world,
            "",
        );
        let p = write("s1b group_msg_receipt x30");
        let m = measure(db, opts.pg_stats, scenarios::s1_batch(api, &world, &p)).await;
        push(
            report,
            "s1b",
            "group receipt, 30 msgs/call, 200 members",
            "group_open_http_svc/group_msg_receipt",
            &p,
            m,
            &world,
            "",
        );
    }
    if ids.contains(&Id::S2) {
        let p = write("s2 c2c_msg_read_receipt");
        let m = measure(db, opts.pg_stats, scenarios::s2_c2c(api, &world, &p)).await;
        push(report, "s2", "C2C read receipt, 1 msg/call", "openim/c2c_msg_read_receipt", &p, m, &world, "");
    }
    if ids.contains(&Id::S3) {
        let p = write("s3 admin_set_msg_read");
        let m = measure(db, opts.pg_stats, scenarios::s3_set_read(api, &world, &p)).await;
        let note = "every call upserts the conversation's read time (a write even when the time does not move) and counts the reader's unread messages";
        push(report, "s3", "C2C conversation read (set read time)", "openim/admin_set_msg_read", &p, m, &world, note);
    }
    let large =
        ReadGroup { id: world.large_group.clone(), members: world.sizes.large_members, msgs: world.sizes.large_msgs };
    let huge = world.huge_group.as_ref().map(|id| ReadGroup {
        id: id.clone(),
        members: world.sizes.huge_members,
        msgs: world.sizes.huge_msgs,
    });
    let read_groups: Vec<(&str, &str, ReadGroup)> =
        std::iter::once(("", "10,000", large)).chain(huge.map(|h| ("_100k", "100,000", h))).collect();
    if ids.contains(&Id::S4) {
        for (suffix, members, group) in &read_groups {
            let id = format!("s4{suffix}");
            let p = read(&format!("{id} get_group_msg_receipt x30"));
            let m = measure(db, opts.pg_stats, scenarios::s4_counts(api, group, &p)).await;
            let title = format!("read counts of 30 msgs, {members} members");
            push(report, &id, &title, "group_open_http_svc/get_group_msg_receipt", &p, m, &world, "");
        }
    }
    if ids.contains(&Id::S5) {
        for (suffix, members, group) in &read_groups {
            let id = format!("s5{suffix}");
            let p = read(&format!("{id} get_group_msg_receipt_detail walk"));
            let m = measure(db, opts.pg_stats, scenarios::s5_walk(api, group, &p)).await;
            let note = format!(
                "one op = a full walk of the read list then the unread list of one message ({} per page); latency columns are per walk, pages below",
                scenarios::S5_PAGE
            );
            let title = format!("reader lists walk, {members} members");
            push(report, &id, &title, "group_open_http_svc/get_group_msg_receipt_detail", &p, m, &world, &note);
        }
    }
    if ids.contains(&Id::S9) {
        let (_, members, group) = &read_groups[0];
        let readers = stats::prepare(api, db, group).await.context("preparing S9")?;
        let how = if db.is_some() { "every member, through the bulk path" } else { "the seeded readers" };
        let note = format!(
            "MsgSeq {} read by {how} ({readers} receipts, read times spread over an hour); items = reads covered per call",
            stats::SEQ
        );
        let p = read("s9 get_read_stats, 1 msg");
        let m = measure(db, opts.pg_stats, stats::s9_message(api, group, &p)).await;
        let title = format!("read stats of 1 msg, {members} members");
        push(report, "s9", &title, "receipt_svc/get_read_stats", &p, m, &world, &note);
        let p = read("s9_range get_read_stats, all msgs");
        let m = measure(db, opts.pg_stats, stats::s9_range(api, group, &p)).await;
        let note = format!(
            "a time range over all {} messages; the server counts the first ones up to 100,000 eligible readers (Truncated: 1 beyond)",
            group.msgs
        );
        let title = format!("read stats of a range, {members} members");
        push(report, "s9_range", &title, "receipt_svc/get_read_stats", &p, m, &world, &note);
    }
    if ids.contains(&Id::S6) {
        checkpoint(db);
        let before = cpu::Snapshot::take();
        let t = Instant::now();
        let warm = Duration::from_secs(opts.warmup);
        let receipts = webhook::Receipts {
            apis: vec![api.clone()],
            group: world.small_group.clone(),
            span: Span { first: 1, count: world.sizes.small_msgs as u64 },
            readers: world.sizes.small_members as u64 - 1,
        };
        match webhook::run(
            &receipts,
            &opts.webhook_rates,
            opts.webhook_max_in_flight,
            warm,
            Duration::from_secs(opts.duration),
        )
        .await
        {
            Ok(r) => report.webhooks = r,
            Err(e) => report.failures.push(format!("s6: {e:#}")),
        }
        report.webhook_cpu = Some(before.usage_until(&cpu::Snapshot::take(), t.elapsed().as_secs_f64()));
    }
    if ids.contains(&Id::S7) {
        checkpoint(db);
        let o = streams::Options {
            streams: opts.streams,
            rate: opts.stream_rate,
            idle: Duration::from_secs(opts.stream_idle.max(1)),
            warmup: Duration::from_secs(opts.warmup),
            duration: Duration::from_secs(opts.duration),
        };
        let res = match embedded {
            // A running target holds the streams itself; its cost is then not separable.
            None => streams::run(api, None, &o).await,
            Some(e) => streams::run_on_own_server(api, e, &o, &opts.admin).await,
        };
        match res {
            Ok(r) => report.streams = Some(r),
            Err(e) => report.failures.push(format!("s7: {e:#}")),
        }
    }
    if ids.contains(&Id::S8) {
        match embedded {
            None => report.failures.push(
                "s8: skipped, it starts a second server on the in-process server's database (not with --target)".into(),
            ),
            Some(e) => {
                if let Err(e) = multi::s8(api, e, &world, opts, report).await {
                    report.failures.push(format!("s8: {e:#}"));
                }
            }
        }
    }
    if ids.contains(&Id::Pg) {
        match pg_admin {
            None => report.failures.push("pg: skipped, no --pg-url for the target's cluster".into()),
            Some(url) => {
                let wanted = baseline::Wanted {
                    single: ids.contains(&Id::S1) || ids == [Id::Pg],
                    batch30: ids.contains(&Id::S1) || ids == [Id::Pg],
                    c2c: ids.contains(&Id::S2) || ids == [Id::Pg],
                };
                let (url, conc) = (url.to_string(), opts.concurrency);
                let (warm, dur) = (Duration::from_secs(opts.warmup), Duration::from_secs(opts.duration));
                let res = tokio::task::spawn_blocking(move || baseline::run(&url, &wanted, conc, warm, dur)).await?;
                match res {
                    Ok(b) => report.baselines = b,
                    Err(e) => report.failures.push(format!("pg baseline: {e:#}")),
                }
            }
        }
    }
    Ok(())
}

/// The HTTP workers the server runs with.
fn report_workers(s: &imreceipts::settings::Settings) -> usize {
    s.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn plan(label: &str, concurrency: usize, opts: &Opts) -> Plan {
    Plan {
        label: label.to_string(),
        concurrency,
        warmup: Duration::from_secs(opts.warmup),
        duration: Duration::from_secs(opts.duration),
    }
}

/// A measured scenario with the CPU it used and, with `--pg-stats`, its top statements.
struct Run {
    measured: Measured,
    cpu: cpu::Usage,
    top: Vec<pgstats::Statement>,
}

async fn measure(db: Option<&str>, pg_stats: bool, scenario: impl Future<Output = Measured>) -> Run {
    checkpoint(db);
    let stats_db = db.filter(|_| pg_stats);
    if let Some(url) = stats_db {
        if let Err(e) = pgstats::reset(url) {
            tracing::warn!(error = %e, "resetting pg_stat_statements failed");
        }
    }
    // CPU is sampled over the whole call, warm-up included: the rates are steady by then.
    let before = cpu::Snapshot::take();
    let t = Instant::now();
    let measured = scenario.await;
    let cpu = before.usage_until(&cpu::Snapshot::take(), t.elapsed().as_secs_f64());
    let top = stats_db.and_then(|url| pgstats::top(url, 10).ok()).unwrap_or_default();
    Run { measured, cpu, top }
}

/// Writes dirty pages out before a scenario, so none inherits the previous one's checkpoint.
fn checkpoint(db: Option<&str>) {
    if let Some(url) = db {
        if let Err(e) = target::sql(url, "CHECKPOINT") {
            tracing::warn!(error = %e, "CHECKPOINT failed");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn push(report: &mut Report, id: &str, title: &str, command: &str, p: &Plan, run: Run, world: &World, note: &str) {
    let mut s = Scenario::from_measured(id, title, command, p.concurrency, run.measured, run.cpu, note);
    s.pg_top = run.top;
    if s.new_fraction < 0.999 && !id.starts_with("s4") && !id.starts_with("s5") && !id.starts_with("s9") {
        let more = format!(
            "{:.1}% of the receipt writes were new; the rest repeated rows already read (the seeded space of {} was used up)",
            s.new_fraction * 100.0,
            space(id, world)
        );
        s.note = if s.note.is_empty() { more } else { format!("{}; {more}", s.note) };
    }
    eprintln!(
        "[{id}] {:.0} ops/s, {:.0} receipts/s ({:.1}% new), p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, errors {}",
        s.ops_per_s,
        s.receipts_per_s,
        s.new_fraction * 100.0,
        s.latency.p50_ms,
        s.latency.p99_ms,
        s.latency.p999_ms,
        s.errors
    );
    report.scenarios.push(s);
}

/// The (message, reader) pairs a write scenario can use.
fn space(id: &str, world: &World) -> String {
    let s = &world.sizes;
    match id {
        "s1a" => format!("{} messages x {} readers", s.medium_single_msgs, s.medium_members - 1),
        "s8a" => format!("{} messages x {} readers", s.medium_multi_msgs, s.medium_members - 1),
        "s1b" => format!("{} messages x {} readers", s.medium_batch_msgs, s.medium_members - 1),
        "s2" => format!("{} pairs x {} messages", s.c2c_pairs(), s.c2c_msgs_per_pair),
        _ => "rows".into(),
    }
}
