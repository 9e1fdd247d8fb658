//! The few JavaScript operations everything else is built on.
//!
//! NOTE: the tracker reaches the browser through these generic helpers rather than through one
//! web-sys binding per API. Each distinct binding costs a JS glue function and a wasm wrapper,
//! and every call site of a binding that can throw (a `Result`) costs about a hundred bytes;
//! with web-sys bindings the snippet was twice its 12 KiB budget. The helpers themselves are a
//! few lines of JavaScript (`HELPERS`, bundled into the glue): a property read or write that
//! catches what a getter or a proxy throws, and a method call whose exception comes back as an
//! `Err`. Keys and method names cross as `&str`, which the glue decodes, so a call site builds
//! no JS string of its own; no browser string is ever copied into wasm (the body is written
//! and read by the browser's `JSON`, strings are compared with `===` and clipped by the
//! browser's `TextEncoder`). No browser exception can escape into the page.

use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(inline_js = r#"
export function get(o, k) { try { return o[k] } catch (e) {} }
export function set(o, k, v) { try { o[k] = v; return true } catch (e) { return false } }
export function call(o, m, a, b, c) { return o[m](a, b, c) }
export function tryCall(o, m, a, b) { try { return o[m](a, b) } catch (e) {} }
export function bind(f, t, a) { return f.bind(t, a) }
export function bindThis(f, t) { return f.bind(t) }
export function after(o, m, f) {
  const g = o[m];
  if (typeof g == "function") o[m] = function () { try { return g.apply(o, arguments) } finally { f() } };
}
export function clip(s, n) {
  if (typeof s != "string") return "";
  const b = new Uint8Array(n);
  return new TextDecoder().decode(b.subarray(0, new TextEncoder().encodeInto(s, b).written));
}
"#)]
extern "C" {
    /// `obj[key]`, or `undefined` if reading it throws.
    #[wasm_bindgen(js_name = get)]
    pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue;
    /// `obj[index]`, for arrays, `NodeList`s and `arguments`.
    #[wasm_bindgen(js_name = get)]
    pub(crate) fn get_at(obj: &JsValue, index: u32) -> JsValue;
    /// `obj[key]` for a key that is already a JS value.
    #[wasm_bindgen(js_name = get)]
    pub(crate) fn get_key(obj: &JsValue, key: &JsValue) -> JsValue;
    /// `obj[key] = value`; false if that throws.
    #[wasm_bindgen(js_name = set)]
    pub(crate) fn set(obj: &JsValue, key: &str, value: &JsValue) -> bool;
    /// `obj[key] = value` for a key that is already a JS value; false if that throws.
    #[wasm_bindgen(js_name = set)]
    pub(crate) fn set_key(obj: &JsValue, key: &JsValue, value: &JsValue) -> bool;
    /// `obj[method](a, b, c)`: missing arguments are `undefined`, and an exception is an
    /// `Err`. Always three arguments: not for methods that count them (`push`, `bind`). For
    /// the few calls whose failure matters; the others use the `try_call` family, whose wasm
    /// is a fifth of the size.
    #[wasm_bindgen(catch)]
    pub(crate) fn call(
        obj: &JsValue,
        method: &str,
        a: &JsValue,
        b: &JsValue,
        c: &JsValue,
    ) -> Result<JsValue, JsValue>;
    /// `obj[method](a)`, or `undefined` if that throws.
    #[wasm_bindgen(js_name = tryCall)]
    pub(crate) fn try_call(obj: &JsValue, method: &str, a: &JsValue) -> JsValue;
    /// `obj[method](a, b)`, or `undefined` if that throws.
    #[wasm_bindgen(js_name = tryCall)]
    pub(crate) fn try_call2(obj: &JsValue, method: &str, a: &JsValue, b: &JsValue) -> JsValue;
    /// `obj[method](a)` for a string `a`, or `undefined` if that throws.
    #[wasm_bindgen(js_name = tryCall)]
    pub(crate) fn try_call_s(obj: &JsValue, method: &str, a: &str) -> JsValue;
    /// `obj[method](a, b)` for a string `a`, or `undefined` if that throws.
    #[wasm_bindgen(js_name = tryCall)]
    pub(crate) fn try_call_sv(obj: &JsValue, method: &str, a: &str, b: &JsValue) -> JsValue;
    /// `obj[method](a, b)` for strings `a` and `b`, or `undefined` if that throws.
    #[wasm_bindgen(js_name = tryCall)]
    pub(crate) fn try_call_ss(obj: &JsValue, method: &str, a: &str, b: &str) -> JsValue;
    /// `f.bind(this)`: `f` with `this` fixed.
    #[wasm_bindgen(js_name = bindThis)]
    pub(crate) fn bind_this(f: &JsValue, this: &JsValue) -> JsValue;
    /// `f.bind(this, arg)`: `f` with `this` and its first argument fixed.
    pub(crate) fn bind(f: &JsValue, this: &JsValue, arg: &JsValue) -> JsValue;
    /// Replaces the method `obj[method]` (if it is a function) with one that calls it, then
    /// `f()`, whether it returned or threw; what it returned or threw is passed on.
    pub(crate) fn after(obj: &JsValue, method: &str, f: &JsValue);
    /// A string cut to at most `max` bytes of UTF-8, on a character boundary (a lone
    /// surrogate becomes U+FFFD, as JSON parsers refuse it); anything else becomes `""`.
    pub(crate) fn clip(value: &JsValue, max: usize) -> JsValue;
}

/// `el.getAttribute(name)`: a string, or `null` (also when that throws).
pub(crate) fn attr(el: &JsValue, name: &str) -> JsValue {
    let value = try_call_s(el, "getAttribute", name);
    if value.is_undefined() {
        JsValue::NULL
    } else {
        value
    }
}

/// `el.setAttribute(name, value)`, or `el.removeAttribute(name)` when `value` is `None`.
pub(crate) fn set_attr(el: &JsValue, name: &str, value: Option<&JsValue>) {
    match value {
        Some(value) => try_call_sv(el, "setAttribute", name, value),
        None => try_call_s(el, "removeAttribute", name),
    };
}

/// `el.hasAttribute(name)`.
pub(crate) fn has_attr(el: &JsValue, name: &str) -> bool {
    try_call_s(el, "hasAttribute", name).is_truthy()
}

/// `el.closest(selector)`, if there is one.
pub(crate) fn closest(el: &JsValue, selector: &str) -> Option<JsValue> {
    Some(try_call_s(el, "closest", selector)).filter(JsValue::is_object)
}

/// Whether `value` is the string `s`.
pub(crate) fn is(value: &JsValue, s: &str) -> bool {
    *value == JsValue::from_str(s)
}

/// Logs a swallowed error to the console when the script tag has `data-debug`.
pub(crate) fn log(debug: bool, what: &str, err: &JsValue) {
    if debug {
        web_sys::console::warn_2(&JsValue::from_str(what), err);
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now() -> f64 {
    js_sys::Date::now()
}

/// The page's global objects, found from the loader's script tag.
#[derive(Clone)]
pub(crate) struct Page {
    pub(crate) window: JsValue,
    pub(crate) document: JsValue,
    pub(crate) location: JsValue,
    pub(crate) navigator: JsValue,
}

impl Page {
    pub(crate) fn of(script: &JsValue) -> Option<Page> {
        let document = get(script, "ownerDocument");
        let window = get(&document, "defaultView");
        if !window.is_object() {
            return None;
        }
        Some(Page {
            location: get(&window, "location"),
            navigator: get(&window, "navigator"),
            window,
            document,
        })
    }

    /// `localStorage[method](key, value)`: `getItem`, `setItem` or `removeItem`; `undefined`
    /// if that throws (where the browser forbids storage, even reading `localStorage` throws;
    /// a full storage refuses `setItem`). Storage is best effort: nothing waits on it.
    #[inline(never)]
    pub(crate) fn store(&self, method: &str, key: &str, value: &JsValue) -> JsValue {
        try_call_sv(&get(&self.window, "localStorage"), method, key, value)
    }

    /// `Object.keys(obj)`, or `undefined` if that throws (a hostile proxy): no keys.
    pub(crate) fn keys(&self, obj: &JsValue) -> JsValue {
        try_call(&get(&self.window, "Object"), "keys", obj)
    }

    /// Whether `value` (as a string) matches `pattern`, ignoring case. The browser's own
    /// regular expressions: matching in Rust costs more wasm.
    pub(crate) fn test(&self, pattern: &str, value: &JsValue) -> bool {
        try_call(
            &try_call_ss(&self.window, "RegExp", pattern, "i"),
            "test",
            value,
        )
        .is_truthy()
    }

    /// `JSON.stringify(value)`, `undefined` if that throws.
    pub(crate) fn stringify(&self, value: &JsValue) -> JsValue {
        self.json("stringify", value)
    }

    /// `JSON.parse(text)`, `undefined` if that throws.
    pub(crate) fn parse(&self, text: &JsValue) -> JsValue {
        self.json("parse", text)
    }

    #[inline(never)]
    fn json(&self, method: &str, value: &JsValue) -> JsValue {
        try_call(&get(&self.window, "JSON"), method, value)
    }
}

/// A new empty object, `{}`.
pub(crate) fn object() -> JsValue {
    js_sys::Object::new().into()
}

/// `arr.push(value)`, for the tracker's own arrays.
pub(crate) fn push(arr: &JsValue, value: &JsValue) {
    arr.unchecked_ref::<Array>().push(value);
}

/// Pushes the elements of the array `from` onto `to`, at most one call's worth
/// ([`limits::EVENTS_PER_CALL`](crate::event::limits)): what comes from storage may be
/// anything, and a huge `length` must not hang the page. Anything without a length adds nothing.
pub(crate) fn append(to: &JsValue, from: &JsValue) {
    for i in 0..length(from).min(crate::event::limits::EVENTS_PER_CALL) {
        push(to, &get_at(from, i));
    }
}

/// `value.length` (strings in UTF-16 code units, arrays, `NodeList`s, `arguments`), 0 if it
/// has none.
pub(crate) fn length(value: &JsValue) -> u32 {
    get(value, "length").as_f64().unwrap_or(0.0) as u32
}
