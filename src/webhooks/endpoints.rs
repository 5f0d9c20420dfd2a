//! Webhook endpoint management, the delivery log and replay.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::PgConnection;

use super::{deliveries, outbox::EVENT_TYPES, sign, ssrf};
use crate::db::schema::webhook_endpoints;
use crate::error::{ApiError, ApiResult};

/// A stored endpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub events: Option<Vec<Option<String>>>,
    pub token: Option<String>,
    pub secret: String,
    pub prev_secret: Option<String>,
    pub prev_secret_expires_at: Option<DateTime<Utc>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub timeout_ms: i32,
    pub max_in_flight: i32,
    pub created_at: DateTime<Utc>,
}

/// Fields of a create or update; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct EndpointChange {
    pub url: Option<String>,
    /// `Some(None)` subscribes to every event.
    pub events: Option<Option<Vec<String>>>,
    /// `Some(None)` removes the token.
    pub token: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub timeout_secs: Option<i64>,
    pub max_in_flight: Option<i64>,
}

/// Checks a change; `policy` vets the target address (SSRF guard).
fn validate(c: &EndpointChange, policy: &ssrf::TargetPolicy) -> ApiResult<()> {
    if let Some(u) = &c.url {
        if u.len() > 2048 {
            return Err(ApiError::invalid("Url is longer than 2048 bytes"));
        }
        let parsed = url::Url::parse(u).map_err(|e| ApiError::invalid(format!("Url {u:?} is not a valid URL: {e}")))?;
        ssrf::check_url(&parsed, policy).map_err(|e| ApiError::invalid(format!("Url {u:?} is not allowed: {e}")))?;
    }
    if let Some(Some(events)) = &c.events {
        if events.is_empty() {
            return Err(ApiError::invalid(
                "Events must name at least one callback command, or be [\"*\"] (or omitted) for all",
            ));
        }
        if events.len() > EVENT_TYPES.len() {
            return Err(ApiError::invalid(format!(
                "Events has {} entries; name each of the {} callback commands at most once",
                events.len(),
                EVENT_TYPES.len()
            )));
        }
        for e in events {
            if !EVENT_TYPES.contains(&e.as_str()) {
                return Err(ApiError::invalid(format!(
                    "Events: {e:?} is not a callback command; use {EVENT_TYPES:?} or [\"*\"]"
                )));
            }
        }
    }
    if let Some(Some(t)) = &c.token {
        if t.len() > 128 {
            return Err(ApiError::invalid("Token is longer than 128 bytes"));
        }
    }
    if let Some(t) = c.timeout_secs {
        if !(1..=30).contains(&t) {
            return Err(ApiError::invalid(format!("TimeoutSeconds must be 1 to 30, got {t}")));
        }
    }
    if let Some(m) = c.max_in_flight {
        if !(1..=64).contains(&m) {
            return Err(ApiError::invalid(format!("MaxInFlight must be 1 to 64, got {m}")));
        }
    }
    Ok(())
}

fn events_column(events: &Option<Vec<String>>) -> Option<Vec<Option<String>>> {
    events.as_ref().map(|v| v.iter().cloned().map(Some).collect())
}

/// Creates an endpoint with a fresh `whsec_` secret.
pub fn create(conn: &mut PgConnection, c: EndpointChange, policy: &ssrf::TargetPolicy) -> ApiResult<Endpoint> {
    let url = c.url.clone().ok_or_else(|| ApiError::invalid("Url is required"))?;
    validate(&c, policy)?;
    Ok(diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::url.eq(url),
            webhook_endpoints::events.eq(events_column(&c.events.clone().flatten())),
            webhook_endpoints::token.eq(c.token.clone().flatten()),
            webhook_endpoints::secret.eq(sign::generate_secret()),
            webhook_endpoints::enabled.eq(c.enabled.unwrap_or(true)),
            webhook_endpoints::timeout_ms.eq(c.timeout_secs.unwrap_or(5) as i32 * 1000),
            webhook_endpoints::max_in_flight.eq(c.max_in_flight.unwrap_or(8) as i32),
        ))
        .returning(Endpoint::as_returning())
        .get_result(conn)?)
}

