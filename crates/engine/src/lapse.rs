//! When a visitor's tier or segments next change on their own, with no new event: a count
//! window sliding past a hit, recency running out, a visit test ageing out, the lead score
//! decaying across a threshold, the horizon. The audience store re-checks a visitor then, so
//! they leave an audience when their windows lapse rather than when they next come back.
//!
//! Without new events, every condition's value changes at most once: counts, engagement sums and
//! recency only fall as time passes, and the score only moves towards zero. So the decision can
//! only change at the moments some condition does. Those moments are collected per condition,
//! and the rules are evaluated at each in turn: the first moment whose tier or segments differ
//! from now's is the answer. A property test holds this to evaluating at many instants.

use crate::decide::Decision;
use crate::profile::Profile;
use crate::rules::{Cond, Counted, Rules};
use crate::time::Timestamp;

/// Seconds either side of a computed score crossing that are checked one by one: the crossing is
/// computed in floating point, the evaluation rounds its own way.
const SCORE_SLACK: i64 = 3;

impl Rules {
    /// The earliest time after `now` at which `profile`'s tier or segments change with no new
    /// event, or `None` if they never do (a new visitor, or nothing left that can lapse).
    ///
    /// At every instant from `now` up to (not including) the time returned, [`Rules::decide`]
    /// gives the same tier and segments as at `now`; at the time returned it gives others.
    pub fn next_change(&self, profile: &Profile, now: Timestamp) -> Option<Timestamp> {
        if profile.is_new() {
            return None;
        }
        let now_s = now.secs();
        let mut moments = Vec::new();
        for plan in self.tiers.iter().chain(&self.segments) {
            self.moments(&plan.cond, profile, now_s, &mut moments);
        }
        // Past the horizon the score is gone.
        moments.push(
            profile
                .last_seen
                .saturating_add(self.shape.horizon)
                .saturating_add(1),
        );
        moments.retain(|&t| t > now_s);
        moments.sort_unstable();
        moments.dedup();
        let before = self.decide(profile, now);
        moments
            .into_iter()
            .map(Timestamp::from_secs)
            .find(|&t| !same_audiences(&before, &self.decide(profile, t)))
    }

    /// Pushes onto `out` every moment at which `cond` may change its value for `p` after `now`
    /// (and possibly some at which it does not).
    fn moments(&self, cond: &Cond, p: &Profile, now: i64, out: &mut Vec<i64>) {
        // The moment a thing that happened at `at` leaves a window of `within` seconds.
        let leaves = |at: i64, within: i64| at.saturating_add(within).saturating_add(1);
        match cond {
            Cond::All(list) | Cond::Any(list) => {
                for c in list {
                    self.moments(c, p, now, out);
                }
            }
            Cond::Not(c) => self.moments(c, p, now, out),
            Cond::Count {
                of,
                at_least,
                within,
            } => {
                // Held now, it stops holding when the oldest of the last `at_least` things in the
                // window leaves it; not held now, it never will without a new event.
                let mut times: Vec<i64> = match of {
                    Counted::Series(s) => p.series(*s).iter().map(|h| h.at).collect(),
                    Counted::Visits => p.visits.iter().map(|v| v.start).collect(),
                };
                times.retain(|&at| at >= now - within);
                times.sort_unstable();
                let k = *at_least as usize;
                if k > 0 && times.len() >= k {
                    out.push(leaves(times[times.len() - k], *within));
                }
            }
            Cond::LastSeen { within } => out.push(leaves(p.last_seen, *within)),
            Cond::Engaged { of, within, .. } => match of {
                Counted::Series(s) => {
                    out.extend(p.series(*s).iter().map(|h| leaves(h.at, *within)))
                }
                Counted::Visits => out.extend(p.visits.iter().map(|v| leaves(v.start, *within))),
            },
            Cond::Visit { test, within } => {
                if let Some(start) = crate::decide::visit_test(p, *test, now - within) {
                    out.push(leaves(start, *within));
                }
            }
            Cond::Score { at_least, below } => {
                for threshold in at_least.iter().chain(below) {
                    if let Some(t) = self.score_crossing(p, *threshold) {
                        out.extend((t - SCORE_SLACK..=t + SCORE_SLACK).filter(|&m| m > now));
                    }
                }
            }
        }
    }

