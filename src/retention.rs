//! The retention worker: deletes data past its keep period in small batches, so storage stays
//! bounded without long locks. Every statement runs on its own and skips rows another process
//! holds (`SKIP LOCKED`), so several processes may run it and receipt writes never wait on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::PgConnection;

use crate::error::ApiResult;
use crate::settings::RetentionSettings;
use crate::state::AppState;

/// Batches one family may run per round before the others get their turn.
const BATCHES_PER_ROUND: usize = 50;
/// The `retention_state` family of the live-notification feed.
pub const NOTIFICATIONS: &str = "user_events";

/// Stops a running background worker (this one or [`crate::deadlines`]).
pub struct Handle {
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
}

impl Handle {
    /// A handle, and the stop flag and wake-up the worker's loop watches.
    pub fn new() -> (Handle, Arc<AtomicBool>, Arc<tokio::sync::Notify>) {
        let (stop, wake) = (Arc::new(AtomicBool::new(false)), Arc::new(tokio::sync::Notify::new()));
        (Handle { stop: stop.clone(), wake: wake.clone() }, stop, wake)
    }

    /// Asks the worker to stop after its current batch.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// Starts the worker on the current runtime.
pub fn start(state: AppState) -> Handle {
    let (handle, s, w) = Handle::new();
    actix_web::rt::spawn(async move {
        let every = Duration::from_secs(state.retention.interval_secs.max(1));
        while !s.load(Ordering::SeqCst) {
            if let Err(e) = run_round(&state, &s).await {
                tracing::warn!(error = %e, "retention round failed; retrying next round");
            }
            let _ = tokio::time::timeout(every, w.notified()).await;
        }
    });
    handle
}

/// One round: each family deletes batches until it is caught up (or has had its share).
pub async fn run_round(state: &AppState, stop: &AtomicBool) -> ApiResult<()> {
    let r = state.retention.clone();
    type Step = fn(&mut PgConnection, &RetentionSettings) -> ApiResult<Vec<(&'static str, u64)>>;
    let steps: [Step; 4] = [purge_notifications, purge_webhooks, purge_feed, purge_messages];
    for step in steps {
        for _ in 0..BATCHES_PER_ROUND {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let cfg = r.clone();
            let removed = state.db(move |c| step(c, &cfg)).await?;
            let mut total = 0;
            for (table, n) in removed {
                state.metrics.observe_retention(table, n);
                total += n;
            }
            if total < u64::from(r.batch.max(1)) {
                break;
            }
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Deleted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deletes one batch of notifications older than the catch-up window and moves the
/// family's watermark (the largest id deleted) so late resumes can be told.
pub fn purge_notifications(conn: &mut PgConnection, r: &RetentionSettings) -> ApiResult<Vec<(&'static str, u64)>> {
    if r.notification_hours == 0 {
        return Ok(vec![]);
    }
    let row: Deleted = crate::db::cached(
        "WITH gone AS (
           DELETE FROM user_events WHERE id IN (
             SELECT id FROM user_events WHERE created_at < now() - make_interval(hours => $1::int)
              ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING id),
         total AS (SELECT count(*) AS n, coalesce(max(id), 0) AS max_id FROM gone),
         mark AS (
           INSERT INTO retention_state (family, purged_through, rows_removed)
           SELECT $3, max_id, n FROM total WHERE n > 0
           ON CONFLICT (family) DO UPDATE
             SET purged_through = greatest(retention_state.purged_through, EXCLUDED.purged_through),
                 rows_removed = retention_state.rows_removed + EXCLUDED.rows_removed, updated_at = now())
         SELECT n FROM total",
    )
    .bind::<BigInt, _>(i64::from(r.notification_hours))
    .bind::<BigInt, _>(i64::from(r.batch.max(1)))
    .bind::<Text, _>(NOTIFICATIONS)
    .get_result(conn)?;
    Ok(vec![("user_events", row.n as u64)])
}

/// The largest notification id deleted so far (0 when none was).
pub fn notifications_purged_through(conn: &mut PgConnection) -> ApiResult<i64> {
    use crate::db::schema::retention_state::dsl::*;
    Ok(retention_state.find(NOTIFICATIONS).select(purged_through).first(conn).optional()?.unwrap_or(0))
}

/// Deletes one batch of finished webhook deliveries past their keep period, with their
/// attempts and the events nothing refers to any more.
pub fn purge_webhooks(conn: &mut PgConnection, r: &RetentionSettings) -> ApiResult<Vec<(&'static str, u64)>> {
    if r.webhook_days == 0 {
        return Ok(vec![]);
    }
    let keep = chrono::Duration::days(i64::from(r.webhook_days));
    let c = crate::webhooks::deliveries::purge_finished(conn, keep, i64::from(r.batch.max(1)))?;
    Ok(vec![("webhook_deliveries", c.deliveries), ("webhook_attempts", c.attempts), ("webhook_events", c.events)])
}

/// Takes one batch of events past `EventFeedRetentionSeconds` out of the pull feed.
pub fn purge_feed(conn: &mut PgConnection, r: &RetentionSettings) -> ApiResult<Vec<(&'static str, u64)>> {
    let n = crate::domain::feed::purge(conn, i64::from(r.batch.max(1)))?;
    Ok(vec![("webhook_events_feed", n)])
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deletes one batch of messages older than the message retention: C2C messages, and group
/// messages with their receipts (receipts first, a batch at a time, so a message read by
/// 10,000 members never becomes one huge cascading delete).
pub fn purge_messages(conn: &mut PgConnection, r: &RetentionSettings) -> ApiResult<Vec<(&'static str, u64)>> {
    if r.message_days == 0 {
        return Ok(vec![]);
    }
    let cutoff = chrono::Utc::now().timestamp() - i64::from(r.message_days) * 86_400;
    let batch = i64::from(r.batch.max(1));
    let c2c: N = crate::db::cached(
        "WITH gone AS (
           DELETE FROM c2c_messages WHERE id IN (
             SELECT id FROM c2c_messages WHERE msg_time < $1 ORDER BY msg_time LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*) AS n FROM gone",
    )
    .bind::<BigInt, _>(cutoff)
    .bind::<BigInt, _>(batch)
    .get_result(conn)?;
    let receipts: N = crate::db::cached(
        "WITH old AS (
           SELECT group_id, msg_seq FROM group_messages WHERE msg_time < $1 ORDER BY msg_time LIMIT 20),
         gone AS (
           DELETE FROM group_receipts WHERE ctid IN (
             SELECT r.ctid FROM group_receipts r JOIN old USING (group_id, msg_seq) LIMIT $2)
           RETURNING 1)
         SELECT count(*) AS n FROM gone",
    )
    .bind::<BigInt, _>(cutoff)
    .bind::<BigInt, _>(batch)
    .get_result(conn)?;
    let mut group = N { n: 0 };
    if receipts.n < batch {
        // Messages whose receipts are gone (a concurrent late receipt would be cascaded, and
        // one on a message this old is refused by the read path anyway).
        group = crate::db::cached(
            "WITH gone AS (
               DELETE FROM group_messages WHERE (group_id, msg_seq) IN (
                 SELECT group_id, msg_seq FROM group_messages m WHERE msg_time < $1
                    AND NOT EXISTS (SELECT 1 FROM group_receipts r WHERE r.group_id = m.group_id AND r.msg_seq = m.msg_seq)
                  ORDER BY msg_time LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING 1)
             SELECT count(*) AS n FROM gone",
        )
        .bind::<BigInt, _>(cutoff)
        .bind::<BigInt, _>(batch)
        .get_result(conn)?;
    }
    Ok(vec![("c2c_messages", c2c.n as u64), ("group_receipts", receipts.n as u64), ("group_messages", group.n as u64)])
}

/// Size on disk (bytes, indexes included) and estimated rows of the tables that grow.
pub fn table_sizes(conn: &mut PgConnection) -> ApiResult<Vec<(String, i64, i64)>> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        bytes: i64,
        #[diesel(sql_type = BigInt)]
        rows: i64,
    }
    let rows: Vec<Size> = crate::db::cached(
        // A regular table stands for itself; a partitioned one (group_receipts) for its leaf
        // partitions (pg_partition_tree lists nothing for a regular table).
        "SELECT c.relname::text AS name, sum(pg_total_relation_size(p.oid))::bigint AS bytes,
                sum(greatest(p.reltuples, 0))::bigint AS rows
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          CROSS JOIN LATERAL (SELECT c.oid, c.reltuples WHERE c.relkind = 'r'
                              UNION ALL
                              SELECT l.oid, l.reltuples FROM pg_partition_tree(c.oid) t
                                JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf) p
          WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND c.relname IN ('user_events', 'webhook_events', 'webhook_deliveries', 'webhook_attempts',
                              'c2c_messages', 'group_messages', 'group_receipts', 'group_members')
          GROUP BY c.relname
          ORDER BY 1",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|s| (s.name, s.bytes, s.rows)).collect())
}
