//! The operator console in a real headless Chromium against a real server, database and
//! webhook receiver; plus its HTTP rules (sessions, cookies, CSRF, rate limit) over plain HTTP.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/receiver.rs"]
mod receiver;
#[allow(dead_code)]
#[path = "../api/schema.rs"]
mod schema;

mod browser;
mod http;

use std::time::Duration;

use browser::Browser;
use helpers::{assert_fail, sig, spawn_app, TestApp, ADMIN, KEY};
use receiver::Receiver;
use serde_json::json;

/// One browser at a time: the machines running the suite are small, and parallel Chromiums
/// make timings flaky rather than tests faster.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Signs in through the form with the admin's UserSig.
async fn sign_in(b: &Browser, app: &TestApp) {
    b.goto(&format!("{}/console", app.base)).await;
    // Not signed in: the console sends the browser to its sign-in page.
    b.find("#sign-in").await;
    assert!(b.url().await.contains("/console/sign-in?next=%2Fconsole"), "{}", b.url().await);
    b.fill("#identifier", ADMIN).await;
    b.fill("#usersig", &sig(ADMIN)).await;
    b.click("#sign-in").await;
    b.wait_text("h1", "the overview", |t| t == "Overview").await;
}

#[actix_web::test]
async fn toggling_a_group_type_off_changes_the_setting_and_refuses_its_receipts() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.import(&["alice", "bob"]).await;
    let gid = app.group("Work", "alice", &["bob"]).await;
    let seq = app.group_msg(&gid, "alice", true).await;

    let b = Browser::start().await;
    sign_in(&b, &app).await;
    b.click("nav a[href='/console/settings']").await;
    b.wait_text("h1", "the settings page", |t| t == "Receipt settings").await;
    // Community and AVChatRoom are listed, cannot be ticked, and say why.
    assert!(b.text("#settings").await.contains("AVChatRoom"));
    assert_eq!(b.js("return document.getElementById('type-Community').disabled").await, json!(true));
    assert!(b.text("#settings").await.contains("Not supported"));
    b.click("#type-Private").await;
    b.click("#save").await;
    let notice = b.wait_text("#notice", "what changed", |t| t.contains("GroupReceiptTypes")).await;
    assert!(notice.contains("Private, Public, ChatRoom → Public, ChatRoom"), "{notice}");
    // The audit log on the page names who changed what.
    let audit = b.text("table").await;
    assert!(audit.contains("administrator") && audit.contains("receipt_config.update"), "{audit}");
    b.screenshot("console-settings.png").await;

    let cfg = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!(cfg["GroupReceiptTypes"], json!(["Public", "ChatRoom"]));
    let v = app
        .call(
            "group_open_http_svc/group_msg_receipt",
            json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq}]}),
        )
        .await;
    let info = assert_fail(&v, 19001);
    assert!(info.contains("Private"), "{info}");
    b.close().await;
}

