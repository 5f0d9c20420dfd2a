//! `webhook_svc`: endpoint management, the delivery log and replay (admin only).

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::wire::{int_flag, Empty, EmptyRequest};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::vault::Secret;
use crate::webhooks::deliveries::{self, DeliveryFilter, DeliveryState, DeliveryView};
use crate::webhooks::endpoints::{self, Endpoint, EndpointChange};

/// An endpoint as answered (its current signing secret included: admins need it to verify).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointInfo {
    endpoint_id: i64,
    url: String,
    events: Vec<String>,
    token: String,
    enabled: i32,
    disabled_reason: String,
    timeout_seconds: i32,
    max_in_flight: i32,
    secret: String,
    previous_secret_expires_at: i64,
    create_time: i64,
}

impl From<&Endpoint> for EndpointInfo {
    fn from(e: &Endpoint) -> Self {
        EndpointInfo {
            endpoint_id: e.id,
            url: e.url.clone(),
            events: match &e.events {
                None => vec!["*".into()],
                Some(v) => v.iter().flatten().cloned().collect(),
            },
            token: e.token.as_ref().map(|t| t.expose().to_owned()).unwrap_or_default(),
            enabled: int_flag(e.enabled),
            disabled_reason: e.disabled_reason.clone().unwrap_or_default(),
            timeout_seconds: e.timeout_ms / 1000,
            max_in_flight: e.max_in_flight,
            secret: e.secret.expose().to_owned(),
            previous_secret_expires_at: e.prev_secret_expires_at.map(|t| t.timestamp()).unwrap_or(0),
            create_time: e.created_at.timestamp(),
        }
    }
}

/// One delivery of the log.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryInfo {
    delivery_id: i64,
    endpoint_id: i64,
    webhook_id: String,
    callback_command: String,
    state: &'static str,
    attempts: i32,
    last_status: i32,
    last_error: String,
    next_attempt_time: i64,
    create_time: i64,
    finish_time: i64,
}

impl From<&DeliveryView> for DeliveryInfo {
    fn from(d: &DeliveryView) -> Self {
        DeliveryInfo {
            delivery_id: d.id,
            endpoint_id: d.endpoint_id,
            webhook_id: d.webhook_id.clone(),
            callback_command: d.event_type.clone(),
            state: d.state.name(),
            attempts: d.attempts,
            last_status: d.last_status.unwrap_or(0),
            last_error: d.last_error.clone().unwrap_or_default(),
            next_attempt_time: d.next_attempt_at.timestamp(),
            create_time: d.created_at.timestamp(),
            finish_time: d.finished_at.map(|t| t.timestamp()).unwrap_or(0),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointResponse {
    endpoint: EndpointInfo,
}

fn endpoint_response(e: &Endpoint) -> EndpointResponse {
    EndpointResponse { endpoint: e.into() }
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
            token: self.token.clone().map(|t| if t.is_empty() { None } else { Some(Secret::new(t)) }),
            enabled,
            timeout_secs: self.timeout_seconds,
            max_in_flight: self.max_in_flight,
        })
    }

    fn id(&self) -> ApiResult<i64> {
        self.endpoint_id.ok_or_else(|| ApiError::invalid("EndpointId is required"))
    }
}

pub async fn create_endpoint(state: AppState, _: Caller, req: EndpointRequest) -> ApiResult<EndpointResponse> {
    let change = req.change()?;
    let (policy, keys) = (state.webhook_policy.clone(), state.secrets.clone());
    let e = state.tx(move |c| endpoints::create(c, change.clone(), &policy, &keys)).await?;
    Ok(endpoint_response(&e))
}

pub async fn update_endpoint(state: AppState, _: Caller, req: EndpointRequest) -> ApiResult<EndpointResponse> {
    let (id, change) = (req.id()?, req.change()?);
    let (policy, keys) = (state.webhook_policy.clone(), state.secrets.clone());
    let e = state.tx(move |c| endpoints::update(c, id, change.clone(), &policy, &keys)).await?;
    state.webhook_wake.notify_one();
    Ok(endpoint_response(&e))
}

