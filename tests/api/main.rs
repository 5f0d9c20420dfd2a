//! Integration tests over HTTP against real PostgreSQL.

mod helpers;
mod receiver;
mod schema;

mod coalescing;
mod compat;
mod conformance;
mod foundation;
mod hardening;
mod import;
mod openapi;
mod privacy;
mod processes;
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
