//! The active rules' cache policy: which compiled config a request runs with, never none.
//!
//! Each isolate keeps the rules it compiled for `RULES_CACHE_SECONDS`, so the hot path does no
//! KV read and no JSON parsing. When the KV value is missing, empty or invalid, or KV cannot be
//! read, the isolate keeps serving the last config that was valid, and without one the
//! built-in default rules: the worker never runs without rules and never fails a visitor
//! because of a bad publish or a KV outage.
//!
//! With the rules it is given the history of published versions (`rules:history`, see
//! `crate::history`), and gives the compiled rules the profile shapes of the versions kept there:
//! a visitor whose token was made under one of them is carried over to the active rules instead
//! of starting afresh.
//!
//! This module is the policy alone: it is given what a KV read brought and the time, and says
//! which rules are active (`runtime::rules` does the reading, with its time limit). It knows
//! nothing of the Workers runtime, so it is tested natively.

use std::ops::Deref;
use std::rc::Rc;

use intent_engine::{ProfileShape, Rules};

use crate::headers::{X_INTENT_RULES, X_INTENT_RULES_SOURCE};
use crate::history::History;

/// Where the active rules came from; sent as `X-Intent-Rules-Source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The valid config published in KV.
    Kv,
    /// KV's value is missing, empty or invalid; this isolate's last valid config is used.
    LastGood,
    /// Nothing valid was ever read; the built-in default rules are used.
    Builtin,
}

impl Source {
    /// The header value.
    pub fn label(self) -> &'static str {
        match self {
            Source::Kv => "kv",
            Source::LastGood => "last-good",
            Source::Builtin => "builtin",
        }
    }
}

/// A config read from KV or published through the admin API: compiled, and the text exactly as
/// it was published.
#[derive(Debug)]
pub struct Published {
    rules: Rules,
    text: String,
}

/// Compiled rules, shared by the requests of one isolate.
#[derive(Debug, Clone)]
pub enum SharedRules {
    /// The built-in default.
    Builtin,
    /// A config read from KV or published through the admin API.
    Loaded(Rc<Published>),
}

impl SharedRules {
    fn loaded(rules: Rules, text: String) -> SharedRules {
        SharedRules::Loaded(Rc::new(Published { rules, text }))
    }

    /// The config as `GET /v1/admin/rules` answers it: the text as it was published (so it
    /// can be edited and published again, and is never larger than a publish allows), or the
    /// built-in default rules as `intentctl defaults` prints them.
    pub fn text(&self) -> &str {
        match self {
            SharedRules::Builtin => Rules::builtin_json(),
            SharedRules::Loaded(p) => &p.text,
        }
    }
}

impl Deref for SharedRules {
    type Target = Rules;
    fn deref(&self) -> &Rules {
        match self {
            SharedRules::Builtin => Rules::builtin(),
            SharedRules::Loaded(p) => &p.rules,
        }
    }
}

/// The rules a request runs with.
#[derive(Debug, Clone)]
pub struct ActiveRules {
    /// The compiled rules.
    pub rules: SharedRules,
    /// Where they came from.
    pub source: Source,
}

impl ActiveRules {
    /// Response headers naming the active config.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            (X_INTENT_RULES, self.rules.id().to_owned()),
            (X_INTENT_RULES_SOURCE, self.source.label().to_owned()),
        ]
    }
}

/// Why the fallback rules are in use, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing is published under the rules key (or only blank text).
    NothingPublished,
    /// The published text does not validate; the message names line and field.
    Invalid(String),
}

#[derive(Debug)]
struct Cached {
    active: ActiveRules,
    /// The KV text the active rules were compiled from (to skip recompiling unchanged text).
    text: Option<String>,
    /// The history text their earlier shapes came from.
    history: Option<String>,
    loaded_at_ms: f64,
}

/// One isolate's rules: the active ones with the time they were read, and the last valid
/// config with the history it was given.
#[derive(Debug, Default)]
pub struct RulesCache {
    current: Option<Cached>,
    last_good: Option<(SharedRules, Option<String>)>,
    /// Publishes made in this isolate: a KV read that began before the latest one brings
    /// older rules than the ones it made active, and is not cached.
    publishes: u64,
}

