//! The snippet's API: `POST /v1/collect` and `GET /v1/decide`.

use intent_engine::{process, CollectRequest, Decision};
use worker::{Request, Response, Result};

use super::http::{self, header};
use super::rules::ActiveRules;
use super::visitor::{self, PROFILE_HEADER};
use super::{now, Ctx, Failure};
use crate::api_error::{check_content_type, ApiError, MAX_BODY_BYTES};
use crate::cookie::{clear_profile_cookie, set_profile_cookie};

/// Most slots one `/v1/decide` call may ask for.
const MAX_SLOTS: usize = 32;

/// The answer of both endpoints: the token to keep (`null` when nothing may be stored), the
/// decision, and why a token that was sent got discarded.
fn answer(
    profile: Option<&str>,
    decision: &Decision<'_>,
    fresh: Option<&'static str>,
) -> Result<Response> {
    http::json(decision.answer_json(profile, fresh), 200)
}

fn add_headers(resp: &Response, rules: &ActiveRules, extra: &[(&str, String)]) -> Result<()> {
    for (name, value) in rules.headers() {
        resp.headers().set(name, &value)?;
    }
    for (name, value) in extra {
        resp.headers().append(name, value)?;
    }
    Ok(())
}

fn keep_slots<'r>(decision: Decision<'r>, slots: &Option<Vec<String>>) -> Decision<'r> {
    match slots {
        Some(slots) => {
            let names: Vec<&str> = slots.iter().map(String::as_str).collect();
            decision.only_slots(&names)
        }
        None => decision,
    }
}

/// `POST /v1/collect`: fold the events into the visitor's profile and answer the decision.
pub async fn collect(mut req: Request, ctx: &Ctx<'_>) -> std::result::Result<Response, Failure> {
    http::check_origin(&req, ctx.settings)?;
    check_content_type(header(&req, "content-type").as_deref())?;
    let body = http::read_text(&mut req, MAX_BODY_BYTES).await?;
    let call =
        CollectRequest::from_json(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !ctx.settings.knows_site(&call.site) {
        return Err(ApiError::unknown_site(&call.site).into());
    }
    let rules = &ctx.rules;
    let host = visitor::host(&req);
    let cookie = visitor::cookie_token(&req);

    if let Some(reason) = visitor::tracking(&req) {
        let resp = answer(None, &rules.rules.decide_default(), None)?;
        let mut extra = vec![("x-intent-tracking", reason.label().to_owned())];
        if cookie.is_some() {
            extra.push(("set-cookie", clear_profile_cookie(&host)));
        }
        add_headers(&resp, rules, &extra)?;
        return Ok(resp);
    }

    let keys = visitor::keyring(ctx.env, &ctx.settings.sites)?;
    // In proxy mode the profile travels in the first-party cookie, which wins over a token the
    // snippet may also keep. (The snippet does not report the page view of a page the worker
    // served and personalised, recognised by `data-intent-tier` on `<html>`; it does report
    // single-page navigations, which only it can see.)
    let cookie_mode = cookie.is_some();
    let token = cookie.as_deref().or(call.profile.as_deref());
    let out = process(
        &rules.rules,
        &keys,
        &call.site,
        token,
        &call.events,
        now(),
        visitor::new_visitor_id,
    );
    let fresh = out.fresh.map(|f| f.code());
    let resp = answer(Some(&out.token), &out.decision, fresh)?;
    let mut extra = vec![("x-intent-tier", out.decision.tier.to_owned())];
    if let Some(code) = fresh {
        extra.push(("x-intent-fresh", code.to_owned()));
    }
    if cookie_mode {
        extra.push((
            "set-cookie",
            set_profile_cookie(&out.token, &host, rules.rules.config().horizon.secs()),
        ));
    }
    add_headers(&resp, rules, &extra)?;
    Ok(resp)
}

/// `GET /v1/decide?slots=hero,cta[&site=demo]`: the decision for the token sent (header
/// `X-Intent-Profile` or the proxy-mode cookie), recording nothing.
pub async fn decide(req: Request, ctx: &Ctx<'_>) -> std::result::Result<Response, Failure> {
    http::check_origin(&req, ctx.settings)?;
    let url = req.url()?;
    let mut slots: Option<Vec<String>> = None;
    let mut site: Option<String> = None;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "slots" => {
                let list: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if list.len() > MAX_SLOTS {
                    return Err(ApiError::bad_request(format!(
                        "`slots`: ask for at most {MAX_SLOTS} slots"
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
    let rules = &ctx.rules;

    if let Some(reason) = visitor::tracking(&req) {
        let decision = keep_slots(rules.rules.decide_default(), &slots);
        let resp = answer(None, &decision, None)?;
        add_headers(
            &resp,
            rules,
            &[("x-intent-tracking", reason.label().to_owned())],
        )?;
        return Ok(resp);
    }

    let keys = visitor::keyring(ctx.env, &ctx.settings.sites)?;
    let token = header(&req, PROFILE_HEADER)
        .filter(|t| !t.trim().is_empty())
        .or_else(|| visitor::cookie_token(&req));
    let out = process(
        &rules.rules,
        &keys,
        &site,
        token.as_deref(),
        &[],
        now(),
        visitor::new_visitor_id,
    );
    let decision = keep_slots(out.decision, &slots);
    let fresh = out.fresh.map(|f| f.code());
    // Nothing is recorded: the visitor keeps the token they sent, when it was valid.
    let kept = if fresh.is_none() {
        token.as_deref()
    } else {
        None
    };
    let resp = answer(kept, &decision, fresh)?;
    let mut extra = vec![("x-intent-tier", decision.tier.to_owned())];
    if let Some(code) = fresh {
        extra.push(("x-intent-fresh", code.to_owned()));
    }
    add_headers(&resp, rules, &extra)?;
    Ok(resp)
}
