//! Outgoing webhook delivery: payload signing, target vetting and retry policy.

pub mod outbox;
pub mod retry;
pub mod sign;
pub mod ssrf;

/// Name of a delivery state code (as stored in `webhook_deliveries.state`).
pub fn state_name(state: i16) -> &'static str {
    match state {
        0 => "pending",
        1 => "in_flight",
        2 => "succeeded",
        3 => "dead",
        4 => "paused",
        _ => "unknown",
    }
}
pub mod dispatcher;
pub mod endpoints;
