//! The delivery log (filters, paging), one delivery's body and attempts, and replay.

use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use crate::console::layout::{self, csrf};
use crate::console::session::{Posted, Session};
use crate::console::{time, ConsoleError};
use crate::domain::audit::{self, Change, Via};
use crate::state::AppState;
use crate::webhooks::deliveries::{self, AttemptView, DeliveryFilter, DeliveryState, DeliveryView};
use crate::webhooks::outbox::EVENT_TYPES;

const PAGE: i64 = 50;

fn state_badge(s: DeliveryState) -> Markup {
    let class = match s {
        DeliveryState::Succeeded => "badge good",
        DeliveryState::Dead => "badge bad",
        _ => "badge",
    };
    html! { span class=(class) { (s.name()) } }
}

/// A table of deliveries, newest first.
pub fn table(rows: &[DeliveryView]) -> Markup {
    let body = html! {
        @for d in rows {
            tr {
                td { a href={ "/console/deliveries/" (d.id) } { "#" (d.id) } }
                td { a href={ "/console/webhooks/" (d.endpoint_id) } { "#" (d.endpoint_id) } }
                td { code { (d.event_type) } }
                td { (state_badge(d.state)) }
                td.num { (d.attempts) }
                td { @if let Some(s) = d.last_status { (s) } @if let Some(e) = &d.last_error { " " span.hint { (e) } } }
                td { (time::show(d.created_at)) }
            }
        }
        @if rows.is_empty() { tr { td colspan="7" { "No deliveries match." } } }
    };
    layout::table(
        "Deliveries, newest first",
        &["Delivery", "Endpoint", "Callback command", "State", "Attempts", "Last answer", "Created"],
        body,
    )
}

/// Filters of the delivery log, as in its query string.
#[derive(Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    command: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    before: String,
}

