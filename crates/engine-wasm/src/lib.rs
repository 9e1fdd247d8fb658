//! The engine for the marketer's console (`console/`), compiled to wasm with wasm-bindgen: the
//! rules editor checks as you type with the same line/field messages as `intentctl validate`,
//! completes from the engine's JSON Schema, and the preview, simulation, explanation and audit
//! run on the traffic the console downloaded, in the browser.
//!
//! A thin adapter: every answer is the engine's own, serialised as JSON text (the console
//! parses it with `JSON.parse`, which is faster than building objects across the boundary). An
//! event log is read once into a [`Log`] and replayed under any rules after that.
//!
//! Times cross the boundary as milliseconds since the epoch, as `Date.now()` gives them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use intent_engine::{AuditPeriod, Rules, Timestamp, VisitorLog};
use serde_json::json;
use wasm_bindgen::prelude::*;

/// An event log (JSON Lines, the format `intentctl simulate` reads and
/// `GET /v1/admin/events` answers), read once and grouped by visitor.
#[wasm_bindgen]
pub struct Log {
    inner: VisitorLog,
}

#[wasm_bindgen]
impl Log {
    /// Reads a log; a line that cannot be read is an error naming it (`line 7: ...`).
    #[wasm_bindgen(constructor)]
    pub fn new(jsonl: &str) -> Result<Log, JsError> {
        VisitorLog::from_jsonl(jsonl)
            .map(|inner| Log { inner })
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// How many events it holds.
    #[wasm_bindgen(getter)]
    pub fn events(&self) -> usize {
        self.inner.len()
    }

    /// How many visitors it has.
    #[wasm_bindgen(getter)]
    pub fn visitors(&self) -> usize {
        self.inner.visitor_count()
    }

    /// The time of its latest event in milliseconds, or `undefined` when it is empty.
    #[wasm_bindgen(getter)]
    pub fn latest(&self) -> Option<f64> {
        self.inner.latest().map(|t| t.secs() as f64 * 1000.0)
    }
}

/// Checks a rules config. Answers JSON: `{"ok": true, "id", "tiers", "segments", "groups",
/// "max_token_bytes"}`, or `{"ok": false, "message", "line", "column", "field", "reason"}`
/// where `message` is exactly what `intentctl validate` prints after the file name.
#[wasm_bindgen]
pub fn validate(rules: &str) -> String {
    check(rules).to_string()
}

/// The check behind [`validate`], as a value.
pub fn check(rules: &str) -> serde_json::Value {
    match Rules::from_json(rules) {
        Ok(r) => json!({
            "ok": true,
            "id": r.id(),
            "tiers": r.tier_names().collect::<Vec<_>>(),
            "segments": r.config().segments.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "groups": r.config().page_groups.keys().collect::<Vec<_>>(),
            "max_token_bytes": r.max_token_bytes(),
        }),
        Err(e) => json!({
            "ok": false,
            "message": e.to_string(),
            "line": e.line(),
            "column": e.column(),
            "field": e.field(),
            "reason": e.message(),
        }),
    }
}

/// The JSON Schema of the rules config, as `intentctl schema` prints it.
#[wasm_bindgen]
pub fn schema() -> String {
    serde_json::to_string_pretty(&Rules::json_schema()).unwrap_or_default()
}

/// The built-in default rules, as `intentctl defaults` prints them.
#[wasm_bindgen]
pub fn defaults() -> String {
    Rules::builtin_json().to_owned()
}

fn compile(rules: &str, what: &str) -> Result<Rules, JsError> {
    Rules::from_json(rules).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

fn time(ms: f64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// Each visitor's tier at `at_ms`, as `intentctl simulate` prints it: JSON
/// `{"rules", "at", "events", "visitors": [{"visitor", "tier", "segments", "visits", "score"?}],
/// "tiers": {"<tier>": n}}`.
#[wasm_bindgen]
pub fn simulate(rules: &str, log: &Log, at_ms: f64) -> Result<String, JsError> {
    let rules = compile(rules, "the rules")?;
    let at = time(at_ms);
    let mut tiers: serde_json::Map<String, serde_json::Value> = rules
        .tier_names()
        .map(|t| (t.to_owned(), json!(0)))
        .collect();
    let mut events = 0;
    let mut visitors = Vec::new();
    for v in log.inner.visitors() {
        let (profile, n) = v.profile_at(&rules, at);
        if n == 0 {
            continue;
        }
        events += n;
        let d = rules.decide(&profile, at);
        if let Some(count) = tiers.get_mut(d.tier) {
            *count = json!(count.as_u64().unwrap_or(0) + 1);
        }
        let mut line = json!({
            "visitor": v.visitor,
            "tier": d.tier,
            "segments": d.segments,
            "visits": profile.summary(&rules).visits,
        });
        if let (Some(score), Some(obj)) = (d.score, line.as_object_mut()) {
            obj.insert("score".into(), json!((score * 100.0).round() / 100.0));
        }
        visitors.push(line);
    }
    Ok(json!({
        "rules": rules.id(),
        "at": at.to_string(),
        "events": events,
        "visitors": visitors,
        "tiers": tiers,
    })
    .to_string())
}

/// Why one visitor of the log has their tier at `at_ms`: JSON `{"text", "explanation"}`, the
/// words `intentctl explain` prints and the same as data.
#[wasm_bindgen]
pub fn explain(rules: &str, log: &Log, visitor: &str, at_ms: f64) -> Result<String, JsError> {
    let rules = compile(rules, "the rules")?;
    let at = time(at_ms);
    let v = log
        .inner
        .visitors()
        .find(|v| v.visitor == visitor)
        .ok_or_else(|| JsError::new(&format!("no events for visitor `{visitor}`")))?;
    let (profile, _) = v.profile_at(&rules, at);
    let explanation = rules.explain(&profile, at);
    Ok(json!({"text": explanation.to_string(), "explanation": explanation}).to_string())
}

/// The audit of `rules` over `[from_ms, to_ms]` of the log, as `intentctl audit` makes it:
/// JSON `{"report", "text"}`. `reviewed_ms` is when the rules were last published, if known.
#[wasm_bindgen]
pub fn audit(
    rules: &str,
    log: &Log,
    from_ms: f64,
    to_ms: f64,
    reviewed_ms: Option<f64>,
) -> Result<String, JsError> {
    let rules = compile(rules, "the rules")?;
    let period = AuditPeriod {
        from: time(from_ms),
        to: time(to_ms),
        reviewed: reviewed_ms.filter(|m| m.is_finite()).map(time),
    };
    if period.from > period.to {
        return Err(JsError::new("the period starts after it ends"));
    }
    let report = rules.audit(&log.inner, period);
    Ok(json!({"text": report.to_string(), "report": report}).to_string())
}

/// A day-by-day series of `days` days from `from_ms` under `rules`: JSON
/// `{"tiers": [...], "days": [{"day", "active", "members": [...], "entries": [...]}]}`, members
/// and newcomers per tier at each day's end (the console's overview).
#[wasm_bindgen]
pub fn daily(rules: &str, log: &Log, from_ms: f64, days: u32) -> Result<String, JsError> {
    let rules = compile(rules, "the rules")?;
    let series = log.inner.daily(&rules, time(from_ms), days.min(366));
    Ok(json!({"tiers": rules.tier_names().collect::<Vec<_>>(), "days": series}).to_string())
}

/// What publishing `edited` in place of `published` would do to the log's visitors at
/// `at_ms`: JSON of the engine's `Preview` (members per tier and segment before and after, and
/// who moves). A broken `edited` config is an error with its line and field.
#[wasm_bindgen]
pub fn preview(published: &str, edited: &str, log: &Log, at_ms: f64) -> Result<String, JsError> {
    let before = compile(published, "the published rules")?;
    let after = compile(edited, "the edited rules")?;
    let p = intent_engine::preview(&log.inner, &before, &after, time(at_ms));
    serde_json::to_string(&p).map_err(|e| JsError::new(&e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_broken_config_is_named_as_intentctl_names_it() {
        let text = include_str!("../../../examples/rules/broken-window.json");
        let v = super::check(text);
        assert_eq!(v["ok"], false);
        assert_eq!(
            v["message"],
            "line 21, `tiers[0].when.any[1].viewed.within`: expected a duration like `7d`, `12h` or `30m`, found `7 days`"
        );
        assert_eq!(v["line"], 21);
        assert_eq!(v["field"], "tiers[0].when.any[1].viewed.within");
        assert_eq!(super::check(&super::defaults())["ok"], true);
    }
}
