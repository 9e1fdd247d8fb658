//! Folding one event into a profile.

use std::collections::BTreeMap;

use crate::event::{Event, PropValue};
use crate::limits::Limits;
use crate::pattern::Glob;
use crate::profile::{Hit, Profile, VisitRec, MAX_SECONDS};
use crate::rules::{Rules, SignalPlan, VisitMatcher};
use crate::shape::{Series, Tracked};
use crate::time::Timestamp;
use crate::url;
use crate::VISIT_GAP_SECS;

impl Profile {
    /// Folds one event that happened at `at` into the profile.
    ///
    /// Starts a new visit after [`VISIT_GAP_SECS`] without activity, drops whatever is older
    /// than the rules' horizon, and updates only what the rules track.
    pub fn fold(&mut self, rules: &Rules, at: Timestamp, event: &Event) {
        if let Event::Identify { .. } = event {
            // Who the visitor is is not what they do: an identify event changes nothing here,
            // not even the last activity, and its email never enters a profile or token.
            return;
        }
        let mut now = at.secs();
        if !self.is_new() && now - self.last_seen > rules.shape.horizon {
            // Everything on the profile is past the horizon: the visitor starts fresh.
            *self = Profile::new(rules);
        }
        // Events are folded in arrival order; an older one counts at the last activity, so the
        // profile's timeline never runs backwards.
        now = now.max(self.last_seen);
        let new_visit = self.is_new() || now - self.last_seen > VISIT_GAP_SECS;
        self.last_seen = now;
        if new_visit {
            self.push_visit(VisitRec {
                start: now,
                seconds: 0,
                scroll: 0,
                tests: 0,
                // With no visit tests or filters there is nothing to do on landing: such a
                // visit counts as landed from the start, and tokens need not carry the flag.
                landed: !rules.tests_landing(),
            });
            self.visits_total = self.visits_total.saturating_add(1);
            self.add_points(rules, now, |s| matches!(s, SignalPlan::Visit));
        }
        self.prune(rules, now);

        match event {
            Event::Pageview { url, referrer, .. } => {
                self.fold_pageview(rules, now, url, referrer.as_deref())
            }
            Event::Engagement {
                url,
                seconds,
                scroll,
            } => {
                let secs = seconds.clamp(0.0, f64::from(Limits::ENGAGEMENT_SECS_PER_EVENT)) as u32;
                let scroll = scroll.clamp(0.0, 100.0) as u8;
                // Kept per visit only when a rule reads it.
                if let Some(visit) = self
                    .visits
                    .last_mut()
                    .filter(|_| rules.shape.visit_engagement)
                {
                    visit.seconds = (visit.seconds + secs).min(MAX_SECONDS);
                    visit.scroll = visit.scroll.max(scroll);
                }
                if !rules.engaged_groups {
                    // No rule looks at engagement per page group: the visit totals are all.
                    return;
                }
                let path = url::path_of(url);
                for group in &rules.groups {
                    let Some(s) = group.series else { continue };
                    if !rules.shape.series[s].engagement
                        || !group.patterns.iter().any(|p| p.matches(&path))
                    {
                        continue;
                    }
                    if let Some(hit) = self.last_hit_mut(s) {
                        hit.seconds = (hit.seconds + secs).min(MAX_SECONDS);
                        hit.scroll = hit.scroll.max(scroll);
                    }
                }
            }
            Event::Click { target, .. } => {
                let target = target.to_ascii_lowercase();
                for (i, glob) in &rules.clicks {
                    if glob.matches(&target) {
                        self.hit(rules, *i, now);
                    }
                }
                self.add_points(
                    rules,
                    now,
                    |s| matches!(s, SignalPlan::Click(g) if g.matches(&target)),
                );
            }
            Event::Event { name, props } => {
                for (i, _) in event_series(rules, name, props) {
                    self.hit(rules, i, now);
                }
                self.add_points(
                    rules,
                    now,
                    |s| matches!(s, SignalPlan::Event(n) if n == name),
                );
            }
            // Returned from above.
            Event::Identify { .. } => {}
        }
    }

    /// Counts an event that happened outside the site (an email platform's `email_opened`,
    /// posted to the edge by another tool) at its own time `at`: the series and score signals
    /// of its name count it as they would on-site, but it is no activity on the site, so it
    /// starts no visit, moves no visit's engagement and leaves `last_seen` as it was. Only
    /// `event`s count; other kinds are not the site's to receive from elsewhere. An event
    /// older than the horizon before the profile's last activity counts nothing.
    ///
    /// The audience store folds these into a copy of the visitor's profile when it computes
    /// their audiences; they never enter a token.
    pub fn count_external(&mut self, rules: &Rules, at: Timestamp, event: &Event) {
        let Event::Event { name, props } = event else {
            return;
        };
        let at = at.secs();
        if at < self.last_seen - rules.shape.horizon {
            return;
        }
        for (i, plan) in event_series(rules, name, props) {
            let Ok(series) = u16::try_from(i) else {
                continue;
            };
            let hit = Hit {
                at,
                seconds: 0,
                scroll: 0,
                series,
            };
            self.insert_hit(hit, plan.capacity);
        }
        // Points decay from the last time they were added: an older event adds its points then.
        let at = at.max(self.score_at);
        self.add_points(
            rules,
            at,
            |s| matches!(s, SignalPlan::Event(n) if n == name),
        );
    }

