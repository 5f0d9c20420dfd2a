//! The console's HTTP rules without a browser: every page needs a session, cookie flags,
//! CSRF on posts, the sign-in rate limit, and what the OpenAPI document leaves out.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::helpers::{sig, spawn_app, TestApp, ADMIN};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The sign-in form's token and its cookie.
async fn sign_in_form(app: &TestApp, c: &reqwest::Client) -> (String, String) {
    let resp = c.get(format!("{}/console/sign-in", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = resp.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
    (cookie, token)
}

async fn post_sign_in(app: &TestApp, c: &reqwest::Client, usersig: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let (cookie, token) = sign_in_form(app, c).await;
    let mut form =
        vec![("csrf", token.as_str()), ("identifier", ADMIN), ("usersig", usersig), ("next", "/console/settings")];
    form.extend_from_slice(extra);
    let mut req = c.post(format!("{}/console/sign-in", app.base)).header(COOKIE, cookie).form(&form);
    for (k, v) in extra.iter().filter(|(k, _)| k.starts_with("X-")) {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn pages_need_a_session_and_the_session_cookie_is_locked_down() {
    let app = spawn_app().await;
    let c = client();
    for (method, path) in imreceipts::console::ROUTES {
        if path.contains("assets") || path.contains("sign-in") {
            continue;
        }
        let url = format!("{}{}", app.base, path.replace("{id}", "1"));
        let resp =
            if *method == "get" { c.get(&url).send().await } else { c.post(&url).body("csrf=x").send().await }.unwrap();
        assert_eq!(resp.status(), 303, "{method} {path} without a session");
        let to = resp.headers()[LOCATION].to_str().unwrap();
        assert!(to.starts_with("/console/sign-in?next="), "{method} {path} -> {to}");
    }

    let resp = post_sign_in(&app, &c, &sig(ADMIN), &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/console/settings");
    let cookies: Vec<String> =
        resp.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let session = cookies.iter().find(|c| c.starts_with("imr_console=")).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"] {
        assert!(session.contains(flag), "{flag} missing: {session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP cannot carry a Secure cookie: {session}");
    let pair = session.split(';').next().unwrap().to_string();

    // Signed in: pages answer, posts without the session's token are refused and change nothing.
    let page = c.get(format!("{}/console/settings", app.base)).header(COOKIE, &pair).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let forged = c
        .post(format!("{}/console/settings", app.base))
        .header(COOKIE, &pair)
        .form(&[("csrf", "0".repeat(64).as_str()), ("max_members", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("security token"));
    let cfg = app.ok("receipt_svc/get_receipt_config", serde_json::json!({})).await;
    assert_eq!(cfg["MaxReceiptGroupMembers"], 10000);

    // Bad input is a clear 4xx page, never a 500.
    for path in [
        "/console/webhooks/abc",
        "/console/deliveries/999",
        "/console/inspect/group?group=nope&seq=x",
        "/console/deliveries?since=yesterday",
    ] {
        let resp = c.get(format!("{}{path}", app.base)).header(COOKIE, &pair).send().await.unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(resp.text().await.unwrap().contains("role=\"alert\""), "{path}");
    }

    // Behind a TLS proxy the cookie is Secure.
    let tls = post_sign_in(&app, &c, &sig(ADMIN), &[("X-Forwarded-Proto", "https")]).await;
    let secure = tls
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("imr_console="));
    assert!(secure.is_some_and(|c| c.contains("; Secure")));
}

#[actix_web::test]
async fn failed_sign_ins_are_rate_limited_per_address() {
    let app = spawn_app().await;
    let c = client();
    for i in 0..imreceipts::console::session::MAX_FAILURES {
        let resp = post_sign_in(&app, &c, "wrong", &[]).await;
        assert_eq!(resp.status(), 401, "attempt {i}");
        assert!(resp.text().await.unwrap().contains("The UserSig was refused"));
    }
    // Now even the right credentials wait, and the answer says how long.
    let resp = post_sign_in(&app, &c, &sig(ADMIN), &[]).await;
    assert_eq!(resp.status(), 429);
    let wait: i64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=imreceipts::console::session::FAILURE_WINDOW_SECS).contains(&wait), "{wait}");
    assert!(resp.headers().get(SET_COOKIE).is_none_or(|c| !c.to_str().unwrap().starts_with("imr_console=")));
    assert!(resp.text().await.unwrap().contains("Too many failed sign-ins"));
}

#[actix_web::test]
async fn receipt_setting_changes_through_rest_are_audited_too() {
    let app = spawn_app().await;
    app.ok("receipt_svc/set_receipt_config", serde_json::json!({"GroupReceiptRequestRoles": "OwnerAndAdmin"})).await;
    app.ok("receipt_svc/set_receipt_config", serde_json::json!({"GroupReceiptRequestRoles": "OwnerAndAdmin"})).await;
    let mut conn = <diesel::PgConnection as diesel::Connection>::establish(&app.db_url).unwrap();
    let (entries, more) = imreceipts::domain::audit::list(&mut conn, None, None, 10).unwrap();
    assert!(!more);
    assert_eq!(entries.len(), 1, "an update that changes nothing records nothing");
    let e = &entries[0];
    assert_eq!((e.actor.as_str(), e.via.as_str(), e.target.as_str()), (ADMIN, "rest", "GroupReceiptRequestRoles"));
    assert_eq!((e.old_value.as_deref(), e.new_value.as_deref()), (Some("Any"), Some("OwnerAndAdmin")));
}
