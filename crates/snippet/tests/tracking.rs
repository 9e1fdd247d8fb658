//! The snippet in a real browser, end to end against a fake edge: what it records and sends,
//! what it does with the answer, and that nothing it does throws into the page.

#![cfg(target_arch = "wasm32")]

mod support;

use support::{
    define_stub, edge_url, el, js, js_num, js_str, outbox, page, release_answers, sent, setup,
    sleep, until, until_sent,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const READY: &str = r#"{ profile: "tok1", tier: "ready", segments: ["hot"], variants: {
    hero: { html: "<h1>Ready</h1>" },
    cta: { text: "Book a demo", href: "/book-a-demo", attrs: { "data-x": "1" } } } }"#;

#[wasm_bindgen_test]
async fn tracks_a_visit_and_fills_the_slots() {
    page(
        r#"<div data-intent-slot="hero"><h1>Default</h1></div>
        <a data-intent-slot="cta" href="/pricing">See pricing</a>
        <div data-intent-slot="nudge"></div>
        <button data-intent-track="plan-pro">Pro</button>
        <button data-intent-track="" id="cta-2">Other</button>
        <a id="out" href="https://other.test/x">Out</a>
        <a id="in" href="/docs">In</a>"#,
    );
    // Links must not navigate the test page away; the snippet still sees the clicks.
    js("document.addEventListener('click', e => e.preventDefault())");
    let script = setup(READY, &[("data-allow-automation", "")]);

    // Calls made before the snippet runs are queued by the loader's stub and kept.
    define_stub();
    js("intent('event', 'early', { plan: 'pro', seats: 5, trial: true, nested: { no: 1 }, f() {} })");
    js("window.__tiers = []; intent('tier', (t, s) => __tiers.push(t + ':' + s.join()))");

    intent_snippet::start(script.clone().into(), edge_url());
    // The answer is taken in once the tier callbacks have run.
    until("the first answer", || js_num("__tiers.length") > 0.0).await;

    let bodies = sent();
    assert_eq!(
        bodies.len(),
        1,
        "the page view and the queued event travel together"
    );
    let (how, body) = &bodies[0];
    assert_eq!(how, "fetch");
    assert_eq!(js_str("__sent[0].url"), support::EDGE_URL);
    assert!(js("__sent[0].keepalive").is_truthy(), "sent with keepalive");
    assert_eq!(body["site"], "demo");
    assert!(body["profile"].is_null(), "a new visitor has no token");
    let events = body["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "pageview");
    assert_eq!(events[0]["url"], js_str("location.href"));
    assert_eq!(events[1]["type"], "event");
    assert_eq!(events[1]["name"], "early");
    assert_eq!(
        events[1]["props"],
        serde_json::json!({ "plan": "pro", "seats": 5, "trial": true }),
        "only text, numbers and booleans are sent"
    );

    // The answer: token kept, tier on <html>, slots filled, the tier callback called.
    assert_eq!(js_str("localStorage.getItem('intent_profile')"), "tok1");
    assert_eq!(
        js_str("document.documentElement.dataset.intentTier"),
        "ready"
    );
    assert_eq!(el("[data-intent-slot=hero]").inner_html(), "<h1>Ready</h1>");
    let cta = el("[data-intent-slot=cta]");
    assert_eq!(cta.text_content().unwrap(), "Book a demo");
    assert_eq!(cta.get_attribute("href").unwrap(), "/book-a-demo");
    assert_eq!(cta.get_attribute("data-x").unwrap(), "1");
    assert_eq!(
        el("[data-intent-slot=nudge]").inner_html(),
        "",
        "a slot without a variant keeps its content"
    );
    assert_eq!(js_str("__tiers.join('|')"), "ready:hot");
    // A callback registered once the tier is known is called at once.
    js("intent('tier', t => __tiers.push('late:' + t))");
    assert_eq!(js_str("__tiers.join('|')"), "ready:hot|late:ready");

    // A slot parsed after the answer (a tag without `defer`) is filled once the page is.
    js("document.getElementById('site').insertAdjacentHTML('beforeend', '<div id=\"late\" data-intent-slot=\"hero\">x</div>');
        document.dispatchEvent(new Event('DOMContentLoaded', { bubbles: true }))");
    assert_eq!(el("#late").inner_html(), "<h1>Ready</h1>");

    // Starting again (the tag included twice) changes nothing.
    intent_snippet::start(script.into(), edge_url());
    sleep(50).await;
    assert_eq!(sent().len(), 1, "a second start sends nothing");

    // Clicks on tracked elements and outbound links, batched by the heartbeat.
    for id in ["[data-intent-track=plan-pro]", "#cta-2", "#out", "#in"] {
        js(&format!("document.querySelector('{id}').click()"));
    }
    until_sent(2).await;
    let bodies = sent();
    assert_eq!(bodies.len(), 2, "clicks close together go in one request");
    let body = &bodies[1].1;
    assert_eq!(
        body["profile"], "tok1",
        "the token from the answer goes back"
    );
    let targets: Vec<_> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].clone())
        .collect();
    assert_eq!(
        targets,
        ["plan-pro", "cta-2", "https://other.test/x"],
        "internal links are not clicks"
    );

    // A single-page navigation is a page view; replacing the state with the same URL is not.
    js("history.pushState({}, '', '/spa/pricing?utm_source=test')");
    js("history.replaceState({}, '', '/spa/pricing?utm_source=test')");
    until_sent(3).await;
    let bodies = sent();
    assert_eq!(bodies.len(), 3);
    let events = bodies[2].1["events"].as_array().unwrap();
    let views: Vec<_> = events.iter().filter(|e| e["type"] == "pageview").collect();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0]["url"], js_str("location.href"));
    assert!(views[0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/spa/pricing?utm_source=test"));

    // A later answer without variants puts the page's own content back.
    js(r#"__answer = { profile: "tok2", tier: "evaluating", segments: [], variants: {} }"#);
    js("intent('event', 'demo_request', { plan: 'pro' })");
    until("the evaluating answer", || {
        js("document.documentElement.dataset.intentTier")
            .as_string()
            .as_deref()
            == Some("evaluating")
    })
    .await;
    assert_eq!(sent().len(), 4);
    assert_eq!(js_str("localStorage.getItem('intent_profile')"), "tok2");
    assert_eq!(
        js_str("document.documentElement.dataset.intentTier"),
        "evaluating"
    );
    assert_eq!(
        el("[data-intent-slot=hero]").inner_html(),
        "<h1>Default</h1>"
    );
    let cta = el("[data-intent-slot=cta]");
    assert_eq!(cta.text_content().unwrap(), "See pricing");
    assert_eq!(cta.get_attribute("href").unwrap(), "/pricing");
    assert!(
        cta.get_attribute("data-x").is_none(),
        "attributes a variant added are removed"
    );
    assert_eq!(
        js_str("__tiers.join('|')"),
        "ready:hot|late:ready|evaluating:|late:evaluating"
    );

    // An error status changes nothing on the page, and nothing throws.
    js(r#"__status = 400; __answer = { error: "bad" }"#);
    js("intent('event', 'x')");
    until_sent(5).await;
    assert_eq!(sent().len(), 5);
    assert_eq!(
        js_str("document.documentElement.dataset.intentTier"),
        "evaluating"
    );

    // Hiding the page (another tab, the phone locked) reports its engagement at once. First
    // more than a second of it has to pass.
    sleep(1200).await;
    js(
        "Object.defineProperty(document, 'hidden', { value: true, configurable: true });
        document.dispatchEvent(new Event('visibilitychange'))",
    );
    until_sent(6).await;
    let bodies = sent();
    assert_eq!(bodies.len(), 6);
    let events = bodies[5].1["events"].as_array().unwrap();
    let engagement = events
        .iter()
        .find(|e| e["type"] == "engagement")
        .expect("an engagement event");
    assert_eq!(engagement["url"], js_str("location.href"));
    assert!(
        engagement["seconds"].as_f64().unwrap() >= 1.0,
        "{engagement}"
    );
    assert!((0.0..=100.0).contains(&engagement["scroll"].as_f64().unwrap()));
    js("delete document.hidden; document.dispatchEvent(new Event('visibilitychange'))");

    // Hostile or wrong calls are ignored without throwing into the page.
    js(r#"__status = 200;
        intent('event', 'p', new Proxy({}, { ownKeys() { throw new Error('no') } }));
        intent('event');
        intent('nonsense', 1, 2);
        intent('tier', () => { throw new Error('site bug') });"#);

    until_sent(7).await;
    let (_, body) = sent().last().unwrap().clone();
    assert_eq!(
        body["events"][0]["name"], "p",
        "a custom event is sent at once"
    );
    assert_eq!(body["events"][0]["props"], serde_json::json!({}));

    // Nothing waits in the outbox while the page is open.
    assert_eq!(outbox(), None);

    // Leaving the page. This is snippet mode (the token is in localStorage): an answer to a
    // request made now would never be read, so nothing is sent, and what the edge has not
    // acknowledged waits in the outbox: a custom event whose answer has not come yet, then
    // a click still waiting for the heartbeat.
    js("__held = []; intent('event', 'leaving', { plan: 'pro' })");
    let before = sent().len();
    assert_eq!(sent()[before - 1].1["events"][0]["name"], "leaving");
    js("document.querySelector('#cta-2').click(); dispatchEvent(new Event('pagehide'))");
    assert_eq!(
        sent().len(),
        before,
        "nothing is sent once the page is left"
    );
    assert_eq!(js_num("__sent.filter(s => s.how == 'beacon').length"), 0.0);
    let kept = outbox().expect("an outbox");
    assert_eq!(
        kept[0]["name"], "leaving",
        "the request in flight: {kept:?}"
    );
    assert_eq!(kept[0]["props"], serde_json::json!({ "plan": "pro" }));
    assert_eq!(kept[1]["target"], "cta-2", "the pending click: {kept:?}");
    assert!(
        kept[2..].iter().all(|e| e["type"] == "engagement"),
        "and the engagement not yet reported: {kept:?}"
    );

    // The answer to the request in flight comes after all: its token, which counts events
    // that are now in the outbox, is not kept, or they would count twice.
    js(r#"__answer = { profile: "tok-late", tier: "ready", segments: [], variants: {} }"#);
    release_answers().await;
    assert_eq!(js_str("localStorage.getItem('intent_profile')"), "tok2");
    assert_eq!(outbox(), Some(kept.clone()));

    // The outbox is bounded: at most 40 events, the newest kept...
    js("for (let i = 0; i < 60; i++) intent('event', 'e' + i)");
    let kept = outbox().unwrap();
    assert_eq!(kept.len(), 40);
    assert_eq!(kept[0]["name"], "e20");
    assert_eq!(kept[39]["name"], "e59");
    // ... and at most 8192 characters of JSON (the site's own data shares localStorage).
    js("for (let i = 0; i < 60; i++) intent('event', 'big' + i, { text: 'x'.repeat(250) })");
    let json = js_str("localStorage.getItem('intent_outbox')");
    assert!(json.len() <= 8192, "{} characters", json.len());
    let kept = outbox().unwrap();
    assert!(kept.len() > 20, "{} events", kept.len());
    assert!(kept
        .iter()
        .all(|e| e["name"].as_str().unwrap().starts_with("big")));
    assert_eq!(kept.last().unwrap()["name"], "big59");
    assert_eq!(sent().len(), before, "still nothing sent");

    // The page comes back from the back/forward cache: its new page view goes in one call
    // after the outbox, with the token of the last answer that was kept...
    js(
        r#"__answer = { profile: "tok3", tier: "ready", segments: [], variants: {} };
        __held = [];
        dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))"#,
    );
    let bodies = sent();
    assert_eq!(bodies.len(), before + 1);
    let (how, body) = bodies.last().unwrap();
    assert_eq!(how, "fetch");
    assert_eq!(body["profile"], "tok2");
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), kept.len() + 1);
    assert_eq!(
        &events[..kept.len()],
        &kept[..],
        "the outbox first, in order"
    );
    assert_eq!(events[kept.len()]["type"], "pageview");
    // ... and the outbox is cleared once, and only once, the answer is stored.
    assert!(outbox().is_some(), "kept until the answer comes");
    release_answers().await;
    assert_eq!(js_str("localStorage.getItem('intent_profile')"), "tok3");
    assert_eq!(outbox(), None);
}
