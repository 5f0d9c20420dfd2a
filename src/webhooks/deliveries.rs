//! The one owner of `webhook_deliveries` (and its attempt log): the state machine and every
//! statement that claims, finishes, releases, reaps, replays, pauses, counts or purges rows.

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{BigInt, Bool, Bytea, Double, Int4, Nullable, SmallInt, Text, Timestamptz};
use diesel::PgConnection;

use crate::db::schema::{webhook_attempts, webhook_deliveries, webhook_events};
use crate::error::{ApiError, ApiResult};

/// Where a delivery is in its life, as stored in `webhook_deliveries.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = SmallInt)]
pub enum DeliveryState {
    /// Waiting for `next_attempt_at`.
    Pending,
    /// Leased by a worker that is sending it.
    InFlight,
    /// Answered 2xx (finished).
    Succeeded,
    /// Out of retries or refused by the SSRF guard (finished, replayable).
    Dead,
    /// Parked because its endpoint is disabled; resumed on enable.
    Paused,
}

/// The SQL literal of a state, for statements whose text must be static (cached statements and
/// partial indexes need the literal, a bind parameter would defeat the index).
macro_rules! code {
    (Pending) => {
        "0"
    };
    (InFlight) => {
        "1"
    };
    (Succeeded) => {
        "2"
    };
    (Dead) => {
        "3"
    };
    (Paused) => {
        "4"
    };
}

impl DeliveryState {
    /// Every state, in code order.
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::InFlight,
        DeliveryState::Succeeded,
        DeliveryState::Dead,
        DeliveryState::Paused,
    ];

    /// The stored code.
    pub fn as_i16(self) -> i16 {
        match self {
            DeliveryState::Pending => 0,
            DeliveryState::InFlight => 1,
            DeliveryState::Succeeded => 2,
            DeliveryState::Dead => 3,
            DeliveryState::Paused => 4,
        }
    }

    /// The state of a stored code, if it is one.
    pub fn from_i16(code: i16) -> Option<DeliveryState> {
        Self::ALL.into_iter().find(|s| s.as_i16() == code)
    }

    /// The name the API and the metrics use.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Dead => "dead",
            DeliveryState::Paused => "paused",
        }
    }

    /// The state called `name`, if any.
    pub fn from_name(name: &str) -> Option<DeliveryState> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the delivery is done (and so may be purged after the retention period).
    pub fn is_finished(self) -> bool {
        matches!(self, DeliveryState::Succeeded | DeliveryState::Dead)
    }
}

impl ToSql<SmallInt, Pg> for DeliveryState {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <i16 as ToSql<SmallInt, Pg>>::to_sql(&self.as_i16(), &mut out.reborrow())
    }
}

impl FromSql<SmallInt, Pg> for DeliveryState {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let code = <i16 as FromSql<SmallInt, Pg>>::from_sql(bytes)?;
        DeliveryState::from_i16(code).ok_or_else(|| format!("unknown webhook delivery state {code}").into())
    }
}

/// Enabled endpoints (all columns) with a pending delivery due now. Static text, so the
/// statement is prepared once per connection (the dispatcher runs it on every round).
pub const DUE_ENDPOINTS: &str = concat!(
    "SELECT webhook_endpoints.* FROM webhook_endpoints WHERE enabled AND EXISTS (",
    "SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = webhook_endpoints.id AND d.state = ",
    code!(Pending),
    " AND d.next_attempt_at <= now())"
);

/// A claimed delivery with what is needed to send it.
#[derive(QueryableByName, Debug, Clone)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Attempts including this one.
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub public_id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Bytea)]
    pub body: Vec<u8>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub client_ip: String,
    #[diesel(sql_type = Text)]
    pub opt_platform: String,
}

