//! `GET /v4/receipt_svc/event_stream`: a user's receipt notifications as server-sent events,
//! resumable with `Last-Event-ID` so a sender who was offline catches up.

use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;

use super::{auth, wire};
use crate::domain::accounts;
use crate::domain::notifications::{self, Notification, Position};
use crate::error::{ApiError, Service};
use crate::live::Subscription;
use crate::state::AppState;

/// How soon a stream looks again when events are held back by an unfinished transaction: at
/// first soon (the transaction holding them back is usually a concurrent receipt that commits
/// within milliseconds), then less and less often (a long transaction elsewhere in the database
/// must not make every waiting stream query at a high rate for its whole duration).
const RECHECK_FIRST: Duration = Duration::from_millis(5);
const RECHECK_MAX: Duration = Duration::from_millis(500);
/// Comment lines keep proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Whose stream, and where it starts.
fn resolve(state: &AppState, req: &HttpRequest) -> Result<(String, Option<Position>), ApiError> {
    let query = auth::parse_query(state, req.query_string())?;
    let caller = auth::verify(state, &query, auth::client_ip(state, req), chrono::Utc::now().timestamp())?;
    state.admit(&caller, "event_stream")?;
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    // An admin may follow any user's stream; a user only their own.
    if let Some((name, _)) = params.iter().find(|(_, v)| wire::has_control_chars(v)) {
        return Err(ApiError::invalid(format!("query parameter {name} contains a control character (such as U+0000)")));
    }
    let user = match param("To_Account") {
        Some(u) => caller.may_act_as(&u, "To_Account").map(|_| u)?,
        None if caller.is_admin => {
            return Err(ApiError::invalid("To_Account is required when calling as an App admin"))
        }
        None => caller.identifier,
    };
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| param("last_event_id"));
    let resume = resume.as_deref().map(Position::parse).transpose()?;
    Ok((user, resume))
}

struct Cursor {
    state: AppState,
    user: String,
    last: Position,
    last_sent: Instant,
    first: bool,
    /// Look without waiting for a wake-up (at the start, and while more is known to be there).
    look: bool,
    /// The next wait while events are held back (doubles up to `RECHECK_MAX`).
    recheck: Duration,
    live: Subscription,
}

/// Streams notifications: first everything after the resume point, then new ones as they come.
pub async fn event_stream(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let state = state.get_ref().clone();
    let (user, resume) = match resolve(&state, &req) {
        Ok(v) => v,
        Err(e) => return error(e),
    };
    let who = user.clone();
    // The account is checked on every connect, resuming or not: a deleted account's sig must
    // not read its old stream.
    let start = state
        .db(move |c| {
            accounts::require(c, &who)?;
            match resume {
                Some(at) => {
                    // Events after `at` may have been deleted: say so rather than skip them.
                    let purged = crate::retention::notifications_purged_through(c)?;
                    if at.id > 0 && at.id < purged {
                        return Err(ApiError::ResumeExpired(format!(
                            "Last-Event-ID {at} is older than the notification catch-up window \
                             (IMRECEIPTS_RETENTION_NOTIFICATION_HOURS); events after it were deleted. \
                             Reconnect without Last-Event-ID to follow from now, and reload state through the query commands"
                        )));
                    }
                    Ok(at)
                }
                None => notifications::latest(c, &who),
            }
        })
        .await;
    let last = match start {
        Ok(id) => id,
        Err(e) => return error(e),
    };
    // Registered before the first query, so nothing committed after it can be missed.
    let live = state.live.subscribe(&user);
    let cursor =
        Cursor { state, user, last, last_sent: Instant::now(), first: true, look: true, recheck: RECHECK_FIRST, live };
    let body = stream::unfold(cursor, |mut cur| async move {
        if cur.first {
            cur.first = false;
            // Tell EventSource clients how soon to reconnect after a drop.
            return Some((Ok::<_, actix_web::Error>(web::Bytes::from_static(b"retry: 2000\n\n")), cur));
        }
        loop {
            if cur.look {
                let (user, after) = (cur.user.clone(), cur.last);
                match cur.state.db(move |c| notifications::since(c, &user, after)).await {
                    Ok((events, more)) => {
                        cur.look = more;
                        if !more {
                            cur.recheck = RECHECK_FIRST;
                        }
                        if !events.is_empty() {
                            let mut out = String::new();
                            for e in &events {
                                out.push_str(&format!(
                                    "id: {}\nevent: {}\ndata: {}\n\n",
                                    e.position(),
                                    e.event_type,
                                    e.payload
                                ));
                            }
                            cur.last = events.last().map_or(cur.last, Notification::position);
                            cur.recheck = RECHECK_FIRST;
                            cur.last_sent = Instant::now();
                            return Some((Ok(web::Bytes::from(out)), cur));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading notifications failed; retrying"),
                }
            }
            let wait = if cur.look {
                let wait = cur.recheck;
                cur.recheck = (cur.recheck * 2).min(RECHECK_MAX);
                wait
            } else {
                KEEP_ALIVE.saturating_sub(cur.last_sent.elapsed())
            };
            // Idle: no query until a notification for this user commits (any process), or
            // the keep-alive is due (whose write also finds out that the client has gone).
            if tokio::time::timeout(wait, cur.live.woken()).await.is_ok() {
                cur.look = true;
            }
            if cur.last_sent.elapsed() >= KEEP_ALIVE {
                cur.last_sent = Instant::now();
                return Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), cur));
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}

fn error(e: ApiError) -> HttpResponse {
    if let ApiError::Internal(cause) = &e {
        tracing::error!(error = ?cause, "event stream failed to start");
    }
    HttpResponse::Ok().json(super::envelope(e, Service::Extension))
}
