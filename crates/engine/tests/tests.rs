//! All integration tests of the engine, in one binary.

// Rules + event log → tiers and explanations, compared with golden files.
mod golden;
// Invariants: compact profile agrees with the raw event list; tokens stay small and sound.
mod properties;
// Hostile configs and requests: refused clearly or bounded.
mod attacks;
// Token tampering, expiry, site binding and key rotation.
mod tokens;
// The module graph of `src/` has no cycles.
mod tidy;

/// The visitor id source of the tests: fixed bytes, so that tokens are the same from run to
/// run (the worker uses `crypto.getRandomValues`).
fn new_id() -> Option<intent_engine::VisitorId> {
    Some(intent_engine::VisitorId::from_random_bytes(
        *b"test-visitor",
    ))
}
