//! Tokens: any tampering or mismatch starts the visitor fresh, never panics, never accepts
//! someone else's profile.

use crate::new_id;
use intent_engine::{process, Event, FreshReason, Keyring, Rules, Timestamp};

const T0: i64 = 1_790_000_000;

fn keys(spec: &str) -> Keyring {
    Keyring::parse(spec).unwrap()
}

fn token_after_pricing_views(keys: &Keyring, site: &str) -> String {
    let rules = Rules::builtin();
    let mut token = None;
    for i in 0..3 {
        let e = [Event::pageview(
            "https://acme.test/pricing?utm_source=x",
            Some("https://mail.example/inbox/42"),
        )];
        token = Some(
            process(
                rules,
                keys,
                site,
                token.as_deref(),
                &e,
                Timestamp::from_secs(T0 + i * 86_400),
                new_id,
            )
            .token,
        );
    }
    token.unwrap()
}

fn decode(
    keys: &Keyring,
    site: &str,
    token: &str,
    at: i64,
) -> Result<intent_engine::Profile, FreshReason> {
    keys.decode(Rules::builtin(), site, token, Timestamp::from_secs(at))
}

#[test]
fn round_trip_keeps_the_profile() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "demo");
    let p = decode(&k, "demo", &token, T0 + 3 * 86_400).unwrap();
    assert_eq!(
        Rules::builtin()
            .decide(&p, Timestamp::from_secs(T0 + 3 * 86_400))
            .tier,
        "ready"
    );
    assert!(
        token.len() < 200,
        "a typical token is small: {} bytes",
        token.len()
    );
}

/// A token is a stable format: visitors keep theirs across releases, so the same history, key
/// and site must give the same bytes from one release to the next (a changed layout or MAC
/// must come with a new format version and show up here).
#[test]
fn the_same_history_gives_the_same_token_bytes() {
    let k = keys("k1:0123456789abcdef0123");
    assert_eq!(
        token_after_pricing_views(&k, "demo"),
        "A2qBXbOxDHRlc3QtdmlzaXRvcoC9z9UGAwOAxgqAowUAA4DGCoCjBQAAAAAAAA3fZqPIch-rjGKmF3ztH256UZ3HZOPoja_BgD6t4NyG"
    );
}

/// The same history as a format 2 token, as the previous release issued it (no visitor id,
/// the fingerprint of `shape/legacy.rs`): it is still read, to the same profile without an id,
/// and the visitor gains an id on their next call.
#[test]
fn format_2_tokens_are_still_read() {
    let k = keys("k1:0123456789abcdef0123");
    let v2 =
        "Amrz3xwGgL3P1QYDA4DGCoCjBQADgMYKgKMFAAAAAAAAvKxo3vYuSrSUnqvUpuLE6VgP1WKS0E64MH0JqDIczgw";
    let v3 = token_after_pricing_views(&k, "demo");
    let at = T0 + 3 * 86_400;
    let old = decode(&k, "demo", v2, at).unwrap();
    let new = decode(&k, "demo", &v3, at).unwrap();
    assert_eq!(old.visitor(), None);
    assert_eq!(new.visitor(), new_id());
    assert_eq!(
        old.summary(Rules::builtin()).tracked,
        new.summary(Rules::builtin()).tracked
    );
    assert_eq!(
        old.summary(Rules::builtin()).visit_starts,
        new.summary(Rules::builtin()).visit_starts
    );
    // A call without events records nothing and makes no id; the next call with events does.
    let rules = Rules::builtin();
    let now = Timestamp::from_secs(at);
    let decided = process(rules, &k, "demo", Some(v2), &[], now, || unreachable!());
    assert_eq!((decided.fresh, decided.decision.visitor), (None, None));
    let id = intent_engine::VisitorId::from_random_bytes([5; 12]);
    let e = [Event::pageview("https://acme.test/docs", None)];
    let next = process(rules, &k, "demo", Some(v2), &e, now, || Some(id));
    assert_eq!(next.fresh, None);
    assert_eq!(next.decision.visitor, Some(id));
    assert_eq!(next.decision.tier, "ready");
    assert!(next.token.starts_with('A'), "{}", next.token);
    assert_eq!(
        decode(&k, "demo", &next.token, at).unwrap().visitor(),
        Some(id)
    );
}

