//! The worker's vars and secrets, read once per isolate.
//!
//! A deployment's vars and secrets cannot change while an isolate lives (a new value means a
//! new deployment, and new isolates), so they are read and parsed on the first request and
//! kept: each var read is a call out of wasm and a type check, and the keyring hashes a block
//! per site when it is made.

use std::rc::Rc;

use intent_engine::Keyring;
use worker::{console_error, Env};

use crate::api_error::ApiError;
use crate::audience::{names as audience_names, AudienceSettings};
use crate::settings::{names, Settings};

/// What the isolate read from its environment.
pub struct Isolate {
    /// The vars.
    pub settings: Settings,
    /// The token keyring from `PROFILE_KEYS`, prepared for the settings' sites, or why it is
    /// unusable.
    pub keys: Result<Keyring, ApiError>,
    /// The admin API's bearer token (`ADMIN_TOKEN`), when set and not empty.
    pub admin_token: Option<String>,
    /// The audience layer's settings, or why a var of theirs is unusable (the layer is then
    /// off: nothing is enqueued, and its admin routes answer 503 with the reason).
    pub audience: Result<AudienceSettings, String>,
}

thread_local! {
    static ISOLATE: std::cell::OnceCell<Rc<Isolate>> = const { std::cell::OnceCell::new() };
}

/// The isolate's environment, read on its first request.
pub fn get(env: &Env) -> Rc<Isolate> {
    ISOLATE.with(|cell| Rc::clone(cell.get_or_init(|| Rc::new(read(env)))))
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// A secret, or a var of the same name (`wrangler dev --var`, tests).
fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

fn read(env: &Env) -> Isolate {
    let settings = Settings::from_vars(
        var(env, names::SITES).as_deref(),
        var(env, names::ALLOWED_ORIGINS).as_deref(),
        var(env, names::ORIGIN).as_deref(),
        var(env, names::RULES_CACHE_SECONDS).as_deref(),
        var(env, names::RULES_KV_TIMEOUT_MS).as_deref(),
    );
    let (settings, warning) = settings.with_consent(var(env, names::CONSENT).as_deref());
    if let Some(warning) = warning {
        console_error!("{warning}");
    }
    let keys = keyring(secret(env, names::PROFILE_KEYS), &settings.sites);
    let admin_token = secret(env, names::ADMIN_TOKEN).filter(|t| !t.is_empty());
    let audience = AudienceSettings::from_vars(
        var(env, audience_names::AUDIENCE_SHARDS).as_deref(),
        var(env, audience_names::EVENT_RETENTION_DAYS).as_deref(),
        var(env, audience_names::AUDIENCE_FAULTS).as_deref(),
    );
    if let Err(err) = &audience {
        console_error!("the audience layer is off: {err}");
    }
    Isolate {
        settings,
        keys,
        admin_token,
        audience,
    }
}

fn keyring(spec: Option<String>, sites: &[String]) -> Result<Keyring, ApiError> {
    let spec = spec.ok_or_else(|| {
        ApiError::not_configured(
            "the token signing keys are not set: run `wrangler secret put PROFILE_KEYS` \
             with a value like `k1:<at least 32 random characters>`",
        )
    })?;
    let keys = Keyring::parse(&spec).map_err(|err| {
        console_error!("PROFILE_KEYS is unusable: {err}");
        ApiError::not_configured(format!("the PROFILE_KEYS secret is unusable: {err}"))
    })?;
    Ok(keys.for_sites(sites.iter().map(String::as_str)))
}
