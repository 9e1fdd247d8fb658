//! The rules audit: what a set of rules did with a period of real traffic, and what looks wrong
//! with them.
//!
//! Every visitor with an event in the period is replayed from the start of the log (events
//! before the period build their history) and evaluated at every moment their tier, a segment
//! or a condition can change: after each of their events, and between events at each moment a
//! window slides past something they did, their recency or horizon runs out, or their decaying
//! score crosses a threshold. That gives, per tier and segment, the members at the end of the
//! period, who was in it at any moment, entries and exits (lapses included); per condition, for
//! how many visitors it was ever true; and per tier, the pages its visitors viewed most and
//! spent most visible time on, each view counted under the tier the visitor had just after it
//! (what the site was showing them).
//!
//! Warnings: an audience no one reached; one holding more than half of the period's visitors
//! (segmenting too broadly; the fallback tier is exempt); a condition never true; a tier whose
//! condition held for someone who never got it because a higher tier matched first (shadowed);
//! and rules not reviewed for more than 30 days. "Reviewed" is when the rules were last
//! published, which the caller knows (the console from the publish history, the CLI from
//! `--reviewed`); the config itself carries no date.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::event::Event;
use crate::explain::Check;
use crate::limits::Limits;
use crate::profile::Profile;
use crate::replay::{VisitorEvents, VisitorLog};
use crate::rules::{Cond, Rules};
use crate::time::Timestamp;
use crate::url;

/// An audience holding more than this share of the period's visitors is too broad.
pub const TOO_BROAD_SHARE: f64 = 0.5;
/// Rules last reviewed longer ago than this are flagged.
pub const REVIEW_DAYS: i64 = 30;
/// Pages listed per tier.
pub const TOP_PAGES: usize = 5;

/// What to audit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuditPeriod {
    /// The period's start (inclusive).
    pub from: Timestamp,
    /// The period's end (inclusive): members are counted at this moment.
    pub to: Timestamp,
    /// When the rules were last reviewed (published), if known.
    pub reviewed: Option<Timestamp>,
}

/// The audit of one rules config over one period of a log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    /// The rules' id.
    pub rules: String,
    /// The period's start.
    pub from: Timestamp,
    /// The period's end.
    pub to: Timestamp,
    /// Visitors with at least one event in the period.
    pub visitors: usize,
    /// Events in the period.
    pub events: usize,
    /// When the rules were last reviewed, if known.
    pub reviewed: Option<Timestamp>,
    /// Each tier in priority order, the fallback, then each segment.
    pub audiences: Vec<AudienceStats>,
    /// Each condition of each tier and segment, in config order (a combination before its parts).
    pub conditions: Vec<ConditionStats>,
    /// Per tier, the pages its visitors viewed most and spent most time on.
    pub pages: Vec<TierPages>,
    /// What looks wrong.
    pub warnings: Vec<Warning>,
}

/// One tier or segment over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudienceStats {
    /// Its name.
    pub name: String,
    /// `tier` or `segment`.
    pub kind: &'static str,
    /// Whether it is the fallback tier.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
    /// Visitors in it at the end of the period.
    pub members: usize,
    /// `members` over the period's visitors.
    pub share: f64,
    /// Visitors in it at some moment of the period.
    pub reached: usize,
    /// Times a visitor joined it during the period (a new visitor's first tier included).
    pub entries: usize,
    /// Times a visitor left it during the period (windows lapsing included).
    pub exits: usize,
    /// For tiers with a condition: visitors for whom it held at some moment, whether or not a
    /// higher tier won.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<usize>,
}

/// One condition over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionStats {
    /// The tier or segment it belongs to.
    pub audience: String,
    /// Where it is in the config, as validation errors name fields: `tiers[0].when.any[1]`.
    pub field: String,
    /// The condition in words.
    pub text: String,
    /// Visitors for whom it held at some moment of the period.
    pub true_for: usize,
    /// `true_for` over the period's visitors.
    pub share: f64,
}

