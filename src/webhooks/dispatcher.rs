//! The delivery worker: claims due deliveries with `FOR UPDATE SKIP LOCKED` leases, sends them
//! outside any transaction, and records the outcome fenced by the lease token.
//!
//! Isolation: claims go endpoint by endpoint, each endpoint limited to its own `max_in_flight`
//! and guarded by a circuit breaker, so a slow or dead endpoint only ever occupies its own
//! slots. Wake-ups come from LISTEN/NOTIFY (any process), finished deliveries, and a poll.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel::PgConnection;
use rand::Rng;

use super::deliveries::{self, Finish as Next};
use super::endpoints::{self, Endpoint};
use super::resolver::{Blocked, PinnedResolver};
use super::retry::{self, Breaker, Outcome};
use super::{outbox, sign, ssrf};
use crate::error::{ApiError, ApiResult};
use crate::settings::WebhookSettings;
use crate::state::AppState;

/// Bytes of a response body kept in the attempt log.
const RESPONSE_PREFIX: usize = 1024;
/// How often expired leases (crashed workers) are returned to the queue.
const REAP_EVERY: Duration = Duration::from_secs(1);
/// How long shutdown waits for in-flight deliveries before releasing their leases.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Controls a running dispatcher.
pub struct Handle {
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl Handle {
    /// Stops claiming, waits for in-flight deliveries (bounded), releases the rest.
    pub async fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let _ = self.done.await;
    }
}

type Job = deliveries::Claimed;

/// What one HTTP attempt produced.
struct Attempt {
    started: chrono::DateTime<Utc>,
    latency: Duration,
    status: Option<u16>,
    error: Option<String>,
    response: Option<String>,
    retry_after: Option<Duration>,
    blocked: bool,
}

struct Shared {
    state: AppState,
    cfg: WebhookSettings,
    client: reqwest::Client,
    policy: ssrf::TargetPolicy,
    in_flight: RefCell<HashMap<i64, usize>>,
    leases: RefCell<HashSet<(i64, i64)>>,
    breakers: RefCell<HashMap<i64, Breaker>>,
}

