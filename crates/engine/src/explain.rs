//! Why a visitor got their tier, in words a marketer reads: which conditions held, and the
//! values seen against the thresholds.

use std::fmt;

use serde::Serialize;

use crate::decide::{count, engagement, visit_test};
use crate::profile::Profile;
use crate::rules::{Cond, Counted, Rules};
use crate::shape::{Tracked, VisitTest};
use crate::time::{describe_span, Timestamp};

/// The explanation of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The tier the visitor got.
    pub tier: String,
    /// The rules' id.
    pub rules: String,
    /// When the visitor was evaluated.
    pub at: String,
    /// Visits the profile has seen.
    pub visits: u32,
    /// When the visitor was last active.
    pub last_seen: Option<String>,
    /// The decayed lead score, when the rules define one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Each tier in priority order, then the fallback.
    pub tiers: Vec<RuleCheck>,
    /// Each segment.
    pub segments: Vec<RuleCheck>,
}

/// One tier or segment and whether it matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleCheck {
    /// The tier's or segment's name.
    pub name: String,
    /// Whether it matched (for tiers: whether it is the visitor's tier).
    pub matched: bool,
    /// Whether it was evaluated at all: tiers below the first match are not.
    pub checked: bool,
    /// The condition, evaluated; `None` for the fallback tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

/// One condition, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Whether it held.
    pub held: bool,
    /// The condition in words.
    pub text: String,
    /// What the profile showed, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<String>,
    /// Sub-conditions of `all`, `any` and `not`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Check>,
}

impl Rules {
    /// Explains the decision for `profile` at `now`.
    pub fn explain(&self, profile: &Profile, now: Timestamp) -> Explanation {
        let decision = self.decide(profile, now);
        let mut tiers = Vec::new();
        let mut matched_yet = false;
        for t in &self.tiers {
            let checked = !matched_yet;
            let check = self.check(&t.cond, profile, now);
            let matched = checked && check.held;
            matched_yet |= matched;
            tiers.push(RuleCheck {
                name: t.name.clone(),
                matched,
                checked,
                check: Some(check),
            });
        }
        tiers.push(RuleCheck {
            name: self.fallback.clone(),
            matched: !matched_yet,
            checked: !matched_yet,
            check: None,
        });
        let segments = self
            .segments
            .iter()
            .map(|s| {
                let check = self.check(&s.cond, profile, now);
                RuleCheck {
                    name: s.name.clone(),
                    matched: check.held,
                    checked: true,
                    check: Some(check),
                }
            })
            .collect();
        Explanation {
            tier: decision.tier.to_owned(),
            rules: self.id().to_owned(),
            at: now.to_string(),
            visits: profile.visits_total,
            last_seen: (!profile.is_new())
                .then(|| Timestamp::from_secs(profile.last_seen).to_string()),
            score: decision.score.map(|s| (s * 100.0).round() / 100.0),
            tiers,
            segments,
        }
    }

