//! The site's JS API: `intent('event', name, props)` and `intent('tier', callback)`.
//!
//! The loader defines `window.intent` as a stub that queues its calls on `intent.q`; once the
//! tracker runs, `window.intent` is replaced by the real function and the queue is replayed
//! in order, so calls made before the wasm arrived are kept.

use wasm_bindgen::prelude::*;

use crate::dom::{clip, get, get_at, get_key, is, length, object, set, set_key, Page};
use crate::event::{self, limits, prop_value};
use crate::tracker::{entry, handle, Entry, Msg};

/// Replaces the stub with the real `intent()` and replays the calls it queued.
pub(crate) fn install(page: &Page) {
    let queue = get(&get(&page.window, "intent"), "q");
    set(&page.window, "intent", &entry(Entry::Intent));
    for i in 0..length(&queue) {
        let args = get_at(&queue, i);
        handle(command(
            get_at(&args, 0),
            get_at(&args, 1),
            get_at(&args, 2),
        ));
    }
}

/// One call of `intent(name, a, b)`. Unknown commands are ignored (and logged with `data-debug`).
pub(crate) fn command(name: JsValue, a: JsValue, b: JsValue) -> Msg {
    if is(&name, "event") {
        Msg::Custom(a, b)
    } else if is(&name, "tier") && a.is_function() {
        Msg::OnTier(a)
    } else {
        Msg::Custom(JsValue::UNDEFINED, name)
    }
}

/// A custom event from the site's arguments. Properties keep only what the engine accepts:
/// at most 16, each a string (clipped to 256 bytes), a finite number or a boolean. Reading
/// them goes through the catching helpers, so a hostile getter or proxy cannot throw into the
/// page.
pub(crate) fn custom_event(page: &Page, name: &JsValue, props: &JsValue) -> Option<JsValue> {
    if !name.is_string() || length(name) == 0 {
        return None;
    }
    let kept = object();
    if props.is_object() {
        let keys = page.keys(props);
        let mut count = 0;
        for i in 0..length(&keys) {
            let key = get_at(&keys, i);
            let Some(value) = prop_value(get_key(props, &key)) else {
                continue;
            };
            set_key(&kept, &clip(&key, limits::PROP), &value);
            count += 1;
            if count == limits::PROPS {
                break;
            }
        }
    }
    Some(event::event(
        "event",
        &[("name", clip(name, limits::NAME)), ("props", kept)],
    ))
}
