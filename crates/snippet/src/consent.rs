//! The visitor's consent choice, as the page gives it (`intent('consent', 'granted' |
//! 'denied')`, or an adapter to its consent platform) and as the first-party cookie
//! `intent_consent` records it.
//!
//! A site whose tag says `data-consent="required"` is not tracked until the visitor grants
//! consent: until then nothing is read or written in `localStorage`, nothing is recorded or
//! sent, and the page keeps its default content. Without the attribute, consent is implied;
//! a visitor who denies it is not tracked either way. The cookie records the choice, so the
//! next page starts as this one ended, and so the edge in proxy mode can respect the choice from
//! a page's first byte. Reading and writing that one cookie is what the choice itself needs:
//! it holds nothing but the choice.

use wasm_bindgen::JsValue;

use crate::dom::{get, is, set, try_call_s, Page};

// The consent cookie: `intent_consent=granted` or `intent_consent=denied`, first-party,
// `Path=/`, for 180 days (how long a choice is commonly kept before asking again), not
// `HttpOnly` (the snippet writes it), `SameSite=Lax`, and `Secure` on HTTPS pages.
const GRANTED: &str = "intent_consent=granted; Path=/; Max-Age=15552000; SameSite=Lax";
const DENIED: &str = "intent_consent=denied; Path=/; Max-Age=15552000; SameSite=Lax";

/// The choice the cookie records: `Some(true)` granted, `Some(false)` denied, `None` none.
pub(crate) fn recorded(page: &Page) -> Option<bool> {
    let cookies = get(&page.document, "cookie");
    if page.test("(^|;)\\s*intent_consent=denied\\s*(;|$)", &cookies) {
        Some(false)
    } else if page.test("(^|;)\\s*intent_consent=granted\\s*(;|$)", &cookies) {
        Some(true)
    } else {
        None
    }
}

/// Records the choice in the cookie.
pub(crate) fn record(page: &Page, granted: bool) {
    let cookie = JsValue::from_str(if granted { GRANTED } else { DENIED });
    let cookie = if is(&get(&page.location, "protocol"), "https:") {
        try_call_s(&cookie, "concat", "; Secure")
    } else {
        cookie
    };
    set(&page.document, "cookie", &cookie);
}

/// What `intent('consent', value)` says: `Some(true)` for `'granted'`, `Some(false)` for
/// `'denied'`, `None` for anything else.
pub(crate) fn parse(value: &JsValue) -> Option<bool> {
    if is(value, "granted") {
        Some(true)
    } else if is(value, "denied") {
        Some(false)
    } else {
        None
    }
}
