//! Fields are clipped to the engine's limits before they are sent, so that one long title or
//! property cannot make the edge refuse a whole batch: on a character boundary, in bytes of
//! UTF-8, and with lone surrogates (which JSON parsers refuse) replaced.

#![cfg(target_arch = "wasm32")]

mod support;

use support::{collect_url, define_stub, js, sent, setup};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn long_and_malformed_fields_are_clipped_to_what_the_engine_accepts() {
    let script = setup(
        r#"{ profile: "t", tier: "researching", segments: [], variants: {} }"#,
        &[("data-allow-automation", "")],
    );
    // 511 bytes of ASCII, then "é" (2 bytes): the title limit, 512, falls inside it.
    js("document.title = 'a'.repeat(511) + 'é' + 'b'.repeat(100)");
    define_stub();
    js(r#"intent('event', 'n'.repeat(127) + '€', {
        long: '€'.repeat(100),
        lone: 'x\ud800y',
        ['k'.repeat(300)]: 1,
    })"#);
    // The first call goes out while `start` runs.
    intent_snippet::start(script.into(), collect_url());

    // `sent` has the engine parse every body: it accepts this one.
    let bodies = sent();
    assert_eq!(bodies.len(), 1);
    let events = bodies[0].1["events"].as_array().unwrap();
    let title = events[0]["title"].as_str().unwrap();
    assert_eq!(
        title,
        "a".repeat(511),
        "cut before the character that would cross 512 bytes"
    );
    let custom = &events[1];
    assert_eq!(custom["name"], "n".repeat(127), "names: at most 128 bytes");
    let props = custom["props"].as_object().unwrap();
    assert_eq!(props["long"], "€".repeat(85), "values: at most 256 bytes");
    assert_eq!(
        props["lone"], "x\u{fffd}y",
        "a lone surrogate becomes U+FFFD"
    );
    assert_eq!(
        props["k".repeat(256).as_str()],
        1,
        "keys: at most 256 bytes"
    );
}
