//! Operations routes outside `/v4` auth: liveness, readiness, metrics.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ready = state
        .db(|c| {
            // A typed query first: a lost connection is then recognised (and dropped), which the
            // migration check's stringly error would hide.
            diesel::sql_query("SELECT 1").execute(c)?;
            crate::db::migrations_applied(c).map_err(crate::error::ApiError::Internal)
        })
        .await;
    match ready {
        Ok(true) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Ok(false) => HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "migrations pending"})),
        Err(e @ crate::error::ApiError::DbUnavailable(crate::db::fault::Unavailable::PoolExhausted)) => {
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "database busy", "error": e.to_string()}))
        }
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "database unreachable", "error": e.to_string()})),
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let queue = state
        .db(|c| {
            use crate::db::schema::webhook_deliveries::dsl::*;
            let rows: Vec<(i16, i64)> =
                webhook_deliveries.group_by(state).select((state, diesel::dsl::count_star())).load(c)?;
            Ok(rows)
        })
        .await
        .unwrap_or_default();
    let named: Vec<(String, i64)> =
        queue.into_iter().map(|(s, n)| (crate::webhooks::state_name(s).to_string(), n)).collect();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render(&named))
}