/// Preparing a keyring for its sites only saves hashing: the tokens are the same bytes, and
/// each keyring accepts the other's, for prepared sites and others alike.
#[test]
fn prepared_sites_change_nothing_but_the_cost() {
    let plain = keys("k1:0123456789abcdef0123,k0:an-older-secret-still-valid");
    let prepared = plain.clone().for_sites(["demo", "shop"]);
    let at = T0 + 3 * 86_400;
    for site in ["demo", "shop", "elsewhere"] {
        let a = token_after_pricing_views(&plain, site);
        let b = token_after_pricing_views(&prepared, site);
        assert_eq!(a, b, "{site}");
        assert!(decode(&prepared, site, &a, at).is_ok(), "{site}");
        assert!(decode(&plain, site, &b, at).is_ok(), "{site}");
    }
    let demo = token_after_pricing_views(&prepared, "demo");
    assert_eq!(
        decode(&prepared, "shop", &demo, at),
        Err(FreshReason::BadSignature)
    );
}

/// Site ids longer than the MAC's site block (never valid ones, but `decode` takes any text)
/// stay apart: two that differ only in their last byte do not accept each other's tokens.
#[test]
fn long_site_ids_stay_apart() {
    let k = keys("k1:0123456789abcdef0123");
    let a = format!("{}a", "s".repeat(300));
    let b = format!("{}b", "s".repeat(300));
    let token = token_after_pricing_views(&k, &a);
    let at = T0 + 3 * 86_400;
    assert!(decode(&k, &a, &token, at).is_ok());
    assert_eq!(decode(&k, &b, &token, at), Err(FreshReason::BadSignature));
}

/// The same history as a format 1 token, as the previous release issued it (every visit field
/// carried, whatever the rules read): it is still read, to the same profile, so visitors keep
/// theirs across the upgrade.
#[test]
fn format_1_tokens_are_still_read() {
    let k = keys("k1:0123456789abcdef0123");
    let v1 = "AWr8ilDLgL3P1QYDA4DGCgAAAYCjBQAAAQAAAAEDgMYKgKMFAAAAAAAAFSN2zklYcsz-Z9m-5sbpflcnl_maDk7xRFPXRemzH5o";
    let v2 =
        "Amrz3xwGgL3P1QYDA4DGCoCjBQADgMYKgKMFAAAAAAAAvKxo3vYuSrSUnqvUpuLE6VgP1WKS0E64MH0JqDIczgw";
    let at = T0 + 3 * 86_400;
    let old = decode(&k, "demo", v1, at).unwrap();
    assert_eq!(old, decode(&k, "demo", v2, at).unwrap());
    // Tampering with a format 1 token is caught as with any other.
    let mut bytes = v1.as_bytes().to_vec();
    bytes[12] = if bytes[12] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        decode(&k, "demo", &tampered, at),
        Err(FreshReason::BadSignature)
    );
}

#[test]
fn every_single_byte_change_is_rejected() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "demo");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..token.len() {
        for &c in &alphabet[..8] {
            let mut bytes = token.clone().into_bytes();
            if bytes[i] == c {
                continue;
            }
            bytes[i] = c;
            let forged = String::from_utf8(bytes).unwrap();
            assert!(
                decode(&k, "demo", &forged, T0 + 3 * 86_400).is_err(),
                "accepted a change at {i}"
            );
        }
    }
}

#[test]
fn truncation_and_garbage_are_rejected_cleanly() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "demo");
    for n in 0..token.len() {
        assert!(decode(&k, "demo", &token[..n], T0).is_err());
    }
    for junk in [
        "",
        "null",
        "%%%",
        "AAAA",
        &"A".repeat(5000),
        "🙂🙂🙂",
        "a.b.c",
    ] {
        assert!(decode(&k, "demo", junk, T0).is_err());
    }
    // Around the longest token the decoder reads (2 KiB of base64): refused, never a panic.
    for n in 2040..2060 {
        for c in ["A", "_", "-", "z"] {
            assert_eq!(
                decode(&k, "demo", &c.repeat(n), T0).unwrap_err(),
                FreshReason::Malformed,
                "{n} × {c}"
            );
        }
    }
}

