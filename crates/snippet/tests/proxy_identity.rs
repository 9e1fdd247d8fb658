//! Proxy mode: the edge recorded the page view and put the tier and the segments on `<html>`,
//! so no answer of the snippet's may come for a while. The tier callbacks get the segments
//! from the page, and `intent('visitor', cb)` asks `/v1/decide` (which records nothing) for
//! the visitor id.

#![cfg(target_arch = "wasm32")]

mod support;
mod wait;

use support::{collect_url, js, js_str, page, sent, setup};
use wait::until;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_proxied_page_asks_decide_for_the_visitor_id() {
    page(r#"<div data-intent-slot="hero" data-intent-filled=""><h1>Ready</h1></div>"#);
    js(
        "document.documentElement.setAttribute('data-intent-tier', 'ready');
        document.documentElement.setAttribute('data-intent-segments', 'hot enterprise')",
    );
    let script = setup(
        r#"{ profile: null, visitor: "v-proxied", tier: "ready", segments: ["hot"], variants: {} }"#,
        &[("data-allow-automation", "")],
    );
    // `/v1/decide` is a GET: the fake edge keeps its URLs apart from the bodies sent.
    js("window.__gets = []; const post = fetch;
        window.fetch = (url, init) => init ? post(url, init)
            : (__gets.push(String(url)), Promise.resolve(new Response(JSON.stringify(__answer))))");
    intent_snippet::start(script.into(), collect_url());
    assert_eq!(sent().len(), 0, "the edge recorded this view");

    js("window.__seen = []; intent('tier', (t, s) => __seen.push(t + ':' + s.join()))");
    assert_eq!(js_str("__seen.join('|')"), "ready:hot,enterprise");

    js("intent('visitor', id => __seen.push('id:' + id)); intent('visitor', id => __seen.push('again:' + id))");
    until("the visitor id", || {
        js_str("__seen.join('|')").contains("again:")
    })
    .await;
    assert_eq!(
        js_str("__seen.join('|')"),
        "ready:hot,enterprise|id:v-proxied|again:v-proxied"
    );
    assert_eq!(
        js_str("JSON.stringify(__gets)"),
        js_str("JSON.stringify([location.origin + '/v1/decide'])"),
        "asked once"
    );
    assert_eq!(sent().len(), 0, "and nothing recorded");
}
