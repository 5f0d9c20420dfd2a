//! The HTTP surface: the `/v4/{service}/{command}` dispatcher, envelope and operations routes.

pub mod auth;
pub mod body;
mod group;
mod group_msg;
mod login;
mod openim;
mod ops;
mod privacy;
pub mod rate_limit;
mod read_stats;
mod receipt;
mod routes;
mod stream;
mod webhook;
mod wire;

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::error::{ApiError, Service};
use crate::state::AppState;

pub use routes::{Route, ROUTES};

/// Registers every route on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v4/receipt_svc/event_stream", web::get().to(stream::event_stream))
        .route("/v4/{service}/{command}", web::post().to(dispatch))
        .route("/v4/{service}/{command}", web::route().to(not_post))
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .configure(crate::console::configure);
}

fn service_of(name: &str) -> Service {
    match name {
        "im_open_login_svc" => Service::Login,
        "openim" => Service::OpenIm,
        "group_open_http_svc" => Service::Group,
        _ => Service::Extension,
    }
}

/// The Tencent envelope of a failed call.
fn envelope(e: ApiError, service: Service) -> Value {
    serde_json::json!({
        "ActionStatus": "FAIL",
        "ErrorCode": e.code(service),
        "ErrorInfo": e.to_string(),
    })
}

/// Wraps a handler's serialized fields (a JSON object) in the success envelope, by splicing
/// bytes rather than building a tree of the whole answer.
fn envelope_ok(fields: &[u8]) -> Vec<u8> {
    const HEAD: &[u8] = br#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"""#;
    let inner = fields.strip_prefix(b"{").and_then(|f| f.strip_suffix(b"}")).unwrap_or_default();
    let mut out = Vec::with_capacity(HEAD.len() + fields.len() + 1);
    out.extend_from_slice(HEAD);
    if !inner.iter().all(u8::is_ascii_whitespace) {
        out.push(b',');
        out.extend_from_slice(inner);
    }
    out.push(b'}');
    out
}

/// Tencent's REST API is POST only; other methods still get the envelope, not a bare 404/405.
async fn not_post(req: HttpRequest) -> HttpResponse {
    let err = ApiError::BadQuery(format!("{} is not supported: every /v4 command is called with POST", req.method()));
    HttpResponse::Ok().json(envelope(err, Service::Extension))
}

async fn dispatch(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let (service, command) = path.into_inner();
    let svc = service_of(&service);
    let result = handle(&state, &req, &service, &command, payload).await;
    match &result {
        Err(ApiError::Internal(cause)) => tracing::error!(%service, %command, error = ?cause, "internal error"),
        // Counted per call answered, however many calls one failed batch write carried.
        Err(ApiError::DbUnavailable(why)) => state.metrics.observe_db_unavailable(why.label()),
        _ => {}
    }
    let code = result.as_ref().err().map(|e| e.code(svc)).unwrap_or(0);
    let elapsed = started.elapsed();
    let known = ROUTES.iter().any(|r| r.service == service && r.command == command);
    let label = if known { format!("{service}/{command}") } else { "unknown".to_string() };
    state.metrics.observe_request(&label, code, elapsed);
    tracing::info!(command = %label, error_code = code, latency_ms = elapsed.as_secs_f64() * 1e3, "request");
    match result {
        Ok(fields) => HttpResponse::Ok().content_type("application/json").body(envelope_ok(&fields)),
        Err(e) => HttpResponse::Ok().json(envelope(e, svc)),
    }
}

async fn handle(
    state: &AppState,
    req: &HttpRequest,
    service: &str,
    command: &str,
    payload: web::Payload,
) -> Result<Vec<u8>, ApiError> {
    let query = auth::parse_query(state, req.query_string())?;
    let route = ROUTES
        .iter()
        .find(|r| r.service == service && r.command == command)
        .ok_or_else(|| ApiError::UnknownCommand(format!("{service}/{command}")))?;
    let caller = auth::verify(state, &query, auth::client_ip(state, req), chrono::Utc::now().timestamp())?;
    state.admit(&caller, command)?;
    if route.access == auth::Access::Admin && !caller.is_admin {
        return Err(ApiError::AdminRequired(format!(
            "{service}/{command} needs an App admin identifier; {:?} is not one",
            caller.identifier
        )));
    }
    if !caller.is_admin {
        let who = caller.identifier.clone();
        state.db(move |c| crate::domain::accounts::require(c, &who)).await?;
    }
    let body = body::read(req, payload, state.body_timeout).await?;
    (route.handler)(state.clone(), caller, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_success_envelope_wraps_any_object() {
        for fields in [&b"{}"[..], b"{\"MsgSeq\":3,\"List\":[{}]}"] {
            let v: Value = serde_json::from_slice(&envelope_ok(fields)).unwrap();
            assert_eq!(v["ActionStatus"], "OK");
            assert_eq!(v["ErrorCode"], 0);
            assert_eq!(v["ErrorInfo"], "");
            let inner: Value = serde_json::from_slice(fields).unwrap();
            for (k, x) in inner.as_object().unwrap() {
                assert_eq!(&v[k], x);
            }
        }
    }
}
