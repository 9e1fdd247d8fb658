//! Property tests of the stated invariants:
//! - classifying from the compact profile (carried through tokens between calls) gives the same
//!   tier and segments as evaluating the rules directly over the raw event list, within the
//!   documented limits (see `profile.rs`);
//! - a token never exceeds 1 KiB, whatever the history.
//!
//! The reference evaluator below is deliberately plain: it keeps every event and recomputes
//! each condition from scratch, straight from the config types.

use std::collections::BTreeMap;

use crate::new_id;
use intent_engine::{
    process, Condition, Event, Keyring, PropValue, ReferrerFilter, Rules, RulesConfig, Signal,
    Timestamp, UtmFilter,
};
use proptest::prelude::*;

const GAP: i64 = 30 * 60;

fn glob(pattern: &str, text: &str) -> bool {
    // Reference glob: a plain recursive matcher, fine for the short strings generated here.
    fn m(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len()).any(|i| m(&p[1..], &t[i..])),
            Some(c) => t.first() == Some(c) && m(&p[1..], &t[1..]),
        }
    }
    m(
        pattern.to_ascii_lowercase().as_bytes(),
        text.to_ascii_lowercase().as_bytes(),
    )
}

fn path(url: &str) -> String {
    let rest = url
        .split_once("://")
        .map_or(url, |(_, r)| r.find('/').map_or("", |i| &r[i..]));
    let p = rest.split(['?', '#']).next().unwrap_or("");
    if p.is_empty() {
        "/".into()
    } else {
        p.to_ascii_lowercase()
    }
}

fn param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_ascii_lowercase())
    })
}

fn host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let h = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    Some(h.strip_prefix("www.").map(str::to_owned).unwrap_or(h))
}

struct Visit {
    start: i64,
    landing: Option<(String, Option<String>)>,
    seconds: u32,
    scroll: u8,
}

struct Reference<'a> {
    cfg: &'a RulesConfig,
    events: Vec<(i64, Event<'static>)>,
    visits: Vec<Visit>,
    /// Per page view: (time, groups it matched, attributed seconds, scroll).
    views: Vec<(i64, Vec<String>, u32, u8)>,
}

