//! Console sign-in sessions: a random cookie whose SHA-256 names a `console_sessions` row, a
//! per-session CSRF token checked on every posted form, and a database-wide limit on failed
//! sign-ins per client address.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::PgConnection;
use futures_util::future::LocalBoxFuture;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::ConsoleError;
use crate::db::schema::{console_sessions, console_signin_failures};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "imr_console";
/// The sign-in form's own CSRF cookie (double submit: there is no session yet).
pub const PRE_COOKIE: &str = "imr_console_pre";
/// A session lasts this long from sign-in.
pub const SESSION_SECS: i64 = 12 * 3600;
/// Failed sign-ins from one address within [`FAILURE_WINDOW_SECS`] before further tries wait.
pub const MAX_FAILURES: i64 = 5;
/// The window of [`MAX_FAILURES`].
pub const FAILURE_WINDOW_SECS: i64 = 600;
/// Largest posted form (the biggest is an endpoint edit).
const FORM_LIMIT: usize = 64 * 1024;

/// A random 256-bit token as hex.
pub fn random_token() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 32]>())
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality whose time does not depend on where the inputs differ (tokens and keys).
pub fn same(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q)) == 0
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, scoped to the console, Secure when the
/// request came over TLS (directly or as the proxy reports it); `max_age` 0 deletes it.
pub fn set_cookie(req: &HttpRequest, name: &str, value: &str, max_age: i64) -> String {
    let secure = if req.connection_info().scheme() == "https" { "; Secure" } else { "" };
    format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// A signed-in admin. As an extractor it loads the session named by the cookie, or fails with
/// a redirect to the sign-in page (so a handler cannot forget to check it).
#[derive(Debug, Clone)]
pub struct Session {
    /// The admin identifier that signed in.
    pub identifier: String,
    /// The token every posted form must carry.
    pub csrf: String,
    /// A notice left by the previous form post.
    pub flash: Option<Flash>,
    token_hash: String,
}

/// A notice shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// An error (rather than a confirmation).
    pub error: bool,
    /// The text.
    pub text: String,
}

impl Flash {
    fn encode(&self) -> String {
        format!("{}|{}", if self.error { "error" } else { "ok" }, self.text)
    }

    fn decode(s: &str) -> Flash {
        match s.split_once('|') {
            Some(("error", t)) => Flash { error: true, text: t.to_string() },
            Some((_, t)) => Flash { error: false, text: t.to_string() },
            None => Flash { error: false, text: s.to_string() },
        }
    }
}

/// Creates a session for `identifier`; returns the cookie value. Expired sessions are removed
/// on the way (sign-ins are rare, so this keeps the table small without a worker).
pub fn create(conn: &mut PgConnection, identifier: &str) -> ApiResult<String> {
    diesel::delete(console_sessions::table.filter(console_sessions::expires_at.lt(diesel::dsl::now))).execute(conn)?;
    let token = random_token();
    diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::token_hash.eq(hash(&token)),
            console_sessions::identifier.eq(identifier),
            console_sessions::csrf_token.eq(random_token()),
            console_sessions::expires_at.eq(Utc::now() + Duration::seconds(SESSION_SECS)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The live session of cookie value `token`, if any.
fn load(conn: &mut PgConnection, token: &str) -> ApiResult<Option<Session>> {
    let h = hash(token);
    let row: Option<(String, String, Option<String>)> = console_sessions::table
        .find(&h)
        .filter(console_sessions::expires_at.gt(diesel::dsl::now))
        .select((console_sessions::identifier, console_sessions::csrf_token, console_sessions::flash))
        .first(conn)
        .optional()?;
    Ok(row.map(|(identifier, csrf, flash)| Session {
        identifier,
        csrf,
        flash: flash.as_deref().map(Flash::decode),
        token_hash: h,
    }))
}

impl Session {
    /// Ends the session.
    pub async fn end(&self, state: &AppState) -> ApiResult<()> {
        let h = self.token_hash.clone();
        state.db(move |c| Ok(diesel::delete(console_sessions::table.find(h)).execute(c)?)).await?;
        Ok(())
    }

    /// Leaves `text` for the next page.
    pub async fn set_flash(&self, state: &AppState, error: bool, text: impl Into<String>) -> ApiResult<()> {
        let (h, f) = (self.token_hash.clone(), Flash { error, text: text.into() }.encode());
        state
            .db(move |c| {
                Ok(diesel::update(console_sessions::table.find(h))
                    .set(console_sessions::flash.eq(Some(f)))
                    .execute(c)?)
            })
            .await?;
        Ok(())
    }

    /// Clears the notice once a page has shown it.
    pub async fn clear_flash(&self, state: &AppState) -> ApiResult<()> {
        let h = self.token_hash.clone();
        state
            .db(move |c| {
                Ok(diesel::update(console_sessions::table.find(h))
                    .set(console_sessions::flash.eq(None::<String>))
                    .execute(c)?)
            })
            .await?;
        Ok(())
    }
}

/// The console path (and query) a request asked for, to return to after signing in.
fn wanted(req: &HttpRequest) -> String {
    // A posted form cannot be replayed after sign-in; its page can.
    if req.method() == actix_web::http::Method::POST {
        return req
            .headers()
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(console_path)
            .unwrap_or_else(|| "/console".into());
    }
    req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/console".into())
}

/// The path and query of `url` when it is a console page (absolute or not); never another site.
pub fn console_path(url: &str) -> Option<String> {
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            &rest[rest.find('/')?..]
        }
        None => url,
    };
    (path == "/console" || path.starts_with("/console/") || path.starts_with("/console?"))
        .then(|| path.to_string())
        .filter(|p| !p.contains("//") && !p.contains('\\'))
}

