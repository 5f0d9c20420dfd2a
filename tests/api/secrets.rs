//! Webhook secrets and tokens at rest: sealed in the database, re-sealed on key rotation, a
//! wrong key refused at startup, and `app.json` private to its owner.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use imreceipts::vault::Key;
use imreceipts::webhooks::sign;
use serde_json::json;

use crate::helpers::*;
use crate::receiver::Receiver;

#[derive(QueryableByName, Debug, Clone, PartialEq)]
struct Stored {
    #[diesel(sql_type = Nullable<Text>)]
    token: Option<String>,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Nullable<Text>)]
    prev_secret: Option<String>,
}

fn stored(db_url: &str) -> Stored {
    let mut conn = PgConnection::establish(db_url).expect("connect");
    diesel::sql_query("SELECT token, secret, prev_secret FROM webhook_endpoints").get_result(&mut conn).expect("row")
}

fn key_id(hex_or_b64: &str) -> String {
    hex_or_b64.parse::<Key>().unwrap().id()
}

/// One receipt-requesting group message read by bob: one event per endpoint.
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

fn assert_signed(r: &crate::receiver::Received, secret: &str, token: &str) {
    let now = chrono::Utc::now().timestamp();
    sign::verify(
        secret,
        r.webhook_id(),
        &r.headers["webhook-timestamp"],
        &r.headers["webhook-signature"],
        &r.body,
        now,
    )
    .unwrap_or_else(|e| panic!("signature does not verify with the original secret: {e}"));
    let t: i64 = r.query["RequestTime"].parse().unwrap();
    assert_eq!(r.query["Sign"], sign::tencent_sign(token, t));
}

#[actix_web::test]
async fn secrets_and_tokens_are_sealed_in_the_database() {
    let app = spawn_app().await;
    let v =
        app.ok("webhook_svc/create_endpoint", json!({"Url": "http://127.0.0.1:9/x", "Token": "tok-plain-123"})).await;
    let (id, secret) = (v["Endpoint"]["EndpointId"].clone(), v["Endpoint"]["Secret"].as_str().unwrap().to_string());
    assert_eq!(v["Endpoint"]["Token"], "tok-plain-123", "the admin API still shows the token");
    let v = app.ok("webhook_svc/rotate_secret", json!({"EndpointId": id, "GraceSeconds": 60})).await;
    let new_secret = v["Endpoint"]["Secret"].as_str().unwrap().to_string();
    let row = stored(&app.db_url);
    let prefix = format!("v1:{}:", key_id(SECRETS_KEY));
    for value in [row.token.as_deref().unwrap(), &row.secret, row.prev_secret.as_deref().unwrap()] {
        assert!(value.starts_with(&prefix), "{value}");
        for plain in ["tok-plain-123", secret.as_str(), new_secret.as_str(), "whsec_"] {
            assert!(!value.contains(plain), "{value} holds {plain}");
        }
    }
    let v = app.ok("webhook_svc/list_endpoints", json!({})).await;
    assert_eq!(v["Endpoints"][0]["Secret"], new_secret.as_str());
}

#[actix_web::test]
async fn a_rotated_key_still_signs_with_the_original_secret_and_reseals_the_row() {
    let rx = Receiver::start();
    let mut old = test_settings();
    old.webhooks.dispatch = false;
    let app = spawn_app_with(old).await;
    let v = app.ok("webhook_svc/create_endpoint", json!({"Url": format!("{}/ok", rx.base), "Token": "tok-1"})).await;
    let secret = v["Endpoint"]["Secret"].as_str().unwrap().to_string();
    let before = stored(&app.db_url);
    one_event(&app).await;

    let new_key = Key::generate();
    let mut rotated = test_settings();
    rotated.secrets_key = Some(new_key.clone());
    rotated.secrets_key_previous = vec![SECRETS_KEY.parse().unwrap()];
    spawn_server_on(rotated, &app.db_url).await.expect("server with the new key");

    let got = rx.wait_for("/ok", 1, Duration::from_secs(15)).await;
    assert_signed(&got[0], &secret, "tok-1");
    let after = stored(&app.db_url);
    let prefix = format!("v1:{}:", new_key.id());
    assert!(after.secret.starts_with(&prefix) && after.token.as_deref().unwrap().starts_with(&prefix), "{after:?}");
    assert_ne!(after.secret, before.secret);

    // With only the new key, the server starts (every row is sealed with it now).
    let mut only_new = test_settings();
    only_new.secrets_key = Some(new_key);
    only_new.webhooks.dispatch = false;
    spawn_server_on(only_new, &app.db_url).await.expect("no previous key needed after the re-seal");
}

