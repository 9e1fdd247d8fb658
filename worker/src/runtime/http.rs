//! The way in and out: request headers and bodies, CORS, and handing answers to the runtime.

use futures_util::StreamExt;
use wasm_bindgen::JsCast;
use worker::js_sys::{self, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Response, ResponseBody, Result};

use super::Reply;
use crate::api_error::ApiError;
use crate::headers::{std_names, Answer, ALLOWED_REQUEST_HEADERS, EXPOSED};
use crate::settings::Settings;

/// The request's header value, if present and readable.
pub fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Answers an API error.
pub fn error(err: &ApiError) -> Answer {
    let answer = Answer::json(err.status, err.to_json());
    if err.status == 401 {
        answer.with(std_names::WWW_AUTHENTICATE, r#"Bearer realm="intent-edge""#)
    } else {
        answer
    }
}

/// Refuses calls from browsers on origins that are not configured (`origin` is the
/// cross-origin caller, if any).
pub fn check_origin(
    origin: Option<&str>,
    settings: &Settings,
) -> std::result::Result<(), ApiError> {
    match origin {
        Some(origin) if !settings.allows_origin(origin) => {
            Err(ApiError::origin_not_allowed(origin))
        }
        _ => Ok(()),
    }
}

/// Adds the CORS headers for a configured origin (`origin` is the cross-origin caller, if
/// any). Answers to other origins get none, so a browser on them cannot read anything.
pub fn with_cors(reply: Reply, origin: Option<&str>, settings: &Settings) -> Result<Reply> {
    let Some(origin) = origin.filter(|o| settings.allows_origin(o)) else {
        return Ok(reply);
    };
    let cors = [
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-expose-headers", EXPOSED.to_owned()),
        (std_names::VARY, "Origin".to_owned()),
    ];
    match reply {
        Reply::Answer(answer) => Ok(Reply::Answer(answer.with_all(cors))),
        Reply::Stream(resp) => {
            let h = resp.headers();
            let [(n1, v1), (n2, v2), (n3, v3)] = &cors;
            h.set(n1, v1)?;
            h.set(n2, v2)?;
            h.append(n3, v3)?;
            Ok(Reply::Stream(resp))
        }
    }
}

/// Answers a CORS preflight: allowed for configured origins, refused (403, no CORS headers)
/// for the others.
pub fn preflight(origin: Option<&str>, settings: &Settings) -> Reply {
    let origin = origin.unwrap_or_default();
    if !settings.allows_origin(origin) {
        return Reply::Answer(error(&ApiError::origin_not_allowed(origin)));
    }
    Reply::Answer(Answer {
        status: 204,
        headers: vec![
            ("access-control-allow-origin", origin.to_owned()),
            (
                "access-control-allow-methods",
                "GET, POST, PUT, DELETE, OPTIONS".to_owned(),
            ),
            (
                "access-control-allow-headers",
                ALLOWED_REQUEST_HEADERS.to_owned(),
            ),
            ("access-control-max-age", "86400".to_owned()),
            (std_names::VARY, "Origin".to_owned()),
        ],
        body: Vec::new(),
    })
}

/// Hands a reply to the runtime.
pub fn finish(reply: Reply) -> Result<web_sys::Response> {
    match reply {
        Reply::Answer(answer) => answer_to_raw(answer),
        Reply::Stream(resp) => into_raw(resp),
    }
}

/// An answer in one construction: its `ResponseInit` (status and every header) is parsed from
/// JSON by one native `JSON.parse`, and its body goes to `new Response` as a view of the wasm
/// memory it is in, which the runtime copies natively. Setting each header through its own
/// wasm-to-JavaScript calls, and copying the body into a fresh `Uint8Array` first, cost more
/// than the rest of the answer's way out.
fn answer_to_raw(answer: Answer) -> Result<web_sys::Response> {
    let init: web_sys::ResponseInit = js_sys::JSON::parse(&answer.init_json())
        .map_err(worker::Error::from)?
        .unchecked_into();
    let mut body = answer.body;
    // A 204 or 304 may not have a body, not even an empty one.
    let body = (!body.is_empty()).then_some(body.as_mut_slice());
    web_sys::Response::new_with_opt_u8_array_and_init(body, &init).map_err(worker::Error::from)
}

/// Hands a response object to the runtime: a body the worker wrote goes to `new Response` as a
/// view of wasm memory (see [`answer_to_raw`]); streamed and empty bodies go through workers-rs
/// unchanged.
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

/// A JSON response object, for handlers that still build one.
pub fn json(body: String, status: u16) -> Result<Response> {
    let headers = worker::Headers::new();
    for (name, value) in Answer::json(status, String::new()).headers {
        headers.set(name, &value)?;
    }
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// Reads the request body, refusing it (413) when it is over `limit` bytes, whether or not the
/// client declared its length (`content_length`, the header's value). A body of a declared
/// length within the limit is read in one native call; one without is read chunk by chunk, so
/// that it is refused as soon as it passes the limit.
pub async fn read_body(
    req: &web_sys::Request,
    content_length: Option<&str>,
    limit: usize,
) -> std::result::Result<Vec<u8>, ApiError> {
    let declared = content_length.and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared {
        if len > limit as u64 {
            return Err(ApiError::too_large(limit));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let read = req
            .array_buffer()
            .map_err(|e| ApiError::bad_request(format!("could not read the body: {e:?}")))?;
        let buffer = JsFuture::from(read)
            .await
            .map_err(|e| ApiError::bad_request(format!("could not read the body: {e:?}")))?;
        let bytes = Uint8Array::new(&buffer);
        // The runtime holds a body to its declared length; this guards the limit regardless.
        if bytes.length() as usize > limit {
            return Err(ApiError::too_large(limit));
        }
        return Ok(bytes.to_vec());
    }
    // A body of undeclared length: through workers-rs's byte stream, chunk by chunk (the same
    // request object, not a copy of its body).
    let mut req = worker::Request::from(Clone::clone(req));
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
pub async fn read_text(
    req: &web_sys::Request,
    content_length: Option<&str>,
    limit: usize,
) -> std::result::Result<String, ApiError> {
    let bytes = read_body(req, content_length, limit).await?;
    String::from_utf8(bytes).map_err(|e| crate::api_error::not_utf8_body(e.as_bytes()))
}
