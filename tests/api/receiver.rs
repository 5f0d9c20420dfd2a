//! A real HTTP receiver standing in for webhook consumers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
    pub fn webhook_id(&self) -> &str {
        &self.headers["webhook-id"]
    }
}

/// The receiver; behaviour is chosen by the first path segment:
/// `/ok`, `/fail/{n}` (500 for the first n requests of each webhook-id), `/slowfirst/{ms}`
/// (first request of each webhook-id sleeps), `/retryafter/{secs}` (first answer 503 with
/// Retry-After), `/gone` (410), `/redirect` (302 to `/ok`), `/sleep/{ms}` (every request sleeps).
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    log: Arc<Mutex<Vec<Received>>>,
}

async fn handle(req: HttpRequest, body: web::Bytes, log: web::Data<Arc<Mutex<Vec<Received>>>>) -> HttpResponse {
    let path = req.path().to_string();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let id = headers.get("webhook-id").cloned().unwrap_or_default();
    let seen_before = {
        let mut l = log.lock().unwrap();
        let n = l.iter().filter(|r| r.path == path && r.headers.get("webhook-id") == Some(&id)).count();
        l.push(Received { path: path.clone(), query, headers, body: body.to_vec(), at: Instant::now() });
        n
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let arg: u64 = parts.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let ok = HttpResponse::Ok().json(serde_json::json!({"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}));
    match parts[0] {
        "fail" if (seen_before as u64) < arg => HttpResponse::InternalServerError().body("boom"),
        "slowfirst" if seen_before == 0 => {
            tokio::time::sleep(Duration::from_millis(arg)).await;
            ok
        }
        "retryafter" if seen_before == 0 => {
            HttpResponse::ServiceUnavailable().insert_header(("Retry-After", arg.to_string())).finish()
        }
        "gone" => HttpResponse::Gone().finish(),
        "redirect" => HttpResponse::Found().insert_header(("Location", "/ok")).finish(),
        "sleep" => {
            tokio::time::sleep(Duration::from_millis(arg)).await;
            ok
        }
        _ => ok,
    }
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 with its own port.
    pub fn start() -> Receiver {
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let data = web::Data::new(log.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(handle)))
            .workers(2)
            .listen(listener)
            .unwrap()
            .run();
        actix_web::rt::spawn(server);
        Receiver { base: format!("http://127.0.0.1:{port}"), log }
    }

    /// Everything received on `path` so far.
    pub fn on(&self, path: &str) -> Vec<Received> {
        self.log.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits until `path` has at least `n` requests (panics after `timeout`).
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.on(path);
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{path}: got {} of {n} requests within {timeout:?}", got.len());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
