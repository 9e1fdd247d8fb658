//! Withdrawing consent where the edge is on another origin than the page (snippet mode): the
//! edge keeps no cookie there, so nothing at all is sent after a withdrawal, not even the
//! `GET /v1/decide` that lets an edge on the page's own origin delete its cookie
//! (`consent_edge_cookie.rs`).

#![cfg(target_arch = "wasm32")]

mod support;
mod wait;

use support::{gets, js, js_str, sent, start_consent_required};
use wait::until;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn cross_origin_nothing_is_sent_after_a_withdrawal() {
    start_consent_required("https://edge.example.com/v1/collect".into());
    js("intent('consent', 'granted')");
    until("the answer", || {
        js("localStorage.getItem('intent_profile')")
            .as_string()
            .as_deref()
            == Some("tok1")
    })
    .await;
    js("intent('consent', 'denied')");
    // A later answer could not come: wait long enough for one that would.
    js("window.__tick = 0; setTimeout(() => __tick = 1, 100)");
    until("a moment", || js_str("String(__tick)") == "1").await;
    assert_eq!(gets(), "[]", "no request to the edge on another origin");
    assert_eq!(sent().len(), 1);
}
