//! Fault injection through real processes: the real server binary, PostgreSQL clusters of the
//! suite's own (under `var/test-faults`, never the shared `var/test` cluster of `tests/api`),
//! kill -9, database restarts, a saturated pool, a full disk and a misbehaving webhook receiver.
//!
//! Scenarios run one at a time (their figures are timings); `cargo test --test faults --
//! --nocapture` prints the figures recorded in RELIABILITY.md.

#[path = "../api/schema.rs"]
mod schema;
mod support;

mod crash;
mod disk_full;
mod flaky;
mod overload;
mod pg_restart;
mod receiver_faults;
