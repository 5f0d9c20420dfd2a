//! The page shell every console page shares: head, navigation, notices, and small helpers.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::session::Session;
use crate::state::AppState;

/// The navigation entries: (path, label).
const NAV: [(&str, &str); 6] = [
    ("/console", "Overview"),
    ("/console/settings", "Receipt settings"),
    ("/console/webhooks", "Webhooks"),
    ("/console/deliveries", "Delivery log"),
    ("/console/inspect", "Message inspector"),
    ("/console/audit", "Audit log"),
];

/// Scripts only from this server, no inline code, no framing (clickjacking).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · imreceipts console" }
        link rel="stylesheet" href="/console/assets/console.css";
        script src="/console/assets/console.js" defer {}
    }
}

/// An HTML answer with the console's security headers.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(markup.into_string())
}

/// A page without navigation (sign-in, errors).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    respond(
        status,
        html! {
            (DOCTYPE)
            html lang="en" {
                head { (head(title)) }
                body.bare {
                    main #main {
                        h1 { (title) }
                        (body)
                        p { a href="/console" { "Back to the console" } }
                    }
                }
            }
        },
    )
}

/// A page of a signed-in admin: shows (and then clears) the session's notice.
pub async fn page(state: &AppState, s: &Session, active: &str, title: &str, body: Markup) -> HttpResponse {
    if s.flash.is_some() {
        // A notice that cannot be cleared shows again on the next page: harmless.
        if let Err(e) = s.clear_flash(state).await {
            tracing::warn!(error = %e, "console: clearing a notice");
        }
    }
    respond(
        StatusCode::OK,
        html! {
            (DOCTYPE)
            html lang="en" {
                head { (head(title)) }
                body {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        span.brand { "imreceipts console" }
                        nav aria-label="Console sections" {
                            ul {
                                @for (path, label) in NAV {
                                    li {
                                        @if path == active {
                                            a href=(path) aria-current="page" { (label) }
                                        } @else {
                                            a href=(path) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/console/sign-out" {
                            (csrf(s))
                            span { "Signed in as " strong { (s.identifier) } }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                    main #main tabindex="-1" {
                        h1 { (title) }
                        @if let Some(f) = &s.flash {
                            @if f.error {
                                div.notice.error role="alert" { (f.text) }
                            } @else {
                                div.notice.ok role="status" #notice { (f.text) }
                            }
                        }
                        (body)
                    }
                }
            }
        },
    )
}

/// The hidden CSRF field of a form.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// An error message box.
pub fn error_box(text: &str) -> Markup {
    html! { div.notice.error role="alert" { (text) } }
}

/// A table that scrolls sideways on narrow screens instead of overflowing the page.
pub fn table(caption: &str, head: &[&str], rows: Markup) -> Markup {
    html! {
        div.table-wrap {
            table {
                caption { (caption) }
                thead { tr { @for h in head { th scope="col" { (h) } } } }
                tbody { (rows) }
            }
        }
    }
}

/// An HTML fragment (live regions fetch these).
pub fn fragment(markup: Markup) -> HttpResponse {
    respond(StatusCode::OK, markup)
}

/// A 303 to `to` (after a form post).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_string())).finish()
}
