//! Proxy mode: pages come from the origin (or, without one, from the bundled static site) and
//! HTML is personalised while it streams through.

use futures_util::{stream, StreamExt};
use intent_engine::{process, Decision, Event};
use wasm_bindgen::JsValue;
use worker::{
    console_error, ByteStream, Env, Fetch, Method, Request, RequestInit, RequestRedirect, Response,
    Result,
};

use super::http::header;
use super::{now, visitor, Ctx};
use crate::cookie::{clear_profile_cookie, set_profile_cookie};
use crate::rewrite::{loader_tag, HeadScan, HeadVerdict, PagePlan, SlotContent, SlotRewriter};
use crate::settings::{names, Settings};

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
    let url = req.url()?;
    let referrer = header(&req, "referer");
    let tracking = visitor::tracking(&req);
    let cookie = visitor::cookie_token(&req);
    let host = visitor::host(&req);
    // Speculative loads (prefetch, prerender) are not views: personalise without recording.
    let speculative = header(&req, "sec-purpose")
        .or_else(|| header(&req, "purpose"))
        .is_some_and(|p| p.contains("prefetch") || p.contains("prerender"));

    let upstream = match fetch_upstream(req, ctx.env, ctx.settings).await {
        Ok(resp) => resp,
        Err(err) => {
            // Not the page's path: a URL is never written to the log.
            console_error!("fetching a page upstream failed: {err}");
            return bad_gateway();
        }
    };
    if let Some(origin) = &ctx.settings.origin {
        if (300..400).contains(&upstream.status_code()) {
            return rewrite_location(upstream, origin, &url.origin().ascii_serialization());
        }
    }
    if !is_get || !is_html(&upstream) {
        return Ok(upstream);
    }

    let site = ctx.settings.proxy_site();
    let rules = &ctx.rules;
    let mut extra: Vec<(&str, String)> = rules.headers().into_iter().collect();
    let mut upstream = upstream;
    let mut body = upstream.stream()?;

    let keys = if tracking.is_none() {
        match visitor::keyring(ctx.env, &ctx.settings.sites) {
            Ok(keys) => Some(keys),
            Err(err) => {
                // The page still works: it shows the default content until the secret is set.
                console_error!("{}", err.message);
                None
            }
        }
    } else {
        None
    };

    // Only a view that would be recorded waits for the page's head.
    let read = if tracking.is_none() && keys.is_some() {
        let (read, verdict) = read_head(&mut body).await;
        if verdict == HeadVerdict::OptedOut {
            extra.push(("x-intent-tracking", "off; page".to_owned()));
            return pass_through(&upstream, read, body, &extra);
        }
        read
    } else {
        Vec::new()
    };

    let plan = match (tracking, keys) {
        (Some(reason), _) => {
            extra.push(("x-intent-tracking", reason.label().to_owned()));
            if cookie.is_some() {
                extra.push(("set-cookie", clear_profile_cookie(&host)));
            }
            plan_for(&rules.rules.decide_default(), site)
        }
        (None, Some(keys)) => {
            let events = if speculative {
                Vec::new()
            } else {
                vec![Event::pageview(url.as_str(), referrer.as_deref())]
            };
            let out = process(
                &rules.rules,
                &keys,
                site,
                cookie.as_deref(),
                &events,
                now(),
                visitor::new_visitor_id,
            );
            if let Some(fresh) = out.fresh {
                extra.push(("x-intent-fresh", fresh.code().to_owned()));
            }
            extra.push(("x-intent-tier", out.decision.tier.to_owned()));
            if !speculative || cookie.is_some() {
                extra.push((
                    "set-cookie",
                    set_profile_cookie(&out.token, &host, rules.rules.config().horizon.secs()),
                ));
            }
            plan_for(&out.decision, site)
        }
        (None, None) => plan_for(&rules.rules.decide_default(), site),
    };
    personalise(&upstream, read, body, plan, &extra)
}

/// Reads the page up to `<body>` (at most [`crate::rewrite::HEAD_LOOKAHEAD_BYTES`]) for its
/// opt-out; returns the chunks read, which still have to be sent.
async fn read_head(body: &mut ByteStream) -> (Vec<Vec<u8>>, HeadVerdict) {
    let mut scan = HeadScan::new();
    let mut read = Vec::new();
    loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                let verdict = scan.feed(&chunk);
                read.push(chunk);
                if verdict != HeadVerdict::Undecided {
                    return (read, verdict);
                }
            }
            Some(Err(err)) => {
                // The page broke off in its head: what arrived is sent, as for any page.
                worker::console_warn!("the page broke off before its body: {err}");
                return (read, scan.finish());
            }
            None => return (read, scan.finish()),
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

/// The rewriting plan for a decision: its variants, its tier, and the loader tag.
fn plan_for(decision: &Decision<'_>, site: &str) -> PagePlan {
    PagePlan {
        slots: decision
            .variants()
            .map(|(slot, v)| {
                let content = SlotContent {
                    text: v.text.clone(),
                    html: v.html.clone(),
                    href: v.href.clone(),
                    attrs: v.attrs.clone(),
                };
                (slot.to_owned(), content)
            })
            .collect(),
        tier: Some(decision.tier.to_owned()),
        loader_tag: Some(loader_tag(site)),
    }
}

fn bad_gateway() -> Result<Response> {
    let resp = Response::ok("The origin could not be reached. Try again in a moment.")?;
    Ok(resp.with_status(502))
}

/// Fetches what the visitor asked for from upstream: the origin when `ORIGIN` is set, else the
/// static assets bundled with the worker.
pub async fn fetch_upstream(req: Request, env: &Env, settings: &Settings) -> Result<Response> {
    let req = without_validators_for_pages(req)?;
    match &settings.origin {
        Some(origin) => fetch_origin(req, origin).await,
        None => env.assets(names::ASSETS)?.fetch_request(req).await,
    }
}

/// Drops `If-None-Match` / `If-Modified-Since` from page requests. A browser may hold a
/// validator from before the worker was in front of the site; a 304 would show that cached,
/// unpersonalised copy and the view would go unrecorded. Personalised pages carry no
/// validators, so this only costs one full response per cached page.
fn without_validators_for_pages(req: Request) -> Result<Request> {
    let wants_page = req.method() == Method::Get
        && (header(&req, "sec-fetch-dest").is_some_and(|d| d == "document")
            || header(&req, "accept").is_some_and(|a| a.contains("text/html")));
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
    Request::new_with_init(req.url()?.as_str(), &init)
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
    // The origin builds absolute links and redirects for the public host, not its own.
    if let Some(host) = url.host_str() {
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        headers.set("x-forwarded-host", &host)?;
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
