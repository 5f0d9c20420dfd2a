//! The report: one JSON document and its Markdown rendering, written as `latest.*` and as a
//! timestamped copy.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::baseline::RawResult;
use crate::cpu::Usage;
use crate::load::{Measured, Percentiles};
use crate::pgstats::Statement;
use crate::seed::{Sizes, Step};
use crate::streams::StreamsResult;
use crate::webhook::WebhookResult;

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    pub postgres: String,
    /// 1/5/15-minute load averages before seeding and after the last scenario.
    pub loadavg_before: String,
    pub loadavg_after: String,
}

impl Machine {
    /// Reads /proc; `postgres` is filled in by the caller.
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
            .unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory,
            kernel,
            postgres: String::new(),
            loadavg_before: crate::cpu::loadavg(),
            loadavg_after: String::new(),
        }
    }
}

/// How the run was configured.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub command: String,
    pub target: String,
    pub duration_s: u64,
    pub warmup_s: u64,
    pub write_concurrency: usize,
    pub read_concurrency: usize,
    pub webhook_rates: Vec<u32>,
    /// MaxInFlight of the S6 endpoint (None: the server's default).
    pub webhook_max_in_flight: Option<u32>,
    /// S7's streams, its receipt rate and idle windows; S8b's rate.
    pub streams: usize,
    pub stream_rate: u32,
    pub stream_idle_s: u64,
    pub multi_webhook_rate: u32,
    /// Whether the 100,000-member group was left out.
    pub skip_100k: bool,
    pub server: String,
}

/// How the data was seeded.
#[derive(Debug, Clone, Serialize)]
pub struct Seed {
    pub method: String,
    pub sizes: Sizes,
    pub steps: Vec<Step>,
    pub total_s: f64,
    pub notes: Vec<String>,
}

/// One closed-loop scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub command: String,
    pub concurrency: usize,
    pub seconds: f64,
    pub ops: u64,
    pub ops_per_s: f64,
    /// Receipts written (or, for reads, counts/list entries returned) per second.
    pub receipts_per_s: f64,
    /// New receipts per second (writes only).
    pub new_receipts_per_s: f64,
    /// New receipts / receipts attempted.
    pub new_fraction: f64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub latency: Percentiles,
    /// Per-page latency (S5).
    pub pages: Option<Percentiles>,
    pub cpu: Usage,
    /// What the CPU figures below are per: `receipt` (writes) or `call` (reads: one HTTP call,
    /// a page in S5).
    pub cpu_unit: String,
    /// Server CPU microseconds per `cpu_unit`.
    pub server_us: f64,
    /// PostgreSQL CPU microseconds per `cpu_unit`.
    pub postgres_us: f64,
    /// The statements that took the most database time (`--pg-stats`).
    pub pg_top: Vec<Statement>,
    pub note: String,
}

impl Scenario {
    /// Summarises a measured run.
    #[allow(clippy::too_many_arguments)]
    pub fn from_measured(
        id: &str,
        title: &str,
        command: &str,
        concurrency: usize,
        mut m: Measured,
        cpu: Usage,
        note: &str,
    ) -> Scenario {
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        let pages = (!m.sub_latencies_us.is_empty()).then(|| Percentiles::of(&mut m.sub_latencies_us));
        // The CPU was sampled over warm-up and recorded window at a steady rate, so cores over
        // units per second is the CPU time of one unit.
        let reads = id.starts_with("s4") || id.starts_with("s5") || id.starts_with("s9");
        let units_per_s = match (&pages, reads) {
            (Some(p), _) => p.count as f64 / secs,
            (None, true) => m.ops as f64 / secs,
            (None, false) => m.items as f64 / secs,
        };
        let per = |cores: f64| if units_per_s > 0.0 { cores / units_per_s * 1e6 } else { 0.0 };
        Scenario {
            id: id.into(),
            title: title.into(),
            command: command.into(),
            concurrency,
            seconds: secs,
            ops: m.ops,
            ops_per_s: m.ops as f64 / secs,
            receipts_per_s: m.items as f64 / secs,
            new_receipts_per_s: m.new_items as f64 / secs,
            new_fraction: if m.items > 0 { m.new_items as f64 / m.items as f64 } else { 0.0 },
            errors: m.errors,
            error_samples: m.error_samples,
            latency: Percentiles::of(&mut m.latencies_us),
            pages,
            cpu_unit: if reads { "call" } else { "receipt" }.into(),
            server_us: per(cpu.server_cores),
            postgres_us: per(cpu.postgres_cores),
            cpu,
            pg_top: Vec::new(),
            note: note.into(),
        }
    }
}

