//! The events the snippet records, as the JS objects `/v1/collect` receives.
//!
//! NOTE: events are built as JS objects and the body is written by the browser's own
//! `JSON.stringify`, not with `serde_json` or `serde` + serde-wasm-bindgen: every visitor
//! downloads this code, and those cost more than the snippet's whole 12 KiB budget allows.
//! The engine's parser is the judge of the result: the browser tests feed the bodies the
//! snippet sends to `intent_engine::CollectRequest::from_json`.

use wasm_bindgen::JsValue;

use crate::dom::{clip, object, set};

/// The limits of a collect call on event fields, in bytes (`intent_policy::limits`, which the
/// engine refuses past). The snippet trims to them before sending, because one field over a
/// limit makes the worker refuse the batch.
pub(crate) mod limits {
    use intent_policy::limits as policy;

    pub(crate) const URL: usize = policy::URL_BYTES;
    pub(crate) const TITLE: usize = policy::TITLE_BYTES;
    pub(crate) const NAME: usize = policy::NAME_BYTES;
    pub(crate) const PROPS: u32 = policy::PROPS as u32;
    pub(crate) const PROP: usize = policy::PROP_BYTES;
    pub(crate) const EVENTS_PER_CALL: u32 = policy::EVENTS_PER_CALL as u32;
}

/// `{"type": kind, ...fields}`.
pub(crate) fn event(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let e = object();
    set(&e, "type", &kind.into());
    for (key, value) in fields {
        set(&e, key, value);
    }
    e
}

/// A page view: `{"type": "pageview", "url", "referrer", "title"}`.
pub(crate) fn pageview(url: &JsValue, referrer: &JsValue, title: &JsValue) -> JsValue {
    event(
        "pageview",
        &[
            ("url", clip(url, limits::URL)),
            ("referrer", clip(referrer, limits::URL)),
            ("title", clip(title, limits::TITLE)),
        ],
    )
}

/// Engagement since the last report: `{"type": "engagement", "url", "seconds", "scroll"}`.
pub(crate) fn engagement(url: &JsValue, seconds: u32, scroll: u32) -> JsValue {
    event(
        "engagement",
        &[
            ("url", clip(url, limits::URL)),
            ("seconds", seconds.into()),
            ("scroll", scroll.min(100).into()),
        ],
    )
}

/// A click on a tracked element or an outbound link: `{"type": "click", "url", "target"}`.
pub(crate) fn click(url: &JsValue, target: &JsValue) -> JsValue {
    event(
        "click",
        &[
            ("url", clip(url, limits::URL)),
            ("target", clip(target, limits::URL)),
        ],
    )
}

/// The property of a custom event's props worth sending: a string (clipped), a finite
/// number or a boolean. Anything else (objects, functions, `NaN`) is left out.
pub(crate) fn prop_value(value: JsValue) -> Option<JsValue> {
    if value.is_string() {
        return Some(clip(&value, limits::PROP));
    }
    // Booleans by comparison: `as_bool` would cost one more import and its glue.
    let keep = value == JsValue::TRUE
        || value == JsValue::FALSE
        || value.as_f64().is_some_and(f64::is_finite);
    keep.then_some(value)
}
