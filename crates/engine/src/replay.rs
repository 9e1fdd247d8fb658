//! An event log read once and kept grouped by visitor, for replaying under many rules: the
//! audit replays it once, the console's preview twice for every edit (published rules and
//! edited ones). Reading JSON is the slow part of a replay; doing it once makes each replay
//! only the folding.

use crate::event::{LogError, LogEvent};
use crate::profile::Profile;
use crate::rules::Rules;
use crate::time::Timestamp;
use crate::Event;

/// An event log, grouped by visitor: each visitor's events in time order (ties keep log order),
/// visitors in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct VisitorLog {
    names: Vec<String>,
    /// Every event, grouped by visitor in `names` order.
    events: Vec<(Timestamp, Event<'static>)>,
    /// Where each visitor's events end in `events` (they start where the previous one's end).
    ends: Vec<usize>,
}

/// One visitor of a [`VisitorLog`]: their id and their events in time order.
#[derive(Debug, Clone, Copy)]
pub struct VisitorEvents<'l> {
    /// The visitor's id from the log.
    pub visitor: &'l str,
    /// Their events, oldest first.
    pub events: &'l [(Timestamp, Event<'static>)],
}

impl VisitorEvents<'_> {
    /// The visitor's profile from their events up to and including `at`, and how many that was.
    pub fn profile_at(&self, rules: &Rules, at: Timestamp) -> (Profile, usize) {
        let mut profile = Profile::new(rules);
        let mut n = 0;
        for (t, event) in self.events.iter().take_while(|(t, _)| *t <= at) {
            profile.fold(rules, *t, event);
            n += 1;
        }
        (profile, n)
    }
}

impl VisitorLog {
    /// Groups `log` by visitor.
    pub fn new(log: Vec<LogEvent>) -> VisitorLog {
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut names = Vec::new();
        let mut tagged: Vec<(usize, Timestamp, Event<'static>)> = Vec::with_capacity(log.len());
        for e in log {
            let i = match index.get(&e.visitor) {
                Some(&i) => i,
                None => {
                    let i = names.len();
                    index.insert(e.visitor.clone(), i);
                    names.push(e.visitor);
                    i
                }
            };
            tagged.push((i, e.at, e.event));
        }
        // Stable: a visitor's events at the same second keep their order in the log.
        tagged.sort_by_key(|(i, at, _)| (*i, *at));
        let mut ends = vec![0; names.len()];
        for (n, (i, _, _)) in tagged.iter().enumerate() {
            ends[*i] = n + 1;
        }
        let events = tagged.into_iter().map(|(_, at, e)| (at, e)).collect();
        VisitorLog {
            names,
            events,
            ends,
        }
    }

    /// Reads a log in JSON Lines, as `intentctl simulate` does; blank lines are skipped, and the
    /// first line that cannot be read is the error.
    pub fn from_jsonl(text: &str) -> Result<VisitorLog, LogError> {
        let mut log = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            log.push(LogEvent::parse(line, i + 1)?);
        }
        Ok(VisitorLog::new(log))
    }

    /// How many events the log holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the log holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many visitors the log has.
    pub fn visitor_count(&self) -> usize {
        self.names.len()
    }

    /// The time of the latest event, if any.
    pub fn latest(&self) -> Option<Timestamp> {
        self.events.iter().map(|(t, _)| *t).max()
    }

    /// Each visitor with their events, in order of first appearance.
    pub fn visitors(&self) -> impl Iterator<Item = VisitorEvents<'_>> + '_ {
        self.names.iter().enumerate().map(move |(i, name)| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            VisitorEvents {
                visitor: name,
                events: &self.events[start..self.ends[i]],
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_visitor_in_time_order_keeping_ties_in_log_order() {
        let log = VisitorLog::from_jsonl(concat!(
            r#"{"visitor":"b","ts":"2026-11-20T10:00:00Z","type":"pageview","url":"/b1"}"#,
            "\n",
            r#"{"visitor":"a","ts":"2026-11-20T12:00:00Z","type":"pageview","url":"/a2"}"#,
            "\n\n",
            r#"{"visitor":"a","ts":"2026-11-20T11:00:00Z","type":"pageview","url":"/a1"}"#,
            "\n",
            r#"{"visitor":"b","ts":"2026-11-20T10:00:00Z","type":"pageview","url":"/b2"}"#,
            "\n",
        ))
        .unwrap();
        let urls: Vec<(String, Vec<String>)> = log
            .visitors()
            .map(|v| {
                let urls = v
                    .events
                    .iter()
                    .map(|(_, e)| match e {
                        Event::Pageview { url, .. } => url.to_string(),
                        _ => String::new(),
                    })
                    .collect();
                (v.visitor.to_owned(), urls)
            })
            .collect();
        assert_eq!(
            urls,
            [
                ("b".to_owned(), vec!["/b1".to_owned(), "/b2".to_owned()]),
                ("a".to_owned(), vec!["/a1".to_owned(), "/a2".to_owned()]),
            ]
        );
        assert_eq!((log.len(), log.visitor_count()), (4, 2));
        let bad = VisitorLog::from_jsonl("{}\n").unwrap_err();
        assert_eq!(bad.line, 1);
    }
}
