//! An event log read once and kept grouped by visitor, for replaying under many rules: the
//! audit replays it once, the console's preview twice for every edit (published rules and
//! edited ones). Reading JSON is the slow part of a replay; doing it once makes each replay
//! only the folding.
//!
//! The events are kept in a compact form that folds exactly as the originals do. A page's URL
//! becomes its lower-cased path, with only the UTM parameters of its query (all that a visit's
//! landing page is tested on); titles and the pages of clicks, which nothing reads, are
//! dropped, and so are an `identify` event's email and traits, which folding ignores. Texts are interned: an event is a few bytes naming its texts by number, and the few
//! hundred distinct paths of a site stay in the processor's cache while a month of traffic
//! streams past, where one heap string per event made every event a cache miss. A test holds
//! replaying the compact log to replaying the log as read.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::event::{LogError, LogEvent, PropValue};
use crate::profile::Profile;
use crate::rules::Rules;
use crate::time::Timestamp;
use crate::{url, Event};

/// An event log, grouped by visitor: each visitor's events in time order (ties keep log order),
/// visitors in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct VisitorLog {
    names: Vec<String>,
    /// Every event, grouped by visitor in `names` order.
    events: Vec<Compact>,
    /// Where each visitor's events end in `events` (they start where the previous one's end).
    ends: Vec<usize>,
    /// The interned texts the events name.
    texts: Vec<String>,
    /// Custom events' properties, which are rare: named by index.
    props: Vec<BTreeMap<String, PropValue>>,
}

/// One event in a few bytes: its time and what happened, texts by number.
#[derive(Debug, Clone, Copy)]
struct Compact {
    at: i64,
    what: What,
}

/// No text: `u32::MAX`.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
enum What {
    Pageview {
        url: u32,
        referrer: u32,
    },
    Engagement {
        url: u32,
        seconds: f64,
        scroll: f64,
    },
    Click {
        target: u32,
    },
    Event {
        name: u32,
        props: u32,
    },
    /// Who the visitor is: folding ignores it, so the compact log keeps neither the email nor
    /// the traits, only that it happened.
    Identify,
}

/// One visitor of a [`VisitorLog`]: their id and their events in time order.
#[derive(Debug, Clone, Copy)]
pub struct VisitorEvents<'l> {
    /// The visitor's id from the log.
    pub visitor: &'l str,
    log: &'l VisitorLog,
    events: &'l [Compact],
}

impl<'l> VisitorEvents<'l> {
    /// How many events the visitor has.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the visitor has no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The visitor's events, oldest first, each with its time.
    pub fn events(&self) -> impl Iterator<Item = (Timestamp, Event<'l>)> + 'l {
        let log = self.log;
        self.events
            .iter()
            .map(move |c| (Timestamp::from_secs(c.at), log.event(c)))
    }

    /// The visitor's profile from their events up to and including `at`, and how many that was.
    pub fn profile_at(&self, rules: &Rules, at: Timestamp) -> (Profile, usize) {
        let mut profile = Profile::new(rules);
        let mut n = 0;
        for c in self.events.iter().take_while(|c| c.at <= at.secs()) {
            profile.fold(rules, Timestamp::from_secs(c.at), &self.log.event(c));
            n += 1;
        }
        (profile, n)
    }
}

/// One visitor at the end of [`VisitorLog::replay`].
#[derive(Debug, Clone, Copy)]
pub struct Replayed<'l, 'p> {
    /// The visitor's id from the log.
    pub visitor: &'l str,
    /// Their profile at the evaluation time.
    pub profile: &'p Profile,
    /// How many of their events were folded in (the others are later).
    pub events: usize,
    /// Visits the profile has seen.
    pub visits: u32,
}

/// Numbers texts as a log is read.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    texts: Vec<String>,
}

impl Interner {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = self.texts.len() as u32;
        self.index.insert(text.to_owned(), i);
        self.texts.push(text.to_owned());
        i
    }

    fn opt(&mut self, text: Option<&str>) -> u32 {
        text.map_or(NONE, |t| self.id(t))
    }
}

