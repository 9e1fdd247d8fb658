//! Who the visitor is: `intent('visitor', cb)` gets the id the edge answers with, and
//! `intent('identify', email, traits)` sends an identify event at once, checked lightly and
//! never stored in the browser. Beside the tier, `<html>` gets `data-intent-segments`.

#![cfg(target_arch = "wasm32")]

mod support;
mod wait;

use serde_json::{json, Value};
use support::{define_stub, edge_url, el, js, js_str, outbox, page, sent, setup};
use wait::until;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ANSWER: &str = r#"{ profile: "tok1", visitor: "v-123", tier: "ready",
    segments: ["hot", "enterprise"], variants: { hero: { text: "Ready" } } }"#;

fn identities(body: &Value) -> Vec<Value> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "identify")
        .cloned()
        .collect()
}

#[wasm_bindgen_test]
async fn visitor_id_identify_and_segments() {
    page(r#"<div data-intent-slot="hero">Default</div>"#);
    let script = setup(ANSWER, &[("data-allow-automation", "")]);
    define_stub();
    js("window.__ids = []; intent('visitor', id => __ids.push(id))");
    js(r#"intent('identify', '  Jane.Doe+news@Acme.com ', {
        company_domain: 'https://www.acme.com/about', plan: 'pro', seats: 5, nested: { no: 1 } })"#);
    intent_snippet::start(script.into(), edge_url());

    // The identify event travels with the page view, at once; its email trimmed, its traits
    // kept as props are.
    let bodies = sent();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        identities(&bodies[0].1),
        [
            json!({ "type": "identify", "email": "Jane.Doe+news@Acme.com",
            "traits": { "company_domain": "https://www.acme.com/about", "plan": "pro", "seats": 5 } })
        ]
    );
    assert_eq!(
        js_str("JSON.stringify(__ids)"),
        "[]",
        "no id before the answer"
    );

    until("the answer", || {
        js_str("JSON.stringify(__ids)") == r#"["v-123"]"#
    })
    .await;
    let root = "document.documentElement";
    assert_eq!(
        js_str(&format!("{root}.dataset.intentSegments")),
        "hot enterprise"
    );
    assert_eq!(js_str(&format!("{root}.dataset.intentTier")), "ready");
    assert_eq!(
        el("[data-intent-slot=hero]").text_content().unwrap(),
        "Ready"
    );
    // Registered once the id is known: called at once, and only once.
    js("intent('visitor', id => __ids.push('late:' + id))");
    assert_eq!(js_str("JSON.stringify(__ids)"), r#"["v-123","late:v-123"]"#);
    assert!(
        !js("JSON.stringify(localStorage)")
            .as_string()
            .unwrap()
            .contains('@'),
        "no email in storage"
    );

    // What the edge would refuse (and with it the whole call) is not sent: a light check of
    // the address as a browser's email field makes it, with a dot in the domain.
    for bad in [
        "'jane'",
        "'jane@localhost'",
        "'jane@10.0.0.1'",
        "'ja ne@acme.com'",
        "'jané@acme.com'",
        "'a'.repeat(65) + '@acme.com'",
        "'a@' + 'b'.repeat(250) + '.com'",
        "42",
        "undefined",
    ] {
        js(&format!("intent('identify', {bad}, {{ plan: 'pro' }})"));
        assert_eq!(sent().len(), 1, "identify {bad} was sent");
    }
    // A company domain the edge would refuse is left out; the identity goes. Its answer has no
    // segments: the attribute goes.
    js(
        r#"__answer = { profile: "tok2", visitor: "v-123", tier: "ready", segments: [], variants: {} }"#,
    );
    js("intent('identify', 'jo@acme.com', { company_domain: 'not a domain', role: 'cfo' })");
    let bodies = sent();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        identities(&bodies[1].1),
        [json!({ "type": "identify", "email": "jo@acme.com", "traits": { "role": "cfo" } })]
    );
    until("the second answer", || {
        js("localStorage.getItem('intent_profile')")
            .as_string()
            .as_deref()
            == Some("tok2")
    })
    .await;
    assert!(!js("document.documentElement.hasAttribute('data-intent-segments')").is_truthy());

    // Leaving the page with an identify event in flight and one pending: the outbox keeps the
    // other events, never an email. The pending identity leaves by sendBeacon (it changes no
    // profile, so the token of its answer is not needed); the one in flight was sent already.
    js("__held = []; intent('identify', 'first@acme.com')");
    js("intent('identify', 'second@acme.com', { plan: 'team' }); intent('event', 'after')");
    js("dispatchEvent(new Event('pagehide'))");
    let kept = outbox().expect("an outbox");
    assert!(kept.iter().any(|e| e["name"] == "after"), "{kept:?}");
    assert!(kept.iter().all(|e| e["type"] != "identify"), "{kept:?}");
    assert!(!js_str("localStorage.getItem('intent_outbox')").contains('@'));
    let bodies = sent();
    let (how, body) = bodies.last().unwrap();
    assert_eq!(how, "beacon");
    assert_eq!(body["profile"], "tok2");
    assert_eq!(
        body["events"],
        json!([{ "type": "identify", "email": "second@acme.com", "traits": { "plan": "team" } }])
    );
}
