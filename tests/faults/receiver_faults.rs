//! (c) A webhook receiver that cycles timeouts, HTTP 500s, connection resets and slow answers:
//! every event is eventually delivered (at least once) and the dispatcher keeps going.

use std::time::{Duration, Instant};

use crate::flaky::{Flaky, Mode};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_receiver_still_gets_every_event() {
    let _serial = serial().await;
    let cluster = Cluster::start("receiver");
    let url = cluster.fresh_database("faults");
    let server = Server::start(Db::Url(&url), &[]);
    let client = reqwest::Client::new();
    // Endpoint timeout 1 s: `Timeout` holds 1.5 s, `Slow` answers after 600 ms.
    let cycle = vec![Mode::Timeout, Mode::Error500, Mode::Reset, Mode::Slow, Mode::Ok];
    let rx = Flaky::start(cycle, Duration::from_millis(1500), Duration::from_millis(600)).await;
    let (gid, readers, seqs) = group_fixture(&client, &server.base, 40, 3, &format!("{}/hook", rx.base), 1).await;

    let started = Instant::now();
    let mut sent = 0;
    for s in &seqs[..2] {
        for r in &readers {
            must(&client, &server.base, "group_open_http_svc/group_msg_receipt", group_receipt(&gid, r, *s)).await;
            sent += 1;
        }
    }
    let ids = event_ids(&url);
    assert_eq!(ids.len(), sent, "one event per receipt");
    while !ids.is_subset(&rx.delivered()) {
        let missing = ids.difference(&rx.delivered()).count();
        assert!(started.elapsed() < Duration::from_secs(60), "{missing} events never delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first_batch_ms = ms(started);

    // The dispatcher is still going: a later event goes through the same faults.
    let later = Instant::now();
    must(&client, &server.base, "group_open_http_svc/group_msg_receipt", group_receipt(&gid, &readers[0], seqs[2]))
        .await;
    let ids = event_ids(&url);
    while !ids.is_subset(&rx.delivered()) {
        assert!(later.elapsed() < Duration::from_secs(30), "the dispatcher stopped after the faults");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later_ms = ms(later);
    let states = json_rows(&url, "SELECT to_jsonb(state) AS v FROM webhook_deliveries");
    assert!(states.iter().all(|s| s == 2), "every delivery ended succeeded: {states:?}");

    let log = rx.log.lock().unwrap_or_else(|e| e.into_inner());
    for m in [Mode::Timeout, Mode::Error500, Mode::Reset, Mode::Slow, Mode::Ok] {
        assert!(log.modes.get(&m).copied().unwrap_or(0) > 0, "{m:?} was injected");
    }
    let attempts: usize = log.attempts.values().sum();
    let max_attempts = log.attempts.values().max().copied().unwrap_or(0);
    let dups: usize = log.delivered.values().map(|n| n - 1).sum();
    figure(
        "flaky-receiver",
        format!(
            "{} events, {attempts} attempts (per mode {:?}), at most {max_attempts} attempts for one event; all \
             delivered within {first_batch_ms} ms of the first receipt ({dups} duplicate deliveries); a later event \
             delivered in {later_ms} ms; every delivery row succeeded",
            ids.len(),
            log.modes
        ),
    );
}
