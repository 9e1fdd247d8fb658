//! Tokens: decoding whatever a visitor sends, and the encode → decode round trip.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use intent_engine::{Event, FreshReason, Keyring, Profile, PropValue, Rules, Timestamp};
use sha2::Sha256;

use crate::{keys, pick_rules, KEY_SPEC, NOW, SITE, TOKEN_BYTES};

/// The token layout's signing label, at the start of the site block (see `site_block` in
/// `crates/engine/src/token.rs`).
const DOMAIN: &[u8] = b"intent-edge profile token/2\0";
/// Format version, key tag and rules fingerprint.
const HEADER_LEN: usize = 6;
const MAC_LEN: usize = 32;

/// Decodes a token with a fixed keyring at a fixed time, and checks what a decoded profile must
/// satisfy.
///
/// The first byte chooses the mode and the rules. In raw mode the rest is the token text as a
/// visitor could send it. In signed mode the rest is a profile payload that this function signs
/// with the test key, behind a valid header: that is the only way random input gets past the
/// MAC, and it checks that the decoder itself survives anything a key holder could sign.
pub fn token_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let rules = pick_rules(mode >> 1);
    let token = if mode & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        signer(rules).sign(SITE, rest)
    };
    if let Ok(profile) = keys().decode(rules, SITE, &token, NOW) {
        check_decoded(rules, &token, &profile, NOW);
    }
}

/// What any profile that decoded from `token` at `now` must satisfy.
fn check_decoded(rules: &Rules, token: &str, profile: &Profile, now: Timestamp) {
    let keys = keys();
    let again = keys.encode(rules, SITE, profile);
    assert!(
        again.len() <= rules.max_token_bytes() && again.len() <= TOKEN_BYTES,
        "a decoded profile re-encodes to {} bytes; the rules' worst case is {}",
        again.len(),
        rules.max_token_bytes()
    );
    let back = keys
        .decode(rules, SITE, &again, now)
        .unwrap_or_else(|r| panic!("a re-encoded profile does not decode: {r}"));
    assert_same_profile(rules, profile, &back);
    assert_eq!(rules.decide(profile, now), rules.decide(&back, now));
    check_explains(rules, profile, now);

    // The token is bound to its site and its key.
    assert_eq!(
        keys.decode(rules, "another-site", token, now),
        Err(FreshReason::BadSignature),
        "a token verified for another site"
    );
    let stranger = Keyring::parse("k2:fedcba9876543210fedcba").expect("a valid keyring");
    assert!(
        stranger.decode(rules, SITE, token, now).is_err(),
        "a token verified under a key that never signed it"
    );

    // It expires once the horizon has passed since the last activity.
    if let Some(last) = profile.summary(rules).last_seen {
        let horizon = rules.config().horizon.secs() as i64;
        assert_eq!(
            keys.decode(rules, SITE, token, last.plus_secs(horizon + 1)),
            Err(FreshReason::Expired)
        );
    }

    // Folding more in keeps it within bounds.
    let mut more = profile.clone();
    more.fold(
        rules,
        now,
        &Event::pageview("https://acme.test/pricing", None),
    );
    let grown = keys.encode(rules, SITE, &more);
    assert!(grown.len() <= rules.max_token_bytes());
}

/// Equal profiles; where the rules score, the score travels as an `f32`, so the profile is
/// compared through its canonical encoding instead.
fn assert_same_profile(rules: &Rules, a: &Profile, b: &Profile) {
    if rules.config().score.is_none() {
        assert_eq!(a, b, "the profile changed through encode → decode");
    } else {
        assert_eq!(a.summary(rules), b.summary(rules));
        let keys = keys();
        assert_eq!(
            keys.encode(rules, SITE, a),
            keys.encode(rules, SITE, b),
            "the encoding is not stable through decode"
        );
    }
}

