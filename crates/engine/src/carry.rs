//! Carrying a profile made under one shape over to another: what a visitor keeps when the
//! rules change.
//!
//! What both shapes track keeps its history: a series of the same kind and the same page group,
//! event (with the same properties), click target or visit filter (a filtered `visits` or
//! `viewed` count keeps its history when the edit keeps the same filter, part for part) keeps
//! its most recent hits, up to the new capacity; the visits, the visit count and the last activity always carry over; visits keep
//! the results of the UTM and referrer tests both shapes have, and their visible seconds and
//! scroll depth when both keep them; hits keep theirs when both keep them; the lead score
//! carries over when both shapes keep one. What only the new shape tracks starts empty, and
//! what only the old one tracked is dropped. Nothing older than the new horizon is kept.
//!
//! A page group is known by its name: when its patterns change, its hits carry over, counted
//! with the old patterns.
//!
//! ## What carrying over promises
//!
//! For a history `H`, let `P_A` be the profile shape `A`'s rules build from `H` and `P_B` the one
//! `B`'s rules build. Then `P_A.carried_over(A, B)` is exactly `P_B` with what only `B` tracks
//! emptied (new series, new visit tests' bits, engagement only `B` keeps, a score only `B`
//! keeps), provided that for every series both track `B`'s capacity is no larger than `A`'s,
//! `B`'s horizon is no longer than `A`'s, both score the same way, and no gap in `H` is longer
//! than `B`'s horizon. Otherwise:
//! - a series whose capacity grows keeps at most `A`'s capacity of hits, so counts above it
//!   start from what was kept (they are exact again once enough new hits arrive);
//! - a longer horizon keeps only what `A` still held;
//! - a score kept by both but earned under other signals or half-life keeps its value, and
//!   from then on earns and decays as `B` says;
//! - after a gap longer than `B`'s horizon but not `A`'s, `B` would have started afresh: the
//!   carried profile keeps `A`'s visit count and score (its hits and visits from before the gap
//!   are past `B`'s horizon and dropped);
//! - a visit that had not yet landed (no page view yet) when `A` tested no landing pages counts
//!   as landed: its landing page is not tested.
//!
//! The property test `carried_over_agrees_with_building_under_the_new_shape` below checks the
//! exact case over random pairs of configs and random histories.

use crate::profile::{Hit, Profile, VisitRec};
use crate::shape::ProfileShape;

