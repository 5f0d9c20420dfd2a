//! A second server: this same binary re-run as `imreceipts-bench serve`, a separate process
//! running `imreceipts::Application` with the server's own settings parsing (environment
//! variables, library defaults), on the in-process server's database. S8 splits its load over
//! both; S7 holds its streams on one with no background work, so what they cost is its own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use imreceipts::settings::Settings;
use imreceipts::{identity, Application};

/// The line `serve` prints once it listens; the port follows it.
const READY: &str = "imreceipts-bench serve listening on port ";

/// Runs the server until SIGTERM or Ctrl-C (the hidden `serve` subcommand).
pub fn serve(settings: Settings) -> Result<()> {
    let url = settings.database_url.clone().ok_or_else(|| anyhow!("serve needs DATABASE_URL"))?;
    let ident = identity::load_or_create(&settings)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings, ident, &url)?;
        // The parent waits for this line (stdout is a pipe to it, not a person's terminal).
        println!("{READY}{}", app.port());
        app.run_until_stopped().await
    })
}

/// Where the second server gets its identity and database.
pub struct Spec<'a> {
    pub db_url: &'a str,
    pub sdkappid: u64,
    pub secret_key: &'a str,
    pub secrets_key: &'a str,
    pub admin: &'a str,
    /// More environment variables (settings) for it.
    pub env: Vec<(&'a str, &'a str)>,
}

/// A second server process.
pub struct Second {
    child: Child,
    /// Its base URL.
    pub base: String,
    scratch: PathBuf,
}

impl Second {
    /// Starts `imreceipts-bench serve` with the in-process server's identity, secrets key (both
    /// seal and open the same webhook secrets) and database; returns once it listens.
    pub fn start(spec: &Spec) -> Result<Second> {
        let exe = std::env::current_exe().context("locating imreceipts-bench")?;
        let scratch = std::env::temp_dir().join(format!("imr-bench-second-{:08x}", rand::random::<u32>()));
        let mut child = Command::new(exe)
            .arg("serve")
            .env("DATABASE_URL", spec.db_url)
            .env("IMRECEIPTS_LISTEN", "127.0.0.1:0")
            .env("IMRECEIPTS_DATA_DIR", &scratch)
            .env("IMRECEIPTS_SDKAPPID", spec.sdkappid.to_string())
            .env("IMRECEIPTS_SECRET_KEY", spec.secret_key)
            .env("IMRECEIPTS_SECRETS_KEY", spec.secrets_key)
            .env("IMRECEIPTS_ADMINS", spec.admin)
            .env("IMRECEIPTS_WEBHOOK_ALLOW_LOOPBACK", "true")
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .envs(spec.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the second server (imreceipts-bench serve)")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout of the second server"))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(p) = line.strip_prefix(READY) {
                        break p.trim().parse::<u16>().with_context(|| format!("port in {line:?}"))?;
                    }
                }
                Some(Err(e)) => {
                    let _ = child.kill();
                    return Err(e).context("reading the second server's output");
                }
                None => {
                    let status = child.wait()?;
                    bail!("the second server exited before listening ({status}); its errors are above");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Second { child, base: format!("http://127.0.0.1:{port}"), scratch })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: for a server with nothing in flight and nothing to hand back (S7's, whose open
    /// streams would hold a graceful stop for the whole 20 s shutdown timeout).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }

    /// SIGTERM (in-flight requests finish, webhook leases are handed back), SIGKILL after 30 s.
    pub fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.scratch);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!("the second server did not stop within 30 s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

impl Drop for Second {
    fn drop(&mut self) {
        // Only reached without `stop` (an error on the way): never leave it running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
