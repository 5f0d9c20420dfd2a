//! Webhook endpoints: list with health, create, edit, enable/disable, delete, reveal and rotate
//! the signing secret, send a test event, replay dead or failing deliveries since a time.

use std::collections::HashMap;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use maud::{html, Markup};

use crate::console::layout::{self, csrf};
use crate::console::session::{Fields, Posted, Session};
use crate::console::{time, ConsoleError};
use crate::domain::audit::{self, Change, Via};
use crate::state::AppState;
use crate::vault::Secret;
use crate::webhooks::deliveries::{self, DeliveryFilter, EndpointHealth, RecentAttempt};
use crate::webhooks::endpoints::{self, Endpoint, EndpointChange};
use crate::webhooks::outbox::{self, Origin, EVENT_TYPES};
use crate::webhooks::retry::Breaker;

/// The event type of a console test delivery.
pub const TEST_EVENT: &str = "Console.TestEvent";

/// Health and breaker of one endpoint, as shown.
struct Health {
    h: EndpointHealth,
    breaker: String,
}

fn events_text(e: &Endpoint) -> String {
    match &e.events {
        None => "all".to_string(),
        Some(v) => v.iter().flatten().cloned().collect::<Vec<_>>().join(", "),
    }
}

/// Rebuilds each endpoint's circuit breaker from its recorded attempts with the dispatcher's
/// own rules (every dispatcher process keeps its breaker in memory; this is the shared view).
fn breakers(attempts: &[RecentAttempt], scale: f64) -> HashMap<i64, String> {
    let (now, now_utc) = (Instant::now(), Utc::now());
    let mut by: HashMap<i64, Breaker> = HashMap::new();
    for a in attempts {
        let ago = (now_utc - a.finished_at).to_std().unwrap_or_default();
        let Some(at) = now.checked_sub(ago) else { continue };
        by.entry(a.endpoint_id).or_insert_with(|| Breaker::with_scale(scale)).record(a.success, at);
    }
    by.into_iter()
        .map(|(id, b)| {
            let text = match b.open_until(now) {
                Some(until) => format!("open for {} s more", until.saturating_duration_since(now).as_secs().max(1)),
                None if b.is_half_open(now) => "half-open".to_string(),
                None => "closed".to_string(),
            };
            (id, text)
        })
        .collect()
}

async fn health(state: &AppState) -> Result<HashMap<i64, Health>, ConsoleError> {
    let since = Utc::now() - Duration::hours(1);
    let (rows, attempts) = state
        .db(move |c| Ok((deliveries::endpoint_health(c, since)?, deliveries::recent_attempts(c, since, 50)?)))
        .await?;
    let mut b = breakers(&attempts, state.console.retry_scale);
    Ok(rows
        .into_iter()
        .map(|h| {
            let breaker = b.remove(&h.endpoint_id).unwrap_or_else(|| "closed".to_string());
            (h.endpoint_id, Health { h, breaker })
        })
        .collect())
}

fn rate(h: &EndpointHealth) -> Markup {
    if h.attempts == 0 {
        return html! { span.muted { "no attempts" } };
    }
    let pct = 100.0 * h.succeeded as f64 / h.attempts as f64;
    let class = if pct >= 99.0 {
        "badge good"
    } else if pct < 90.0 {
        "badge bad"
    } else {
        "badge"
    };
    html! { span class=(class) { (format!("{pct:.0} %")) } " " span.muted { (h.succeeded) " of " (h.attempts) } }
}

fn breaker_badge(text: &str) -> Markup {
    let class = if text == "closed" { "badge good" } else { "badge bad" };
    html! { span class=(class) { (text) } }
}

fn queue(h: &EndpointHealth) -> Markup {
    html! { (h.pending + h.in_flight) " queued" @if h.paused > 0 { ", " (h.paused) " paused" } @if h.dead > 0 { ", " (h.dead) " dead" } }
}

