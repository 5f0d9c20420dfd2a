//! Integration tests over HTTP against real PostgreSQL.

mod helpers;
mod receiver;
mod schema;

mod coalescing;
mod compat;
mod completion;
mod conformance;
mod deadlines;
mod feed;
mod foundation;
mod hardening;
mod import;
mod openapi;
mod planner_stats;
mod privacy;
mod processes;
mod read_stats;
mod recall;
mod receipts;
mod receipts_scale;
mod retention;
mod retention_webhooks;
mod secrets;
mod ssrf;
mod storage;
mod stream;
mod webhooks;