/// The pages one tier's visitors used most.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierPages {
    /// The tier.
    pub tier: String,
    /// The most viewed pages, most first.
    pub most_viewed: Vec<PageStats>,
    /// The pages with the most visible time, most first.
    pub most_engaged: Vec<PageStats>,
}

/// One page's use by one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageStats {
    /// The page's path.
    pub path: String,
    /// Page views.
    pub views: usize,
    /// Distinct visitors who viewed it.
    pub visitors: usize,
    /// Visible seconds reported on it.
    pub engaged_seconds: u64,
}

/// Something that looks wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// `unreached`, `too-broad`, `never-true`, `shadowed` or `not-reviewed`.
    pub code: &'static str,
    /// The tier or segment concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The condition concerned, as `tiers[0].when.any[1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

/// One condition node of the rules, in pre-order.
struct Node<'r> {
    cond: &'r Cond,
    /// The tier or segment (index into the audience list).
    audience: usize,
    field: String,
    text: String,
}

/// Tier index, segment bits and condition values at one moment.
#[derive(Clone, PartialEq)]
struct Snapshot {
    tier: usize,
    segments: u64,
    conds: Vec<bool>,
}

/// What one visitor contributed, merged into the totals afterwards.
struct VisitorTally {
    /// Per audience: in it at some moment.
    reached: Vec<bool>,
    /// Per condition: true at some moment.
    held: Vec<bool>,
    /// Per tier: its condition held at some moment.
    matched: Vec<bool>,
    /// The (tier, path) pairs of the pages viewed, to count visitors per page.
    pages: std::collections::BTreeSet<(usize, String)>,
    /// Events in the period.
    events: usize,
    /// The state at the end of the period.
    end: Option<Snapshot>,
}

struct Auditor<'r> {
    rules: &'r Rules,
    period: AuditPeriod,
    nodes: Vec<Node<'r>>,
    /// Where each tier's and segment's root condition is in `nodes`.
    roots: Vec<usize>,
    /// Every window the rules use, and the horizon, in seconds.
    windows: Vec<i64>,
    /// Every score threshold.
    thresholds: Vec<f64>,
    tiers: usize,
    segments: usize,
    entries: Vec<usize>,
    exits: Vec<usize>,
    /// Per tier: the tiers that won when its condition held but it did not (bits).
    shadowed_by: Vec<u64>,
    /// Per tier: path → (views, visitors, seconds).
    pages: Vec<BTreeMap<String, (usize, usize, u64)>>,
}

impl Rules {
    /// Audits these rules over `period` of `log`.
    pub fn audit(&self, log: &VisitorLog, period: AuditPeriod) -> Audit {
        Auditor::new(self, period).run(log)
    }
}

impl<'r> Auditor<'r> {
    fn new(rules: &'r Rules, period: AuditPeriod) -> Self {
        let tiers = rules.tiers.len() + 1;
        let segments = rules.segments.len();
        // The texts come from the explanation of an empty profile: the same words `explain`
        // uses, in the same pre-order as the walk below.
        let explanation = rules.explain(&Profile::new(rules), period.to);
        let mut nodes = Vec::new();
        let mut roots = Vec::new();
        for (i, t) in rules.tiers.iter().enumerate() {
            roots.push(nodes.len());
            let check = explanation.tiers.get(i).and_then(|c| c.check.as_ref());
            collect(&t.cond, check, i, format!("tiers[{i}].when"), &mut nodes);
        }
        for (j, s) in rules.segments.iter().enumerate() {
            roots.push(nodes.len());
            let check = explanation.segments.get(j).and_then(|c| c.check.as_ref());
            collect(
                &s.cond,
                check,
                tiers + j,
                format!("segments[{j}].when"),
                &mut nodes,
            );
        }
        let mut windows = vec![rules.shape.horizon];
        let mut thresholds = Vec::new();
        for n in &nodes {
            match n.cond {
                Cond::Count { within, .. }
                | Cond::LastSeen { within }
                | Cond::Engaged { within, .. }
                | Cond::Visit { within, .. } => windows.push(*within),
                Cond::Score { at_least, below } => {
                    thresholds.extend(at_least.iter().chain(below.iter()).copied())
                }
                Cond::All(_) | Cond::Any(_) | Cond::Not(_) => {}
            }
        }
        windows.sort_unstable();
        windows.dedup();
        let audiences = tiers + segments;
        Auditor {
            rules,
            period,
            nodes,
            roots,
            windows,
            thresholds,
            tiers,
            segments,
            entries: vec![0; audiences],
            exits: vec![0; audiences],
            shadowed_by: vec![0; tiers],
            pages: vec![BTreeMap::new(); tiers],
        }
    }