fn endpoint_fields(e: Option<&Endpoint>) -> Markup {
    let subscribed = |t: &str| e.and_then(|e| e.events.as_ref()).is_some_and(|v| v.iter().flatten().any(|x| x == t));
    html! {
        div {
            label for="url" { "URL" span.hint { "Where deliveries are POSTed; loopback and private addresses only when the server allows them." } }
            input #url type="url" name="url" required value=[e.map(|e| e.url.as_str())];
        }
        fieldset {
            legend { "Callback commands" span.hint { "None ticked: every command." } }
            @for t in EVENT_TYPES {
                label.check { input type="checkbox" name="events" value=(t) checked[subscribed(t)]; code { (t) } }
            }
        }
        div {
            label for="token" { "Token (optional)" span.hint { "Tencent-style Sign = sha256(token + RequestTime); empty for none." } }
            input #token type="text" name="token" autocomplete="off" value=[e.and_then(|e| e.token.as_ref()).map(|t| t.expose())];
        }
        div {
            label for="timeout" { "Timeout (seconds, 1-30)" }
            input #timeout type="number" name="timeout" min="1" max="30" value=(e.map_or(5, |e| e.timeout_ms / 1000));
        }
        div {
            label for="max_in_flight" { "Deliveries in flight at once (1-64)" }
            input #max_in_flight type="number" name="max_in_flight" min="1" max="64" value=(e.map_or(8, |e| e.max_in_flight));
        }
    }
}

fn change_of(f: &Fields) -> Result<EndpointChange, ConsoleError> {
    let events = f.all("events");
    Ok(EndpointChange {
        url: Some(f.get("url").to_string()),
        events: Some(if events.is_empty() { None } else { Some(events) }),
        token: Some(Some(f.get("token")).filter(|t| !t.is_empty()).map(|t| Secret::new(t.to_string()))),
        enabled: None,
        timeout_secs: f.int("timeout", "The timeout", 1..=30)?,
        max_in_flight: f.int("max_in_flight", "Deliveries in flight", 1..=64)?,
    })
}

/// What an endpoint looks like in the audit log (never its token or secret).
fn describe(e: &Endpoint) -> String {
    format!(
        "{} events={} enabled={} timeout={}s max_in_flight={} token={}",
        e.url,
        events_text(e),
        e.enabled,
        e.timeout_ms / 1000,
        e.max_in_flight,
        if e.token.is_some() { "set" } else { "none" }
    )
}

fn record(
    c: &mut diesel::PgConnection,
    who: &str,
    action: &str,
    id: i64,
    old: Option<&str>,
    new: Option<&str>,
) -> crate::error::ApiResult<()> {
    let target = format!("endpoint {id}");
    audit::record(c, &Change { actor: who, via: Via::Console, action, target: &target, old, new })
}

fn path_id(raw: &str) -> Result<i64, ConsoleError> {
    raw.parse::<i64>().map_err(|_| ConsoleError::NotFound(format!("{raw:?} is not an endpoint id")))
}

/// `GET /console/webhooks`.
pub async fn list(state: web::Data<AppState>, s: Session) -> Result<HttpResponse, ConsoleError> {
    let keys = state.secrets.clone();
    let eps = state.db(move |c| endpoints::list(c, &keys)).await?;
    let mut health = health(&state).await?;
    let rows = html! {
        @for e in &eps {
            @let h = health.remove(&e.id).unwrap_or(Health { h: EndpointHealth::default(), breaker: "closed".into() });
            tr {
                td { a href={ "/console/webhooks/" (e.id) } { "#" (e.id) } }
                td.secret { (e.url) }
                td { @if e.enabled { span.badge.good { "enabled" } } @else { span.badge.bad { "disabled" } " " span.hint { (e.disabled_reason.as_deref().unwrap_or("")) } } }
                td { (rate(&h.h)) }
                td { @if let Some(err) = &h.h.last_error { (err) " " span.hint { (h.h.last_error_at.map(time::show).unwrap_or_default()) } } @else { span.muted { "none" } } }
                td { (breaker_badge(&h.breaker)) }
                td { (queue(&h.h)) }
            }
        }
        @if eps.is_empty() { tr { td colspan="7" { "No endpoints yet: create one below." } } }
    };
    let body = html! {
        (layout::table("Endpoints (success rate over the last hour)", &["Endpoint", "URL", "State", "Success rate", "Last error", "Breaker", "Queue"], rows))
        h2 #create { "New endpoint" }
        form.stack #create-endpoint method="post" action="/console/webhooks" {
            (csrf(&s))
            (endpoint_fields(None))
            div { button #create-button type="submit" { "Create endpoint" } }
        }
    };
    Ok(layout::page(&state, &s, "/console/webhooks", "Webhooks", body).await)
}

