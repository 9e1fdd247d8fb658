//! What a change of rules does to visitors' profiles: the publish summary.
//!
//! Carrying a profile over from one shape to the next ([`crate::Profile::carried_over`]) keeps
//! what both shapes track, starts what only the new one tracks empty and drops what only the old
//! one tracked. [`ShapeChange`] says so thing by thing, in the words `intentctl validate
//! --against`, `intentctl publish` and the admin API show a marketer before and after publishing.

use std::fmt;

use serde::Serialize;

use super::{ProfileShape, Tracked, VisitTest};

/// What carrying profiles from one shape over to another keeps, starts empty and drops.
///
/// Its [`Display`](fmt::Display) is one line: ``keeps `pricing`, `demo`, visits and last
/// activity; starts `webinar` empty; drops `docs` ``.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeChange {
    /// The shapes are the same: every profile carries over whole.
    pub unchanged: bool,
    /// What both keep, in words, in the new shape's order. Visits and last activity are always
    /// kept and not listed.
    pub kept: Vec<String>,
    /// What only the new shape tracks: it starts empty for every visitor.
    pub started: Vec<String>,
    /// What only the old shape tracked: it is dropped.
    pub dropped: Vec<String>,
    /// What else changes for what is kept: fewer or more hits kept, a shorter horizon.
    pub notes: Vec<String>,
}

/// A tracked thing as the summary names it: a page group by its name alone.
fn item(what: &Tracked) -> String {
    match what {
        Tracked::Group(name) => format!("`{name}`"),
        other => other.to_string(),
    }
}

fn latest(n: usize) -> String {
    match n {
        1 => "the latest one".to_owned(),
        n => format!("the latest {n}"),
    }
}

fn days(secs: i64) -> String {
    if secs % 86_400 == 0 {
        match secs / 86_400 {
            1 => "1 day".to_owned(),
            d => format!("{d} days"),
        }
    } else {
        format!("{} hours", secs / 3_600)
    }
}

impl ShapeChange {
    pub(crate) fn between(old: &ProfileShape, new: &ProfileShape) -> ShapeChange {
        let mut change = ShapeChange {
            unchanged: old == new,
            kept: Vec::new(),
            started: Vec::new(),
            dropped: Vec::new(),
            notes: Vec::new(),
        };
        for s in &new.series {
            let name = item(&s.what);
            match old.series.iter().find(|o| o.what == s.what) {
                None => change.started.push(name),
                Some(o) => {
                    if s.capacity < o.capacity {
                        change.notes.push(format!(
                            "keeps fewer of {name}: {} (was {})",
                            latest(s.capacity),
                            o.capacity
                        ));
                    } else if s.capacity > o.capacity {
                        change.notes.push(format!(
                            "counts of {name} above {} start from the {} kept",
                            o.capacity, o.capacity
                        ));
                    }
                    if s.engagement && !o.engagement {
                        change.started.push(format!("time and scroll on {name}"));
                    } else if o.engagement && !s.engagement {
                        change.dropped.push(format!("time and scroll on {name}"));
                    }
                    change.kept.push(name);
                }
            }
        }
        for o in &old.series {
            if !new.series.iter().any(|s| s.what == o.what) {
                change.dropped.push(item(&o.what));
            }
        }
        for t in &new.visit_tests {
            if old.visit_tests.contains(t) {
                change.kept.push(test_item(t));
            } else {
                change.started.push(test_item(t));
            }
        }
        for t in &old.visit_tests {
            if !new.visit_tests.contains(t) {
                change.dropped.push(test_item(t));
            }
        }
        match (new.visit_engagement, old.visit_engagement) {
            (true, true) => change.kept.push("time and scroll of visits".to_owned()),
            (true, false) => change.started.push("time and scroll of visits".to_owned()),
            (false, true) => change.dropped.push("time and scroll of visits".to_owned()),
            (false, false) => {}
        }
        match (&new.score, &old.score) {
            (Some(n), Some(o)) => {
                change.kept.push("the lead score".to_owned());
                if n != o {
                    change.notes.push(
                        "the lead score keeps the points earned under the old scoring".to_owned(),
                    );
                }
            }
            (Some(_), None) => change.started.push("the lead score".to_owned()),
            (None, Some(_)) => change.dropped.push("the lead score".to_owned()),
            (None, None) => {}
        }
        if new.horizon < old.horizon {
            change.notes.push(format!(
                "forgets activity older than {} (was {})",
                days(new.horizon),
                days(old.horizon)
            ));
        } else if new.horizon > old.horizon {
            change.notes.push(format!(
                "remembers {} from now on (was {})",
                days(new.horizon),
                days(old.horizon)
            ));
        }
        change
    }
}

fn test_item(test: &VisitTest) -> String {
    test.to_string()
}

impl fmt::Display for ShapeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unchanged {
            return f.write_str("keeps everything: what profiles track is unchanged");
        }
        let mut kept = self.kept.clone();
        kept.push("visits and last activity".to_owned());
        write!(f, "keeps {}", kept.join(", "))?;
        if !self.started.is_empty() {
            write!(f, "; starts {} empty", self.started.join(", "))?;
        }
        if !self.dropped.is_empty() {
            write!(f, "; drops {}", self.dropped.join(", "))?;
        }
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}