    fn snapshot(&self, p: &Profile, at: Timestamp) -> Snapshot {
        let d = self.rules.decide(p, at);
        let tier = self
            .rules
            .tier_names()
            .position(|t| t == d.tier)
            .unwrap_or(self.tiers - 1);
        let mut segments = 0u64;
        for (j, s) in self.rules.segments.iter().enumerate() {
            if d.segments.contains(&s.name.as_str()) {
                segments |= 1 << j;
            }
        }
        let conds = self
            .nodes
            .iter()
            .map(|n| self.rules.holds(n.cond, p, at))
            .collect();
        Snapshot {
            tier,
            segments,
            conds,
        }
    }

    fn in_audience(&self, s: &Snapshot, a: usize) -> bool {
        if a < self.tiers {
            s.tier == a
        } else {
            s.segments & (1 << (a - self.tiers)) != 0
        }
    }

    /// Records the state at one moment: `prev` is the state before it (`None` for a visitor's
    /// first moment).
    fn record(&mut self, prev: Option<&Snapshot>, now: &Snapshot, tally: &mut VisitorTally) {
        for a in 0..self.tiers + self.segments {
            let is_in = self.in_audience(now, a);
            tally.reached[a] |= is_in;
            match prev.map(|p| self.in_audience(p, a)) {
                Some(was) if was != is_in => {
                    if is_in {
                        self.entries[a] += 1;
                    } else {
                        self.exits[a] += 1;
                    }
                }
                // A new visitor's first tier and segments are entries.
                None if is_in => self.entries[a] += 1,
                _ => {}
            }
        }
        for (c, held) in now.conds.iter().enumerate() {
            tally.held[c] |= *held;
        }
        for t in 0..self.tiers - 1 {
            if now.conds[self.roots[t]] {
                tally.matched[t] = true;
                if now.tier != t {
                    self.shadowed_by[t] |= 1 << now.tier;
                }
            }
        }
    }

    /// Moves `state` to `s`, recording the change if there is one.
    fn step(&mut self, s: Snapshot, state: &mut Option<Snapshot>, tally: &mut VisitorTally) {
        if state.as_ref() != Some(&s) {
            self.record(state.as_ref(), &s, tally);
            *state = Some(s);
        }
    }

