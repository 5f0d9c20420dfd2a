//! Typed settings: command-line flags and environment variables with working defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Command line of the `imreceipts` binary.
#[derive(Debug, Parser)]
#[command(
    name = "imreceipts",
    version,
    about = "Delivery and read receipts with a Tencent Cloud Chat compatible REST API"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands; without one the server runs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a UserSig for the configured app.
    Usersig {
        /// The identifier (UserID) to sign for.
        #[arg(long)]
        identifier: String,
        /// Validity in seconds (default 180 days).
        #[arg(long, default_value_t = 180 * 86400)]
        expire: i64,
    },
    /// Run pending database migrations against DATABASE_URL (or the embedded database).
    Migrate,
}

/// Server settings. Every field has an environment variable and a default.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "IMRECEIPTS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// PostgreSQL URL; without it an embedded cluster is started under the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the embedded database and the generated app credentials.
    #[arg(long, env = "IMRECEIPTS_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,
    /// SDKAppID; generated and persisted under the data directory when unset.
    #[arg(long, env = "IMRECEIPTS_SDKAPPID")]
    pub sdkappid: Option<u64>,
    /// Secret key that signs UserSigs; generated and persisted when unset.
    #[arg(long, env = "IMRECEIPTS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Comma-separated App admin identifiers.
    #[arg(long, env = "IMRECEIPTS_ADMINS", default_value = "administrator", value_delimiter = ',')]
    pub admins: Vec<String>,
    /// Database connection pool size.
    #[arg(long, env = "IMRECEIPTS_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// Milliseconds a call waits for a database connection (a free pool slot, or a new
    /// connection while the database is down) before it is refused with 60008.
    #[arg(long, env = "IMRECEIPTS_POOL_WAIT_MS", default_value_t = 2000)]
    pub pool_wait_ms: u64,
    /// Most receipt calls written in one statement and commit (1 switches coalescing off).
    #[arg(long, env = "IMRECEIPTS_WRITE_BATCH", default_value_t = 64)]
    pub write_batch: usize,
    /// Receipt batches of one kind written at once, each on its own connection.
    #[arg(long, env = "IMRECEIPTS_WRITERS", default_value_t = 2)]
    pub writers: usize,
    /// Receipts waiting in the queue before a further writer starts beside a running one
    /// (with fewer, one writer's batches simply grow, which is cheaper per receipt).
    #[arg(long, env = "IMRECEIPTS_WRITER_SPILL", default_value_t = 30)]
    pub writer_spill: usize,
    /// HTTP worker threads (default: number of cores).
    #[arg(long, env = "IMRECEIPTS_WORKERS")]
    pub workers: Option<usize>,
    /// Request header holding the caller's address behind a trusted reverse proxy (for example
    /// `X-Forwarded-For`; its last address, the one the proxy appended, is used). Unset: the TCP
    /// peer address.
    #[arg(long, env = "IMRECEIPTS_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// Seconds within which a C2C send with the same sender, receiver, `MsgRandom` and body is
    /// the same message (Tencent: 120 s).
    #[arg(long, env = "IMRECEIPTS_C2C_DEDUP_SECS", default_value_t = 120)]
    pub c2c_dedup_secs: i64,
    /// Seconds within which a group send with the same sender, `Random` and body is the same
    /// message (Tencent: 5 minutes).
    #[arg(long, env = "IMRECEIPTS_GROUP_DEDUP_SECS", default_value_t = 300)]
    pub group_dedup_secs: i64,
    /// Seconds an authenticated request may take to send its body before it is refused (60003).
    #[arg(long, env = "IMRECEIPTS_BODY_TIMEOUT_SECS", default_value_t = 10)]
    pub body_timeout_secs: u64,
    /// Most open client connections, all workers together; beyond it new connections wait in
    /// the listen backlog.
    #[arg(long, env = "IMRECEIPTS_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    #[command(flatten)]
    pub rate_limits: RateLimitSettings,
    #[command(flatten)]
    pub retention: RetentionSettings,
    #[command(flatten)]
    pub deadlines: DeadlineSettings,
    /// Key encrypting webhook secrets and tokens at rest: 32 bytes as 64 hex digits or base64.
    /// Generated and persisted in `<data_dir>/app.json` when unset.
    #[arg(long, env = "IMRECEIPTS_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<crate::vault::Key>,
    /// Comma-separated earlier secrets keys, used only to decrypt: values they sealed are
    /// re-encrypted with the current key at startup (key rotation).
    #[arg(long, env = "IMRECEIPTS_SECRETS_KEY_PREVIOUS", hide_env_values = true, value_delimiter = ',')]
    pub secrets_key_previous: Vec<crate::vault::Key>,
    #[command(flatten)]
    pub webhooks: WebhookSettings,
}

