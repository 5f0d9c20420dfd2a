//! The read-deadline worker: polls for due deadlines and fires them
//! ([`crate::domain::read_deadlines::fire_due`]). Several processes may run it: rows are claimed
//! with `SKIP LOCKED` and removed in the transaction that queues their event, so each deadline
//! fires once, and one left by a stopped process is fired by the next poll of any other.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::domain::read_deadlines;
use crate::settings::DeadlineSettings;
use crate::state::AppState;

pub use crate::retention::Handle;

/// Starts the worker on the current runtime; its first poll runs at once (deadlines that fell
/// due while no process ran fire at startup).
pub fn start(state: AppState, settings: DeadlineSettings) -> Handle {
    let (handle, s, w) = Handle::new();
    actix_web::rt::spawn(async move {
        let every = Duration::from_millis(settings.poll_ms.max(10));
        let batch = i64::from(settings.batch.max(1));
        while !s.load(Ordering::SeqCst) {
            // A full batch means more may be due: poll again at once.
            match state.tx(move |c| read_deadlines::fire_due(c, batch)).await {
                Ok(f) if f.claimed as i64 >= batch => continue,
                Ok(f) if f.claimed > 0 => {
                    tracing::debug!(claimed = f.claimed, events = f.events, "read deadlines fired")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "firing read deadlines failed; retrying next poll"),
            }
            let _ = tokio::time::timeout(every, w.notified()).await;
        }
    });
    handle
}
