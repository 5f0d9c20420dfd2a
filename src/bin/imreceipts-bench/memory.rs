//! `imreceipts-bench memory`: the server's memory under large message bodies. Runs the real
//! `imreceipts` binary as its own process (so the harness's memory is not counted), stores
//! messages at Tencent's 12 KB limit, pulls roaming and group history concurrently and prints
//! the server's resident memory before, at its peak and after it settled.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use imreceipts::embedded_pg::{EmbeddedPg, PgOptions};
use serde_json::{json, Value};

use crate::target::Api;

/// Resident memory of a process in KiB: (now, peak since the last reset).
fn rss(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// Resets the peak (VmHWM) to the current RSS (Linux `clear_refs` 5).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A body of many small elements just under 12 KB: the worst case for a JSON tree in memory.
fn body(i: usize) -> Value {
    let elems: Vec<Value> = (0..155)
        .map(|j| json!({"MsgType": "TIMTextElem", "MsgContent": {"Text": format!("m{i}e{j}-{}", "x".repeat(20))}}))
        .collect();
    Value::Array(elems)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the memory step and prints its figures.
pub fn run(data_dir: &Path, messages: usize, rounds: usize, concurrency: usize) -> Result<()> {
    let exe = std::env::current_exe()?.with_file_name("imreceipts");
    if !exe.exists() {
        bail!("{} not found: build it with `cargo build --release` first", exe.display());
    }
    let pg = EmbeddedPg::start(data_dir, &PgOptions::default())?;
    let db = format!("imr_bench_mem_{:08x}", rand::random::<u32>());
    let result = (|| {
        imreceipts::db::create_database_if_missing(&pg.url("postgres"), &db, None)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let key = hex::encode(rand::random::<[u8; 32]>());
        let scratch = std::env::temp_dir().join(format!("imr-bench-mem-{port}"));
        let child = Command::new(&exe)
            .env("DATABASE_URL", pg.url(&db))
            .env("IMRECEIPTS_LISTEN", format!("127.0.0.1:{port}"))
            .env("IMRECEIPTS_SDKAPPID", "1400000002")
            .env("IMRECEIPTS_SECRET_KEY", &key)
            .env("IMRECEIPTS_DATA_DIR", &scratch)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the server")?;
        let server = Server(child);
        let pid = server.0.id();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let out = rt.block_on(drive(pid, port, &key, messages, rounds, concurrency));
        drop(server);
        let _ = std::fs::remove_dir_all(&scratch);
        out
    })();
    if let Ok(mut conn) = <diesel::PgConnection as diesel::Connection>::establish(&pg.url("postgres")) {
        use diesel::RunQueryDsl;
        let _: std::result::Result<usize, _> =
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn);
    }
    pg.stop();
    result
}

async fn drive(pid: u32, port: u16, key: &str, messages: usize, rounds: usize, concurrency: usize) -> Result<()> {
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while !http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api = Api::new(&base, 1_400_000_002, key, "administrator")?;
    let call = |path: &'static str, body: Value| {
        let api = api.clone();
        async move { api.call(path, &body).await.map_err(anyhow::Error::msg) }
    };
    call("im_open_login_svc/multiaccount_import", json!({"Accounts": ["alice", "bob"]})).await?;
    let g = call(
        "group_open_http_svc/create_group",
        json!({"Type": "Public", "Name": "mem", "Owner_Account": "alice", "MemberList": [{"Member_Account": "bob"}]}),
    )
    .await?;
    let gid = g["GroupId"].as_str().unwrap_or_default().to_string();
    let (idle, _) = rss(pid)?;
    eprintln!("[memory] storing {messages} C2C and {messages} group messages of ~12 KB");
    for i in 0..messages {
        call(
            "openim/sendmsg",
            json!({"From_Account": "alice", "To_Account": "bob", "MsgRandom": i, "MsgBody": body(i)}),
        )
        .await?;
        call(
            "group_open_http_svc/send_group_msg",
            json!({"GroupId": gid, "From_Account": "alice", "Random": i, "MsgBody": body(i)}),
        )
        .await?;
    }
    let (seeded, _) = rss(pid)?;
    reset_peak(pid);
    let now = chrono::Utc::now().timestamp();
    let mut largest = 0usize;
    let pulls = Instant::now();
    for _ in 0..rounds {
        let mut tasks = Vec::new();
        for c in 0..concurrency {
            let (api, gid) = (api.clone(), gid.clone());
            tasks.push(tokio::spawn(async move {
                let v = if c % 2 == 0 {
                    api.call("openim/admin_getroammsg", &json!({"Operator_Account": "alice", "Peer_Account": "bob", "MaxCnt": 1000, "MinTime": 0, "MaxTime": now + 60})).await
                } else {
                    api.call("group_open_http_svc/group_msg_get_simple", &json!({"GroupId": gid, "ReqMsgNumber": 20})).await
                };
                v.map(|v| v.to_string().len())
            }));
        }
        for t in tasks {
            largest = largest.max(t.await?.map_err(anyhow::Error::msg)?);
        }
    }
    let (after, peak) = rss(pid)?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (settled, _) = rss(pid)?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!("memory step ({messages} messages of ~12 KB each kind, {rounds} rounds x {concurrency} concurrent history pulls in {:.1} s)", pulls.elapsed().as_secs_f64());
    println!("  largest answer:           {:>8.2} MiB", largest as f64 / 1048576.0);
    println!("  server RSS idle:          {:>8.1} MiB", mib(idle));
    println!("  server RSS after seeding: {:>8.1} MiB", mib(seeded));
    println!("  server RSS peak (pulls):  {:>8.1} MiB", mib(peak));
    println!("  server RSS right after:   {:>8.1} MiB", mib(after));
    println!("  server RSS settled (5 s): {:>8.1} MiB", mib(settled));
    println!(
        "  peak growth over seeded:  {:>8.1} MiB = {:.1} x (largest answer x concurrency)",
        mib(peak.saturating_sub(seeded)),
        peak.saturating_sub(seeded) as f64 * 1024.0 / (largest * concurrency).max(1) as f64
    );
    Ok(())
}
