//! All integration tests of the engine, in one binary.

// Test code: a panic is a failing test. (Clippy's allowances for tests cover `#[test]`
// functions only, not the helpers beside them.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Rules + event log → tiers and explanations, compared with golden files.
mod golden;
// Invariants: compact profile agrees with the raw event list; tokens stay small and sound.
mod properties;
// Hostile configs and requests: refused clearly or bounded.
mod attacks;
// Token tampering, expiry, site binding and key rotation.
mod tokens;
// When a visitor's tier or segments next change with no new event.
mod lapse;
// The event log's sanitiser keeps what the rules read.
mod sanitize;
// The module graph of `src/` has no cycles.
mod tidy;
// Destinations, triggers, and the triggers a log fires.
mod triggers;

/// The visitor id source of the tests: fixed bytes, so that tokens are the same from run to
/// run (the worker uses `crypto.getRandomValues`).
fn new_id() -> Option<intent_engine::VisitorId> {
    Some(intent_engine::VisitorId::from_random_bytes(
        *b"test-visitor",
    ))
}
