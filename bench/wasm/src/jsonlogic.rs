//! The rules config written as JSON Logic, for the JavaScript peers of the benchmark.
//!
//! A JavaScript developer writing this product on Workers would keep a visitor profile of
//! recent timestamps, turn it into windowed counts ("pricing views in the last 14 days") and
//! hand those counts to a JSON Logic rule. This module writes exactly that for a rules config:
//! what to track and how many timestamps of each to keep (the same capacities as the engine's
//! compact profile, so the peer carries no more than it needs), the counters each rule reads,
//! and one JSON Logic expression per tier and segment, also written as a GrowthBook condition.
//! The conversion is mechanical, so the peers evaluate the same rules as the engine, and the
//! benchmark checks that they agree.
//!
//! Only conditions a JSON Logic peer can express over windowed counts are converted: `viewed`,
//! `visits`, `event`, `click`, `last_seen` and `all`/`any`/`not`. Engagement, UTM, referrer and
//! score conditions are refused with a message naming the rule.

use std::collections::BTreeMap;

use intent_engine::{Condition, Limits, RulesConfig, Window};
use serde_json::{json, Map, Value};

/// A rules config as JSON Logic, with the profile shape and the counters its rules read.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonLogicRules {
    /// The whole conversion as one JSON document (see [`convert`]).
    pub document: Value,
}

#[derive(Default)]
struct Builder {
    /// Page groups a rule counts: name, path patterns, timestamps to keep.
    groups: Vec<(String, Vec<String>, u32)>,
    /// Custom events: name, properties, timestamps to keep.
    events: Vec<(String, BTreeMap<String, String>, u32)>,
    /// Click targets: pattern, timestamps to keep.
    clicks: Vec<(String, u32)>,
    /// Counter name → its definition.
    counters: Map<String, Value>,
}

/// A counter's name: what it counts and over which window, readable in the JSON Logic.
fn window_label(within: Option<Window>) -> String {
    within.map_or_else(|| "horizon".to_owned(), |w| w.to_string())
}

fn within_secs(within: Option<Window>, horizon: Window) -> u64 {
    within.unwrap_or(horizon).secs()
}

impl Builder {
    fn track<K: PartialEq>(list: &mut Vec<K>, same: impl Fn(&K) -> bool, new: K) -> usize {
        match list.iter().position(same) {
            Some(i) => i,
            None => {
                list.push(new);
                list.len() - 1
            }
        }
    }

    fn counter(&mut self, name: String, def: Value) -> Value {
        self.counters.entry(name.clone()).or_insert(def);
        json!({ "var": name })
    }

    fn cond(&mut self, c: &Condition, cfg: &RulesConfig, rule: &str) -> Result<Value, String> {
        let horizon = cfg.horizon;
        Ok(match c {
            Condition::All(list) => json!({ "and": self.list(list, cfg, rule)? }),
            Condition::Any(list) => json!({ "or": self.list(list, cfg, rule)? }),
            Condition::Not(sub) => json!({ "!": [self.cond(sub, cfg, rule)?] }),
            Condition::Viewed(v)
                if v.utm.is_some() || v.referrer.is_some() || v.landed.is_some() =>
            {
                return Err(unsupported(rule, "viewed with a visit filter"))
            }
            Condition::Visits(v)
                if v.utm.is_some() || v.referrer.is_some() || v.landed.is_some() =>
            {
                return Err(unsupported(rule, "visits with a visit filter"))
            }
            Condition::Viewed(v) => {
                let patterns = cfg
                    .page_groups
                    .get(&v.group)
                    .ok_or_else(|| format!("{rule}: unknown page group `{}`", v.group))?
                    .clone();
                let i = Self::track(
                    &mut self.groups,
                    |g| g.0 == v.group,
                    (v.group.clone(), patterns, 0),
                );
                self.groups[i].2 = self.groups[i].2.max(v.at_least);
                let var = self.counter(
                    format!("views_{}_{}", v.group, window_label(v.within)),
                    json!({"count": "group", "index": i, "within_s": within_secs(v.within, horizon)}),
                );
                json!({ ">=": [var, v.at_least] })
            }
            Condition::Visits(v) => {
                let var = self.counter(
                    format!("visits_{}", window_label(v.within)),
                    json!({"count": "visits", "within_s": within_secs(v.within, horizon)}),
                );
                json!({ ">=": [var, v.at_least] })
            }
            Condition::Event(e) => {
                let i = Self::track(
                    &mut self.events,
                    |x| x.0 == e.name && x.1 == e.props,
                    (e.name.clone(), e.props.clone(), 0),
                );
                self.events[i].2 = self.events[i].2.max(e.at_least);
                let var = self.counter(
                    format!("event{i}_{}_{}", e.name, window_label(e.within)),
                    json!({"count": "event", "index": i, "within_s": within_secs(e.within, horizon)}),
                );
                json!({ ">=": [var, e.at_least] })
            }
            Condition::Click(k) => {
                let i = Self::track(&mut self.clicks, |x| x.0 == k.target, (k.target.clone(), 0));
                self.clicks[i].1 = self.clicks[i].1.max(k.at_least);
                let var = self.counter(
                    format!("click{i}_{}", window_label(k.within)),
                    json!({"count": "click", "index": i, "within_s": within_secs(k.within, horizon)}),
                );
                json!({ ">=": [var, k.at_least] })
            }
            Condition::LastSeen(l) => {
                let var = self.counter("idle_s".to_owned(), json!({"count": "idle"}));
                json!({ "<=": [var, l.within.secs()] })
            }
            Condition::Engaged(_) => return Err(unsupported(rule, "engaged")),
            Condition::Utm(_) => return Err(unsupported(rule, "utm")),
            Condition::Referrer(_) => return Err(unsupported(rule, "referrer")),
            Condition::Score(_) => return Err(unsupported(rule, "score")),
        })
    }