#[test]
fn another_sites_token_is_not_accepted() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "other-site");
    assert_eq!(
        decode(&k, "demo", &token, T0 + 3 * 86_400).unwrap_err(),
        FreshReason::BadSignature
    );
}

#[test]
fn expired_and_future_tokens_start_fresh() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "demo");
    let last = T0 + 2 * 86_400;
    assert!(decode(&k, "demo", &token, last + 90 * 86_400).is_ok());
    assert_eq!(
        decode(&k, "demo", &token, last + 90 * 86_400 + 1).unwrap_err(),
        FreshReason::Expired
    );
    assert_eq!(
        decode(&k, "demo", &token, last - 3600).unwrap_err(),
        FreshReason::FromTheFuture
    );
}

#[test]
fn rules_that_track_other_things_start_fresh() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "demo");
    let other = Rules::from_json(include_str!("../../../examples/rules/campaigns.json")).unwrap();
    let at = Timestamp::from_secs(T0 + 3 * 86_400);
    assert_eq!(
        k.decode(&other, "demo", &token, at).unwrap_err(),
        FreshReason::OtherRules
    );
    // Variants and tier names do not change what is tracked: profiles survive such edits.
    let mut cfg = Rules::builtin().config().clone();
    cfg.revision = Some("new-copy".into());
    cfg.variants.clear();
    let edited = Rules::compile(cfg).unwrap();
    assert!(k.decode(&edited, "demo", &token, at).is_ok());
}

#[test]
fn key_rotation_keeps_visitors_during_the_grace_period() {
    let old = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&old, "demo");
    let rotated = keys("k2:fedcba9876543210fedcba, k1:0123456789abcdef0123");
    let at = T0 + 3 * 86_400;
    assert!(decode(&rotated, "demo", &token, at).is_ok());
    // The new key signs from now on.
    let out = process(
        Rules::builtin(),
        &rotated,
        "demo",
        Some(&token),
        &[],
        Timestamp::from_secs(at),
        new_id,
    );
    assert!(out.fresh.is_none());
    assert_eq!(out.decision.tier, "ready");
    let after = keys("k2:fedcba9876543210fedcba");
    assert!(decode(&after, "demo", &out.token, at).is_ok());
    // Once the old key is retired, its tokens start fresh.
    assert_eq!(
        decode(&after, "demo", &token, at).unwrap_err(),
        FreshReason::UnknownKey
    );
    // A key with the same label but another secret is a forgery.
    let impostor = keys("k1:not-the-real-secret-at-all");
    assert_eq!(
        decode(&impostor, "demo", &token, at).unwrap_err(),
        FreshReason::BadSignature
    );
}

