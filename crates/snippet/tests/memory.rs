//! A page left open for hours: the tracker must not allocate per event, because its allocator
//! (`lol_alloc::LeakingAllocator`, chosen for size) never frees. Thousands of events of every
//! kind must leave the wasm memory as it was.

#![cfg(target_arch = "wasm32")]

mod support;
mod wait;

use support::{collect_url, js, js_num, page, setup};
use wait::until;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn memory_bytes() -> f64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}

#[wasm_bindgen_test]
async fn thousands_of_events_do_not_grow_memory() {
    page(
        r#"<button data-intent-track="plan-pro">Pro</button><a id="out" href="https://other.test/">x</a>"#,
    );
    js("document.addEventListener('click', e => e.preventDefault())");
    let script = setup(
        r#"{ profile: "t", tier: "ready", segments: ["hot"], variants: { hero: { text: "x" } } }"#,
        &[("data-allow-automation", "")],
    );
    intent_snippet::start(script.into(), collect_url());
    until("the first answer", || {
        js_num("__sent.length") == 1.0 && js("localStorage.getItem('intent_profile')").is_truthy()
    })
    .await;

    // Built before measuring: the test's own allocations must not count.
    let rounds = 5_000;
    let script = format!(
        r#"for (let i = 0; i < {rounds}; i++) {{
            dispatchEvent(new Event('scroll'));
            document.querySelector('[data-intent-track]').click();
            document.getElementById('out').click();
            document.dispatchEvent(new Event('visibilitychange'));
            if (i % 10 == 0) {{
                history.pushState({{}}, '', '/memory/' + i);
                intent('event', 'e' + i, {{ plan: 'pro', n: i, ok: true }});
                intent('tier', () => {{}});
            }}
        }}"#
    );
    let before = memory_bytes();
    // Every event is handled while this runs.
    js(&script);
    assert_eq!(
        memory_bytes(),
        before,
        "handling events grew the wasm memory"
    );
    // Then the answers, and the heartbeats that send what was pending. Waiting allocates a
    // little of its own (timers), hence one page of slack; an allocation per event or answer
    // would take far more.
    until("the calls to be answered", || {
        js("__sent.length >= 3").is_truthy()
    })
    .await;
    let grown = memory_bytes() - before;
    assert!(
        grown <= 65_536.0,
        "answers grew the wasm memory by {grown} bytes"
    );
}
