//! Response helpers shared by the handlers: JSON answers, errors, CORS and bounded bodies.

use futures_util::StreamExt;
use worker::{web_sys, Headers, Request, Response, ResponseBody, Result};

use crate::api_error::ApiError;
use crate::settings::Settings;

/// Answers a JSON body with `status`.
pub fn json(body: String, status: u16) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// Hands a response to the runtime. A body the worker wrote (every JSON answer) goes to
/// `new Response` as a view of the wasm memory it is in, which the runtime copies natively;
/// workers-rs's own conversion first copies it into a new `Uint8Array`, an allocation outside
/// the JavaScript heap that costs more than the rest of the answer's way out. Streamed and
/// empty bodies go through workers-rs unchanged.
pub fn into_raw(resp: Response) -> Result<web_sys::Response> {
    let (init, body) = resp.into_parts();
    match body {
        ResponseBody::Body(mut bytes) => {
            web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut bytes), &init.into())
                .map_err(worker::Error::from)
        }
        body => Ok(init.body(body).into()),
    }
}

/// Answers an API error.
pub fn error(err: &ApiError) -> Result<Response> {
    let resp = json(err.to_json(), err.status)?;
    if err.status == 401 {
        resp.headers()
            .set("www-authenticate", r#"Bearer realm="intent-edge""#)?;
    }
    Ok(resp)
}

/// The request's header value, if present and readable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// The browser origin of a cross-origin call, when there is one. A request from the worker's
/// own host is same-origin and needs no CORS.
pub fn foreign_origin(req: &Request) -> Option<String> {
    let origin = header(req, "origin")?;
    let own = req.url().ok().map(|u| u.origin().ascii_serialization());
    (own.as_deref() != Some(origin.as_str())).then_some(origin)
}

/// Refuses calls from browsers on origins that are not configured.
pub fn check_origin(req: &Request, settings: &Settings) -> std::result::Result<(), ApiError> {
    match foreign_origin(req) {
        Some(origin) if !settings.allows_origin(&origin) => {
            Err(ApiError::origin_not_allowed(&origin))
        }
        _ => Ok(()),
    }
}

/// Adds the CORS headers for a configured origin (`origin` is [`foreign_origin`] of the
/// request). Answers to other origins get none, so a browser on them cannot read anything.
pub fn with_cors(resp: Response, origin: Option<&str>, settings: &Settings) -> Result<Response> {
    if let Some(origin) = origin {
        if settings.allows_origin(origin) {
            let h = resp.headers();
            h.set("access-control-allow-origin", origin)?;
            h.set(
                "access-control-expose-headers",
                "x-intent-rules, x-intent-rules-source, x-intent-tier, x-intent-tracking, x-intent-fresh",
            )?;
            h.append("vary", "Origin")?;
        }
    }
    Ok(resp)
}

/// Answers a CORS preflight: allowed for configured origins, refused (403, no CORS headers)
/// for the others.
pub fn preflight(req: &Request, settings: &Settings) -> Result<Response> {
    let origin = header(req, "origin").unwrap_or_default();
    if !settings.allows_origin(&origin) {
        return error(&ApiError::origin_not_allowed(&origin));
    }
    let headers = Headers::new();
    headers.set("access-control-allow-origin", &origin)?;
    headers.set("access-control-allow-methods", "GET, POST, PUT, OPTIONS")?;
    headers.set(
        "access-control-allow-headers",
        "content-type, x-intent-profile, authorization",
    )?;
    headers.set("access-control-max-age", "86400")?;
    headers.set("vary", "Origin")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// Reads the request body, refusing it (413) as soon as it passes `limit` bytes, whether or
/// not the client declared its length.
pub async fn read_body(req: &mut Request, limit: usize) -> std::result::Result<Vec<u8>, ApiError> {
    if let Some(len) = header(req, "content-length").and_then(|v| v.trim().parse::<u64>().ok()) {
        if len > limit as u64 {
            return Err(ApiError::too_large(limit));
        }
    }
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(Vec::new()),
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a bounded UTF-8 body.
pub async fn read_text(req: &mut Request, limit: usize) -> std::result::Result<String, ApiError> {
    let bytes = read_body(req, limit).await?;
    String::from_utf8(bytes).map_err(|_| ApiError::not_utf8())
}
