//! Rules configs: reading, checking and compiling whatever a marketer (or an attacker with the
//! admin token) publishes.

use intent_engine::{
    Condition, Event, Limits, Profile, ProfileShape, PropValue, Rules, Signal, Timestamp,
};

use crate::token::check_explains;
use crate::{keys, NOW, SITE, TOKEN_BYTES};

/// Folds at most this many events into the test profile of a fuzzed config, so one input stays
/// fast whatever the config's size.
const MAX_FOLDS: usize = 600;

/// Reads a rules config. A refused config must say what is wrong, on a line that exists; an
/// accepted one must re-read from its canonical JSON as the same rules, classify without
/// panicking, and never produce a token over its own worst case (itself at most 1 KiB), even
/// for a visitor who did everything the rules look at, many times over. Its profile shape must
/// read back from its record, and a profile carried over to or from the built-in and the
/// campaigns rules must be a valid profile of the new shape.
pub fn rules(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let rules = match Rules::from_json(src) {
        Ok(rules) => rules,
        Err(e) => {
            assert!(!e.message().is_empty(), "an error without a message");
            if let Some(line) = e.line() {
                let lines = src.split('\n').count();
                assert!(
                    (1..=lines).contains(&line),
                    "line {line} of a {lines}-line config: {e}"
                );
            }
            let _ = e.to_string();
            return;
        }
    };
    assert!(
        rules.max_token_bytes() <= TOKEN_BYTES,
        "accepted rules whose tokens can reach {} bytes",
        rules.max_token_bytes()
    );

    // The canonical JSON (pretty-printed, and what the rules id hashes) is the same rules.
    let canonical = rules.source_json();
    if canonical.len() > Limits::CONFIG_BYTES {
        // Pretty-printed, a config just under the size limit can grow past it. That is for
        // reading only: the admin API answers a published config as it was published, so what
        // a marketer fetches always fits a publish. Here it is refused for its size, and only
        // for that.
        let e = Rules::from_json(canonical).expect_err("over the size limit");
        assert!(e.message().contains("bytes; the limit is"), "{e}");
        return;
    }
    let again = Rules::from_json(canonical)
        .unwrap_or_else(|e| panic!("the canonical JSON of valid rules is refused: {e}"));
    assert_eq!(again.config(), rules.config());
    assert_eq!(again.id(), rules.id());
    let keys = keys();
    let empty = Profile::new(&rules);
    assert_eq!(
        keys.encode(&rules, SITE, &empty),
        keys.encode(&again, SITE, &empty),
        "the same rules give tokens another profile shape"
    );

    let _ = rules.decide_default();
    check_explains(&rules, &empty, NOW);

    let mut profile = Profile::new(&rules);
    let history = busy_history(&rules);
    for (at, event) in &history {
        profile.fold(&rules, *at, event);
        let _ = rules.decide(&profile, *at);
    }
    let token = keys.encode(&rules, SITE, &profile);
    assert!(
        token.len() <= rules.max_token_bytes(),
        "a token of {} bytes; these rules promised at most {}",
        token.len(),
        rules.max_token_bytes()
    );
    if let Some(last) = profile.summary(&rules).last_seen {
        let back = keys
            .decode(&rules, SITE, &token, last)
            .unwrap_or_else(|r| panic!("a freshly signed token does not decode: {r}"));
        assert_eq!(back.summary(&rules), profile.summary(&rules));
        check_explains(&rules, &back, last);
        check_carry_over(&rules, &profile, &token, last);
    }
}

