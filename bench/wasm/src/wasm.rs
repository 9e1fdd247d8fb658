//! The wasm-bindgen face of the benchmark adapter, for Node.

use intent_engine::{Keyring, Rules, Timestamp};
use wasm_bindgen::prelude::*;

/// Compiled rules and a keyring, held across calls as the worker holds them in an isolate.
#[wasm_bindgen]
pub struct Engine {
    rules: Rules,
    keys: Keyring,
}

#[wasm_bindgen]
impl Engine {
    /// Compiles `rules_json` (the built-in default rules when empty) and reads the keyring
    /// (`label:secret[,…]`).
    #[wasm_bindgen(constructor)]
    pub fn new(rules_json: &str, keys: &str) -> Result<Engine, JsError> {
        let rules = if rules_json.trim().is_empty() {
            Rules::builtin().clone()
        } else {
            Rules::from_json(rules_json).map_err(|e| JsError::new(&e.to_string()))?
        };
        let keys = Keyring::parse(keys).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Engine { rules, keys })
    }

    /// One `POST /v1/collect`: the request body in, the answer body out; `now_ms` as
    /// `Date.now()` gives it.
    pub fn collect(&self, body: &str, now_ms: f64) -> String {
        crate::collect(
            &self.rules,
            &self.keys,
            body,
            Timestamp::from_millis(now_ms),
        )
    }

    /// The largest token these rules can produce, in bytes.
    #[wasm_bindgen(js_name = maxTokenBytes)]
    pub fn max_token_bytes(&self) -> usize {
        self.rules.max_token_bytes()
    }

    /// The rules' id (`default@1a2b3c4d`).
    #[wasm_bindgen(js_name = rulesId)]
    pub fn rules_id(&self) -> String {
        self.rules.id().to_owned()
    }
}