/// Starts the listener thread and the dispatch loop on the current actix runtime.
pub fn start(state: AppState, database_url: String, cfg: WebhookSettings) -> Result<Handle, reqwest::Error> {
    let policy = ssrf::TargetPolicy { allow_loopback: cfg.allow_loopback, allow_private: cfg.allow_private };
    // Failing here beats a default client, which would follow redirects and resolve unchecked.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PinnedResolver::new(cfg.dns.clone(), policy.clone())))
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(16)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("imreceipts-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let wake = state.webhook_wake.clone();
    spawn_listener(database_url, wake.clone(), stop.clone());
    let shared = Rc::new(Shared {
        policy,
        state,
        cfg,
        client,
        in_flight: RefCell::default(),
        leases: RefCell::default(),
        breakers: RefCell::default(),
    });
    let (tx, done) = tokio::sync::oneshot::channel();
    let loop_stop = stop.clone();
    actix_web::rt::spawn(async move {
        run(shared, loop_stop).await;
        let _ = tx.send(());
    });
    Ok(Handle { stop, wake, done })
}

/// LISTENs on the outbox channel in a thread of its own and turns notifications into wake-ups.
fn spawn_listener(url: String, wake: Arc<tokio::sync::Notify>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let mut conn = match PgConnection::establish(&url) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook listener cannot connect; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            if let Err(e) = diesel::sql_query(format!("LISTEN {}", outbox::CHANNEL)).execute(&mut conn) {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            'poll: while !stop.load(Ordering::SeqCst) {
                let mut woke = false;
                for n in conn.notifications_iter() {
                    match n {
                        Ok(_) => woke = true,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhook listener lost its connection");
                            break 'poll;
                        }
                    }
                }
                if woke {
                    wake.notify_one();
                }
                // libpq offers no blocking wait through diesel; a short sleep keeps the
                // wake-up latency around 5 ms at negligible cost.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
}

async fn run(shared: Rc<Shared>, stop: Arc<AtomicBool>) {
    let mut last_reap = Instant::now() - REAP_EVERY;
    let poll = Duration::from_millis(shared.cfg.poll_ms.max(10));
    // While the database is unavailable every pass fails the same way: warn once per outage
    // and keep polling (each pass is bounded by the pool wait), so dispatch resumes by itself.
    let mut db_down = false;
    while !stop.load(Ordering::SeqCst) {
        if last_reap.elapsed() >= REAP_EVERY {
            last_reap = Instant::now();
            match shared.state.db(deliveries::reap_expired).await {
                Err(ApiError::DbUnavailable(_)) => {}
                Err(e) => tracing::warn!(error = %e, "reaping expired webhook leases failed"),
                Ok(_) => {}
            }
        }
        let claimed = match claim_round(&shared).await {
            Ok(n) => {
                if std::mem::take(&mut db_down) {
                    tracing::info!("database available again: webhook dispatch resumed");
                }
                n
            }
            Err(e @ ApiError::DbUnavailable(_)) => {
                if !std::mem::replace(&mut db_down, true) {
                    tracing::warn!(error = %e, "webhook dispatch paused until the database is back");
                }
                0
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                0
            }
        };
        if claimed == 0 {
            let _ = tokio::time::timeout(poll, shared.state.webhook_wake.notified()).await;
        }
    }
    drain(&shared).await;
}

/// One pass over the endpoints with due work; returns how many deliveries were started.
async fn claim_round(shared: &Rc<Shared>) -> ApiResult<usize> {
    let keys = shared.state.secrets.clone();
    let due: Vec<Endpoint> = shared.state.db(move |conn| endpoints::with_due_work(conn, &keys)).await?;
    let mut started = 0;
    let now = Instant::now();
    for ep in due {
        let total: usize = shared.in_flight.borrow().values().sum();
        let global_free = shared.cfg.max_in_flight.saturating_sub(total);
        let mine = shared.in_flight.borrow().get(&ep.id).copied().unwrap_or(0);
        let free = (ep.max_in_flight as usize).saturating_sub(mine).min(global_free);
        let open = shared.breakers.borrow().get(&ep.id).is_some_and(|b| !b.allows(now));
        if free == 0 || open {
            continue;
        }
        let token: i64 = rand::thread_rng().gen();
        let lease = ep.timeout_ms as f64 / 1000.0 + shared.cfg.lease_margin_secs.max(1.0);
        let ep_id = ep.id;
        let jobs: Vec<Job> =
            shared.state.db(move |conn| deliveries::claim(conn, ep_id, free as i64, lease, token)).await?;
        for job in jobs {
            started += 1;
            *shared.in_flight.borrow_mut().entry(ep.id).or_default() += 1;
            shared.leases.borrow_mut().insert((job.id, token));
            let shared = shared.clone();
            let ep = ep.clone();
            actix_web::rt::spawn(async move {
                deliver(&shared, &ep, job, token).await;
            });
        }
    }
    Ok(started)
}

async fn deliver(shared: &Rc<Shared>, ep: &Endpoint, job: Job, token: i64) {
    let attempt = send(shared, ep, &job).await;
    let success = attempt.status.is_some_and(|s| (200..300).contains(&s));
    shared
        .breakers
        .borrow_mut()
        .entry(ep.id)
        .or_insert_with(|| Breaker::with_scale(shared.cfg.retry_scale))
        .record(success, Instant::now());
    let next = decide(&attempt, job.attempts, shared.cfg.retry_scale);
    let outcome = match &next {
        Next::Succeeded => "success",
        Next::RetryAt(_) => "retry",
        Next::Dead if attempt.blocked => "blocked",
        Next::Dead => "dead",
        Next::Gone => "gone",
    };
    shared.state.metrics.observe_webhook(outcome, attempt.latency);
    if let Next::Succeeded = next {
        let e2e = (Utc::now() - job.created_at).num_milliseconds();
        tracing::debug!(delivery = job.id, e2e_ms = e2e, "webhook delivered");
    }
    let (id, ep_id) = (job.id, ep.id);
    let res = shared.state.db(move |conn| conn.transaction(|c| finalize(c, id, token, ep_id, &next, &attempt))).await;
    if let Err(e) = res {
        // The lease will expire and the delivery will be retried: at least once, never lost.
        tracing::warn!(delivery = id, error = %e, "recording a webhook attempt failed");
    }
    shared.leases.borrow_mut().remove(&(id, token));
    if let Some(n) = shared.in_flight.borrow_mut().get_mut(&ep_id) {
        *n = n.saturating_sub(1);
    }
    shared.state.webhook_wake.notify_one();
}

fn decide(a: &Attempt, attempts: i32, scale: f64) -> Next {
    if a.blocked {
        return Next::Dead;
    }
    let outcome = match a.status {
        Some(s) => retry::classify(s),
        None => Outcome::Retry { after: None },
    };
    match outcome {
        Outcome::Success => Next::Succeeded,
        Outcome::Gone => Next::Gone,
        Outcome::Retry { .. } => match retry::next_delay(attempts, rand::thread_rng().gen()) {
            None => Next::Dead,
            Some(delay) => {
                let scaled = Duration::from_secs_f64(delay.as_secs_f64() * scale);
                // Retry-After is a floor: never earlier than the receiver asked, nor the schedule.
                let wait = a.retry_after.map_or(scaled, |ra| ra.max(scaled));
                Next::RetryAt(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default())
            }
        },
    }
}

/// The URL of one attempt: the endpoint URL plus Tencent's callback query parameters.
fn target_url(shared: &Shared, ep: &Endpoint, job: &Job, now: i64) -> Result<url::Url, String> {
    let mut url = url::Url::parse(&ep.url).map_err(|e| format!("invalid URL: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("SdkAppid", &shared.state.app.sdkappid.to_string())
            .append_pair("CallbackCommand", &job.event_type)
            .append_pair("contenttype", "json")
            .append_pair("ClientIP", &job.client_ip)
            .append_pair("OptPlatform", &job.opt_platform);
        if let Some(token) = ep.token.as_ref().map(|t| t.expose()).filter(|t| !t.is_empty()) {
            q.append_pair("Sign", &sign::tencent_sign(token, now)).append_pair("RequestTime", &now.to_string());
        }
    }
    Ok(url)
}

async fn send(shared: &Shared, ep: &Endpoint, job: &Job) -> Attempt {
    let started = Utc::now();
    let clock = Instant::now();
    let mut a = Attempt {
        started,
        latency: Duration::ZERO,
        status: None,
        error: None,
        response: None,
        retry_after: None,
        blocked: false,
    };
    let now = started.timestamp();
    let url = match target_url(shared, ep, job, now) {
        Ok(u) => u,
        Err(e) => {
            a.error = Some(e);
            a.blocked = true;
            return a;
        }
    };
    match ssrf::resolve_and_check(&url, &shared.policy, &shared.cfg.dns).await {
        Ok(()) => {}
        Err(ssrf::TargetError::Forbidden(e)) => {
            a.error = Some(format!("target refused by the SSRF guard: {e}"));
            a.blocked = true;
            return a;
        }
        // DNS trouble is transient: retried on the normal schedule.
        Err(ssrf::TargetError::Unresolved(e)) => {
            a.error = Some(e);
            a.latency = clock.elapsed();
            return a;
        }
    }
    let mut secrets = vec![ep.secret.expose()];
    if let (Some(prev), Some(until)) = (&ep.prev_secret, ep.prev_secret_expires_at) {
        if until > started {
            secrets.push(prev.expose());
        }
    }
    let signature = match sign::signature_header(&secrets, &job.public_id, now, &job.body) {
        Ok(s) => s,
        Err(e) => {
            a.error = Some(format!("cannot sign: {e}"));
            return a;
        }
    };
    let req = shared
        .client
        .post(url)
        .timeout(Duration::from_millis(ep.timeout_ms as u64))
        .header("content-type", "application/json")
        .header("webhook-id", &job.public_id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .header("webhook-attempt", job.attempts.to_string())
        .body(job.body.clone());
    match req.send().await {
        Ok(mut resp) => {
            a.status = Some(resp.status().as_u16());
            a.retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry::parse_retry_after(v, Utc::now()));
            let mut prefix = Vec::new();
            while prefix.len() < RESPONSE_PREFIX {
                match resp.chunk().await {
                    Ok(Some(chunk)) => prefix.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        a.error = Some(format!("reading the response failed: {e}"));
                        break;
                    }
                }
            }
            prefix.truncate(RESPONSE_PREFIX);
            a.response = Some(String::from_utf8_lossy(&prefix).into_owned());
            if a.error.is_none() {
                a.error = status_error(resp.status(), resp.headers());
            }
        }
        Err(e) => {
            if let Some(b) = Blocked::find(&e) {
                // The name re-resolved to a forbidden address (rebinding): nothing was sent.
                a.error = Some(b.to_string());
                a.blocked = true;
                a.latency = clock.elapsed();
                return a;
            }
            a.error = Some(if e.is_timeout() {
                format!("timed out after {} ms", ep.timeout_ms)
            } else if e.is_connect() {
                format!("connection failed: {e}")
            } else {
                format!("request failed: {e}")
            });
        }
    }
    a.latency = clock.elapsed();
    a
}

/// The error logged for a non-2xx answer; redirects are never followed, so say so.
fn status_error(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> Option<String> {
    if status.is_success() {
        return None;
    }
    if status.is_redirection() {
        let location: String = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .chars()
            .take(200)
            .collect();
        return Some(format!("HTTP {}: redirects are not followed (Location: {location})", status.as_u16()));
    }
    Some(format!("HTTP {}", status.as_u16()))
}

/// Records the attempt and moves the delivery on, only if our lease still holds.
fn finalize(conn: &mut PgConnection, id: i64, token: i64, endpoint_id: i64, next: &Next, a: &Attempt) -> ApiResult<()> {
    let record = deliveries::AttemptRecord {
        started: a.started,
        latency_ms: a.latency.as_millis().min(i32::MAX as u128) as i32,
        status: a.status.map(i32::from),
        error: a.error.as_deref(),
        response: a.response.as_deref(),
    };
    // `false`: our lease expired and another worker owns the delivery; its outcome wins.
    if deliveries::finish(conn, id, token, *next, &record)? && matches!(next, Next::Gone) {
        endpoints::disable_gone(conn, endpoint_id)?;
    }
    Ok(())
}

/// Waits for in-flight deliveries (bounded), then hands the remaining leases back.
async fn drain(shared: &Rc<Shared>) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !shared.leases.borrow().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let leases: Vec<(i64, i64)> = shared.leases.borrow().iter().copied().collect();
    if leases.is_empty() {
        return;
    }
    let res = shared
        .state
        .db(move |conn| {
            for (id, token) in &leases {
                deliveries::release(conn, *id, *token)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "releasing webhook leases at shutdown failed; they will expire");
    }
}
