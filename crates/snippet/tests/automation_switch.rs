//! The end-to-end tests' switch for automated browsers: `window.intentAllowAutomation = true`,
//! set before the tag runs (Playwright's `addInitScript`), instead of `data-allow-automation`.

#![cfg(target_arch = "wasm32")]

mod support;

use support::{collect_url, js, sent, setup, sleep, until};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn window_switch_lets_an_automated_browser_be_tracked() {
    let script = setup(
        r#"{ profile: "t", tier: "researching", segments: [], variants: {} }"#,
        &[],
    );
    assert!(js("navigator.webdriver").is_truthy());
    // Only `true` itself counts.
    js("window.intentAllowAutomation = 'yes'");
    intent_snippet::start(script.clone().into(), collect_url());
    sleep(100).await;
    assert_eq!(sent().len(), 0);

    js("window.intentAllowAutomation = true");
    intent_snippet::start(script.into(), collect_url());
    until("the answer's tier", || {
        js("document.documentElement.dataset.intentTier").is_string()
    })
    .await;
    assert_eq!(sent().len(), 1);
    assert_eq!(
        js("document.documentElement.dataset.intentTier")
            .as_string()
            .as_deref(),
        Some("researching")
    );
}
