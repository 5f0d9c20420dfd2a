//! When to retry failed webhook deliveries, and when to stop hammering a broken endpoint.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Delays, in seconds, before attempts 2, 3, … (≈ 46.7 h in total before giving up).
///
/// Front-loaded so brief blips recover within minutes, then stretched so a receiver that is
/// down for a day or two still gets its events once it returns.
pub const SCHEDULE_SECS: [i64; 10] = [5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200, 86400];

/// Total attempts (the first one plus one per [`SCHEDULE_SECS`] entry) before a delivery is dead.
pub const MAX_ATTEMPTS: i32 = 11;

// Keeps the two constants from drifting apart when the schedule is edited.
const _: () = assert!(MAX_ATTEMPTS as usize == SCHEDULE_SECS.len() + 1);

/// Longest wait honoured from a receiver's `Retry-After`, so one header cannot park a
/// delivery past the rest of the schedule.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Returns the wait before the next attempt once `attempts_made` attempts have failed, or
/// `None` when the delivery should be given up as dead.
///
/// The scheduled delay is stretched by `1.0 + 0.25 * jitter`; callers pass a random
/// `jitter` in `[0, 1)` so endpoints that failed together do not retry in lockstep.
/// Out-of-range or non-finite jitter is clamped. Zero attempts means "send now".
pub fn next_delay(attempts_made: i32, jitter: f64) -> Option<Duration> {
    if attempts_made <= 0 {
        return Some(Duration::ZERO);
    }
    let index = usize::try_from(attempts_made - 1).ok()?;
    let secs = *SCHEDULE_SECS.get(index)?;
    let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
    Duration::try_from_secs_f64(secs as f64 * (1.0 + 0.25 * jitter)).ok()
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date, capped at [`MAX_RETRY_AFTER`].
///
/// Dates already in the past yield zero. Unparseable values yield `None` so the caller
/// falls back to the normal schedule.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "a very long time", which the cap handles.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// What a delivery's HTTP status means for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered; stop.
    Success,
    /// Failed; try again later. `after` carries a receiver-requested wait, if any.
    Retry {
        /// Wait requested by the receiver (e.g. from `Retry-After`), overriding the schedule.
        after: Option<Duration>,
    },
    /// The receiver says the endpoint no longer exists; stop and disable it.
    Gone,
}

/// Maps an HTTP status to an [`Outcome`].
///
/// Only 2xx counts as delivered. 3xx is a failure because redirects are not followed:
/// following them would let a receiver bounce us to an internal address after the SSRF
/// check. The returned `Retry` has no `after`; the caller fills it from `Retry-After`.
pub fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Success,
        410 => Outcome::Gone,
        _ => Outcome::Retry { after: None },
    }
}

/// Consecutive failures that open the breaker.
pub const BREAKER_THRESHOLD: u32 = 5;
/// First open period once the threshold is hit.
pub const BREAKER_INITIAL_COOLDOWN: Duration = Duration::from_secs(30);
/// Ceiling for the doubling open period.
pub const BREAKER_MAX_COOLDOWN: Duration = Duration::from_secs(600);

/// In-memory circuit breaker for one endpoint.
///
/// Closed: everything passes. After [`BREAKER_THRESHOLD`] consecutive failures it opens for
/// [`BREAKER_INITIAL_COOLDOWN`], refusing deliveries. Once that elapses it is half-open and
/// lets deliveries through; a failure then re-opens it for double the previous period (up to
/// [`BREAKER_MAX_COOLDOWN`]), and any success closes it.
#[derive(Clone, Debug)]
pub struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    cooldown: Duration,
    /// Multiplies the open periods (the dispatcher's retry scale).
    scale: f64,
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}

impl Breaker {
    /// Returns a closed breaker.
    pub fn new() -> Self {
        Self::with_scale(1.0)
    }

    /// Returns a closed breaker whose open periods are multiplied by `scale`.
    pub fn with_scale(scale: f64) -> Self {
        Self { consecutive_failures: 0, open_until: None, cooldown: BREAKER_INITIAL_COOLDOWN, scale: scale.max(0.0) }
    }

