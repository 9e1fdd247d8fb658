//! The snippet's API: `POST /v1/collect`, `GET /v1/decide`, and `GET /v1/health`. Each reads
//! its request, resolves the visitor flow (`crate::visitor`) and renders the answer from it.
//!
//! They never wait: they answer at once from the request's head and (`collect`) its body, which
//! the entry reads for them when they ask for it (`http::body`), so the usual call runs without
//! a future (see `super::fetch`).

use intent_engine::{CollectRequest, Limits, Timestamp, VisitorId};
use serde_json::json;
use worker::{console_error, web_sys::Request};

use super::http::{self, Body};
use super::{now, now_ms, pipeline, Ctx, Failure};
use crate::api_error::{check_content_encoding, check_content_type, ApiError, MAX_BODY_BYTES};
use crate::cookie::{consent_from_cookie_header, profile_from_cookie_header};
use crate::headers::Answer;
use crate::privacy::{consent_verdict, not_tracked, tracking_verdict};
use crate::request::Sent;
use crate::settings::Settings;
use crate::visitor::{resolve, Call, Resolved, Visitor};

/// What the request says of the visitor: privacy signals, user agent, consent and profile
/// cookies.
pub(super) struct Said<'s> {
    pub(super) not_tracked: Option<crate::privacy::NotTracked>,
    pub(super) cookie: Option<&'s str>,
    pub(super) first_party: bool,
}

/// Reads the request's headers (`sent`). `cross_origin` is true for an API call from another
/// origin (snippet mode), which is its own evidence of consent
/// (`crate::privacy::consent_verdict`).
pub(super) fn said<'s>(sent: &Sent<'s>, settings: &Settings, cross_origin: bool) -> Said<'s> {
    let signals = not_tracked(sent.sec_gpc, sent.dnt, sent.user_agent);
    let consent = consent_verdict(
        settings.consent,
        sent.cookie.and_then(consent_from_cookie_header),
        cross_origin,
    );
    let cookie = sent.cookie.and_then(profile_from_cookie_header);
    let first_party = !cross_origin && sent.sec_fetch_site == Some("same-origin");
    Said {
        not_tracked: tracking_verdict(signals, consent),
        cookie,
        first_party,
    }
}

/// The visitor of a request, from what it said.
pub(super) fn visitor<'a>(
    site: &'a str,
    said: &'a Said<'a>,
    host: &'a str,
    settings: &Settings,
) -> Visitor<'a> {
    Visitor {
        site,
        not_tracked: said.not_tracked,
        cookie_token: said.cookie,
        first_party: said.first_party,
        host,
        new_id: random_visitor_id,
        consent: settings.consent,
    }
}

/// A new visitor's id from `crypto.getRandomValues`; `None` (logged) if the runtime has no
/// random source, and the visitor gains an id on a later call.
fn random_visitor_id() -> Option<VisitorId> {
    let mut bytes = [0u8; VisitorId::BYTES];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => Some(VisitorId::from_random_bytes(bytes)),
        Err(err) => {
            console_error!("crypto.getRandomValues failed ({err}); the visitor gets no id yet");
            None
        }
    }
}

/// The answer of both endpoints, rendered from the resolved flow.
fn answer(ctx: &Ctx<'_>, resolved: &Resolved<'_, '_, '_>) -> Answer {
    Answer::json(200, resolved.answer_json())
        .with_all(ctx.rules.headers())
        .with_all(resolved.headers())
}

/// `POST /v1/collect`: fold the events into the visitor's profile and answer the decision.
pub fn collect(req: &Request, ctx: &Ctx<'_>, body: &Body) -> Result<Answer, Failure> {
    http::check_origin(ctx.origin, ctx.settings)?;
    let sent = ctx.sent(req)?;
    check_content_type(sent.content_type)?;
    check_content_encoding(sent.content_encoding)?;
    let body = http::text(body, sent.content_length, MAX_BODY_BYTES)?;
    let call = CollectRequest::from_json(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !ctx.settings.knows_site(&call.site) {
        return Err(ApiError::unknown_site(&call.site).into());
    }
    let said = said(&sent, ctx.settings, ctx.origin.is_some());
    let at_ms = now_ms();
    let at = Timestamp::from_millis(at_ms);
    let mut resolved = resolve(
        &ctx.rules.rules,
        ctx.isolate.keys.as_ref(),
        &visitor(&call.site, &said, ctx.url.host, ctx.settings),
        Call::Collect {
            events: &call.events,
            body_token: call.profile.as_deref(),
        },
        at,
    )?;
    let answer = answer(ctx, &resolved);
    pipeline::enqueue(ctx, &mut resolved, at_ms);
    Ok(answer)
}

/// `GET /v1/decide?slots=hero,cta[&site=demo]`: the decision for the token sent (header
/// `X-Intent-Profile` or the proxy-mode cookie), recording nothing.
pub fn decide(req: &Request, ctx: &Ctx<'_>, _body: &Body) -> Result<Answer, Failure> {
    http::check_origin(ctx.origin, ctx.settings)?;
    let mut slots: Option<Vec<String>> = None;
    let mut site: Option<String> = None;
    let query = ctx.url.query.unwrap_or_default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "slots" => {
                let list: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if list.len() > Limits::SLOTS {
                    return Err(ApiError::bad_request(format!(
                        "`slots`: ask for at most {} slots",
                        Limits::SLOTS
                    ))
                    .into());
                }
                slots = Some(list);
            }
            "site" => site = Some(value.into_owned()),
            _ => {}
        }
    }
    let site = site.unwrap_or_else(|| ctx.settings.proxy_site().to_owned());
    if !ctx.settings.knows_site(&site) {
        return Err(ApiError::unknown_site(&site).into());
    }
    let sent = ctx.sent(req)?;
    let said = said(&sent, ctx.settings, ctx.origin.is_some());
    let resolved = resolve(
        &ctx.rules.rules,
        ctx.isolate.keys.as_ref(),
        &visitor(&site, &said, ctx.url.host, ctx.settings),
        Call::Decide {
            header_token: sent.x_intent_profile,
            slots: slots.as_deref(),
        },
        now(),
    )?;
    Ok(answer(ctx, &resolved))
}

/// `GET /v1/health`: liveness and the active rules.
pub fn health(_req: &Request, ctx: &Ctx<'_>, _body: &Body) -> Result<Answer, Failure> {
    let body = json!({
        "ok": true,
        "rules": ctx.rules.rules.id(),
        "rules_source": ctx.rules.source.label(),
    });
    Ok(Answer::json(200, body.to_string()))
}