/// Leases up to `limit` due deliveries of one endpoint for `lease_secs` under `token`.
pub fn claim(
    conn: &mut PgConnection,
    endpoint_id: i64,
    limit: i64,
    lease_secs: f64,
    token: i64,
) -> ApiResult<Vec<Claimed>> {
    Ok(crate::db::cached(concat!(
        "WITH c AS (SELECT id FROM webhook_deliveries
                    WHERE endpoint_id = $1 AND state = ",
        code!(Pending),
        " AND next_attempt_at <= now()
                    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries d
            SET state = ",
        code!(InFlight),
        ", attempts = d.attempts + 1, lease_token = $4,
                lease_until = now() + make_interval(secs => $3)
           FROM c, webhook_events e
          WHERE d.id = c.id AND e.id = d.event_id
         RETURNING d.id, d.attempts, e.public_id, e.event_type, e.body, e.created_at, e.client_ip, e.opt_platform"
    ))
    .bind::<BigInt, _>(endpoint_id)
    .bind::<BigInt, _>(limit)
    .bind::<Double, _>(lease_secs)
    .bind::<BigInt, _>(token)
    .load(conn)?)
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy)]
pub enum Finish {
    /// Delivered.
    Succeeded,
    /// Pending again, not before this time.
    RetryAt(DateTime<Utc>),
    /// Given up.
    Dead,
    /// The endpoint answered 410: the delivery is parked with the endpoint disabled.
    Gone,
}

impl Finish {
    fn state(self) -> DeliveryState {
        match self {
            Finish::Succeeded => DeliveryState::Succeeded,
            Finish::RetryAt(_) => DeliveryState::Pending,
            Finish::Dead => DeliveryState::Dead,
            Finish::Gone => DeliveryState::Paused,
        }
    }
}

/// What one HTTP attempt produced, as logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord<'a> {
    pub started: DateTime<Utc>,
    pub latency_ms: i32,
    pub status: Option<i32>,
    pub error: Option<&'a str>,
    pub response: Option<&'a str>,
}

/// Moves a leased delivery on and logs the attempt, only if the lease `token` still holds;
/// returns `false` when another worker owns the delivery now (its outcome wins).
pub fn finish(conn: &mut PgConnection, id: i64, token: i64, to: Finish, a: &AttemptRecord<'_>) -> ApiResult<bool> {
    let at = match to {
        Finish::RetryAt(t) => Some(t),
        _ => None,
    };
    let state = to.state();
    let updated = crate::db::cached(concat!(
        "UPDATE webhook_deliveries
            SET state = $3, lease_until = NULL, lease_token = NULL,
                next_attempt_at = coalesce($4, next_attempt_at),
                last_status = $5, last_error = $6,
                finished_at = CASE WHEN $7 THEN now() END
          WHERE id = $1 AND lease_token = $2 AND state = ",
        code!(InFlight),
        " RETURNING attempts"
    ))
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(token)
    .bind::<SmallInt, _>(state)
    .bind::<Nullable<Timestamptz>, _>(at)
    .bind::<Nullable<Int4>, _>(a.status)
    .bind::<Nullable<Text>, _>(a.error)
    .bind::<Bool, _>(state.is_finished())
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    crate::db::cached(
        "INSERT INTO webhook_attempts (delivery_id, attempt_no, started_at, latency_ms, status_code, error, response_prefix)
         SELECT $1, attempts, $2, $3, $4, $5, $6 FROM webhook_deliveries WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .bind::<Timestamptz, _>(a.started)
    .bind::<Int4, _>(a.latency_ms)
    .bind::<Nullable<Int4>, _>(a.status)
    .bind::<Nullable<Text>, _>(a.error)
    .bind::<Nullable<Text>, _>(a.response)
    .execute(conn)?;
    Ok(true)
}

/// Hands a lease back untried (shutdown): pending again, the attempt not counted.
pub fn release(conn: &mut PgConnection, id: i64, token: i64) -> ApiResult<usize> {
    Ok(crate::db::cached(concat!(
        "UPDATE webhook_deliveries SET state = ",
        code!(Pending),
        ", lease_until = NULL, lease_token = NULL,
                attempts = greatest(attempts - 1, 0)
          WHERE id = $1 AND lease_token = $2 AND state = ",
        code!(InFlight)
    ))
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(token)
    .execute(conn)?)
}

/// Returns deliveries whose lease expired (their worker died) to the queue.
pub fn reap_expired(conn: &mut PgConnection) -> ApiResult<usize> {
    Ok(crate::db::cached(concat!(
        "UPDATE webhook_deliveries SET state = ",
        code!(Pending),
        ", lease_until = NULL, last_error = 'lease expired (worker stopped)'
         WHERE state = ",
        code!(InFlight),
        " AND lease_until < now()"
    ))
    .execute(conn)?)
}

/// Parks the pending deliveries of a disabled endpoint (kept, replayable, resumed on enable).
pub fn pause_pending(conn: &mut PgConnection, endpoint_id: i64) -> ApiResult<usize> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending)),
    )
    .set(webhook_deliveries::state.eq(DeliveryState::Paused))
    .execute(conn)?)
}

