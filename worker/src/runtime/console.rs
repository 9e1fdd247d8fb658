//! `/admin/*`: the marketer's console (`console/`, built into the assets' `admin/` folder by
//! `scripts/build-console.sh`). Its own static files, served as they are: never proxied,
//! personalised or recorded, and under a strict Content-Security-Policy. The console signs in
//! with the admin token itself; the files hold nothing secret.

use worker::{Request, Response};

use super::proxy::with_mutable_headers;
use super::{Ctx, Failure};
use crate::headers::std_names;
use crate::settings::names;

/// Only the console's own files: scripts from this origin, wasm compiled from its own file,
/// calls to this worker's API, no plugins, no framing, no form posts elsewhere. Styles allow
/// inline rules: the editor (CodeMirror) writes its own.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CONTENT_SECURITY_POLICY: &str = "content-security-policy";
const X_CONTENT_TYPE_OPTIONS: &str = "x-content-type-options";
const REFERRER_POLICY: &str = "referrer-policy";

/// A console file from the assets, with the console's security headers.
pub async fn file(req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let resp = with_mutable_headers(ctx.env.assets(names::ASSETS)?.fetch_request(req).await?);
    let headers = resp.headers();
    headers.set(CONTENT_SECURITY_POLICY, CONSOLE_CSP)?;
    headers.set(X_CONTENT_TYPE_OPTIONS, "nosniff")?;
    headers.set(REFERRER_POLICY, "no-referrer")?;
    // A new deploy may change any file: the browser asks again before reusing one.
    headers.set(std_names::CACHE_CONTROL, "no-cache")?;
    Ok(resp)
}
