//! Wake-ups for open event streams: one LISTEN connection per process receives the users named
//! by each committed batch of notifications (from any process) and wakes only their streams,
//! so an idle stream costs no database query at all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use tokio::sync::Notify;

/// The NOTIFY channel of the `user_events_notify` trigger.
pub const CHANNEL: &str = "imreceipts_user_events";

/// Wakes the streams of `users` (in every process) for notifications that have committed:
/// the hot receipt writes send their NOTIFY after their commit, in a transaction of its own
/// without writes, instead of holding PostgreSQL's global notify lock through their commit.
/// A failure only delays those streams until their next wake, so it is logged; the result
/// says whether the NOTIFY went out.
pub fn wake_after_commit(conn: &mut PgConnection, users: &[String]) -> bool {
    if users.is_empty() {
        return true;
    }
    let list = users.join("\n");
    // The same limit as the trigger's: longer payloads wake every stream.
    let payload = if list.len() > 7000 { "*".to_string() } else { list };
    let sent = crate::db::cached("SELECT pg_notify($1, $2) IS NULL AS sent")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Text, _>(&payload)
        .execute(conn);
    if let Err(e) = &sent {
        tracing::warn!(error = %e, "waking event streams after a receipt write failed");
    }
    sent.is_ok()
}

/// Open streams by user.
#[derive(Default)]
pub struct Hub {
    streams: Mutex<HashMap<String, Vec<Weak<Notify>>>>,
    /// Streams registered right now (for /metrics and tests).
    open: AtomicU64,
    /// The queue of [`spawn_notifier`]'s thread, once it runs.
    notifier: OnceLock<mpsc::Sender<Vec<String>>>,
}

/// A stream's registration; dropping it (the client went away) unregisters.
pub struct Subscription {
    hub: Arc<Hub>,
    user: String,
    notify: Arc<Notify>,
}

impl Subscription {
    /// Resolves at the next wake-up for this user (or immediately if one came since the last).
    pub async fn woken(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::Relaxed);
        let mut streams = self.hub.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = streams.get_mut(&self.user) {
            list.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.notify)));
            if list.is_empty() {
                streams.remove(&self.user);
            }
        }
    }
}

impl Hub {
    /// Registers a stream of `user`.
    pub fn subscribe(self: &Arc<Self>, user: &str) -> Subscription {
        let notify = Arc::new(Notify::new());
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(user.to_string())
            .or_default()
            .push(Arc::downgrade(&notify));
        self.open.fetch_add(1, Ordering::Relaxed);
        Subscription { hub: self.clone(), user: user.to_string(), notify }
    }

    /// Wakes every stream of `user`. `notify_one` keeps a permit for a stream that is busy
    /// sending, so a wake-up during a query is never lost.
    pub fn wake(&self, user: &str) {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        for n in streams.get(user).into_iter().flatten().filter_map(Weak::upgrade) {
            n.notify_one();
        }
    }

    /// Wakes every stream (after the listener reconnected and may have missed notifications).
    pub fn wake_all(&self) {
        let streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        for n in streams.values().flatten().filter_map(Weak::upgrade) {
            n.notify_one();
        }
    }

    /// Wakes the streams of `users` (in every process) for writes that have committed, through
    /// the notifier thread when it runs (the caller goes on at once), else on `conn`.
    pub fn wake_after_commit(&self, conn: &mut PgConnection, users: Vec<String>) {
        if users.is_empty() {
            return;
        }
        let users = match self.notifier.get() {
            Some(tx) => match tx.send(users) {
                Ok(()) => return,
                Err(mpsc::SendError(users)) => users,
            },
            None => users,
        };
        wake_after_commit(conn, &users);
    }

    /// How many streams are open in this process.
    pub fn open_streams(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Applies one notification payload: users separated by newlines, or `*` for everyone.
    fn deliver(&self, payload: &str) {
        if payload == "*" {
            self.wake_all();
        } else {
            payload.split('\n').for_each(|u| self.wake(u));
        }
    }
}

/// Sends the receipt writers' post-commit wake-ups from a connection of its own until `stop`:
/// a writer hands its list over and takes its next batch at once (the NOTIFY round trip was
/// an eighth of a batch's time), and lists queued meanwhile go out as one NOTIFY.
pub fn spawn_notifier(url: String, hub: Arc<Hub>, stop: Arc<AtomicBool>) {
    let (tx, rx) = mpsc::channel::<Vec<String>>();
    if hub.notifier.set(tx).is_err() {
        return;
    }
    std::thread::spawn(move || {
        let mut conn: Option<PgConnection> = None;
        while !stop.load(Ordering::SeqCst) {
            let Ok(first) = rx.recv_timeout(Duration::from_millis(500)) else { continue };
            let mut users: std::collections::BTreeSet<String> = first.into_iter().collect();
            while let Ok(more) = rx.try_recv() {
                users.extend(more);
            }
            if conn.is_none() {
                conn = PgConnection::establish(&url)
                    .map_err(|e| tracing::warn!(error = %e, "the stream notifier cannot connect"))
                    .ok();
            }
            let Some(c) = conn.as_mut() else {
                // The streams catch up at their next wake-up; a later batch retries the connection.
                continue;
            };
            let users: Vec<String> = users.into_iter().collect();
            if !wake_after_commit(c, &users) {
                conn = None;
            }
        }
    });
}

/// LISTENs in a thread of its own until `stop`, reconnecting after failures.
pub fn spawn_listener(url: String, hub: Arc<Hub>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let mut conn = match PgConnection::establish(&url) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "stream listener cannot connect; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            if let Err(e) = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn) {
                tracing::warn!(error = %e, "stream LISTEN failed; retrying");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            // Anything committed while we were not listening is found by one query per stream.
            hub.wake_all();
            'poll: while !stop.load(Ordering::SeqCst) {
                for n in conn.notifications_iter() {
                    match n {
                        Ok(n) => hub.deliver(&n.payload),
                        Err(e) => {
                            tracing::warn!(error = %e, "stream listener lost its connection");
                            break 'poll;
                        }
                    }
                }
                // diesel offers no blocking wait on libpq's socket; 5 ms keeps latency low at
                // negligible cost (no query is sent).
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_only_the_named_users_streams_and_forgets_dropped_ones() {
        let hub = Arc::new(Hub::default());
        let alice = hub.subscribe("alice");
        let bob = hub.subscribe("bob");
        hub.deliver("alice\ncarol");
        tokio::time::timeout(Duration::from_millis(100), alice.woken()).await.expect("alice woken");
        assert!(tokio::time::timeout(Duration::from_millis(50), bob.woken()).await.is_err(), "bob not woken");
        assert_eq!(hub.open_streams(), 2);
        drop(bob);
        assert_eq!(hub.open_streams(), 1);
        assert!(!hub.streams.lock().unwrap().contains_key("bob"));
        hub.deliver("*");
        tokio::time::timeout(Duration::from_millis(100), alice.woken()).await.expect("alice woken by *");
    }
}