impl<'a> Reference<'a> {
    fn new(cfg: &'a RulesConfig, all: &[(i64, Event<'static>)], now: i64) -> Self {
        let horizon = cfg.horizon.secs() as i64;
        // A gap longer than the horizon forgets everything before it, and so does `now`.
        let mut start = 0;
        for i in 1..all.len() {
            if all[i].0 - all[i - 1].0 > horizon {
                start = i;
            }
        }
        let events: Vec<(i64, Event<'static>)> =
            if all.last().is_some_and(|(t, _)| now - t > horizon) {
                Vec::new()
            } else {
                all[start..].to_vec()
            };
        let mut r = Reference {
            cfg,
            events: Vec::new(),
            visits: Vec::new(),
            views: Vec::new(),
        };
        let mut last: Option<i64> = None;
        for (t, e) in &events {
            if last.is_none_or(|l| t - l > GAP) {
                r.visits.push(Visit {
                    start: *t,
                    landing: None,
                    seconds: 0,
                    scroll: 0,
                });
            }
            last = Some(*t);
            let groups_of = |url: &str| -> Vec<String> {
                let p = path(url);
                cfg.page_groups
                    .iter()
                    .filter(|(_, pats)| pats.iter().any(|x| glob(x, &p)))
                    .map(|(g, _)| g.clone())
                    .collect()
            };
            match e {
                Event::Pageview { url, referrer, .. } => {
                    r.views.push((*t, groups_of(url), 0, 0));
                    if let Some(v) = r.visits.last_mut() {
                        if v.landing.is_none() {
                            v.landing =
                                Some((url.to_string(), referrer.as_deref().map(str::to_owned)));
                        }
                    }
                }
                Event::Engagement {
                    url,
                    seconds,
                    scroll,
                } => {
                    let secs = seconds.clamp(0.0, 1800.0) as u32;
                    let sc = scroll.clamp(0.0, 100.0) as u8;
                    if let Some(v) = r.visits.last_mut() {
                        v.seconds = (v.seconds + secs).min(65_535);
                        v.scroll = v.scroll.max(sc);
                    }
                    for g in groups_of(url) {
                        if let Some(view) = r.views.iter_mut().rev().find(|v| v.1.contains(&g)) {
                            view.2 = (view.2 + secs).min(65_535);
                            view.3 = view.3.max(sc);
                        }
                    }
                }
                _ => {}
            }
        }
        r.events = events;
        r
    }

    fn score(&self, now: i64) -> f64 {
        let Some(score) = &self.cfg.score else {
            return 0.0;
        };
        let hl = score.half_life.secs() as f64;
        let mut total = 0.0;
        let decay = |t: i64| 0.5f64.powf((now - t) as f64 / hl);
        for v in &self.visits {
            for s in &score.signals {
                if s.on == Signal::Visit {
                    total += f64::from(s.points) * decay(v.start);
                }
            }
        }
        for (t, e) in &self.events {
            for s in &score.signals {
                let hit = match (&s.on, e) {
                    (Signal::Viewed(g), Event::Pageview { url, .. }) => self
                        .cfg
                        .page_groups
                        .get(g)
                        .is_some_and(|p| p.iter().any(|x| glob(x, &path(url)))),
                    (Signal::Event(n), Event::Event { name, .. }) => n == name,
                    (Signal::Click(p), Event::Click { target, .. }) => glob(p, target),
                    _ => false,
                };
                if hit {
                    total += f64::from(s.points) * decay(*t);
                }
            }
        }
        total
    }

    fn holds(&self, c: &Condition, now: i64) -> bool {
        let from = |w: Option<intent_engine::Window>| {
            now - w.map_or(self.cfg.horizon.secs(), |w| w.secs()) as i64
        };
        let in_group = |g: &str, url: &str| {
            self.cfg
                .page_groups
                .get(g)
                .is_some_and(|p| p.iter().any(|x| glob(x, &path(url))))
        };
        match c {
            Condition::All(l) => l.iter().all(|c| self.holds(c, now)),
            Condition::Any(l) => l.iter().any(|c| self.holds(c, now)),
            Condition::Not(c) => !self.holds(c, now),
            Condition::Viewed(v) => {
                let f = from(v.within);
                // A view made during a visit whose landing page passes the filter, if any.
                let in_visit = |t: i64| {
                    self.visits
                        .iter()
                        .rev()
                        .find(|x| x.start <= t)
                        .is_some_and(|x| {
                            self.landed_as(
                                x,
                                v.utm.as_ref(),
                                v.referrer.as_ref(),
                                v.landed.as_deref(),
                            )
                        })
                };
                self.events
                    .iter()
                    .filter(|(t, e)| {
                        *t >= f
                            && matches!(e, Event::Pageview { url, .. } if in_group(&v.group, url))
                            && in_visit(*t)
                    })
                    .count() as u32
                    >= v.at_least
            }
            Condition::Visits(v) => {
                self.visits
                    .iter()
                    .filter(|x| {
                        x.start >= from(v.within)
                            && self.landed_as(
                                x,
                                v.utm.as_ref(),
                                v.referrer.as_ref(),
                                v.landed.as_deref(),
                            )
                    })
                    .count() as u32
                    >= v.at_least
            }
            Condition::Event(ev) => {
                let f = from(ev.within);
                self.events
                    .iter()
                    .filter(|(t, e)| {
                        *t >= f
                            && matches!(e, Event::Event { name, props } if *name == ev.name
                                && ev.props.iter().all(|(k, want)| props.get(k).is_some_and(|p| p.as_text() == *want)))
                    })
                    .count() as u32
                    >= ev.at_least
            }
            Condition::Click(c) => {
                let f = from(c.within);
                self.events
                    .iter()
                    .filter(|(t, e)| {
                        *t >= f
                            && matches!(e, Event::Click { target, .. } if glob(&c.target, target))
                    })
                    .count() as u32
                    >= c.at_least
            }
            Condition::LastSeen(l) => self
                .events
                .last()
                .is_some_and(|(t, _)| now - t <= l.within.secs() as i64),
            Condition::Engaged(e) => {
                let f = from(e.within);
                let (secs, scroll) = match &e.group {
                    Some(g) => self
                        .views
                        .iter()
                        .filter(|v| v.0 >= f && v.1.contains(g))
                        .fold((0u32, 0u8), |(s, d), v| (s.saturating_add(v.2), d.max(v.3))),
                    None => self
                        .visits
                        .iter()
                        .filter(|v| v.start >= f)
                        .fold((0u32, 0u8), |(s, d), v| {
                            (s.saturating_add(v.seconds), d.max(v.scroll))
                        }),
                };
                e.seconds_at_least.is_none_or(|s| secs >= s)
                    && e.scroll_at_least.is_none_or(|s| scroll >= s)
            }
            Condition::Utm(u) => self.visits.iter().any(|v| {
                v.start >= from(u.within)
                    && v.landing.as_ref().is_some_and(|(url, _)| {
                        let ok = |want: &Option<String>, name: &str| {
                            want.as_ref()
                                .is_none_or(|w| param(url, name).is_some_and(|got| glob(w, &got)))
                        };
                        ok(&u.source, "utm_source")
                            && ok(&u.medium, "utm_medium")
                            && ok(&u.campaign, "utm_campaign")
                    })
            }),
            Condition::Referrer(r) => self.visits.iter().any(|v| {
                v.start >= from(r.within)
                    && v.landing.as_ref().is_some_and(|(_, referrer)| {
                        referrer
                            .as_deref()
                            .and_then(host)
                            .is_some_and(|h| glob(&r.host, &h))
                    })
            }),
            Condition::Score(s) => {
                let score = self.score(now);
                s.at_least.is_none_or(|a| score >= a) && s.below.is_none_or(|b| score < b)
            }
        }
    }

    /// Whether a visit's landing page passes a `visits` or `viewed` filter (every visit when
    /// there is none).
    fn landed_as(
        &self,
        visit: &Visit,
        utm: Option<&UtmFilter>,
        referrer: Option<&ReferrerFilter>,
        group: Option<&str>,
    ) -> bool {
        if utm.is_none() && referrer.is_none() && group.is_none() {
            return true;
        }
        let Some((url, from)) = &visit.landing else {
            return false;
        };
        let utm_ok = utm.is_none_or(|u| {
            let ok = |want: &Option<String>, name: &str| {
                want.as_ref()
                    .is_none_or(|w| param(url, name).is_some_and(|got| glob(w, &got)))
            };
            ok(&u.source, "utm_source")
                && ok(&u.medium, "utm_medium")
                && ok(&u.campaign, "utm_campaign")
        });
        let referrer_ok = referrer.is_none_or(|r| {
            from.as_deref()
                .and_then(host)
                .is_some_and(|h| glob(&r.host, &h))
        });
        let group_ok = group.is_none_or(|g| {
            self.cfg
                .page_groups
                .get(g)
                .is_some_and(|p| p.iter().any(|x| glob(x, &path(url))))
        });
        utm_ok && referrer_ok && group_ok
    }

    /// Whether the documented limits hold for this history, so exactness is promised.
    fn within_limits(&self, now: i64) -> bool {
        let horizon_start = now - self.cfg.horizon.secs() as i64;
        let visits = self
            .visits
            .iter()
            .filter(|v| v.start >= horizon_start)
            .count();
        let max_group_views = self
            .cfg
            .page_groups
            .keys()
            .map(|g| {
                self.views
                    .iter()
                    .filter(|v| v.0 >= horizon_start && v.1.contains(g))
                    .count()
            })
            .max()
            .unwrap_or(0);
        visits <= 16 && max_group_views <= 16
    }

    fn score_thresholds(&self) -> Vec<f64> {
        fn walk(c: &Condition, out: &mut Vec<f64>) {
            match c {
                Condition::All(l) | Condition::Any(l) => l.iter().for_each(|c| walk(c, out)),
                Condition::Not(c) => walk(c, out),
                Condition::Score(s) => out.extend(s.at_least.into_iter().chain(s.below)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for r in self.cfg.tiers.iter().chain(&self.cfg.segments) {
            walk(&r.when, &mut out);
        }
        out
    }
}

fn event_strategy() -> impl Strategy<Value = Event<'static>> {
    let urls = prop::sample::select(vec![
        "https://acme.test/",
        "https://acme.test/pricing",
        "https://acme.test/pricing/enterprise",
        "https://acme.test/book-a-demo",
        "https://acme.test/product",
        "https://acme.test/features/ai",
        "https://acme.test/vs/sheets",
        "https://acme.test/customers/northwind",
        "https://acme.test/docs/api",
        "https://acme.test/blog/x",
        "https://acme.test/?utm_source=linkedin&utm_campaign=nov-forecast",
        "https://acme.test/pricing?utm_source=LinkedIn&utm_campaign=NOV-2",
        "https://acme.test/docs?utm_source=google",
        "https://acme.test/product?utm_source=news&utm_medium=email&utm_campaign=spring-1",
        "https://acme.test/pricing?utm_medium=Email&utm_campaign=spring-2",
        "https://acme.test/lp/spring?utm_medium=email",
    ]);
    let referrers = prop::sample::select(vec![
        None,
        Some("https://www.google.com/"),
        Some("https://www.linkedin.com/feed"),
        Some("https://news.ycombinator.com/"),
    ]);
    prop_oneof![
        5 => (urls.clone(), referrers).prop_map(|(u, r)| Event::pageview(u, r)),
        2 => (urls.clone(), 0.0f64..400.0, 0.0f64..100.0).prop_map(|(u, s, sc)| Event::Engagement { url: u.into(), seconds: s, scroll: sc }),
        1 => prop::sample::select(vec!["pricing-plan-team", "pricing-plan-growth", "footer-jobs", "https://other.example/"])
            .prop_map(|t| Event::Click { url: None, target: t.into() }),
        1 => prop::sample::select(vec![("demo_request", "pro"), ("demo_request", "basic"), ("newsletter", "x"), ("email_opened", "x"), ("cart_started", "team"), ("purchase_completed", "team"), ("form_submitted", "x")]).prop_map(|(n, p)| {
            let mut props = BTreeMap::new();
            props.insert("plan".to_owned(), PropValue::Text(p.to_owned()));
            Event::Event { name: n.into(), props }
        }),
    ]
}

fn gap_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..300,
        2 => 1_500i64..2_200,
        2 => 3_600i64..3 * 86_400,
        1 => 5 * 86_400i64..25 * 86_400,
    ]
}