fn state_of(req: &HttpRequest) -> Result<AppState, ConsoleError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| ConsoleError::Api(ApiError::Internal(anyhow::anyhow!("console: no AppState registered"))))
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Session, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (state, token, next) = (state_of(req), cookie(req, COOKIE), wanted(req));
        Box::pin(async move {
            let state = state?;
            let Some(token) = token.filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())) else {
                return Err(ConsoleError::SignIn { next });
            };
            state.db(move |c| load(c, &token)).await?.ok_or(ConsoleError::SignIn { next })
        })
    }
}

/// The fields of a posted form, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or_default()
    }

    /// Every value of `name` (checkbox groups).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).collect()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// `name` as an integer within `range`; `None` when empty.
    pub fn int(
        &self,
        name: &str,
        label: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ConsoleError> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ConsoleError::bad(format!(
                "{label} must be a whole number from {} to {}, got {v:?}",
                range.start(),
                range.end()
            ))),
        }
    }
}

/// A posted form from a signed-in admin whose CSRF token matched: the only way handlers of
/// state-changing requests receive their input.
pub struct Posted {
    /// The session.
    pub session: Session,
    /// The form fields.
    pub fields: Fields,
}

impl FromRequest for Posted {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Posted, ConsoleError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = Session::from_request(req, payload);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let session = session.await?;
            let body = body.await.map_err(|e| ConsoleError::bad(format!("the form could not be read: {e}")))?;
            if body.len() > FORM_LIMIT {
                return Err(ConsoleError::bad(format!("the form is larger than {FORM_LIMIT} bytes")));
            }
            let fields = Fields::parse(&body);
            if !same(fields.get("csrf"), &session.csrf) {
                return Err(ConsoleError::Csrf);
            }
            Ok(Posted { session, fields })
        })
    }
}

/// How a sign-in attempt went.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in; the session cookie's value.
    Ok(String),
    /// Refused, with why.
    Refused(String),
    /// Too many failures from this address: retry after this many seconds.
    Limited(i64),
}

/// Seconds until `client_ip` may try again, when it has used up its failures.
pub fn limited_for(conn: &mut PgConnection, client_ip: &str) -> ApiResult<Option<i64>> {
    let since = Utc::now() - Duration::seconds(FAILURE_WINDOW_SECS);
    let times: Vec<DateTime<Utc>> = console_signin_failures::table
        .filter(console_signin_failures::client_ip.eq(client_ip))
        .filter(console_signin_failures::at.ge(since))
        .select(console_signin_failures::at)
        .order(console_signin_failures::at.desc())
        .limit(MAX_FAILURES)
        .load(conn)?;
    if (times.len() as i64) < MAX_FAILURES {
        return Ok(None);
    }
    // The oldest of the last MAX_FAILURES leaves the window first.
    let oldest = times.last().copied().unwrap_or_else(Utc::now);
    Ok(Some((oldest + Duration::seconds(FAILURE_WINDOW_SECS) - Utc::now()).num_seconds().max(1)))
}

