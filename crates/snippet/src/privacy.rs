//! Whether this visitor may be tracked at all.
//!
//! Tracking is off, meaning nothing is stored and nothing is sent, when the visitor asks for it
//! (Global Privacy Control, Do Not Track), when the visitor is a bot (`navigator.webdriver`, a
//! crawler's user agent) or when the page opts out (`<meta name="intent-edge" content="off">`
//! or `data-intent-off` on the script tag). The loader makes the cheap checks too, so an
//! opted-out visitor does not even download the tracker; this module is the full rule.

use wasm_bindgen::JsValue;

use crate::config::Config;
use crate::dom::{call1, get, get_str, Page};

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
    let dnt = |obj: &JsValue| get_str(obj, "doNotTrack").as_deref() == Some("1");
    if get(nav, "globalPrivacyControl").is_truthy() || dnt(nav) || dnt(&page.window) {
        return Some(Off::VisitorChoice);
    }
    let ua = get_str(nav, "userAgent").unwrap_or_default();
    // Test-only: `data-allow-automation` on the tag, or `window.intentAllowAutomation = true`
    // set before the tag runs (Playwright's addInitScript), lets the project's end-to-end tests
    // drive a headless browser through automation. A crawler stays a crawler.
    let automated = get(nav, "webdriver").is_truthy() || contains(&ua, b"headless");
    let allowed =
        config.allow_automation || get(&page.window, "intentAllowAutomation") == JsValue::TRUE;
    if is_crawler(&ua) || (automated && !allowed) {
        return Some(Off::Bot);
    }
    let meta = call1(
        &page.document,
        "querySelector",
        &JsValue::from_str("meta[name=intent-edge][content=off]"),
    );
    if config.off || meta.is_ok_and(|m| m.is_object()) {
        return Some(Off::Page);
    }
    None
}

/// Whether a user agent is a known crawler.
pub(crate) fn is_crawler(ua: &str) -> bool {
    [
        &b"bot/"[..],
        b"bot-",
        b"bot;",
        b"crawl",
        b"spider",
        b"slurp",
        b"lighthouse",
    ]
    .iter()
    .any(|word| contains(ua, word))
}

/// Whether `text` contains `word`, ignoring ASCII case.
fn contains(text: &str, word: &[u8]) -> bool {
    // NOTE: a plain search rather than `str::contains` or `windows`, whose substring
    // searcher and panic message cost more wasm than this whole check.
    let text = text.as_bytes();
    (0..text.len()).any(|i| {
        text.get(i..i + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_crawlers_from_people() {
        assert!(contains("Mozilla/5.0 HeadlessChrome/156.0", b"headless"));
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0)",
            "AdsBot-Google (+http://www.google.com/adsbot.html)",
            "Mozilla/5.0 (compatible; Yahoo! Slurp)",
        ] {
            assert!(is_crawler(ua), "{ua}");
        }
        for ua in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36",
            "Mozilla/5.0 (Linux; Android 12; CUBOT X30) AppleWebKit/537.36 Mobile Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 Mobile/15E148 Safari/604.1",
        ] {
            assert!(!is_crawler(ua), "{ua}");
        }
    }
}
