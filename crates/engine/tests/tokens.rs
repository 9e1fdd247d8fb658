//! Tokens: any tampering or mismatch starts the visitor fresh, never panics, never accepts
//! someone else's profile.

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
        "Amrz3xwGgL3P1QYDA4DGCoCjBQADgMYKgKMFAAAAAAAAvKxo3vYuSrSUnqvUpuLE6VgP1WKS0E64MH0JqDIczgw"
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
    let v2 = token_after_pricing_views(&k, "demo");
    assert!(
        v2.len() < v1.len(),
        "format 2 is smaller: {v2} against {v1}"
    );
    let at = T0 + 3 * 86_400;
    let old = decode(&k, "demo", v1, at).unwrap();
    assert_eq!(old, decode(&k, "demo", &v2, at).unwrap());
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
    let groups: Vec<String> = (0..10).map(|i| format!(r#""g{i}": ["/g{i}*"]"#)).collect();
    let any: Vec<String> = (0..10)
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
        let events: Vec<Event> = (0..10)
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
