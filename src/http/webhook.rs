//! `webhook_svc`: endpoint management, the delivery log and replay (admin only).

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::webhooks::endpoints::{self, DeliveryFilter, DeliveryView, Endpoint, EndpointChange};
use crate::webhooks::state_name;

fn endpoint_json(e: &Endpoint) -> Value {
    let events: Vec<String> = match &e.events {
        None => vec!["*".into()],
        Some(v) => v.iter().flatten().cloned().collect(),
    };
    json!({
        "EndpointId": e.id, "Url": e.url, "Events": events, "Token": e.token.clone().unwrap_or_default(),
        "Enabled": i32::from(e.enabled), "DisabledReason": e.disabled_reason.clone().unwrap_or_default(),
        "TimeoutSeconds": e.timeout_ms / 1000, "MaxInFlight": e.max_in_flight, "Secret": e.secret,
        "PreviousSecretExpiresAt": e.prev_secret_expires_at.map(|t| t.timestamp()).unwrap_or(0),
        "CreateTime": e.created_at.timestamp(),
    })
}

fn delivery_json(d: &DeliveryView) -> Value {
    json!({
        "DeliveryId": d.id, "EndpointId": d.endpoint_id, "WebhookId": d.webhook_id, "CallbackCommand": d.event_type,
        "State": state_name(d.state), "Attempts": d.attempts, "LastStatus": d.last_status.unwrap_or(0),
        "LastError": d.last_error.clone().unwrap_or_default(), "NextAttemptTime": d.next_attempt_at.timestamp(),
        "CreateTime": d.created_at.timestamp(), "FinishTime": d.finished_at.map(|t| t.timestamp()).unwrap_or(0),
    })
}

#[derive(Deserialize)]
pub struct EndpointRequest {
    #[serde(rename = "EndpointId")]
    endpoint_id: Option<i64>,
    #[serde(rename = "Url")]
    url: Option<String>,
    #[serde(rename = "Events")]
    events: Option<Vec<String>>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "Enabled")]
    enabled: Option<i64>,
    #[serde(rename = "TimeoutSeconds")]
    timeout_seconds: Option<i64>,
    #[serde(rename = "MaxInFlight")]
    max_in_flight: Option<i64>,
}

impl EndpointRequest {
    fn change(&self) -> ApiResult<EndpointChange> {
        let enabled = match self.enabled {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(o) => return Err(ApiError::invalid(format!("Enabled must be 0 or 1, got {o}"))),
        };
        Ok(EndpointChange {
            url: self.url.clone(),
            events: self.events.clone().map(|ev| if ev.iter().any(|e| e == "*") { None } else { Some(ev) }),
            token: self.token.clone().map(|t| if t.is_empty() { None } else { Some(t) }),
            enabled,
            timeout_secs: self.timeout_seconds,
            max_in_flight: self.max_in_flight,
        })
    }

    fn id(&self) -> ApiResult<i64> {
        self.endpoint_id.ok_or_else(|| ApiError::invalid("EndpointId is required"))
    }
}

pub async fn create_endpoint(state: AppState, _: Caller, req: EndpointRequest) -> ApiResult<Value> {
    let change = req.change()?;
    let policy = state.webhook_policy.clone();
    let e = state.tx(move |c| endpoints::create(c, change.clone(), &policy)).await?;
    Ok(json!({ "Endpoint": endpoint_json(&e) }))
}

pub async fn update_endpoint(state: AppState, _: Caller, req: EndpointRequest) -> ApiResult<Value> {
    let (id, change) = (req.id()?, req.change()?);
    let policy = state.webhook_policy.clone();
    let e = state.tx(move |c| endpoints::update(c, id, change.clone(), &policy)).await?;
    state.webhook_wake.notify_one();
    Ok(json!({ "Endpoint": endpoint_json(&e) }))
}