#[actix_web::test]
async fn a_wrong_key_is_a_clear_startup_error() {
    let app = spawn_app().await;
    app.ok("webhook_svc/create_endpoint", json!({"Url": "http://127.0.0.1:9/x"})).await;
    let mut wrong = test_settings();
    let other = Key::generate();
    wrong.secrets_key = Some(other.clone());
    let err = spawn_server_on(wrong, &app.db_url).await.expect_err("a wrong key must not start");
    let msg = format!("{err:#}");
    assert!(msg.contains(&key_id(SECRETS_KEY)) && msg.contains(&other.id()), "{msg}");
    assert!(msg.contains("IMRECEIPTS_SECRETS_KEY_PREVIOUS") && msg.contains("endpoint"), "{msg}");
    assert!(!msg.contains("whsec_"), "{msg}");
}

#[actix_web::test]
async fn plain_text_rows_from_before_encryption_are_sealed_at_startup() {
    let rx = Receiver::start();
    let mut settings = test_settings();
    settings.webhooks.dispatch = false;
    let app = spawn_app_with(settings).await;
    let secret = sign::generate_secret();
    let mut conn = PgConnection::establish(&app.db_url).expect("connect");
    diesel::sql_query("INSERT INTO webhook_endpoints (url, token, secret) VALUES ($1, 'legacy-token', $2)")
        .bind::<Text, _>(format!("{}/ok", rx.base))
        .bind::<Text, _>(&secret)
        .execute(&mut conn)
        .expect("insert a plain-text row");
    one_event(&app).await;
    spawn_server_on(test_settings(), &app.db_url).await.expect("server");
    let got = rx.wait_for("/ok", 1, Duration::from_secs(15)).await;
    assert_signed(&got[0], &secret, "legacy-token");
    let row = stored(&app.db_url);
    assert!(!row.secret.contains(&secret) && row.secret.starts_with("v1:"), "{row:?}");
    assert!(row.token.as_deref().is_some_and(|t| t.starts_with("v1:") && !t.contains("legacy")), "{row:?}");
}

#[test]
fn app_json_is_written_0600_and_tightened_when_looser() {
    let dir = std::env::temp_dir().join(format!("imr-appjson-{:x}", rand::random::<u64>()));
    let mut settings = imreceipts::settings::Settings::defaults();
    settings.data_dir = dir.clone();
    let path = dir.join("app.json");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let first = imreceipts::identity::secrets_keyring(&settings).expect("keyring");
    assert_eq!(mode(&path), 0o600);
    imreceipts::identity::load_or_create(&settings).expect("identity");
    assert_eq!(
        imreceipts::identity::secrets_keyring(&settings).unwrap().current_id(),
        first.current_id(),
        "the generated key is kept"
    );

    // A file from an older version: readable by everyone and without a secrets key.
    std::fs::write(&path, r#"{"sdkappid": 1400000001, "secret_key": "abc"}"#).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ident = imreceipts::identity::load_or_create(&settings).expect("identity");
    assert_eq!(ident.sdkappid, 1400000001);
    assert_eq!(mode(&path), 0o600, "tightened");
    imreceipts::identity::secrets_keyring(&settings).expect("keyring");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("secrets_key") && text.contains("\"abc\""), "{text}");
    assert_eq!(mode(&path), 0o600);
    let _ = std::fs::remove_dir_all(dir);
}