impl LogQuery {
    fn filter(&self) -> Result<DeliveryFilter, ConsoleError> {
        let int = |v: &str, what: &str| -> Result<Option<i64>, ConsoleError> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            v.trim().parse().map(Some).map_err(|_| ConsoleError::bad(format!("{what} must be a number, got {v:?}")))
        };
        let state = match self.state.as_str() {
            "" => None,
            s => Some(DeliveryState::from_name(s).ok_or_else(|| {
                ConsoleError::bad(format!("state {s:?} must be pending, in_flight, succeeded, dead or paused"))
            })?),
        };
        let command = self.command.trim();
        if !command.is_empty() && command.len() > 100 {
            return Err(ConsoleError::bad("the callback command is longer than 100 characters"));
        }
        Ok(DeliveryFilter {
            endpoint_id: int(&self.endpoint, "The endpoint")?,
            state,
            since: time::parse("Since", &self.since).map_err(ConsoleError::BadInput)?,
            until: time::parse("Until", &self.until).map_err(ConsoleError::BadInput)?,
            event_type: (!command.is_empty()).then(|| command.to_string()),
            before_id: int(&self.before, "The page cursor")?,
            limit: PAGE,
        })
    }

    fn with_before(&self, before: i64) -> String {
        let q: Vec<(&str, &str)> = [
            ("endpoint", self.endpoint.as_str()),
            ("state", self.state.as_str()),
            ("command", self.command.as_str()),
            ("since", self.since.as_str()),
            ("until", self.until.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(q);
        s.append_pair("before", &before.to_string());
        format!("/console/deliveries?{}", s.finish())
    }
}

fn filters(q: &LogQuery) -> Markup {
    let commands: Vec<&str> = EVENT_TYPES.iter().copied().chain([super::webhooks::TEST_EVENT]).collect();
    html! {
        form.filters #filters method="get" action="/console/deliveries" role="search" aria-label="Filter deliveries" {
            div { label for="f-endpoint" { "Endpoint id" } input #f-endpoint type="number" name="endpoint" min="1" value=(q.endpoint); }
            div {
                label for="f-state" { "State" }
                select #f-state name="state" {
                    option value="" selected[q.state.is_empty()] { "any" }
                    @for s in DeliveryState::ALL { option value=(s.name()) selected[q.state == s.name()] { (s.name()) } }
                }
            }
            div {
                label for="f-command" { "Callback command" }
                select #f-command name="command" {
                    option value="" selected[q.command.is_empty()] { "any" }
                    @for c in commands { option value=(c) selected[q.command == c] { (c) } }
                }
            }
            div { label for="f-since" { "Created since (UTC)" } input #f-since type="datetime-local" step="1" name="since" value=(q.since); }
            div { label for="f-until" { "Created before (UTC)" } input #f-until type="datetime-local" step="1" name="until" value=(q.until); }
            div { button #apply-filters type="submit" { "Show" } }
        }
    }
}

/// `GET /console/deliveries`.
pub async fn log(
    state: web::Data<AppState>,
    s: Session,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let filter = q.filter()?;
    let (rows, finished) = state.db(move |c| deliveries::list(c, filter)).await?;
    let body = html! {
        (filters(&q))
        (table(&rows))
        nav.pager aria-label="Delivery log pages" {
            @if !q.before.is_empty() { a href="/console/deliveries" { "Newest" } }
            @if !finished { @if let Some(last) = rows.last() { a #older href=(q.with_before(last.id)) { "Older deliveries" } } }
        }
    };
    Ok(layout::page(&state, &s, "/console/deliveries", "Delivery log", body).await)
}

fn attempts_table(attempts: &[AttemptView]) -> Markup {
    let rows = html! {
        @for a in attempts {
            tr {
                td.num { (a.attempt_no) }
                td { (time::show(a.started_at)) }
                td.num { (a.latency_ms) " ms" }
                td { @match a.status_code { Some(s) => (s), None => span.muted { "no answer" } } }
                td { (a.error.as_deref().unwrap_or("")) }
                td { @if let Some(r) = &a.response_prefix { code { (r) } } }
            }
        }
        @if attempts.is_empty() { tr { td colspan="6" { "No attempt yet." } } }
    };
    layout::table(
        "Attempts, oldest first",
        &["#", "Started", "Latency", "Status", "Error", "Response (first bytes)"],
        rows,
    )
}

fn summary(d: &DeliveryView) -> Markup {
    html! {
        dl.facts #delivery-facts {
            dt { "Endpoint" } dd { a href={ "/console/webhooks/" (d.endpoint_id) } { "#" (d.endpoint_id) } }
            dt { "Callback command" } dd { code { (d.event_type) } }
            dt { "webhook-id" } dd { code { (d.webhook_id) } }
            dt { "State" } dd #delivery-state { (state_badge(d.state)) }
            dt { "Attempts" } dd #delivery-attempts { (d.attempts) }
            dt { "Created" } dd { (time::show(d.created_at)) }
            dt { "Next attempt" } dd { @if d.state == DeliveryState::Pending { (time::show(d.next_attempt_at)) } @else { "-" } }
            dt { "Finished" } dd { (d.finished_at.map(time::show).unwrap_or_else(|| "-".into())) }
        }
    }
}

fn live_part(d: &DeliveryView, attempts: &[AttemptView]) -> Markup {
    html! { (summary(d)) h2 { "Attempts" } (attempts_table(attempts)) }
}

fn delivery_id(raw: &str) -> Result<i64, ConsoleError> {
    raw.parse::<i64>().map_err(|_| ConsoleError::NotFound(format!("{raw:?} is not a delivery id")))
}

async fn load(state: &AppState, id: i64) -> Result<(DeliveryView, Vec<u8>, Vec<AttemptView>), ConsoleError> {
    state.db(move |c| deliveries::delivery(c, id)).await.map_err(ConsoleError::missing_record)
}

/// `GET /console/deliveries/{id}`.
pub async fn detail(
    state: web::Data<AppState>,
    s: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = delivery_id(&id)?;
    let (d, body, attempts) = load(&state, id).await?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let page = html! {
        div #delivery-live data-live={ "/console/deliveries/" (id) "/attempts" } data-every="1500" aria-live="polite" {
            (live_part(&d, &attempts))
        }
        form.inline method="post" action={ "/console/deliveries/" (id) "/replay" } {
            (csrf(&s))
            button #replay type="submit" { "Replay this delivery" }
            span.hint { "Queued again with the same webhook-id and body, on a fresh retry schedule." }
        }
        h2 { "Body" span.hint { "Exactly as POSTed (" (body.len()) " bytes)." } }
        pre #delivery-body { (text) }
    };
    Ok(layout::page(&state, &s, "/console/deliveries", &format!("Delivery #{id}"), page).await)
}

/// `GET /console/deliveries/{id}/attempts`: the live part of the delivery page.
pub async fn attempts_live(
    state: web::Data<AppState>,
    _: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let (d, _, attempts) = load(&state, delivery_id(&id)?).await?;
    Ok(layout::fragment(live_part(&d, &attempts)))
}

/// `POST /console/deliveries/{id}/replay`.
pub async fn replay(
    state: web::Data<AppState>,
    form: Posted,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = delivery_id(&id)?;
    let who = form.session.identifier.clone();
    let r = state
        .tx(move |c| {
            let n = deliveries::replay_one(c, id)?;
            let target = format!("delivery {id}");
            let new = if n == 1 { "queued" } else { "in flight: not queued" };
            audit::record(
                c,
                &Change {
                    actor: &who,
                    via: Via::Console,
                    action: "webhook.replay",
                    target: &target,
                    old: None,
                    new: Some(new),
                },
            )?;
            Ok(n)
        })
        .await;
    state.webhook_wake.notify_one();
    match r {
        Ok(1) => form.session.set_flash(&state, false, format!("Delivery #{id} queued again.")).await?,
        Ok(_) => {
            form.session
                .set_flash(
                    &state,
                    true,
                    format!("Delivery #{id} is being sent right now; replay it once this attempt ends."),
                )
                .await?
        }
        Err(crate::error::ApiError::InvalidParam(m)) => return Err(ConsoleError::NotFound(m)),
        Err(e) => return Err(e.into()),
    }
    Ok(layout::see_other(&format!("/console/deliveries/{id}")))
}
