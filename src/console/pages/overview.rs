//! The overview: activity charts of the last hour and what this server is and runs on.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use maud::{html, Markup};

use crate::console::charts::{line_chart, Series};
use crate::console::history::{Minute, OUTCOMES};
use crate::console::layout;
use crate::console::session::Session;
use crate::console::ConsoleError;
use crate::state::AppState;

/// Facts about the database, read on each visit.
struct DbFacts {
    version: String,
    name: String,
    migrations: String,
    queue: Vec<(String, i64)>,
}

async fn db_facts(state: &AppState) -> Result<DbFacts, ConsoleError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    Ok(state
        .db(|c| {
            let r: Row =
                diesel::sql_query("SELECT version() AS version, current_database()::text AS name").get_result(c)?;
            let applied = crate::db::migrations_applied(c).map_err(crate::error::ApiError::Internal)?;
            let queue = crate::webhooks::deliveries::count_by_state(c)?;
            Ok(DbFacts {
                version: r.version,
                name: r.name,
                migrations: if applied { "all applied".into() } else { "pending: run imreceipts migrate".into() },
                queue: queue.into_iter().map(|(s, n)| (s.name().to_string(), n)).collect(),
            })
        })
        .await?)
}

fn charts(hour: &[Minute]) -> Markup {
    let receipts = Series {
        label: "receipt calls",
        class: "s0",
        values: hour.iter().map(|m| Some(m.receipts as f64 / 60.0)).collect(),
    };
    let outcomes: Vec<Series<'_>> = OUTCOMES
        .iter()
        .enumerate()
        .map(|(i, o)| Series {
            label: o,
            class: ["s0", "s1", "s2", "s3", "s4"][i],
            values: hour.iter().map(|m| Some(m.webhooks[i] as f64)).collect(),
        })
        .collect();
    let queue = Series {
        label: "queued deliveries",
        class: "s1",
        values: hour.iter().map(|m| m.queue.map(|q| q as f64)).collect(),
    };
    html! {
        div.grid {
            (line_chart("chart-receipts", "Receipts per second", "/s", &[receipts]))
            (line_chart("chart-webhooks", "Webhook attempts by outcome", "per min", &outcomes))
            (line_chart("chart-queue", "Webhook queue depth", "deliveries", &[queue]))
        }
    }
}

/// `GET /console`.
pub async fn page(state: web::Data<AppState>, s: Session) -> Result<HttpResponse, ConsoleError> {
    let facts = db_facts(&state).await?;
    let hour = state.metrics.history.last_hour();
    let body = html! {
        div #overview-live data-live="/console/overview/live" data-every="10000" { (charts(&hour)) }
        div.grid {
            section.panel aria-labelledby="server-h" {
                h2 #server-h { "Server" }
                dl.facts {
                    dt { "Version" } dd #version { "imreceipts " (env!("CARGO_PKG_VERSION")) }
                    dt { "SDKAppID" } dd { (state.app.sdkappid) }
                    dt { "PostgreSQL" } dd { (facts.version) }
                    dt { "Database name" } dd { (facts.name) }
                    dt { "Migrations" } dd { (facts.migrations) }
                    dt { "Webhook deliveries" } dd {
                        @if facts.queue.is_empty() { "none" }
                        @for (i, (st, n)) in facts.queue.iter().enumerate() { @if i > 0 { ", " } (n) " " (st) }
                    }
                    dt { "Webhook secrets key" } dd { "key id " code { (state.secrets.current_id()) } }
                }
            }
            section.panel aria-labelledby="config-h" {
                h2 #config-h { "Configuration" }
                dl.facts {
                    @for (k, v) in &state.console.summary { dt { (k) } dd { (v) } }
                }
            }
        }
    };
    Ok(layout::page(&state, &s, "/console", "Overview", body).await)
}

/// `GET /console/overview/live`: the charts alone.
pub async fn live(state: web::Data<AppState>, _: Session) -> HttpResponse {
    layout::fragment(charts(&state.metrics.history.last_hour()))
}
