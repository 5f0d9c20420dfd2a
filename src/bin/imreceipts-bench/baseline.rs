//! The raw PostgreSQL baseline: `pgbench` runs the committed scripts under `bench/` (the same
//! rows as the receipt writes, with none of the server around them) against scratch tables in
//! a scratch database of the same cluster, with the same concurrency and duration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::load::Percentiles;
use crate::target::sql;

const SETUP: &str = include_str!("../../../bench/pg_raw_setup.sql");
const SINGLE: &str = include_str!("../../../bench/pg_receipts_single.sql");
const BATCH30: &str = include_str!("../../../bench/pg_receipts_batch30.sql");
const C2C: &str = include_str!("../../../bench/pg_c2c_read_single.sql");

/// The scratch database (its prefix makes the harness drop it with other leftovers).
const RAW_DB: &str = "imr_bench_raw";
/// Seeded rows: far more (message, reader) pairs than any run writes.
const MSGS: u64 = 30_000;
const READERS: u64 = 199;
const C2C_ROWS: u64 = 400_000;

/// One pgbench run.
#[derive(Debug, Clone, Serialize)]
pub struct RawResult {
    /// Which imreceipts scenario it is the baseline of.
    pub baseline_of: String,
    /// The committed script.
    pub script: String,
    /// Rows (receipts) written per transaction.
    pub rows_per_tx: u64,
    pub clients: usize,
    pub seconds: u64,
    pub tps: f64,
    pub rows_per_s: f64,
    pub failed: u64,
    /// Per-transaction latency from pgbench's log.
    pub latency: Percentiles,
    /// Cores busy on the whole machine during the run (pgbench and PostgreSQL).
    pub machine_cores: f64,
}

/// Which baselines to run.
pub struct Wanted {
    pub single: bool,
    pub batch30: bool,
    pub c2c: bool,
}

