//! Request bodies: read with a hard size limit and parsed as JSON whatever the Content-Type.

use std::time::Duration;

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads the body, refusing (without reading it all) anything over [`MAX_BODY`], and anything
/// not received within `timeout` (a slowly dripped body would hold a worker slot for ever).
pub async fn read(req: &HttpRequest, payload: web::Payload, timeout: Duration) -> Result<web::Bytes, ApiError> {
    if let Some(len) = req.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
        if len > MAX_BODY {
            return Err(too_big());
        }
    }
    tokio::time::timeout(timeout, collect(payload)).await.map_err(|_| {
        ApiError::BadJson(format!("the request body was not received within {} s", timeout.as_secs_f64()))
    })?
}

fn too_big() -> ApiError {
    ApiError::BadJson(format!("request body is larger than {MAX_BODY} bytes (1 MiB)"))
}

async fn collect(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadJson(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a JSON request body; syntax errors are 60003, shape errors are invalid parameters.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::BadJson("the request body is empty; send {} when a command takes no fields".into()));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadJson(format!("the request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadJson("the request body must be a JSON object".into()));
    }
    if let Some(problem) = shape_problem(&value, false) {
        return Err(ApiError::invalid(problem));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("invalid request: {e}")))
}

/// Most entries of any list in a request: Tencent's largest lists (`batchsendmsg` receivers,
/// member imports) hold 500, so anything far beyond is a mistake or an attack.
pub const MAX_LIST: usize = 1000;

/// What is wrong with the request's shape, if anything: a string (or key) outside a `MsgBody`
/// with U+0000, which PostgreSQL cannot store in text or jsonb (message bodies are stored as
/// `json` text, escapes and all), or a list longer than [`MAX_LIST`].
fn shape_problem(v: &serde_json::Value, in_body: bool) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) if !in_body && s.contains('\0') => {
            Some("strings outside MsgBody must not contain the NUL character (\\u0000)".into())
        }
        Value::Array(items) if items.len() > MAX_LIST => {
            Some(format!("a list in the request has {} entries; at most {MAX_LIST} are accepted", items.len()))
        }
        Value::Array(items) => items.iter().find_map(|i| shape_problem(i, in_body)),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if !in_body && k.contains('\0') {
                return Some("keys must not contain the NUL character (\\u0000)".into());
            }
            shape_problem(v, in_body || k == "MsgBody")
        }),
        _ => None,
    }
}