impl Profile {
    /// This profile, made under `from`, as a profile of `to`: see the module documentation of
    /// `carry.rs` for what is kept. The visitor id carries over unchanged.
    pub fn carried_over(&self, from: &ProfileShape, to: &ProfileShape) -> Profile {
        let oldest = self.last_seen - to.horizon;
        let both_engage_visits = from.visit_engagement && to.visit_engagement;
        // Where each of `to`'s visit tests was in `from`, if it was there.
        let test_from: Vec<Option<usize>> = to
            .visit_tests
            .iter()
            .map(|t| from.visit_tests.iter().position(|f| f == t))
            .collect();
        let visits = self
            .visits
            .iter()
            .filter(|v| v.start >= oldest)
            .map(|v| {
                let tests = test_from
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| i.is_some_and(|i| v.tests & (1 << i) != 0))
                    .fold(0u32, |bits, (j, _)| bits | (1 << j));
                VisitRec {
                    start: v.start,
                    seconds: if both_engage_visits { v.seconds } else { 0 },
                    scroll: if both_engage_visits { v.scroll } else { 0 },
                    tests,
                    // Without visit tests a visit counts as landed from the start (see
                    // `Profile::fold`); with them, a visit `from` had not seen land yet lands
                    // at its next page view.
                    landed: v.landed || !to.tests_visits(),
                }
            })
            .collect();
        let mut hits = Vec::with_capacity(self.hits.len());
        for (j, series) in to.series.iter().enumerate() {
            let Some(i) = from.series.iter().position(|s| s.what == series.what) else {
                continue;
            };
            let Ok(index) = u16::try_from(j) else {
                continue;
            };
            let engaged = from.series[i].engagement && series.engagement;
            let kept: Vec<&Hit> = self.series(i).iter().filter(|h| h.at >= oldest).collect();
            let skip = kept.len().saturating_sub(series.capacity);
            hits.extend(kept[skip..].iter().map(|h| Hit {
                at: h.at,
                seconds: if engaged { h.seconds } else { 0 },
                scroll: if engaged { h.scroll } else { 0 },
                series: index,
            }));
        }
        let (score, score_at) = if from.score.is_some() && to.score.is_some() {
            (self.score, self.score_at)
        } else {
            (0.0, 0)
        };
        Profile {
            visitor: self.visitor,
            last_seen: self.last_seen,
            visits_total: self.visits_total,
            visits,
            hits,
            score,
            score_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use crate::event::{Event, PropValue};
    use crate::profile::Profile;
    use crate::rules::Rules;
    use crate::shape::ProfileShape;
    use crate::time::Timestamp;
    use crate::{Keyring, VisitorId};

    /// One condition of a generated config; the names are those of the events generated below.
    #[derive(Debug, Clone, PartialEq)]
    enum Atom {
        Viewed(&'static str, u32),
        Event(&'static str, Option<&'static str>, u32),
        Click(&'static str, u32),
        EngagedGroup(&'static str),
        EngagedSite,
        Utm(&'static str),
        Referrer(&'static str),
        Visits(u32),
        /// Visits landing with this `utm_source`, on this page group if one is given.
        FilteredVisits(&'static str, Option<&'static str>, u32),
        /// Views of a group in visits landing with this `utm_source`.
        FilteredViewed(&'static str, &'static str, u32),
    }

    impl Atom {
        fn json(&self) -> String {
            match self {
                Atom::Viewed(g, n) => {
                    format!(r#"{{"viewed": {{"group": "{g}", "at_least": {n}}}}}"#)
                }
                Atom::Event(name, plan, n) => {
                    let props = plan.map_or(String::new(), |p| {
                        format!(r#", "props": {{"plan": "{p}"}}"#)
                    });
                    format!(r#"{{"event": {{"name": "{name}", "at_least": {n}{props}}}}}"#)
                }
                Atom::Click(t, n) => {
                    format!(r#"{{"click": {{"target": "{t}", "at_least": {n}}}}}"#)
                }
                Atom::EngagedGroup(g) => {
                    format!(r#"{{"engaged": {{"group": "{g}", "seconds_at_least": 30}}}}"#)
                }
                Atom::EngagedSite => r#"{"engaged": {"scroll_at_least": 50}}"#.to_owned(),
                Atom::Utm(s) => format!(r#"{{"utm": {{"source": "{s}"}}}}"#),
                Atom::Referrer(h) => format!(r#"{{"referrer": {{"host": "{h}"}}}}"#),
                Atom::Visits(n) => format!(r#"{{"visits": {{"at_least": {n}}}}}"#),
                Atom::FilteredVisits(source, group, n) => {
                    let landed = group.map_or(String::new(), |g| format!(r#", "landed": "{g}""#));
                    format!(
                        r#"{{"visits": {{"at_least": {n}, "utm": {{"source": "{source}"}}{landed}}}}}"#
                    )
                }
                Atom::FilteredViewed(group, source, n) => format!(
                    r#"{{"viewed": {{"group": "{group}", "at_least": {n}, "utm": {{"source": "{source}"}}}}}}"#
                ),
            }
        }

        /// The same condition asking for at most `n` (so the series' capacity does not grow).
        fn at_most(&self, n: u32) -> Atom {
            match self.clone() {
                Atom::Viewed(g, m) => Atom::Viewed(g, m.min(n)),
                Atom::Event(e, p, m) => Atom::Event(e, p, m.min(n)),
                Atom::Click(t, m) => Atom::Click(t, m.min(n)),
                Atom::Visits(m) => Atom::Visits(m.min(n)),
                Atom::FilteredVisits(s, g, m) => Atom::FilteredVisits(s, g, m.min(n)),
                Atom::FilteredViewed(g, s, m) => Atom::FilteredViewed(g, s, m.min(n)),
                other => other,
            }
        }
    }

    #[derive(Debug, Clone)]
    struct Config {
        horizon_days: u32,
        /// Which of two scorings, if any.
        score: Option<u8>,
        atoms: Vec<Atom>,
    }

    impl Config {
        fn rules(&self) -> Rules {
            let score = match self.score {
                None => String::new(),
                Some(0) => r#""score": {"half_life": "7d", "signals": [{"on": {"viewed": "pricing"}, "points": 10}, {"on": "visit", "points": 2}]},"#.to_owned(),
                Some(_) => r#""score": {"half_life": "3d", "signals": [{"on": {"event": "demo_request"}, "points": 30}, {"on": {"click": "plan-*"}, "points": -4}]},"#.to_owned(),
            };
            let any: Vec<String> = self.atoms.iter().map(Atom::json).collect();
            let text = format!(
                r#"{{"version": 1, "horizon": "{}d", {score}
                    "page_groups": {{"pricing": ["/pricing*"], "demo": ["/demo*"], "docs": ["/docs*"], "webinar": ["/webinar*"]}},
                    "tiers": [{{"name": "t", "when": {{"any": [{}]}}}}], "fallback": "rest"}}"#,
                self.horizon_days,
                any.join(", ")
            );
            Rules::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
        }
    }

    /// Conditions on what the first config of a pair may track (never what only the second
    /// one does: `webinar`, `trial`, `footer-*`, `newsletter`, `*bing*`).
    fn old_atom() -> impl Strategy<Value = Atom> {
        let group = prop::sample::select(vec!["pricing", "demo", "docs"]);
        prop_oneof![
            4 => (group.clone(), 1u32..6).prop_map(|(g, n)| Atom::Viewed(g, n)),
            2 => (prop::sample::select(vec![None, Some("pro")]), 1u32..4)
                .prop_map(|(p, n)| Atom::Event("demo_request", p, n)),
            2 => (prop::sample::select(vec!["plan-*", "hero"]), 1u32..4).prop_map(|(t, n)| Atom::Click(t, n)),
            1 => group.clone().prop_map(Atom::EngagedGroup),
            1 => Just(Atom::EngagedSite),
            1 => prop::sample::select(vec!["linkedin", "google"]).prop_map(Atom::Utm),
            1 => Just(Atom::Referrer("*google.*")),
            1 => (1u32..4).prop_map(Atom::Visits),
            1 => (
                prop::sample::select(vec!["linkedin", "google"]),
                prop::sample::select(vec![None, Some("pricing"), Some("demo")]),
                1u32..4,
            )
                .prop_map(|(s, g, n)| Atom::FilteredVisits(s, g, n)),
            1 => (group.clone(), prop::sample::select(vec!["linkedin", "google"]), 1u32..4)
                .prop_map(|(g, s, n)| Atom::FilteredViewed(g, s, n)),
        ]
    }

    /// Conditions only the second config of a pair has.
    fn new_atom() -> impl Strategy<Value = Atom> {
        prop_oneof![
            (1u32..4).prop_map(|n| Atom::Viewed("webinar", n)),
            Just(Atom::EngagedGroup("webinar")),
            (1u32..3).prop_map(|n| Atom::Event("trial", None, n)),
            Just(Atom::Click("footer-*", 1)),
            Just(Atom::Utm("newsletter")),
            Just(Atom::Referrer("*bing*")),
            Just(Atom::EngagedSite),
            (1u32..3).prop_map(|n| Atom::FilteredVisits("newsletter", None, n)),
            (1u32..3).prop_map(|n| Atom::FilteredVisits("linkedin", Some("webinar"), n)),
            (1u32..3).prop_map(|n| Atom::FilteredViewed("webinar", "google", n)),
        ]
    }

    fn old_config() -> impl Strategy<Value = Config> {
        (
            prop::sample::select(vec![30u32, 90]),
            prop::sample::select(vec![None, Some(0u8), Some(1)]),
            prop::collection::vec(old_atom(), 1..7),
        )
            .prop_map(|(horizon_days, score, atoms)| Config {
                horizon_days,
                score,
                atoms,
            })
    }

    /// A pair where the second config asks no more of anything the first tracks than the first
    /// kept, remembers no longer, and scores the same way if both score: the exact case.
    fn narrowing_pair() -> impl Strategy<Value = (Config, Config)> {
        old_config().prop_flat_map(|a| {
            let n = a.atoms.len();
            (
                Just(a.clone()),
                prop::collection::vec((any::<bool>(), 1u32..6), n),
                prop::collection::vec(new_atom(), 0..3),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(move |(a, keep, added, shorter, drop_score)| {
                    let old_engaged: Vec<&Atom> = a
                        .atoms
                        .iter()
                        .filter(|x| matches!(x, Atom::EngagedGroup(_)))
                        .collect();
                    let mut atoms: Vec<Atom> = a
                        .atoms
                        .iter()
                        .zip(&keep)
                        .filter(|(_, (k, _))| *k)
                        .map(|(atom, (_, m))| atom.at_most(*m))
                        .collect();
                    // An `engaged` group keeps 16 views: only where the first config did too.
                    atoms.retain(|x| {
                        !matches!(x, Atom::EngagedGroup(_)) || old_engaged.contains(&x)
                    });
                    atoms.extend(added);
                    if atoms.is_empty() {
                        atoms.push(Atom::Visits(1));
                    }
                    let b = Config {
                        horizon_days: if shorter { 30 } else { a.horizon_days },
                        score: if drop_score { None } else { a.score },
                        atoms,
                    };
                    (a, b)
                })
        })
    }

    fn event() -> impl Strategy<Value = Event<'static>> {
        let urls = prop::sample::select(vec![
            "https://acme.test/",
            "https://acme.test/pricing",
            "https://acme.test/demo?utm_source=linkedin",
            "https://acme.test/docs/api?utm_source=newsletter",
            "https://acme.test/webinar/q4",
            "https://acme.test/pricing?utm_source=google",
            "https://acme.test/webinar/q4?utm_source=linkedin",
        ]);
        let referrers = prop::sample::select(vec![
            None,
            Some("https://www.google.com/"),
            Some("https://www.bing.com/"),
        ]);
        prop_oneof![
            5 => (urls.clone(), referrers).prop_map(|(u, r)| Event::pageview(u, r)),
            2 => (urls, 0.0f64..400.0, 0.0f64..100.0).prop_map(|(u, s, sc)| Event::Engagement {
                url: u.into(),
                seconds: s,
                scroll: sc,
            }),
            1 => prop::sample::select(vec!["plan-team", "hero", "footer-jobs"])
                .prop_map(|t| Event::Click { url: None, target: t.into() }),
            1 => prop::sample::select(vec![("demo_request", "pro"), ("demo_request", "team"), ("trial", "x")])
                .prop_map(|(n, p)| {
                    let mut props = BTreeMap::new();
                    props.insert("plan".to_owned(), PropValue::Text(p.to_owned()));
                    Event::Event { name: n.into(), props }
                }),
        ]
    }

    /// Events with gaps from seconds to 25 days: never longer than the shortest horizon (30
    /// days), so that neither config starts a visitor afresh in the middle of a history.
    fn history() -> impl Strategy<Value = Vec<(i64, Event<'static>)>> {
        let gap = prop_oneof![
            4 => 0i64..300,
            2 => 1_500i64..2_200,
            2 => 3_600i64..3 * 86_400,
            1 => 5 * 86_400i64..25 * 86_400,
        ];
        prop::collection::vec((gap, event()), 1..40).prop_map(|steps| {
            let mut t = 1_790_000_000i64;
            steps
                .into_iter()
                .map(|(g, e)| {
                    t += g;
                    (t, e)
                })
                .collect()
        })
    }

    fn build(rules: &Rules, history: &[(i64, Event<'static>)]) -> Profile {
        let mut p = Profile::new(rules);
        for (t, e) in history {
            p.fold(rules, Timestamp::from_secs(*t), e);
        }
        p
    }

    /// `built`, a profile `to`'s rules built, without what only `to` tracks, as carrying over
    /// from `from` leaves it empty (see the module documentation).
    fn without_what_is_new(built: &Profile, from: &ProfileShape, to: &ProfileShape) -> Profile {
        let mut p = built.clone();
        p.hits.retain(|h| {
            let what = &to.series[usize::from(h.series)].what;
            from.series.iter().any(|s| s.what == *what)
        });
        for h in &mut p.hits {
            let series = &to.series[usize::from(h.series)];
            let before = from.series.iter().find(|s| s.what == series.what);
            if !before.is_some_and(|s| s.engagement) {
                (h.seconds, h.scroll) = (0, 0);
            }
        }
        for v in &mut p.visits {
            for (j, t) in to.visit_tests.iter().enumerate() {
                if !from.visit_tests.contains(t) {
                    v.tests &= !(1 << j);
                }
            }
            if !from.visit_engagement {
                (v.seconds, v.scroll) = (0, 0);
            }
            if !from.tests_visits() {
                v.landed = true;
            }
        }
        if from.score.is_none() {
            (p.score, p.score_at) = (0.0, 0);
        }
        p
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// The exact case: what carrying over keeps is exactly what the new rules would have
        /// built from the same history, and what it starts empty is all that differs.
        #[test]
        fn carried_over_agrees_with_building_under_the_new_shape(
            (a, b) in narrowing_pair(),
            history in history(),
        ) {
            let (ra, rb) = (a.rules(), b.rules());
            let carried = build(&ra, &history).carried_over(ra.shape(), rb.shape());
            let expected = without_what_is_new(&build(&rb, &history), ra.shape(), rb.shape());
            prop_assert_eq!(carried, expected);
        }

        /// Any pair: for everything both track, the carried hits are the most recent of those
        /// the new rules would have kept; a carried profile is a valid profile of the new shape
        /// (its token stays within the new rules' worst case and reads back the same).
        #[test]
        fn any_carried_profile_is_a_profile_of_the_new_shape(
            a in old_config(),
            b in old_config(),
            extra in prop::collection::vec(new_atom(), 0..3),
            history in history(),
        ) {
            let mut b = b;
            b.atoms.extend(extra);
            let (ra, rb) = (a.rules(), b.rules());
            let mut old = build(&ra, &history);
            old.visitor = Some(VisitorId::from_random_bytes([3; 12]));
            let carried = old.carried_over(ra.shape(), rb.shape());
            let built = build(&rb, &history);
            for (j, series) in rb.shape().series.iter().enumerate() {
                let got: Vec<i64> = carried.series(j).iter().map(|h| h.at).collect();
                let want: Vec<i64> = built.series(j).iter().map(|h| h.at).collect();
                prop_assert!(want.ends_with(&got), "{:?}: {:?} is not the end of {:?}", series.what, got, want);
                if !ra.shape().series.iter().any(|s| s.what == series.what) {
                    prop_assert!(got.is_empty());
                }
            }
            prop_assert_eq!(carried.visitor, old.visitor);
            prop_assert_eq!((carried.last_seen, carried.visits_total), (old.last_seen, old.visits_total));
            let keys = Keyring::parse("k1:carry-over-test-secret-0123").unwrap();
            let token = keys.encode(&rb, "demo", &carried);
            prop_assert!(token.len() <= rb.max_token_bytes());
            let at = Timestamp::from_secs(carried.last_seen);
            let back = keys.decode(&rb, "demo", &token, at).unwrap();
            if rb.shape().score.is_none() {
                prop_assert_eq!(back, carried);
            }
        }
    }
}