/// `POST /console/webhooks`.
pub async fn create(state: web::Data<AppState>, form: Posted) -> Result<HttpResponse, ConsoleError> {
    let change = change_of(&form.fields)?;
    let (policy, keys, who) = (state.webhook_policy.clone(), state.secrets.clone(), form.session.identifier.clone());
    let made = state
        .tx(move |c| {
            let e = endpoints::create(c, change.clone(), &policy, &keys)?;
            record(c, &who, "webhook.create", e.id, None, Some(&describe(&e)))?;
            Ok(e)
        })
        .await;
    match made {
        Ok(e) => {
            form.session
                .set_flash(&state, false, format!("Endpoint #{} created; deliveries start with the next event.", e.id))
                .await?;
            Ok(layout::see_other(&format!("/console/webhooks/{}", e.id)))
        }
        Err(e @ crate::error::ApiError::InvalidParam(_)) => {
            form.session.set_flash(&state, true, format!("Not created: {e}")).await?;
            Ok(layout::see_other("/console/webhooks#create"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn detail_page(
    state: &AppState,
    s: &Session,
    id: i64,
    secret: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let keys = state.secrets.clone();
    let (e, (recent, _)) = state
        .db(move |c| {
            let e = endpoints::get(c, id, &keys)?;
            let recent =
                deliveries::list(c, DeliveryFilter { endpoint_id: Some(id), limit: 10, ..DeliveryFilter::default() })?;
            Ok((e, recent))
        })
        .await
        .map_err(ConsoleError::missing_record)?;
    let h =
        health(state).await?.remove(&id).unwrap_or(Health { h: EndpointHealth::default(), breaker: "closed".into() });
    let an_hour_ago = time::input_value(Utc::now() - Duration::hours(1));
    let body = html! {
        div.panel {
            dl.facts {
                dt { "URL" } dd.secret { (e.url) }
                dt { "State" } dd { @if e.enabled { span.badge.good { "enabled" } } @else { span.badge.bad { "disabled" } " " (e.disabled_reason.as_deref().unwrap_or("")) } }
                dt { "Callback commands" } dd { (events_text(&e)) }
                dt { "Success rate (1 h)" } dd { (rate(&h.h)) }
                dt { "Last error" } dd { (h.h.last_error.as_deref().unwrap_or("none")) " " span.hint { (h.h.last_error_at.map(time::show).unwrap_or_default()) } }
                dt { "Breaker" } dd { (breaker_badge(&h.breaker)) }
                dt { "Queue" } dd { (queue(&h.h)) }
                dt { "Created" } dd { (time::show(e.created_at)) }
            }
        }
        div {
            form.inline method="post" action={ "/console/webhooks/" (id) "/enabled" } {
                (csrf(s))
                @if e.enabled {
                    input type="hidden" name="enabled" value="0";
                    button.secondary #disable type="submit" { "Disable" }
                } @else {
                    input type="hidden" name="enabled" value="1";
                    button #enable type="submit" { "Enable" }
                }
            }
            form.inline method="post" action={ "/console/webhooks/" (id) "/test" } {
                (csrf(s))
                button.secondary #send-test type="submit" { "Send a test event" }
            }
            form.inline method="post" action={ "/console/webhooks/" (id) "/delete" } data-confirm={ "Delete endpoint #" (id) " and all its deliveries?" } {
                (csrf(s))
                button.danger #delete type="submit" { "Delete" }
            }
        }
        h2 { "Signing secret" }
        div.panel {
            @if let Some(secret) = secret {
                p { "Current secret (Standard Webhooks " code { "webhook-signature" } "): " span.secret #secret { (secret) } }
            } @else {
                p { "The secret is hidden. Revealing it is recorded in the audit log." }
            }
            @if let Some(until) = e.prev_secret_expires_at.filter(|t| *t > Utc::now()) {
                p { "The previous secret also signs until " (time::show(until)) "." }
            }
            form.inline method="post" action={ "/console/webhooks/" (id) "/reveal" } {
                (csrf(s))
                button.secondary #reveal type="submit" { "Reveal secret" }
            }
            form.inline method="post" action={ "/console/webhooks/" (id) "/rotate" } {
                (csrf(s))
                div {
                    label for="grace" { "Old secret keeps signing for (seconds)" }
                    input #grace type="number" name="grace" min="0" max="604800" value="86400";
                }
                button.secondary #rotate type="submit" { "Rotate secret" }
            }
        }
        h2 { "Replay" }
        form.inline #replay-since method="post" action={ "/console/webhooks/" (id) "/replay" } {
            (csrf(s))
            div {
                label for="since" { "Created since (UTC)" }
                input #since type="datetime-local" step="1" name="since" required value=(an_hour_ago);
            }
            label.check { input type="checkbox" name="dead" checked; "dead" }
            label.check { input type="checkbox" name="failing" checked; "failing (pending after a failed attempt)" }
            button #replay-button type="submit" { "Replay" }
        }
        h2 { "Edit" }
        form.stack #edit-endpoint method="post" action={ "/console/webhooks/" (id) } {
            (csrf(s))
            (endpoint_fields(Some(&e)))
            div { button #save-endpoint type="submit" { "Save endpoint" } }
        }
        h2 { "Recent deliveries" }
        (super::deliveries::table(&recent))
        p { a href={ "/console/deliveries?endpoint=" (id) } { "All deliveries of this endpoint" } }
    };
    Ok(layout::page(state, s, "/console/webhooks", &format!("Endpoint #{id}"), body).await)
}

/// `GET /console/webhooks/{id}`.
pub async fn detail(
    state: web::Data<AppState>,
    s: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    detail_page(&state, &s, path_id(&id)?, None).await
}

/// Runs a change of endpoint `id`, flashes its outcome (refusals are the operator's to fix)
/// and returns to the endpoint's page.
async fn after(
    state: &AppState,
    s: &Session,
    id: i64,
    r: crate::error::ApiResult<String>,
) -> Result<HttpResponse, ConsoleError> {
    match r {
        Ok(text) => s.set_flash(state, false, text).await?,
        Err(e @ crate::error::ApiError::InvalidParam(_)) => s.set_flash(state, true, format!("Not done: {e}")).await?,
        Err(e) => return Err(e.into()),
    }
    Ok(layout::see_other(&format!("/console/webhooks/{id}")))
}

async fn apply(
    state: &AppState,
    form: &Posted,
    id: i64,
    change: EndpointChange,
    action: &'static str,
) -> crate::error::ApiResult<Endpoint> {
    let (policy, keys, who) = (state.webhook_policy.clone(), state.secrets.clone(), form.session.identifier.clone());
    let e = state
        .tx(move |c| {
            let old = describe(&endpoints::get(c, id, &keys)?);
            let e = endpoints::update(c, id, change.clone(), &policy, &keys)?;
            record(c, &who, action, id, Some(&old), Some(&describe(&e)))?;
            Ok(e)
        })
        .await?;
    state.webhook_wake.notify_one();
    Ok(e)
}

/// `POST /console/webhooks/{id}`.
pub async fn update(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let change = change_of(&form.fields)?;
    let r = apply(&state, &form, id, change, "webhook.update").await.map(|_| format!("Endpoint #{id} saved."));
    after(&state, &form.session, id, r).await
}

/// `POST /console/webhooks/{id}/enabled`.
pub async fn set_enabled(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let on = match form.fields.get("enabled") {
        "1" => true,
        "0" => false,
        other => return Err(ConsoleError::bad(format!("enabled must be 0 or 1, got {other:?}"))),
    };
    let change = EndpointChange { enabled: Some(on), ..EndpointChange::default() };
    let action = if on { "webhook.enable" } else { "webhook.disable" };
    let r = apply(&state, &form, id, change, action).await.map(|_| {
        if on {
            format!("Endpoint #{id} enabled; its paused deliveries are queued again.")
        } else {
            format!("Endpoint #{id} disabled; its pending deliveries are paused.")
        }
    });
    after(&state, &form.session, id, r).await
}

/// `POST /console/webhooks/{id}/delete`.
pub async fn delete(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let (keys, who) = (state.secrets.clone(), form.session.identifier.clone());
    let r = state
        .tx(move |c| {
            let old = describe(&endpoints::get(c, id, &keys)?);
            endpoints::delete(c, id)?;
            record(c, &who, "webhook.delete", id, Some(&old), None)
        })
        .await;
    match r {
        Ok(()) => form.session.set_flash(&state, false, format!("Endpoint #{id} deleted with its deliveries.")).await?,
        Err(e @ crate::error::ApiError::InvalidParam(_)) => {
            form.session.set_flash(&state, true, format!("Not deleted: {e}")).await?
        }
        Err(e) => return Err(e.into()),
    }
    Ok(layout::see_other("/console/webhooks"))
}

/// `POST /console/webhooks/{id}/reveal`: the page with the secret shown (answered directly,
/// never stored in a notice).
pub async fn reveal(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let (keys, who) = (state.secrets.clone(), form.session.identifier.clone());
    let secret = state
        .tx(move |c| {
            let e = endpoints::get(c, id, &keys)?;
            record(c, &who, "webhook.reveal_secret", id, None, None)?;
            Ok(e.secret.expose().to_string())
        })
        .await
        .map_err(ConsoleError::missing_record)?;
    detail_page(&state, &form.session, id, Some(&secret)).await
}

/// `POST /console/webhooks/{id}/rotate`: rotates and shows the new secret.
pub async fn rotate(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let grace = form.fields.int("grace", "The grace period", 0..=604_800)?.unwrap_or(86_400);
    let (keys, who) = (state.secrets.clone(), form.session.identifier.clone());
    let secret = state
        .tx(move |c| {
            let e = endpoints::rotate_secret(c, id, grace, &keys)?;
            record(c, &who, "webhook.rotate_secret", id, None, Some(&format!("old secret valid {grace} s more")))?;
            Ok(e.secret.expose().to_string())
        })
        .await
        .map_err(ConsoleError::missing_record)?;
    detail_page(&state, &form.session, id, Some(&secret)).await
}

/// `POST /console/webhooks/{id}/test`.
pub async fn test_event(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let origin = Origin { client_ip: crate::http::auth::client_ip(&state, &req), platform: "Web".into() };
    let payload = serde_json::json!({
        "CallbackCommand": TEST_EVENT,
        "Text": format!("a test event sent from the imreceipts console by {}", form.session.identifier),
        "EventTime": outbox::event_time_ms(),
    });
    let r = state.tx(move |c| outbox::enqueue_to(c, id, &origin, TEST_EVENT, &payload)).await;
    state.webhook_wake.notify_one();
    after(&state, &form.session, id, r.map(|_| "Test event queued: it shows in the delivery log below.".to_string()))
        .await
}

/// `POST /console/webhooks/{id}/replay`.
pub async fn replay_since(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path_id(&id)?;
    let f = &form.fields;
    let since = time::parse("Created since", f.get("since"))
        .map_err(ConsoleError::BadInput)?
        .ok_or_else(|| ConsoleError::bad("Created since is required: replay deliveries created since when?"))?;
    let (dead, failing) = (f.checked("dead"), f.checked("failing"));
    if !dead && !failing {
        return Err(ConsoleError::bad("Tick dead, failing or both: which deliveries to replay?"));
    }
    let who = form.session.identifier.clone();
    let r = state
        .tx(move |c| {
            endpoints::exists(c, id)?;
            let n = deliveries::replay_since(c, id, since, dead, failing)?;
            let what = format!("since {} dead={dead} failing={failing}: {n} queued", time::show(since));
            record(c, &who, "webhook.replay", id, None, Some(&what))?;
            Ok(n)
        })
        .await;
    state.webhook_wake.notify_one();
    after(&state, &form.session, id, r.map(|n| format!("{n} deliveries queued again."))).await
}