    fn fold_pageview(&mut self, rules: &Rules, now: i64, url: &str, referrer: Option<&str>) {
        let path = url::path_of(url);
        // The landing page is tested first: the views of a visit's first page count in the
        // visit's filtered series when the visit passes.
        self.land(rules, url, &path, referrer);
        for (g, group) in rules.groups.iter().enumerate() {
            if !group.patterns.iter().any(|p| p.matches(&path)) {
                continue;
            }
            if let Some(s) = group.series {
                self.hit(rules, s, now);
            }
            for views in &rules.views_in_visits {
                if views.group == g && self.in_filtered_visit(views.visits) {
                    self.hit(rules, views.series, now);
                }
            }
            self.add_points(
                rules,
                now,
                |s| matches!(s, SignalPlan::Viewed(i) if *i == g),
            );
        }
    }

    /// Tests the current visit's landing page, at its first page view: the rules' UTM and
    /// referrer tests become the visit's bits, and each visit filter it passes records the
    /// visit (at its start) in that filter's series. Only the results are kept.
    fn land(&mut self, rules: &Rules, url: &str, path: &str, referrer: Option<&str>) {
        let Some(visit) = self.visits.last_mut() else {
            return;
        };
        if visit.landed {
            return;
        }
        visit.landed = true;
        if !rules.tests_landing() {
            // Nothing to test on the landing page: skip reading its query and referrer.
            return;
        }
        let start = visit.start;
        let referrer_host = referrer.and_then(url::host_of);
        let utm = |name: &str| url::query_param(url, name);
        let (source, medium, campaign) =
            (utm("utm_source"), utm("utm_medium"), utm("utm_campaign"));
        let check = |want: &Option<Glob>, got: &Option<String>| match want {
            None => true,
            Some(glob) => got.as_deref().is_some_and(|g| glob.matches(g)),
        };
        for (i, test) in rules.visit_tests.iter().enumerate() {
            let pass = match test {
                VisitMatcher::Utm {
                    source: want_source,
                    medium: want_medium,
                    campaign: want_campaign,
                } => {
                    check(want_source, &source)
                        && check(want_medium, &medium)
                        && check(want_campaign, &campaign)
                }
                VisitMatcher::Referrer(glob) => {
                    referrer_host.as_deref().is_some_and(|h| glob.matches(h))
                }
            };
            if pass {
                visit.tests |= 1 << i;
            }
        }
        for (s, filter) in &rules.visit_filters {
            let landed_in_group = filter.landed.is_none_or(|g| {
                rules
                    .groups
                    .get(g)
                    .is_some_and(|group| group.patterns.iter().any(|p| p.matches(path)))
            });
            let pass = check(&filter.source, &source)
                && check(&filter.medium, &medium)
                && check(&filter.campaign, &campaign)
                && check(&filter.referrer, &referrer_host)
                && landed_in_group;
            if pass {
                self.hit_at(rules, *s, start);
            }
        }
    }

    /// Whether the current visit passed the filter of filtered-visits series `s`: its latest
    /// hit is the visit's start.
    fn in_filtered_visit(&self, s: usize) -> bool {
        let Some(visit) = self.visits.last() else {
            return false;
        };
        self.series(s).last().is_some_and(|h| h.at == visit.start)
    }

    fn hit(&mut self, rules: &Rules, series: usize, now: i64) {
        self.hit_at(rules, series, now);
    }

    fn hit_at(&mut self, rules: &Rules, series: usize, now: i64) {
        // Rules compile to fewer series than `u16` counts (`Limits::CONDITIONS`).
        let Ok(index) = u16::try_from(series) else {
            return;
        };
        let hit = Hit {
            at: now,
            seconds: 0,
            scroll: 0,
            series: index,
        };
        self.push_hit(hit, rules.shape.series[series].capacity);
    }

    fn add_points(&mut self, rules: &Rules, now: i64, matches: impl Fn(&SignalPlan) -> bool) {
        let Some(plan) = &rules.score else { return };
        let points: f64 = plan
            .signals
            .iter()
            .filter(|(s, _)| matches(s))
            .map(|(_, p)| p)
            .sum();
        if points == 0.0 {
            return;
        }
        if let Some(current) = self.score(rules, Timestamp::from_secs(now)) {
            self.score = current + points;
            self.score_at = now;
        }
    }

    /// Drops visits and hits older than the horizon.
    fn prune(&mut self, rules: &Rules, now: i64) {
        let oldest = now - rules.shape.horizon;
        self.visits.retain(|v| v.start >= oldest);
        self.hits.retain(|h| h.at >= oldest);
    }
}

/// The series that count the custom event `name` with `props` (by index, with their plan):
/// those tracking that name whose every wanted property the event has, compared as text.
fn event_series<'r>(
    rules: &'r Rules,
    name: &'r str,
    props: &'r BTreeMap<String, PropValue>,
) -> impl Iterator<Item = (usize, &'r Series)> + 'r {
    rules
        .shape
        .series
        .iter()
        .enumerate()
        .filter(move |(_, plan)| match &plan.what {
            Tracked::Event {
                name: want,
                props: want_props,
            } => {
                want == name
                    && want_props
                        .iter()
                        .all(|(k, v)| props.get(k).is_some_and(|p| p.as_text() == *v))
            }
            _ => false,
        })
}