/// `rules` with the profile shapes of the versions `history` keeps (other than their own), most
/// recently active first, so that tokens made under those carry over. A history or a shape that
/// cannot be read gives none (`runtime::rules` logs an unreadable history).
pub fn with_history(rules: Rules, history: Option<&str>) -> Rules {
    let Ok(history) = History::parse(history) else {
        return rules;
    };
    let shapes: Vec<ProfileShape> = history
        .earlier_shapes(rules.id())
        .filter_map(|record| ProfileShape::from_record(record).ok())
        .collect();
    rules.with_earlier_shapes(shapes)
}

impl RulesCache {
    /// The active rules while they are younger than `max_age_ms`; `None` when KV must be read.
    pub fn fresh(&self, now_ms: f64, max_age_ms: u64) -> Option<ActiveRules> {
        let cur = self.current.as_ref()?;
        (now_ms - cur.loaded_at_ms < max_age_ms as f64).then(|| cur.active.clone())
    }

    /// What a KV read that begins now passes to [`RulesCache::arrived_since`].
    pub fn generation(&self) -> u64 {
        self.publishes
    }

    /// What a KV read that began at `generation` brought: as [`RulesCache::arrived`], unless
    /// rules were published in this isolate meanwhile — the read then may hold the rules from
    /// before them, and the published ones stay active.
    pub fn arrived_since(
        &mut self,
        generation: u64,
        text: Option<String>,
        history: Option<String>,
        now_ms: f64,
    ) -> (ActiveRules, Option<Fallback>) {
        match self.published_since(generation) {
            Some(active) => (active, None),
            None => self.arrived(text, history, now_ms),
        }
    }

    /// As [`RulesCache::unreadable`] for a read that began at `generation`: the published
    /// rules stay active when a publish came meanwhile.
    pub fn unreadable_since(&mut self, generation: u64, now_ms: f64) -> ActiveRules {
        self.published_since(generation)
            .unwrap_or_else(|| self.unreadable(now_ms))
    }

    fn published_since(&self, generation: u64) -> Option<ActiveRules> {
        if self.publishes == generation {
            return None;
        }
        self.current.as_ref().map(|cur| cur.active.clone())
    }

    /// KV could not be read: the fallback rules, cached for the usual lifetime so that a KV
    /// outage costs one failed read per isolate and lifetime, not one per request.
    pub fn unreadable(&mut self, now_ms: f64) -> ActiveRules {
        let active = self.fallback();
        self.current = Some(Cached {
            active: active.clone(),
            text: None,
            history: None,
            loaded_at_ms: now_ms,
        });
        active
    }

    /// What a KV read brought (`None`: nothing published), with the history of versions:
    /// compiled unless it is the text and history the cache already holds, and made the active
    /// rules. Also says why the fallback is used, if it is.
    pub fn arrived(
        &mut self,
        text: Option<String>,
        history: Option<String>,
        now_ms: f64,
    ) -> (ActiveRules, Option<Fallback>) {
        let text = text.filter(|t| !t.trim().is_empty());

        // Unchanged text and history: keep the compiled rules, just restart the clock.
        if let Some(cur) = self.current.as_mut() {
            if cur.text.is_some() && cur.text == text && cur.history == history {
                cur.loaded_at_ms = now_ms;
                return (cur.active.clone(), None);
            }
        }

        // The last good text again (KV is back after an outage): no need to compile it anew.
        if let (Some(t), Some((good, good_history))) = (&text, &self.last_good) {
            if t == good.text() && *good_history == history {
                let active = ActiveRules {
                    rules: good.clone(),
                    source: Source::Kv,
                };
                self.current = Some(Cached {
                    active: active.clone(),
                    text,
                    history,
                    loaded_at_ms: now_ms,
                });
                return (active, None);
            }
        }

        let (active, why) = match &text {
            Some(t) => match Rules::from_json_with(t, crate::settings::checks()) {
                Ok(rules) => {
                    let rules = with_history(rules, history.as_deref());
                    let rules = SharedRules::loaded(rules, t.clone());
                    self.last_good = Some((rules.clone(), history.clone()));
                    let active = ActiveRules {
                        rules,
                        source: Source::Kv,
                    };
                    (active, None)
                }
                Err(err) => (self.fallback(), Some(Fallback::Invalid(err.to_string()))),
            },
            None => (self.fallback(), Some(Fallback::NothingPublished)),
        };
        self.current = Some(Cached {
            active: active.clone(),
            text,
            history,
            loaded_at_ms: now_ms,
        });
        (active, why)
    }