fn history() -> impl Strategy<Value = (Vec<(i64, Event<'static>)>, i64, Vec<usize>)> {
    (
        prop::collection::vec((gap_strategy(), event_strategy()), 1..28),
        0i64..20 * 86_400,
        prop::collection::vec(1usize..6, 1..8),
    )
        .prop_map(|(steps, tail, batches)| {
            let mut t = 1_790_000_000i64;
            let events = steps
                .into_iter()
                .map(|(gap, e)| {
                    t += gap;
                    (t, e)
                })
                .collect::<Vec<_>>();
            (events, t + tail, batches)
        })
}

fn campaigns() -> Rules {
    let text = include_str!("../../../examples/rules/campaigns.json");
    Rules::from_json(text).unwrap_or_else(|e| panic!("examples/rules/campaigns.json: {e}"))
}

/// The product brief's examples, written as rules (`examples/brief/`).
fn brief() -> Rules {
    let text = include_str!("../../../examples/brief/rules.json");
    Rules::from_json(text).unwrap_or_else(|e| panic!("examples/brief/rules.json: {e}"))
}

/// Counts of visits and views filtered by UTM parameters, referrer and landing page.
fn filtered() -> Rules {
    let text = include_str!("data/classify/filtered-visits/rules.json");
    Rules::from_json(text).unwrap_or_else(|e| panic!("filtered-visits/rules.json: {e}"))
}

fn check_agreement(
    rules: &Rules,
    events: &[(i64, Event<'static>)],
    now: i64,
    batches: &[usize],
) -> Result<(), TestCaseError> {
    let keys = Keyring::parse("k1:property-test-secret-0123456789")
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // Feed the events in batches, each batch at its last event's time, through tokens: this is
    // exactly the worker's path (one call per batch).
    let mut token: Option<String> = None;
    let mut i = 0;
    let mut b = 0;
    while i < events.len() {
        let n = batches[b % batches.len()].min(events.len() - i);
        b += 1;
        for (t, e) in &events[i..i + n] {
            let out = process(
                rules,
                &keys,
                "demo",
                token.as_deref(),
                std::slice::from_ref(e),
                Timestamp::from_secs(*t),
                new_id,
            );
            prop_assert!(
                out.fresh.is_none()
                    || token.is_none()
                    || events[..i]
                        .last()
                        .is_some_and(|(last, _)| t - last > rules.config().horizon.secs() as i64),
                "token discarded: {:?}",
                out.fresh
            );
            prop_assert!(
                out.token.len() <= 1024,
                "token of {} bytes",
                out.token.len()
            );
            token = Some(out.token);
        }
        i += n;
    }
    let now_ts = Timestamp::from_secs(now);
    let out = process(rules, &keys, "demo", token.as_deref(), &[], now_ts, new_id);
    let reference = Reference::new(rules.config(), events, now);
    if !reference.within_limits(now) {
        return Ok(());
    }
    let ref_score = reference.score(now);
    if let Some(score) = out.decision.score {
        let tolerance = 1e-4 * ref_score.abs().max(1.0);
        prop_assert!(
            (score - ref_score).abs()
                <= tolerance
                    + 0.5f64.powf(
                        rules.config().horizon.secs() as f64
                            / rules
                                .config()
                                .score
                                .as_ref()
                                .map_or(1.0, |s| s.half_life.secs() as f64)
                    ) * 1000.0,
            "score {score} vs reference {ref_score}"
        );
        if reference
            .score_thresholds()
            .iter()
            .any(|t| (t - ref_score).abs() <= tolerance + 1e-3)
        {
            // The score sits on a threshold: float rounding may go either way, as documented.
            return Ok(());
        }
    }
    let cfg = rules.config();
    let want_tier = cfg
        .tiers
        .iter()
        .find(|t| reference.holds(&t.when, now))
        .map_or(cfg.fallback.as_str(), |t| t.name.as_str());
    prop_assert_eq!(out.decision.tier, want_tier);
    let want_segments: Vec<&str> = cfg
        .segments
        .iter()
        .filter(|s| reference.holds(&s.when, now))
        .map(|s| s.name.as_str())
        .collect();
    prop_assert_eq!(out.decision.segments, want_segments);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn default_rules_agree_with_the_raw_event_list((events, now, batches) in history()) {
        check_agreement(Rules::builtin(), &events, now, &batches)?;
    }

    #[test]
    fn campaign_rules_agree_with_the_raw_event_list((events, now, batches) in history()) {
        check_agreement(&campaigns(), &events, now, &batches)?;
    }

    #[test]
    fn brief_rules_agree_with_the_raw_event_list((events, now, batches) in history()) {
        check_agreement(&brief(), &events, now, &batches)?;
    }

    #[test]
    fn filtered_counts_agree_with_the_raw_event_list((events, now, batches) in history()) {
        check_agreement(&filtered(), &events, now, &batches)?;
    }

    #[test]
    fn tokens_stay_under_1_kib_for_long_histories(steps in prop::collection::vec((gap_strategy(), event_strategy()), 50..300)) {
        let rules = campaigns();
        let keys = Keyring::parse("k1:property-test-secret-0123456789").unwrap();
        let mut token: Option<String> = None;
        let mut t = 1_790_000_000i64;
        for (gap, e) in steps {
            t += gap;
            let out = process(&rules, &keys, "demo", token.as_deref(), std::slice::from_ref(&e), Timestamp::from_secs(t), new_id);
            prop_assert!(out.token.len() <= rules.max_token_bytes());
            prop_assert!(out.token.len() <= 1024);
            token = Some(out.token);
        }
    }
}