#[test]
fn tokens_carry_no_personal_data() {
    let k = keys("k1:0123456789abcdef0123");
    let token = token_after_pricing_views(&k, "demo");
    let p = decode(&k, "demo", &token, T0 + 3 * 86_400).unwrap();
    let summary = serde_json::to_string(&p.summary(Rules::builtin())).unwrap();
    // Only times and counts: no URL, query, referrer, title, IP or user agent.
    for absent in ["acme.test", "utm_source", "mail.example", "inbox", "http"] {
        assert!(!summary.contains(absent), "{absent} in {summary}");
    }
    let raw = base64_decode(&token);
    for absent in [&b"acme"[..], b"pricing", b"mail", b"inbox"] {
        assert!(!raw.windows(absent.len()).any(|w| w == absent));
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = table.iter().position(|&t| t == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn keyring_errors_are_clear() {
    let cases = [
        ("", "no signing key"),
        ("k1", "expected `label:secret`"),
        ("k1:short", "shorter than 16 bytes"),
        ("bad label:0123456789abcdef", "label must be"),
    ];
    for (spec, want) in cases {
        let err = Keyring::parse(spec)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(want), "{spec}: {err}");
    }
    assert_eq!(
        format!("{:?}", keys("k1:0123456789abcdef0123")),
        "Keyring(1 keys)"
    );
}

/// Tokens are written in a small buffer first; one too large for it comes out whole all the
/// same, and decodes back to the profile it was made from.
#[test]
fn large_tokens_come_out_whole() {
    let groups: Vec<String> = (0..9).map(|i| format!(r#""g{i}": ["/g{i}*"]"#)).collect();
    let any: Vec<String> = (0..9)
        .map(|i| format!(r#"{{"viewed": {{"group": "g{i}", "at_least": 16}}}}"#))
        .collect();
    let rules = Rules::from_json(&format!(
        r#"{{"version": 1, "page_groups": {{{}}}, "tiers": [{{"name": "busy", "when": {{"any": [{}]}}}}], "fallback": "idle"}}"#,
        groups.join(", "),
        any.join(", ")
    ))
    .unwrap();
    let k = keys("k1:0123456789abcdef0123");
    let mut token: Option<String> = None;
    let mut at = T0;
    for round in 0..16 {
        let events: Vec<Event> = (0..9)
            .map(|g| Event::pageview(&format!("https://acme.test/g{g}/{round}"), None))
            .collect();
        at += 3_600;
        let out = process(
            &rules,
            &k,
            "demo",
            token.as_deref(),
            &events,
            Timestamp::from_secs(at),
            new_id,
        );
        assert_eq!(out.fresh, None);
        token = Some(out.token);
    }
    let token = token.unwrap();
    assert!(token.len() > 400, "a token of {} bytes", token.len());
    assert!(token.len() <= rules.max_token_bytes());
    let profile = k
        .decode(&rules, "demo", &token, Timestamp::from_secs(at))
        .unwrap();
    assert_eq!(k.encode(&rules, "demo", &profile), token);
    assert_eq!(
        rules.decide(&profile, Timestamp::from_secs(at)).tier,
        "busy"
    );
}

/// The built-in rules plus a `webinar` page group and a segment that uses it: a config that
/// tracks one thing more (issue 12's scenario).
fn with_webinar() -> Rules {
    let mut config = Rules::builtin().config().clone();
    config.revision = Some("webinar".into());
    config
        .page_groups
        .insert("webinar".into(), vec!["/webinar*".into()]);
    let segment = r#"{"name": "webinar-attendee", "when": {"viewed": {"group": "webinar", "within": "30d"}}}"#;
    config.segments.push(serde_json::from_str(segment).unwrap());
    Rules::compile(config).unwrap()
}

fn pricing_views(keys: &Keyring, rules: &Rules, token: Option<String>, days: &[i64]) -> String {
    let mut token = token;
    for day in days {
        let e = [Event::pageview("https://acme.test/pricing", None)];
        let at = Timestamp::from_secs(T0 + day * 86_400);
        let out = process(rules, keys, "demo", token.as_deref(), &e, at, new_id);
        assert_eq!(out.fresh, None);
        token = Some(out.token);
    }
    token.unwrap()
}

/// A visitor with two pricing views under the default rules keeps them when the rules gain a
/// page group: their third view makes them `ready`, with nothing discarded.
#[test]
fn tokens_made_under_earlier_rules_carry_over() {
    let k = keys("k1:0123456789abcdef0123");
    let old = Rules::builtin();
    let token = pricing_views(&k, old, None, &[0, 1]);
    let at = Timestamp::from_secs(T0 + 2 * 86_400);
    let new = with_webinar().with_earlier_shapes([old.shape().clone()]);
    assert_ne!(new.shape(), old.shape());

    let opened = k.open(&new, "demo", &token, at).unwrap();
    assert_eq!(opened.carried_from, Some(old.shape()));
    let e = [Event::pageview("https://acme.test/pricing", None)];
    let out = process(&new, &k, "demo", Some(&token), &e, at, new_id);
    assert_eq!((out.fresh, out.carried_from), (None, Some(old.shape())));
    assert_eq!(out.decision.tier, "ready");
    assert_eq!(out.decision.visitor, new_id());
    // The token issued is in the new shape: nothing is carried any more.
    let again = k.open(&new, "demo", &out.token, at).unwrap();
    assert_eq!(again.carried_from, None);
    assert_eq!(again.profile, out.profile);
    // A webinar view now counts.
    let w = [Event::pageview("https://acme.test/webinar/q4", None)];
    let out = process(&new, &k, "demo", Some(&out.token), &w, at, new_id);
    assert_eq!(out.decision.segments, ["webinar-attendee"]);

    // Rules that do not know the earlier shape start the visitor fresh, as before.
    assert_eq!(
        k.decode(&with_webinar(), "demo", &token, at),
        Err(FreshReason::OtherRules)
    );
    // So does a token past the new rules' horizon.
    let mut config = with_webinar().config().clone();
    config.horizon = intent_engine::Window::days(30);
    let short = Rules::compile(config)
        .unwrap()
        .with_earlier_shapes([old.shape().clone()]);
    let late = Timestamp::from_secs(T0 + 32 * 86_400);
    assert_eq!(
        k.decode(&short, "demo", &token, late),
        Err(FreshReason::Expired)
    );
    assert!(k.decode(old, "demo", &token, late).is_ok());
}

/// Format 2 tokens name their shape by its legacy fingerprint, which the shape's record keeps:
/// they carry over too.
#[test]
fn format_2_tokens_carry_over_through_a_shape_record() {
    let k = keys("k1:0123456789abcdef0123");
    let v2 =
        "Amrz3xwGgL3P1QYDA4DGCoCjBQADgMYKgKMFAAAAAAAAvKxo3vYuSrSUnqvUpuLE6VgP1WKS0E64MH0JqDIczgw";
    let at = Timestamp::from_secs(T0 + 3 * 86_400);
    let record = Rules::builtin().shape().to_record();
    let earlier = intent_engine::ProfileShape::from_record(&record).unwrap();
    let new = with_webinar().with_earlier_shapes([earlier]);
    let opened = k.open(&new, "demo", v2, at).unwrap();
    assert!(opened.carried_from.is_some());
    assert_eq!(new.decide(&opened.profile, at).tier, "ready");
    // A shape known only by its encoding (no legacy fingerprints) does not claim old tokens.
    let bare = intent_engine::ProfileShape::from_bytes(&Rules::builtin().shape().to_bytes());
    let new = with_webinar().with_earlier_shapes([bare.unwrap()]);
    assert_eq!(k.decode(&new, "demo", v2, at), Err(FreshReason::OtherRules));
}

/// The plain profile (no MAC) reads back to the same profile under its shape, and carries over
/// under rules that know that shape as an earlier one.
#[test]
fn plain_profiles_read_back_and_carry_over() {
    let k = keys("k1:0123456789abcdef0123");
    let old = Rules::builtin();
    let token = pricing_views(&k, old, None, &[0, 1]);
    let at = Timestamp::from_secs(T0 + 2 * 86_400);
    let profile = k.decode(old, "demo", &token, at).unwrap();
    let plain = profile.to_plain(old);
    assert_eq!(old.shape().read_plain(&plain).unwrap(), profile);
    assert_eq!(old.read_plain(&plain, at).unwrap().profile, profile);
    // It is the token's payload without the key tag and the MAC.
    let raw = base64_decode(&token);
    let mut payload = vec![raw[0]];
    payload.extend_from_slice(&raw[2..raw.len() - 32]);
    assert_eq!(base64_decode(&plain), payload);

    let new = with_webinar().with_earlier_shapes([old.shape().clone()]);
    let opened = new.read_plain(&plain, at).unwrap();
    assert_eq!(opened.carried_from, Some(old.shape()));
    assert_eq!(opened.profile.visitor(), new_id());
    assert_eq!(new.shape().read_plain(&plain), Err(FreshReason::OtherRules));
    assert_eq!(
        with_webinar().read_plain(&plain, at).unwrap_err(),
        FreshReason::OtherRules
    );
    for junk in ["", "%%", "AAAA", &"A".repeat(5000)] {
        assert!(old.read_plain(junk, at).is_err(), "{junk}");
    }
}
