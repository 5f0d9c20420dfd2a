//! Integration tests over HTTP against real PostgreSQL.

mod helpers;

mod foundation;