/// The explanation agrees with the decision.
pub(crate) fn check_explains(rules: &Rules, profile: &Profile, now: Timestamp) {
    let decision = rules.decide(profile, now);
    let why = rules.explain(profile, now);
    assert_eq!(why.tier, decision.tier);
    let matched: Vec<&str> = why
        .tiers
        .iter()
        .filter(|t| t.matched)
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        matched,
        [decision.tier],
        "explain and decide disagree on the tier"
    );
    let segments: Vec<&str> = why
        .segments
        .iter()
        .filter(|s| s.matched)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        segments, decision.segments,
        "explain and decide disagree on segments"
    );
    let _ = why.to_string();
}

/// Builds a history of events from the input, folds it into a profile, and checks that the
/// signed token is within the rules' worst case and decodes back to the same profile.
pub fn token_round_trip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(History { rules, steps }) = History::arbitrary(&mut u) else {
        return;
    };
    let (rules, other_rules) = (pick_rules(rules), pick_rules(rules ^ 1));
    let mut clock = NOW.secs() - 120 * 86_400;
    let mut profile = Profile::new(rules);
    for step in steps {
        clock = step.gap.apply(clock);
        profile.fold(rules, Timestamp::from_secs(clock), &step.event.build());
    }
    let keys = keys();
    let token = keys.encode(rules, SITE, &profile);
    assert!(
        token.len() <= rules.max_token_bytes() && token.len() <= TOKEN_BYTES,
        "a token of {} bytes; the rules' worst case is {}",
        token.len(),
        rules.max_token_bytes()
    );
    let Some(last) = profile.summary(rules).last_seen else {
        // An empty profile has no activity to date it by; it is never worth keeping.
        return;
    };
    let back = keys
        .decode(rules, SITE, &token, last)
        .unwrap_or_else(|r| panic!("a freshly signed token does not decode: {r}"));
    assert_same_profile(rules, &profile, &back);
    check_decoded(rules, &token, &back, last);

    // The edges of its validity: the whole horizon, and the tolerated clock skew.
    let horizon = rules.config().horizon.secs() as i64;
    assert!(keys
        .decode(rules, SITE, &token, last.plus_secs(horizon))
        .is_ok());
    assert_eq!(
        keys.decode(rules, SITE, &token, last.plus_secs(-301)),
        Err(FreshReason::FromTheFuture)
    );

    // Rules that track other things do not take the profile.
    assert_eq!(
        keys.decode(other_rules, SITE, &token, last),
        Err(FreshReason::OtherRules)
    );
}

