//! Configs and requests written to hurt: refused with a clear message, or evaluated within the
//! limits — never a hang, a stack overflow or a panic. (Speed is shown by the benches; these
//! tests only prove the work is bounded by finishing at all on adversarial input.)

use crate::new_id;
use intent_engine::{process, CollectRequest, Event, Keyring, Limits, Rules, Timestamp};

fn config_with(groups: &str, when: &str) -> String {
    format!(
        r#"{{"version": 1, "page_groups": {{{groups}}}, "tiers": [{{"name": "hot", "when": {when}}}], "fallback": "cold"}}"#
    )
}

#[test]
fn deeply_nested_json_is_refused_not_overflowed() {
    for depth in [200, 10_000, 100_000] {
        let when = format!(
            "{}{}{}",
            "{\"not\": ".repeat(depth),
            r#"{"visits": {}}"#,
            "}".repeat(depth)
        );
        let err = Rules::from_json(&config_with(r#""p": ["/p"]"#, &when))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("recursion limit")
                || err.contains("nested more than")
                || err.contains("bytes; the limit"),
            "{err}"
        );
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(Rules::from_json(&arrays).is_err());
        assert!(
            CollectRequest::from_json(&format!(r#"{{"site":"demo","events":{arrays}}}"#)).is_err()
        );
    }
}

#[test]
fn pathological_patterns_match_in_linear_time() {
    let star_pattern = format!("/{}b", "*a".repeat(100));
    let cfg = config_with(
        &format!(r#""evil": ["{star_pattern}"]"#),
        r#"{"viewed": {"group": "evil"}}"#,
    );
    let rules = Rules::from_json(&cfg).unwrap();
    let keys = Keyring::parse("k1:0123456789abcdef0123").unwrap();
    let url = format!("https://acme.test/{}", "a".repeat(2000));
    let events: Vec<Event> = (0..50).map(|_| Event::pageview(&url, None)).collect();
    let out = process(
        &rules,
        &keys,
        "demo",
        None,
        &events,
        Timestamp::from_secs(1_800_000_000),
        new_id,
    );
    assert_eq!(out.decision.tier, "cold");
}

#[test]
fn the_most_conditions_allowed_still_compile_and_evaluate() {
    let leaves: Vec<String> = (0..Limits::CONDITIONS - 1)
        .map(|i| {
            format!(
                r#"{{"viewed": {{"group": "g{}", "within": "{}d"}}}}"#,
                i % 8,
                1 + i % 90
            )
        })
        .collect();
    let groups: Vec<String> = (0..8).map(|i| format!(r#""g{i}": ["/g{i}*"]"#)).collect();
    let cfg = config_with(
        &groups.join(","),
        &format!(r#"{{"any": [{}]}}"#, leaves.join(",")),
    );
    let rules = Rules::from_json(&cfg).unwrap();
    let keys = Keyring::parse("k1:0123456789abcdef0123").unwrap();
    let out = process(
        &rules,
        &keys,
        "demo",
        None,
        &[Event::pageview("/g7/x", None)],
        Timestamp::from_secs(1_800_000_000),
        new_id,
    );
    assert_eq!(out.decision.tier, "hot");
}

#[test]
fn thousands_of_tiers_and_giant_variants_are_refused_clearly() {
    let tiers: Vec<String> = (0..5000)
        .map(|i| format!(r#"{{"name": "t{i}", "when": {{"visits": {{}}}}}}"#))
        .collect();
    let cfg = format!(
        r#"{{"version": 1, "page_groups": {{}}, "tiers": [{}], "fallback": "cold"}}"#,
        tiers.join(",")
    );
    let err = Rules::from_json(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("tiers; at most 32") || err.contains("bytes; the limit"),
        "{err}"
    );

    let big = "x".repeat(Limits::VARIANT_BYTES + 1);
    let cfg = format!(
        r#"{{"version": 1, "page_groups": {{}}, "tiers": [], "fallback": "cold", "variants": {{"hero": {{"default": {{"html": "{big}"}}}}}}}}"#
    );
    let err = Rules::from_json(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("`variants.hero.default`: the variant is 8193 bytes; at most 8192"),
        "{err}"
    );

    let huge = format!(
        r#"{{"version": 1, "revision": "{}"}}"#,
        "x".repeat(Limits::CONFIG_BYTES)
    );
    assert!(Rules::from_json(&huge)
        .unwrap_err()
        .to_string()
        .contains("the limit is 262144 bytes"));
}

#[test]
fn hostile_request_values_are_refused_or_clamped() {
    let long = "a".repeat(Limits::URL_BYTES + 1);
    for body in [
        format!(r#"{{"site":"demo","events":[{{"type":"pageview","url":"{long}"}}]}}"#),
        r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":-1}]}"#.to_owned(),
        r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":1e400}]}"#.to_owned(),
        r#"{"site":"demo","events":[{"type":"event","name":""}]}"#.to_owned(),
        r#"{"site":"demo","events":[{"type":"event","name":"x","props":{"a":{"nested":1}}}]}"#
            .to_owned(),
        r#"{"site":"../../etc","events":[]}"#.to_owned(),
        r#"{"site":"demo","profile":7}"#.to_owned(),
        "\u{feff}{}".to_owned(),
    ] {
        assert!(
            CollectRequest::from_json(&body).is_err(),
            "accepted {body:.80}"
        );
    }
    // Huge but finite numbers are clamped when folded, not trusted.
    let req = CollectRequest::from_json(r#"{"site":"demo","events":[{"type":"engagement","url":"/docs","seconds":1e300,"scroll":100}]}"#).unwrap();
    let keys = Keyring::parse("k1:0123456789abcdef0123").unwrap();
    let out = process(
        Rules::builtin(),
        &keys,
        "demo",
        None,
        &req.events,
        Timestamp::from_secs(1_800_000_000),
        new_id,
    );
    assert!(out.token.len() <= 1024);
}