    fn list(
        &mut self,
        list: &[Condition],
        cfg: &RulesConfig,
        rule: &str,
    ) -> Result<Vec<Value>, String> {
        list.iter().map(|c| self.cond(c, cfg, rule)).collect()
    }
}

/// The same condition as a GrowthBook condition (MongoDB-style operators over the same counters),
/// for GrowthBook's `evalCondition`, the other evaluator a JavaScript developer might pick.
pub fn growthbook_condition(logic: &Value) -> Result<Value, String> {
    let Some((op, args)) = logic.as_object().and_then(|o| o.iter().next()) else {
        return Err(format!("not a JSON Logic operation: {logic}"));
    };
    let list = |args: &Value| -> Result<Vec<Value>, String> {
        args.as_array()
            .ok_or_else(|| format!("`{op}` expects a list"))?
            .iter()
            .map(growthbook_condition)
            .collect()
    };
    let compare = |mongo: &str| -> Result<Value, String> {
        let var = args[0]["var"]
            .as_str()
            .ok_or_else(|| format!("`{op}` expects a variable first"))?;
        Ok(json!({ var: { mongo: args[1] } }))
    };
    match op.as_str() {
        "and" => Ok(json!({ "$and": list(args)? })),
        "or" => Ok(json!({ "$or": list(args)? })),
        "!" => Ok(json!({ "$not": growthbook_condition(&args[0])? })),
        ">=" => compare("$gte"),
        "<=" => compare("$lte"),
        other => Err(format!("no GrowthBook form for `{other}`")),
    }
}

fn unsupported(rule: &str, what: &str) -> String {
    format!("{rule}: a `{what}` condition has no JSON Logic form in this benchmark; use viewed, visits, event, click, last_seen, all, any or not")
}

/// Converts a rules config. The document's fields:
///
/// - `horizon_s`, `visit_gap_s`, `visits_kept`: the profile's time rules, as the engine's;
/// - `track`: `groups` (`name`, `patterns`, `keep`), `events` (`name`, `props`, `keep`),
///   `clicks` (`target`, `keep`) — what the profile keeps timestamps of, and how many;
/// - `counters`: name → `{"count": "group"|"event"|"click", "index", "within_s"}`,
///   `{"count": "visits", "within_s"}` or `{"count": "idle"}` (seconds since last activity);
/// - `tiers` and `segments`: `[{"name", "logic", "growthbook"}]` (the condition as JSON Logic and as
///   a GrowthBook condition), tiers in priority order; `fallback`;
/// - `variants`: tier → slot → variant, with `default` variants already filled in.
pub fn convert(cfg: &RulesConfig) -> Result<JsonLogicRules, String> {
    let mut b = Builder::default();
    let mut named = |list: &[intent_engine::Rule], what: &str| -> Result<Vec<Value>, String> {
        list.iter()
            .map(|r| {
                let logic = b.cond(&r.when, cfg, &format!("{what} `{}`", r.name))?;
                let growthbook = growthbook_condition(&logic)?;
                Ok(json!({ "name": r.name, "logic": logic, "growthbook": growthbook }))
            })
            .collect()
    };
    let tiers = named(&cfg.tiers, "tier")?;
    let segments = named(&cfg.segments, "segment")?;
    let tier_names = cfg
        .tiers
        .iter()
        .map(|t| t.name.as_str())
        .chain(std::iter::once(cfg.fallback.as_str()));
    let mut variants = Map::new();
    for tier in tier_names {
        let mut slots = Map::new();
        for (slot, by_tier) in &cfg.variants {
            if let Some(v) = by_tier.get(tier).or_else(|| by_tier.get("default")) {
                slots.insert(
                    slot.clone(),
                    serde_json::to_value(v).map_err(|e| e.to_string())?,
                );
            }
        }
        variants.insert(tier.to_owned(), Value::Object(slots));
    }
    let groups: Vec<Value> = b
        .groups
        .iter()
        .map(|(name, patterns, keep)| json!({"name": name, "patterns": patterns, "keep": keep}))
        .collect();
    let events: Vec<Value> = b
        .events
        .iter()
        .map(|(name, props, keep)| json!({"name": name, "props": props, "keep": keep}))
        .collect();
    let clicks: Vec<Value> = b
        .clicks
        .iter()
        .map(|(target, keep)| json!({"target": target, "keep": keep}))
        .collect();
    Ok(JsonLogicRules {
        document: json!({
            "revision": cfg.revision,
            "horizon_s": cfg.horizon.secs(),
            "visit_gap_s": intent_engine::VISIT_GAP_SECS,
            "visits_kept": Limits::VISITS_KEPT,
            "track": {"groups": groups, "events": events, "clicks": clicks},
            "counters": b.counters,
            "tiers": tiers,
            "fallback": cfg.fallback,
            "segments": segments,
            "variants": variants,
        }),
    })
}