/// Loads an endpoint or fails with 10004 naming the id.
pub fn get(conn: &mut PgConnection, id: i64) -> ApiResult<Endpoint> {
    webhook_endpoints::table
        .find(id)
        .select(Endpoint::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::invalid(format!("EndpointId {id} does not exist")))
}

/// Applies a change; enabling a disabled endpoint resumes its paused deliveries.
pub fn update(conn: &mut PgConnection, id: i64, c: EndpointChange, policy: &ssrf::TargetPolicy) -> ApiResult<Endpoint> {
    validate(&c, policy)?;
    let mut e = get(conn, id)?;
    if let Some(u) = c.url {
        e.url = u;
    }
    if let Some(ev) = c.events {
        e.events = events_column(&ev);
    }
    if let Some(t) = c.token {
        e.token = t;
    }
    if let Some(t) = c.timeout_secs {
        e.timeout_ms = t as i32 * 1000;
    }
    if let Some(m) = c.max_in_flight {
        e.max_in_flight = m as i32;
    }
    let was_enabled = e.enabled;
    if let Some(en) = c.enabled {
        e.enabled = en;
        if en {
            e.disabled_reason = None;
        } else if was_enabled {
            e.disabled_reason = Some("disabled by an admin".into());
        }
    }
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::url.eq(&e.url),
            webhook_endpoints::events.eq(&e.events),
            webhook_endpoints::token.eq(&e.token),
            webhook_endpoints::timeout_ms.eq(e.timeout_ms),
            webhook_endpoints::max_in_flight.eq(e.max_in_flight),
            webhook_endpoints::enabled.eq(e.enabled),
            webhook_endpoints::disabled_reason.eq(&e.disabled_reason),
            webhook_endpoints::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    if e.enabled && !was_enabled {
        deliveries::resume_paused(conn, id)?;
    } else if !e.enabled && was_enabled {
        deliveries::pause_pending(conn, id)?;
    }
    Ok(e)
}

/// Disables an endpoint that answered 410 Gone and parks its pending deliveries.
pub fn disable_gone(conn: &mut PgConnection, id: i64) -> ApiResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::enabled.eq(false),
            webhook_endpoints::updated_at.eq(diesel::dsl::now),
            webhook_endpoints::disabled_reason.eq("the endpoint answered 410 Gone"),
        ))
        .execute(conn)?;
    deliveries::pause_pending(conn, id)?;
    Ok(())
}

/// Deletes an endpoint and its deliveries.
pub fn delete(conn: &mut PgConnection, id: i64) -> ApiResult<()> {
    if diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 0 {
        return Err(ApiError::invalid(format!("EndpointId {id} does not exist")));
    }
    Ok(())
}

/// All endpoints, oldest first.
pub fn list(conn: &mut PgConnection) -> ApiResult<Vec<Endpoint>> {
    Ok(webhook_endpoints::table.order(webhook_endpoints::id).select(Endpoint::as_select()).load(conn)?)
}

/// Replaces the secret; the old one keeps signing for `grace_secs`.
pub fn rotate_secret(conn: &mut PgConnection, id: i64, grace_secs: i64) -> ApiResult<Endpoint> {
    if !(0..=604_800).contains(&grace_secs) {
        return Err(ApiError::invalid(format!("GraceSeconds must be 0 to 604800 (7 days), got {grace_secs}")));
    }
    let e = get(conn, id)?;
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::prev_secret.eq(Some(&e.secret)),
            webhook_endpoints::prev_secret_expires_at.eq(Some(Utc::now() + Duration::seconds(grace_secs))),
            webhook_endpoints::secret.eq(sign::generate_secret()),
            webhook_endpoints::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    get(conn, id)
}