/// Queues the paused deliveries of a re-enabled endpoint, due now.
pub fn resume_paused(conn: &mut PgConnection, endpoint_id: i64) -> ApiResult<usize> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::state.eq(DeliveryState::Paused)),
    )
    .set((
        webhook_deliveries::state.eq(DeliveryState::Pending),
        webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
    ))
    .execute(conn)?)
}

/// Queues one delivery again (same webhook-id); it may be in any state but in flight.
pub fn replay_one(conn: &mut PgConnection, id: i64) -> ApiResult<usize> {
    let n = diesel::update(
        webhook_deliveries::table.find(id).filter(webhook_deliveries::state.ne(DeliveryState::InFlight)),
    )
    .set((
        webhook_deliveries::state.eq(DeliveryState::Pending),
        // A replay starts a fresh retry schedule (otherwise a dead delivery gets one try).
        webhook_deliveries::attempts.eq(0),
        webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
        webhook_deliveries::finished_at.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)?;
    if n == 0 {
        delivery(conn, id)?;
    }
    Ok(n)
}

/// Queues again every dead (`dead`) and every pending-after-failure (`failing`) delivery of an
/// endpoint created since `since`; returns how many.
pub fn replay_since(
    conn: &mut PgConnection,
    endpoint_id: i64,
    since: DateTime<Utc>,
    dead: bool,
    failing: bool,
) -> ApiResult<usize> {
    Ok(crate::db::cached(concat!(
        "UPDATE webhook_deliveries SET state = ",
        code!(Pending),
        ", attempts = 0, next_attempt_at = now(), finished_at = NULL
          WHERE endpoint_id = $1 AND created_at >= $2
            AND ((state = ",
        code!(Dead),
        " AND $3) OR (state = ",
        code!(Pending),
        " AND attempts > 0 AND $4))"
    ))
    .bind::<BigInt, _>(endpoint_id)
    .bind::<Timestamptz, _>(since)
    .bind::<Bool, _>(dead)
    .bind::<Bool, _>(failing)
    .execute(conn)?)
}

/// How many deliveries are in each state (states without any are left out).
pub fn count_by_state(conn: &mut PgConnection) -> ApiResult<Vec<(DeliveryState, i64)>> {
    Ok(webhook_deliveries::table
        .group_by(webhook_deliveries::state)
        .select((webhook_deliveries::state, diesel::dsl::count_star()))
        .order(webhook_deliveries::state)
        .load(conn)?)
}

/// Rows removed by one [`purge_finished`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub deliveries: u64,
    pub attempts: u64,
    pub events: u64,
}

/// Deletes at most `batch` deliveries that finished (succeeded or dead) more than `keep` ago,
/// with their attempts, then at most `batch` events older than `keep` left without any delivery
/// (including those orphaned when their endpoint was deleted) and not kept by the pull feed.
///
/// Each step is one short statement that locks only the rows it deletes and skips rows another
/// transaction holds, so pending and in-flight deliveries (and receipt writes) never wait on it.
/// Call it repeatedly until it returns zeros to catch up.
pub fn purge_finished(conn: &mut PgConnection, keep: chrono::Duration, batch: i64) -> ApiResult<PurgeCounts> {
    if batch < 1 {
        return Err(ApiError::invalid(format!("the purge batch must be at least 1, got {batch}")));
    }
    let keep_secs = keep.num_milliseconds().max(0) as f64 / 1000.0;
    #[derive(QueryableByName)]
    struct Removed {
        #[diesel(sql_type = BigInt)]
        deliveries: i64,
        #[diesel(sql_type = BigInt)]
        attempts: i64,
    }
    // Attempts are deleted explicitly (not left to ON DELETE CASCADE) so they can be counted.
    let removed: Removed = crate::db::cached(concat!(
        "WITH doomed AS (SELECT id FROM webhook_deliveries
                          WHERE state IN (",
        code!(Succeeded),
        ", ",
        code!(Dead),
        ") AND finished_at < now() - make_interval(secs => $1)
                          ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED),
              a AS (DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM doomed) RETURNING 1),
              d AS (DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM doomed) RETURNING 1)
         SELECT (SELECT count(*) FROM d) AS deliveries, (SELECT count(*) FROM a) AS attempts"
    ))
    .bind::<Double, _>(keep_secs)
    .bind::<BigInt, _>(batch)
    .get_result(conn)?;
    // No delivery is ever added to an existing event, so an old event without one stays so.
    let events = crate::db::cached(
        "DELETE FROM webhook_events WHERE id IN (
            SELECT e.id FROM webhook_events e
             WHERE e.created_at < now() - make_interval(secs => $1)
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
               -- Kept while the pull feed holds it (domain::feed::purge lets go of it).
               AND NOT EXISTS (SELECT 1 FROM receipt_feed f WHERE f.event_id = e.id)
             ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Double, _>(keep_secs)
    .bind::<BigInt, _>(batch)
    .execute(conn)?;
    Ok(PurgeCounts { deliveries: removed.deliveries as u64, attempts: removed.attempts as u64, events: events as u64 })
}

/// A delivery row joined with its event.
#[derive(Debug, Clone, Queryable)]
pub struct DeliveryView {
    pub id: i64,
    pub endpoint_id: i64,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub webhook_id: String,
    pub event_type: String,
}

/// One logged attempt.
#[derive(Debug, Clone, Queryable)]
pub struct AttemptView {
    pub attempt_no: i32,
    pub started_at: DateTime<Utc>,
    pub latency_ms: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_prefix: Option<String>,
}

/// Filters of [`list`].
#[derive(Debug, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<i64>,
    pub state: Option<DeliveryState>,
    pub since: Option<DateTime<Utc>>,
    /// Only deliveries created before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only deliveries of this callback command.
    pub event_type: Option<String>,
    /// Only ids below this (keyset cursor, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

macro_rules! delivery_columns {
    () => {
        (
            webhook_deliveries::id,
            webhook_deliveries::endpoint_id,
            webhook_deliveries::state,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::last_status,
            webhook_deliveries::last_error,
            webhook_deliveries::created_at,
            webhook_deliveries::finished_at,
            webhook_events::public_id,
            webhook_events::event_type,
        )
    };
}

/// A page of deliveries, newest first; and whether it is the last page.
pub fn list(conn: &mut PgConnection, f: DeliveryFilter) -> ApiResult<(Vec<DeliveryView>, bool)> {
    let mut q = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .select(delivery_columns!())
        .order(webhook_deliveries::id.desc())
        .limit(f.limit + 1)
        .into_boxed();
    if let Some(e) = f.endpoint_id {
        q = q.filter(webhook_deliveries::endpoint_id.eq(e));
    }
    if let Some(s) = f.state {
        q = q.filter(webhook_deliveries::state.eq(s));
    }
    if let Some(t) = f.since {
        q = q.filter(webhook_deliveries::created_at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(webhook_deliveries::created_at.lt(t));
    }
    if let Some(c) = f.event_type {
        q = q.filter(webhook_events::event_type.eq(c));
    }
    if let Some(b) = f.before_id {
        q = q.filter(webhook_deliveries::id.lt(b));
    }
    let mut rows: Vec<DeliveryView> = q.load(conn)?;
    let finished = rows.len() as i64 <= f.limit;
    rows.truncate(f.limit as usize);
    Ok((rows, finished))
}

/// One delivery with its body and attempts.
pub fn delivery(conn: &mut PgConnection, id: i64) -> ApiResult<(DeliveryView, Vec<u8>, Vec<AttemptView>)> {
    let (view, body): (DeliveryView, Vec<u8>) = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::id.eq(id))
        .select((delivery_columns!(), webhook_events::body))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::invalid(format!("DeliveryId {id} does not exist")))?;
    let attempts = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(id))
        .order(webhook_attempts::id)
        .select((
            webhook_attempts::attempt_no,
            webhook_attempts::started_at,
            webhook_attempts::latency_ms,
            webhook_attempts::status_code,
            webhook_attempts::error,
            webhook_attempts::response_prefix,
        ))
        .load(conn)?;
    Ok((view, body, attempts))
}

