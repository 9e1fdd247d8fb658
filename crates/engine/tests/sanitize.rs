//! The event log's sanitiser keeps everything the rules read: folding sanitised events gives
//! the same profile as folding the events themselves, and sanitising twice changes nothing.

use std::borrow::Cow;

use intent_engine::{Event, Profile, Rules, Timestamp};
use proptest::prelude::*;

/// Rules that read paths, UTM parameters, referrer hosts, engagement, clicks and events.
fn rules() -> Rules {
    Rules::from_json(
        r#"{"version": 1,
            "page_groups": {"pricing": ["/pricing*"], "docs": ["/docs/*"], "odd": ["/r/*://*"]},
            "tiers": [
              {"name": "campaign", "when": {"any": [
                {"utm": {"source": "linked*", "campaign": "nov*"}},
                {"utm": {"medium": "*mail*"}},
                {"referrer": {"host": "*google.*"}},
                {"referrer": {"host": "news.*"}}]}},
              {"name": "engaged", "when": {"engaged": {"group": "docs", "seconds_at_least": 30}}},
              {"name": "clicker", "when": {"any": [
                {"click": {"target": "plan-*"}},
                {"click": {"target": "https://calendly.com/*"}}]}},
              {"name": "odd", "when": {"viewed": {"group": "odd"}}},
              {"name": "demo", "when": {"event": {"name": "demo_request", "props": {"plan": "pro"}}}},
              {"name": "pricing", "when": {"viewed": {"group": "pricing", "at_least": 2}}}],
            "fallback": "rest"}"#,
    )
    .unwrap()
}

/// URLs, well-formed and not: schemes, users, ports, queries with UTM and other parameters,
/// fragments, odd characters in odd places.
fn url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "https://",
        "http://",
        "",
        "a?b://",
        "//",
        "android-app://",
    ]);
    let user = prop::sample::select(vec!["", "jane:pw@", "a@b@"]);
    let host = prop::sample::select(vec![
        "acme.test",
        "www.google.com",
        "News.Example.org:8080",
        "",
        "www.www.x.io",
    ]);
    let path = prop::sample::select(vec![
        "",
        "/",
        "/pricing",
        "/Pricing/Team",
        "/docs/a",
        "/r/https://b.io/x",
        "/p?",
        "/p#f?utm_source=linkedin",
    ]);
    let pair = prop::sample::select(vec![
        "utm_source=LinkedIn",
        "utm_campaign=nov%20sale",
        "utm_medium=e+mail",
        "utm_source=",
        "utm_source",
        "email=jane%40acme.com",
        "q=1",
        "utm_x=1",
        "UTM_SOURCE=x",
        "",
    ]);
    let frag = prop::sample::select(vec!["", "#top", "#a?utm_source=x"]);
    (
        scheme,
        user,
        host,
        path,
        prop::collection::vec(pair, 0..4),
        frag,
    )
        .prop_map(|(s, u, h, p, pairs, f)| {
            let q = if pairs.is_empty() {
                String::new()
            } else {
                format!("?{}", pairs.join("&"))
            };
            format!("{s}{u}{h}{p}{q}{f}")
        })
}

fn event() -> impl Strategy<Value = Event<'static>> {
    prop_oneof![
        (
            url(),
            prop::option::of(url()),
            prop::option::of("[a-z ]{0,8}")
        )
            .prop_map(|(u, r, title)| {
                Event::Pageview {
                    url: Cow::Owned(u),
                    referrer: r.map(Cow::Owned),
                    title: title.map(Cow::Owned),
                }
            }),
        (url(), 0..100u32, 0..=100u32).prop_map(|(u, s, scroll)| Event::Engagement {
            url: Cow::Owned(u),
            seconds: f64::from(s),
            scroll: f64::from(scroll),
        }),
        // Click targets: names, and link URLs without a user, fragment or query other than UTM (a
        // rule testing those is the documented exception).
        (
            prop::option::of(url()),
            prop::sample::select(vec![
                "plan-pro",
                "Plan-Team",
                "https://calendly.com/acme",
                "https://calendly.com/acme?utm_source=x",
                "https://calendly.com/Acme/x",
                "other",
            ])
        )
            .prop_map(|(u, t)| Event::Click {
                url: u.map(Cow::Owned),
                target: Cow::Borrowed(t),
            }),
        prop::sample::select(vec!["pro", "team"]).prop_map(|plan| {
            let mut props = std::collections::BTreeMap::new();
            props.insert(
                "plan".to_owned(),
                intent_engine::PropValue::Text(plan.to_owned()),
            );
            Event::Event {
                name: Cow::Borrowed("demo_request"),
                props,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn folding_sanitised_events_builds_the_same_profile(
        events in prop::collection::vec((prop::sample::select(vec![5i64, 600, 2_000]), event()), 1..12),
    ) {
        let rules = rules();
        let (mut raw, mut clean) = (Profile::new(&rules), Profile::new(&rules));
        let mut t = 1_795_000_000;
        for (gap, e) in &events {
            t += gap;
            let sanitized = e.sanitized();
            prop_assert_eq!(&sanitized.sanitized(), &sanitized);
            raw.fold(&rules, Timestamp::from_secs(t), e);
            clean.fold(&rules, Timestamp::from_secs(t), &sanitized);
            prop_assert_eq!(&raw, &clean, "after {:?} (kept as {:?})", e, sanitized);
        }
        let now = Timestamp::from_secs(t);
        prop_assert_eq!(rules.decide(&raw, now), rules.decide(&clean, now));
    }
}
