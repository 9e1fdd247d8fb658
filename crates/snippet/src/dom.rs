//! The few JavaScript operations everything else is built on.
//!
//! NOTE: the tracker reaches the browser through these generic helpers (`Reflect.get`,
//! `Reflect.set` and `Function.prototype.call`) rather than through one web-sys binding per API.
//! Each distinct binding costs a JS glue function and a wasm wrapper, and every call site of a
//! binding that can throw (a `Result`) costs about a hundred bytes; with web-sys bindings the
//! snippet was twice its 12 KiB budget. Here a property read or a method call is one small
//! call of a shared, non-inlined helper, and every error is caught, so no browser exception
//! can escape into the page.

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `obj[key]`, or `undefined` if reading it throws.
#[inline(never)]
pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or_default()
}

/// `obj[index]`, for arrays, `NodeList`s and `arguments`.
#[inline(never)]
pub(crate) fn get_at(obj: &JsValue, index: u32) -> JsValue {
    Reflect::get(obj, &JsValue::from(index)).unwrap_or_default()
}

/// `obj[key]` if it is a string.
pub(crate) fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key] = value`; false if that throws.
#[inline(never)]
pub(crate) fn set(obj: &JsValue, key: &str, value: &JsValue) -> bool {
    Reflect::set(obj, &JsValue::from_str(key), value).unwrap_or(false)
}

/// `obj[method](a, b, c)`: missing arguments are `undefined`, and an exception is an `Err`.
/// Always three arguments: not for methods that count them (`push`, `bind`).
#[inline(never)]
pub(crate) fn call(
    obj: &JsValue,
    method: &str,
    a: &JsValue,
    b: &JsValue,
    c: &JsValue,
) -> Result<JsValue, JsValue> {
    get(obj, method)
        .unchecked_into::<Function>()
        .call3(obj, a, b, c)
}

/// `obj[method](a)`.
pub(crate) fn call1(obj: &JsValue, method: &str, a: &JsValue) -> Result<JsValue, JsValue> {
    call(obj, method, a, &JsValue::UNDEFINED, &JsValue::UNDEFINED)
}

/// `obj[method](a, b)`.
pub(crate) fn call2(
    obj: &JsValue,
    method: &str,
    a: &JsValue,
    b: &JsValue,
) -> Result<JsValue, JsValue> {
    call(obj, method, a, b, &JsValue::UNDEFINED)
}

/// `el.hasAttribute(name)`.
pub(crate) fn has_attr(el: &JsValue, name: &str) -> bool {
    call1(el, "hasAttribute", &JsValue::from_str(name)).is_ok_and(|v| v.is_truthy())
}

/// `el.closest(selector)`, if there is one.
pub(crate) fn closest(el: &JsValue, selector: &str) -> Option<JsValue> {
    call1(el, "closest", &JsValue::from_str(selector))
        .ok()
        .filter(JsValue::is_object)
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
        call2(
            &get(&self.window, "localStorage"),
            method,
            &key.into(),
            value,
        )
        .unwrap_or_default()
    }
}

/// A new empty object, `{}`.
pub(crate) fn object() -> JsValue {
    js_sys::Object::new().into()
}

/// `arr.push(value)`, for the tracker's own arrays.
pub(crate) fn push(arr: &JsValue, value: &JsValue) {
    arr.unchecked_ref::<js_sys::Array>().push(value);
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
    if value.is_string() {
        // Reflect.get refuses primitives.
        return value.unchecked_ref::<js_sys::JsString>().length();
    }
    get(value, "length").as_f64().unwrap_or(0.0) as u32
}

/// `obj[key]` for a key that is already a JS value.
#[inline(never)]
pub(crate) fn get_key(obj: &JsValue, key: &JsValue) -> JsValue {
    Reflect::get(obj, key).unwrap_or_default()
}

/// `obj[key] = value` for a key that is already a JS value.
#[inline(never)]
pub(crate) fn set_key(obj: &JsValue, key: &JsValue, value: &JsValue) {
    let _ = Reflect::set(obj, key, value);
}

impl Page {
    /// `Object.keys(obj)`, or an empty list if that throws (a hostile proxy).
    pub(crate) fn keys(&self, obj: &JsValue) -> JsValue {
        call1(&get(&self.window, "Object"), "keys", obj)
            .unwrap_or_else(|_| js_sys::Array::new().into())
    }

    /// Whether `value` (as a string) matches `pattern`, ignoring case. The browser's own
    /// regular expressions: matching in Rust costs more wasm.
    pub(crate) fn test(&self, pattern: &str, value: &JsValue) -> bool {
        call2(&self.window, "RegExp", &pattern.into(), &"i".into())
            .and_then(|re| call1(&re, "test", value))
            .is_ok_and(|found| found.is_truthy())
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
        call1(&get(&self.window, "JSON"), method, value).unwrap_or_default()
    }
}
