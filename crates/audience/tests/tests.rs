//! All integration tests of the audience store, in one binary, over SQLite.

// Test code: a panic is a failing test. (Clippy's allowances for tests cover `#[test]`
// functions only, not the helpers beside them.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

// The brief's scenario: visitors through the edge into lists, accounts and CSV; redelivery.
mod scenario;
// Leaving audiences with no new event; backfills after new rules; retention.
mod lapse;
// The admin API's questions and their errors; the event log's export; erasure.
mod queries;
// A site split over two shards answers as one store does.
mod shards;
// However often and in whatever order batches are redelivered, nothing counts twice.
mod redelivery;
// Triggers: the outbox, deliveries and their retries, each destination's request.
mod triggers;
