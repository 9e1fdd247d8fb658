//! The fingerprints tokens of formats 1 and 2 carry, written out so that those tokens stay
//! readable.
//!
//! Before the shape had an encoding of its own, the fingerprint hashed the compiled rules'
//! derived debug output (`{:?}`): page groups by their index among all of the config's groups,
//! click and UTM patterns as their compiled pieces. This module produces exactly those bytes,
//! explicitly, from a shape and the config's group order. Nothing new is ever fingerprinted this
//! way; it is only how a token issued before format 3 finds its shape, and can go once every
//! such token is past the longest horizon (365 days after format 3 was first issued). A test
//! holds it to the fingerprints the earlier code computed for a corpus of configs
//! (`tests/data/legacy/fingerprints.jsonl`).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::{ProfileShape, SignalKey, Tracked, VisitTest};
use crate::pattern::Glob;

/// The fingerprints of format 1 and format 2 tokens for `shape`, where `group_index` gives a
/// page group's position among all of the config's groups (sorted by name).
pub(crate) fn fingerprints(shape: &ProfileShape, group_index: impl Fn(&str) -> usize) -> [u32; 2] {
    [
        fingerprint(shape, &group_index, 1),
        fingerprint(shape, &group_index, 2),
    ]
}

fn fingerprint(shape: &ProfileShape, group_index: &impl Fn(&str) -> usize, format: u8) -> u32 {
    let mut h = Sha256::new();
    h.update(b"intent-profile-shape/1");
    h.update(shape.horizon.to_le_bytes());
    for s in &shape.series {
        let mut text = tracked(&s.what, group_index);
        let _ = write!(text, "|{}|{};", s.capacity, s.engagement);
        h.update(text.as_bytes());
    }
    for t in &shape.visit_tests {
        h.update(format!("{};", visit_test(t)).as_bytes());
    }
    if let Some(score) = &shape.score {
        let signals: Vec<String> = score
            .signals
            .iter()
            .map(|(key, points)| format!("({}, {})", signal(key, group_index), float(*points)))
            .collect();
        // The half-life was an `f64` printed with `{}`: whole seconds print as an integer.
        h.update(format!("score {} [{}];", score.half_life, signals.join(", ")).as_bytes());
    }
    if format >= 2 {
        h.update(format!("visit engagement {};", shape.visit_engagement).as_bytes());
    }
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

/// A string as `{:?}` quoted and escaped it.
fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// Points were an `f64` printed with `{:?}`: a whole number gets `.0`.
fn float(points: i32) -> String {
    format!("{points}.0")
}

/// A compiled pattern as its derived debug output showed it.
fn glob(pattern: &str) -> String {
    let compiled = Glob::compile(pattern);
    let (prefix, middle, suffix, wildcard) = compiled.parts();
    let middle: Vec<String> = middle.iter().map(|m| quoted(m)).collect();
    format!(
        "Glob {{ prefix: {}, middle: [{}], suffix: {}, wildcard: {wildcard} }}",
        quoted(prefix),
        middle.join(", "),
        quoted(suffix)
    )
}

fn tracked(what: &Tracked, group_index: &impl Fn(&str) -> usize) -> String {
    match what {
        Tracked::Group(name) => format!("Group({})", group_index(name)),
        Tracked::Event { name, props } => {
            let props: Vec<String> = props
                .iter()
                .map(|(k, v)| format!("({}, {})", quoted(k), quoted(v)))
                .collect();
            format!(
                "Event {{ name: {}, props: [{}] }}",
                quoted(name),
                props.join(", ")
            )
        }
        Tracked::Click(target) => format!("Click({}, {})", glob(target), quoted(target)),
        // Filtered series came after formats 1 and 2: no token of those formats names a shape
        // with one, so any text that differs from the kinds above will do.
        other @ (Tracked::Visits(_) | Tracked::GroupIn { .. }) => format!("Filtered({other})"),
    }
}

fn visit_test(test: &VisitTest) -> String {
    match test {
        VisitTest::Utm {
            source,
            medium,
            campaign,
        } => {
            let part = |p: &Option<String>| match p {
                Some(p) => format!("Some(({}, {}))", glob(p), quoted(p)),
                None => "None".to_owned(),
            };
            format!(
                "Utm(UtmTest {{ source: {}, medium: {}, campaign: {} }})",
                part(source),
                part(medium),
                part(campaign)
            )
        }
        VisitTest::Referrer(host) => format!("Referrer({}, {})", glob(host), quoted(host)),
    }
}

fn signal(key: &SignalKey, group_index: &impl Fn(&str) -> usize) -> String {
    match key {
        SignalKey::Viewed(group) => format!("Viewed({})", group_index(group)),
        SignalKey::Event(name) => format!("Event({})", quoted(name)),
        SignalKey::Click(target) => format!("Click({})", glob(target)),
        SignalKey::Visit => "Visit".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::Rules;

    /// The fingerprints the code of formats 1 and 2 computed, for the default rules, the
    /// campaigns example and 120 generated configs that use every construct (quotes and
    /// non-ASCII text in names included), are reproduced exactly.
    #[test]
    fn the_fingerprints_of_earlier_formats_are_reproduced() {
        let data = include_str!("../../tests/data/legacy/fingerprints.jsonl");
        let mut n = 0;
        for line in data.lines() {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let label = case["label"].as_str().unwrap();
            let config = serde_json::from_value(case["config"].clone()).unwrap();
            let rules = Rules::compile(config).unwrap_or_else(|e| panic!("{label}: {e}"));
            let want = [
                case["v1"].as_u64().unwrap() as u32,
                case["v2"].as_u64().unwrap() as u32,
            ];
            assert_eq!(rules.shape().legacy, Some(want), "{label}");
            n += 1;
        }
        assert_eq!(n, 122, "the corpus is all there");
    }
}
