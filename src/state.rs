//! Shared application state handed to every handler.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::fault::Unavailable;
use crate::db::DbPool;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// The one app this server hosts: its SDKAppID, secret key and admin identifiers.
#[derive(Clone)]
pub struct AppIdentity {
    /// SDKAppID.
    pub sdkappid: u64,
    /// Secret key signing UserSigs.
    pub secret_key: String,
    /// App admin identifiers.
    pub admins: Vec<String>,
}

impl std::fmt::Debug for AppIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key signs every UserSig: never printed.
        f.debug_struct("AppIdentity")
            .field("sdkappid", &self.sdkappid)
            .field("admins", &self.admins)
            .finish_non_exhaustive()
    }
}

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: DbPool,
    /// App credentials.
    pub app: Arc<AppIdentity>,
    /// Request and webhook metrics.
    pub metrics: Arc<Metrics>,
    /// Wakes the local webhook dispatcher after an event is committed.
    pub webhook_wake: Arc<tokio::sync::Notify>,
    /// Keys sealing webhook secrets and tokens at rest.
    pub secrets: Arc<crate::vault::Keyring>,
    /// Which webhook targets are allowed (SSRF guard).
    pub webhook_policy: crate::webhooks::ssrf::TargetPolicy,
    /// Header naming the caller's address behind a trusted proxy (lower case), if any.
    pub client_ip_header: Option<Arc<str>>,
    /// Seconds within which a repeated C2C send is the same message.
    pub c2c_dedup_secs: i64,
    /// Seconds within which a repeated group send is the same message.
    pub group_dedup_secs: i64,
    /// How long an authenticated request may take to send its body.
    pub body_timeout: std::time::Duration,
    /// Request rate limits.
    pub rate_limiter: Arc<crate::http::rate_limit::RateLimiter>,
    /// Wakes the open event streams of this process.
    pub live: Arc<crate::live::Hub>,
    /// How long each family of data is kept.
    pub retention: crate::settings::RetentionSettings,
    /// One permit per pooled connection: callers queue here (cheaply, and only for
    /// `pool_wait`) rather than on blocking threads.
    pub db_slots: Arc<tokio::sync::Semaphore>,
    /// How long a call waits for a database connection before it is refused with 60008.
    pub pool_wait: Duration,
    /// UserSigs that verified, so reused sigs skip zlib and HMAC.
    pub sig_cache: Arc<crate::usersig::VerifiedCache>,
    /// The coalesced receipt writes.
    pub writers: Arc<crate::coalesce::Writers>,
    /// What the operator console shows about this process.
    pub console: Arc<crate::console::ConsoleInfo>,
}

impl AppState {
    /// Admits one request of `caller` under the rate limits, counting refusals.
    pub fn admit(&self, caller: &crate::http::auth::Caller, command: &str) -> ApiResult<()> {
        let verdict = self.rate_limiter.admit(&caller.identifier, caller.is_admin, command);
        match &verdict {
            Err(ApiError::AppRateLimited(_)) => self.metrics.observe_refusal("rate_limit_app"),
            Err(_) => self.metrics.observe_refusal("rate_limit_identifier"),
            Ok(()) => {}
        }
        verdict
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut diesel::PgConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = Instant::now() + self.pool_wait;
        // A saturated pool refuses after a bounded wait instead of queueing without end.
        let Ok(Ok(permit)) = tokio::time::timeout(self.pool_wait, self.db_slots.clone().acquire_owned()).await else {
            return Err(ApiError::DbUnavailable(Unavailable::PoolExhausted));
        };
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            // Holding a permit means a connection is free unless none can be opened.
            let mut conn = pool.get_timeout(left).map_err(|_| ApiError::DbUnavailable(Unavailable::Unreachable))?;
            let res = f(&mut conn.pg);
            match res {
                Err(ApiError::Internal(e)) => match e.downcast_ref::<diesel::result::Error>() {
                    Some(db_err) => {
                        conn.observe(db_err);
                        match crate::db::fault::classify(db_err) {
                            Some(why) => {
                                tracing::warn!(error = %db_err, "database unavailable");
                                Err(ApiError::DbUnavailable(why))
                            }
                            None => Err(ApiError::Internal(e)),
                        }
                    }
                    None => Err(ApiError::Internal(e)),
                },
                other => other,
            }
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
    }

    /// Runs `f` inside one transaction, retrying serialization failures and deadlocks.
    pub async fn tx<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: Fn(&mut diesel::PgConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db(move |conn| crate::db::transaction(conn, &f)).await
    }
}
