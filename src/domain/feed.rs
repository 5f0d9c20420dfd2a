//! The pull feed of receipt events (`receipt_svc/get_receipt_events`): the webhook events kept
//! in commit order for integrators that cannot receive webhooks.
//!
//! A kept event gets its position when its transaction commits (migration 000035's deferred
//! trigger, under an advisory lock held through the commit), so positions are in commit
//! order and a reader that sees one sees every smaller one: paging by position never skips
//! or repeats an event. The price: transactions that write feed events commit one at a time.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel::PgConnection;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Most events answered by one page.
pub const MAX_PAGE: i64 = 1000;

/// One feed event.
#[derive(Debug, Clone, QueryableByName)]
pub struct FeedEvent {
    /// Its position: the cursor just after it.
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
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
    pub next: i64,
}

/// Parses a cursor: a position, `0` or empty for the oldest event kept.
pub fn parse_cursor(s: &str) -> ApiResult<i64> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        ApiError::invalid(format!(
            "Cursor {s:?} is not a cursor of this feed (pass a NextCursor, or empty for the start)"
        ))
    })
}

/// The feed's events after position `after`, at most `limit`, optionally only of `types`.
/// Fails with 19004 when the feed is off and 19003 when retention has deleted events after
/// `after`.
pub fn page(conn: &mut PgConnection, after: i64, limit: i64, types: Option<&[String]>) -> ApiResult<Page> {
    #[derive(QueryableByName)]
    struct State {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        on: bool,
        #[diesel(sql_type = BigInt)]
        purged: i64,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        secs: i32,
    }
    let st: State = crate::db::cached(
        "SELECT c.event_feed AS on, s.purged_seq AS purged, c.event_feed_retention_secs AS secs
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
    if after > 0 && after < st.purged {
        return Err(ApiError::ResumeExpired(format!(
            "Cursor {after} is older than the feed's retention (EventFeedRetentionSeconds {}): events after it \
             were deleted; start again with an empty Cursor",
            st.secs
        )));
    }
    let events: Vec<FeedEvent> = crate::db::cached(
        "SELECT f.seq, e.public_id, e.event_type, convert_from(e.body, 'UTF8') AS body
           FROM receipt_feed f JOIN webhook_events e ON e.id = f.event_id
          WHERE f.seq > $1 AND ($3::text[] IS NULL OR e.event_type = ANY($3))
          ORDER BY f.seq LIMIT $2",
    )
    .bind::<BigInt, _>(after)
    .bind::<BigInt, _>(limit)
    .bind::<Nullable<Array<Text>>, _>(types)
    .load(conn)?;
    let next = events.last().map_or(after, |e| e.seq);
    Ok(Page { events, next })
}

/// Deletes one batch of feed entries past the retention (their events stay while deliveries
/// need them; the webhook purge deletes them later) and moves the watermark that tells a
/// cursor it lost events. Returns how many left the feed.
pub fn purge(conn: &mut PgConnection, batch: i64) -> ApiResult<u64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // Positions follow commit time closely, so the oldest positions are the expired ones.
    let row: N = crate::db::cached(
        "WITH gone AS (
           DELETE FROM receipt_feed WHERE seq IN (
             SELECT seq FROM receipt_feed
              WHERE created_at < now() - make_interval(secs => (SELECT event_feed_retention_secs FROM receipt_config LIMIT 1))
              ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING seq),
         mark AS (
           UPDATE receipt_feed_state SET purged_seq = greatest(purged_seq, (SELECT max(seq) FROM gone))
            WHERE EXISTS (SELECT 1 FROM gone) RETURNING 1)
         SELECT count(*) AS n FROM gone",
    )
    .bind::<BigInt, _>(batch.max(1))
    .get_result(conn)?;
    Ok(row.n as u64)
}
