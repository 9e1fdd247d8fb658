//! What the script tag says: `<script defer src="https://EDGE/intent.js" data-site="acme">`.

use wasm_bindgen::JsValue;

use crate::dom::{attr, has_attr, is, Page};

/// The tracker's settings, read once from the loader's script tag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    /// The site id (`data-site`), a string.
    pub(crate) site: JsValue,
    /// `POST` URL for events: `/v1/collect` on the origin the script came from, a string.
    pub(crate) collect_url: JsValue,
    /// `data-debug`: log swallowed errors to the console.
    pub(crate) debug: bool,
    /// `data-intent-off`: the page opts out of tracking.
    pub(crate) off: bool,
    /// `data-consent="required"`: nothing is stored or sent until the visitor consents.
    pub(crate) consent_required: bool,
    /// `data-allow-automation`: track even when `navigator.webdriver` is set. Only for the
    /// project's own end-to-end tests, which drive a real browser through automation.
    pub(crate) allow_automation: bool,
}

impl Config {
    /// Reads the tag; `collect_url` is `/v1/collect` on the script's origin, which the loader
    /// works out (`new URL("/v1/collect", script.src)`). `Err` names what is wrong.
    pub(crate) fn from_script(
        page: &Page,
        script: &JsValue,
        collect_url: JsValue,
    ) -> Result<Config, &'static str> {
        if !page.test("^https?://", &collect_url) {
            return Err("the script tag needs an http(s) src");
        }
        // The engine's rule for site ids (the worker refuses any other), ignoring case: ASCII
        // letters, digits, `-` and `_`. Tested in the browser, as Rust string code costs wasm.
        let site = attr(script, "data-site");
        if !site.is_string() || !page.test("^[a-z0-9_-]{1,64}$", &site) {
            return Err("data-site must be 1 to 64 letters, digits, - or _");
        }
        Ok(Config {
            collect_url,
            site,
            debug: has_attr(script, "data-debug"),
            off: has_attr(script, "data-intent-off"),
            consent_required: is(&attr(script, "data-consent"), "required"),
            allow_automation: has_attr(script, "data-allow-automation"),
        })
    }
}
