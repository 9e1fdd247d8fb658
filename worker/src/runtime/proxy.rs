//! Proxy mode: pages come from the origin (or, without one, from the bundled static site) and
//! HTML is personalised while it streams through.

use futures_util::{stream, StreamExt};
use intent_engine::{Event, Timestamp};
use wasm_bindgen::JsValue;
use worker::{
    console_error, ByteStream, Env, Fetch, Method, Request, RequestInit, RequestRedirect, Response,
    Result,
};

use super::api::{said, visitor};
use super::http;
use super::{now_ms, pipeline, Ctx, Failure};
use crate::headers::{std_names, X_INTENT_TRACKING};
use crate::rewrite::{page_charset, Charset, HeadScan, HeadVerdict, PagePlan, SlotRewriter};
use crate::routes::UrlParts;
use crate::settings::{names, Settings};
use crate::visitor::{page_records, resolve, Call};

/// `/intent.js` and `/_intent/*`: the snippet's files, always from the worker's own assets
/// (in proxy mode too), with headers the CORS step can add to.
pub async fn snippet_file(req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let resp = ctx.env.assets(names::ASSETS)?.fetch_request(req).await?;
    Ok(with_mutable_headers(resp))
}

/// Serves a page in proxy mode: fetch it upstream and, when it is an HTML page, record the
/// page view from the request itself, classify, and fill the slots while it streams. Works
/// with JavaScript off; the snippet, injected if missing, then only adds what the browser
/// alone can see (engagement, clicks, custom events).
///
/// Before recording, the page is read up to `<body>` for its opt-out
/// (`<meta name="intent-edge" content="off">`, as the snippet honours it): such a page passes
/// through untouched, and nothing is recorded or stored.
pub async fn page(req: Request, ctx: &Ctx<'_>) -> Result<Response> {
    let is_get = req.method() == Method::Get;
    let referrer = http::header(req.inner(), std_names::REFERER);
    let sent = ctx.sent(req.inner())?;
    let said = said(&sent, ctx.settings, false);
    // Speculative loads (prefetch, prerender) are not views: personalise without recording.
    let speculative = http::header(req.inner(), std_names::SEC_PURPOSE)
        .or_else(|| http::header(req.inner(), std_names::PURPOSE))
        .is_some_and(|p| p.contains("prefetch") || p.contains("prerender"));

    let upstream = match fetch_upstream(req, ctx.env, ctx.settings, &ctx.url).await {
        Ok(resp) => resp,
        Err(err) => {
            // Not the page's path: a URL is never written to the log.
            console_error!("fetching a page upstream failed: {err}");
            return bad_gateway();
        }
    };
    if let Some(origin) = &ctx.settings.origin {
        if (300..400).contains(&upstream.status_code()) {
            return rewrite_location(upstream, origin, ctx.url.origin);
        }
    }
    if !is_get || !is_html(&upstream) {
        return Ok(upstream);
    }

    let site = ctx.settings.proxy_site();
    let keys = ctx.isolate.keys.as_ref();
    if let Err(err) = keys {
        // The page still works: it shows the default content until the secret is set.
        console_error!("{}", err.message);
    }
    let mut upstream = upstream;
    let content_type = upstream.headers().get("content-type").ok().flatten();
    let mut body = upstream.stream()?;

    // The first chunk says, with the header, which charset the page is in (a byte order mark
    // wins). A page whose charset is not ASCII-compatible (UTF-16) cannot be rewritten: it
    // passes through byte for byte, with nothing recorded and no loader tag.
    let mut read = Vec::new();
    match body.next().await {
        Some(Ok(chunk)) => read.push(chunk),
        Some(Err(err)) => worker::console_warn!("the page broke off at once: {err}"),
        None => {}
    }
    let charset = page_charset(
        content_type.as_deref(),
        read.first().map_or(&[][..], Vec::as_slice),
    );
    if charset == Charset::Unrewritable {
        let mut extra: Vec<(&str, String)> = ctx.rules.headers().into_iter().collect();
        extra.push((X_INTENT_TRACKING, "off; charset".to_owned()));
        return pass_through(&upstream, read, body, &extra);
    }

    // Only a view that would be recorded waits for the page's head.
    if page_records(said.not_tracked, keys.is_ok()) {
        let verdict = read_head(&mut body, &mut read).await;
        if verdict == HeadVerdict::OptedOut {
            let mut extra: Vec<(&str, String)> = ctx.rules.headers().into_iter().collect();
            extra.push((X_INTENT_TRACKING, "off; page".to_owned()));
            return pass_through(&upstream, read, body, &extra);
        }
    }

    let view = (!speculative).then(|| Event::pageview(ctx.url.full, referrer.as_deref()));
    let at_ms = now_ms();
    let at = Timestamp::from_millis(at_ms);
    let mut resolved = resolve(
        &ctx.rules.rules,
        keys,
        &visitor(site, &said, ctx.url.host, ctx.settings),
        Call::Page {
            view: view.as_ref(),
        },
        at,
    )
    .map_err(|err| worker::Error::RustError(err.message))?;
    let mut extra: Vec<(&str, String)> = ctx.rules.headers().into_iter().collect();
    extra.extend(resolved.headers());
    let mut plan = resolved.page_plan();
    plan.charset = match charset {
        Charset::Declared(c) => Some(c),
        Charset::Undeclared | Charset::Unrewritable => None,
    };
    pipeline::enqueue(ctx, &mut resolved, at_ms);
    personalise(&upstream, read, body, plan, &extra)
}

