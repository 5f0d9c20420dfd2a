//! Closed-loop load: N workers call one operation back to back for a fixed time, with a
//! warm-up that is not recorded and a progress line per second on stderr.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What one operation did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Receipts written or list/count entries read by the operation.
    pub items: u64,
    /// Of `items`, the receipts that were new (for writes; equal to `items` for reads).
    pub new_items: u64,
    /// Latencies of sub-requests (the pages of a reader-list walk).
    pub sub: Vec<Duration>,
}

/// How long and how hard to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Label on the progress lines.
    pub label: String,
    /// Concurrent workers (closed loop: each has one request in flight).
    pub concurrency: usize,
    /// Not recorded.
    pub warmup: Duration,
    /// Recorded.
    pub duration: Duration,
}

/// Raw measurements of a run (recorded window only).
#[derive(Debug, Default)]
pub struct Measured {
    pub ops: u64,
    pub errors: u64,
    pub items: u64,
    pub new_items: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u64>,
    pub sub_latencies_us: Vec<u64>,
    pub error_samples: Vec<String>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// Percentiles of latencies given in microseconds.
    pub fn of(samples_us: &mut [u64]) -> Percentiles {
        if samples_us.is_empty() {
            return Percentiles::default();
        }
        samples_us.sort_unstable();
        let n = samples_us.len();
        let at = |q: f64| {
            // Nearest-rank percentile.
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            samples_us[rank - 1] as f64 / 1000.0
        };
        Percentiles {
            count: n,
            mean_ms: samples_us.iter().sum::<u64>() as f64 / n as f64 / 1000.0,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: samples_us[n - 1] as f64 / 1000.0,
        }
    }
}

/// Counters shared by the workers and the progress printer.
#[derive(Default)]
struct Live {
    ops: AtomicU64,
    errors: AtomicU64,
    items: AtomicU64,
    latency_us: AtomicU64,
}

struct Worker {
    latencies_us: Vec<u64>,
    sub_latencies_us: Vec<u64>,
    ops: u64,
    errors: u64,
    items: u64,
    new_items: u64,
    error_samples: Vec<String>,
    finished: Instant,
}

/// Runs `op(i)` with `plan.concurrency` workers; every call gets a distinct, increasing `i`
/// so the operation can map it to rows nobody else is writing.
pub async fn closed_loop<F, Fut>(plan: &Plan, op: F) -> Measured
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome, String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let live = Arc::new(Live::default());
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let progress = tokio::spawn(progress(plan.label.clone(), live.clone(), start, plan.warmup, end));
    let mut handles = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency {
        let (op, next, live) = (op.clone(), next.clone(), live.clone());
        handles.push(tokio::spawn(async move {
            let mut w = Worker {
                latencies_us: Vec::new(),
                sub_latencies_us: Vec::new(),
                ops: 0,
                errors: 0,
                items: 0,
                new_items: 0,
                error_samples: Vec::new(),
                finished: Instant::now(),
            };
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let res = op(i).await;
                let us = t0.elapsed().as_micros() as u64;
                live.ops.fetch_add(1, Ordering::Relaxed);
                live.latency_us.fetch_add(us, Ordering::Relaxed);
                let recorded = t0 >= measure_from;
                match res {
                    Ok(o) => {
                        live.items.fetch_add(o.items, Ordering::Relaxed);
                        if recorded {
                            w.ops += 1;
                            w.items += o.items;
                            w.new_items += o.new_items;
                            w.latencies_us.push(us);
                            w.sub_latencies_us.extend(o.sub.iter().map(|d| d.as_micros() as u64));
                        }
                    }
                    Err(e) => {
                        live.errors.fetch_add(1, Ordering::Relaxed);
                        if recorded {
                            w.errors += 1;
                        }
                        if w.error_samples.len() < 3 {
                            w.error_samples.push(e);
                        }
                    }
                }
            }
            w.finished = Instant::now();
            w
        }));
    }
    let mut m = Measured::default();
    let mut last = end;
    for h in handles {
        let Ok(w) = h.await else {
            m.errors += 1;
            m.error_samples.push("a load worker panicked".into());
            continue;
        };
        m.ops += w.ops;
        m.errors += w.errors;
        m.items += w.items;
        m.new_items += w.new_items;
        m.latencies_us.extend(w.latencies_us);
        m.sub_latencies_us.extend(w.sub_latencies_us);
        for e in w.error_samples {
            if m.error_samples.len() < 5 && !m.error_samples.contains(&e) {
                m.error_samples.push(e);
            }
        }
        last = last.max(w.finished);
    }
    progress.abort();
    // Calls started before the end finish after it: the window runs until the last one did.
    m.elapsed = last.saturating_duration_since(measure_from);
    m
}

/// One line per second: rate and mean latency over the last second, errors so far.
async fn progress(label: String, live: Arc<Live>, start: Instant, warmup: Duration, end: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut ops0, mut items0, mut lat0) = (0u64, 0u64, 0u64);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let ops = live.ops.load(Ordering::Relaxed);
        let items = live.items.load(Ordering::Relaxed);
        let lat = live.latency_us.load(Ordering::Relaxed);
        let d_ops = ops - ops0;
        let mean = if d_ops > 0 { (lat - lat0) as f64 / d_ops as f64 / 1000.0 } else { 0.0 };
        let t = now.duration_since(start);
        let phase = if t <= warmup { " (warm-up)" } else { "" };
        eprintln!(
            "[{label}] {:>3}s{phase}  {d_ops} ops/s  {} items/s  mean {mean:.2} ms  errors {}",
            t.as_secs(),
            items - items0,
            live.errors.load(Ordering::Relaxed)
        );
        (ops0, items0, lat0) = (ops, items, lat);
        if now >= end {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=1000).map(|i| i * 1000).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(p.p50_ms, 500.0);
        assert_eq!(p.p99_ms, 990.0);
        assert_eq!(p.p999_ms, 999.0);
        assert_eq!(p.max_ms, 1000.0);
        assert_eq!(Percentiles::of(&mut []).count, 0);
    }
}
