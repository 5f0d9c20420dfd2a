//! Integration tests over HTTP against real PostgreSQL.

mod helpers;
mod receiver;
mod schema;

mod compat;
mod foundation;
mod openapi;
mod processes;
mod receipts;
mod receipts_scale;
mod storage;
mod stream;
mod webhooks;
