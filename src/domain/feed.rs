//! The pull feed of receipt events (`receipt_svc/get_receipt_events`): the webhook events kept
//! in commit order for integrators that cannot receive webhooks.
//!
//! Events carry the id of the transaction that wrote them, and a page only reaches up to the
//! oldest transaction still running: an event whose transaction commits late has a smaller
//! txid than its neighbours and would be skipped by a cursor already past them otherwise.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel::PgConnection;
use serde_json::Value;

use super::notifications::Position;
use crate::error::{ApiError, ApiResult};

/// Most events answered by one page.
pub const MAX_PAGE: i64 = 1000;

/// One feed event.
#[derive(Debug, Clone, QueryableByName)]
pub struct FeedEvent {
    #[diesel(sql_type = BigInt)]
    pub txid: i64,
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// The webhook's `webhook-id`.
    #[diesel(sql_type = Text)]
    pub public_id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    /// The webhook body, as JSON text.
    #[diesel(sql_type = Text)]
    pub body: String,
}

impl FeedEvent {
    /// The cursor just after this event.
    pub fn position(&self) -> Position {
        Position { txid: self.txid, id: self.id }
    }

    /// The body as JSON (the same bytes a webhook receiver gets).
    pub fn payload(&self) -> ApiResult<Value> {
        Ok(serde_json::from_str(&self.body)?)
    }
}

/// One page of the feed.
#[derive(Debug, Clone)]
pub struct Page {
    pub events: Vec<FeedEvent>,
    /// Where the next page starts (the cursor given when the page is empty).
    pub next: Position,
}

/// The feed's events after `after`, at most `limit`, optionally only of `types`. Fails with
/// 19004 when the feed is off and 19003 when retention has deleted events after `after`.
pub fn page(conn: &mut PgConnection, after: Position, limit: i64, types: Option<&[String]>) -> ApiResult<Page> {
    #[derive(QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        on: bool,
        #[diesel(sql_type = BigInt)]
        purged_txid: i64,
        #[diesel(sql_type = BigInt)]
        purged_id: i64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        secs: i32,
    }
    let st: State = crate::db::cached(
        "SELECT c.event_feed AS on, s.purged_txid, s.purged_id, c.event_feed_retention_secs AS secs
           FROM receipt_config c, receipt_feed_state s LIMIT 1",
    )
    .get_result(conn)?;
    if !st.on {
        return Err(ApiError::FeedDisabled(
            "the receipt event feed is off; switch it on with receipt_svc/set_receipt_config {\"EventFeed\":1} \
             (events are kept from then on)"
                .into(),
        ));
    }
    let purged = Position { txid: st.purged_txid, id: st.purged_id };
    if after != Position::default() && after < purged {
        return Err(ApiError::ResumeExpired(format!(
            "Cursor {after} is older than the feed's retention (EventFeedRetentionSeconds {}): events after it \
             were deleted; start again with an empty Cursor",
            st.secs
        )));
    }
    let events: Vec<FeedEvent> = crate::db::cached(
        "SELECT e.feed_txid AS txid, e.id, e.public_id, e.event_type, convert_from(e.body, 'UTF8') AS body
           FROM webhook_events e
          WHERE e.feed_txid IS NOT NULL AND (e.feed_txid, e.id) > ($1, $2)
            AND e.feed_txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
            AND ($4::text[] IS NULL OR e.event_type = ANY($4))
          ORDER BY e.feed_txid, e.id LIMIT $3",
    )
    .bind::<BigInt, _>(after.txid)
    .bind::<BigInt, _>(after.id)
    .bind::<BigInt, _>(limit)
    .bind::<Nullable<Array<Text>>, _>(types)
    .load(conn)?;
    let next = events.last().map_or(after, FeedEvent::position);
    Ok(Page { events, next })
}

/// Takes one batch of feed events past the retention out of the feed (deleting those no
/// delivery refers to) and moves the watermark that tells a cursor it lost events. Returns how
/// many left the feed.
pub fn purge(conn: &mut PgConnection, batch: i64) -> ApiResult<u64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: N = crate::db::cached(
        "WITH doomed AS (
           SELECT e.id, e.feed_txid FROM webhook_events e
            WHERE e.feed_txid IS NOT NULL
              AND e.created_at < now() - make_interval(secs => (SELECT event_feed_retention_secs FROM receipt_config LIMIT 1))
            ORDER BY e.created_at LIMIT $1 FOR UPDATE SKIP LOCKED),
         -- No delivery is ever added to an existing event: one without any now stays so.
         gone AS (
           DELETE FROM webhook_events e WHERE e.id IN (SELECT id FROM doomed)
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) RETURNING 1),
         -- Still owed to an endpoint: leaves the feed only; the webhook purge deletes it later.
         unfed AS (
           UPDATE webhook_events e SET feed_txid = NULL WHERE e.id IN (SELECT id FROM doomed)
              AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) RETURNING 1),
         last AS (SELECT feed_txid, id FROM doomed ORDER BY feed_txid DESC, id DESC LIMIT 1),
         mark AS (
           UPDATE receipt_feed_state s SET purged_txid = l.feed_txid, purged_id = l.id
             FROM last l WHERE (l.feed_txid, l.id) > (s.purged_txid, s.purged_id) RETURNING 1)
         SELECT count(*) AS n FROM doomed",
    )
    .bind::<BigInt, _>(batch.max(1))
    .get_result(conn)?;
    Ok(row.n as u64)
}
