//! The last hour of this process's activity, one sample per minute, for the overview charts:
//! receipt calls answered OK, webhook attempts by outcome, and the webhook queue depth.
//!
//! Counters are bumped as things happen (so the current minute is live); the queue depth is
//! sampled from the database by [`start_sampler`]. Kept in memory per process: it is a view of
//! this instance, like `/metrics`, and costs nothing to lose on restart.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::state::AppState;

/// Minutes kept.
pub const MINUTES: usize = 60;
/// Webhook attempt outcomes, in chart order (as `Metrics::observe_webhook` names them).
pub const OUTCOMES: [&str; 5] = ["success", "retry", "dead", "gone", "blocked"];
/// How often the queue depth is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// Commands that record receipts (the "receipts per second" chart).
const RECEIPT_COMMANDS: [&str; 5] = [
    "openim/admin_set_msg_read",
    "openim/c2c_msg_read_receipt",
    "group_open_http_svc/group_msg_receipt",
    "receipt_svc/msg_delivered",
    "receipt_svc/group_msg_read_report",
];

/// Whether `command` (as `service/command`) records receipts.
pub fn is_receipt_command(command: &str) -> bool {
    RECEIPT_COMMANDS.contains(&command)
}

/// One minute of activity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minute {
    /// Unix time of the minute's start, in minutes.
    pub minute: i64,
    /// Receipt calls answered OK.
    pub receipts: u64,
    /// Webhook attempts by outcome, in [`OUTCOMES`] order.
    pub webhooks: [u64; OUTCOMES.len()],
    /// The last sampled queue depth in that minute, if one was taken.
    pub queue: Option<i64>,
}

/// The ring of minutes.
#[derive(Debug, Default)]
pub struct History {
    minutes: Mutex<VecDeque<Minute>>,
}

fn now_minute() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(60)
}

impl History {
    fn with_current<F: FnOnce(&mut Minute)>(&self, at: i64, f: F) {
        let Ok(mut m) = self.minutes.lock() else { return };
        if m.back().is_none_or(|b| b.minute < at) {
            m.push_back(Minute { minute: at, ..Minute::default() });
            while m.len() > MINUTES {
                m.pop_front();
            }
        }
        // A clock stepping back lands in the newest minute rather than reordering the ring.
        if let Some(b) = m.back_mut() {
            f(b);
        }
    }

    /// Counts one receipt call answered OK.
    pub fn count_receipt(&self) {
        self.with_current(now_minute(), |m| m.receipts += 1);
    }

    /// Counts one webhook attempt with `outcome`.
    pub fn count_webhook(&self, outcome: &str) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.with_current(now_minute(), |m| m.webhooks[i] += 1);
        }
    }

    /// Records the queue depth now.
    pub fn sample_queue(&self, depth: i64) {
        self.with_current(now_minute(), |m| m.queue = Some(depth));
    }

    /// The last [`MINUTES`] minutes ending with the current one, oldest first; minutes without
    /// activity are zeros (queue depth unknown).
    pub fn last_hour(&self) -> Vec<Minute> {
        self.last_hour_at(now_minute())
    }

    fn last_hour_at(&self, now: i64) -> Vec<Minute> {
        let kept: Vec<Minute> = self.minutes.lock().map(|m| m.iter().cloned().collect()).unwrap_or_default();
        (now - MINUTES as i64 + 1..=now)
            .map(|minute| {
                kept.iter().find(|m| m.minute == minute).cloned().unwrap_or(Minute { minute, ..Minute::default() })
            })
            .collect()
    }
}

/// Samples the webhook queue depth every few seconds until `stop` is set.
pub fn start_sampler(state: AppState, stop: Arc<AtomicBool>) {
    actix_web::rt::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            match state.db(crate::webhooks::deliveries::queue_depth).await {
                Ok(n) => state.metrics.history.sample_queue(n),
                // The database being away shows as a gap in the chart; the outage is logged elsewhere.
                Err(e) => tracing::debug!(error = %e, "console: sampling the webhook queue"),
            }
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_roll_and_gaps_are_zero() {
        let h = History::default();
        h.with_current(100, |m| m.receipts += 2);
        h.with_current(100, |m| m.webhooks[0] += 1);
        h.with_current(102, |m| m.queue = Some(7));
        let hour = h.last_hour_at(102);
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour.last().map(|m| (m.minute, m.queue)), Some((102, Some(7))));
        assert_eq!(hour[MINUTES - 2], Minute { minute: 101, ..Minute::default() });
        assert_eq!(hour[MINUTES - 3].receipts, 2);
        assert_eq!(hour[MINUTES - 3].webhooks[0], 1);
        // An hour later the old minutes are gone.
        for t in 103..103 + MINUTES as i64 {
            h.with_current(t, |m| m.receipts += 1);
        }
        assert!(h.last_hour_at(102 + MINUTES as i64).iter().all(|m| m.receipts == 1));
    }

    #[test]
    fn receipt_commands_are_recognised() {
        assert!(is_receipt_command("group_open_http_svc/group_msg_receipt"));
        assert!(!is_receipt_command("openim/sendmsg"));
    }
}
