//! Write coalescing (group commit): concurrent receipt calls share one statement and one
//! commit.
//!
//! A call is queued and answered only after the statement that wrote it committed. At most
//! `writers` batches are written at once; calls that arrive while they run wait in the queue
//! and form the next batch (up to `max_calls`), so an idle server adds no delay and a busy
//! one writes many calls per commit. A further writer starts only when `spill_items` receipts
//! wait: every writer halves the others' batches, which costs more per receipt than it gains
//! until there is enough queued work to keep two database backends busy. Each call keeps its
//! own outcome; when a batch fails as a whole (a database error), its calls are written again
//! one by one, so a bad call fails alone.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use diesel::PgConnection;
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};
use crate::live::Hub;
use crate::state::AppState;

/// A kind of call that can be written many at a time.
pub trait Batch: Send + Sync + 'static {
    /// One call's input.
    type Call: Send + 'static;
    /// One call's outcome.
    type Out: Send + 'static;
    /// Label in /metrics.
    fn family(&self) -> &'static str;
    /// How many receipts `call` writes (its weight in the queue).
    fn items(call: &Self::Call) -> usize;
    /// Writes `calls` in one statement (committed when it returns): one outcome per call, or
    /// `Err` when nothing was written.
    fn write(&self, conn: &mut PgConnection, calls: &[Self::Call]) -> ApiResult<Written<Self::Out>>;
}

/// What a committed batch did.
pub struct Written<T> {
    /// One outcome per call, in the calls' order.
    pub outcomes: Vec<ApiResult<T>>,
    /// The users whose open event streams the write concerns (woken once it is answered).
    pub wake: Vec<String>,
}

/// Coalescing settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Batches written at once (each holds one pooled connection while it runs).
    pub writers: usize,
    /// Most calls in one batch.
    pub max_calls: usize,
    /// Receipts that must be waiting before a writer starts beside a running one.
    pub spill_items: usize,
}

struct Job<B: Batch> {
    call: B::Call,
    items: usize,
    reply: oneshot::Sender<ApiResult<B::Out>>,
}

struct Queue<B: Batch> {
    jobs: VecDeque<Job<B>>,
    /// The receipts of `jobs`.
    items: usize,
}

/// Most receipts in one batch (more than one call's worth only when several calls fit): about
/// 11 ms of statement, so one batch never holds its calls, or the other writers' locks, long.
const BATCH_ITEMS: usize = 480;

impl<B: Batch> Queue<B> {
    /// The next batch: at most `calls` calls and, past the first, [`BATCH_ITEMS`] receipts.
    fn take(&mut self, calls: usize) -> Vec<Job<B>> {
        let mut jobs = Vec::new();
        let mut items = 0;
        while jobs.len() < calls {
            match self.jobs.front() {
                Some(j) if jobs.is_empty() || items + j.items <= BATCH_ITEMS => {
                    items += j.items;
                    jobs.extend(self.jobs.pop_front());
                }
                _ => break,
            }
        }
        self.items -= items;
        jobs
    }

    /// Everything queued.
    fn take_all(&mut self) -> Vec<Job<B>> {
        self.items = 0;
        self.jobs.drain(..).collect()
    }
}

/// The queue of one kind of call and its writers.
pub struct Coalescer<B: Batch> {
    batch: B,
    limits: Limits,
    queue: Mutex<Queue<B>>,
    writers: AtomicUsize,
}

impl<B: Batch> Coalescer<B> {
    /// A coalescer writing with `batch`.
    pub fn new(batch: B, limits: Limits) -> Arc<Self> {
        let limits = Limits { writers: limits.writers.max(1), max_calls: limits.max_calls.max(1), ..limits };
        let queue = Mutex::new(Queue { jobs: VecDeque::new(), items: 0 });
        Arc::new(Coalescer { batch, limits, queue, writers: AtomicUsize::new(0) })
    }

