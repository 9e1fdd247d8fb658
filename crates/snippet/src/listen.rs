//! The browser events the tracker listens to.

use wasm_bindgen::JsValue;

use crate::dom::{after, call, get, try_call2, Page};
use crate::engagement::HEARTBEAT_MS;
use crate::tracker::{entry, Entry};

pub(crate) fn listen(page: &Page) {
    // One listener for every kind: the tracker dispatches on the event's type.
    let listener = entry(Entry::Browser);
    // Clicks in the capture phase, so a page that stops propagation still has them counted.
    for (kind, capture) in [
        ("click", true),
        ("scroll", false),
        ("pagehide", false),
        ("pageshow", false),
        ("popstate", false),
        ("DOMContentLoaded", false),
    ] {
        let _ = call(
            &page.window,
            "addEventListener",
            &kind.into(),
            &listener,
            &capture.into(),
        );
    }
    let _ = call(
        &page.document,
        "addEventListener",
        &"visibilitychange".into(),
        &listener,
        &JsValue::FALSE,
    );
    // Single-page apps change the URL with `history.pushState` and `replaceState`, which fire
    // no event: both are wrapped so that each URL change is a page view. The page's own call
    // returns, or fails, as it would have without the wrapper.
    let history = get(&page.window, "history");
    let navigated = entry(Entry::Navigated);
    for name in ["pushState", "replaceState"] {
        after(&history, name, &navigated);
    }
    try_call2(
        &page.window,
        "setInterval",
        &entry(Entry::Heartbeat),
        &HEARTBEAT_MS.into(),
    );
}
