//! Outgoing webhook delivery: payload signing, target vetting and retry policy.

pub mod deliveries;
pub mod dispatcher;
pub mod endpoints;
pub mod outbox;
pub mod resolver;
pub mod retry;
pub mod sign;
pub mod ssrf;
