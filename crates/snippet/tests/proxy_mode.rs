//! A page the worker served in proxy mode: it recorded the view, filled the slots and put the
//! tier on `<html>`. The snippet does not record that view again, knows the tier at once, and
//! reports what the worker cannot see (single-page navigations, clicks, events). Leaving the
//! page, it sends what is pending with `sendBeacon`: the browser keeps the cookie its answer
//! sets, so there is no outbox to replay.

#![cfg(target_arch = "wasm32")]

mod support;

use support::{collect_url, js, js_str, outbox, page, release_answers, sent, setup, sleep, until};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_proxied_page_view_is_not_recorded_twice() {
    page(
        r#"<div data-intent-slot="hero" data-intent-filled=""><h1>Ready when you are</h1></div>
        <button data-intent-track="plan-pro">Pro</button>"#,
    );
    js("document.documentElement.setAttribute('data-intent-tier', 'ready')");
    let script = setup(
        r#"{ profile: "t", tier: "ready", segments: [], variants: {} }"#,
        &[("data-allow-automation", "")],
    );
    intent_snippet::start(script.into(), collect_url());
    sleep(100).await;
    assert_eq!(sent().len(), 0, "the worker already recorded this view");
    js("window.__tiers = []; intent('tier', t => __tiers.push(t))");
    assert_eq!(
        js_str("__tiers.join()"),
        "ready",
        "the tier is known at once"
    );

    let before = js_str("location.href");
    // The navigation's answer moves the visitor on a tier, so that the page shows when it has
    // been taken in (the request after it would otherwise wait for it).
    js(r#"__answer = { profile: "t", tier: "evaluating", segments: [], variants: {} }"#);
    js("history.pushState({}, '', '/spa/next')");
    until("the navigation's answer", || {
        js("document.documentElement.dataset.intentTier")
            .as_string()
            .as_deref()
            == Some("evaluating")
    })
    .await;
    let bodies = sent();
    assert_eq!(
        bodies.len(),
        1,
        "a single-page navigation is the snippet's to report"
    );
    let views: Vec<_> = bodies[0].1["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "pageview")
        .cloned()
        .collect();
    assert_eq!(views.len(), 1);
    assert_eq!(
        views[0]["referrer"], before,
        "the referrer of a single-page view is the previous view"
    );

    // Leaving the page with a request in flight and a click pending: the click goes by
    // sendBeacon, the request's answer sets the cookie whenever it comes, and nothing is kept.
    js("__held = []; intent('event', 'leaving')");
    js("document.querySelector('[data-intent-track]').click(); dispatchEvent(new Event('pagehide'))");
    let bodies = sent();
    assert_eq!(bodies.len(), 3);
    let (how, body) = &bodies[2];
    assert_eq!(how, "beacon");
    assert_eq!(body["events"][0]["target"], "plan-pro");
    assert_eq!(outbox(), None, "no outbox in proxy mode");
    release_answers().await;
    assert_eq!(outbox(), None);
}