/// imreceipts' receipt rate against the raw rate for the same rows.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub scenario: String,
    pub imreceipts_receipts_per_s: f64,
    pub raw_rows_per_s: f64,
    pub ratio: f64,
}

/// A goal from the issue and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: String,
    pub measured: String,
    pub met: bool,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub machine: Machine,
    pub config: Config,
    pub seed: Option<Seed>,
    pub scenarios: Vec<Scenario>,
    pub webhooks: Vec<WebhookResult>,
    pub webhook_cpu: Option<Usage>,
    /// S7: open event streams.
    pub streams: Option<StreamsResult>,
    /// S8b: webhooks with two dispatching server processes.
    pub multi_webhooks: Vec<WebhookResult>,
    pub baselines: Vec<RawResult>,
    pub ratios: Vec<Ratio>,
    pub goals: Vec<Goal>,
    pub failures: Vec<String>,
    pub total_s: f64,
}

impl Report {
    /// Ratios of each write scenario to its pgbench baseline, and the goals.
    pub fn evaluate(&mut self) {
        self.ratios = self
            .baselines
            .iter()
            .filter_map(|b| {
                let s = self.scenarios.iter().find(|s| s.id == b.baseline_of)?;
                Some(Ratio {
                    scenario: s.id.clone(),
                    imreceipts_receipts_per_s: s.new_receipts_per_s,
                    raw_rows_per_s: b.rows_per_s,
                    ratio: if b.rows_per_s > 0.0 { s.new_receipts_per_s / b.rows_per_s } else { 0.0 },
                })
            })
            .collect();
        let mut goals = Vec::new();
        for r in &self.ratios {
            // The goals: single-message receipts at 60% of raw, 30-message ones at 80%.
            let want = if r.scenario == "s1b" { 0.8 } else { 0.6 };
            goals.push(Goal {
                goal: format!("{} receipt writes >= {:.0}% of raw PostgreSQL", r.scenario, want * 100.0),
                measured: format!(
                    "{:.0}% ({:.0} vs {:.0} rows/s)",
                    r.ratio * 100.0,
                    r.imreceipts_receipts_per_s,
                    r.raw_rows_per_s
                ),
                met: r.ratio >= want,
            });
        }
        for (id, members, limit) in [("s4", "10,000", 5.0), ("s4_100k", "100,000", 2.0)] {
            if let Some(s) = self.scenarios.iter().find(|s| s.id == id) {
                goals.push(Goal {
                    goal: format!("{id} get_group_msg_receipt (30 seqs, {members} members) p99 < {limit} ms"),
                    measured: format!("p99 {:.2} ms at concurrency {}", s.latency.p99_ms, s.concurrency),
                    met: s.latency.p99_ms < limit && s.errors == 0,
                });
            }
        }
        for (id, members, limit) in [("s5", "10,000", 10.0), ("s5_100k", "100,000", 5.0)] {
            let found = self.scenarios.iter().find(|s| s.id == id).and_then(|s| s.pages.clone().map(|p| (p, s)));
            if let Some((p, s)) = found {
                goals.push(Goal {
                    goal: format!("{id} get_group_msg_receipt_detail pages ({members} members) p99 < {limit} ms"),
                    measured: format!("p99 {:.2} ms at concurrency {}", p.p99_ms, s.concurrency),
                    met: p.p99_ms < limit && s.errors == 0,
                });
            }
        }
        if let Some(w) = self.webhooks.first() {
            goals.push(Goal {
                goal: format!("S6 webhook enqueue-to-delivery p99 < 50 ms at {} receipts/s", w.rate),
                measured: format!(
                    "p99 {:.1} ms, {}/{} delivered",
                    w.enqueue_to_delivery.p99_ms, w.events_delivered, w.events_expected
                ),
                met: w.enqueue_to_delivery.p99_ms < 50.0
                    && w.events_delivered >= w.events_expected
                    && w.call_errors == 0,
            });
        }
        if let Some(st) = &self.streams {
            let idle = &st.idle_with;
            let own = |w: &crate::streams::Idle| w.server_cores.unwrap_or(w.cpu.server_cores);
            goals.push(Goal {
                goal: format!("s7 {} idle streams: server < 5% of one core and no database queries", st.streams),
                measured: format!(
                    "stream server {:.1}% of a core ({:.1}% without streams); {} of its {} database connections started a statement in {:.0} s",
                    own(idle) * 100.0,
                    own(&st.idle_without) * 100.0,
                    idle.connections_with_a_statement.map_or("?".into(), |n| n.to_string()),
                    idle.connections.map_or("?".into(), |n| n.to_string()),
                    idle.seconds,
                ),
                met: own(idle) < 0.05 && idle.connections_with_a_statement == Some(0),
            });
            goals.push(Goal {
                goal: format!(
                    "s7 receipt to sender's stream p99 < 50 ms at {} receipts/s with the streams open",
                    st.rate
                ),
                measured: format!(
                    "p99 {:.1} ms, {}/{} events, {} missing",
                    st.receipt_to_stream.p99_ms, st.events_received, st.events_expected, st.events_missing
                ),
                met: st.receipt_to_stream.p99_ms < 50.0 && st.events_missing == 0 && st.call_errors == 0,
            });
        }
        for w in &self.multi_webhooks {
            goals.push(Goal {
                goal: format!("s8b two dispatching processes at {}/s: no lost or duplicated deliveries", w.rate),
                measured: format!(
                    "{} lost, {} duplicated, {} extra events",
                    w.events_expected.saturating_sub(w.events_delivered),
                    w.duplicates,
                    w.extra_events
                ),
                met: w.events_delivered >= w.events_expected && w.duplicates == 0 && w.extra_events == 0,
            });
        }
        self.goals = goals;
    }

