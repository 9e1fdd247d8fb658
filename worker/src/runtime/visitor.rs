//! Who the request is from: tracking consent, the profile token and the signing keys.

use std::cell::RefCell;
use std::rc::Rc;

use intent_engine::{Keyring, VisitorId};
use worker::{console_error, Env, Request};

use super::http::header;
use crate::api_error::ApiError;
use crate::cookie::profile_from_cookie_header;
use crate::privacy::{not_tracked, NotTracked};
use crate::settings::names;

/// Header carrying the token on `/v1/decide` when the snippet keeps it (cross-origin mode).
pub const PROFILE_HEADER: &str = "x-intent-profile";

/// Whether the request may be tracked, from `Sec-GPC`, `DNT` and the user agent.
pub fn tracking(req: &Request) -> Option<NotTracked> {
    not_tracked(
        header(req, "sec-gpc").as_deref(),
        header(req, "dnt").as_deref(),
        header(req, "user-agent").as_deref(),
    )
}

/// A new visitor's id from `crypto.getRandomValues`; `None` (logged) if the runtime has no
/// random source, and the visitor gains an id on a later call.
pub fn new_visitor_id() -> Option<VisitorId> {
    let mut bytes = [0u8; VisitorId::BYTES];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => Some(VisitorId::from_random_bytes(bytes)),
        Err(err) => {
            console_error!("crypto.getRandomValues failed ({err}); the visitor gets no id yet");
            None
        }
    }
}

/// The token in the proxy-mode cookie.
pub fn cookie_token(req: &Request) -> Option<String> {
    let cookies = header(req, "cookie")?;
    profile_from_cookie_header(&cookies).map(str::to_owned)
}

/// The request's host (with port), for cookie attributes.
pub fn host(req: &Request) -> String {
    req.url()
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .unwrap_or_default()
}

/// A keyring with the secret and the sites it was made for.
struct Made {
    spec: String,
    sites: Vec<String>,
    keys: Rc<Keyring>,
}

thread_local! {
    static KEYRING: RefCell<Option<Made>> = const { RefCell::new(None) };
}

/// The token keyring from the `PROFILE_KEYS` secret, prepared for the worker's `sites` (each
/// site's MAC block hashed once), made once per isolate.
pub fn keyring(env: &Env, sites: &[String]) -> Result<Rc<Keyring>, ApiError> {
    let spec = env
        .secret(names::PROFILE_KEYS)
        .map(|s| s.to_string())
        .or_else(|_| env.var(names::PROFILE_KEYS).map(|v| v.to_string()))
        .map_err(|_| {
            ApiError::not_configured(
                "the token signing keys are not set: run `wrangler secret put PROFILE_KEYS` \
                 with a value like `k1:<at least 32 random characters>`",
            )
        })?;
    if let Some(keys) = KEYRING.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|made| made.spec == spec && made.sites == sites)
            .map(|made| Rc::clone(&made.keys))
    }) {
        return Ok(keys);
    }
    let keys = Keyring::parse(&spec).map_err(|err| {
        console_error!("PROFILE_KEYS is unusable: {err}");
        ApiError::not_configured(format!("the PROFILE_KEYS secret is unusable: {err}"))
    })?;
    let keys = Rc::new(keys.for_sites(sites.iter().map(String::as_str)));
    KEYRING.with(|k| {
        *k.borrow_mut() = Some(Made {
            spec,
            sites: sites.to_vec(),
            keys: Rc::clone(&keys),
        })
    });
    Ok(keys)
}
