//! The active rules, read from KV through the isolate's cache (`crate::rules_cache`, where the
//! policy is, and its tests). The rules and the history of published versions (whose profile
//! shapes the rules carry tokens over from) are read together, under the same time limit.
//!
//! A read is given `RULES_KV_TIMEOUT_MS`. Past that, the request goes on with the fallback and
//! the read carries on after the answer (`wait_until`): whatever it brings becomes the
//! isolate's rules for the next requests, so a slow KV costs one wait of at most that long per
//! isolate and cache lifetime. `0` never waits: every read finishes in the background.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::future::{join, select, Either};
use intent_engine::Rules;
use worker::{console_error, console_warn, Context, Delay, Env, KvError};

use crate::history::{History, HISTORY_KEY};
use crate::rules_cache::{ActiveRules, Fallback, RulesCache, SharedRules, Source};
use crate::settings::{keys, names, Settings};

thread_local! {
    static CACHE: RefCell<RulesCache> = RefCell::new(RulesCache::default());
}

/// The rules for this request: from the isolate cache while it is fresh, else from KV, else
/// the fallback.
pub async fn active(env: &Env, wctx: &Context, settings: &Settings, now_ms: f64) -> ActiveRules {
    if let Some(active) = fresh(settings, now_ms) {
        return active;
    }
    let kv = match env.kv(names::RULES_KV) {
        Ok(kv) => kv,
        Err(err) => {
            console_error!("the RULES KV binding is missing ({err}); using the fallback rules");
            return unreadable(now_ms);
        }
    };
    // A publish in this isolate while the read is under way makes what it brings stale.
    let began = CACHE.with(|c| c.borrow().generation());
    let read = Box::pin(join(kv.get(keys::RULES).text(), kv.get(HISTORY_KEY).text()));
    let limit = settings.rules_kv_timeout_ms;
    let late = if limit == 0 {
        read
    } else {
        match select(read, Delay::from(Duration::from_millis(limit))).await {
            Either::Left((result, _)) => return arrived(began, result, now_ms),
            Either::Right(((), read)) => read,
        }
    };
    console_warn!(
        "the rules were not read from KV within {limit} ms; using the fallback rules while the read goes on"
    );
    // The read goes on after this request is answered, and what it brings is cached.
    wctx.wait_until(async move {
        arrived(began, late.await, super::now_ms());
    });
    CACHE.with(|c| c.borrow_mut().unreadable_since(began, now_ms))
}

/// The isolate's rules while they are fresh: the usual case, which needs no waiting.
pub fn fresh(settings: &Settings, now_ms: f64) -> Option<ActiveRules> {
    CACHE.with(|c| c.borrow().fresh(now_ms, settings.rules_cache_ms))
}

/// Rules for a route that does not use them (the snippet files, a wrong method): the built-in
/// ones, without a KV read.
pub fn idle() -> ActiveRules {
    ActiveRules {
        rules: SharedRules::Builtin,
        source: Source::Builtin,
    }
}

/// What one read of KV brought: the rules text and the history text.
type Read = (
    Result<Option<String>, KvError>,
    Result<Option<String>, KvError>,
);

/// Caches what a KV read brought: rules text (or nothing published) and the history, or a
/// failure. A history that cannot be read or parsed is logged: tokens of earlier versions then
/// start fresh until it can.
fn arrived(began: u64, (rules, history): Read, now_ms: f64) -> ActiveRules {
    let history = match history {
        Ok(text) => text,
        Err(err) => {
            console_error!("reading the rules history from KV failed: {err}; tokens of earlier rules will start fresh");
            None
        }
    };
    if let Err(err) = History::parse(history.as_deref()) {
        console_error!(
            "the rules history in KV (`{HISTORY_KEY}`) cannot be read ({err}); tokens of earlier rules will start fresh"
        );
    }
    match rules {
        Ok(text) => {
            let (active, why) =
                CACHE.with(|c| c.borrow_mut().arrived_since(began, text, history, now_ms));
            match why {
                Some(Fallback::Invalid(err)) => {
                    console_error!("the rules in KV are invalid ({err}); using the fallback rules")
                }
                Some(Fallback::NothingPublished) => console_warn!(
                    "no rules published in KV (key `{}`); using the fallback rules",
                    keys::RULES
                ),
                None => {}
            }
            active
        }
        Err(err) => {
            console_error!("reading the rules from KV failed: {err}; using the fallback rules");
            CACHE.with(|c| c.borrow_mut().unreadable_since(began, now_ms))
        }
    }
}

fn unreadable(now_ms: f64) -> ActiveRules {
    CACHE.with(|c| c.borrow_mut().unreadable(now_ms))
}

/// Makes freshly published rules, with the history just stored, active in this isolate at
/// once (other isolates follow within their cache lifetime).
pub fn publish(rules: Rules, text: String, history: String, now_ms: f64) -> ActiveRules {
    CACHE.with(|c| c.borrow_mut().publish(rules, text, history, now_ms))
}
