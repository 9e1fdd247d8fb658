//! The wasm-bindgen face of the benchmark adapter, for Node.

use intent_engine::{process, CollectRequest, Keyring, Profile, Rules, Timestamp};
use wasm_bindgen::prelude::*;

/// Compiled rules and a keyring, held across calls as the worker holds them in an isolate.
#[wasm_bindgen]
pub struct Engine {
    rules: Rules,
    keys: Keyring,
    /// The inputs of one call, split into its stages by [`Engine::prepare`].
    staged: Option<Staged>,
}

struct Staged {
    body: String,
    call: CollectRequest,
    now: Timestamp,
    /// The profile the token decodes to (a new one when it does not).
    profile: Profile,
    /// The profile after the events were folded in.
    folded: Profile,
    token: String,
    answer: String,
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
        Ok(Engine {
            rules,
            keys,
            staged: None,
        })
    }

    /// One `POST /v1/collect`: the request body in, the answer body out, both as UTF-8 bytes
    /// (`Uint8Array`), as the worker reads the body from the request stream and answers with
    /// `Response::from_bytes`; `now_ms` as `Date.now()` gives it.
    pub fn collect(&self, body: &[u8], now_ms: f64) -> Vec<u8> {
        let answer = match std::str::from_utf8(body) {
            Ok(body) => crate::collect(
                &self.rules,
                &self.keys,
                body,
                Timestamp::from_millis(now_ms),
            ),
            Err(_) => r#"{"error":"the body is not UTF-8"}"#.to_owned(),
        };
        answer.into_bytes()
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

    /// Keeps one call's inputs so that [`Engine::stage`] can run its stages one at a time:
    /// where the time of a call goes, measured from JavaScript.
    pub fn prepare(&mut self, body: &str, now_ms: f64) -> Result<(), JsError> {
        let call = CollectRequest::from_json(body).map_err(|e| JsError::new(&e.to_string()))?;
        let now = Timestamp::from_millis(now_ms);
        let profile = match &call.profile {
            Some(t) => self
                .keys
                .decode(&self.rules, &call.site, t, now)
                .unwrap_or_else(|_| Profile::new(&self.rules)),
            None => Profile::new(&self.rules),
        };
        let out = process(
            &self.rules,
            &self.keys,
            &call.site,
            call.profile.as_deref(),
            &call.events,
            now,
        );
        let answer = crate::collect(&self.rules, &self.keys, body, now);
        self.staged = Some(Staged {
            body: body.to_owned(),
            call,
            now,
            profile,
            folded: out.profile,
            token: out.token,
            answer,
        });
        Ok(())
    }

    /// Runs one stage of the prepared call and returns a number that depends on its result
    /// (so that nothing is optimised away): 0 nothing (the cost of a call into wasm), 1 read
    /// the body, 2 verify and decode the token, 3 fold the events, 4 classify, 5 sign and
    /// encode the token, 6 write the answer, 7 the whole call.
    pub fn stage(&self, which: u32) -> usize {
        let Some(s) = &self.staged else { return 0 };
        let (rules, keys, site) = (&self.rules, &self.keys, s.call.site.as_str());
        match which {
            1 => CollectRequest::from_json(&s.body).map_or(0, |c| c.events.len()),
            2 => s
                .call
                .profile
                .as_deref()
                .map_or(0, |t| keys.decode(rules, site, t, s.now).map_or(1, |_| 2)),
            3 => {
                let mut p = s.profile.clone();
                for e in &s.call.events {
                    p.fold(rules, s.now, e);
                }
                usize::from(p.is_new())
            }
            4 => rules.decide(&s.folded, s.now).segments.len(),
            5 => keys.encode(rules, site, &s.folded).len(),
            6 => {
                let decision = rules.decide(&s.folded, s.now);
                decision.answer_json(Some(&s.token), None).len()
            }
            7 => crate::collect(rules, keys, &s.body, s.now).len(),
            _ => 0,
        }
    }

    /// The prepared call's answer, copied out again: with a body passed in, the cost of moving
    /// the bytes across the JavaScript–wasm boundary.
    pub fn echo(&self, body: &[u8]) -> Vec<u8> {
        match &self.staged {
            Some(s) if !body.is_empty() => s.answer.as_bytes().to_vec(),
            _ => Vec::new(),
        }
    }
}