pub async fn delete_endpoint(state: AppState, _: Caller, req: EndpointRequest) -> ApiResult<Empty> {
    let id = req.id()?;
    state.tx(move |c| endpoints::delete(c, id)).await?;
    Ok(Empty {})
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointsResponse {
    endpoints: Vec<EndpointInfo>,
}

pub async fn list_endpoints(state: AppState, _: Caller, _: EmptyRequest) -> ApiResult<EndpointsResponse> {
    let keys = state.secrets.clone();
    let list = state.db(move |c| endpoints::list(c, &keys)).await?;
    Ok(EndpointsResponse { endpoints: list.iter().map(Into::into).collect() })
}

#[derive(Deserialize)]
pub struct RotateRequest {
    #[serde(rename = "EndpointId")]
    endpoint_id: i64,
    #[serde(rename = "GraceSeconds")]
    grace_seconds: Option<i64>,
}

pub async fn rotate_secret(state: AppState, _: Caller, req: RotateRequest) -> ApiResult<EndpointResponse> {
    let grace = req.grace_seconds.unwrap_or(86_400);
    let keys = state.secrets.clone();
    let e = state.tx(move |c| endpoints::rotate_secret(c, req.endpoint_id, grace, &keys)).await?;
    Ok(endpoint_response(&e))
}

fn state_code(name: &str) -> ApiResult<DeliveryState> {
    DeliveryState::from_name(name).ok_or_else(|| {
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveriesResponse {
    deliveries: Vec<DeliveryInfo>,
    cursor: String,
    is_finished: i32,
}

pub async fn list_deliveries(state: AppState, _: Caller, req: ListDeliveriesRequest) -> ApiResult<DeliveriesResponse> {
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
        ..DeliveryFilter::default()
    };
    let (rows, finished) = state.db(move |c| deliveries::list(c, filter)).await?;
    let cursor = if finished { String::new() } else { rows.last().map(|d| d.id.to_string()).unwrap_or_default() };
    Ok(DeliveriesResponse {
        deliveries: rows.iter().map(Into::into).collect(),
        cursor,
        is_finished: int_flag(finished),
    })
}

#[derive(Deserialize)]
pub struct DeliveryRequest {
    #[serde(rename = "DeliveryId")]
    delivery_id: i64,
}

/// One HTTP attempt of a delivery.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttemptInfo {
    attempt_no: i32,
    /// Unix milliseconds.
    start_time: i64,
    latency_ms: i32,
    status_code: i32,
    error: String,
    response: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryResponse {
    delivery: DeliveryInfo,
    body: String,
    attempts: Vec<AttemptInfo>,
}

pub async fn get_delivery(state: AppState, _: Caller, req: DeliveryRequest) -> ApiResult<DeliveryResponse> {
    let (d, body, attempts) = state.db(move |c| deliveries::delivery(c, req.delivery_id)).await?;
    Ok(DeliveryResponse {
        delivery: (&d).into(),
        body: String::from_utf8_lossy(&body).into_owned(),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptInfo {
                attempt_no: a.attempt_no,
                start_time: a.started_at.timestamp_millis(),
                latency_ms: a.latency_ms,
                status_code: a.status_code.unwrap_or(0),
                error: a.error.unwrap_or_default(),
                response: a.response_prefix.unwrap_or_default(),
            })
            .collect(),
    })
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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayResponse {
    replayed_num: usize,
}

pub async fn replay(state: AppState, _: Caller, req: ReplayRequest) -> ApiResult<ReplayResponse> {
    let n = match (req.delivery_id, req.endpoint_id) {
        (Some(id), None) => state.tx(move |c| deliveries::replay_one(c, id)).await?,
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
            state
                .tx(move |c| {
                    endpoints::exists(c, ep)?;
                    deliveries::replay_since(c, ep, since, dead, failing)
                })
                .await?
        }
        _ => return Err(ApiError::invalid("give either DeliveryId, or EndpointId with Since")),
    };
    state.webhook_wake.notify_one();
    Ok(ReplayResponse { replayed_num: n })
}