impl VisitorLog {
    /// Groups `log` by visitor.
    pub fn new(log: Vec<LogEvent>) -> VisitorLog {
        let mut index: HashMap<String, usize> = Default::default();
        let mut names = Vec::new();
        let mut texts = Interner::default();
        let mut props = Vec::new();
        let mut tagged: Vec<(usize, Compact)> = Vec::with_capacity(log.len());
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
            let what = match e.event {
                Event::Pageview { url, referrer, .. } => What::Pageview {
                    url: texts.id(&compact_url(&url, true)),
                    referrer: texts.opt(referrer.as_deref()),
                },
                Event::Engagement {
                    url,
                    seconds,
                    scroll,
                } => What::Engagement {
                    url: texts.id(&compact_url(&url, false)),
                    seconds,
                    scroll,
                },
                Event::Click { target, .. } => What::Click {
                    target: texts.id(&target),
                },
                Event::Identify { .. } => What::Identify,
                Event::Event { name, props: p } => {
                    let n = if p.is_empty() {
                        NONE
                    } else {
                        props.push(p);
                        (props.len() - 1) as u32
                    };
                    What::Event {
                        name: texts.id(&name),
                        props: n,
                    }
                }
            };
            tagged.push((
                i,
                Compact {
                    at: e.at.secs(),
                    what,
                },
            ));
        }
        // Stable: a visitor's events at the same second keep their order in the log.
        tagged.sort_by_key(|(i, c)| (*i, c.at));
        let mut ends = vec![0; names.len()];
        for (n, (i, _)) in tagged.iter().enumerate() {
            ends[*i] = n + 1;
        }
        VisitorLog {
            names,
            events: tagged.into_iter().map(|(_, c)| c).collect(),
            ends,
            texts: texts.texts,
            props,
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

    fn text(&self, id: u32) -> &str {
        self.texts.get(id as usize).map_or("", String::as_str)
    }

    /// The event `c` stands for, borrowing its texts from the log.
    fn event(&self, c: &Compact) -> Event<'_> {
        match c.what {
            What::Pageview { url, referrer } => Event::Pageview {
                url: Cow::Borrowed(self.text(url)),
                referrer: (referrer != NONE).then(|| Cow::Borrowed(self.text(referrer))),
                title: None,
            },
            What::Engagement {
                url,
                seconds,
                scroll,
            } => Event::Engagement {
                url: Cow::Borrowed(self.text(url)),
                seconds,
                scroll,
            },
            What::Click { target } => Event::Click {
                url: None,
                target: Cow::Borrowed(self.text(target)),
            },
            What::Event { name, props } => Event::Event {
                name: Cow::Borrowed(self.text(name)),
                props: self.props.get(props as usize).cloned().unwrap_or_default(),
            },
            What::Identify => Event::Identify {
                email: None,
                traits: BTreeMap::new(),
            },
        }
    }

    /// Replays every visitor's events up to `at` and hands each visitor's profile to `each`, in
    /// order of first appearance. One profile's memory serves every visitor in turn, so a
    /// month of traffic replays without allocating per visitor.
    pub fn replay<'l>(
        &'l self,
        rules: &Rules,
        at: Timestamp,
        mut each: impl FnMut(Replayed<'l, '_>),
    ) {
        let mut profile = Profile::new(rules);
        for v in self.visitors() {
            // A fresh profile, keeping the lists' memory.
            let (mut visits, mut hits) = (
                std::mem::take(&mut profile.visits),
                std::mem::take(&mut profile.hits),
            );
            visits.clear();
            hits.clear();
            profile = Profile::new(rules);
            profile.visits = visits;
            profile.hits = hits;
            let mut n = 0;
            for c in v.events.iter().take_while(|c| c.at <= at.secs()) {
                profile.fold(rules, Timestamp::from_secs(c.at), &self.event(c));
                n += 1;
            }
            each(Replayed {
                visitor: v.visitor,
                profile: &profile,
                events: n,
                visits: profile.visits_total,
            });
        }
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
        self.events
            .iter()
            .map(|c| c.at)
            .max()
            .map(Timestamp::from_secs)
    }

    /// Each visitor with their events, in order of first appearance.
    pub fn visitors(&self) -> impl Iterator<Item = VisitorEvents<'_>> + '_ {
        self.names.iter().enumerate().map(move |(i, name)| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            VisitorEvents {
                visitor: name,
                log: self,
                events: &self.events[start..self.ends[i]],
            }
        })
    }
}

/// One day of a [`VisitorLog::daily`] series.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Day {
    /// The day's start (UTC midnight, or the series' start).
    pub day: Timestamp,
    /// Visitors with an event that day.
    pub active: usize,
    /// Per tier (the rules' order, fallback last): visitors in it at the day's end.
    pub members: Vec<usize>,
    /// Per tier: visitors in it at the day's end who were not at the previous day's end.
    pub entries: Vec<usize>,
}

