//! Operations routes outside `/v4` auth: liveness, readiness, metrics.

use actix_web::{web, HttpResponse};
use diesel::RunQueryDsl;

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
    if let Err(crate::error::ApiError::DbUnavailable(why)) = &ready {
        state.metrics.observe_db_unavailable(why.label());
    }
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
    let queue = state.db(crate::webhooks::deliveries::count_by_state).await.unwrap_or_default();
    let named: Vec<(String, i64)> = queue.into_iter().map(|(s, n)| (s.name().to_string(), n)).collect();
    let mut out = state.metrics.render(&named);
    // Sizes come from the catalog (cheap); a failure leaves them out rather than the page.
    if let Ok(sizes) = state.db(crate::retention::table_sizes).await {
        out.push_str("# TYPE imreceipts_table_bytes gauge\n");
        for (table, bytes, _) in &sizes {
            out.push_str(&format!("imreceipts_table_bytes{{table=\"{table}\"}} {bytes}\n"));
        }
        out.push_str("# TYPE imreceipts_table_rows_estimate gauge\n");
        for (table, _, rows) in &sizes {
            out.push_str(&format!("imreceipts_table_rows_estimate{{table=\"{table}\"}} {rows}\n"));
        }
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out)
}