/// Runs the wanted baselines with `clients` connections for `warmup` + `duration` each.
pub fn run(
    admin_url: &str,
    wanted: &Wanted,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Vec<RawResult>> {
    // One statement per call: a multi-statement string runs as one transaction, which
    // DROP/CREATE DATABASE refuse.
    sql(admin_url, &format!("DROP DATABASE IF EXISTS {RAW_DB} WITH (FORCE)"))?;
    sql(admin_url, &format!("CREATE DATABASE {RAW_DB}"))?;
    let url = replace_db(admin_url, RAW_DB)?;
    let setup = SETUP
        .replace("{msgs}", &MSGS.to_string())
        .replace("{readers}", &READERS.to_string())
        .replace("{c2c_rows}", &C2C_ROWS.to_string());
    sql(&url, &setup).context("creating the raw baseline tables")?;
    sql(&url, "VACUUM ANALYZE")?;
    let dir = std::env::temp_dir().join(format!("imr-bench-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut out = Vec::new();
    let runs = [
        (wanted.single, "s1a", "pg_receipts_single.sql", SINGLE, 1, format!("msgs={MSGS}")),
        (wanted.batch30, "s1b", "pg_receipts_batch30.sql", BATCH30, 30, format!("chunks={}", MSGS / 30)),
        (wanted.c2c, "s2", "pg_c2c_read_single.sql", C2C, 1, format!("rows={C2C_ROWS}")),
    ];
    for (on, of, name, text, rows, var) in runs {
        if !on {
            continue;
        }
        // Fresh rows and counters for every run, then a checkpoint so none of them pays for
        // another's dirty pages.
        sql(
            &url,
            "TRUNCATE raw_group_receipts; ALTER SEQUENCE raw_n RESTART;
             UPDATE raw_group_messages SET read_count = 0, delivered_count = 0 WHERE read_count > 0;
             UPDATE raw_c2c_messages SET peer_read_at = NULL, delivered_at = NULL WHERE peer_read_at IS NOT NULL",
        )?;
        sql(&url, "VACUUM ANALYZE raw_group_messages, raw_c2c_messages")?;
        sql(&url, "CHECKPOINT")?;
        let script = dir.join(name);
        std::fs::write(&script, text)?;
        let vars = [var, format!("readers={READERS}")];
        if !warmup.is_zero() {
            pgbench(&url, &script, &vars, clients, warmup, None, &format!("pgbench {name} (warm-up)"))?;
        }
        let logs = dir.join(format!("log-{of}"));
        let before = crate::cpu::Snapshot::take();
        let t = std::time::Instant::now();
        let (tps, failed) = pgbench(&url, &script, &vars, clients, duration, Some(&logs), &format!("pgbench {name}"))?;
        let cpu = before.usage_until(&crate::cpu::Snapshot::take(), t.elapsed().as_secs_f64());
        let mut lat = read_logs(&dir, &format!("log-{of}"))?;
        out.push(RawResult {
            baseline_of: of.to_string(),
            script: format!("bench/{name}"),
            rows_per_tx: rows,
            clients,
            seconds: duration.as_secs(),
            tps,
            rows_per_s: tps * rows as f64,
            failed,
            latency: Percentiles::of(&mut lat),
            machine_cores: cpu.machine_cores,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    sql(admin_url, &format!("DROP DATABASE IF EXISTS {RAW_DB} WITH (FORCE)"))?;
    Ok(out)
}

/// Runs pgbench; returns (tps, failed transactions). Progress goes to stderr once a second.
fn pgbench(
    url: &str,
    script: &Path,
    vars: &[String],
    clients: usize,
    duration: Duration,
    log_prefix: Option<&PathBuf>,
    label: &str,
) -> Result<(f64, u64)> {
    eprintln!("[{label}] {clients} clients for {} s", duration.as_secs());
    let mut cmd = Command::new(pgbench_bin());
    cmd.args(["-n", "-M", "prepared", "-P", "1", "-j", "2"])
        .arg("-c")
        .arg(clients.to_string())
        .arg("-T")
        .arg(duration.as_secs().max(1).to_string())
        .arg("-f")
        .arg(script);
    for v in vars {
        cmd.arg("-D").arg(v);
    }
    if let Some(prefix) = log_prefix {
        cmd.arg("-l").arg(format!("--log-prefix={}", prefix.display()));
    }
    cmd.arg(url).stdin(Stdio::null()).stderr(Stdio::inherit());
    let out = cmd.output().context("running pgbench (is the postgresql-client package installed?)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed ({}): {stdout}", out.status);
    }
    let tps = parse_after(&stdout, "tps = ").with_context(|| format!("no tps in pgbench output: {stdout}"))?;
    let failed = parse_after(&stdout, "number of failed transactions: ").unwrap_or(0.0) as u64;
    eprintln!("[{label}] tps {tps:.0}");
    Ok((tps, failed))
}

/// The number that follows `prefix` on its line of pgbench's summary.
fn parse_after(text: &str, prefix: &str) -> Option<f64> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.')).next()?.parse().ok()
}

/// Latencies (µs, third column) from pgbench's per-transaction logs `<prefix>.<pid>[.<n>]`.
fn read_logs(dir: &Path, prefix: &str) -> Result<Vec<u64>> {
    let mut lat = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)) {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            if let Some(us) = line.split_whitespace().nth(2).and_then(|f| f.parse().ok()) {
                lat.push(us);
            }
        }
    }
    Ok(lat)
}

/// `url` with its database name replaced.
fn replace_db(url: &str, db: &str) -> Result<String> {
    let mut u = url::Url::parse(url).context("parsing the PostgreSQL URL")?;
    u.set_path(&format!("/{db}"));
    Ok(u.to_string())
}

/// pgbench from PATH, else from Debian's versioned directories.
fn pgbench_bin() -> PathBuf {
    let on_path =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).map(|d| d.join("pgbench")).find(|p| p.is_file()));
    if let Some(Some(p)) = on_path {
        return p;
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path().join("bin/pgbench"))).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| PathBuf::from("pgbench"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_pgbench_summary() {
        let out = "number of failed transactions: 3 (0.001%)\nlatency average = 1.9 ms\ntps = 8402.118 (without initial connection time)\n";
        assert_eq!(parse_after(out, "tps = "), Some(8402.118));
        assert_eq!(parse_after(out, "number of failed transactions: "), Some(3.0));
        assert_eq!(parse_after(out, "nothing: "), None);
    }

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            replace_db("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
    }
}
