//! In-process Prometheus metrics: requests by command and ErrorCode, latency, webhook outcomes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {}", self.buckets[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u32), u64>,
    latency: BTreeMap<String, Histogram>,
    webhook_outcomes: BTreeMap<&'static str, u64>,
    webhook_latency: Histogram,
    refusals: BTreeMap<&'static str, u64>,
    retention_removed: BTreeMap<&'static str, u64>,
    db_unavailable: BTreeMap<&'static str, u64>,
    /// (batches, calls, batches split into single calls) per receipt family.
    write_batches: BTreeMap<&'static str, (u64, u64, u64)>,
}

/// Counters and histograms, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// The last hour per minute, for the console's charts.
    pub history: crate::console::history::History,
}

impl Metrics {
    /// Records one coalesced write of `calls` receipt calls.
    pub fn observe_write_batch(&self, family: &'static str, calls: usize) {
        if let Ok(mut m) = self.inner.lock() {
            let e = m.write_batches.entry(family).or_default();
            e.0 += 1;
            e.1 += calls as u64;
        }
    }

    /// Records a batch that failed as a whole and was written again call by call.
    pub fn observe_write_split(&self, family: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            m.write_batches.entry(family).or_default().2 += 1;
        }
    }

    /// Records one answered request.
    pub fn observe_request(&self, command: &str, code: u32, elapsed: Duration) {
        if code == 0 && crate::console::history::is_receipt_command(command) {
            self.history.count_receipt();
        }
        if let Ok(mut m) = self.inner.lock() {
            *m.requests.entry((command.to_string(), code)).or_default() += 1;
            m.latency.entry(command.to_string()).or_default().observe(elapsed.as_secs_f64());
        }
    }

    /// Records one webhook attempt outcome (`success`, `retry`, `dead`, `gone`, `blocked`).
    pub fn observe_webhook(&self, outcome: &'static str, elapsed: Duration) {
        self.history.count_webhook(outcome);
        if let Ok(mut m) = self.inner.lock() {
            *m.webhook_outcomes.entry(outcome).or_default() += 1;
            m.webhook_latency.observe(elapsed.as_secs_f64());
        }
    }

    /// Records one request refused before it ran (`rate_limit_app`, `rate_limit_identifier`).
    pub fn observe_refusal(&self, reason: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.refusals.entry(reason).or_default() += 1;
        }
    }

    /// Records rows of `table` removed by the retention worker.
    pub fn observe_retention(&self, table: &'static str, rows: u64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.retention_removed.entry(table).or_default() += rows;
        }
    }

    /// Records one call refused because the database was unavailable (`reason` label).
    pub fn observe_db_unavailable(&self, reason: &'static str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.db_unavailable.entry(reason).or_default() += 1;
        }
    }

    /// Renders everything; `queue` holds webhook delivery counts by state name.
    pub fn render(&self, queue: &[(String, i64)]) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else { return out };
        out.push_str("# TYPE imreceipts_requests_total counter\n");
        for ((cmd, code), n) in &m.requests {
            let _ = writeln!(out, "imreceipts_requests_total{{command=\"{cmd}\",error_code=\"{code}\"}} {n}");
        }
        out.push_str("# TYPE imreceipts_request_seconds histogram\n");
        for (cmd, h) in &m.latency {
            h.render(&mut out, "imreceipts_request_seconds", &format!("command=\"{cmd}\""));
        }
        out.push_str("# TYPE imreceipts_webhook_attempts_total counter\n");
        for (outcome, n) in &m.webhook_outcomes {
            let _ = writeln!(out, "imreceipts_webhook_attempts_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# TYPE imreceipts_webhook_attempt_seconds histogram\n");
        m.webhook_latency.render(&mut out, "imreceipts_webhook_attempt_seconds", "endpoint=\"all\"");
        out.push_str("# TYPE imreceipts_refused_requests_total counter\n");
        for (reason, n) in &m.refusals {
            let _ = writeln!(out, "imreceipts_refused_requests_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str("# TYPE imreceipts_retention_removed_rows_total counter\n");
        for (table, n) in &m.retention_removed {
            let _ = writeln!(out, "imreceipts_retention_removed_rows_total{{table=\"{table}\"}} {n}");
        }
        out.push_str("# TYPE imreceipts_db_unavailable_total counter\n");
        // Every reason is rendered, zero included, so alerts need no "absent" special case.
        for reason in crate::db::fault::Unavailable::ALL.map(|u| u.label()) {
            let n = m.db_unavailable.get(reason).copied().unwrap_or(0);
            let _ = writeln!(out, "imreceipts_db_unavailable_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str("# TYPE imreceipts_write_batches_total counter\n");
        for (family, (batches, ..)) in &m.write_batches {
            let _ = writeln!(out, "imreceipts_write_batches_total{{family=\"{family}\"}} {batches}");
        }
        out.push_str("# TYPE imreceipts_write_batch_calls_total counter\n");
        for (family, (_, calls, _)) in &m.write_batches {
            let _ = writeln!(out, "imreceipts_write_batch_calls_total{{family=\"{family}\"}} {calls}");
        }
        out.push_str("# TYPE imreceipts_write_batch_splits_total counter\n");
        for (family, (.., splits)) in &m.write_batches {
            let _ = writeln!(out, "imreceipts_write_batch_splits_total{{family=\"{family}\"}} {splits}");
        }
        out.push_str("# TYPE imreceipts_webhook_queue_depth gauge\n");
        for (state, n) in queue {
            let _ = writeln!(out, "imreceipts_webhook_queue_depth{{state=\"{state}\"}} {n}");
        }
        out
    }
}
