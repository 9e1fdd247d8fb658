//! The active rules: read from KV, cached in the isolate, never absent.
//!
//! Each isolate keeps the rules it compiled for `RULES_CACHE_SECONDS`, so the hot path does no
//! KV read and no JSON parsing. With the rules it reads the history of published versions
//! (`rules:history`, see `crate::history`) and gives the compiled rules the profile shapes of
//! the versions kept there: a visitor whose token was made under one of them is carried over to
//! the active rules instead of starting afresh. When the KV value is missing, empty or invalid, or KV cannot be
//! read, the isolate keeps serving the last config that was valid, and without one the
//! built-in default rules: the worker never runs without rules and never fails a visitor
//! because of a bad publish or a KV outage.
//!
//! A read is given `RULES_KV_TIMEOUT_MS`. Past that, the request goes on with the fallback and
//! the read carries on after the answer (`wait_until`): whatever it brings becomes the
//! isolate's rules for the next requests, so a slow KV costs one wait of at most that long per
//! isolate and cache lifetime. `0` never waits: every read finishes in the background.

use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{join, select, Either};
use intent_engine::{ProfileShape, Rules};
use worker::{console_error, console_warn, Context, Delay, Env, KvError};

use crate::history::{History, HISTORY_KEY};
use crate::settings::{keys, names, Settings};

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
pub struct Published {
    rules: Rules,
    text: String,
}

/// Compiled rules, shared by the requests of one isolate.
#[derive(Clone)]
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
#[derive(Clone)]
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
            ("x-intent-rules", self.rules.id().to_owned()),
            ("x-intent-rules-source", self.source.label().to_owned()),
        ]
    }
}

struct Cached {
    active: ActiveRules,
    /// The KV text the active rules were compiled from (to skip recompiling unchanged text).
    text: Option<String>,
    /// The history text their earlier shapes came from.
    history: Option<String>,
    loaded_at_ms: f64,
}

/// What one read of KV brought: the rules text and the history text.
type Read = (
    Result<Option<String>, KvError>,
    Result<Option<String>, KvError>,
);

/// `rules` with the profile shapes of the versions `history` keeps (other than their own), so
/// that tokens made under those carry over. A history that cannot be read gives none, logged.
pub fn with_history(rules: Rules, history: Option<&str>) -> Rules {
    let history = match History::parse(history) {
        Ok(h) => h,
        Err(err) => {
            console_error!("the rules history in KV cannot be read ({err}); tokens of earlier rules will start fresh");
            return rules;
        }
    };
    let shapes: Vec<ProfileShape> = history
        .earlier_shapes(rules.id())
        .filter_map(|record| match ProfileShape::from_record(record) {
            Ok(shape) => Some(shape),
            Err(err) => {
                console_warn!("a shape in the rules history cannot be read ({err}); skipped");
                None
            }
        })
        .collect();
    rules.with_earlier_shapes(shapes)
}

