//! Integration tests over HTTP against real PostgreSQL.

mod helpers;
mod receiver;

mod foundation;
mod openapi;
mod receipts;
mod receipts_scale;
mod webhooks;
mod processes;
