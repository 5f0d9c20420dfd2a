//! Sign-in and sign-out.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use crate::console::layout;
use crate::console::session::{self, Credentials, Fields, Posted, SignIn};
use crate::console::ConsoleError;
use crate::state::AppState;

/// Query of the sign-in page.
#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

fn form(pre: &str, next: &str, identifier: &str, error: Option<&str>, notice: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { (layout::error_box(e)) }
        @if let Some(n) = notice { div.notice.ok role="status" { (n) } }
        p { "Sign in as an App admin (one of " code { "IMRECEIPTS_ADMINS" } ") with a UserSig for that identifier, or with the app's secret key. The server prints a ready admin UserSig when it starts." }
        form.stack method="post" action="/console/sign-in" {
            input type="hidden" name="csrf" value=(pre);
            input type="hidden" name="next" value=(next);
            div {
                label for="identifier" { "Admin identifier" }
                input #identifier type="text" name="identifier" value=(identifier) autocomplete="username" required autofocus;
            }
            div {
                label for="usersig" { "UserSig" span.hint { "Generate one with " code { "imreceipts usersig --identifier <admin>" } "." } }
                textarea #usersig name="usersig" autocomplete="off" spellcheck="false" {}
            }
            div {
                label for="secret_key" { "or the secret key" span.hint { "Leave empty when you give a UserSig." } }
                input #secret_key type="password" name="secret_key" autocomplete="current-password";
            }
            div { button #sign-in type="submit" { "Sign in" } }
        }
    }
}

fn page(
    req: &HttpRequest,
    status: StatusCode,
    next: &str,
    identifier: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    // A fresh double-submit token for each form shown (there is no session to hold one yet).
    let pre = session::random_token();
    let mut resp =
        layout::bare(status, "Sign in to the imreceipts console", form(&pre, next, identifier, error, notice));
    if let Ok(v) = header::HeaderValue::from_str(&session::set_cookie(req, session::PRE_COOKIE, &pre, 3600)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn next_or_home(next: Option<&str>) -> String {
    next.and_then(session::console_path).unwrap_or_else(|| "/console".to_string())
}

/// `GET /console/sign-in`.
pub async fn form_page(req: HttpRequest, q: web::Query<SignInQuery>) -> HttpResponse {
    let next = next_or_home(q.next.as_deref());
    let notice = q.signed_out.as_ref().map(|_| "You are signed out.");
    page(&req, StatusCode::OK, &next, "", None, notice)
}

/// `POST /console/sign-in`.
pub async fn submit(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let fields = Fields::parse(&body);
    let next = next_or_home(Some(fields.get("next")));
    let identifier = fields.get("identifier").to_string();
    let pre = session::cookie(&req, session::PRE_COOKIE).unwrap_or_default();
    if pre.is_empty() || !session::same(&pre, fields.get("csrf")) {
        let why = "The sign-in form expired or did not come from this console (its security token does not match). Try again.";
        return page(&req, StatusCode::FORBIDDEN, &next, &identifier, Some(why), None);
    }
    let creds = Credentials {
        identifier: identifier.clone(),
        usersig: fields.get("usersig").to_string(),
        secret_key: fields.get("secret_key").to_string(),
    };
    let ip = crate::http::auth::client_ip(&state, &req);
    match session::sign_in(&state, ip, creds).await {
        Ok(SignIn::Ok(token)) => {
            tracing::info!(identifier = %identifier, "console: signed in");
            let mut resp = layout::see_other(&next);
            for c in [
                session::set_cookie(&req, session::COOKIE, &token, session::SESSION_SECS),
                session::set_cookie(&req, session::PRE_COOKIE, "", 0),
            ] {
                if let Ok(v) = header::HeaderValue::from_str(&c) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Ok(SignIn::Refused(why)) => {
            tracing::info!(identifier = %identifier, "console: sign-in refused");
            page(&req, StatusCode::UNAUTHORIZED, &next, &identifier, Some(&why), None)
        }
        Ok(SignIn::Limited(wait)) => {
            let why = format!(
                "Too many failed sign-ins from your address ({} within {} minutes). Try again in {wait} seconds.",
                session::MAX_FAILURES,
                session::FAILURE_WINDOW_SECS / 60
            );
            let mut resp = page(&req, StatusCode::TOO_MANY_REQUESTS, &next, &identifier, Some(&why), None);
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
            resp
        }
        Err(e) => actix_web::ResponseError::error_response(&ConsoleError::Api(e)),
    }
}

/// `POST /console/sign-out`.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Posted,
) -> Result<HttpResponse, ConsoleError> {
    form.session.end(&state).await?;
    let mut resp = layout::see_other("/console/sign-in?signed_out=1");
    if let Ok(v) = header::HeaderValue::from_str(&session::set_cookie(&req, session::COOKIE, "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
