//! Withdrawing consent where the edge may hold the token in its own `HttpOnly` cookie: the edge
//! on the page's own origin sets it with the answer to a call made after consent, even on a
//! page it did not personalise. The snippet cannot delete that cookie; one `GET /v1/decide`
//! carrying `intent_consent=denied` lets the edge do it. A call still on its way when consent
//! is withdrawn may set the cookie again when it answers, so the edge is asked once more then.
//! (Where the edge is on another origin: `consent_cross_origin.rs`.)

#![cfg(target_arch = "wasm32")]

mod support;
mod wait;

use support::{collect_url, gets, js, js_str, outbox, sent, start_consent_required};
use wait::until;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn same_origin_the_edge_is_asked_to_delete_its_cookie_and_again_after_a_late_answer() {
    start_consent_required(collect_url());
    let decide = js_str("JSON.stringify([location.origin + '/v1/decide'])");
    let twice =
        js_str("JSON.stringify([location.origin + '/v1/decide', location.origin + '/v1/decide'])");

    // Granted on a page the edge did not personalise: this page's view goes, and is held on
    // its way.
    js("__held = []; intent('consent', 'granted')");
    assert_eq!(sent().len(), 1);

    // Withdrawn while it is on its way: the edge is asked at once...
    js("intent('consent', 'denied')");
    assert_eq!(gets(), decide, "asked at once");

    // ... and once more when the late answer, which may have set the cookie again, arrives.
    js("const held = __held; __held = null; held.forEach(deliver => deliver())");
    until("the second request to /v1/decide", || gets() == twice).await;
    assert_eq!(sent().len(), 1, "nothing recorded after the withdrawal");
    assert_eq!(js("localStorage.getItem('intent_profile')"), JsValue::NULL);
}

/// Leaving a page where the edge keeps the token in its cookie: what is pending leaves by
/// beacon as the page goes, after the next page's response set the cookie, so it folds into
/// the newest profile. In the outbox it would travel with the next page's first call, carrying
/// the cookie as it was then, and a quick third page's recorded view would be overwritten by
/// the answer (the e2e regression in `tests/e2e/consent.test.mjs`).
#[wasm_bindgen_test]
async fn same_origin_a_page_left_sends_what_is_pending_by_beacon_and_keeps_no_outbox() {
    start_consent_required(collect_url());
    js("__held = []; intent('consent', 'granted')");
    js("intent('event', 'last')");
    assert_eq!(
        sent().len(),
        1,
        "the page view on its way, the event waiting for its answer"
    );

    js("dispatchEvent(new Event('pagehide'))");
    let bodies = sent();
    assert_eq!(bodies.len(), 2);
    let (how, body) = &bodies[1];
    assert_eq!(how, "beacon");
    assert_eq!(body["events"][0]["name"], "last", "{body}");
    assert_eq!(outbox(), None, "nothing waits for the next page");
}