/// How one endpoint has been doing: attempts since a time and its queue now.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct EndpointHealth {
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    /// Attempts started since the window's start.
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
    /// Of those, answered 2xx.
    #[diesel(sql_type = BigInt)]
    pub succeeded: i64,
    /// The newest failed attempt's error (or `HTTP <status>`), at any time.
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_error_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub in_flight: i64,
    #[diesel(sql_type = BigInt)]
    pub paused: i64,
    #[diesel(sql_type = BigInt)]
    pub dead: i64,
}

/// Health of every endpoint (oldest endpoint first), attempts counted since `since`.
pub fn endpoint_health(conn: &mut PgConnection, since: DateTime<Utc>) -> ApiResult<Vec<EndpointHealth>> {
    Ok(crate::db::cached(concat!(
        "WITH a AS (SELECT d.endpoint_id, count(*) AS attempts,
                           count(*) FILTER (WHERE a.status_code BETWEEN 200 AND 299) AS succeeded
                      FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
                     WHERE a.started_at >= $1 GROUP BY d.endpoint_id),
              q AS (SELECT endpoint_id,
                           count(*) FILTER (WHERE state = ",
        code!(Pending),
        ") AS pending, count(*) FILTER (WHERE state = ",
        code!(InFlight),
        ") AS in_flight, count(*) FILTER (WHERE state = ",
        code!(Paused),
        ") AS paused, count(*) FILTER (WHERE state = ",
        code!(Dead),
        ") AS dead
                      FROM webhook_deliveries WHERE state <> ",
        code!(Succeeded),
        " GROUP BY endpoint_id)
         SELECT e.id AS endpoint_id, coalesce(a.attempts, 0) AS attempts, coalesce(a.succeeded, 0) AS succeeded,
                f.error AS last_error, f.started_at AS last_error_at,
                coalesce(q.pending, 0) AS pending, coalesce(q.in_flight, 0) AS in_flight,
                coalesce(q.paused, 0) AS paused, coalesce(q.dead, 0) AS dead
           FROM webhook_endpoints e
           LEFT JOIN a ON a.endpoint_id = e.id
           LEFT JOIN q ON q.endpoint_id = e.id
           LEFT JOIN LATERAL (
                SELECT coalesce(x.error, 'HTTP ' || x.status_code) AS error, x.started_at
                  FROM webhook_deliveries d JOIN webhook_attempts x ON x.delivery_id = d.id
                 WHERE d.endpoint_id = e.id AND NOT coalesce(x.status_code BETWEEN 200 AND 299, false)
                 ORDER BY x.id DESC LIMIT 1) f ON true
          ORDER BY e.id"
    ))
    .bind::<Timestamptz, _>(since)
    .load(conn)?)
}

/// One recent attempt's outcome, for rebuilding an endpoint's circuit breaker.
#[derive(Debug, Clone, QueryableByName)]
pub struct RecentAttempt {
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    /// When the attempt finished.
    #[diesel(sql_type = Timestamptz)]
    pub finished_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    pub success: bool,
}

/// Up to `per_endpoint` newest attempts of each endpoint since `since`, oldest first.
pub fn recent_attempts(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    per_endpoint: i64,
) -> ApiResult<Vec<RecentAttempt>> {
    Ok(crate::db::cached(
        "SELECT endpoint_id, finished_at, success FROM (
            SELECT d.endpoint_id, a.started_at + make_interval(secs => a.latency_ms / 1000.0) AS finished_at,
                   coalesce(a.status_code BETWEEN 200 AND 299, false) AS success,
                   row_number() OVER (PARTITION BY d.endpoint_id ORDER BY a.id DESC) AS n, a.id
              FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE a.started_at >= $1) r
          WHERE n <= $2 ORDER BY endpoint_id, id",
    )
    .bind::<Timestamptz, _>(since)
    .bind::<BigInt, _>(per_endpoint)
    .load(conn)?)
}

/// Deliveries not finished (pending, in flight or paused), all endpoints together.
pub fn queue_depth(conn: &mut PgConnection) -> ApiResult<i64> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::state.eq_any([
            DeliveryState::Pending,
            DeliveryState::InFlight,
            DeliveryState::Paused,
        ]))
        .count()
        .get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_sql_literals() {
        let literals = [code!(Pending), code!(InFlight), code!(Succeeded), code!(Dead), code!(Paused)];
        for (s, lit) in DeliveryState::ALL.into_iter().zip(literals) {
            assert_eq!(DeliveryState::from_i16(s.as_i16()), Some(s));
            assert_eq!(DeliveryState::from_name(s.name()), Some(s));
            assert_eq!(lit, s.as_i16().to_string(), "{s:?}");
        }
        assert_eq!(DeliveryState::from_i16(5), None);
        assert_eq!(DeliveryState::from_name("unknown"), None);
    }

    #[test]
    fn only_succeeded_and_dead_are_finished() {
        let finished: Vec<_> = DeliveryState::ALL.into_iter().filter(|s| s.is_finished()).collect();
        assert_eq!(finished, [DeliveryState::Succeeded, DeliveryState::Dead]);
    }
}
