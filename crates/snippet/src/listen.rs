//! The browser events the tracker listens to.

use gloo_timers::callback::Interval;
use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::dom::{call, get, set, Page};
use crate::engagement::HEARTBEAT_MS;
use crate::tracker::{callback, handle, Msg};

pub(crate) fn listen(page: &Page) {
    // One listener for every kind: the tracker dispatches on the event's type.
    let listener = callback(|e| handle(Msg::Browser(e)));
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
    wrap_history(page);
    Interval::new(HEARTBEAT_MS, || handle(Msg::Heartbeat)).forget();
}

/// Single-page apps change the URL with `history.pushState` and `replaceState`, which fire no
/// event: both are wrapped so that each URL change is a page view.
fn wrap_history(page: &Page) {
    let history = get(&page.window, "history");
    for name in ["pushState", "replaceState"] {
        let original = get(&history, name);
        if !original.is_function() {
            continue;
        }
        let original: Function = original.unchecked_into();
        let this = history.clone();
        let wrapper = Closure::<dyn FnMut(JsValue, JsValue, JsValue)>::new(move |a, b, c| {
            let result = original.call3(&this, &a, &b, &c);
            handle(Msg::Navigated);
            // The page's own call must fail as it would have without the wrapper.
            if let Err(e) = result {
                wasm_bindgen::throw_val(e);
            }
        });
        set(&history, name, &wrapper.into_js_value());
    }
}