    fn check(&self, cond: &Cond, p: &Profile, now: Timestamp) -> Check {
        let held = self.holds(cond, p, now);
        let leaf = |text: String, seen: String| Check {
            held,
            text,
            seen: Some(seen),
            children: Vec::new(),
        };
        let branch = |text: &str, list: &[Cond]| Check {
            held,
            text: text.to_owned(),
            seen: None,
            children: list.iter().map(|c| self.check(c, p, now)).collect(),
        };
        let from = |within: i64| now.secs() - within;
        match cond {
            Cond::All(list) => branch("all of", list),
            Cond::Any(list) => branch("any of", list),
            Cond::Not(c) => branch("not", std::slice::from_ref(c.as_ref())),
            Cond::Count {
                of,
                at_least,
                within,
            } => {
                let n = count(p, *of, from(*within));
                let span = describe_span(*within as u64);
                match of {
                    Counted::Visits => leaf(
                        format!("at least {} within {span}", plural(*at_least, "visit")),
                        plural(n, "visit"),
                    ),
                    Counted::Series(s) => {
                        let what = self.shape.series.get(*s).map(|s| &s.what);
                        let text = match what {
                            Some(Tracked::Group(g)) => format!(
                                "viewed {g} pages at least {} within {span}",
                                times(*at_least)
                            ),
                            Some(Tracked::Event { name, props }) => format!(
                                "`{name}` event{} at least {} within {span}",
                                props_text(props),
                                times(*at_least)
                            ),
                            Some(Tracked::Click(target)) => {
                                format!(
                                    "clicked `{target}` at least {} within {span}",
                                    times(*at_least)
                                )
                            }
                            Some(Tracked::Visits(filter)) => {
                                let text = format!(
                                    "at least {} {filter}, within {span}",
                                    plural(*at_least, "visit")
                                );
                                return leaf(text, plural(n, "such visit"));
                            }
                            Some(Tracked::GroupIn { group, visits }) => format!(
                                "viewed {group} pages at least {} in visits {visits}, within {span}",
                                times(*at_least)
                            ),
                            None => String::from("?"),
                        };
                        leaf(
                            text,
                            if n == 0 {
                                "0 times".to_owned()
                            } else {
                                times(n)
                            },
                        )
                    }
                }
            }
            Cond::LastSeen { within } => {
                let seen = if p.is_new() {
                    "never seen before".to_owned()
                } else {
                    format!("last active {} ago", describe_ago(now.secs() - p.last_seen))
                };
                leaf(
                    format!("last active within {}", describe_span(*within as u64)),
                    seen,
                )
            }
            Cond::Engaged {
                of,
                seconds,
                scroll,
                within,
            } => {
                let (secs, deepest) = engagement(p, *of, from(*within));
                let place = match of {
                    Counted::Series(s) => match self.shape.series.get(*s).map(|s| &s.what) {
                        Some(Tracked::Group(g)) => format!(" on {g} pages"),
                        _ => String::new(),
                    },
                    Counted::Visits => String::new(),
                };
                let mut wants = Vec::new();
                if let Some(s) = seconds {
                    wants.push(format!("at least {s} visible seconds"));
                }
                if let Some(s) = scroll {
                    wants.push(format!("scrolled at least {s}%"));
                }
                leaf(
                    format!(
                        "{}{place} within {}",
                        wants.join(" and "),
                        describe_span(*within as u64)
                    ),
                    format!("{secs} visible seconds, deepest scroll {deepest}%"),
                )
            }
            Cond::Visit { test, within } => {
                let text = match self.shape.visit_tests.get(*test) {
                    Some(VisitTest::Utm {
                        source,
                        medium,
                        campaign,
                    }) => {
                        let parts: Vec<String> = [
                            ("utm_source", source),
                            ("utm_medium", medium),
                            ("utm_campaign", campaign),
                        ]
                        .iter()
                        .filter_map(|(k, v)| v.as_ref().map(|text| format!("{k} = {text}")))
                        .collect();
                        format!("a visit landed with {}", parts.join(", "))
                    }
                    Some(VisitTest::Referrer(host)) => format!("a visit came from {host}"),
                    None => "?".to_owned(),
                };
                let seen = match visit_test(p, *test, from(*within)) {
                    Some(start) => format!("yes, the visit of {}", Timestamp::from_secs(start)),
                    None => "no such visit".to_owned(),
                };
                leaf(
                    format!("{text}, within {}", describe_span(*within as u64)),
                    seen,
                )
            }
            Cond::Score { at_least, below } => {
                let score = p.score(self, now).unwrap_or(0.0);
                let mut wants = Vec::new();
                if let Some(a) = at_least {
                    wants.push(format!("at least {a}"));
                }
                if let Some(b) = below {
                    wants.push(format!("below {b}"));
                }
                leaf(
                    format!("lead score {}", wants.join(" and ")),
                    format!("score {:.1}", score),
                )
            }
        }
    }
}

fn plural(n: u32, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn times(n: u32) -> String {
    match n {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

fn props_text(props: &[(String, String)]) -> String {
    if props.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = props.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!(" with {}", parts.join(", "))
}

fn describe_ago(secs: i64) -> String {
    let secs = secs.max(0) as u64;
    if secs < 60 {
        "less than a minute".to_owned()
    } else if secs < 3_600 {
        plural((secs / 60) as u32, "minute")
    } else if secs < 86_400 {
        plural((secs / 3_600) as u32, "hour")
    } else {
        plural((secs / 86_400) as u32, "day")
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Tier: {} (rules {}, evaluated at {})",
            self.tier, self.rules, self.at
        )?;
        match &self.last_seen {
            Some(seen) => writeln!(f, "Visits: {}, last active {seen}", self.visits)?,
            None => writeln!(f, "Visits: none yet")?,
        }
        if let Some(score) = self.score {
            writeln!(f, "Lead score: {score:.1}")?;
        }
        writeln!(f, "Tiers, highest first (the first that matches wins):")?;
        for t in &self.tiers {
            match (&t.check, t.checked) {
                (None, true) => writeln!(
                    f,
                    "  ✓ {} — no tier above matched, so this fallback applies",
                    t.name
                )?,
                (None, false) => writeln!(f, "  · {} — fallback, not needed", t.name)?,
                (Some(_), false) => {
                    writeln!(f, "  · {} — not checked: a higher tier matched", t.name)?
                }
                (Some(check), true) => {
                    let verdict = if t.matched { "✓" } else { "✗" };
                    writeln!(f, "  {verdict} {}", t.name)?;
                    write_check(f, check, 2)?;
                }
            }
        }
        if !self.segments.is_empty() {
            writeln!(f, "Segments:")?;
            for s in &self.segments {
                writeln!(f, "  {} {}", if s.matched { "✓" } else { "✗" }, s.name)?;
                if let Some(check) = &s.check {
                    write_check(f, check, 2)?;
                }
            }
        }
        Ok(())
    }
}

fn write_check(f: &mut fmt::Formatter<'_>, c: &Check, depth: usize) -> fmt::Result {
    let mark = if c.held { "✓" } else { "✗" };
    let indent = "  ".repeat(depth);
    match &c.seen {
        Some(seen) => writeln!(f, "{indent}{mark} {} — seen: {seen}", c.text)?,
        None => writeln!(f, "{indent}{mark} {}:", c.text)?,
    }
    for child in &c.children {
        write_check(f, child, depth + 1)?;
    }
    Ok(())
}