    /// The moments in `(after, until]` at which something about `p` may change with no event.
    fn lapses(&self, p: &Profile, after: i64, until: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut push = |t: i64| {
            if t > after && t <= until {
                out.push(t);
            }
        };
        let times = p
            .hits
            .iter()
            .map(|h| h.at)
            .chain(p.visits.iter().map(|v| v.start))
            .chain(std::iter::once(p.last_seen));
        for at in times {
            for w in &self.windows {
                push(at.saturating_add(*w).saturating_add(1));
            }
        }
        if let Some(plan) = &self.rules.shape.score {
            for threshold in &self.thresholds {
                let ratio = p.score / threshold;
                if ratio.is_finite() && ratio >= 1.0 {
                    let t = p.score_at as f64 + plan.half_life as f64 * ratio.log2();
                    if t.is_finite() && t < (i64::MAX / 2) as f64 {
                        // Computed in floating point: check the seconds around it.
                        let t = t.floor() as i64;
                        (t - 2..=t + 2).for_each(&mut push);
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Replays one visitor; `None` when they have no event in the period.
    fn visitor(&mut self, v: VisitorEvents<'_>) -> Option<VisitorTally> {
        let (from, to) = (self.period.from.secs(), self.period.to.secs());
        let mut events = v.events().peekable();
        let mut first = Vec::new();
        while let Some((t, _)) = events.peek() {
            if t.secs() >= from {
                break;
            }
            first.extend(events.next());
        }
        if events.peek().is_none_or(|(t, _)| t.secs() > to) {
            return None;
        }
        let audiences = self.tiers + self.segments;
        let mut tally = VisitorTally {
            reached: vec![false; audiences],
            held: vec![false; self.nodes.len()],
            matched: vec![false; self.tiers],
            pages: Default::default(),
            events: 0,
            end: None,
        };
        let rules = self.rules;
        let mut profile = Profile::new(rules);
        for (t, e) in &first {
            profile.fold(rules, *t, e);
        }
        let mut state: Option<Snapshot> = None;
        let mut last = from - 1;
        if !profile.is_new() {
            // History from before the period: its state at the start is not an entry.
            let s = self.snapshot(&profile, self.period.from);
            self.record(None, &s, &mut tally);
            for a in 0..audiences {
                if self.in_audience(&s, a) {
                    self.entries[a] -= 1;
                }
            }
            state = Some(s);
            last = from;
        }
        for (t, e) in events.take_while(|(t, _)| t.secs() <= to) {
            if state.is_some() {
                for m in self.lapses(&profile, last, t.secs() - 1) {
                    let s = self.snapshot(&profile, Timestamp::from_secs(m));
                    self.step(s, &mut state, &mut tally);
                }
            }
            profile.fold(rules, t, &e);
            let s = self.snapshot(&profile, t);
            self.step(s, &mut state, &mut tally);
            let tier = state.as_ref().map_or(self.tiers - 1, |s| s.tier);
            self.page(tier, &e, &mut tally);
            tally.events += 1;
            last = t.secs();
        }
        for m in self.lapses(&profile, last, to) {
            let s = self.snapshot(&profile, Timestamp::from_secs(m));
            self.step(s, &mut state, &mut tally);
        }
        // Nothing changes between the moments checked, so the last state is the one at `to`.
        tally.end = state;
        Some(tally)
    }

    fn page(&mut self, tier: usize, e: &Event<'_>, tally: &mut VisitorTally) {
        let (path, view, seconds) = match e {
            Event::Pageview { url, .. } => (url::path_of(url), true, 0),
            Event::Engagement { url, seconds, .. } => (
                url::path_of(url),
                false,
                seconds.clamp(0.0, f64::from(Limits::ENGAGEMENT_SECS_PER_EVENT)) as u64,
            ),
            _ => return,
        };
        let entry = self.pages[tier].entry(path.to_string()).or_default();
        if view {
            entry.0 += 1;
            if tally.pages.insert((tier, path.into_owned())) {
                entry.1 += 1;
            }
        }
        entry.2 += seconds;
    }

    fn run(mut self, log: &VisitorLog) -> Audit {
        let audiences = self.tiers + self.segments;
        let mut visitors = 0;
        let mut events = 0;
        let mut reached = vec![0usize; audiences];
        let mut members = vec![0usize; audiences];
        let mut held = vec![0usize; self.nodes.len()];
        let mut matched = vec![0usize; self.tiers];
        for v in log.visitors() {
            let Some(tally) = self.visitor(v) else {
                continue;
            };
            visitors += 1;
            events += tally.events;
            for a in 0..audiences {
                reached[a] += usize::from(tally.reached[a]);
                members[a] += usize::from(
                    tally
                        .end
                        .as_ref()
                        .is_some_and(|end| self.in_audience(end, a)),
                );
            }
            for (c, h) in tally.held.iter().enumerate() {
                held[c] += usize::from(*h);
            }
            for (t, m) in tally.matched.iter().enumerate() {
                matched[t] += usize::from(*m);
            }
        }
        self.finish(visitors, events, &reached, &members, &held, &matched)
    }

    fn finish(
        self,
        visitors: usize,
        events: usize,
        reached: &[usize],
        members: &[usize],
        held: &[usize],
        matched: &[usize],
    ) -> Audit {
        let share = |n: usize| {
            if visitors == 0 {
                0.0
            } else {
                (n as f64 / visitors as f64 * 10_000.0).round() / 10_000.0
            }
        };
        let names: Vec<String> = self
            .rules
            .tier_names()
            .map(str::to_owned)
            .chain(self.rules.segments.iter().map(|s| s.name.clone()))
            .collect();
        let audiences: Vec<AudienceStats> = names
            .iter()
            .enumerate()
            .map(|(a, name)| AudienceStats {
                name: name.clone(),
                kind: if a < self.tiers { "tier" } else { "segment" },
                fallback: a == self.tiers - 1,
                members: members[a],
                share: share(members[a]),
                reached: reached[a],
                entries: self.entries[a],
                exits: self.exits[a],
                matched: (a < self.tiers - 1).then(|| matched[a]),
            })
            .collect();
        let conditions: Vec<ConditionStats> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(c, n)| ConditionStats {
                audience: names[n.audience].clone(),
                field: n.field.clone(),
                text: n.text.clone(),
                true_for: held[c],
                share: share(held[c]),
            })
            .collect();
        let mut warnings = Vec::new();
        if visitors > 0 {
            for a in &audiences {
                if a.fallback {
                    continue;
                }
                if a.reached == 0 {
                    let shadow = a.matched.unwrap_or(0) > 0;
                    if !shadow {
                        warnings.push(Warning {
                            code: "unreached",
                            audience: Some(a.name.clone()),
                            field: None,
                            message: format!(
                                "no visitor was in the {} `{}` during the period",
                                a.kind, a.name
                            ),
                        });
                    }
                } else if a.share > TOO_BROAD_SHARE {
                    warnings.push(Warning {
                        code: "too-broad",
                        audience: Some(a.name.clone()),
                        field: None,
                        message: format!(
                            "the {} `{}` holds {:.0}% of the period's visitors: it hardly separates anyone",
                            a.kind,
                            a.name,
                            a.share * 100.0
                        ),
                    });
                }
            }
            for (t, a) in audiences.iter().enumerate().take(self.tiers - 1) {
                if a.reached == 0 && a.matched.unwrap_or(0) > 0 {
                    let by: Vec<String> = (0..self.tiers)
                        .filter(|w| self.shadowed_by[t] & (1 << w) != 0)
                        .map(|w| format!("`{}`", names[w]))
                        .collect();
                    warnings.push(Warning {
                        code: "shadowed",
                        audience: Some(a.name.clone()),
                        field: Some(format!("tiers[{t}]")),
                        message: format!(
                            "the tier `{}` matched {} but never won: {} matched first",
                            a.name,
                            plural(a.matched.unwrap_or(0), "visitor"),
                            by.join(", ")
                        ),
                    });
                }
            }
            for c in &conditions {
                if c.true_for == 0 {
                    warnings.push(Warning {
                        code: "never-true",
                        audience: Some(c.audience.clone()),
                        field: Some(c.field.clone()),
                        message: format!("never true for any visitor: {}", c.text),
                    });
                }
            }
        }
        if let Some(reviewed) = self.period.reviewed {
            let days = (self.period.to.secs() - reviewed.secs()) / 86_400;
            if days > REVIEW_DAYS {
                warnings.push(Warning {
                    code: "not-reviewed",
                    audience: None,
                    field: None,
                    message: format!(
                        "the rules were last reviewed (published) {days} days before the period's end, more than {REVIEW_DAYS}: check they still match the site and the campaigns"
                    ),
                });
            }
        }
        let pages = self
            .pages
            .iter()
            .enumerate()
            .map(|(t, map)| {
                let all: Vec<PageStats> = map
                    .iter()
                    .map(|(path, (views, visitors, secs))| PageStats {
                        path: path.clone(),
                        views: *views,
                        visitors: *visitors,
                        engaged_seconds: *secs,
                    })
                    .collect();
                let mut by_views = all.clone();
                by_views.sort_by(|a, b| b.views.cmp(&a.views).then(a.path.cmp(&b.path)));
                by_views.retain(|p| p.views > 0);
                by_views.truncate(TOP_PAGES);
                let mut by_time = all;
                by_time.sort_by(|a, b| {
                    b.engaged_seconds
                        .cmp(&a.engaged_seconds)
                        .then(a.path.cmp(&b.path))
                });
                by_time.retain(|p| p.engaged_seconds > 0);
                by_time.truncate(TOP_PAGES);
                TierPages {
                    tier: names[t].clone(),
                    most_viewed: by_views,
                    most_engaged: by_time,
                }
            })
            .collect();
        Audit {
            rules: self.rules.id().to_owned(),
            from: self.period.from,
            to: self.period.to,
            visitors,
            events,
            reviewed: self.period.reviewed,
            audiences,
            conditions,
            pages,
            warnings,
        }
    }
}

/// Pushes `cond` and its parts onto `out` in pre-order, with their texts from `check` (the
/// explanation's tree of the same condition).
fn collect<'r>(
    cond: &'r Cond,
    check: Option<&Check>,
    audience: usize,
    field: String,
    out: &mut Vec<Node<'r>>,
) {
    out.push(Node {
        cond,
        audience,
        field: field.clone(),
        text: check.map_or_else(String::new, |c| c.text.clone()),
    });
    let child = |i: usize| check.and_then(|c| c.children.get(i));
    match cond {
        Cond::All(list) => {
            for (i, c) in list.iter().enumerate() {
                collect(c, child(i), audience, format!("{field}.all[{i}]"), out);
            }
        }
        Cond::Any(list) => {
            for (i, c) in list.iter().enumerate() {
                collect(c, child(i), audience, format!("{field}.any[{i}]"), out);
            }
        }
        Cond::Not(c) => collect(c, child(0), audience, format!("{field}.not"), out),
        _ => {}
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

impl fmt::Display for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Audit of rules {} from {} to {}",
            self.rules, self.from, self.to
        )?;
        writeln!(
            f,
            "{} in the period, {}",
            plural(self.visitors, "visitor"),
            plural(self.events, "event")
        )?;
        match self.reviewed {
            Some(r) => writeln!(f, "Last reviewed (published): {r}")?,
            None => writeln!(
                f,
                "Last reviewed: unknown (the date the rules were last published; pass --reviewed)"
            )?,
        }
        writeln!(
            f,
            "\nAudiences (members at the end, share, reached, entries, exits):"
        )?;
        for a in &self.audiences {
            let label = if a.fallback {
                format!("{} (fallback)", a.name)
            } else {
                a.name.clone()
            };
            write!(
                f,
                "  {:<8} {:<24} {:>6} {:>4}  reached {:>6}  +{} −{}",
                a.kind,
                label,
                a.members,
                percent(a.share),
                a.reached,
                a.entries,
                a.exits
            )?;
            if let Some(m) = a.matched {
                write!(f, "  condition held for {m}")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "\nConditions (visitors for whom each was ever true):")?;
        for c in &self.conditions {
            let depth = c.field.matches('.').count().saturating_sub(1);
            writeln!(
                f,
                "  {:>6} {:>4}  {}{} ({})",
                c.true_for,
                percent(c.share),
                "  ".repeat(depth),
                c.text,
                c.field
            )?;
        }
        writeln!(
            f,
            "\nPages per tier (each view under the tier the visitor had just after it):"
        )?;
        for t in &self.pages {
            writeln!(f, "  {}", t.tier)?;
            if t.most_viewed.is_empty() {
                writeln!(f, "    no page views")?;
                continue;
            }
            writeln!(f, "    most viewed:   views  visitors  visible s  page")?;
            for p in &t.most_viewed {
                writeln!(
                    f,
                    "                 {:>6}  {:>8}  {:>9}  {}",
                    p.views, p.visitors, p.engaged_seconds, p.path
                )?;
            }
            let order: Vec<&str> = t.most_engaged.iter().map(|p| p.path.as_str()).collect();
            writeln!(f, "    most visible time: {}", order.join(", "))?;
        }
        if self.warnings.is_empty() {
            writeln!(f, "\nNo warnings.")?;
        } else {
            writeln!(f, "\nWarnings:")?;
            for w in &self.warnings {
                match &w.field {
                    Some(field) => writeln!(f, "  [{}] {field}: {}", w.code, w.message)?,
                    None => writeln!(f, "  [{}] {}", w.code, w.message)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_lapse_without_events_is_an_exit_and_history_before_the_period_is_no_entry() {
        let log = VisitorLog::from_jsonl(concat!(
            r#"{"visitor":"fan","ts":"2026-10-30T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"fan","ts":"2026-11-02T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"fan","ts":"2026-11-03T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"new","ts":"2026-11-20T10:00:00Z","type":"pageview","url":"/blog/a"}"#,
            "\n",
        ))
        .unwrap();
        let rules = Rules::builtin();
        let period = AuditPeriod {
            from: at("2026-11-01T00:00:00Z"),
            to: at("2026-12-10T00:00:00Z"),
            reviewed: Some(at("2026-11-25T00:00:00Z")),
        };
        let a = rules.audit(&log, period);
        assert_eq!((a.visitors, a.events), (2, 3));
        let stats = |name: &str| {
            let s = a.audiences.iter().find(|s| s.name == name).unwrap();
            (s.members, s.reached, s.entries, s.exits)
        };
        // The fan was `evaluating` at the start (a pricing view in October), `ready` on the
        // third view, fell back to `evaluating` 14 days after the first counted view and left
        // it 30 days after the last: no event needed.
        assert_eq!(stats("ready"), (0, 1, 1, 1));
        assert_eq!(stats("evaluating"), (0, 1, 1, 2));
        assert_eq!(stats("researching"), (2, 2, 2, 0));
        assert!(a.warnings.iter().all(|w| w.code != "not-reviewed"));
        let late = rules.audit(
            &log,
            AuditPeriod {
                reviewed: Some(at("2026-10-01T00:00:00Z")),
                ..period
            },
        );
        assert!(late.warnings.iter().any(|w| w.code == "not-reviewed"));
    }

    #[test]
    fn a_tier_below_a_wider_one_is_shadowed_and_a_dead_segment_unreached() {
        let rules = Rules::from_json(
            r#"{"version": 1, "page_groups": {"pricing": ["/pricing*"]},
                "tiers": [
                  {"name": "warm", "when": {"viewed": {"group": "pricing", "within": "30d"}}},
                  {"name": "hot", "when": {"viewed": {"group": "pricing", "at_least": 2, "within": "30d"}}}],
                "fallback": "cold",
                "segments": [
                  {"name": "campaign", "when": {"utm": {"campaign": "spring"}}},
                  {"name": "anyone", "when": {"last_seen": {"within": "30d"}}}]}"#,
        )
        .unwrap();
        let log = VisitorLog::from_jsonl(concat!(
            r#"{"visitor":"a","ts":"2026-11-02T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"a","ts":"2026-11-02T10:05:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
        ))
        .unwrap();
        let a = rules.audit(
            &log,
            AuditPeriod {
                from: at("2026-11-01T00:00:00Z"),
                to: at("2026-11-10T00:00:00Z"),
                reviewed: None,
            },
        );
        let codes: Vec<(&str, Option<&str>)> = a
            .warnings
            .iter()
            .map(|w| (w.code, w.field.as_deref()))
            .collect();
        assert_eq!(
            codes,
            [
                ("too-broad", None),
                ("unreached", None),
                ("too-broad", None),
                ("shadowed", Some("tiers[1]")),
                ("never-true", Some("segments[0].when")),
            ]
        );
        assert!(a.warnings[3].message.contains("`warm` matched first"));
    }
}