impl VisitorLog {
    /// A day-by-day series of `days` days from `from`: active visitors, and each tier's members
    /// and newcomers at each day's end (visitors seen by then), for the console's overview.
    pub fn daily(&self, rules: &Rules, from: Timestamp, days: u32) -> Vec<Day> {
        let tiers: Vec<&str> = rules.tier_names().collect();
        let mut out: Vec<Day> = (0..days)
            .map(|d| Day {
                day: from.plus_secs(i64::from(d) * 86_400),
                active: 0,
                members: vec![0; tiers.len()],
                entries: vec![0; tiers.len()],
            })
            .collect();
        for v in self.visitors() {
            let mut profile = Profile::new(rules);
            let mut events = v.events.iter().peekable();
            let mut before: Option<usize> = None;
            for day in out.iter_mut() {
                let end = day.day.secs() + 86_400;
                let mut active = false;
                while let Some(c) = events.next_if(|c| c.at < end) {
                    active |= c.at >= day.day.secs();
                    profile.fold(rules, Timestamp::from_secs(c.at), &self.event(c));
                }
                day.active += usize::from(active);
                if profile.is_new() {
                    continue;
                }
                let d = rules.decide(&profile, Timestamp::from_secs(end - 1));
                let Some(t) = tiers.iter().position(|t| *t == d.tier) else {
                    continue;
                };
                day.members[t] += 1;
                if before != Some(t) {
                    day.entries[t] += 1;
                }
                before = Some(t);
            }
        }
        out
    }
}

/// `url` as its path, lower-cased, and with `utm` its UTM parameters as they were written.
fn compact_url(url: &str, utm: bool) -> Cow<'_, str> {
    let path = url::path_of(url);
    if path.contains("://") {
        // A path that reads as a URL of its own would be read differently: keep it whole.
        return Cow::Borrowed(url);
    }
    if !utm || !url.contains("utm_") {
        return path;
    }
    let mut out = path.into_owned();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    let mut sep = '?';
    for pair in query.split('&') {
        let key = pair.split('=').next().unwrap_or("");
        if matches!(key, "utm_source" | "utm_medium" | "utm_campaign") {
            out.push(sep);
            out.push_str(pair);
            sep = '&';
        }
    }
    Cow::Owned(out)
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
                    .events()
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

    #[test]
    fn replaying_with_one_profile_gives_each_visitors_own() {
        let log = VisitorLog::from_jsonl(concat!(
            r#"{"visitor":"a","ts":"2026-11-01T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"a","ts":"2026-11-03T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"b","ts":"2026-11-02T10:00:00Z","type":"pageview","url":"/blog"}"#,
            "\n",
            r#"{"visitor":"c","ts":"2026-12-02T10:00:00Z","type":"pageview","url":"/blog"}"#,
            "\n",
        ))
        .unwrap();
        let rules = Rules::builtin();
        let at = Timestamp::parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        let mut seen = Vec::new();
        log.replay(rules, at, |r| {
            let (own, n) = log
                .visitors()
                .find(|v| v.visitor == r.visitor)
                .unwrap()
                .profile_at(rules, at);
            assert_eq!((&own, n), (r.profile, r.events), "{}", r.visitor);
            seen.push((r.visitor.to_owned(), r.events, r.visits));
        });
        assert_eq!(
            seen,
            [("a".into(), 2, 2), ("b".into(), 1, 1), ("c".into(), 0, 0)]
        );
    }

    #[test]
    fn a_daily_series_counts_members_and_newcomers_at_each_days_end() {
        let log = VisitorLog::from_jsonl(concat!(
            r#"{"visitor":"a","ts":"2026-11-01T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"a","ts":"2026-11-02T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"a","ts":"2026-11-02T11:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"b","ts":"2026-11-02T10:00:00Z","type":"pageview","url":"/blog"}"#,
            "\n",
        ))
        .unwrap();
        let from = Timestamp::parse_rfc3339("2026-11-01T00:00:00Z").unwrap();
        let days = log.daily(Rules::builtin(), from, 3);
        let row = |d: &Day| (d.active, d.members.clone(), d.entries.clone());
        // Tiers: ready, evaluating, researching.
        assert_eq!(row(&days[0]), (1, vec![0, 1, 0], vec![0, 1, 0]));
        assert_eq!(row(&days[1]), (2, vec![1, 0, 1], vec![1, 0, 1]));
        assert_eq!(row(&days[2]), (0, vec![1, 0, 1], vec![0, 0, 0]));
    }

    #[test]
    fn urls_keep_their_path_and_utm_parameters() {
        let cases = [
            (
                "https://Acme.test/Pricing/?utm_source=Linked%20In&x=1&utm_campaign=nov#top",
                true,
                "/pricing/?utm_source=Linked%20In&utm_campaign=nov",
            ),
            ("https://acme.test/docs?q=1", true, "/docs"),
            ("https://acme.test/docs?utm_medium=x", false, "/docs"),
            ("https://acme.test", true, "/"),
            ("https://acme.test/a://b", true, "https://acme.test/a://b"),
        ];
        for (url, utm, want) in cases {
            assert_eq!(compact_url(url, utm), want, "{url}");
        }
    }
}
