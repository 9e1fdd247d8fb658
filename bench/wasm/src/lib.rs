//! Benchmark adapters over the intent engine.
//!
//! - [`jsonlogic`]: the rules config written as JSON Logic, for the JavaScript peers that
//!   `make bench` races the engine against (and checks for agreement first).
//! - On `wasm32`, `Engine`: the worker's collect path — request body in, answer body out — as a
//!   wasm-bindgen class that Node drives, so the engine and its peers are timed in one process.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod jsonlogic;

#[cfg(target_arch = "wasm32")]
mod wasm;

use intent_engine::{process, CollectRequest, Keyring, Rules, Timestamp, VisitorId};

/// A new visitor's id. The worker fills it from `crypto.getRandomValues`, once per visitor (a
/// profile keeps its id); fixed bytes here keep the compared answers the same from run to run.
pub fn new_id() -> Option<VisitorId> {
    Some(VisitorId::from_random_bytes(*b"bench-visitr"))
}

/// What the worker does for one `POST /v1/collect` body, less the HTTP: read and check the
/// body, verify the token, fold the events, classify, pick variants, re-sign, write the answer.
/// A body that cannot be used answers `{"error": "..."}`.
pub fn collect(rules: &Rules, keys: &Keyring, body: &str, now: Timestamp) -> String {
    let call = match CollectRequest::from_json(body) {
        Ok(call) => call,
        Err(e) => return serde_json::json!({ "error": e.to_string() }).to_string(),
    };
    let out = process(
        rules,
        keys,
        &call.site,
        call.profile.as_deref(),
        &call.events,
        now,
        new_id,
    );
    out.decision
        .answer_json(Some(&out.token), out.fresh.map(|f| f.code()))
}

/// A generated config of 50 rules (20 tiers, 30 segments) over 12 page groups, custom events,
/// clicks, visits and recency: the large config of the wasm-versus-JavaScript comparison. It
/// is the native benchmark's 50-rule config with its UTM and referrer tests (which have no JSON
/// Logic form here) replaced by clicks, events and recency.
pub fn fifty_rules_json() -> String {
    let groups: Vec<String> = (0..12)
        .map(|i| format!("\"g{i}\": [\"/section{i}*\", \"/alt{i}/*\"]"))
        .collect();
    let cond = |i: usize| -> String {
        let (g, n) = (i % 12, 1 + i % 3);
        match i % 6 {
            0 => format!(r#"{{"viewed": {{"group": "g{g}", "at_least": {n}, "within": "14d"}}}}"#),
            1 => format!(
                r#"{{"all": [{{"viewed": {{"group": "g{g}", "within": "7d"}}}}, {{"visits": {{"at_least": {}, "within": "30d"}}}}]}}"#,
                n + 1
            ),
            2 => format!(r#"{{"event": {{"name": "ev{}", "within": "30d"}}}}"#, i % 5),
            3 => format!(
                r#"{{"any": [{{"click": {{"target": "cta-{}*"}}}}, {{"event": {{"name": "ev{}", "at_least": 2}}}}]}}"#,
                i % 4,
                i % 5
            ),
            4 => format!(
                r#"{{"not": {{"last_seen": {{"within": "{}d"}}}}}}"#,
                1 + i % 7
            ),
            _ => format!(
                r#"{{"all": [{{"last_seen": {{"within": "2d"}}}}, {{"viewed": {{"group": "g{g}", "at_least": {n}}}}}]}}"#
            ),
        }
    };
    let tiers: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"name": "t{i}", "when": {{"all": [{}, {}]}}}}"#,
                cond(i),
                cond(i + 7)
            )
        })
        .collect();
    let segments: Vec<String> = (0..30)
        .map(|i| format!(r#"{{"name": "s{i}", "when": {}}}"#, cond(i + 3)))
        .collect();
    format!(
        r#"{{"version": 1, "revision": "fifty", "page_groups": {{{}}}, "tiers": [{}], "fallback": "cold", "segments": [{}], "variants": {{"hero": {{"t0": {{"text": "x"}}, "t5": {{"html": "<b>y</b>"}}, "default": {{"text": "z"}}}}}}}}"#,
        groups.join(", "),
        tiers.join(", "),
        segments.join(", ")
    )
}