    /// Writes `latest.{json,md}` and timestamped copies under `dir`; returns the Markdown path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_string_pretty(self)?;
        let md = self.markdown();
        let stamp = self.generated_at.replace([':', '-'], "");
        for name in ["latest".to_string(), stamp] {
            std::fs::write(dir.join(format!("{name}.json")), &json)?;
            std::fs::write(dir.join(format!("{name}.md")), &md)?;
        }
        Ok(dir.join("latest.md"))
    }

    /// The Markdown rendering.
    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(o, "# imreceipts benchmark results\n");
        let _ = writeln!(
            o,
            "Generated {} by `{}` (total {:.0} s).\n",
            self.generated_at, self.config.command, self.total_s
        );
        let _ = writeln!(o, "## Machine\n");
        let _ = writeln!(o, "- {} cores (`nproc`), {}, {} RAM, Linux {}", m.nproc, m.cpu_model, m.memory, m.kernel);
        let _ = writeln!(o, "- {}", m.postgres);
        let _ = writeln!(o, "- load average before: {}, after: {}", m.loadavg_before, m.loadavg_after);
        let others =
            self.scenarios.iter().map(|s| s.cpu.other_cores).chain(self.webhook_cpu.iter().map(|u| u.other_cores));
        if let Some(max) = others.reduce(f64::max) {
            let _ = writeln!(
                o,
                "- other work on the machine during the scenarios: at most {max:.2} cores on average per scenario ({})",
                if max < 0.15 { "otherwise idle" } else { "not idle: compare with care" }
            );
        }
        let c = &self.config;
        let _ = writeln!(
            o,
            "- target: {}; server: {}\n- each scenario: {} s warm-up (not recorded) + {} s recorded; writes at concurrency {}, reads at {}",
            c.target, c.server, c.warmup_s, c.duration_s, c.write_concurrency, c.read_concurrency
        );
        let _ = writeln!(
            o,
            "- S7: {} streams, receipts at {}/s, idle windows of {} s; S8b at {} receipts/s{}\n",
            c.streams,
            c.stream_rate,
            c.stream_idle_s,
            c.multi_webhook_rate,
            if c.skip_100k { "; the 100,000-member group skipped (--skip-100k)" } else { "" }
        );
        if let Some(seed) = &self.seed {
            let _ = writeln!(o, "## Seed ({}, {:.1} s)\n", seed.method, seed.total_s);
            for s in &seed.steps {
                let _ = writeln!(o, "- {} — {} requests, {:.1} s", s.what, s.requests, s.seconds);
            }
            for n in &seed.notes {
                let _ = writeln!(o, "- {n}");
            }
            o.push('\n');
        }
        if !self.goals.is_empty() {
            let _ = writeln!(o, "## Goals\n\n| goal | measured | met |\n|---|---|---|");
            for g in &self.goals {
                let _ = writeln!(o, "| {} | {} | {} |", g.goal, g.measured, if g.met { "yes" } else { "**no**" });
            }
            o.push('\n');
        }
        if !self.scenarios.is_empty() {
            let _ = writeln!(
                o,
                "## Scenarios\n\n| id | scenario | conc. | ops/s | receipts/s | new | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n|---|---|---|---|---|---|---|---|---|---|---|"
            );
            for s in &self.scenarios {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {:.0} | {:.0} | {:.1}% | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
                    s.id,
                    s.title,
                    s.concurrency,
                    s.ops_per_s,
                    s.receipts_per_s,
                    s.new_fraction * 100.0,
                    s.latency.p50_ms,
                    s.latency.p99_ms,
                    s.latency.p999_ms,
                    s.latency.max_ms,
                    s.errors
                );
            }
            let _ = writeln!(o, "\n\"receipts/s\" counts receipts written (S1-S3), counts returned (S4) or list entries returned (S5); \"new\" is the share of attempted receipt writes that were not already recorded.\n");
            for s in self.scenarios.iter().filter(|s| s.pages.is_some()) {
                if let Some(p) = &s.pages {
                    let _ = writeln!(
                        o,
                        "{} pages: {} pages, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.1} ms; full walk (read + unread list): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms.\n",
                        s.id, p.count, p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms, s.latency.p50_ms, s.latency.p99_ms, s.latency.max_ms
                    );
                }
            }
            let _ = writeln!(o, "CPU (average cores busy during each scenario; the machine has {:.0}), and CPU time per receipt written (writes) or per HTTP call (reads; S5: per page):\n\n| id | load generator | server | PostgreSQL | other | whole machine | server µs | PostgreSQL µs | per |\n|---|---|---|---|---|---|---|---|---|", self.scenarios[0].cpu.machine_capacity);
            for s in &self.scenarios {
                let u = &s.cpu;
                let _ = writeln!(
                    o,
                    "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {} |",
                    s.id,
                    u.client_cores,
                    u.server_cores,
                    u.postgres_cores,
                    u.other_cores,
                    u.machine_cores,
                    s.server_us,
                    s.postgres_us,
                    s.cpu_unit
                );
            }
            o.push('\n');
            for s in self.scenarios.iter().filter(|s| !s.pg_top.is_empty()) {
                let _ = writeln!(o, "Top statements during {} (pg_stat_statements):\n\n| share | calls | exec ms | plan ms | query |\n|---|---|---|---|---|", s.id);
                for t in &s.pg_top {
                    let _ = writeln!(
                        o,
                        "| {:.0}% | {} | {:.3} | {:.3} | `{}` |",
                        t.share * 100.0,
                        t.calls,
                        t.exec_ms,
                        t.plan_ms,
                        t.query.replace('|', "\\|")
                    );
                }
                o.push('\n');
            }
            for s in self.scenarios.iter().filter(|s| !s.note.is_empty() || !s.error_samples.is_empty()) {
                let _ = writeln!(o, "- {} (`{}`): {}", s.id, s.command, s.note);
                for e in &s.error_samples {
                    let _ = writeln!(o, "  - error: `{e}`");
                }
            }
            o.push('\n');
        }
        if !self.webhooks.is_empty() {
            let _ = writeln!(
                o,
                "## S6 webhooks (open loop: group_msg_receipt at a fixed rate, one event per new receipt)\n"
            );
            webhook_table(&mut o, &self.webhooks);
            if let Some(u) = &self.webhook_cpu {
                let _ = writeln!(
                    o,
                    "\ne2e = receiver arrival time - EventTime (ms, stamped when the event is enqueued in the receipt's transaction). CPU over all steps: server and receiver {:.2}, PostgreSQL {:.2}, other {:.2}, machine {:.2} cores.",
                    u.server_cores, u.postgres_cores, u.other_cores, u.machine_cores
                );
            }
            o.push('\n');
        }
        if let Some(st) = &self.streams {
            streams_section(&mut o, st);
        }
        if !self.multi_webhooks.is_empty() {
            let _ = writeln!(
                o,
                "## S8b webhooks with two dispatching server processes (receipts alternate between them)\n"
            );
            webhook_table(&mut o, &self.multi_webhooks);
            let _ = writeln!(
                o,
                "\nlost = events expected minus delivered; dup = deliveries of a webhook-id already delivered (at-least-once redelivery, or both processes delivering one event); extra = receipts that fired more than one event.\n"
            );
        }
        if !self.baselines.is_empty() {
            let _ = writeln!(
                o,
                "## Raw PostgreSQL baseline (pgbench, same cluster, scratch database)\n\n| for | script | clients | tps | rows/s | p50 ms | p99 ms | failed | machine cores |\n|---|---|---|---|---|---|---|---|---|"
            );
            for b in &self.baselines {
                let _ = writeln!(
                    o,
                    "| {} | `{}` | {} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {:.2} |",
                    b.baseline_of,
                    b.script,
                    b.clients,
                    b.tps,
                    b.rows_per_s,
                    b.latency.p50_ms,
                    b.latency.p99_ms,
                    b.failed,
                    b.machine_cores
                );
            }
            o.push('\n');
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(o, "## imreceipts vs raw PostgreSQL\n\n| scenario | imreceipts new receipts/s | raw rows/s | ratio |\n|---|---|---|---|");
            for r in &self.ratios {
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {:.0} | {:.0}% |",
                    r.scenario,
                    r.imreceipts_receipts_per_s,
                    r.raw_rows_per_s,
                    r.ratio * 100.0
                );
            }
            let _ = writeln!(
                o,
                "\nThe raw scripts write only the receipt row and the message's counters (S1) or the message row (S2), in one statement per transaction. imreceipts also authenticates the call, checks the group, membership, message and eligibility, records the live-notification event and looks for webhook subscribers, all through the HTTP API.\n"
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(o, "## Failures\n");
            for f in &self.failures {
                let _ = writeln!(o, "- {f}");
            }
        }
        o
    }
}

