//! Request bodies: read with a hard size limit and parsed as JSON whatever the Content-Type.

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads the body, refusing (without reading it all) anything over [`MAX_BODY`].
pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let too_big = || ApiError::BadJson(format!("request body is larger than {MAX_BODY} bytes (1 MiB)"));
    if let Some(len) = req.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
        if len > MAX_BODY {
            return Err(too_big());
        }
    }
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
    if has_nul(&value) {
        // PostgreSQL cannot store U+0000 in text or jsonb: refuse it here, clearly. Message
        // bodies are the exception: they are stored as `json` text, escapes and all.
        return Err(ApiError::invalid("strings outside MsgBody must not contain the NUL character (\\u0000)"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("invalid request: {e}")))
}

/// Whether any string (or key) in `v` outside a `MsgBody` contains U+0000.
fn has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || (k != "MsgBody" && has_nul(v))),
        _ => false,
    }
}