/// The shape's record reads back as the same shape; the token, made under `rules`, is carried
/// over to the built-in and campaigns rules when they know its shape, and profiles made under
/// those carry over to `rules`, each within the worst case of the rules it lands in.
fn check_carry_over(rules: &Rules, profile: &Profile, token: &str, at: Timestamp) {
    let shape = rules.shape();
    let record = ProfileShape::from_record(&shape.to_record())
        .unwrap_or_else(|e| panic!("a shape's own record does not read back: {e}"));
    assert_eq!(&record, shape);
    assert_eq!(
        ProfileShape::from_bytes(&shape.to_bytes()).as_ref(),
        Ok(shape)
    );
    let keys = keys();
    for other in [Rules::builtin(), crate::campaigns()] {
        let knowing = other.clone().with_earlier_shapes([record.clone()]);
        let opened = keys
            .open(&knowing, SITE, token, at)
            .unwrap_or_else(|r| panic!("a token of known earlier rules does not open: {r}"));
        assert!(opened.carried_from.is_some() || other.shape() == shape);
        let again = keys.encode(&knowing, SITE, &opened.profile);
        assert!(again.len() <= other.max_token_bytes());
        check_explains(&knowing, &opened.profile, at);
        let carried = profile.carried_over(shape, other.shape());
        assert_eq!(carried.summary(other).last_seen, Some(at));
        // And back: a profile of the other rules, carried over to these.
        let back = carried.carried_over(other.shape(), shape);
        let token = keys.encode(rules, SITE, &back);
        assert!(
            token.len() <= rules.max_token_bytes(),
            "a carried profile's token of {} bytes; these rules promised at most {}",
            token.len(),
            rules.max_token_bytes()
        );
        let _ = shape.change_to(other.shape()).to_string();
    }
}

/// A visitor who does everything the rules mention, more often than any count asks about, in
/// separate visits over the last days, with UTM parameters and a referrer on every landing.
fn busy_history(rules: &Rules) -> Vec<(Timestamp, Event<'static>)> {
    let config = rules.config();
    let mut paths: Vec<String> = config
        .page_groups
        .values()
        .filter_map(|patterns| patterns.first())
        .map(|p| p.replace('*', "x"))
        .collect();
    let mut targets = Vec::new();
    let mut events = Vec::new();
    let mut conditions: Vec<&Condition> = config
        .tiers
        .iter()
        .chain(&config.segments)
        .map(|r| &r.when)
        .collect();
    while let Some(c) = conditions.pop() {
        match c {
            Condition::All(list) | Condition::Any(list) => conditions.extend(list),
            Condition::Not(inner) => conditions.push(inner),
            Condition::Click(click) => targets.push(click.target.replace('*', "x")),
            Condition::Event(e) => events.push((e.name.clone(), e.props.clone())),
            Condition::Utm(u) => {
                let v = |p: &Option<String>| p.as_deref().unwrap_or("x").replace('*', "x");
                paths.push(format!(
                    "/?utm_source={}&utm_medium={}&utm_campaign={}",
                    v(&u.source),
                    v(&u.medium),
                    v(&u.campaign)
                ));
            }
            _ => {}
        }
    }
    for signal in config.score.iter().flat_map(|s| &s.signals) {
        match &signal.on {
            Signal::Event(name) => events.push((name.clone(), Default::default())),
            Signal::Click(t) => targets.push(t.replace('*', "x")),
            Signal::Viewed(_) | Signal::Visit => {}
        }
    }

    let rounds = Limits::COUNT as i64 + 1;
    let mut out = Vec::new();
    'rounds: for round in 0..rounds {
        // Two hours apart: every round is a new visit.
        let at = NOW.plus_secs((round - rounds) * 7_200);
        let mut push = |event: Event<'static>| {
            out.push((at, event));
            out.len() < MAX_FOLDS
        };
        for path in &paths {
            let url = format!("https://acme.test{path}");
            let more = push(Event::pageview(&url, Some("https://www.google.com/search")))
                && push(Event::Engagement {
                    url: url.into(),
                    seconds: 1_800.0,
                    scroll: 100.0,
                });
            if !more {
                break 'rounds;
            }
        }
        for target in &targets {
            if !push(Event::Click {
                url: None,
                target: target.clone().into(),
            }) {
                break 'rounds;
            }
        }
        for (name, props) in &events {
            let props = props
                .iter()
                .map(|(k, v)| (k.clone(), PropValue::Text(v.clone())))
                .collect();
            if !push(Event::Event {
                name: name.clone().into(),
                props,
            }) {
                break 'rounds;
            }
        }
    }
    out
}
