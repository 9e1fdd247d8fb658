//! `POST /v1/collect` bodies: reading them, and the whole hot path over what they carry.

use intent_engine::{process, CollectRequest, Rules};

use crate::{campaigns, keys, NOW, TOKEN_BYTES};

/// Reads a collect body as the worker does, and as `serde_json` does. A refused body must say why; an accepted one goes
/// through [`process`] (the hot path) under the built-in rules and the campaigns example, and
/// the answer's token must be at most 1 KiB, decode back to the same profile and decision, and
/// be accepted on the visitor's next call.
pub fn collect(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    // `from_json` reads the snippet's bodies on a fast path of its own: whatever it accepts,
    // `serde_json` must read the same.
    let by_serde = serde_json::from_str::<CollectRequest>(body).ok();
    let req = match CollectRequest::from_json(body) {
        Ok(req) => req,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a message");
            return;
        }
    };
    assert_eq!(
        Some(&req),
        by_serde.as_ref(),
        "read otherwise than serde_json reads it"
    );
    for rules in [Rules::builtin(), campaigns()] {
        check_process(rules, &req);
    }
}

fn check_process(rules: &Rules, req: &CollectRequest) {
    let keys = keys();
    let out = process(
        rules,
        keys,
        &req.site,
        req.profile.as_deref(),
        &req.events,
        NOW,
        crate::new_id,
    );
    assert!(
        out.token.len() <= TOKEN_BYTES,
        "a token of {} bytes for {} events",
        out.token.len(),
        req.events.len()
    );
    if out.profile.is_new() {
        // Nothing was recorded (no events): the token carries an empty profile.
        return;
    }
    let back = keys
        .decode(rules, &req.site, &out.token, NOW)
        .unwrap_or_else(|r| panic!("the token just issued does not decode: {r}"));
    assert_eq!(back.summary(rules), out.profile.summary(rules));
    if rules.config().score.is_none() {
        assert_eq!(back, out.profile);
        assert_eq!(rules.decide(&back, NOW), out.decision);
    } else {
        assert_eq!(rules.decide(&back, NOW).tier, out.decision.tier);
    }

    // The visitor's next call, a minute later, with the token they were given.
    let next = process(
        rules,
        keys,
        &req.site,
        Some(&out.token),
        &req.events,
        NOW.plus_secs(60),
        crate::new_id,
    );
    assert_eq!(next.fresh, None, "the token just issued was discarded");
    assert!(next.token.len() <= TOKEN_BYTES);
}