/// Records a failed sign-in from `client_ip` (and forgets failures past the window).
pub fn record_failure(conn: &mut PgConnection, client_ip: &str) -> ApiResult<()> {
    let before = Utc::now() - Duration::seconds(FAILURE_WINDOW_SECS);
    diesel::delete(console_signin_failures::table.filter(console_signin_failures::at.lt(before))).execute(conn)?;
    diesel::insert_into(console_signin_failures::table)
        .values(console_signin_failures::client_ip.eq(client_ip))
        .execute(conn)?;
    Ok(())
}

/// Credentials typed into the sign-in form.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The admin identifier.
    pub identifier: String,
    /// A UserSig for it (or empty).
    pub usersig: String,
    /// The app's secret key (or empty).
    pub secret_key: String,
}

/// Checks `c` (rate limit first, so a limited address learns nothing about its guesses), and
/// creates a session when they hold.
pub async fn sign_in(state: &AppState, client_ip: String, c: Credentials) -> ApiResult<SignIn> {
    let ip = client_ip.clone();
    if let Some(wait) = state.db(move |conn| limited_for(conn, &ip)).await? {
        return Ok(SignIn::Limited(wait));
    }
    let refusal = check(state, &c);
    if let Some(why) = refusal {
        state.db(move |conn| record_failure(conn, &client_ip)).await?;
        return Ok(SignIn::Refused(why));
    }
    let who = c.identifier.clone();
    let token = state.db(move |conn| create(conn, &who)).await?;
    Ok(SignIn::Ok(token))
}

/// Why `c` does not sign in, if it does not.
fn check(state: &AppState, c: &Credentials) -> Option<String> {
    let id = c.identifier.trim();
    if id.is_empty() {
        return Some("Enter the admin identifier you sign in as.".into());
    }
    if c.usersig.is_empty() && c.secret_key.is_empty() {
        return Some("Enter a UserSig for that identifier, or the app's secret key.".into());
    }
    if !c.secret_key.is_empty() {
        if !same(c.secret_key.trim(), &state.app.secret_key) {
            return Some("That is not this app's secret key.".into());
        }
    } else if let Err(e) =
        crate::usersig::verify(&state.app.secret_key, state.app.sdkappid, id, c.usersig.trim(), Utc::now().timestamp())
    {
        return Some(format!("The UserSig was refused: {e}."));
    }
    // Checked after the credential, so the answer does not reveal who the admins are.
    if !state.app.admins.iter().any(|a| a == id) {
        return Some(format!(
            "{id:?} is not an App admin identifier (IMRECEIPTS_ADMINS); only App admins may use the console."
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert_eq!(console_path("/console/settings").as_deref(), Some("/console/settings"));
        assert_eq!(console_path("http://h:1/console?x=1").as_deref(), Some("/console?x=1"));
        assert_eq!(console_path("http://h:1/console/webhooks/2").as_deref(), Some("/console/webhooks/2"));
        for bad in ["https://evil.example/", "//evil.example/console", "/consolex", "/console//evil", "/v4/x"] {
            assert_eq!(console_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn form_fields_repeat_and_trim() {
        let f = Fields::parse(b"types=Private&types=Public&csrf=abc&n=+12+&empty=");
        assert_eq!(f.all("types"), ["Private", "Public"]);
        assert_eq!(f.get("n"), "12");
        assert_eq!(f.int("n", "N", 1..=20).unwrap(), Some(12));
        assert!(f.int("n", "N", 1..=5).is_err());
        assert_eq!(f.int("empty", "E", 1..=5).unwrap(), None);
        assert!(f.checked("empty") && !f.checked("missing"));
    }

    #[test]
    fn flash_round_trips() {
        for f in [Flash { error: true, text: "a|b".into() }, Flash { error: false, text: "saved".into() }] {
            assert_eq!(Flash::decode(&f.encode()), f);
        }
    }

    #[test]
    fn same_compares_whole_values() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab") && !same("", "x"));
    }
}