    /// Records the result of a delivery attempt that finished at `now`.
    pub fn record(&mut self, success: bool, now: Instant) {
        if success {
            *self = Self::with_scale(self.scale);
            return;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.open_until {
            None if self.consecutive_failures >= BREAKER_THRESHOLD => {
                self.cooldown = BREAKER_INITIAL_COOLDOWN;
                self.open_until = Some(now + self.cooldown.mul_f64(self.scale));
            }
            None => {}
            // Failures landing while open come from requests sent before it opened; they
            // say nothing new about the endpoint, so they must not extend the penalty.
            Some(until) if now < until => {}
            Some(_) => {
                self.cooldown = (self.cooldown * 2).min(BREAKER_MAX_COOLDOWN);
                self.open_until = Some(now + self.cooldown.mul_f64(self.scale));
            }
        }
    }

    /// Returns whether a delivery may be attempted at `now` (closed or half-open).
    pub fn allows(&self, now: Instant) -> bool {
        self.open_until.is_none_or(|until| now >= until)
    }

    /// Until when the breaker refuses deliveries, if it is open at `now`.
    pub fn open_until(&self, now: Instant) -> Option<Instant> {
        self.open_until.filter(|until| now < *until)
    }

    /// Whether it is half-open at `now`: its open period is over and no success has closed it.
    pub fn is_half_open(&self, now: Instant) -> bool {
        self.open_until.is_some_and(|until| now >= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn secs(d: Option<Duration>) -> Option<f64> {
        d.map(|d| d.as_secs_f64())
    }

    #[test]
    fn schedule_shape() {
        let total: i64 = SCHEDULE_SECS.iter().sum();
        assert_eq!(total, 168_155);
        assert!((46.0 * 3600.0..48.0 * 3600.0).contains(&(total as f64)));
        assert!(SCHEDULE_SECS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(MAX_ATTEMPTS, 11);
    }

    #[test]
    fn next_delay_follows_schedule_without_jitter() {
        assert_eq!(next_delay(0, 0.0), Some(Duration::ZERO));
        assert_eq!(next_delay(-3, 0.0), Some(Duration::ZERO));
        for (i, &s) in SCHEDULE_SECS.iter().enumerate() {
            let attempts = i32::try_from(i).unwrap() + 1;
            assert_eq!(next_delay(attempts, 0.0), Some(Duration::from_secs(s as u64)));
        }
        assert_eq!(next_delay(MAX_ATTEMPTS, 0.0), None);
        assert_eq!(next_delay(MAX_ATTEMPTS + 1, 0.0), None);
        assert_eq!(next_delay(i32::MAX, 0.5), None);
    }

    #[test]
    fn next_delay_applies_jitter() {
        assert_eq!(secs(next_delay(1, 0.5)), Some(5.625));
        assert_eq!(secs(next_delay(2, 0.2)), Some(31.5));
        assert_eq!(secs(next_delay(10, 0.999)), Some(86400.0 * 1.24975));
        // Out-of-range jitter is clamped rather than shrinking or exploding the delay.
        assert_eq!(secs(next_delay(1, -1.0)), Some(5.0));
        assert_eq!(secs(next_delay(1, 7.0)), Some(6.25));
        assert_eq!(secs(next_delay(1, f64::NAN)), Some(5.0));
        assert_eq!(secs(next_delay(1, f64::INFINITY)), Some(5.0));
    }

    #[test]
    fn retry_after_delta_seconds() {
        let now = Utc::now();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 0, 0).unwrap();
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(28 * 60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 06:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Thu, 22 Oct 2015 07:00:00 GMT", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now), None);
    }

    #[test]
    fn classify_statuses() {
        assert_eq!(classify(200), Outcome::Success);
        assert_eq!(classify(204), Outcome::Success);
        assert_eq!(classify(299), Outcome::Success);
        assert_eq!(classify(410), Outcome::Gone);
        for status in [100, 301, 302, 307, 400, 404, 429, 500, 503] {
            assert_eq!(classify(status), Outcome::Retry { after: None }, "{status}");
        }
    }

    #[test]
    fn breaker_opens_after_five_failures() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..4 {
            b.record(false, t0);
            assert!(b.allows(t0));
        }
        b.record(false, t0);
        assert!(!b.allows(t0));
        assert!(!b.allows(t0 + Duration::from_secs(29)));
        assert!(b.allows(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn success_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut b = Breaker::default();
        for _ in 0..4 {
            b.record(false, t0);
        }
        b.record(true, t0);
        for _ in 0..4 {
            b.record(false, t0);
        }
        assert!(b.allows(t0));
    }

    #[test]
    fn half_open_failures_double_cooldown_up_to_ten_minutes() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..5 {
            b.record(false, t0);
        }
        let mut now = t0 + Duration::from_secs(30);
        for expected in [60, 120, 240, 480, 600, 600] {
            assert!(b.allows(now), "half-open before {expected}");
            b.record(false, now);
            assert!(!b.allows(now + Duration::from_secs(expected - 1)));
            now += Duration::from_secs(expected);
            assert!(b.allows(now));
        }
    }

    #[test]
    fn failures_while_open_do_not_extend_it() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..5 {
            b.record(false, t0);
        }
        b.record(false, t0 + Duration::from_secs(10));
        assert!(b.allows(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn success_closes_and_resets_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new();
        for _ in 0..5 {
            b.record(false, t0);
        }
        let t1 = t0 + Duration::from_secs(30);
        b.record(false, t1);
        let t2 = t1 + Duration::from_secs(60);
        b.record(true, t2);
        assert!(b.allows(t2));
        for _ in 0..5 {
            b.record(false, t2);
        }
        assert!(!b.allows(t2 + Duration::from_secs(29)));
        assert!(b.allows(t2 + Duration::from_secs(30)));
    }
}
