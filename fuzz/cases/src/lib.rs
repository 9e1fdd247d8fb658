//! The fuzz test cases of Intent Edge: one function per fuzz target, each holding the target's
//! real assertions.
//!
//! The fuzz targets in `fuzz/fuzz_targets/` are three lines that call these functions, and
//! `tests/corpus.rs` calls the same functions on every file of the committed corpus under
//! `fuzz/corpus/<target>/`, so the corpus is an ordinary `cargo test` on stable as well.
//!
//! Every function takes arbitrary bytes and must never panic: a panic is a bug, either in the
//! engine or in an assertion here.
//!
//! | function | what it feeds | what it asserts |
//! | --- | --- | --- |
//! | [`token_decode`] | a token string, or a payload signed with the test key | decoding never panics; a decoded profile re-encodes within 1 KiB, decodes back equal, classifies, and is bound to its site and key |
//! | [`token_round_trip`] | a history of events, built with `arbitrary` | the profile folded from it encodes within the rules' worst case and decodes back equal |
//! | [`rules`] | a rules config | parsing and compiling never panic; errors have a message and a line inside the text; a valid config round-trips through its canonical JSON, classifies, and its tokens stay within its worst case; its shape reads back from its record, and profiles carried over to and from it stay valid |
//! | [`collect`] | a `POST /v1/collect` body | a valid body goes through `process` twice; the token is at most 1 KiB and decodes back to the profile and the decision |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod collect;
mod rules;
mod token;

pub use crate::collect::collect;
pub use crate::rules::rules;
pub use crate::token::{token_decode, token_round_trip};

use std::sync::OnceLock;

use intent_engine::{Keyring, Rules, Timestamp};

/// The fixed signing key of the fuzz cases, as the `TOKEN_KEYS` secret would hold it.
pub const KEY_SPEC: &str = "k1:0123456789abcdef0123";

/// The evaluation time of every case: 2026-11-30T12:00:00Z.
pub const NOW: Timestamp = Timestamp::from_secs(1_796_040_000);

/// The site id the cases sign tokens for.
pub const SITE: &str = "demo";

/// The largest token the service may ever issue.
pub const TOKEN_BYTES: usize = intent_engine::Limits::TOKEN_BYTES;

const CAMPAIGNS_JSON: &str = include_str!("../../../examples/rules/campaigns.json");

fn keys() -> &'static Keyring {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    KEYS.get_or_init(|| Keyring::parse(KEY_SPEC).expect("the fuzz key is valid"))
}

/// The example config that uses every construct (score, engagement, UTM, referrer, clicks).
pub(crate) fn campaigns() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| Rules::from_json(CAMPAIGNS_JSON).expect("campaigns.json is valid"))
}

/// Picks the built-in rules or the campaigns example from one selector byte.
fn pick_rules(selector: u8) -> &'static Rules {
    if selector & 1 == 0 {
        Rules::builtin()
    } else {
        campaigns()
    }
}

/// A new visitor's id: fixed bytes, so that every run of a case is the same (the worker makes
/// one from `crypto.getRandomValues`).
fn new_id() -> Option<intent_engine::VisitorId> {
    Some(intent_engine::VisitorId::from_random_bytes(*b"fuzz-visitor"))
}
