//! Whether this visitor may be tracked at all.
//!
//! Tracking is off, meaning nothing is stored and nothing is sent, when the visitor asks for it
//! (Global Privacy Control, Do Not Track), when the visitor is a bot (`navigator.webdriver`, a
//! crawler's user agent) or when the page opts out (`<meta name="intent-edge" content="off">`
//! or `data-intent-off` on the script tag). The loader makes the cheap checks too, so an
//! opted-out visitor does not even download the tracker; this module is the full rule.

use intent_policy::CRAWLER_PATTERN;
use wasm_bindgen::JsValue;

use crate::config::Config;
use crate::dom::{get, is, try_call_s, Page};

/// Why a visitor is not tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Off {
    /// The visitor asked not to be tracked (GPC or DNT). Any stored token is removed too.
    VisitorChoice,
    /// An automated browser or a crawler.
    Bot,
    /// The page turned tracking off.
    Page,
}

/// `None` if the visitor may be tracked, else why not.
pub(crate) fn check(page: &Page, config: &Config) -> Option<Off> {
    let nav = &page.navigator;
    let dnt = |obj: &JsValue| is(&get(obj, "doNotTrack"), "1");
    if get(nav, "globalPrivacyControl").is_truthy() || dnt(nav) || dnt(&page.window) {
        return Some(Off::VisitorChoice);
    }
    let ua = get(nav, "userAgent");
    let ua_matches = |pattern: &str| page.test(pattern, &ua);
    // Test-only: `data-allow-automation` on the tag, or `window.intentAllowAutomation = true`
    // set before the tag runs (Playwright's addInitScript), lets the project's end-to-end tests
    // drive a headless browser through automation. A crawler stays a crawler.
    let automated = get(nav, "webdriver").is_truthy() || ua_matches("headless");
    let allowed =
        config.allow_automation || get(&page.window, "intentAllowAutomation") == JsValue::TRUE;
    if ua_matches(CRAWLER_PATTERN) || (automated && !allowed) {
        return Some(Off::Bot);
    }
    let meta = try_call_s(
        &page.document,
        "querySelector",
        "meta[name=intent-edge][content=off]",
    );
    if config.off || meta.is_object() {
        return Some(Off::Page);
    }
    None
}
