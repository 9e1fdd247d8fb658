//! Filling `data-intent-slot` elements with the variant for the visitor's tier.
//!
//! A variant is `{"text", "html", "href", "attrs"}`, every field optional: `html` replaces the
//! element's inner HTML, `text` its text, `href` and `attrs` set attributes. The page's own
//! content is the default: it is kept the first time a slot is touched and put back when a
//! later answer has no variant for the slot.

use intent_policy::slot;
use wasm_bindgen::JsValue;

use crate::dom::{
    attr, get, get_at, get_key, length, object, set, set_key, try_call, try_call2, try_call_s, Page,
};

/// The element property that keeps what a slot looked like before the snippet changed it:
/// `{html, attrs: {name: original value or null}, shown: JSON of the variant shown}`. Kept on
/// the element itself, it goes away with it when a single-page app re-renders.
const ORIGINAL: &str = "__intentOriginal";

/// Shows `variants[slot]` in every slot element, or the original content where there is
/// none. `variants` is the answer's `variants` object.
pub(crate) fn apply(page: &Page, variants: &JsValue) {
    let list = try_call_s(&page.document, "querySelectorAll", "[data-intent-slot]");
    for i in 0..length(&list) {
        let el = get_at(&list, i);
        let slot = attr(&el, "data-intent-slot");
        let variant = if variants.is_object() {
            get_key(variants, &slot)
        } else {
            JsValue::UNDEFINED
        };
        show(page, &el, &variant);
    }
}

fn show(page: &Page, el: &JsValue, variant: &JsValue) {
    let is_variant = variant.is_object();
    let mut original = get(el, ORIGINAL);
    if !original.is_object() {
        if !is_variant {
            // Never changed and nothing to show: the page's content stays as it is.
            return;
        }
        original = object();
        set(&original, "html", &get(el, "innerHTML"));
        set(&original, "attrs", &object());
        set(el, ORIGINAL, &original);
    }
    let shown = if is_variant {
        page.stringify(variant)
    } else {
        JsValue::UNDEFINED
    };
    let before = get(&original, "shown");
    if before == shown {
        return;
    }
    let attrs = get(&original, "attrs");
    // Back to the original first, so nothing of a previous variant lingers.
    if before.is_string() {
        set(el, "innerHTML", &get(&original, "html"));
        let names = page.keys(&attrs);
        for i in 0..length(&names) {
            let name = get_at(&names, i);
            let value = get_key(&attrs, &name);
            if value.is_null() {
                try_call(el, "removeAttribute", &name);
            } else {
                try_call2(el, "setAttribute", &name, &value);
            }
        }
    }
    set(&original, "shown", &shown);
    if !is_variant {
        return;
    }
    // What a slot accepts is `intent_policy::slot`'s, proxy mode's too: content only where
    // content goes, `href` only on links.
    let html = get(variant, "html");
    let text = get(variant, "text");
    let content = !try_call_s(el, "matches", slot::VOID_SELECTOR).is_truthy();
    if content && html.is_string() {
        set(el, "innerHTML", &html);
    } else if content && text.is_string() {
        set(el, "textContent", &text);
    }
    let set_attr = |name: &JsValue, value: &JsValue| {
        if get_key(&attrs, name).is_undefined() {
            // null when the attribute was absent: restoring removes it.
            let was = try_call(el, "getAttribute", name);
            let was = if was.is_string() { was } else { JsValue::NULL };
            set_key(&attrs, name, &was);
        }
        // A name the DOM refuses is skipped (the call throws, and that is caught).
        try_call2(el, "setAttribute", name, value);
    };
    let href = get(variant, "href");
    if href.is_string() && try_call_s(el, "matches", slot::HREF_SELECTOR).is_truthy() {
        set_attr(&JsValue::from_str("href"), &href);
    }
    let extra = get(variant, "attrs");
    if extra.is_object() {
        let names = page.keys(&extra);
        for i in 0..length(&names) {
            let name = get_at(&names, i);
            set_attr(&name, &get_key(&extra, &name));
        }
    }
}