/// Request rate limits (token buckets per process; 0 switches a limit off).
#[derive(Debug, Clone, Args)]
pub struct RateLimitSettings {
    /// Requests per second for the whole app, all identifiers and commands together (60011
    /// beyond). Off by default: a self-hosted server is sized by its operator.
    #[arg(long = "rate-limit-app", env = "IMRECEIPTS_RATE_LIMIT_APP", default_value_t = 0)]
    pub app_per_sec: u32,
    /// Requests per second of one non-admin identifier in one command class (receipts, sends,
    /// reads, management; 60007 beyond). Bursts of twice the rate are allowed.
    #[arg(long = "rate-limit-user", env = "IMRECEIPTS_RATE_LIMIT_USER", default_value_t = 50)]
    pub user_per_sec: u32,
    /// The same per-identifier limit for App admin identifiers (the app's own backend).
    #[arg(long = "rate-limit-admin", env = "IMRECEIPTS_RATE_LIMIT_ADMIN", default_value_t = 0)]
    pub admin_per_sec: u32,
}

/// How long finished data is kept (0 keeps it forever) and how the cleanup runs.
#[derive(Debug, Clone, Args)]
pub struct RetentionSettings {
    /// Run the retention worker in this process (any number of processes may), and take the
    /// first planner statistics of tables that grow from empty.
    #[arg(long = "retention", env = "IMRECEIPTS_RETENTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,
    /// Days a finished (delivered or dead) webhook delivery, its attempts and its event are kept.
    #[arg(long = "retention-webhook-days", env = "IMRECEIPTS_RETENTION_WEBHOOK_DAYS", default_value_t = 30)]
    pub webhook_days: u32,
    /// Hours of live notifications kept for catch-up: a stream resumed from an older event id
    /// gets a clear error and starts again from now.
    #[arg(
        long = "retention-notification-hours",
        env = "IMRECEIPTS_RETENTION_NOTIFICATION_HOURS",
        default_value_t = 168
    )]
    pub notification_hours: u32,
    /// Days messages (with their receipts) are kept, like Tencent's roaming period; 0 = forever.
    #[arg(long = "retention-message-days", env = "IMRECEIPTS_RETENTION_MESSAGE_DAYS", default_value_t = 0)]
    pub message_days: u32,
    /// Seconds between cleanup rounds.
    #[arg(long = "retention-interval-secs", env = "IMRECEIPTS_RETENTION_INTERVAL_SECS", default_value_t = 60)]
    pub interval_secs: u64,
    /// Rows one cleanup statement deletes at most (small batches never hold long locks).
    #[arg(long = "retention-batch", env = "IMRECEIPTS_RETENTION_BATCH", default_value_t = 1000)]
    pub batch: u32,
}

/// The read-deadline worker (any number of processes may run it: each deadline fires once).
#[derive(Debug, Clone, Args)]
pub struct DeadlineSettings {
    /// Run the read-deadline worker in this process.
    #[arg(id = "deadlines", long = "deadlines", env = "IMRECEIPTS_DEADLINES", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,
    /// Milliseconds between polls for due read deadlines.
    #[arg(
        id = "deadline_poll_ms",
        long = "deadline-poll-ms",
        env = "IMRECEIPTS_DEADLINE_POLL_MS",
        default_value_t = 1000
    )]
    pub poll_ms: u64,
    /// Deadlines claimed and fired in one transaction at most.
    #[arg(id = "deadline_batch", long = "deadline-batch", env = "IMRECEIPTS_DEADLINE_BATCH", default_value_t = 100)]
    pub batch: u32,
}

/// Webhook dispatcher settings.
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// Run the webhook dispatcher in this process.
    #[arg(long = "webhook-dispatch", env = "IMRECEIPTS_WEBHOOK_DISPATCH", default_value_t = true, action = clap::ArgAction::Set)]
    pub dispatch: bool,
    /// Allow webhook targets on loopback addresses (off by default: SSRF guard).
    #[arg(long = "webhook-allow-loopback", env = "IMRECEIPTS_WEBHOOK_ALLOW_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_loopback: bool,
    /// Allow webhook targets on private networks (10/8, 172.16/12, 192.168/16, fc00::/7).
    #[arg(long = "webhook-allow-private", env = "IMRECEIPTS_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private: bool,
    /// Deliveries in flight at once in this process, all endpoints together.
    #[arg(long = "webhook-max-in-flight", env = "IMRECEIPTS_WEBHOOK_MAX_IN_FLIGHT", default_value_t = 128)]
    pub max_in_flight: usize,
    /// Milliseconds between polls for due deliveries when no notification arrives.
    #[arg(long = "webhook-poll-ms", env = "IMRECEIPTS_WEBHOOK_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
    /// Seconds a claimed delivery stays leased beyond its timeout before another worker may
    /// take it over (covers a crashed process).
    #[arg(long = "webhook-lease-margin", env = "IMRECEIPTS_WEBHOOK_LEASE_MARGIN_SECS", default_value_t = 30.0)]
    pub lease_margin_secs: f64,
    /// Multiplies every retry delay (tests and drills use a small value).
    #[arg(long = "webhook-retry-scale", env = "IMRECEIPTS_WEBHOOK_RETRY_SCALE", default_value_t = 1.0)]
    pub retry_scale: f64,
    /// How webhook host names are looked up: the system resolver (tests plug their own).
    #[arg(skip)]
    pub dns: crate::webhooks::resolver::DnsLookup,
}

impl Settings {
    /// Settings for tests and tools: defaults, no environment.
    pub fn defaults() -> Settings {
        Cli::parse_from(["imreceipts"]).settings
    }
}