    /// Makes freshly published rules (with the history just stored) active in this isolate at
    /// once (other isolates follow within their cache lifetime).
    pub fn publish(
        &mut self,
        rules: Rules,
        text: String,
        history: String,
        now_ms: f64,
    ) -> ActiveRules {
        self.publishes += 1;
        let rules = with_history(rules, Some(&history));
        let rules = SharedRules::loaded(rules, text.clone());
        self.last_good = Some((rules.clone(), Some(history.clone())));
        let active = ActiveRules {
            rules,
            source: Source::Kv,
        };
        self.current = Some(Cached {
            active: active.clone(),
            text: Some(text),
            history: Some(history),
            loaded_at_ms: now_ms,
        });
        active
    }

    fn fallback(&self) -> ActiveRules {
        match &self.last_good {
            Some((rules, _)) => ActiveRules {
                rules: rules.clone(),
                source: Source::LastGood,
            },
            None => ActiveRules {
                rules: SharedRules::Builtin,
                source: Source::Builtin,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in rules under another name: valid, and told apart by their id.
    fn renamed(name: &str) -> String {
        let mut config: serde_json::Value = serde_json::from_str(Rules::builtin_json()).unwrap();
        config["revision"] = serde_json::Value::String(name.to_owned());
        config.to_string()
    }

    fn same(a: &ActiveRules, b: &ActiveRules) -> bool {
        match (&a.rules, &b.rules) {
            (SharedRules::Loaded(x), SharedRules::Loaded(y)) => Rc::ptr_eq(x, y),
            (SharedRules::Builtin, SharedRules::Builtin) => true,
            _ => false,
        }
    }

    #[test]
    fn a_read_begun_before_a_publish_does_not_bring_back_the_rules_it_replaced() {
        let mut cache = RulesCache::default();
        let (old, _) = cache.arrived(Some(renamed("old")), None, 0.0);
        // The cache lapses; a request begins reading KV (the old text still there) …
        let began = cache.generation();
        // … a publish in this isolate stores and activates the new rules …
        let text = renamed("new");
        let rules = Rules::from_json_with(&text, crate::settings::checks()).unwrap();
        let new = cache.publish(rules, text, "{}".into(), 40_000.0);
        assert_ne!(old.rules.id(), new.rules.id());
        // … and the read arrives with the old text, or fails: the new rules stay active.
        let (after, why) = cache.arrived_since(began, Some(renamed("old")), None, 40_001.0);
        assert_eq!(why, None);
        assert!(
            same(&after, &new),
            "the stale read was cached over the publish"
        );
        assert!(same(&cache.fresh(40_002.0, 30_000).unwrap(), &new));
        assert!(same(&cache.unreadable_since(began, 40_003.0), &new));
        assert!(same(&cache.fresh(40_004.0, 30_000).unwrap(), &new));
        // A read begun after the publish is cached as ever.
        let (later, _) =
            cache.arrived_since(cache.generation(), Some(renamed("other")), None, 80_000.0);
        assert!(!same(&later, &new));
        assert_eq!(later.source, Source::Kv);
    }

    #[test]
    fn an_empty_cache_reads_and_falls_back_to_the_builtin_rules() {
        let mut cache = RulesCache::default();
        assert!(cache.fresh(0.0, 30_000).is_none());
        let (active, why) = cache.arrived(None, None, 0.0);
        assert_eq!(active.source, Source::Builtin);
        assert_eq!(why, Some(Fallback::NothingPublished));
        let (active, why) = cache.arrived(Some("  \n".into()), None, 0.0);
        assert_eq!(active.source, Source::Builtin);
        assert_eq!(why, Some(Fallback::NothingPublished));
        assert_eq!(cache.unreadable(0.0).source, Source::Builtin);
    }

    #[test]
    fn rules_are_reused_for_their_lifetime_then_read_again() {
        let mut cache = RulesCache::default();
        let (active, why) = cache.arrived(Some(renamed("a")), None, 1_000.0);
        assert_eq!((active.source, why), (Source::Kv, None));
        let fresh = cache.fresh(30_999.0, 30_000).unwrap();
        assert!(same(&fresh, &active));
        assert!(cache.fresh(31_000.0, 30_000).is_none());
        // The same text again is not compiled again, and restarts the clock.
        let (again, _) = cache.arrived(Some(renamed("a")), None, 31_000.0);
        assert!(same(&again, &active));
        assert!(cache.fresh(60_000.0, 30_000).is_some());
        // A lifetime of 0 reads every time.
        assert!(cache.fresh(31_000.0, 0).is_none());
    }

    #[test]
    fn a_broken_publish_or_an_outage_keeps_the_last_good_rules() {
        let mut cache = RulesCache::default();
        let (good, _) = cache.arrived(Some(renamed("good")), None, 0.0);
        let (active, why) = cache.arrived(Some("{\"version\": 1".into()), None, 1.0);
        assert_eq!(active.source, Source::LastGood);
        assert!(same(&active, &good));
        assert!(matches!(why, Some(Fallback::Invalid(m)) if m.contains("line")));
        let down = cache.unreadable(2.0);
        assert_eq!(down.source, Source::LastGood);
        assert!(same(&down, &good));
        let (none, _) = cache.arrived(None, None, 3.0);
        assert_eq!(none.source, Source::LastGood);
        // KV back with the same text: the compiled rules are reused, from KV again.
        let (back, why) = cache.arrived(Some(renamed("good")), None, 4.0);
        assert_eq!((back.source, why), (Source::Kv, None));
        assert!(same(&back, &good));
    }

    #[test]
    fn a_publish_is_active_at_once() {
        let mut cache = RulesCache::default();
        cache.arrived(Some(renamed("old")), None, 0.0);
        let text = renamed("new");
        let rules = Rules::from_json(&text).unwrap();
        let id = rules.id().to_owned();
        let active = cache.publish(rules, text.clone(), String::new(), 1.0);
        assert_eq!(active.rules.id(), id);
        assert_eq!(active.rules.text(), text);
        assert!(same(&cache.fresh(2.0, 30_000).unwrap(), &active));
        let [(n1, v1), (n2, v2)] = active.headers();
        assert_eq!(
            (n1, v1.as_str(), n2, v2.as_str()),
            ("x-intent-rules", id.as_str(), "x-intent-rules-source", "kv")
        );
    }

    /// The versions the history keeps give their shapes to the active rules, so their tokens
    /// carry over; a new history alone is read again, and one that cannot be read gives none.
    #[test]
    fn the_history_gives_the_active_rules_its_earlier_shapes() {
        use crate::history::{History, Version};
        let old = Rules::builtin();
        let mut config = old.config().clone();
        config.revision = Some("more".into());
        config
            .page_groups
            .insert("webinar".into(), vec!["/webinar*".into()]);
        let segment = r#"{"name": "w", "when": {"viewed": {"group": "webinar"}}}"#;
        config.segments.push(serde_json::from_str(segment).unwrap());
        let new = Rules::compile(config).unwrap();
        let text = serde_json::to_string(new.config()).unwrap();
        let version = |rules: &Rules| Version {
            id: rules.id().to_owned(),
            published_at: None,
            activated_at: None,
            activation: 0,
            previous: None,
            summary: String::new(),
            shape: rules.shape().to_record(),
        };
        let mut history = History::default();
        history.seed(version(old));
        history.publish(version(&new), "2026-12-01T00:00:00Z");
        let history = history.to_json();

        let mut cache = RulesCache::default();
        let (plain, _) = cache.arrived(Some(text.clone()), None, 0.0);
        assert!(plain.rules.earlier_shapes().is_empty());
        let (active, why) = cache.arrived(Some(text.clone()), Some(history.clone()), 1.0);
        assert_eq!(why, None);
        assert_eq!(active.rules.earlier_shapes(), [old.shape().clone()]);
        let (broken, _) = cache.arrived(Some(text.clone()), Some("{".into()), 2.0);
        assert!(broken.rules.earlier_shapes().is_empty());
        let published = cache.publish(new.clone(), text, history, 3.0);
        assert_eq!(published.rules.earlier_shapes(), [old.shape().clone()]);
    }
}
