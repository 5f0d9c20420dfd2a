//! Request rate limits: token buckets for the whole app and per (identifier, command class),
//! answered with Tencent's frequency-limit codes (60011 app, 60007 identifier).
//!
//! Buckets live in this process: with N processes behind a balancer an app may reach N times
//! the configured rate, which is what an operator sizing per instance expects.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::ApiError;
use crate::settings::RateLimitSettings;

/// Most per-identifier buckets kept; beyond it, buckets that have refilled are dropped.
const MAX_BUCKETS: usize = 100_000;

/// Commands limited together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Receipt and read-state writes.
    Receipts,
    /// Message sends, imports and recalls.
    Sends,
    /// Queries and the event stream.
    Reads,
    /// Accounts, groups, members, configuration, webhooks.
    Management,
}

impl Class {
    /// The class of a `/v4/{service}/{command}`.
    pub fn of(command: &str) -> Class {
        match command {
            "c2c_msg_read_receipt"
            | "group_msg_receipt"
            | "msg_delivered"
            | "group_msg_read_report"
            | "admin_set_msg_read" => Class::Receipts,
            "sendmsg" | "batchsendmsg" | "send_group_msg" | "importmsg" | "import_group_msg" | "admin_msgwithdraw"
            | "group_msg_recall" => Class::Sends,
            c if c.starts_with("get_") || c.starts_with("list_") => Class::Reads,
            "admin_getroammsg" | "group_msg_get_simple" | "account_check" | "event_stream" => Class::Reads,
            _ => Class::Management,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Receipts => "receipt",
            Class::Sends => "send",
            Class::Reads => "read",
            Class::Management => "management",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: u32) -> Bucket {
        Bucket { tokens: burst(rate), at: Instant::now() }
    }

    /// Refills for the time passed, then takes one token if there is one.
    fn take(&mut self, rate: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(burst(rate));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn refilled(&self, rate: u32, now: Instant) -> bool {
        self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * f64::from(rate) >= burst(rate)
    }
}

/// Twice the rate, so a client that paces itself at the limit never sees a refusal.
fn burst(rate: u32) -> f64 {
    f64::from(rate) * 2.0
}

/// The limiter shared by every worker of the process.
pub struct RateLimiter {
    limits: RateLimitSettings,
    app: Mutex<Bucket>,
    callers: Mutex<HashMap<(String, Class), Bucket>>,
}

impl RateLimiter {
    /// A limiter with the configured rates (0 = unlimited).
    pub fn new(limits: &RateLimitSettings) -> RateLimiter {
        RateLimiter {
            limits: limits.clone(),
            app: Mutex::new(Bucket::full(limits.app_per_sec)),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `identifier` for `command`, or says which limit it exceeds.
    pub fn admit(&self, identifier: &str, is_admin: bool, command: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let class = Class::of(command);
        let rate = if is_admin { self.limits.admin_per_sec } else { self.limits.user_per_sec };
        if rate > 0 {
            let mut callers = self.callers.lock().unwrap_or_else(|e| e.into_inner());
            if callers.len() >= MAX_BUCKETS {
                // Full buckets carry no state worth keeping. Admin and user rates differ, so the
                // larger one decides (a bucket dropped early only forgives a little).
                let widest = self.limits.user_per_sec.max(self.limits.admin_per_sec);
                callers.retain(|_, b| !b.refilled(widest, now));
            }
            let bucket = callers.entry((identifier.to_string(), class)).or_insert_with(|| Bucket::full(rate));
            if !bucket.take(rate, now) {
                return Err(ApiError::UserRateLimited(format!(
                    "{identifier:?} sent more than {rate} {} requests per second; slow down and retry",
                    class.name()
                )));
            }
        }
        let app_rate = self.limits.app_per_sec;
        if app_rate > 0 {
            let mut app = self.app.lock().unwrap_or_else(|e| e.into_inner());
            if !app.take(app_rate, now) {
                return Err(ApiError::AppRateLimited(format!(
                    "the app sent more than {app_rate} requests per second; slow down and retry"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(app: u32, user: u32) -> RateLimiter {
        RateLimiter::new(&RateLimitSettings { app_per_sec: app, user_per_sec: user, admin_per_sec: 0 })
    }

    #[test]
    fn a_user_gets_a_burst_of_twice_the_rate_per_class_then_is_refused() {
        let l = limiter(0, 5);
        for _ in 0..10 {
            l.admit("bob", false, "group_msg_receipt").unwrap();
        }
        assert!(matches!(l.admit("bob", false, "group_msg_receipt"), Err(ApiError::UserRateLimited(_))));
        // Other classes and other users have their own buckets; admins are not limited here.
        l.admit("bob", false, "get_group_msg_receipt").unwrap();
        l.admit("alice", false, "group_msg_receipt").unwrap();
        for _ in 0..100 {
            l.admit("administrator", true, "group_msg_receipt").unwrap();
        }
    }

    #[test]
    fn the_app_limit_covers_everyone() {
        let l = limiter(3, 0);
        for id in ["a", "b", "c", "d", "e", "f"] {
            l.admit(id, false, "sendmsg").unwrap();
        }
        assert!(matches!(l.admit("g", true, "sendmsg"), Err(ApiError::AppRateLimited(_))));
    }

    #[test]
    fn tokens_come_back_with_time() {
        let mut b = Bucket::full(10);
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(b.take(10, t0));
        }
        assert!(!b.take(10, t0));
        assert!(b.take(10, t0 + std::time::Duration::from_millis(150)));
    }
}