    /// Writes `call` (with whatever else is queued) and answers once it is committed.
    pub async fn submit(self: &Arc<Self>, state: &AppState, call: B::Call) -> ApiResult<B::Out> {
        if self.limits.max_calls == 1 {
            // Coalescing is off: every call is its own statement on its own connection.
            let me = self.clone();
            let hub = state.live.clone();
            return state
                .db(move |conn| {
                    let written = me.batch.write(conn, std::slice::from_ref(&call))?;
                    hub.wake_after_commit(conn, written.wake);
                    written.outcomes.into_iter().next().unwrap_or_else(|| Err(missing()))
                })
                .await;
        }
        let (reply, answer) = oneshot::channel();
        let items = B::items(&call);
        let waiting = {
            let mut q = self.lock_queue();
            q.jobs.push_back(Job { call, items, reply });
            q.items += items;
            q.items
        };
        if self.writers.load(Ordering::SeqCst) == 0 || waiting >= self.limits.spill_items {
            self.clone().start_writer(state.clone());
        }
        answer.await.map_err(|_| ApiError::Internal(anyhow::anyhow!("the receipt writer stopped before answering")))?
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue<B>> {
        // A panic while holding the lock leaves the queue itself intact.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a writer unless enough are running; a running writer picks up what is queued.
    fn start_writer(self: Arc<Self>, state: AppState) {
        if self.writers.fetch_add(1, Ordering::SeqCst) >= self.limits.writers {
            self.writers.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        tokio::spawn(async move {
            loop {
                let me = self.clone();
                let metrics = state.metrics.clone();
                let hub = state.live.clone();
                if let Err(e) = state.db(move |conn| me.drain(conn, &metrics, &hub)).await {
                    // No connection (or it broke): what is queued now cannot be written.
                    for job in self.lock_queue().take_all() {
                        let _ = job.reply.send(Err(e.replicate()));
                    }
                }
                self.writers.fetch_sub(1, Ordering::SeqCst);
                // A call queued after the last batch was taken may have found every writer
                // busy, so its submitter started none: this writer goes on if there is room.
                if self.lock_queue().jobs.is_empty() {
                    return;
                }
                if self.writers.fetch_add(1, Ordering::SeqCst) >= self.limits.writers {
                    self.writers.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            }
        });
    }

    /// Writes batches until the queue is empty. `Err` when the connection failed (the batch
    /// in hand has been answered).
    fn drain(&self, conn: &mut PgConnection, metrics: &crate::metrics::Metrics, hub: &Hub) -> ApiResult<()> {
        loop {
            let jobs = self.lock_queue().take(self.limits.max_calls);
            if jobs.is_empty() {
                return Ok(());
            }
            metrics.observe_write_batch(self.batch.family(), jobs.len());
            let (calls, replies): (Vec<B::Call>, Vec<_>) = jobs.into_iter().map(|j| (j.call, j.reply)).unzip();
            match self.batch.write(conn, &calls) {
                Ok(written) => {
                    answer(replies, written.outcomes);
                    hub.wake_after_commit(conn, written.wake);
                }
                Err(e) if e.is_db_unavailable() => {
                    for r in replies {
                        let _ = r.send(Err(e.replicate()));
                    }
                    return Err(e);
                }
                Err(e) if replies.len() == 1 => {
                    answer(replies, vec![Err(e)]);
                }
                Err(_) => {
                    // One call broke the statement: each call alone, so only it fails.
                    metrics.observe_write_split(self.batch.family());
                    for (call, reply) in calls.into_iter().zip(replies) {
                        let (out, wake) = match self.batch.write(conn, std::slice::from_ref(&call)) {
                            Ok(w) => (w.outcomes.into_iter().next().unwrap_or_else(|| Err(missing())), w.wake),
                            Err(e) => (Err(e.classified()), Vec::new()),
                        };
                        let _ = reply.send(out);
                        hub.wake_after_commit(conn, wake);
                    }
                }
            }
        }
    }
}

fn answer<T>(replies: Vec<oneshot::Sender<ApiResult<T>>>, outs: Vec<ApiResult<T>>) {
    let mut outs = outs.into_iter();
    for r in replies {
        // A receiver that went away (the client hung up) does not matter: the call is written.
        let _ = r.send(outs.next().unwrap_or_else(|| Err(missing())));
    }
}

fn missing() -> ApiError {
    ApiError::Internal(anyhow::anyhow!("the batch write answered fewer calls than it was given"))
}

/// The coalescers of the receipt writes.
pub struct Writers {
    /// Group read receipts (`group_msg_receipt`).
    pub group_read: Arc<Coalescer<crate::domain::group_acks::Writer>>,
    /// Group delivery acks.
    pub group_delivered: Arc<Coalescer<crate::domain::group_acks::Writer>>,
    /// C2C read receipts.
    pub c2c_read: Arc<Coalescer<crate::domain::c2c_acks::Writer>>,
    /// C2C delivery acks.
    pub c2c_delivered: Arc<Coalescer<crate::domain::c2c_acks::Writer>>,
}

impl Writers {
    /// One coalescer per receipt write, each with `limits`.
    pub fn new(limits: Limits) -> Writers {
        use crate::domain::c2c::Ack;
        use crate::domain::group_acks::Kind;
        Writers {
            group_read: Coalescer::new(crate::domain::group_acks::Writer(Kind::Read), limits),
            group_delivered: Coalescer::new(crate::domain::group_acks::Writer(Kind::Delivered), limits),
            c2c_read: Coalescer::new(crate::domain::c2c_acks::Writer(Ack::Read), limits),
            c2c_delivered: Coalescer::new(crate::domain::c2c_acks::Writer(Ack::Delivered), limits),
        }
    }

    /// The C2C coalescer for `ack`.
    pub fn c2c(&self, ack: crate::domain::c2c::Ack) -> &Arc<Coalescer<crate::domain::c2c_acks::Writer>> {
        match ack {
            crate::domain::c2c::Ack::Read => &self.c2c_read,
            crate::domain::c2c::Ack::Delivered => &self.c2c_delivered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls that are just their receipt count.
    struct Sized;

    impl Batch for Sized {
        type Call = usize;
        type Out = ();
        fn family(&self) -> &'static str {
            "test"
        }
        fn items(call: &usize) -> usize {
            *call
        }
        fn write(&self, _: &mut PgConnection, calls: &[usize]) -> ApiResult<Written<()>> {
            Ok(Written { outcomes: calls.iter().map(|_| Ok(())).collect(), wake: Vec::new() })
        }
    }

    fn queue(calls: &[usize]) -> Queue<Sized> {
        let jobs = calls.iter().map(|&n| Job { call: n, items: n, reply: oneshot::channel().0 }).collect();
        Queue { jobs, items: calls.iter().sum() }
    }

    #[test]
    fn batches_stop_at_the_call_and_receipt_limits_and_keep_the_count() {
        let mut q = queue(&[30; 20]);
        let first = q.take(64);
        assert_eq!(first.len(), BATCH_ITEMS / 30, "480 receipts: 16 calls of 30");
        assert_eq!(q.items, 4 * 30);
        assert_eq!(q.take(2).len(), 2, "the call limit");
        assert_eq!(q.items, 2 * 30);

        // A call larger than the receipt limit still goes, alone.
        let mut q = queue(&[1000, 1, 1]);
        assert_eq!(q.take(64).iter().map(|j| j.call).collect::<Vec<_>>(), [1000]);
        assert_eq!(q.take(64).iter().map(|j| j.call).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(q.items, 0);
        assert!(q.take(64).is_empty());

        let mut q = queue(&[5, 7]);
        assert_eq!(q.take_all().len(), 2);
        assert_eq!((q.jobs.len(), q.items), (0, 0));
    }
}
