//! Shared application state handed to every handler.

use std::sync::Arc;

use crate::db::DbPool;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// The one app this server hosts: its SDKAppID, secret key and admin identifiers.
#[derive(Clone, Debug)]
pub struct AppIdentity {
    /// SDKAppID.
    pub sdkappid: u64,
    /// Secret key signing UserSigs.
    pub secret_key: String,
    /// App admin identifiers.
    pub admins: Vec<String>,
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
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let res = f(&mut conn.pg);
            if let Err(ApiError::Internal(e)) = &res {
                if let Some(db_err) = e.downcast_ref::<diesel::result::Error>() {
                    conn.observe(db_err);
                }
            }
            res
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
