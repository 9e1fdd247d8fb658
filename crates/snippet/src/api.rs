//! The site's JS API: `intent('event', name, props)`, `intent('tier', callback)`,
//! `intent('visitor', callback)`, `intent('identify', email, traits)` and
//! `intent('consent', 'granted' | 'denied')`.
//!
//! The loader defines `window.intent` as a stub that queues its calls on `intent.q`; once the
//! tracker runs, `window.intent` is replaced by the real function and the queue is replayed
//! in order, so calls made before the wasm arrived are kept.

use wasm_bindgen::prelude::*;

use crate::dom::{call, clip, get, get_at, get_key, is, length, object, set, set_key, Page};
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
    } else if is(&name, "identify") {
        Msg::Identify(a, b)
    } else if is(&name, "consent") {
        Msg::Consent(a)
    } else if is(&name, "tier") && a.is_function() {
        Msg::OnTier(a)
    } else if is(&name, "visitor") && a.is_function() {
        Msg::OnVisitor(a)
    } else {
        Msg::Ignored(name)
    }
}

/// A custom event from the site's arguments, or `None` without a name.
pub(crate) fn custom_event(page: &Page, name: &JsValue, props: &JsValue) -> Option<JsValue> {
    if !name.is_string() || length(name) == 0 {
        return None;
    }
    Some(event::event(
        "event",
        &[
            ("name", clip(name, limits::NAME)),
            ("props", kept_props(page, props)),
        ],
    ))
}

/// An email address as a browser's `<input type="email">` accepts it (the WHATWG definition),
/// with a dot in its domain whose last label is not a number, and at most 254 characters
/// (64 before the `@`): the engine refuses any other, and a refused event makes the edge refuse
/// the whole call it travels in. The edge normalises and checks it again.
const EMAIL: &str = concat!(
    "^(?=.{3,254}$)[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@",
    "(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?![0-9]+$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
);

/// A company's web domain as the engine reads `traits.company_domain` (`acme.com`,
/// `https://www.acme.com/about`).
const COMPANY_DOMAIN: &str = concat!(
    "^\\s*(?:https?://)?",
    "(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+(?![0-9]+\\b)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?",
    "\\.?(?:[/?#]\\S*)?\\s*$"
);

/// `{"type": "identify", "email", "traits"}` from `intent('identify', email, traits)`, or
/// `None` when the email is not one the edge would accept (a light check; the edge normalises
/// and checks it). Traits follow the rules of a custom event's props; a `company_domain` that
/// is not a domain is left out, for the same reason.
pub(crate) fn identify_event(page: &Page, email: &JsValue, traits: &JsValue) -> Option<JsValue> {
    if !email.is_string() {
        return None;
    }
    let none = JsValue::UNDEFINED;
    let email = call(email, "trim", &none, &none, &none).ok()?;
    if !page.test(EMAIL, &email) {
        return None;
    }
    let traits = kept_props(page, traits);
    let domain = get(&traits, "company_domain");
    if !domain.is_undefined() && !page.test(COMPANY_DOMAIN, &domain) {
        // `JSON.stringify` leaves out what is undefined.
        set(&traits, "company_domain", &none);
    }
    Some(event::event(
        "identify",
        &[("email", email), ("traits", traits)],
    ))
}

/// A custom event's props or an identify event's traits, keeping only what the engine accepts:
/// at most 16, each a string (clipped to 256 bytes), a finite number or a boolean. Reading
/// them goes through the catching helpers, so a hostile getter or proxy cannot throw into the
/// page.
fn kept_props(page: &Page, props: &JsValue) -> JsValue {
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
    kept
}