#[derive(Arbitrary, Debug)]
struct History {
    rules: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct Step {
    gap: Gap,
    event: FuzzEvent,
}

/// Time between two events: seconds, minutes and days forward, and a little backward (events
/// can arrive out of order).
#[derive(Arbitrary, Debug)]
enum Gap {
    Seconds(u16),
    Minutes(u16),
    Days(u8),
    Back(u16),
}

impl Gap {
    fn apply(&self, clock: i64) -> i64 {
        clock
            + match *self {
                Gap::Seconds(s) => i64::from(s),
                Gap::Minutes(m) => i64::from(m) * 60,
                Gap::Days(d) => i64::from(d) * 86_400,
                Gap::Back(s) => -i64::from(s),
            }
    }
}

const PATHS: &[&str] = &[
    "/",
    "/pricing",
    "/pricing/enterprise",
    "/demo",
    "/book-a-demo/",
    "/contact-sales",
    "/product",
    "/features/forecasts",
    "/integrations",
    "/compare/sheets",
    "/vs/legacy",
    "/alternatives",
    "/customers/northwind",
    "/case-studies/x",
    "/docs/start",
    "/blog/post",
    "/guides/a",
];

const UTM: &[&str] = &[
    "linkedin",
    "google",
    "nov-launch",
    "nov-",
    "paid",
    "email",
    "",
];
const HOSTS: &[&str] = &[
    "https://www.google.com/search?q=x",
    "https://news.ycombinator.com/item",
    "https://www.linkedin.com/feed",
    "android-app://com.slack",
    "/relative",
];
const NAMES: &[&str] = &[
    "demo_request",
    "signup",
    "trial_started",
    "pricing-plan-pro",
];
const TARGETS: &[&str] = &[
    "pricing-plan-pro",
    "pricing-plan-team",
    "hero-cta",
    "https://partner.example/x",
];

/// A string from a fixed list of the values the rules care about, or anything at all.
#[derive(Arbitrary, Debug)]
enum Pick {
    Known(u8),
    Raw(String),
}

impl Pick {
    fn from(&self, list: &[&str]) -> String {
        match self {
            Pick::Known(i) => list[usize::from(*i) % list.len()].to_owned(),
            Pick::Raw(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum FuzzEvent {
    Pageview {
        path: Pick,
        utm: Option<(Pick, Pick, Pick)>,
        referrer: Option<Pick>,
    },
    Engagement {
        path: Pick,
        seconds: f64,
        scroll: f64,
    },
    Click {
        target: Pick,
    },
    Custom {
        name: Pick,
        plan: Option<Pick>,
    },
}

impl FuzzEvent {
    fn build(&self) -> Event<'static> {
        let url = |path: &Pick| format!("https://acme.test{}", path.from(PATHS));
        match self {
            FuzzEvent::Pageview {
                path,
                utm,
                referrer,
            } => {
                let mut url = url(path);
                if let Some((source, medium, campaign)) = utm {
                    url.push_str(&format!(
                        "?utm_source={}&utm_medium={}&utm_campaign={}",
                        source.from(UTM),
                        medium.from(UTM),
                        campaign.from(UTM)
                    ));
                }
                let referrer = referrer.as_ref().map(|r| r.from(HOSTS));
                Event::pageview(&url, referrer.as_deref())
            }
            FuzzEvent::Engagement {
                path,
                seconds,
                scroll,
            } => Event::Engagement {
                url: url(path).into(),
                seconds: *seconds,
                scroll: *scroll,
            },
            FuzzEvent::Click { target } => Event::Click {
                url: None,
                target: target.from(TARGETS).into(),
            },
            FuzzEvent::Custom { name, plan } => Event::Event {
                name: name.from(NAMES).into(),
                props: plan
                    .iter()
                    .map(|p| ("plan".to_owned(), PropValue::Text(p.from(&["pro", "team"]))))
                    .collect(),
            },
        }
    }
}

/// Signs hand-made payloads exactly as the engine signs tokens, for one set of rules.
struct Signer {
    header: Vec<u8>,
    mac: Hmac<Sha256>,
}

fn signer(rules: &'static Rules) -> &'static Signer {
    static SIGNERS: [OnceLock<Signer>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = usize::from(!std::ptr::eq(rules, Rules::builtin()));
    SIGNERS[slot].get_or_init(|| Signer::new(rules))
}

impl Signer {
    fn new(rules: &Rules) -> Signer {
        // The header (format, key tag, fingerprint) is taken from a real token, and the signing
        // is checked against it: if the token layout changes, this fails loudly instead of the
        // signed mode quietly testing nothing.
        let real = keys().encode(rules, SITE, &Profile::new(rules));
        let bytes = URL_SAFE_NO_PAD.decode(&real).expect("tokens are base64url");
        let secret = KEY_SPEC.split_once(':').expect("label:secret").1;
        let signer = Signer {
            header: bytes[..HEADER_LEN].to_vec(),
            mac: Hmac::new_from_slice(secret.as_bytes()).expect("any key length"),
        };
        let body = &bytes[HEADER_LEN..bytes.len() - MAC_LEN];
        assert_eq!(
            signer.sign(SITE, body),
            real,
            "the fuzz signer no longer matches the token layout of crates/engine/src/token.rs"
        );
        signer
    }

    fn sign(&self, site: &str, body: &[u8]) -> String {
        let mut payload = self.header.clone();
        payload.extend_from_slice(body);
        let mut mac = self.mac.clone();
        // The site block: label, site id with its length, zero-filled to whole 64-byte blocks.
        let mut block = [DOMAIN, &[site.len() as u8], site.as_bytes()].concat();
        block.resize(block.len().div_ceil(64) * 64, 0);
        mac.update(&block);
        mac.update(&payload);
        payload.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(payload)
    }
}
