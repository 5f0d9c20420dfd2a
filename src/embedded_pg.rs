//! An embedded PostgreSQL cluster run from the system binaries, for zero-configuration starts.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// A running cluster owned by this process (or found running and reused).
#[derive(Debug)]
pub struct EmbeddedPg {
    data_dir: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    started_here: bool,
}

/// Tuning for the embedded cluster.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Turn off fsync: only for throwaway test clusters.
    pub unsafe_fast: bool,
}

impl EmbeddedPg {
    /// Starts (initialising on first use) the cluster whose files live in `base/pgdata`.
    pub fn start(base: &Path, opts: &PgOptions) -> Result<EmbeddedPg> {
        let owner = unprivileged_owner()?;
        fs::create_dir_all(base).with_context(|| format!("creating {}", base.display()))?;
        let mut base = base.canonicalize()?;
        if owner.is_some() && !is_traversable(&base)? {
            // The checkout sits under a private directory (e.g. /root): the `postgres` user
            // cannot reach it, so keep the cluster in a per-checkout directory under /tmp.
            let fallback = std::env::temp_dir().join(format!("imreceipts-pg-{:x}", path_hash(&base)));
            tracing::warn!(wanted = %base.display(), using = %fallback.display(), "data directory not reachable by the postgres user");
            fs::create_dir_all(&fallback)?;
            base = fallback;
        }
        let data_dir = base.join("pgdata");
        if let Some(port) = running_port(&data_dir, owner)? {
            return Ok(EmbeddedPg { data_dir, port, owner, started_here: false });
        }
        if let Some((uid, gid)) = owner {
            // PostgreSQL refuses to run as root; the cluster belongs to the `postgres` user.
            std::os::unix::fs::chown(&base, Some(uid), Some(gid))?;
        }
        if !data_dir.join("PG_VERSION").exists() {
            let out = pg_command("initdb", owner)
                .args(["-D"])
                .arg(&data_dir)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions"])
                .output()
                .context("running initdb (is the PostgreSQL server package installed?)")?;
            if !out.status.success() {
                bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        let pg = EmbeddedPg { data_dir, port: free_port()?, owner, started_here: true };
        pg.pg_ctl_start(opts)?;
        Ok(pg)
    }

    /// `pg_ctl start` on this cluster's port.
    fn pg_ctl_start(&self, opts: &PgOptions) -> Result<()> {
        let mut conf = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c shared_buffers=256MB",
            self.port
        );
        if opts.unsafe_fast {
            conf.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let log = self.data_dir.with_file_name("postgres.log");
        let out = pg_command("pg_ctl", self.owner)
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &conf, "start"])
            .stdin(Stdio::null())
            .output()
            .context("running pg_ctl")?;
        if !out.status.success() {
            bail!(
                "pg_ctl start failed: {}{} (see {})",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.display()
            );
        }
        Ok(())
    }

    /// The port the cluster listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fast shutdown (`pg_ctl stop -m fast`) whoever started the cluster: fault drills use it
    /// to take the database away from a running server.
    pub fn stop_fast(&self) -> Result<()> {
        let out = pg_command("pg_ctl", self.owner)
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"])
            .stdin(Stdio::null())
            .output()
            .context("running pg_ctl stop")?;
        if !out.status.success() {
            bail!("pg_ctl stop failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Starts a cluster stopped with [`EmbeddedPg::stop_fast`] again, on the same port so
    /// clients' URLs stay valid.
    pub fn start_again(&self, opts: &PgOptions) -> Result<()> {
        self.pg_ctl_start(opts)
    }

    /// URL of database `db` in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&self) {
        if !self.started_here {
            return;
        }
        let res = pg_command("pg_ctl", self.owner)
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"])
            .stdin(Stdio::null())
            .output();
        if let Err(e) = res {
            tracing::warn!(error = %e, "stopping the embedded database failed");
        }
    }
}

/// The port of a cluster already running on `data_dir`, read from its postmaster.pid.
fn running_port(data_dir: &Path, owner: Option<(u32, u32)>) -> Result<Option<u16>> {
    let pid_file = data_dir.join("postmaster.pid");
    let Ok(text) = fs::read_to_string(&pid_file) else { return Ok(None) };
    let status = pg_command("pg_ctl", owner)
        .arg("-D")
        .arg(data_dir)
        .arg("status")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        return Ok(None);
    }
    // Line 4 of postmaster.pid is the port.
    Ok(text.lines().nth(3).and_then(|l| l.trim().parse().ok()))
}

/// A `Command` for a PostgreSQL binary, dropped to the cluster owner when we are root.
fn pg_command(bin: &str, owner: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(pg_bin(bin));
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
        cmd.env("HOME", "/tmp");
    }
    cmd
}

/// Finds a server binary: PATH first, then Debian's versioned directories.
fn pg_bin(bin: &str) -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join(bin).is_file() {
                return dir.join(bin);
            }
        }
    }
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.sort();
    versions.into_iter().rev().map(|d| d.join(bin)).find(|p| p.is_file()).unwrap_or_else(|| PathBuf::from(bin))
}

/// When running as root, the uid/gid of the `postgres` system user.
fn unprivileged_owner() -> Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == "postgres" {
            return Ok(Some((f[2].parse()?, f[3].parse()?)));
        }
    }
    bail!("running as root and there is no `postgres` user to run the embedded database as; install the postgresql package or set DATABASE_URL")
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Whether every ancestor of `dir` is searchable by other users (so `postgres` can reach it).
fn is_traversable(dir: &Path) -> Result<bool> {
    for anc in dir.ancestors().skip(1) {
        if fs::metadata(anc)?.permissions().mode() & 0o001 == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn path_hash(p: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
