//! How the store keeps a profile, and how the queue carries the edge's profile to it: the
//! engine's plain encoding ([`Profile::to_plain`]), a token's payload without its MAC, naming
//! the shape the profile was made under. It is not signed: the store and the queue are the
//! service's own, and visitors never write to either.

use intent_engine::{FreshReason, Profile, Rules, Timestamp};

/// Encodes `profile` (made under `rules`) as the store keeps it and the queue carries it.
pub fn encode_profile(rules: &Rules, profile: &Profile) -> String {
    profile.to_plain(rules)
}

/// Decodes a profile kept by [`encode_profile`] under `rules` at `now`: made under the rules'
/// own shape, or carried over ([`Profile::carried_over`]) from one of their earlier shapes
/// ([`Rules::with_earlier_shapes`]), as the edge carries a visitor's token. `OtherRules`: it was
/// made under a shape the rules do not know (rebuild it from the event log); `Expired`: nothing
/// in it is within the horizon any more (a new, empty profile is the same).
pub fn decode_profile(rules: &Rules, text: &str, now: Timestamp) -> Result<Profile, FreshReason> {
    rules.read_plain(text, now).map(|opened| opened.profile)
}

#[cfg(test)]
mod tests {
    use intent_engine::{process, Event, Keyring, VisitorId};

    use super::*;

    #[test]
    fn a_profile_round_trips() {
        let rules = Rules::builtin();
        let now = Timestamp::from_secs(1_795_000_000);
        let mut p = Profile::new(rules);
        p.fold(rules, now, &Event::pageview("/pricing", None));
        let text = encode_profile(rules, &p);
        assert_eq!(decode_profile(rules, &text, now), Ok(p));
        let later = now.plus_secs(200 * 86_400);
        assert_eq!(
            decode_profile(rules, &text, later),
            Err(FreshReason::Expired)
        );
        assert_eq!(
            decode_profile(rules, "not a profile", now),
            Err(FreshReason::Malformed)
        );
    }

    #[test]
    fn a_profile_of_an_earlier_shape_is_carried_over_and_an_unknown_one_is_not() {
        let old = Rules::builtin();
        let mut cfg: serde_json::Value = serde_json::from_str(Rules::builtin_json()).unwrap();
        cfg["revision"] = serde_json::json!("careers");
        cfg["page_groups"]["careers"] = serde_json::json!(["/careers*"]);
        cfg["segments"] = serde_json::json!([{"name": "job_seeker",
            "when": {"viewed": {"group": "careers", "at_least": 1}}}]);
        let new = Rules::from_json(&cfg.to_string()).unwrap();
        assert_ne!(new.shape(), old.shape());

        let now = Timestamp::from_secs(1_795_000_000);
        // A profile with a visitor id, as the edge makes it.
        let keys = Keyring::parse("k1:a-test-secret-of-at-least-32-characters")
            .unwrap()
            .for_sites(["demo"]);
        let events = [Event::pageview("/pricing", None)];
        let new_id = || Some(VisitorId::from_random_bytes(*b"some-visitor"));
        let p = process(old, &keys, "demo", None, &events, now, new_id).profile;
        assert!(p.visitor().is_some());
        let text = encode_profile(old, &p);
        assert_eq!(
            decode_profile(&new, &text, now),
            Err(FreshReason::OtherRules)
        );
        let carrying = new.clone().with_earlier_shapes([old.shape().clone()]);
        let carried = decode_profile(&carrying, &text, now).unwrap();
        assert_eq!(carried, p.carried_over(old.shape(), new.shape()));
        assert_eq!(carried.visitor(), p.visitor());
        assert_eq!(
            carrying.decide(&carried, now).tier,
            old.decide(&p, now).tier
        );
    }
}
