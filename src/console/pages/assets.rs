//! The console's stylesheet and script, compiled into the binary (no CDN, no build step).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

/// `GET /console/assets/{name}`.
pub async fn asset(name: web::Path<String>) -> HttpResponse {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().content_type("text/plain").body("no such console asset"),
    };
    HttpResponse::Ok()
        .content_type(kind)
        // Revalidated each time: the binary may have been upgraded under the same URL.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}
