//! The way in and out: request headers and bodies, CORS, and handing answers to the runtime.

use futures_util::StreamExt;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::js_sys::{Function, Promise, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Response, ResponseBody, Result};

use super::{Failure, Reply};
use crate::api_error::ApiError;
use crate::headers::{std_names, Answer, ALLOWED_REQUEST_HEADERS, EXPOSED};
use crate::settings::Settings;

/// The request's header value, if present and readable: two calls out of wasm (the headers
/// object, then the value), for the routes that read a header or two. The hot handlers read
/// theirs all at once instead ([`sent`]).
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

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// `new Response(body, {status, headers})` from [`Answer::head`]'s text, the headers as
    /// one plain object (`worker/js/http.js`).
    #[wasm_bindgen(catch)]
    fn respond(head: &str, body: Option<&[u8]>) -> std::result::Result<web_sys::Response, JsValue>;

    /// `request.arrayBuffer()`, then `next(request, env, ctx, bytes | undefined, error |
    /// undefined, carried)`, `carried` being `head` and `sent` (if given) as one text;
    /// resolves to what `next` answers.
    #[wasm_bindgen(catch, js_name = readBody)]
    fn read_body_then(
        request: &web_sys::Request,
        env: &JsValue,
        ctx: &JsValue,
        next: &Function,
        head: &str,
        sent: Option<&str>,
    ) -> std::result::Result<Promise, JsValue>;

    /// The request's head as one text, in one call out of wasm: the method, the URL and the
    /// `Origin` header, one a line (`crate::request::HeadAt` finds its parts).
    pub fn head(request: &web_sys::Request) -> String;

    /// The headers the API's handlers read as one text, in one call out of wasm: those of
    /// `crate::request::SENT`, one a line (`crate::request::Sent::parse` slices it).
    pub fn sent(request: &web_sys::Request) -> String;
}

/// An answer in one construction: its status and headers as one text, which a few lines of
/// JavaScript turn into the plain object the runtime's `Response` reads fastest, and its body
/// as a view of the wasm memory it is in, which the runtime copies natively. Each header set
/// through its own wasm-to-JavaScript call, or headers as a list of pairs (from `JSON.parse`),
/// cost the runtime several times more.
fn answer_to_raw(answer: Answer) -> Result<web_sys::Response> {
    let head = answer.head().ok_or_else(|| {
        worker::Error::RustError("an answer's header holds a line break or a NUL".to_owned())
    })?;
    // A 204 or 304 may not have a body, not even an empty one.
    let body = (!answer.body.is_empty()).then_some(answer.body.as_slice());
    respond(&head, body).map_err(worker::Error::from)
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

/// A request's body, as far as the worker has read it. A handler asks for it with [`body`]
/// once its checks of the request's head have passed; while it is unread, that answers
/// [`Failure::Unread`] and the entry reads it and calls the handler again.
pub enum Body {
    /// Not read yet.
    Unread,
    /// Read whole.
    Read(Vec<u8>),
    /// Reading failed, or was given up (over the limit).
    Failed(ApiError),
}

/// How an unread body is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Its length is declared and within the limit: whole, in one native call.
    Whole,
    /// Its length is not declared: chunk by chunk, refused as soon as it passes `limit`.
    Chunks {
        /// The most bytes it may have.
        limit: usize,
    },
}

/// The request body, refused (413) when it is over `limit` bytes, whether or not the client
/// declared its length (`content_length`, the header's value). A declared length over the
/// limit is refused without reading anything.
pub fn body<'b>(
    body: &'b Body,
    content_length: Option<&str>,
    limit: usize,
) -> std::result::Result<&'b [u8], Failure> {
    match body {
        // The runtime holds a body to its declared length; this guards the limit regardless.
        Body::Read(bytes) if bytes.len() > limit => Err(ApiError::too_large(limit).into()),
        Body::Read(bytes) => Ok(bytes),
        Body::Failed(err) => Err(err.clone().into()),
        Body::Unread => match content_length.and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(len) if len > limit as u64 => Err(ApiError::too_large(limit).into()),
            Some(0) => Ok(&[]),
            Some(_) => Err(Failure::Unread(Reading::Whole)),
            None => Err(Failure::Unread(Reading::Chunks { limit })),
        },
    }
}

/// The request body as UTF-8 text (see [`body`]).
pub fn text<'b>(
    body: &'b Body,
    content_length: Option<&str>,
    limit: usize,
) -> std::result::Result<&'b str, Failure> {
    let bytes = self::body(body, content_length, limit)?;
    std::str::from_utf8(bytes).map_err(|_| crate::api_error::not_utf8_body(bytes).into())
}

fn unreadable(err: impl std::fmt::Debug) -> Body {
    Body::Failed(ApiError::bad_request(format!(
        "could not read the body: {err:?}"
    )))
}

/// The body `next` gets from [`read_then`]: the bytes read, or why they could not be.
pub fn arrived(bytes: JsValue, error: JsValue) -> Body {
    match bytes.dyn_into::<Uint8Array>() {
        Ok(bytes) => Body::Read(bytes.to_vec()),
        Err(_) => unreadable(error),
    }
}

/// Reads the body whole without waiting in wasm: a promise of what `next` answers once the
/// runtime has the bytes (`next(request, env, ctx, bytes, error, carried)`, see [`arrived`]),
/// `carried` being `head` and `sent` (when a handler read it) as one text, so that the second
/// run reads neither from the request again.
pub fn read_then(
    req: &web_sys::Request,
    env: &JsValue,
    ctx: &JsValue,
    next: &Function,
    head: &str,
    sent: Option<&str>,
) -> Result<Promise> {
    read_body_then(req, env, ctx, next, head, sent).map_err(worker::Error::from)
}

/// Reads the body as `how` says, in a handler that waits anyway.
pub async fn read(req: &web_sys::Request, how: Reading) -> Body {
    match how {
        Reading::Whole => {
            let read = match req.array_buffer() {
                Ok(read) => read,
                Err(err) => return unreadable(err),
            };
            match JsFuture::from(read).await {
                Ok(buffer) => Body::Read(Uint8Array::new(&buffer).to_vec()),
                Err(err) => unreadable(err),
            }
        }
        Reading::Chunks { limit } => {
            // Through workers-rs's byte stream, chunk by chunk (the same request object, not a
            // copy of its body).
            let mut req = worker::Request::from(Clone::clone(req));
            let mut stream = match req.stream() {
                Ok(stream) => stream,
                // No body at all.
                Err(_) => return Body::Read(Vec::new()),
            };
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(err) => {
                        return Body::Failed(ApiError::bad_request(format!(
                            "could not read the body: {err}"
                        )))
                    }
                };
                if body.len() + chunk.len() > limit {
                    return Body::Failed(ApiError::too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Body::Read(body)
        }
    }
}

/// Reads a bounded UTF-8 body, in a handler that waits anyway (see [`body`]).
pub async fn read_text(
    req: &web_sys::Request,
    content_length: Option<&str>,
    limit: usize,
) -> std::result::Result<String, Failure> {
    let mut got = Body::Unread;
    loop {
        match text(&got, content_length, limit) {
            Err(Failure::Unread(how)) => got = read(req, how).await,
            read => return read.map(str::to_owned),
        }
    }
}
