//! How the store keeps a profile, and how the queue carries the edge's profile to it.

use std::sync::OnceLock;

use intent_engine::{FreshReason, Keyring, Profile, Rules, Timestamp};

// NOTE: the engine has no public encoding of a profile without its MAC yet, nor a carry-over
// of a profile to rules of another shape: both are being written (issue 12). Until they land,
// the store keeps profiles as tokens signed with a key of its own, and treats a profile of
// another shape as one to rebuild from the event log. These two functions are the one place
// to switch to the engine's profile encoding when it lands. The key is not a secret and the MAC
// protects nothing here: the store and the queue are the service's own.
const STORE_KEY: &str = "store:intent-audience-profile-store";
/// The "site" the store's tokens are signed for, so that no visitor token ever decodes here.
const STORE_SITE: &str = "intent-audience-store";

fn keyring() -> &'static Keyring {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    KEYS.get_or_init(|| {
        // NOTE: the key above is a valid keyring spec (a label, a secret over 16 bytes), which
        // the tests check; nothing outside reaches this.
        #[allow(clippy::expect_used)]
        Keyring::parse(STORE_KEY)
            .expect("the store's own key is well formed")
            .for_sites([STORE_SITE])
    })
}

/// Encodes `profile` (made under `rules`) as the store keeps it and the queue carries it.
pub fn encode_profile(rules: &Rules, profile: &Profile) -> String {
    keyring().encode(rules, STORE_SITE, profile)
}

/// Decodes a profile kept by [`encode_profile`] under `rules` at `now`. `OtherRules`: it was
/// made under rules of another shape (rebuild it from the event log); `Expired`: nothing in it
/// is within the horizon any more (a new, empty profile is the same).
pub fn decode_profile(rules: &Rules, text: &str, now: Timestamp) -> Result<Profile, FreshReason> {
    keyring().decode(rules, STORE_SITE, text, now)
}

#[cfg(test)]
mod tests {
    use intent_engine::Event;

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
    }
}
