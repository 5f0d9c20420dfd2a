//! Smoke test of the benchmark harness (the benchmark itself is not part of the test suite):
//! runs S1 and S9 for two seconds each on a small seed, and S7 with 50 streams on its own
//! stream server process, and checks that both reports were written, with throughput and
//! without errors.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

#[test]
fn bench_harness_runs_s1_s7_and_s9_on_a_small_seed_and_writes_both_reports() {
    let out = std::env::temp_dir().join(format!("imreceipts-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // A cluster of its own, so a concurrent full benchmark (var/bench) is never stopped by it.
    let data_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("var/bench-smoke");
    let output = Command::new(env!("CARGO_BIN_EXE_imreceipts-bench"))
        .args([
            "run",
            "--scenarios",
            "s1,s7,s9",
            "--small-seed",
            "--duration",
            "2",
            "--warmup",
            "0",
            "--concurrency",
            "4",
        ])
        .args(["--streams", "50", "--stream-rate", "100", "--stream-idle", "1"])
        .arg("--out")
        .arg(&out)
        .arg("--data-dir")
        .arg(&data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run imreceipts-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "imreceipts-bench failed ({}):\n{stderr}", output.status);

    let json: Value = serde_json::from_slice(&std::fs::read(out.join("latest.json")).expect("latest.json written"))
        .expect("latest.json is JSON");
    let md = std::fs::read_to_string(out.join("latest.md")).expect("latest.md written");
    assert!(md.contains("| s1a |") && md.contains("| s1b |"), "latest.md lacks the S1 rows:\n{md}");
    assert_eq!(json["failures"], Value::Array(vec![]), "the run reported failures:\n{stderr}");
    let scenarios = json["scenarios"].as_array().expect("scenarios array");
    let ids: Vec<&str> = scenarios.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["s1a", "s1b", "s9", "s9_range"]);
    assert!(md.contains("| s9 |") && md.contains("| s9_range |"), "latest.md lacks the S9 rows:\n{md}");
    for s in scenarios {
        assert_eq!(s["errors"], 0, "{} had errors: {}", s["id"], s["error_samples"]);
        assert!(s["ops_per_s"].as_f64().is_some_and(|v| v > 0.0), "{} has no throughput", s["id"]);
        assert!(s["receipts_per_s"].as_f64().is_some_and(|v| v > 0.0), "{} wrote no receipts", s["id"]);
        assert!(s["latency"]["p99_ms"].as_f64().is_some_and(|v| v > 0.0), "{} has no latency", s["id"]);
    }
    // S7: every receipt's event reached its sender's stream, and idle streams sent nothing.
    let s7 = &json["streams"];
    assert_eq!(s7["streams"], 50);
    assert!(s7["events_expected"].as_u64().is_some_and(|n| n > 0), "S7 made no receipts: {s7}");
    assert_eq!(s7["events_received"], s7["events_expected"], "S7 events: {s7}");
    assert_eq!(s7["events_duplicated"], 0);
    assert_eq!(s7["events_misrouted"], 0);
    assert_eq!(s7["call_errors"], 0, "{}", s7["error_samples"]);
    assert_eq!(s7["idle_with"]["connections_with_a_statement"], 0, "idle streams queried: {s7}");
    assert!(md.contains("## S7 event streams"), "latest.md lacks S7:\n{md}");
    let _ = std::fs::remove_dir_all(&out);
}