#[derive(Default)]
struct Cache {
    current: Option<Cached>,
    /// The last valid rules read or published, and the history text they were given.
    last_good: Option<(SharedRules, Option<String>)>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The rules for this request: from the isolate cache while it is fresh, else from KV, else
/// the fallback.
pub async fn active(env: &Env, wctx: &Context, settings: &Settings, now_ms: f64) -> ActiveRules {
    let cached = CACHE.with(|c| {
        c.borrow().current.as_ref().and_then(|cur| {
            (now_ms - cur.loaded_at_ms < settings.rules_cache_ms as f64).then(|| cur.active.clone())
        })
    });
    if let Some(active) = cached {
        return active;
    }

    let kv = match env.kv(names::RULES_KV) {
        Ok(kv) => kv,
        Err(err) => {
            console_error!("the RULES KV binding is missing ({err}); using the fallback rules");
            return unreadable(now_ms);
        }
    };
    // The rules and the history are read together, under the same time limit.
    let rules_read = kv.get(keys::RULES).text();
    let history_read = kv.get(HISTORY_KEY).text();
    let read = Box::pin(join(rules_read, history_read));
    let limit = settings.rules_kv_timeout_ms;
    let late = if limit == 0 {
        read
    } else {
        match select(read, Delay::from(Duration::from_millis(limit))).await {
            Either::Left((result, _)) => return arrived(result, now_ms),
            Either::Right(((), read)) => read,
        }
    };
    console_warn!(
        "the rules were not read from KV within {limit} ms; using the fallback rules while the read goes on"
    );
    // The read goes on after this request is answered, and what it brings is cached.
    wctx.wait_until(async move {
        arrived(late.await, super::now_ms());
    });
    unreadable(now_ms)
}

/// Caches what a KV read brought: rules text (or nothing published) and the history, or a
/// failure.
fn arrived((rules, history): Read, now_ms: f64) -> ActiveRules {
    let history = history.unwrap_or_else(|err| {
        console_error!("reading the rules history from KV failed: {err}; tokens of earlier rules will start fresh");
        None
    });
    match rules {
        Ok(text) => remember(text, history, now_ms),
        Err(err) => {
            console_error!("reading the rules from KV failed: {err}; using the fallback rules");
            unreadable(now_ms)
        }
    }
}

/// KV could not be read: the fallback rules, cached for the usual lifetime so that a KV
/// outage costs one failed read per isolate and lifetime, not one per request.
fn unreadable(now_ms: f64) -> ActiveRules {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let active = fallback(&cache);
        cache.current = Some(Cached {
            active: active.clone(),
            text: None,
            history: None,
            loaded_at_ms: now_ms,
        });
        active
    })
}

/// Compiles `text` with the earlier shapes of `history` (unless that is what the cache already
/// holds) and makes it the cached state.
fn remember(text: Option<String>, history: Option<String>, now_ms: f64) -> ActiveRules {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let text = text.filter(|t| !t.trim().is_empty());

        // Unchanged text and history: keep the compiled rules, just restart the clock.
        if let Some(cur) = cache.current.as_mut() {
            if cur.text.is_some() && cur.text == text && cur.history == history {
                cur.loaded_at_ms = now_ms;
                return cur.active.clone();
            }
        }

        // The last good text again (KV is back after an outage): no need to compile it anew.
        if let (Some(t), Some((good, good_history))) = (&text, &cache.last_good) {
            if t == good.text() && *good_history == history {
                let active = ActiveRules {
                    rules: good.clone(),
                    source: Source::Kv,
                };
                cache.current = Some(Cached {
                    active: active.clone(),
                    text,
                    history,
                    loaded_at_ms: now_ms,
                });
                return active;
            }
        }

        let active = match &text {
            Some(t) => match Rules::from_json(t) {
                Ok(rules) => {
                    let rules = with_history(rules, history.as_deref());
                    let rules = SharedRules::loaded(rules, t.clone());
                    cache.last_good = Some((rules.clone(), history.clone()));
                    ActiveRules {
                        rules,
                        source: Source::Kv,
                    }
                }
                Err(err) => {
                    console_error!("the rules in KV are invalid ({err}); using the fallback rules");
                    fallback(&cache)
                }
            },
            None => {
                console_warn!(
                    "no rules published in KV (key `{}`); using the fallback rules",
                    keys::RULES
                );
                fallback(&cache)
            }
        };
        cache.current = Some(Cached {
            active: active.clone(),
            text,
            history,
            loaded_at_ms: now_ms,
        });
        active
    })
}

fn fallback(cache: &Cache) -> ActiveRules {
    match &cache.last_good {
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

/// Makes freshly published rules (with the history just stored) active in this isolate at
/// once (other isolates follow within their cache lifetime).
pub fn publish(rules: Rules, text: String, history: String, now_ms: f64) -> ActiveRules {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let rules = with_history(rules, Some(&history));
        let rules = SharedRules::loaded(rules, text.clone());
        cache.last_good = Some((rules.clone(), Some(history.clone())));
        let active = ActiveRules {
            rules,
            source: Source::Kv,
        };
        cache.current = Some(Cached {
            active: active.clone(),
            text: Some(text),
            history: Some(history),
            loaded_at_ms: now_ms,
        });
        active
    })
}
