//! The rules admin API, behind the `ADMIN_TOKEN` bearer token (its routes are `Guard::Admin`
//! in the route table, which checks the token before these handlers run).
//!
//! - `GET /v1/admin/rules`: the active config as it was published (the built-in default rules
//!   as `intentctl defaults` prints them), with its id and source in the `X-Intent-Rules` /
//!   `X-Intent-Rules-Source` headers; `?version=previous` gives the config kept for rollback.
//!   What it answers can be edited and published again as it is.
//! - `PUT /v1/admin/rules`: validates the body and, only if it is valid, stores it and keeps
//!   the config it replaces under `rules:previous`. A broken config gets 422 with the same
//!   line/field message as `intentctl validate`.
//! - `POST /v1/admin/rules/rollback`: swaps the active and the previous config.

use intent_engine::{Limits, Rules};
use serde_json::json;
use worker::{Request, Response};

use super::http;
use super::rules;
use super::{now_ms, Ctx, Failure};
use crate::api_error::ApiError;
use crate::headers::std_names;
use crate::rules_cache::ActiveRules;
use crate::settings::{keys, names};

fn with_rules_headers(resp: Response, active: &ActiveRules) -> worker::Result<Response> {
    for (name, value) in active.headers() {
        resp.headers().set(name, &value)?;
    }
    Ok(resp)
}

fn kv_failure(what: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(format!(
        "{what} failed: {err}; nothing was changed, try again"
    ))
}

/// `GET /v1/admin/rules[?version=previous]`.
pub async fn get(_req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let query = ctx.url.query.unwrap_or_default();
    let previous =
        form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "version" && v == "previous");
    if previous {
        let kv = ctx.env.kv(names::RULES_KV)?;
        let text = kv
            .get(keys::PREVIOUS)
            .text()
            .await
            .map_err(|e| kv_failure("reading the previous rules", e))?
            .ok_or_else(ApiError::no_previous_rules)?;
        let resp = http::json(text, 200)?;
        return Ok(resp);
    }
    let resp = http::json(ctx.rules.rules.text().to_owned(), 200)?;
    Ok(with_rules_headers(resp, &ctx.rules)?)
}

/// `PUT /v1/admin/rules`.
pub async fn put(req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let length = req.headers().get(std_names::CONTENT_LENGTH)?;
    let text = http::read_text(req.inner(), length.as_deref(), Limits::CONFIG_BYTES).await?;
    let new_rules = Rules::from_json(&text).map_err(|e| ApiError::invalid_rules(e.to_string()))?;

    let kv = ctx.env.kv(names::RULES_KV)?;
    let current = kv
        .get(keys::RULES)
        .text()
        .await
        .map_err(|e| kv_failure("reading the current rules", e))?
        .filter(|t| !t.trim().is_empty());
    let mut previous_id = None;
    if let Some(current) = current.filter(|c| *c != text) {
        previous_id = Rules::from_json(&current).ok().map(|r| r.id().to_owned());
        kv.put(keys::PREVIOUS, current)
            .map_err(|e| kv_failure("keeping the previous rules", e))?
            .execute()
            .await
            .map_err(|e| kv_failure("keeping the previous rules", e))?;
    }
    kv.put(keys::RULES, text.clone())
        .map_err(|e| kv_failure("storing the rules", e))?
        .execute()
        .await
        .map_err(|e| kv_failure("storing the rules", e))?;

    let id = new_rules.id().to_owned();
    super::audiences::rules_published(ctx, &text).await;
    let active = rules::publish(new_rules, text, now_ms());
    let body = json!({"id": id, "previous": previous_id, "stored": true}).to_string();
    Ok(with_rules_headers(http::json(body, 200)?, &active)?)
}

/// `POST /v1/admin/rules/rollback`.
pub async fn rollback(_req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let kv = ctx.env.kv(names::RULES_KV)?;
    let previous = kv
        .get(keys::PREVIOUS)
        .text()
        .await
        .map_err(|e| kv_failure("reading the previous rules", e))?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(ApiError::no_previous_rules)?;
    let restored = Rules::from_json(&previous).map_err(|e| {
        ApiError::invalid_rules(format!("the previous rules no longer validate: {e}"))
    })?;
    let current = kv
        .get(keys::RULES)
        .text()
        .await
        .map_err(|e| kv_failure("reading the current rules", e))?
        .filter(|t| !t.trim().is_empty());
    let current_id = current
        .as_deref()
        .and_then(|c| Rules::from_json(c).ok())
        .map(|r| r.id().to_owned());
    kv.put(keys::RULES, previous.clone())
        .map_err(|e| kv_failure("restoring the previous rules", e))?
        .execute()
        .await
        .map_err(|e| kv_failure("restoring the previous rules", e))?;
    if let Some(current) = current {
        kv.put(keys::PREVIOUS, current)
            .map_err(|e| kv_failure("keeping the replaced rules", e))?
            .execute()
            .await
            .map_err(|e| kv_failure("keeping the replaced rules", e))?;
    }
    let id = restored.id().to_owned();
    super::audiences::rules_published(ctx, &previous).await;
    let active = rules::publish(restored, previous, now_ms());
    let body = json!({"id": id, "previous": current_id, "stored": true}).to_string();
    Ok(with_rules_headers(http::json(body, 200)?, &active)?)
}