pub async fn delete_endpoint(state: AppState, _: Caller, req: EndpointRequest) -> ApiResult<Value> {
    let id = req.id()?;
    state.tx(move |c| endpoints::delete(c, id)).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn list_endpoints(state: AppState, _: Caller, _: Empty) -> ApiResult<Value> {
    let list = state.db(endpoints::list).await?;
    Ok(json!({ "Endpoints": list.iter().map(endpoint_json).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
pub struct RotateRequest {
    #[serde(rename = "EndpointId")]
    endpoint_id: i64,
    #[serde(rename = "GraceSeconds")]
    grace_seconds: Option<i64>,
}

pub async fn rotate_secret(state: AppState, _: Caller, req: RotateRequest) -> ApiResult<Value> {
    let grace = req.grace_seconds.unwrap_or(86_400);
    let e = state.tx(move |c| endpoints::rotate_secret(c, req.endpoint_id, grace)).await?;
    Ok(json!({ "Endpoint": endpoint_json(&e) }))
}

fn state_code(name: &str) -> ApiResult<i16> {
    (0..=4).find(|s| state_name(*s) == name).ok_or_else(|| {
        ApiError::invalid(format!("State {name:?} must be pending, in_flight, succeeded, dead or paused"))
    })
}

fn unix(secs: i64, field: &str) -> ApiResult<DateTime<Utc>> {
    Utc.timestamp_opt(secs, 0).single().ok_or_else(|| ApiError::invalid(format!("{field} {secs} is not a unix time")))
}

#[derive(Deserialize)]
pub struct ListDeliveriesRequest {
    #[serde(rename = "EndpointId")]
    endpoint_id: Option<i64>,
    #[serde(rename = "State")]
    state: Option<String>,
    #[serde(rename = "Since")]
    since: Option<i64>,
    #[serde(rename = "Cursor", default)]
    cursor: String,
    #[serde(rename = "Limit")]
    limit: Option<i64>,
}

pub async fn list_deliveries(state: AppState, _: Caller, req: ListDeliveriesRequest) -> ApiResult<Value> {
    let limit = req.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid(format!("Limit must be 1 to 200, got {limit}")));
    }
    let before_id = if req.cursor.is_empty() {
        None
    } else {
        Some(
            req.cursor
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("Cursor is not a value returned by list_deliveries"))?,
        )
    };
    let filter = DeliveryFilter {
        endpoint_id: req.endpoint_id,
        state: req.state.as_deref().map(state_code).transpose()?,
        since: req.since.map(|s| unix(s, "Since")).transpose()?,
        before_id,
        limit,
    };
    let (rows, finished) = state.db(move |c| endpoints::deliveries(c, filter)).await?;
    let cursor = if finished { String::new() } else { rows.last().map(|d| d.id.to_string()).unwrap_or_default() };
    Ok(json!({
        "Deliveries": rows.iter().map(delivery_json).collect::<Vec<_>>(),
        "Cursor": cursor,
        "IsFinished": i32::from(finished),
    }))
}

#[derive(Deserialize)]
pub struct DeliveryRequest {
    #[serde(rename = "DeliveryId")]
    delivery_id: i64,
}

pub async fn get_delivery(state: AppState, _: Caller, req: DeliveryRequest) -> ApiResult<Value> {
    let (d, body, attempts) = state.db(move |c| endpoints::delivery(c, req.delivery_id)).await?;
    let attempts: Vec<Value> = attempts
        .iter()
        .map(|a| {
            json!({
                "AttemptNo": a.attempt_no, "StartTime": a.started_at.timestamp_millis(), "LatencyMs": a.latency_ms,
                "StatusCode": a.status_code.unwrap_or(0), "Error": a.error.clone().unwrap_or_default(),
                "Response": a.response_prefix.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(json!({ "Delivery": delivery_json(&d), "Body": String::from_utf8_lossy(&body), "Attempts": attempts }))
}

#[derive(Deserialize)]
pub struct ReplayRequest {
    #[serde(rename = "DeliveryId")]
    delivery_id: Option<i64>,
    #[serde(rename = "EndpointId")]
    endpoint_id: Option<i64>,
    #[serde(rename = "Since")]
    since: Option<i64>,
    #[serde(rename = "States")]
    states: Option<Vec<String>>,
}

pub async fn replay(state: AppState, _: Caller, req: ReplayRequest) -> ApiResult<Value> {
    let n = match (req.delivery_id, req.endpoint_id) {
        (Some(id), None) => state.tx(move |c| endpoints::replay_one(c, id)).await?,
        (None, Some(ep)) => {
            let since =
                unix(req.since.ok_or_else(|| ApiError::invalid("Since is required with EndpointId"))?, "Since")?;
            let states = req.states.unwrap_or_else(|| vec!["dead".into(), "failing".into()]);
            for s in &states {
                if s != "dead" && s != "failing" {
                    return Err(ApiError::invalid(format!("States entries must be dead or failing, got {s:?}")));
                }
            }
            let (dead, failing) = (states.iter().any(|s| s == "dead"), states.iter().any(|s| s == "failing"));
            state.tx(move |c| endpoints::replay_since(c, ep, since, dead, failing)).await?
        }
        _ => return Err(ApiError::invalid("give either DeliveryId, or EndpointId with Since")),
    };
    state.webhook_wake.notify_one();
    Ok(json!({ "ReplayedNum": n }))
}