#[actix_web::test]
async fn a_webhook_made_in_the_console_shows_its_delivery_attempts_and_replays() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    let rx = Receiver::start();
    app.import(&["alice", "bob"]).await;
    let gid = app.group("Work", "alice", &["bob"]).await;
    let seq = app.group_msg(&gid, "alice", true).await;

    let b = Browser::start().await;
    sign_in(&b, &app).await;
    b.click("nav a[href='/console/webhooks']").await;
    b.fill("#url", &format!("{}/ok", rx.base)).await;
    b.click("#create-button").await;
    let notice = b.wait_text("#notice", "the new endpoint", |t| t.contains("created")).await;
    assert!(notice.contains("Endpoint #"), "{notice}");
    let listed = app.ok("webhook_svc/list_endpoints", json!({})).await;
    assert_eq!(listed["Endpoints"][0]["Url"], format!("{}/ok", rx.base));

    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq, "AckContent": "seen"}]}),
    )
    .await;
    let got = rx.wait_for("/ok", 1, Duration::from_secs(20)).await;
    let webhook_id = got[0].webhook_id().to_string();

    // The log, filtered by command, lists it; its page shows the attempt and the body.
    b.goto(&format!("{}/console/deliveries?command=Group.CallbackAfterReadReceipt", app.base)).await;
    let row = b.wait_text("tbody", "the delivery", |t| t.contains("Group.CallbackAfterReadReceipt")).await;
    assert!(row.contains("succeeded"), "{row}");
    b.click("tbody a[href^='/console/deliveries/']").await;
    b.wait_text("#delivery-live tbody", "the attempt", |t| t.contains("200")).await;
    assert!(b.text("#delivery-facts").await.contains(&webhook_id));
    let body = b.text("#delivery-body").await;
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(parsed["GroupMsgReceiptList"][0]["ReadReceiptMembers"][0]["AckContent"], "seen", "{body}");
    b.screenshot("console-delivery.png").await;

    b.click("#replay").await;
    b.wait_text("#notice", "the replay", |t| t.contains("queued again")).await;
    let again = rx.wait_for("/ok", 2, Duration::from_secs(20)).await;
    assert_eq!(again[1].webhook_id(), webhook_id, "a replay keeps the webhook-id");
    // The second attempt appears on the open page by itself.
    let deadline = std::time::Instant::now() + browser::PATIENCE;
    loop {
        let rows = b.js("return document.querySelectorAll('#delivery-live tbody tr').length").await;
        if rows == json!(2) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the replayed attempt never showed: {rows}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The endpoint's page: a test event reaches the receiver; the secret is revealed and
    // rotated as the REST API sees it; disabling it is what REST reports.
    b.click("#delivery-facts a[href^='/console/webhooks/']").await;
    b.click("#send-test").await;
    b.wait_text("#notice", "the test event", |t| t.contains("Test event queued")).await;
    let got = rx.wait_for("/ok", 3, Duration::from_secs(20)).await;
    assert_eq!(got[2].query["CallbackCommand"], "Console.TestEvent");
    assert!(got[2].json()["Text"].as_str().unwrap_or_default().contains(ADMIN));
    b.click("#reveal").await;
    let shown = b.text("#secret").await;
    let listed = app.ok("webhook_svc/list_endpoints", json!({})).await;
    assert_eq!(listed["Endpoints"][0]["Secret"], shown.as_str());
    b.click("#rotate").await;
    let rotated = b.wait_text("#secret", "a new secret", |t| t.starts_with("whsec_") && t != shown).await;
    let listed = app.ok("webhook_svc/list_endpoints", json!({})).await;
    assert_eq!(listed["Endpoints"][0]["Secret"], rotated.as_str());
    assert!(listed["Endpoints"][0]["PreviousSecretExpiresAt"].as_i64().unwrap_or(0) > 0);
    b.click("#disable").await;
    b.wait_text("#notice", "disabled", |t| t.contains("disabled")).await;
    let listed = app.ok("webhook_svc/list_endpoints", json!({})).await;
    assert_eq!(listed["Endpoints"][0]["Enabled"], 0);
    b.goto(&format!("{}/console/audit", app.base)).await;
    let audit = b.text("table").await;
    for action in
        ["webhook.create", "webhook.replay", "webhook.reveal_secret", "webhook.rotate_secret", "webhook.disable"]
    {
        assert!(audit.contains(action), "{action} missing from the audit log:\n{audit}");
    }

    // The endpoints list shows its health: every attempt succeeded.
    b.goto(&format!("{}/console/webhooks", app.base)).await;
    let table = b.text("table").await;
    assert!(table.contains("100 %") && table.contains("closed"), "{table}");
    b.goto(&format!("{}/console", app.base)).await;
    // The attempts may straddle a minute, so only a nonzero peak is certain.
    let successes = |t: &str| t.lines().any(|l| l.starts_with("success:") && !l.ends_with("peak 0 per min"));
    b.wait_text("#chart-webhooks", "the attempts", successes).await;
    b.screenshot("console-overview.png").await;
    b.close().await;
}

