//! The wasm-bindgen face of the benchmark adapter, for Node.

use hmac::{Hmac, KeyInit, Mac};
use intent_engine::{process, CollectRequest, Keyring, Profile, Rules, Timestamp};
use sha2::Sha256;
use wasm_bindgen::prelude::*;

/// The MAC at the end of every token.
const MAC_BYTES: usize = 32;
/// The site the benchmark's calls are for, prepared in the keyring as the worker prepares its
/// `SITES` (`demo` by default).
const SITE: &str = "demo";

#[wasm_bindgen]
extern "C" {
    /// Where an answer goes: `globalThis.intentBenchRespond(view)`, called with a view of the
    /// answer in wasm memory, as the worker calls `new Response(view, init)`
    /// (`worker/src/runtime/http.rs`, `into_raw`), which copies it natively. The view is only
    /// valid during the call.
    #[wasm_bindgen(js_namespace = globalThis, js_name = intentBenchRespond)]
    fn respond(body: &mut [u8]);
}

/// Compiled rules and a keyring, held across calls as the worker holds them in an isolate.
#[wasm_bindgen]
pub struct Engine {
    rules: Rules,
    keys: Keyring,
    /// The same secret as an HMAC-SHA256 key with its pads and a block standing for the site
    /// block already hashed, as the keyring holds it for a prepared site: the floor of what
    /// verifying and signing cost.
    mac: Hmac<Sha256>,
    /// The inputs of one call, split into its stages by [`Engine::prepare`].
    staged: Option<Staged>,
}

struct Staged {
    body: String,
    call: CollectRequest<'static>,
    now: Timestamp,
    /// The profile the token decodes to (a new one when it does not).
    profile: Profile,
    /// The profile after the events were folded in.
    folded: Profile,
    token: String,
    answer: String,
    /// The bytes the incoming and the outgoing token's MACs cover on each call.
    mac_in: Vec<u8>,
    mac_out: Vec<u8>,
}

#[wasm_bindgen]
impl Engine {
    /// Compiles `rules_json` (the built-in default rules when empty) and reads the keyring
    /// (`label:secret[,…]`), prepared for the site `demo` as the worker prepares its `SITES`.
    #[wasm_bindgen(constructor)]
    pub fn new(rules_json: &str, keys: &str) -> Result<Engine, JsError> {
        let rules = if rules_json.trim().is_empty() {
            Rules::builtin().clone()
        } else {
            Rules::from_json(rules_json).map_err(|e| JsError::new(&e.to_string()))?
        };
        let mac = keys
            .split(',')
            .next()
            .and_then(|k| k.split_once(':'))
            .and_then(|(_, secret)| Hmac::<Sha256>::new_from_slice(secret.trim().as_bytes()).ok())
            .map(|mut mac| {
                mac.update(&[0; 64]);
                mac
            })
            .ok_or_else(|| JsError::new("expected `label:secret`"))?;
        let keys = Keyring::parse(keys)
            .map_err(|e| JsError::new(&e.to_string()))?
            .for_sites([SITE]);
        Ok(Engine {
            rules,
            keys,
            mac,
            staged: None,
        })
    }

    /// One `POST /v1/collect`: the request body in as UTF-8 bytes (`Uint8Array`), as the worker
    /// reads it from the request stream, the answer out to `intentBenchRespond` as the worker
    /// hands it to the runtime; `now_ms` as `Date.now()` gives it.
    pub fn collect(&self, body: &[u8], now_ms: f64) {
        let answer = match std::str::from_utf8(body) {
            Ok(body) => crate::collect(
                &self.rules,
                &self.keys,
                body,
                Timestamp::from_millis(now_ms),
            ),
            Err(_) => r#"{"error":"the body is not UTF-8"}"#.to_owned(),
        };
        respond(&mut answer.into_bytes());
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
        let call = CollectRequest::from_json(body)
            .map_err(|e| JsError::new(&e.to_string()))?
            .into_owned();
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
            crate::new_id,
        );
        let answer = crate::collect(&self.rules, &self.keys, body, now);
        // What each MAC covers on a call has the length of the token's payload (the site block
        // before it is prepared).
        let covered = |token: &str| {
            let raw = token.len() * 3 / 4;
            vec![0u8; raw.saturating_sub(MAC_BYTES)]
        };
        let mac_in = call.profile.as_deref().map(covered).unwrap_or_default();
        let mac_out = covered(&out.token);
        self.staged = Some(Staged {
            body: body.to_owned(),
            call,
            now,
            profile,
            folded: out.profile,
            token: out.token,
            answer,
            mac_in,
            mac_out,
        });
        Ok(())
    }

    /// Runs one stage of the prepared call and returns a number that depends on its result
    /// (so that nothing is optimised away): 0 nothing (the cost of a call into wasm), 1 read
    /// the body, 2 verify and decode the token, 3 fold the events, 4 classify, 5 sign and
    /// encode the token, 6 write the answer, 7 the whole call, 8 only the two HMAC-SHA256
    /// computations (over as many bytes as verifying and signing cover).
    pub fn stage(&self, which: u32) -> usize {
        let Some(s) = &self.staged else { return 0 };
        let (rules, keys, site) = (&self.rules, &self.keys, &*s.call.site);
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
            8 => [&s.mac_in, &s.mac_out]
                .iter()
                .filter(|covered| !covered.is_empty())
                .map(|covered| {
                    let mut mac = self.mac.clone();
                    mac.update(covered);
                    usize::from(mac.finalize().into_bytes()[0])
                })
                .sum(),
            _ => 0,
        }
    }

    /// The prepared call's answer, handed out again as [`Engine::collect`] hands it: with a
    /// body passed in, the cost of moving the bytes across the JavaScript–wasm boundary.
    pub fn echo(&self, body: &[u8]) {
        if let Some(s) = self.staged.as_ref().filter(|_| !body.is_empty()) {
            respond(&mut s.answer.as_bytes().to_vec());
        }
    }
}
