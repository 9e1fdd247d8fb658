//! A site that requires consent (`data-consent="required"`): until the visitor grants it,
//! nothing is read or written in `localStorage`, nothing is recorded or sent, and the page
//! keeps its default content. Granting starts the profile from that page on; withdrawing
//! deletes the token and the outbox at once and stops sending. The consent cookie records
//! each choice.

#![cfg(target_arch = "wasm32")]

mod support;
mod wait;

use support::{collect_url, define_stub, el, js, js_num, js_str, outbox, page, sent, setup};
use wait::until;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const READY: &str = r#"{ profile: "tok1", visitor: "v-1", tier: "ready", segments: ["hot"],
    variants: { hero: { html: "<h1>Ready</h1>" } } }"#;

fn token() -> Option<String> {
    js("localStorage.getItem('intent_profile')").as_string()
}

fn consent_cookie() -> String {
    js_str("(document.cookie.match(/(?:^|; )intent_consent=([^;]*)/) || [])[1] || ''")
}

#[wasm_bindgen_test]
async fn nothing_before_consent_a_profile_after_none_once_withdrawn() {
    page(
        r#"<div data-intent-slot="hero"><h1>Default</h1></div>
        <button data-intent-track="plan-pro">Pro</button>"#,
    );
    let script = setup(
        READY,
        &[("data-allow-automation", ""), ("data-consent", "required")],
    );
    js("document.cookie = 'intent_consent=; Max-Age=0; Path=/'");
    // A token from an earlier visit, and every use of storage counted from now on.
    js("localStorage.setItem('intent_profile', 'old-token');
        window.__storage = [];
        for (const m of ['getItem', 'setItem', 'removeItem', 'clear', 'key']) {
            const f = Storage.prototype[m];
            Storage.prototype[m] = function (...a) { __storage.push(m + ' ' + a[0]); return f.apply(this, a); };
        }");
    // The heartbeat, run by the test rather than waited for.
    js("const every = setInterval;
        window.setInterval = function (f, ms) { window.__beat = f; return every.apply(this, arguments) }");
    define_stub();
    js("intent('event', 'before_consent'); window.__tiers = []; intent('tier', t => __tiers.push(t))");
    js("window.__ids = []; intent('visitor', id => __ids.push(id))");
    intent_snippet::start(script.into(), collect_url());

    // Waiting for consent: the visitor clicks, navigates, leaves; nothing is recorded.
    js("document.querySelector('[data-intent-track]').click();
        history.pushState({}, '', location.pathname + '?step=2');
        dispatchEvent(new Event('pagehide'));
        dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))");
    js("document.querySelector('[data-intent-track]').click(); __beat()");
    assert_eq!(js_num("__sent.length"), 0.0, "nothing sent");
    assert_eq!(
        js_str("__storage.join()"),
        "",
        "storage neither read nor written"
    );
    assert!(!js("document.documentElement.hasAttribute('data-intent-tier')").is_truthy());
    assert_eq!(
        el("[data-intent-slot=hero]").inner_html(),
        "<h1>Default</h1>"
    );
    assert_eq!(consent_cookie(), "");
    assert_eq!(js_str("__tiers.join()"), "");

    // Granted: the profile starts from this page on, with this page's view. What was called
    // before consent was not kept.
    js("intent('consent', 'granted')");
    assert_eq!(consent_cookie(), "granted");
    let bodies = sent();
    assert_eq!(bodies.len(), 1);
    let body = &bodies[0].1;
    assert_eq!(
        body["profile"], "old-token",
        "the stored token, read once consent is given"
    );
    let kinds: Vec<_> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(kinds, ["pageview"], "{body}");
    until("the answer", || token().as_deref() == Some("tok1")).await;
    assert_eq!(
        js_str("document.documentElement.dataset.intentTier"),
        "ready"
    );
    assert_eq!(
        js_str("document.documentElement.dataset.intentSegments"),
        "hot"
    );
    assert_eq!(el("[data-intent-slot=hero]").inner_html(), "<h1>Ready</h1>");
    assert_eq!(js_str("__tiers.join()"), "ready");
    assert_eq!(js_str("__ids.join()"), "v-1");

    // Withdrawn while a request is on its way and a click waits for the heartbeat: the token
    // and the outbox go at once, the late answer is ignored, the page shows its own content,
    // and nothing more is sent or kept.
    js("__held = []; intent('event', 'in_flight'); document.querySelector('[data-intent-track]').click()");
    assert_eq!(sent().len(), 2);
    js("localStorage.setItem('intent_outbox', '[]')");
    js("intent('consent', 'denied')");
    assert_eq!(consent_cookie(), "denied");
    assert_eq!(token(), None, "the token is deleted at once");
    assert_eq!(outbox(), None, "and the outbox");
    assert_eq!(
        el("[data-intent-slot=hero]").inner_html(),
        "<h1>Default</h1>"
    );
    assert!(!js("document.documentElement.hasAttribute('data-intent-tier')").is_truthy());
    assert!(!js("document.documentElement.hasAttribute('data-intent-segments')").is_truthy());
    js("intent('event', 'after'); history.pushState({}, '', location.pathname + '?step=3')");
    js("document.querySelector('[data-intent-track]').click(); __beat()");
    js("dispatchEvent(new Event('pagehide'))");
    assert_eq!(sent().len(), 2, "nothing sent after withdrawal");
    assert_eq!(outbox(), None, "nothing kept");
    assert_eq!(token(), None);

    // The late answer arrives; then consent is granted again (the page back from the
    // back/forward cache). A new profile starts from this page: the late answer's token (a
    // profile that counted what was withdrawn) was not kept, whichever came first.
    js("const held = __held; __held = null; held.forEach(deliver => deliver())");
    js("dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))");
    js(
        r#"__answer = { profile: "tok2", visitor: "v-2", tier: "researching", segments: [], variants: {} }"#,
    );
    js("intent('consent', 'granted')");
    until("the call of the new profile", || {
        js_num("__sent.length") == 3.0
    })
    .await;
    let bodies = sent();
    assert!(
        bodies[2].1["profile"].is_null(),
        "a fresh profile: {}",
        bodies[2].1
    );
    until("the answer", || token().as_deref() == Some("tok2")).await;
    assert_eq!(js_str("__tiers.join()"), "ready,researching");
}
