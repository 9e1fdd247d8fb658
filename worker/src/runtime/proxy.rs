//! Proxy mode: pages come from the origin (or, without one, from the bundled static site) and
//! HTML is personalised while it streams through.

use futures_util::{stream, StreamExt};
use wasm_bindgen::JsValue;
use worker::{
    ByteStream, Env, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response,
    Result,
};

use crate::rewrite::{PagePlan, SlotRewriter};
use crate::settings::{names, Settings};

/// Fetches what the visitor asked for from upstream: the origin when `ORIGIN` is set, else the
/// static assets bundled with the worker.
pub async fn fetch_upstream(req: Request, env: &Env, settings: &Settings) -> Result<Response> {
    match &settings.origin {
        Some(origin) => fetch_origin(req, origin).await,
        None => env.assets(names::ASSETS)?.fetch_request(req).await,
    }
}

async fn fetch_origin(req: Request, origin: &str) -> Result<Response> {
    let url = req.url()?;
    let mut target = format!("{origin}{}", url.path());
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let headers = req.headers().clone();
    // The origin must see its own host name, not the worker's; fetch fills it in.
    headers.delete("host")?;
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(headers)
        // Redirects go back to the browser as they are, so its address bar stays right.
        .with_redirect(RequestRedirect::Manual);
    if !matches!(req.method(), Method::Get | Method::Head) {
        init.with_body(req.inner().body().map(JsValue::from));
    }
    Fetch::Request(Request::new_with_init(&target, &init)?)
        .send()
        .await
}

/// True for a response that is an HTML page worth personalising.
pub fn is_html(resp: &Response) -> bool {
    resp.status_code() == 200
        && resp
            .headers()
            .get("content-type")
            .ok()
            .flatten()
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
}

/// Streams `resp`'s HTML through the slot rewriter. The headers are copied, minus those that
/// no longer describe the rewritten body, plus `extra` headers (cookie, tier, rules id).
pub fn personalise(
    mut resp: Response,
    plan: PagePlan,
    extra: &[(&str, String)],
) -> Result<Response> {
    let status = resp.status_code();
    let headers = resp.headers().clone();
    // The body changes length and differs per visitor: no length, no validators, and no
    // shared cache may keep it.
    for name in ["content-length", "etag", "last-modified", "accept-ranges"] {
        headers.delete(name)?;
    }
    headers.set("cache-control", "private, no-cache")?;
    headers.append("vary", "Cookie")?;
    for (name, value) in extra {
        headers.append(name, value)?;
    }

    let body: ByteStream = resp.stream()?;
    let rewritten = rewrite_stream(body, SlotRewriter::new(plan));
    Ok(Response::from_stream(rewritten)?
        .with_status(status)
        .with_headers(headers))
}

/// Adds headers to a response that is passed through unchanged.
pub fn with_headers(resp: Response, extra: &[(&str, String)]) -> Result<Response> {
    if extra.is_empty() {
        return Ok(resp);
    }
    // Responses from fetch have immutable headers; copy them.
    let headers = resp.headers().clone();
    for (name, value) in extra {
        headers.append(name, value)?;
    }
    Ok(resp.with_headers(headers))
}

struct Rewriting {
    body: ByteStream,
    rewriter: SlotRewriter,
}

/// Feeds each upstream chunk to the rewriter and forwards whatever it produced at once.
fn rewrite_stream(
    body: ByteStream,
    rewriter: SlotRewriter,
) -> impl futures_util::Stream<Item = Result<Vec<u8>>> {
    stream::unfold(Some(Rewriting { body, rewriter }), |state| async move {
        let mut st = state?;
        loop {
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    let out = st.rewriter.write(&chunk);
                    if !out.is_empty() {
                        return Some((Ok(out), Some(st)));
                    }
                }
                // The upstream body broke off: end the page here.
                Some(Err(err)) => return Some((Err(err), None)),
                None => {
                    if let Some(reason) = st.rewriter.failure() {
                        worker::console_warn!("page passed through unpersonalised: {reason}");
                    }
                    return Some((Ok(st.rewriter.finish()), None));
                }
            }
        }
    })
}
