//! Nothing stored and nothing sent when the visitor asks for it (GPC, DNT), for automated
//! browsers and crawlers, when the page opts out, and when the tag's site id is malformed;
//! tracking when none of these holds, starting with the outbox a previous page left.

#![cfg(target_arch = "wasm32")]

mod support;

use support::{
    define_stub, edge_url, js, js_num, outbox, page, release_answers, sent, setup, sleep,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ANSWER: &str = r#"{ profile: "tok", tier: "ready", segments: [], variants: {} }"#;

/// An outbox a previous page left: its engagement and a click that left the page.
const LEFT: &str = r#"[{"type":"engagement","url":"https://acme.test/pricing","seconds":7,"scroll":80},{"type":"click","url":"https://acme.test/pricing","target":"plan-pro"}]"#;

/// Starts the snippet with `attrs` on its tag after `before` ran, and returns how many
/// requests it made. A refused start leaves no tracker, so the next case can start again.
async fn requests_after(before: &str, attrs: &[(&str, &str)]) -> usize {
    let script = setup(ANSWER, attrs);
    js("localStorage.setItem('intent_profile', 'old-token')");
    js(&format!("localStorage.setItem('intent_outbox', '{LEFT}')"));
    js(before);
    intent_snippet::start(script.into(), edge_url());
    sleep(100).await;
    let n = sent().len();
    if n == 0 {
        let left = outbox();
        js("dispatchEvent(new Event('pagehide'))");
        assert_eq!(sent().len(), 0, "nothing leaves on pagehide either");
        assert_eq!(outbox(), left, "and nothing is written");
    }
    n
}

fn left() -> Option<Vec<serde_json::Value>> {
    serde_json::from_str(LEFT).ok()
}

fn token() -> Option<String> {
    js("localStorage.getItem('intent_profile')").as_string()
}

#[wasm_bindgen_test]
async fn respects_privacy_signals_bots_and_opt_outs() {
    page(r#"<div data-intent-slot="hero"><h1>Default</h1></div>"#);
    define_stub();
    let automation = [("data-allow-automation", "")];

    // The test browser runs under WebDriver, so navigator.webdriver is true: a bot.
    assert!(js("navigator.webdriver").is_truthy());
    assert_eq!(requests_after("", &[]).await, 0, "automated browser");
    assert_eq!(
        token().as_deref(),
        Some("old-token"),
        "a bot's visit leaves storage alone"
    );
    assert_eq!(outbox(), left());

    for ua in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "AdsBot-Google (+http://www.google.com/adsbot.html)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp)",
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36 Chrome-Lighthouse",
    ] {
        let set_ua = format!(
            "Object.defineProperty(navigator, 'userAgent', {{ value: '{ua}', configurable: true }})"
        );
        assert_eq!(
            requests_after(&set_ua, &automation).await,
            0,
            "crawler: {ua}"
        );
    }
    js("delete navigator.userAgent");

    assert_eq!(
        requests_after(
            "",
            &[("data-allow-automation", ""), ("data-intent-off", "")]
        )
        .await,
        0,
        "data-intent-off"
    );
    let meta = "document.head.insertAdjacentHTML('beforeend', '<meta name=\"intent-edge\" content=\"off\" id=\"off\">')";
    assert_eq!(requests_after(meta, &automation).await, 0, "meta opt-out");
    js("document.getElementById('off').remove()");

    let dnt = "Object.defineProperty(navigator, 'doNotTrack', { value: '1', configurable: true })";
    assert_eq!(requests_after(dnt, &automation).await, 0, "Do Not Track");
    assert_eq!(
        token(),
        None,
        "the visitor's choice removes the stored token"
    );
    assert_eq!(outbox(), None, "and the outbox");
    js("delete navigator.doNotTrack");

    let gpc = "Object.defineProperty(navigator, 'globalPrivacyControl', { value: true, configurable: true })";
    assert_eq!(
        requests_after(gpc, &automation).await,
        0,
        "Global Privacy Control"
    );
    assert_eq!(token(), None);
    assert_eq!(outbox(), None);
    js("delete navigator.globalPrivacyControl");

    // A site id the engine would refuse: the tag is wrong, and nothing is tracked.
    for site in ["", "de mo", "dé", "demo/x", &"a".repeat(65)] {
        let attrs = [("data-allow-automation", ""), ("data-site", site)];
        assert_eq!(requests_after("", &attrs).await, 0, "site id {site:?}");
    }

    // A phone whose name contains "bot" is a person: the last case runs with this one.
    js("Object.defineProperty(navigator, 'userAgent', { value: 'Mozilla/5.0 (Linux; Android 12; CUBOT X30) Mobile Safari/537.36', configurable: true })");

    // Nothing of the above: tracked, with the stored token sent back, and the outbox the
    // previous page left first in the call, before this page's view. The engine accepts the
    // body (`sent` checks), so the site id, letters of either case, digits, `-` and `_`, is good.
    let script = setup(
        ANSWER,
        &[("data-allow-automation", ""), ("data-site", "Acme-EU_2")],
    );
    js("localStorage.setItem('intent_profile', 'old-token'); __held = []");
    js(&format!("localStorage.setItem('intent_outbox', '{LEFT}')"));
    intent_snippet::start(script.into(), edge_url());
    sleep(100).await;
    let bodies = sent();
    assert_eq!(bodies.len(), 1);
    let (how, body) = &bodies[0];
    assert_eq!(how, "fetch");
    assert_eq!(body["site"], "Acme-EU_2");
    assert_eq!(body["profile"], "old-token");
    let events = body["events"].as_array().unwrap();
    let left = left().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(&events[..2], &left[..]);
    assert_eq!(events[2]["type"], "pageview");
    // The outbox is cleared once the answer is stored, not before.
    assert_eq!(outbox(), Some(left));
    release_answers().await;
    assert_eq!(token().as_deref(), Some("tok"));
    assert_eq!(outbox(), None);
    // Leaving the page sends nothing in snippet mode: what is left waits in the outbox.
    js("dispatchEvent(new Event('pagehide'))");
    assert_eq!(js_num("__sent.length"), 1.0, "no beacon in snippet mode");
    assert!(outbox()
        .unwrap_or_default()
        .iter()
        .all(|e| e["type"] == "engagement"));
}

/// The crawler rule the snippet hands to the browser's `RegExp` agrees with the worker's on the
/// shared test vectors (`intent_policy::CRAWLER_CASES`, which the worker's rule runs natively).
#[wasm_bindgen_test]
fn the_crawler_rule_reads_as_the_worker_reads_it() {
    let re = js_sys::RegExp::new(intent_policy::CRAWLER_PATTERN, "i");
    for (ua, crawler) in intent_policy::CRAWLER_CASES {
        assert_eq!(re.test(ua), *crawler, "{ua}");
    }
}
