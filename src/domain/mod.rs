//! Business rules as plain functions over a diesel connection; no HTTP types here.

pub mod accounts;
pub mod audit;
pub mod c2c;
pub mod c2c_acks;
pub mod completion;
pub mod config;
pub mod feed;
pub mod group_acks;
pub mod group_receipts;
pub mod groups;
pub mod import;
pub mod members;
pub mod messages;
pub mod notifications;
pub mod privacy;
pub mod read_deadlines;
pub mod read_stats;
pub mod recall;

/// Current unix time in seconds.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