#[actix_web::test]
async fn the_inspector_shows_counts_change_without_reloading() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.import(&["alice", "bob", "carol"]).await;
    let gid = app.group("Work", "alice", &["bob", "carol"]).await;
    let seq = app.group_msg(&gid, "alice", true).await;

    let b = Browser::start().await;
    sign_in(&b, &app).await;
    b.click("nav a[href='/console/inspect']").await;
    b.fill("#group", &gid).await;
    b.fill("#seq", &seq.to_string()).await;
    b.click("#inspect-group").await;
    b.wait_text("#read-num", "no readers", |t| t == "0").await;
    assert_eq!(b.text("#unread-num").await, "2");
    // A marker that a reload would wipe.
    b.js("window.__stillHere = 42; return true").await;

    app.ok(
        "group_open_http_svc/group_msg_receipt",
        json!({"GroupId": gid, "From_Account": "bob", "MsgSeqList": [{"MsgSeq": seq, "AckContent": "on my way"}]}),
    )
    .await;
    b.wait_text("#read-num", "one reader", |t| t == "1").await;
    assert_eq!(b.text("#unread-num").await, "1");
    assert_eq!(b.text("#delivered-num").await, "1");
    let lists = b.text("#group-live").await;
    assert!(lists.contains("bob") && lists.contains("on my way") && lists.contains("carol"), "{lists}");
    assert_eq!(b.js("return window.__stillHere").await, json!(42), "the page reloaded");

    // A C2C conversation: IsPeerRead turns 1 when bob reads it.
    let key = app.c2c_msg("alice", "bob", true).await;
    b.goto(&format!("{}/console/inspect/c2c?a=alice&b=bob", app.base)).await;
    let row = b.wait_text("#c2c-live tbody", "the message", |t| t.contains(&key)).await;
    assert!(row.contains("hello"), "{row}");
    assert_eq!(b.text("#c2c-live tbody tr td:nth-child(6)").await, "0");
    app.ok("openim/admin_set_msg_read", json!({"Report_Account": "bob", "Peer_Account": "alice"})).await;
    b.wait_text("#c2c-live tbody tr td:nth-child(6)", "IsPeerRead 1", |t| t == "1").await;
    b.close().await;
}

#[actix_web::test]
async fn bad_sign_ins_and_a_forged_csrf_token_are_refused() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app().await;
    app.import(&["alice"]).await;
    let b = Browser::start().await;
    b.goto(&format!("{}/console/sign-in", app.base)).await;
    let cases = [
        (ADMIN, "not-a-usersig", "", "The UserSig was refused"),
        ("alice", sig("alice").as_str(), "", "not an App admin identifier"),
        (ADMIN, "", "0000", "not this app's secret key"),
    ]
    .map(|(i, s, k, m)| (i.to_string(), s.to_string(), k, m));
    for (identifier, usersig, key, expected) in cases {
        b.fill("#identifier", &identifier).await;
        b.fill("#usersig", &usersig).await;
        b.fill("#secret_key", key).await;
        b.click("#sign-in").await;
        let alert = b.wait_text("[role=alert]", expected, |t| t.contains(expected)).await;
        assert!(!alert.is_empty());
        assert!(b.url().await.contains("/console/sign-in"), "{}", b.url().await);
    }
    // Still signed out.
    b.goto(&format!("{}/console/settings", app.base)).await;
    b.find("#sign-in").await;

    // The secret key signs in too, and returns to the page asked for.
    b.fill("#identifier", ADMIN).await;
    b.fill("#secret_key", KEY).await;
    b.click("#sign-in").await;
    b.wait_text("h1", "the settings page", |t| t == "Receipt settings").await;

    // A form whose token is not the session's changes nothing.
    b.js("document.querySelector('#settings input[name=csrf]').value = 'forged'; return true").await;
    b.click("#type-Public").await;
    b.click("#save").await;
    let refusal = b.wait_text("[role=alert]", "the refusal", |t| t.contains("security token")).await;
    assert!(refusal.contains("does not match your session"), "{refusal}");
    let cfg = app.ok("receipt_svc/get_receipt_config", json!({})).await;
    assert_eq!(cfg["GroupReceiptTypes"], json!(["Private", "Public", "ChatRoom"]));

    // Signing out ends the session.
    b.goto(&format!("{}/console", app.base)).await;
    b.click("form.signout button").await;
    b.wait_text("[role=status]", "signed out", |t| t.contains("signed out")).await;
    b.goto(&format!("{}/console/webhooks", app.base)).await;
    b.find("#sign-in").await;
    b.close().await;
}
