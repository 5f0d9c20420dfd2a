//! The SSRF guard at connect time: DNS rebinding after the check, redirects, and stored
//! literal addresses that the current policy no longer permits.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imreceipts::webhooks::resolver::{Addresses, DnsLookup, Lookup};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::receiver::Receiver;

/// Answers a public address to the first question and 127.0.0.1 to every later one.
struct Rebinding {
    calls: Arc<AtomicUsize>,
}

impl Lookup for Rebinding {
    fn lookup(&self, _host: &str) -> Addresses {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        let ip: IpAddr = if first { [8, 8, 8, 8].into() } else { [127, 0, 0, 1].into() };
        Box::pin(async move { Ok(vec![ip]) })
    }
}

/// A group of owner + bob with one message read by bob: one event per endpoint.
async fn one_event(app: &TestApp) {
    app.import(&["owner", "bob"]).await;
    let gid = app.group("Public", "owner", &["bob"]).await;
    let seq = app.group_msg(&gid, "owner", true).await;
    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]}),
    )
    .await;
}

/// Waits until the only delivery is in `state` (or has an attempt, for `None`); returns it.
async fn wait_delivery(app: &TestApp, state: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = app.ok("webhook_svc/list_deliveries", json!({})).await;
        if let Some(id) = v["Deliveries"][0]["DeliveryId"].as_i64() {
            let d = app.ok("webhook_svc/get_delivery", json!({"DeliveryId": id})).await;
            let done = match state {
                Some(s) => d["Delivery"]["State"] == s,
                None => d["Attempts"].as_array().is_some_and(|a| !a.is_empty()),
            };
            if done {
                return d;
            }
        }
        assert!(Instant::now() < deadline, "no delivery reached {state:?}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_name_rebinding_to_loopback_after_the_check_is_never_connected() {
    let rx = Receiver::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut settings = test_settings();
    settings.webhooks.allow_loopback = false;
    settings.webhooks.dns = DnsLookup::new(Rebinding { calls: calls.clone() });
    let app = spawn_app_with(settings).await;
    let port = rx.base.rsplit(':').next().unwrap();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("http://rebind.imreceipts.test:{port}/ok")})).await;
    one_event(&app).await;

    let d = wait_delivery(&app, Some("dead")).await;
    let error = d["Attempts"][0]["Error"].as_str().unwrap().to_string();
    assert!(error.starts_with("blocked:") && error.contains("127.0.0.1 (loopback)"), "{error}");
    assert_eq!(d["Attempts"][0]["StatusCode"], 0, "nothing was sent");
    assert!(calls.load(Ordering::SeqCst) >= 2, "checked once, then resolved again at connect");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.on("/ok").is_empty(), "the loopback receiver got a request");
}

#[actix_web::test]
async fn redirects_are_not_followed_and_count_as_failed_attempts() {
    let app = spawn_app().await;
    let rx = Receiver::start();
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/redirect", rx.base)})).await;
    one_event(&app).await;
    rx.wait_for("/redirect", 1, Duration::from_secs(15)).await;
    let d = wait_delivery(&app, None).await;
    let a = &d["Attempts"][0];
    assert_eq!(a["StatusCode"], 302);
    let error = a["Error"].as_str().unwrap();
    assert!(error.contains("redirects are not followed") && error.contains("Location: /ok"), "{error}");
    assert_ne!(d["Delivery"]["State"], "succeeded");
    assert!(rx.on("/ok").is_empty(), "the redirect was followed");
}

#[actix_web::test]
async fn a_stored_loopback_literal_is_refused_once_loopback_is_no_longer_allowed() {
    let rx = Receiver::start();
    // Stored while loopback was allowed, by a server that does not dispatch.
    let mut settings = test_settings();
    settings.webhooks.dispatch = false;
    let app = spawn_app_with(settings).await;
    app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base)})).await;
    one_event(&app).await;
    // The dispatching server runs under a stricter policy.
    let mut strict = test_settings();
    strict.webhooks.allow_loopback = false;
    spawn_server_on(strict, &app.db_url).await.expect("second server");

    let d = wait_delivery(&app, Some("dead")).await;
    let error = d["Attempts"][0]["Error"].as_str().unwrap();
    assert!(error.contains("refused by the SSRF guard") && error.contains("127.0.0.1"), "{error}");
    assert!(rx.on("/ok").is_empty(), "the loopback receiver got a request");
}
