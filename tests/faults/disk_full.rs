//! A full disk under the database: the app's tables live in a tablespace on a small tmpfs that
//! the test fills up; writes get the clear 60008 answer and work again once space returns.
//! Needs root with CAP_SYS_ADMIN to mount; without it the scenario says so and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use crate::flaky::Flaky;
use crate::support::*;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(size_mb: u32) -> Option<Mount> {
        let dir = std::env::temp_dir().join(format!("imr-faults-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m,mode=0700"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        let m = Mount(dir);
        // The tablespace directory must belong to the cluster's owner.
        let _ = Command::new("chown").args(["postgres:postgres"]).arg(&m.0).status();
        Some(m)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the filesystem of `dir` with one file; returns its path and size.
fn fill(dir: &Path) -> (PathBuf, usize) {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("create filler");
    let chunk = vec![0xA5u8; 64 * 1024];
    let mut written = 0;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len();
    }
    // The last partial chunk: byte by byte granularity is not needed, 4 KiB is.
    while f.write_all(&chunk[..4096]).is_ok() {
        written += 4096;
    }
    let _ = f.flush();
    (path, written)
}

fn big_message(gid: &str, i: usize) -> Value {
    let bytes: Vec<u8> = (0..3000).map(|_| rand::thread_rng().gen()).collect();
    json!({"GroupId": gid, "From_Account": "owner", "Random": 100000 + i, "NeedReadReceipt": 1,
           "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": hex::encode(bytes)}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gets_the_clear_error_and_recovers() {
    let _serial = serial().await;
    let Some(mount) = Mount::new(48) else {
        // As root (CI, this project's machines) the mount must work: failing it is a failure,
        // not a skip. Only an unprivileged developer run cannot do this check at all.
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        assert!(!root, "running as root but cannot mount a tmpfs for the full-disk check");
        figure("disk-full", "NOT RUN: mounting a tmpfs needs root (CAP_SYS_ADMIN); run the suite as root".into());
        return;
    };
    let cluster = Cluster::start("disk");
    // Leftovers of an interrupted run (their tmpfs is gone) are dropped first, best effort.
    let _ = std::panic::catch_unwind(|| cluster.sql("postgres", "DROP DATABASE IF EXISTS diskfull WITH (FORCE)"));
    let _ = std::panic::catch_unwind(|| cluster.sql("postgres", "DROP TABLESPACE IF EXISTS faults_small"));
    cluster.sql("postgres", &format!("CREATE TABLESPACE faults_small LOCATION '{}'", mount.0.display()));
    cluster.sql("postgres", "CREATE DATABASE diskfull TABLESPACE faults_small");
    let url = cluster.pg.url("diskfull");
    let mut server = Server::start(Db::Url(&url), &[]);
    let client = reqwest::Client::new();
    let rx = Flaky::start(vec![], Duration::ZERO, Duration::ZERO).await;
    let (gid, readers, seqs) = group_fixture(&client, &server.base, 10, 5, &format!("{}/hook", rx.base), 2).await;

    let (filler, filled) = fill(&mount.0);
    let full_at = Instant::now();
    let mut stored: Vec<i64> = Vec::new();
    let mut refusal: Option<Value> = None;
    for i in 0..3000 {
        match call(&client, &server.base, "group_open_http_svc/send_group_msg", &big_message(&gid, i)).await {
            Answer::Json(200, v) if v["ErrorCode"] == 0 => stored.push(v["MsgSeq"].as_i64().expect("MsgSeq")),
            Answer::Json(200, v) if v["ErrorCode"] == UNAVAILABLE => {
                refusal = Some(v);
                break;
            }
            other => panic!("a full disk answers 60008, got {other:?}"),
        }
    }
    let refusal = refusal.expect("writes were refused once the disk was full");
    let info = refusal["ErrorInfo"].as_str().unwrap_or_default().to_string();
    assert!(info.contains("out of disk space"), "{info}");
    let refused_after = stored.len();
    // Reads still work, receipts may or may not fit in free space of existing pages; both are
    // answered cleanly.
    let (ready_status, _) = readyz(&client, &server.base).await;
    let mut receipt_codes = std::collections::BTreeMap::new();
    for r in readers.iter().take(5) {
        let code =
            call(&client, &server.base, "group_open_http_svc/group_msg_receipt", &group_receipt(&gid, r, seqs[0]))
                .await
                .code()
                .expect("an envelope");
        assert!(code == 0 || code == UNAVAILABLE, "receipt on a full disk: {code}");
        *receipt_codes.entry(code).or_insert(0) += 1;
    }
    assert!(server.alive());
    let full_ms = ms(full_at);

    std::fs::remove_file(&filler).expect("free the space");
    let freed = Instant::now();
    let seq = loop {
        match call(&client, &server.base, "group_open_http_svc/send_group_msg", &big_message(&gid, 5000)).await.code() {
            Some(0) => break true,
            Some(UNAVAILABLE) if freed.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => panic!("writes work again once space returns: {other:?}"),
        }
    };
    assert!(seq);
    let recovered_ms = ms(freed);
    let counted = metric(&client, &server.base, "imreceipts_db_unavailable_total{reason=\"disk_full\"}").await;
    assert!(counted >= 1.0, "/metrics counts disk_full refusals: {counted}");
    let present =
        json_rows(&url, &format!("SELECT to_jsonb(msg_seq) AS v FROM group_messages WHERE group_id = '{gid}'"));
    for s in &stored {
        assert!(present.contains(&json!(s)), "acknowledged message {s} is stored");
    }
    figure(
        "disk-full",
        format!(
            "tablespace on a 48 MiB tmpfs filled ({} MiB filler); {refused_after} 6 KB messages stored before the first \
             60008 `out of disk space`; /readyz {ready_status} while full; receipts on the full disk answered {receipt_codes:?}; \
             full for {full_ms} ms; first write OK {recovered_ms} ms after freeing space; disk_full refusals counted: {counted}; \
             all {} acknowledged messages present",
            filled / (1024 * 1024),
            stored.len()
        ),
    );
    server.terminate();
    cluster.sql("postgres", "DROP DATABASE IF EXISTS diskfull WITH (FORCE)");
    cluster.sql("postgres", "DROP TABLESPACE IF EXISTS faults_small");
    drop(cluster);
    drop(mount);
}
