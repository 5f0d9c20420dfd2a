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

use crate::report::Report;
use crate::scenarios::{self, Span};
use crate::seed::World;
use crate::target::{Api, Embedded};
use crate::{checkpoint, cpu, measure, plan, push, webhook, Opts};

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

/// S8: a second server process on the same database; S1a's single receipts alternate between
/// the two (S8a), then receipts at a fixed rate alternate between them while both dispatch the
/// webhooks (S8b).
pub async fn s8(api: &Api, e: &Embedded, world: &World, opts: &Opts, report: &mut Report) -> Result<()> {
    let spec = Spec {
        db_url: &e.db_url,
        sdkappid: api.sdkappid,
        secret_key: &api.secret_key,
        secrets_key: &e.secrets_key,
        admin: &opts.admin,
        env: Vec::new(),
    };
    let second = Second::start(&spec)?;
    cpu::watch_server(second.pid());
    eprintln!("[s8] second server (pid {}) at {}", second.pid(), second.base);
    let other = Api::new(&second.base, api.sdkappid, &api.secret_key, &opts.admin)?;
    let result = async {
        let sizes = &world.sizes;
        let p = plan("s8a group_msg_receipt x1, 2 processes", opts.concurrency, opts);
        let span = Span {
            first: (sizes.medium_single_msgs + sizes.medium_batch_msgs + 1) as u64,
            count: sizes.medium_multi_msgs as u64,
        };
        let run = scenarios::single_receipts(vec![api.clone(), other.clone()], world, span, &p);
        let m = measure(Some(&e.db_url), opts.pg_stats, run).await;
        let note = "S1a with calls alternating between two server processes on one database (the in-process server and `imreceipts-bench serve`); CPU is both servers'";
        push(report, "s8a", "group receipt x1, 200 members, 2 processes", "group_open_http_svc/group_msg_receipt", &p, m, world, note);
        checkpoint(Some(&e.db_url));
        let receipts = webhook::Receipts {
            apis: vec![api.clone(), other.clone()],
            group: world.small_group.clone(),
            span: Span { first: sizes.small_msgs as u64 + 1, count: sizes.small_multi_msgs as u64 },
            readers: sizes.small_members as u64 - 1,
        };
        let (warm, dur) = (Duration::from_secs(opts.warmup), Duration::from_secs(opts.duration));
        report.multi_webhooks =
            webhook::run(&receipts, &[opts.multi_webhook_rate], opts.webhook_max_in_flight, warm, dur).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    cpu::unwatch_server(second.pid());
    second.stop();
    result
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
