//! Replaying an event log against rules, as `intentctl simulate` and the golden tests do.

use crate::event::LogEvent;
use crate::profile::Profile;
use crate::rules::Rules;
use crate::time::Timestamp;

/// One visitor of a replayed log and the profile their events built.
#[derive(Debug, Clone)]
pub struct SimulatedVisitor {
    /// The visitor's id from the log.
    pub visitor: String,
    /// Their profile at the evaluation time.
    pub profile: Profile,
    /// Events of theirs that were folded in.
    pub events: usize,
}

/// What a replay produced.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    /// Visitors in order of first appearance in the log.
    pub visitors: Vec<SimulatedVisitor>,
    /// Events later than the evaluation time, which were left out.
    pub after_at: usize,
}

/// Replays `log` against `rules` up to `at`: each visitor's events, in time order (ties keep
/// log order), folded into a fresh profile. Events after `at` are left out.
pub fn simulate(rules: &Rules, log: &[LogEvent], at: Timestamp) -> Simulation {
    let mut order: Vec<&str> = Vec::new();
    let mut by_visitor: std::collections::HashMap<&str, Vec<&LogEvent>> = Default::default();
    let mut after_at = 0;
    for e in log {
        let list = by_visitor.entry(e.visitor.as_str()).or_insert_with(|| {
            order.push(e.visitor.as_str());
            Vec::new()
        });
        if e.at > at {
            after_at += 1;
        } else {
            list.push(e);
        }
    }
    let visitors = order
        .into_iter()
        .map(|id| {
            let mut events = by_visitor.remove(id).unwrap_or_default();
            events.sort_by_key(|e| e.at);
            let mut profile = Profile::new(rules);
            for e in &events {
                profile.fold(rules, e.at, &e.event);
            }
            SimulatedVisitor {
                visitor: id.to_owned(),
                profile,
                events: events.len(),
            }
        })
        .collect();
    Simulation { visitors, after_at }
}
