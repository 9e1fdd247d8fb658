//! `Rules::next_change` against evaluating the rules at many instants: for random rules and
//! random histories, the tier and segments stay as they are at every instant before the time it
//! gives, and differ at that time; with no time given, they never change.

use intent_engine::{Event, Profile, Rules, Timestamp};
use proptest::prelude::*;

/// Windows the generated rules use, in seconds and as written.
const WINDOWS: [(i64, &str); 6] = [
    (60, "1m"),
    (300, "5m"),
    (1_800, "30m"),
    (7_200, "2h"),
    (86_400, "1d"),
    (172_800, "2d"),
];

fn window() -> impl Strategy<Value = usize> {
    0..WINDOWS.len() - 1
}

/// A leaf condition, as JSON.
fn leaf() -> impl Strategy<Value = String> {
    let w = |i: usize| WINDOWS[i].1;
    prop_oneof![
        (0..3usize, 1..4u32, window()).prop_map(move |(g, n, i)| format!(
            r#"{{"viewed": {{"group": "{}", "at_least": {n}, "within": "{}"}}}}"#,
            ["a", "b", "c"][g],
            w(i)
        )),
        (1..4u32, window()).prop_map(move |(n, i)| format!(
            r#"{{"visits": {{"at_least": {n}, "within": "{}"}}}}"#,
            w(i)
        )),
        window().prop_map(move |i| format!(r#"{{"last_seen": {{"within": "{}"}}}}"#, w(i))),
        (any::<bool>(), 1..200u32, window()).prop_map(move |(site, s, i)| {
            let group = if site { "" } else { r#""group": "a", "# };
            format!(
                r#"{{"engaged": {{{group}"seconds_at_least": {s}, "within": "{}"}}}}"#,
                w(i)
            )
        }),
        window()
            .prop_map(move |i| format!(r#"{{"utm": {{"source": "x", "within": "{}"}}}}"#, w(i))),
        window().prop_map(move |i| format!(
            r#"{{"referrer": {{"host": "*example", "within": "{}"}}}}"#,
            w(i)
        )),
        (1..3u32, window()).prop_map(move |(n, i)| format!(
            r#"{{"event": {{"name": "e", "at_least": {n}, "within": "{}"}}}}"#,
            w(i)
        )),
        (-20..60i32, any::<bool>()).prop_map(|(v, at_least)| if at_least {
            format!(r#"{{"score": {{"at_least": {v}}}}}"#)
        } else {
            format!(r#"{{"score": {{"below": {v}}}}}"#)
        }),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|l| format!(r#"{{"all": [{}]}}"#, l.join(","))),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|l| format!(r#"{{"any": [{}]}}"#, l.join(","))),
            inner.prop_map(|c| format!(r#"{{"not": {c}}}"#)),
        ]
    })
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::collection::vec(condition(), 1..4),
        prop::collection::vec(condition(), 0..3),
        prop_oneof![Just("1h"), Just("1d")],
        prop_oneof![Just("1d"), Just("2d")],
    )
        .prop_map(|(tiers, segments, half_life, horizon)| {
            let tiers: Vec<String> = tiers
                .iter()
                .enumerate()
                .map(|(i, c)| format!(r#"{{"name": "t{i}", "when": {c}}}"#))
                .collect();
            let segments: Vec<String> = segments
                .iter()
                .enumerate()
                .map(|(i, c)| format!(r#"{{"name": "s{i}", "when": {c}}}"#))
                .collect();
            let json = format!(
                r#"{{"version": 1, "horizon": "{horizon}",
                    "page_groups": {{"a": ["/a*"], "b": ["/b*"], "c": ["/c*"]}},
                    "score": {{"half_life": "{half_life}", "signals": [
                        {{"on": {{"viewed": "a"}}, "points": 10}},
                        {{"on": {{"viewed": "b"}}, "points": -8}},
                        {{"on": {{"event": "e"}}, "points": 25}},
                        {{"on": "visit", "points": 5}}]}},
                    "tiers": [{}], "segments": [{}], "fallback": "rest"}}"#,
                tiers.join(","),
                segments.join(",")
            );
            Rules::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{json}"))
        })
}

fn event() -> impl Strategy<Value = Event<'static>> {
    prop_oneof![
        (0..3usize, any::<bool>(), any::<bool>()).prop_map(|(g, utm, referred)| {
            let page = ["/a", "/b", "/c"][g];
            let url = if utm {
                format!("https://acme.test{page}?utm_source=x")
            } else {
                format!("https://acme.test{page}")
            };
            Event::pageview(&url, referred.then_some("https://www.news.example/item"))
        }),
        (0..300u32, 0..100u32).prop_map(|(s, scroll)| Event::Engagement {
            url: "/a".into(),
            seconds: f64::from(s),
            scroll: f64::from(scroll),
        }),
        Just(Event::Event {
            name: "e".into(),
            props: Default::default(),
        }),
    ]
}

fn history() -> impl Strategy<Value = Vec<(i64, Event<'static>)>> {
    let gap = prop::sample::select(vec![5i64, 60, 600, 1_900, 4_000, 30_000, 90_000]);
    prop::collection::vec((gap, event()), 1..25)
}

fn same(rules: &Rules, p: &Profile, a: Timestamp, b: Timestamp) -> bool {
    let (x, y) = (rules.decide(p, a), rules.decide(p, b));
    x.tier == y.tier && x.segments == y.segments
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn nothing_changes_before_the_next_change_and_something_does_at_it(
        rules in rules(),
        history in history(),
        wait in prop::sample::select(vec![0i64, 30, 700, 5_000, 100_000]),
        samples in prop::collection::vec(0.0f64..1.0, 48),
    ) {
        let mut p = Profile::new(&rules);
        let mut t = 1_795_000_000i64;
        for (gap, e) in &history {
            t += gap;
            p.fold(&rules, Timestamp::from_secs(t), e);
        }
        let now = Timestamp::from_secs(t + wait);
        let next = rules.next_change(&p, now);
        let horizon = rules.config().horizon.secs() as i64;
        let end = next.map_or(now.secs() + 3 * horizon, Timestamp::secs);
        prop_assert!(end > now.secs());

        // Instants where something could lapse, computed from the profile's own summary, and
        // random ones.
        let summary = p.summary(&rules);
        let mut times: Vec<i64> = summary.visit_starts.iter().map(|t| t.secs()).collect();
        for (_, kept) in &summary.tracked {
            times.extend(kept.iter().map(|t| t.secs()));
        }
        times.extend(summary.last_seen.map(Timestamp::secs));
        let mut instants = vec![end - 1];
        for at in times {
            for (w, _) in WINDOWS.iter().chain(&[(horizon, "")]) {
                instants.extend([at + w, at + w + 1]);
            }
        }
        let span = (end - now.secs()) as f64;
        instants.extend(samples.iter().map(|f| now.secs() + (f * span) as i64));
        for at in instants.into_iter().filter(|&at| at >= now.secs() && at < end) {
            prop_assert!(
                same(&rules, &p, now, Timestamp::from_secs(at)),
                "changed at {} before the next change {:?} (now {})", at, next, now.secs()
            );
        }
        if let Some(next) = next {
            prop_assert!(!same(&rules, &p, now, next), "nothing changed at {next:?}");
        }
    }
}