/// Reads the page up to `<body>` (at most [`crate::rewrite::HEAD_LOOKAHEAD_BYTES`]) for its
/// opt-out, starting with the chunks already `read`; the chunks read are added to `read`,
/// which still has to be sent.
async fn read_head(body: &mut ByteStream, read: &mut Vec<Vec<u8>>) -> HeadVerdict {
    let mut scan = HeadScan::new();
    for chunk in read.iter() {
        let verdict = scan.feed(chunk);
        if verdict != HeadVerdict::Undecided {
            return verdict;
        }
    }
    loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                let verdict = scan.feed(&chunk);
                read.push(chunk);
                if verdict != HeadVerdict::Undecided {
                    return verdict;
                }
            }
            Some(Err(err)) => {
                // The page broke off in its head: what arrived is sent, as for any page.
                worker::console_warn!("the page broke off before its body: {err}");
                return scan.finish();
            }
            None => return scan.finish(),
        }
    }
}

/// An opted-out page: exactly as upstream sent it, with the worker's own headers added.
fn pass_through(
    resp: &Response,
    read: Vec<Vec<u8>>,
    body: ByteStream,
    extra: &[(&str, String)],
) -> Result<Response> {
    let headers = resp.headers().clone();
    for (name, value) in extra {
        headers.append(name, value)?;
    }
    let stream = stream::iter(read.into_iter().map(Ok)).chain(body);
    Ok(Response::from_stream(stream)?
        .with_status(resp.status_code())
        .with_headers(headers))
}

fn bad_gateway() -> Result<Response> {
    let resp = Response::ok("The origin could not be reached. Try again in a moment.")?;
    Ok(resp.with_status(502))
}

/// Fetches what the visitor asked for from upstream: the origin when `ORIGIN` is set, else the
/// static assets bundled with the worker.
pub async fn fetch_upstream(
    req: Request,
    env: &Env,
    settings: &Settings,
    url: &UrlParts<'_>,
) -> Result<Response> {
    let req = without_validators_for_pages(req, url)?;
    match &settings.origin {
        Some(origin) => fetch_origin(req, origin, url).await,
        None => env.assets(names::ASSETS)?.fetch_request(req).await,
    }
}

/// Drops `If-None-Match` / `If-Modified-Since` from page requests. A browser may hold a
/// validator from before the worker was in front of the site; a 304 would show that cached,
/// unpersonalised copy and the view would go unrecorded. Personalised pages carry no
/// validators, so this only costs one full response per cached page.
fn without_validators_for_pages(req: Request, url: &UrlParts<'_>) -> Result<Request> {
    let wants_page = req.method() == Method::Get
        && (http::header(req.inner(), std_names::SEC_FETCH_DEST).is_some_and(|d| d == "document")
            || http::header(req.inner(), std_names::ACCEPT)
                .is_some_and(|a| a.contains("text/html")));
    let conditional =
        req.headers().has("if-none-match")? || req.headers().has("if-modified-since")?;
    if !wants_page || !conditional {
        return Ok(req);
    }
    let headers = req.headers().clone();
    headers.delete("if-none-match")?;
    headers.delete("if-modified-since")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    Request::new_with_init(url.full, &init)
}

async fn fetch_origin(req: Request, origin: &str, url: &UrlParts<'_>) -> Result<Response> {
    let mut target = format!("{origin}{}", url.path);
    if let Some(query) = url.query {
        target.push('?');
        target.push_str(query);
    }
    let headers = req.headers().clone();
    // The origin must see its own host name, not the worker's; fetch fills it in.
    headers.delete("host")?;
    // The origin builds absolute links and redirects for the public host, not its own.
    if !url.host.is_empty() {
        headers.set("x-forwarded-host", url.host)?;
    }
    headers.set("x-forwarded-proto", url.scheme())?;
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

/// Points a redirect to the origin's own host back at the public host, so the visitor stays
/// on the worker's route (as a reverse proxy's `ProxyPassReverse` does).
fn rewrite_location(resp: Response, origin: &str, public: &str) -> Result<Response> {
    let Some(location) = resp.headers().get("location")? else {
        return Ok(resp);
    };
    let Some(rest) = location.strip_prefix(origin) else {
        return Ok(resp);
    };
    if !(rest.is_empty() || rest.starts_with(['/', '?', '#'])) {
        return Ok(resp);
    }
    let resp = with_mutable_headers(resp);
    resp.headers().set("location", &format!("{public}{rest}"))?;
    Ok(resp)
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
/// `read` holds the chunks already taken from `body` (the page's head); they go first.
fn personalise(
    resp: &Response,
    read: Vec<Vec<u8>>,
    body: ByteStream,
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

    let rewritten = rewrite_stream(read, body, SlotRewriter::new(plan));
    Ok(Response::from_stream(rewritten)?
        .with_status(status)
        .with_headers(headers))
}

/// A response passed through unchanged, with headers that can be added to. Responses from
/// `fetch` (the origin, the assets) have immutable headers, so they are copied.
pub fn with_mutable_headers(resp: Response) -> Response {
    let headers = resp.headers().clone();
    resp.with_headers(headers)
}

struct Rewriting {
    /// Chunks already read from `body` (the page's head), rewritten first.
    read: std::vec::IntoIter<Vec<u8>>,
    body: ByteStream,
    rewriter: SlotRewriter,
}

/// Feeds each upstream chunk to the rewriter and forwards whatever it produced at once.
fn rewrite_stream(
    read: Vec<Vec<u8>>,
    body: ByteStream,
    rewriter: SlotRewriter,
) -> impl futures_util::Stream<Item = Result<Vec<u8>>> {
    let state = Rewriting {
        read: read.into_iter(),
        body,
        rewriter,
    };
    stream::unfold(Some(state), |state| async move {
        let mut st = state?;
        loop {
            let next = match st.read.next() {
                Some(chunk) => Some(Ok(chunk)),
                None => st.body.next().await,
            };
            match next {
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