/// The S6/S8b table: one row per rate.
fn webhook_table(o: &mut String, rows: &[WebhookResult]) {
    let _ = writeln!(
        o,
        "| rate/s | calls | call p99 ms | events | delivered | lost | dup | extra | attempts per process | delivered/s | e2e p50 ms | e2e p99 ms | e2e p99.9 ms | e2e max ms | drain s | server µs/receipt | PostgreSQL µs/receipt |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for w in rows {
        let e = &w.enqueue_to_delivery;
        let (server_us, pg_us) = w.cpu_us_per_receipt();
        let _ = writeln!(
            o,
            "| {} | {} ({} errors) | {:.1} | {} | {} | {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.0} | {:.0} |",
            w.rate,
            w.calls,
            w.call_errors,
            w.call_latency.p99_ms,
            w.events_expected,
            w.events_delivered,
            w.events_expected.saturating_sub(w.events_delivered),
            w.duplicates,
            w.extra_events,
            w.attempts_by_process.iter().map(u64::to_string).collect::<Vec<_>>().join(" + "),
            w.delivered_per_s,
            e.p50_ms,
            e.p99_ms,
            e.p999_ms,
            e.max_ms,
            w.drain_s,
            server_us,
            pg_us
        );
    }
}

/// The S7 section: idle cost of the open streams, then receipt-to-stream latency.
fn streams_section(o: &mut String, st: &StreamsResult) {
    let n = |v: Option<i64>| v.map_or("n/a".to_string(), |v| v.to_string());
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{:.1}", v * 100.0));
    let _ = writeln!(
        o,
        "## S7 event streams ({} open, distinct users, opened in {:.1} s)\n\n| idle window | seconds | stream server % of a core | all servers % | PostgreSQL % | stream server's database connections | of which started a statement |\n|---|---|---|---|---|---|---|",
        st.streams, st.open_s
    );
    for (label, w) in [("without streams", &st.idle_without), ("with the streams open", &st.idle_with)] {
        let _ = writeln!(
            o,
            "| {label} | {:.1} | {} | {:.1} | {:.1} | {} | {} |",
            w.seconds,
            pct(w.server_cores),
            w.cpu.server_cores * 100.0,
            w.cpu.postgres_cores * 100.0,
            n(w.connections),
            n(w.connections_with_a_statement)
        );
    }
    let r = &st.receipt_to_stream;
    let (server_us, pg_us) = st.cpu_us_per_receipt();
    let _ = writeln!(
        o,
        "\nThe streams are held by a server process of their own (`imreceipts-bench serve`, webhook dispatch and retention off, its connections named by `application_name`), so its CPU and its statements are the streams' cost; \"all servers\" adds the in-process server's background work (dispatcher poll, retention). A statement shows in pg_stat_activity as soon as it starts.\n\nWith the streams open, receipts at {}/s through the stream server (open loop; each message's sender is one of the stream users):\n\n| calls | call p99 ms | events expected | received | missing | duplicated | misrouted | receipt-to-stream p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server µs/receipt | PostgreSQL µs/receipt |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        st.rate
    );
    let _ = writeln!(
        o,
        "| {} ({} errors) | {:.1} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
        st.calls,
        st.call_errors,
        st.call_latency.p99_ms,
        st.events_expected,
        st.events_received,
        st.events_missing,
        st.events_duplicated,
        st.events_misrouted,
        r.p50_ms,
        r.p90_ms,
        r.p99_ms,
        r.p999_ms,
        r.max_ms,
        server_us,
        pg_us
    );
    let _ = writeln!(o, "\nreceipt-to-stream = from the start of the receipt call to the event's arrival on the sender's stream, same clock.\n");
    for e in &st.error_samples {
        let _ = writeln!(o, "- error: `{e}`");
    }
}