    /// About when `p`'s decaying score reaches `threshold`, if it ever does before the horizon.
    fn score_crossing(&self, p: &Profile, threshold: f64) -> Option<i64> {
        let score = self.shape.score.as_ref()?;
        // score(t) = score × 2^(−(t − score_at) / half_life), moving towards zero.
        let ratio = p.score / threshold;
        if !(ratio.is_finite() && ratio >= 1.0) {
            return None;
        }
        let t = p.score_at as f64 + score.half_life as f64 * ratio.log2();
        (t.is_finite() && t < i64::MAX as f64).then_some(t.floor() as i64)
    }
}

/// Whether two decisions put the visitor in the same audiences: tier and segments.
fn same_audiences(a: &Decision<'_>, b: &Decision<'_>) -> bool {
    a.tier == b.tier && a.segments == b.segments
}

#[cfg(test)]
mod tests {
    use crate::{Event, Profile, Rules, Timestamp};

    const DAY: i64 = 86_400;

    fn viewed(rules: &Rules, pages: &[(&str, i64)]) -> Profile {
        let mut p = Profile::new(rules);
        for (page, at) in pages {
            let url = format!("https://acme.test{page}");
            p.fold(
                rules,
                Timestamp::from_secs(*at),
                &Event::pageview(&url, None),
            );
        }
        p
    }

    #[test]
    fn ready_lapses_when_the_third_pricing_view_leaves_its_window() {
        let rules = Rules::builtin();
        let t0 = 1_795_000_000;
        let p = viewed(
            rules,
            &[
                ("/pricing", t0),
                ("/pricing", t0 + DAY),
                ("/pricing", t0 + 2 * DAY),
            ],
        );
        let now = Timestamp::from_secs(t0 + 2 * DAY + 60);
        assert_eq!(rules.decide(&p, now).tier, "ready");
        // Pricing ×3 within 14 days holds until the first view is 14 days and a second old.
        let lapse = rules.next_change(&p, now).unwrap();
        assert_eq!(lapse.secs(), t0 + 14 * DAY + 1);
        assert_eq!(rules.decide(&p, lapse).tier, "evaluating");
        assert_eq!(rules.decide(&p, lapse.plus_secs(-1)).tier, "ready");
        // Then pricing within 30 days keeps them evaluating until the last view is 30 days old.
        let next = rules.next_change(&p, lapse).unwrap();
        assert_eq!(next.secs(), t0 + 2 * DAY + 30 * DAY + 1);
        assert_eq!(rules.decide(&p, next).tier, "researching");
        assert_eq!(rules.next_change(&p, next), None);
    }

    #[test]
    fn a_new_visitor_never_changes() {
        let rules = Rules::builtin();
        let p = Profile::new(rules);
        assert_eq!(rules.next_change(&p, Timestamp::from_secs(1)), None);
    }

    #[test]
    fn a_decaying_score_crosses_its_threshold_to_the_second() {
        let rules = Rules::from_json(
            r#"{"version": 1, "page_groups": {"pricing": ["/pricing*"]},
                "score": {"half_life": "1d", "signals": [{"on": {"viewed": "pricing"}, "points": 40}]},
                "tiers": [{"name": "hot", "when": {"score": {"at_least": 10}}}],
                "segments": [{"name": "cooling", "when": {"score": {"below": 30}}}],
                "fallback": "cold"}"#,
        )
        .unwrap();
        let t0 = 1_795_000_000;
        let p = viewed(&rules, &[("/pricing", t0)]);
        let now = Timestamp::from_secs(t0);
        // 40 points fall below 30 after log2(40/30) days, below 10 after 2 days.
        let cooling = rules.next_change(&p, now).unwrap();
        let expected = t0 as f64 + 86_400.0 * (40.0f64 / 30.0).log2();
        assert!(
            (cooling.secs() as f64 - expected).abs() <= 1.0,
            "{cooling:?}"
        );
        assert_eq!(rules.decide(&p, cooling).segments, ["cooling"]);
        assert!(rules.decide(&p, cooling.plus_secs(-1)).segments.is_empty());
        let cold = rules.next_change(&p, cooling).unwrap();
        assert_eq!(cold.secs(), t0 + 2 * DAY + 1);
        assert_eq!(rules.decide(&p, cold).tier, "cold");
        assert_eq!(rules.decide(&p, cold.plus_secs(-1)).tier, "hot");
    }
}
