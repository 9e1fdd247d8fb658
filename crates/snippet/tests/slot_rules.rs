//! Issue 20, item 9: one definition of what a slot accepts, shared with proxy mode. The
//! vectors of `intent_policy::slot`, which `worker/src/rewrite.rs` runs through lol_html, run
//! here through the snippet in the browser, all on one page (the snippet starts once a page).

#![cfg(target_arch = "wasm32")]

mod support;

use support::{collect_url, js, js_str, page, setup, until};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn issue_20_9_slots_accept_what_the_shared_definition_says() {
    let cases = intent_policy::slot::CASES;
    let sections: String = cases
        .iter()
        .enumerate()
        .map(|(i, case)| format!(r#"<section id="case{i}">{}</section>"#, case.page))
        .collect();
    page(&format!(
        r#"{sections}<i data-intent-slot="marker">waiting</i>"#
    ));
    let answer = format!(
        r#"{{ profile: "t", tier: "ready", segments: [], variants: {{ s: {}, marker: {{ text: "done" }} }} }}"#,
        intent_policy::slot::VARIANT_JSON
    );
    let script = setup(&answer, &[("data-allow-automation", "")]);
    intent_snippet::start(script.into(), collect_url());
    until("the answer to be shown", || {
        js("document.querySelector('[data-intent-slot=marker]').textContent")
            .as_string()
            .as_deref()
            == Some("done")
    })
    .await;
    for (i, case) in cases.iter().enumerate() {
        let after = js_str(&format!(
            "Array.from(document.querySelectorAll('#case{i} [data-intent-slot]')).map(e => e.outerHTML).join('\\n')"
        ));
        assert_eq!(after, case.after.join("\n"), "{}", case.page);
        if case.page.contains("<template>") {
            let inside = js_str(&format!(
                "document.querySelector('#case{i} template').innerHTML"
            ));
            assert_eq!(inside, r#"<div data-intent-slot="s">d</div>"#);
        }
    }
}
