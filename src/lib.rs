//! imreceipts: delivery and read receipts behind a Tencent Cloud Chat compatible REST API.

pub mod coalesce;
pub mod console;
pub mod db;
pub mod deadlines;
pub mod domain;
pub mod embedded_pg;
pub mod error;
pub mod http;
pub mod identity;
pub mod live;
pub mod metrics;
pub mod planner_stats;
pub mod retention;
pub mod settings;
pub mod state;
pub mod usersig;
pub mod vault;
pub mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use anyhow::{Context, Result};

use crate::settings::Settings;
use crate::state::{AppIdentity, AppState};

/// UserSigs remembered as verified (about 200 bytes each).
const SIG_CACHE_CAPACITY: usize = 10_000;

/// A built server: its bound port, the actix server handle and the background tasks.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    /// Shared state (exposed for tests and tools).
    pub state: AppState,
    dispatcher: Option<webhooks::dispatcher::Handle>,
    retention: Option<retention::Handle>,
    deadlines: Option<deadlines::Handle>,
    stop_live: Arc<std::sync::atomic::AtomicBool>,
}

impl Application {
    /// Migrates the database, binds the listener and prepares (but does not run) the server.
    pub fn build(settings: &Settings, identity: AppIdentity, database_url: &str) -> Result<Application> {
        db::migrate(database_url)?;
        let secrets = Arc::new(identity::secrets_keyring(settings)?);
        let pool_wait = std::time::Duration::from_millis(settings.pool_wait_ms.max(1));
        let pool = db::pool(database_url, settings.pool_size, pool_wait)?;
        {
            let mut conn = pool.get().context("getting a database connection")?;
            let resealed = webhooks::endpoints::seal_at_rest(&mut conn.pg, &secrets).map_err(|e| match e {
                // The cause names the endpoint and the key; the API-facing text would hide it.
                error::ApiError::Internal(cause) => cause.context("checking the webhook secrets at rest"),
                other => anyhow::anyhow!("checking the webhook secrets at rest: {other}"),
            })?;
            if resealed > 0 {
                tracing::info!(endpoints = resealed, key_id = %secrets.current_id(), "webhook secrets (re-)encrypted with the current key");
            }
            for admin in &identity.admins {
                domain::accounts::import(&mut conn.pg, admin, None, None)
                    .map_err(|e| anyhow::anyhow!("importing admin {admin:?}: {e}"))?;
            }
        }
        let identity_admins = identity.admins.clone();
        let state = AppState {
            pool,
            app: Arc::new(identity),
            metrics: Arc::new(metrics::Metrics::default()),
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            secrets,
            webhook_policy: webhooks::ssrf::TargetPolicy {
                allow_loopback: settings.webhooks.allow_loopback,
                allow_private: settings.webhooks.allow_private,
            },
            client_ip_header: settings.client_ip_header.as_deref().map(|h| h.trim().to_ascii_lowercase().into()),
            c2c_dedup_secs: settings.c2c_dedup_secs.max(0),
            group_dedup_secs: settings.group_dedup_secs.max(0),
            body_timeout: std::time::Duration::from_secs(settings.body_timeout_secs.max(1)),
            rate_limiter: Arc::new(http::rate_limit::RateLimiter::new(&settings.rate_limits)),
            retention: settings.retention.clone(),
            live: Arc::new(live::Hub::default()),
            db_slots: Arc::new(tokio::sync::Semaphore::new(settings.pool_size.max(1) as usize)),
            pool_wait,
            sig_cache: Arc::new(usersig::VerifiedCache::new(SIG_CACHE_CAPACITY)),
            writers: Arc::new(coalesce::Writers::new(coalesce::Limits {
                writers: settings.writers,
                max_calls: settings.write_batch,
                spill_items: settings.writer_spill,
            })),
            console: Arc::new(console::ConsoleInfo::new(
                settings,
                &identity_admins,
                &settings.database_url.as_deref().map_or_else(
                    || format!("embedded PostgreSQL under {}", settings.data_dir.display()),
                    console::describe_database_url,
                ),
            )),
        };
        let stop_live = Arc::new(std::sync::atomic::AtomicBool::new(false));
        live::spawn_listener(database_url.to_string(), state.live.clone(), stop_live.clone());
        live::spawn_notifier(database_url.to_string(), state.live.clone(), stop_live.clone());
        console::history::start_sampler(state.clone(), stop_live.clone());
        let listener = TcpListener::bind(settings.listen).with_context(|| format!("binding {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        let data = web::Data::new(state.clone());
        let mut server = HttpServer::new(move || App::new().app_data(data.clone()).configure(http::configure))
            .listen(listener)?
            // Signals are handled in `run_until_stopped` so Ctrl-C is as graceful as SIGTERM.
            .disable_signals()
            .shutdown_timeout(20);
        let workers = settings.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        // actix counts connections per worker.
        server = server.workers(workers).max_connections(settings.max_connections.div_ceil(workers).max(1));
        let dispatcher = settings
            .webhooks
            .dispatch
            .then(|| webhooks::dispatcher::start(state.clone(), database_url.to_string(), settings.webhooks.clone()))
            .transpose()
            .context("building the webhook HTTP client")?;
        let retention = settings.retention.enabled.then(|| retention::start(state.clone()));
        if settings.retention.enabled {
            planner_stats::start(state.clone(), stop_live.clone());
        }
        let deadlines = settings.deadlines.enabled.then(|| deadlines::start(state.clone(), settings.deadlines.clone()));
        Ok(Application { port, server: server.run(), state, dispatcher, retention, deadlines, stop_live })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until Ctrl-C or SIGTERM: stops accepting, finishes in-flight requests (up to 20 s),
    /// then drains the webhook dispatcher.
    pub async fn run_until_stopped(self) -> Result<()> {
        let handle = self.server.handle();
        actix_web::rt::spawn(async move {
            if let Err(e) = shutdown_signal().await {
                tracing::error!(error = %e, "cannot listen for shutdown signals");
                return;
            }
            tracing::info!("shutting down: finishing in-flight requests");
            handle.stop(true).await;
        });
        let res = self.server.await;
        if let Some(r) = &self.retention {
            r.shutdown();
        }
        if let Some(d) = &self.deadlines {
            d.shutdown();
        }
        self.stop_live.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(d) = self.dispatcher {
            d.shutdown().await;
        }
        res.context("HTTP server failed")
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res,
        _ = term.recv() => Ok(()),
    }
}
