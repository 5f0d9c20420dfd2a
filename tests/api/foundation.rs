//! Foundation: conventions, auth, accounts, groups and messages.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn account_import_then_check() {
    let app = spawn_app().await;
    app.ok("im_open_login_svc/account_import", json!({"UserID": "alice", "Nick": "A"})).await;
    let v = app.ok("im_open_login_svc/account_check", json!({"CheckItem": [{"UserID": "alice"}, {"UserID": "nobody"}]})).await;
    assert_eq!(v["ResultItem"][0]["AccountStatus"], "Imported");
    assert_eq!(v["ResultItem"][1]["AccountStatus"], "NotImported");
}
