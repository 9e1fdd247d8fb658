//! Which triggers an audience change fires, and which a log of events would have fired:
//! `intentctl simulate --triggers`. The audience store makes the same decisions as changes
//! happen.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Trigger, TriggerEvent};
use crate::event::{Event, LogEvent};
use crate::identity::Email;
use crate::profile::Profile;
use crate::rules::Rules;
use crate::time::Timestamp;

impl Rules {
    /// The triggers that react to `when` (for `entered` and `left`, of `audience`), with their
    /// index in the config. `audit.weekly` triggers: `rules.triggers_for(AuditWeekly, None)`.
    pub fn triggers_for<'r>(
        &'r self,
        when: TriggerEvent,
        audience: Option<&'r str>,
    ) -> impl Iterator<Item = (usize, &'r Trigger)> + 'r {
        self.config
            .triggers
            .iter()
            .enumerate()
            .filter(move |(_, t)| {
                t.when == when
                    && (matches!(when, TriggerEvent::Identified | TriggerEvent::AuditWeekly)
                        || t.audience.as_deref() == audience)
            })
    }

    /// Whether the rules have any trigger.
    pub fn has_triggers(&self) -> bool {
        !self.config.triggers.is_empty()
    }

    /// Whether `name` is a segment of these rules (else a tier, or unknown).
    pub fn is_segment(&self, name: &str) -> bool {
        self.segments.iter().any(|s| s.name == name)
    }
}

/// A trigger a replayed log fired, or would have but for its `at_most`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Firing {
    /// The visitor's id.
    pub visitor: String,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub at: Timestamp,
    /// The trigger's index in `triggers`.
    pub trigger: usize,
    /// What happened.
    pub when: TriggerEvent,
    /// The audience entered or left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The destinations notified.
    pub to: Vec<String>,
    /// `true` when the trigger's `at_most` held the notification back.
    pub held: bool,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Replays `log` up to `until` and lists, in time order, the triggers that fired: each visitor's
/// events folded in time order, the audiences recomputed after each event and at each moment a
/// window lapses in between (as the store's alarm does), a new email an `identified`, and each
/// trigger's `at_most` applied per visitor.
pub fn replay_triggers(rules: &Rules, log: &[LogEvent], until: Timestamp) -> Vec<Firing> {
    let mut by_visitor: BTreeMap<&str, Vec<&LogEvent>> = BTreeMap::new();
    for e in log.iter().filter(|e| e.at <= until) {
        by_visitor.entry(e.visitor.as_str()).or_default().push(e);
    }
    let mut out = Vec::new();
    for (visitor, mut events) in by_visitor {
        events.sort_by_key(|e| e.at);
        let mut v = Replay {
            rules,
            visitor,
            profile: Profile::new(rules),
            audiences: Vec::new(),
            email: None,
            fired: BTreeMap::new(),
            out: &mut out,
        };
        let mut clock: Option<Timestamp> = None;
        for e in events {
            if let Some(at) = clock {
                v.lapse(at, e.at);
            }
            if let Event::Identify {
                email: Some(email), ..
            } = &e.event
            {
                if let Ok(email) = Email::parse(email) {
                    if v.email.as_deref() != Some(email.as_str()) {
                        v.email = Some(email.as_str().to_owned());
                        v.fire(TriggerEvent::Identified, None, e.at);
                    }
                }
            }
            v.profile.fold(rules, e.at, &e.event);
            v.evaluate(e.at);
            clock = Some(e.at);
        }
        if let Some(at) = clock {
            v.lapse(at, until);
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.visitor.cmp(&b.visitor)));
    out
}

struct Replay<'r, 'o> {
    rules: &'r Rules,
    visitor: &'r str,
    profile: Profile,
    audiences: Vec<String>,
    email: Option<String>,
    /// Times each trigger fired for this visitor, by key.
    fired: BTreeMap<String, Vec<i64>>,
    out: &'o mut Vec<Firing>,
}

impl Replay<'_, '_> {
    /// Re-evaluates at each moment the audiences change with no event, after `from` up to `to`.
    fn lapse(&mut self, from: Timestamp, to: Timestamp) {
        let mut at = from;
        while let Some(next) = self.rules.next_change(&self.profile, at) {
            if next > to || next <= at {
                break;
            }
            self.evaluate(next);
            at = next;
        }
    }

    fn evaluate(&mut self, at: Timestamp) {
        let d = self.rules.decide(&self.profile, at);
        let now: Vec<String> = std::iter::once(d.tier)
            .chain(d.segments.iter().copied())
            .map(str::to_owned)
            .collect();
        let left: Vec<String> = self
            .audiences
            .iter()
            .filter(|a| !now.contains(a))
            .cloned()
            .collect();
        let entered: Vec<String> = now
            .iter()
            .filter(|a| !self.audiences.contains(a))
            .cloned()
            .collect();
        for a in &left {
            self.fire(TriggerEvent::Left, Some(a), at);
        }
        for a in &entered {
            self.fire(TriggerEvent::Entered, Some(a), at);
        }
        self.audiences = now;
    }

    fn fire(&mut self, when: TriggerEvent, audience: Option<&str>, at: Timestamp) {
        for (i, t) in self.rules.triggers_for(when, audience) {
            let times = self.fired.entry(t.key()).or_default();
            let held = t
                .at_most
                .is_some_and(|m| !m.allows(times.iter().copied(), at.secs()));
            if !held {
                times.push(at.secs());
            }
            self.out.push(Firing {
                visitor: self.visitor.to_owned(),
                at,
                trigger: i,
                when,
                audience: audience.map(str::to_owned),
                to: t.to.clone(),
                held,
            });
        }
    }
}
