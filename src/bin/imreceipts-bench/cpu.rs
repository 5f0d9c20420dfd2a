//! Where the CPU went during a scenario, from /proc: the load generator (this process's main
//! thread), the server under test (every other thread of this process), the PostgreSQL cluster
//! under test (its postmaster and children, live or exited) and the whole machine. Server processes of their
//! own (S8's second server) are added to the server's share.

use std::fs;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

/// Clock ticks per second of /proc times (USER_HZ, 100 on every Linux that matters).
const TICKS: f64 = 100.0;

/// Port of the cluster under test; without it every `postgres` process counts.
static PG_PORT: OnceLock<u16> = OnceLock::new();

/// Separate server processes whose CPU counts as the server's (besides this process's threads).
static SERVER_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Counts `pid` (a server process the harness started) as part of the server under test until
/// [`unwatch_server`]. Snapshots must not straddle its start or exit: its time would jump.
pub fn watch_server(pid: u32) {
    SERVER_PIDS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Stops counting `pid`.
pub fn unwatch_server(pid: u32) {
    SERVER_PIDS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| *p != pid);
}

/// CPU seconds (user + system, all threads) process `pid` has used so far.
pub fn process_seconds(pid: u32) -> Option<f64> {
    proc_stat(pid).map(|p| p.secs)
}

/// Attributes PostgreSQL CPU to the cluster listening on `port` only (other clusters on the
/// machine, such as a test suite's, are then counted as "other").
pub fn watch_postgres(port: u16) {
    let _ = PG_PORT.set(port);
}

/// Cumulative CPU seconds at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    client: f64,
    server: f64,
    postgres: f64,
    busy: f64,
    total: f64,
}

/// Average cores used between two snapshots.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// Load generator (the harness's own HTTP client).
    pub client_cores: f64,
    /// The in-process server: HTTP workers, blocking database threads, webhook dispatcher
    /// (and, in S6, the webhook receiver), plus S8's second server process.
    pub server_cores: f64,
    /// The PostgreSQL cluster: its processes, including those that exited during the window.
    pub postgres_cores: f64,
    /// Every process on the machine.
    pub machine_cores: f64,
    /// The machine minus the above: other users of it, and kernel work not charged to them.
    pub other_cores: f64,
    /// Cores the machine has.
    pub machine_capacity: f64,
}

impl Snapshot {
    /// Reads the counters now (zeros where /proc is unavailable).
    pub fn take() -> Snapshot {
        let mut s = Snapshot::default();
        // The process total includes threads that have exited (idle blocking-pool threads do);
        // the main thread runs the load generator.
        let me = std::process::id();
        if let (Some((_, all)), Some((_, main))) =
            (stat(Path::new("/proc/self/stat")), stat(&Path::new("/proc/self/task").join(me.to_string()).join("stat")))
        {
            s.client = main;
            s.server = all - main;
        }
        let extra = SERVER_PIDS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        s.server += extra.iter().filter_map(|pid| proc_stat(*pid)).map(|p| p.secs).sum::<f64>();
        let procs: Vec<Proc> = fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|p| p.file_name().to_str()?.parse::<u32>().ok())
                    .filter_map(|pid| proc_stat(pid).filter(|p| p.comm == "postgres"))
                    .collect()
            })
            .unwrap_or_default();
        let postmaster = PG_PORT.get().and_then(|port| {
            let wanted = port.to_string();
            procs.iter().map(|p| p.pid).find(|pid| {
                let args = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
                args.windows(2).any(|w| w[0] == b"-p" && w[1] == wanted.as_bytes())
            })
        });
        // Live processes, plus the postmaster's reaped children: backends and parallel workers
        // that exited (a parallel query's workers often live between two snapshots).
        let pids: Vec<u32> = procs.iter().map(|p| p.pid).collect();
        let is_postmaster = |p: &Proc| postmaster.map_or(!pids.contains(&p.ppid), |pm| p.pid == pm);
        s.postgres = procs
            .iter()
            .filter(|p| postmaster.is_none_or(|pm| p.pid == pm || p.ppid == pm))
            .map(|p| p.secs + if is_postmaster(p) { p.children } else { 0.0 })
            .sum();
        if let Some((busy, total)) = machine() {
            s.busy = busy;
            s.total = total;
        }
        s
    }

    /// Cores used from `self` until `later`.
    pub fn usage_until(&self, later: &Snapshot, seconds: f64) -> Usage {
        let per = |a: f64, b: f64| if seconds > 0.0 { ((b - a) / seconds).max(0.0) } else { 0.0 };
        let capacity = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let machine = if later.total > self.total {
            (later.busy - self.busy) / (later.total - self.total) * capacity
        } else {
            0.0
        };
        let (client, server, postgres) =
            (per(self.client, later.client), per(self.server, later.server), per(self.postgres, later.postgres));
        Usage {
            client_cores: client,
            server_cores: server,
            postgres_cores: postgres,
            machine_cores: machine,
            other_cores: (machine - client - server - postgres).max(0.0),
            machine_capacity: capacity,
        }
    }
}

/// A process as /proc/<pid>/stat describes it.
struct Proc {
    pid: u32,
    ppid: u32,
    comm: String,
    secs: f64,
    /// CPU seconds of its children that exited and were reaped.
    children: f64,
}

fn proc_stat(pid: u32) -> Option<Proc> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    let ppid = rest.get(1)?.parse().ok()?;
    // cutime and cstime are fields 16 and 17.
    let children = (rest.get(13)?.parse::<f64>().ok()? + rest.get(14)?.parse::<f64>().ok()?) / TICKS;
    let (comm, secs) = parse_stat(&text)?;
    Some(Proc { pid, ppid, comm, secs, children })
}

/// (comm, user+system seconds) from a /proc stat file.
fn stat(path: &Path) -> Option<(String, f64)> {
    parse_stat(&fs::read_to_string(path).ok()?)
}

fn parse_stat(text: &str) -> Option<(String, f64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    // Fields after the comm start at field 3 (state); utime and stime are fields 14 and 15.
    let rest: Vec<&str> = text[close + 2..].split_whitespace().collect();
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / TICKS))
}

/// (busy, total) jiffies of all CPUs from /proc/stat.
fn machine() -> Option<(f64, f64)> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest fields are already in user).
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0.0);
    Some((total - idle, total))
}

/// Load average and core count, for the report's description of the machine's state.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
