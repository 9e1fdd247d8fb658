//! What the script tag says: `<script defer src="https://EDGE/intent.js" data-site="acme">`.

use wasm_bindgen::JsValue;

use crate::dom::{attr, has_attr};

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
    /// `data-allow-automation`: track even when `navigator.webdriver` is set. Only for the
    /// project's own end-to-end tests, which drive a real browser through automation.
    pub(crate) allow_automation: bool,
}

impl Config {
    /// Reads the tag; `collect_url` is `/v1/collect` on the script's origin, which the loader
    /// works out (`new URL("/v1/collect", script.src)`). `Err` names what is wrong.
    pub(crate) fn from_script(
        script: &JsValue,
        collect_url: JsValue,
    ) -> Result<Config, &'static str> {
        let url = collect_url.as_string().unwrap_or_default();
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err("the script tag needs an http(s) src");
        }
        let site = attr(script, "data-site").unwrap_or_default();
        if !valid_site(&site) {
            return Err("data-site must be 1 to 64 letters, digits, - or _");
        }
        Ok(Config {
            collect_url,
            site: JsValue::from_str(&site),
            debug: has_attr(script, "data-debug"),
            off: has_attr(script, "data-intent-off"),
            allow_automation: has_attr(script, "data-allow-automation"),
        })
    }
}

/// The engine's rule for site ids; the worker refuses anything else.
fn valid_site(site: &str) -> bool {
    (1..=64).contains(&site.len())
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_site_ids_as_the_engine_does() {
        assert!(valid_site("demo"));
        assert!(valid_site("acme-eu_2"));
        assert!(!valid_site(""));
        assert!(!valid_site("de mo"));
        assert!(!valid_site(&"a".repeat(65)));
    }
}
