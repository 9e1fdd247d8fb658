//! A fake edge and a page to track, for the browser tests.
//!
//! `window.fetch` and `navigator.sendBeacon` are replaced: each call is kept in
//! `window.__sent` (`{how, url, body, keepalive}`) and `fetch` answers `window.__answer` with
//! status `window.__status`. While `window.__held` is an array, answers wait in it (as
//! functions that deliver them) until a test calls them. The tests then read what was sent
//! and what the page shows.

#![allow(dead_code)]

use wasm_bindgen::JsValue;

/// Runs JS in the test page and returns its value.
pub fn js(code: &str) -> JsValue {
    js_sys::eval(code).unwrap_or_else(|e| panic!("{code}: {e:?}"))
}

/// A string from JS.
pub fn js_str(code: &str) -> String {
    js(code)
        .as_string()
        .unwrap_or_else(|| panic!("{code}: not a string"))
}

/// A number from JS.
pub fn js_num(code: &str) -> f64 {
    js(code)
        .as_f64()
        .unwrap_or_else(|| panic!("{code}: not a number"))
}

/// Installs the fake edge, resets storage, and returns the loader's script tag, as the site
/// developer writes it (plus `extra` attributes).
pub fn setup(answer: &str, extra: &[(&str, &str)]) -> web_sys::Element {
    js(&format!(
        r#"
        window.__sent = [];
        window.__status = 200;
        window.__answer = {answer};
        window.__held = null;
        window.fetch = function (url, init) {{
            __sent.push({{ how: "fetch", url: String(url), body: init.body, keepalive: init.keepalive }});
            const answer = () => new Response(JSON.stringify(__answer), {{ status: __status }});
            if (__held) return new Promise(r => __held.push(() => r(answer())));
            return Promise.resolve(answer());
        }};
        navigator.sendBeacon = function (url, body) {{
            __sent.push({{ how: "beacon", url: String(url), body: body }});
            return true;
        }};
        localStorage.clear();
        "#
    ));
    let doc = web_sys::window().unwrap().document().unwrap();
    let script = doc.create_element("script").unwrap();
    let origin = js_str("location.origin");
    script
        .set_attribute("src", &format!("{origin}/intent.js"))
        .unwrap();
    script.set_attribute("data-site", "demo").unwrap();
    for (k, v) in extra {
        script.set_attribute(k, v).unwrap();
    }
    script
}

/// What the loader passes to `start` besides the tag, where the edge serves the API on the
/// page's own origin (proxy mode, or a route in front of the site): the edge keeps the token
/// in its cookie too.
pub fn collect_url() -> JsValue {
    js("location.origin + '/v1/collect'")
}

/// The same for snippet mode as most sites deploy it: the edge on another origin than the
/// page, so the token lives in `localStorage` alone and what a page left unsent waits in the
/// outbox for the next page.
pub const EDGE_URL: &str = "https://edge.example.com/v1/collect";

pub fn edge_url() -> JsValue {
    EDGE_URL.into()
}

/// The loader's queue stub, exactly as `js/intent.js` defines it.
pub fn define_stub() {
    js("window.intent = window.intent || function(){(intent.q = intent.q || []).push(arguments)}");
}

/// The bodies sent so far (parsed), and how they went.
pub fn sent() -> Vec<(String, serde_json::Value)> {
    let n = js_num("__sent.length") as usize;
    (0..n)
        .map(|i| {
            let how = js_str(&format!("__sent[{i}].how"));
            let body = js_str(&format!("__sent[{i}].body"));
            // The engine is the judge of the wire format: every body must be one it accepts.
            if let Err(e) = intent_engine::CollectRequest::from_json(&body) {
                panic!("the engine refuses body {i}: {e}\n{body}");
            }
            (how, serde_json::from_str(&body).unwrap())
        })
        .collect()
}

/// The events in the outbox (`localStorage` key `intent_outbox`), if there is one. They must
/// make a body the engine accepts, as they are sent again as they are.
pub fn outbox() -> Option<Vec<serde_json::Value>> {
    let stored = js("localStorage.getItem('intent_outbox')").as_string()?;
    let body = format!(r#"{{"site": "demo", "profile": null, "events": {stored}}}"#);
    if let Err(e) = intent_engine::CollectRequest::from_json(&body) {
        panic!("the engine refuses the outbox: {e}\n{stored}");
    }
    Some(serde_json::from_str(&stored).unwrap())
}

/// Delivers the answers held back (see `__held`) and lets later ones through at once.
pub async fn release_answers() {
    js("const held = __held; __held = null; held.forEach(deliver => deliver())");
    sleep(50).await;
}

/// Waits `ms` milliseconds: for time itself to pass (visible seconds to count), or for the
/// quiet in which something that must not happen would have (a negative check). To wait for
/// something to happen, use [`until`].
pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Waits until `cond` holds, polling every 10 ms, and fails naming `what` after 5 seconds: a
/// fixed sleep is too short on a loaded machine and wasted on an idle one.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out after 5 s waiting for {what}");
}

/// Waits until the snippet has made at least `n` requests.
pub async fn until_sent(n: usize) {
    until(&format!("request {n}"), || {
        js_num("__sent.length") as usize >= n
    })
    .await;
}

/// The page's element for a CSS selector.
pub fn el(selector: &str) -> web_sys::Element {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector}"))
}

/// Puts `html` in the test page, in a container of its own (the test runner reports through
/// the page's body, which must stay).
pub fn page(html: &str) {
    let doc = web_sys::window().unwrap().document().unwrap();
    let container = match doc.get_element_by_id("site") {
        Some(c) => c,
        None => {
            let c = doc.create_element("div").unwrap();
            c.set_id("site");
            doc.body().unwrap().append_child(&c).unwrap();
            c
        }
    };
    container.set_inner_html(html);
}

/// Starts the snippet on a site that requires consent (`data-consent="required"`, no choice
/// recorded yet), its API at `collect`. `GET`s (`/v1/decide`) are kept apart from the bodies
/// sent, in `window.__gets`; [`gets`] reads them.
pub fn start_consent_required(collect: JsValue) {
    page(r#"<div data-intent-slot="hero"><h1>Default</h1></div>"#);
    let script = setup(
        r#"{ profile: "tok1", visitor: "v-1", tier: "ready", segments: [], variants: {} }"#,
        &[("data-allow-automation", ""), ("data-consent", "required")],
    );
    js("document.cookie = 'intent_consent=; Max-Age=0; Path=/'");
    js("window.__gets = []; const post = fetch;
        window.fetch = (url, init) => init ? post(url, init)
            : (__gets.push(String(url)), Promise.resolve(new Response(JSON.stringify(__answer))))");
    define_stub();
    intent_snippet::start(script.into(), collect);
}

/// The URLs of the `GET`s made since [`start_consent_required`], as a JSON array.
pub fn gets() -> String {
    js_str("JSON.stringify(__gets)")
}
