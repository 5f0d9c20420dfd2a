//! Shared application state handed to every handler.

use std::sync::Arc;

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
}

impl AppState {
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
        use diesel::Connection;
        self.db(move |conn| {
            let mut tries = 0;
            loop {
                match conn.transaction(|c| f(c)) {
                    Err(e) if e.is_retryable_conflict() && tries < 5 => tries += 1,
                    other => return other,
                }
            }
        })
        .await
    }
}
