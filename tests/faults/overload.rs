//! A saturated pool: calls wait `IMRECEIPTS_POOL_WAIT_MS` for a connection, then get the clear
//! 60008 "busy" answer instead of queueing without bound; /metrics counts the refusals.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_refuses_after_the_bounded_wait() {
    let _serial = serial().await;
    let cluster = Cluster::start("overload");
    let url = cluster.fresh_database("faults");
    let server = Server::start(
        Db::Url(&url),
        &[("IMRECEIPTS_POOL_SIZE", "2"), ("IMRECEIPTS_POOL_WAIT_MS", "500"), ("IMRECEIPTS_WEBHOOK_DISPATCH", "false")],
    );
    let client = reqwest::Client::new();
    let base = server.base.clone();
    must(&client, &base, "im_open_login_svc/multiaccount_import", json!({"Accounts": ["owner", "m1"]})).await;
    let v = must(
        &client,
        &base,
        "group_open_http_svc/create_group",
        json!({"Type": "Private", "Name": "busy", "Owner_Account": "owner", "MemberList": [{"Member_Account": "m1"}]}),
    )
    .await;
    let gid = v["GroupId"].as_str().expect("GroupId").to_string();

    // Another session locks the groups table: two calls reading it hold both connections.
    let mut locker = PgConnection::establish(&url).expect("connect");
    diesel::sql_query("BEGIN").execute(&mut locker).expect("begin");
    diesel::sql_query("LOCK TABLE groups IN ACCESS EXCLUSIVE MODE").execute(&mut locker).expect("lock");
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (client, base, gid) = (client.clone(), base.clone(), gid.clone());
            tokio::spawn(async move {
                call(&client, &base, "group_open_http_svc/get_group_info", &json!({"GroupIdList": [gid]})).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Everything else waits 500 ms for a connection, then is told the database is busy.
    let started = Instant::now();
    let refused: Vec<_> = (0..6)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let a = call(
                    &client,
                    &base,
                    "im_open_login_svc/account_check",
                    &json!({"CheckItem": [{"UserID": format!("m{i}")}]}),
                )
                .await;
                (a, t.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for r in refused {
        let (answer, took) = r.await.expect("task");
        let Answer::Json(200, v) = &answer else { panic!("an envelope, got {answer:?}") };
        assert_eq!(v["ErrorCode"], UNAVAILABLE, "{v}");
        assert!(v["ErrorInfo"].as_str().unwrap_or_default().contains("every connection is in use"), "{v}");
        assert!(took >= Duration::from_millis(450), "waited the pool wait first: {took:?}");
        assert!(took < Duration::from_millis(2500), "refused soon after the pool wait: {took:?}");
        slowest = slowest.max(took);
    }
    let all_refused = ms(started);
    let (status, body) = readyz(&client, &base).await;
    assert_eq!((status, body["status"].as_str()), (503, Some("database busy")), "{body}");
    let counted = metric(&client, &base, "imreceipts_db_unavailable_total{reason=\"pool_exhausted\"}").await;
    assert!(counted >= 7.0, "six calls and /readyz refused, /metrics says {counted}");

    // Released: the held calls finish normally and new calls succeed.
    diesel::sql_query("COMMIT").execute(&mut locker).expect("commit");
    for h in held {
        assert_eq!(h.await.expect("task").code(), Some(0), "the calls holding connections completed");
    }
    must(&client, &base, "im_open_login_svc/account_check", json!({"CheckItem": [{"UserID": "m1"}]})).await;
    assert_eq!(readyz(&client, &base).await.0, 200);
    figure(
        "pool-saturated",
        format!(
            "pool of 2 held by 2 blocked calls; 6 more calls each refused with 60008 after the 500 ms wait \
             (slowest {} ms, all within {all_refused} ms); /readyz 503 `database busy`; \
             imreceipts_db_unavailable_total{{reason=\"pool_exhausted\"}} = {counted}; normal service after release",
            slowest.as_millis()
        ),
    );
}
