//! Trigger deliveries: the store hands out what is due to the `intent-deliveries` queue, this
//! consumer sends each with `fetch` (never following a redirect) and reports the outcome back
//! to the store that owns it, which records it and schedules the next attempt. The store's
//! slow outbound work so never blocks it. The admin API lists the deliveries and retries a dead
//! one.
//!
//! - `GET /v1/admin/deliveries?status=pending|delivered|failed|dead|skipped[&site=]`
//! - `POST /v1/admin/deliveries/<id>/retry[?site=]`

use std::collections::BTreeMap;

use futures_util::future::join_all;
use intent_audience::send::{self, SendContext};
use intent_audience::{Deliveries, Delivery, DeliveryStatus, Outcome, DELIVERIES_LISTED};
use intent_engine::Destination;
use serde::{Deserialize, Serialize};
use worker::{
    console_error, console_warn, Context, Env, Fetch, Headers, MessageExt, Method,
    QueueRetryOptionsBuilder, RawMessage, Request, RequestInit, RequestRedirect,
};

use super::stores::Stores;
use super::{isolate, now, rules, Ctx, Failure};
use crate::api_error::ApiError;
use crate::audience::store_api;
use crate::headers::Answer;

/// One message of the `intent-deliveries` queue: a delivery, the destination as the store's
/// rules give it (its secrets are `env:NAME` references, resolved by the sender), and the
/// store object to report to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The store object that owns the delivery (`site:N`).
    pub object: String,
    /// The site.
    pub site: String,
    /// Where it goes.
    pub destination: Destination,
    /// What to send, and which attempt this is.
    pub delivery: Delivery,
}

/// What the sender reports to the store of one attempt (`store_api::DELIVERY_REPORT` takes a
/// list of them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The delivery's id.
    pub id: String,
    /// The attempt reported.
    pub attempt: u32,
    /// What it came to.
    pub outcome: Outcome,
}

/// The site of a store object named `site:N`.
pub fn site_of(object: &str) -> &str {
    object.rsplit_once(':').map_or(object, |(site, _)| site)
}

/// Sends one job and answers what it came to.
async fn attempt(job: &Job, env: &Env, iso: &isolate::Isolate) -> Outcome {
    let at = now();
    let lookup = |name: &str| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .ok()
    };
    let ctx = SendContext {
        site: &job.site,
        now: at,
        origin: iso.public_origin.as_deref(),
        hubspot_api_base: &iso.hubspot_api_base,
        checks: iso.checks,
        env: &lookup,
    };
    let failed = |error: String| Outcome::Failed {
        status: None,
        retry_after: None,
        error,
    };
    let req = match send::request(&job.destination, &job.delivery.notification, &ctx) {
        Ok(req) => req,
        Err(error) => return failed(error),
    };
    let headers = Headers::new();
    for (name, value) in &req.headers {
        if let Err(e) = headers.set(name, value) {
            return failed(format!("header `{name}`: {e}"));
        }
    }
    let method = match req.method {
        "PATCH" => Method::Patch,
        "PUT" => Method::Put,
        _ => Method::Post,
    };
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(req.body.clone().into()));
    let request = match Request::new_with_init(&req.url, &init) {
        Ok(r) => r,
        Err(e) => {
            return failed(format!(
                "the request cannot be made: {}",
                e.to_string().replace(&req.url, "<the destination's URL>")
            ))
        }
    };
    match Fetch::Request(request).send().await {
        Ok(resp) => {
            let retry_after = resp.headers().get("retry-after").ok().flatten();
            Outcome::of_status(resp.status_code(), retry_after.as_deref(), now().secs())
        }
        // The URL may itself be a secret (a Slack incoming webhook): never in the log or the
        // delivery's error.
        Err(e) => failed(format!(
            "no answer: {}",
            e.to_string().replace(&req.url, "<the destination's URL>")
        )),
    }
}

/// The consumer of `intent-deliveries` (called by the worker's one queue handler): every
/// message of the batch is sent at once, then each store object gets the reports of its
/// deliveries in one call. A message is acknowledged once its report is recorded; when the
/// store did not take the reports, the messages are retried (sent again with the same
/// `webhook-id`: a duplicate at worst, and the store records one report per attempt).
pub async fn consume(messages: Vec<RawMessage>, env: &Env, ctx: &Context) {
    let iso = isolate::get(env);
    let rules = rules::active(env, ctx, &iso.settings, super::now_ms()).await;
    let stores = match Stores::open(env, &iso.audience, rules.rules.id()) {
        Ok(stores) => stores,
        Err(err) => {
            console_error!("intent-deliveries: {}; the batch is retried", err.message);
            messages.iter().for_each(|m| m.retry());
            return;
        }
    };
    let sends = messages.iter().map(|m| {
        let iso = &iso;
        async move {
            let job = match m
                .body()
                .as_string()
                .map(|t| serde_json::from_str::<Job>(&t))
            {
                Some(Ok(job)) => job,
                Some(Err(err)) => {
                    // Never readable: the queue's retries end in its dead-letter queue.
                    console_error!("intent-deliveries: an unreadable message ({err})");
                    m.retry();
                    return None;
                }
                None => {
                    console_error!("intent-deliveries: a message that is not text");
                    m.retry();
                    return None;
                }
            };
            let outcome = attempt(&job, env, iso).await;
            if let Outcome::Failed { error, .. } = &outcome {
                console_warn!(
                    "delivery {} to `{}` (attempt {}) failed: {error}",
                    job.delivery.id,
                    job.delivery.destination,
                    job.delivery.attempt
                );
            }
            let report = Report {
                id: job.delivery.id,
                attempt: job.delivery.attempt,
                outcome,
            };
            Some((job.object, report, m))
        }
    });
    let mut by_object: BTreeMap<String, (Vec<Report>, Vec<&RawMessage>)> = BTreeMap::new();
    for (object, report, m) in join_all(sends).await.into_iter().flatten() {
        let entry = by_object.entry(object).or_default();
        entry.0.push(report);
        entry.1.push(m);
    }
    let reports = by_object.into_iter().map(|(object, (reports, ms))| {
        let stores = &stores;
        async move {
            let body = serde_json::to_string(&reports).unwrap_or_default();
            match stores
                .call(
                    &object,
                    Method::Post,
                    store_api::DELIVERY_REPORT,
                    &[],
                    Some(body),
                )
                .await
            {
                Ok(_) => ms.iter().for_each(|m| m.ack()),
                Err(err) => {
                    console_error!(
                        "intent-deliveries: the store {object} did not take {} reports ({}); retried",
                        reports.len(),
                        err.message
                    );
                    let later = QueueRetryOptionsBuilder::new()
                        .with_delay_seconds(5)
                        .build();
                    ms.iter().for_each(|m| m.retry_with_options(&later));
                }
            }
        }
    });
    join_all(reports).await;
}

/// The query's pairs.
fn query(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    form_urlencoded::parse(ctx.url.query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn site(ctx: &Ctx<'_>, pairs: &[(String, String)]) -> Result<String, ApiError> {
    let site = pairs
        .iter()
        .find(|(k, _)| k == "site")
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| ctx.settings.proxy_site());
    if ctx.settings.knows_site(site) {
        Ok(site.to_owned())
    } else {
        Err(ApiError::unknown_site(site))
    }
}

fn open(ctx: &Ctx<'_>) -> Result<Stores, ApiError> {
    Stores::open(ctx.env, &ctx.isolate.audience, ctx.rules.rules.id())
}

/// `GET /v1/admin/deliveries?status=`: every shard's, newest first.
pub async fn list(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let mut q: Vec<(&str, &str)> = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => q.push(("status", v.as_str())),
            "site" => {}
            other => return Err(ApiError::unknown_parameter(other, "`status` and `site`").into()),
        }
    }
    let stores = open(ctx)?;
    let parts: Vec<Deliveries> = stores
        .each(&site, Method::Get, store_api::DELIVERIES, &q)
        .await?;
    let mut merged = Deliveries {
        deliveries: Vec::new(),
        disabled: Default::default(),
    };
    for part in parts {
        merged.deliveries.extend(part.deliveries);
        merged.disabled.extend(part.disabled);
    }
    merged
        .deliveries
        .sort_by(|a, b| b.created_at.cmp(&a.created_at));
    merged.deliveries.truncate(DELIVERIES_LISTED);
    Ok(Answer::json(
        200,
        serde_json::to_string(&merged).unwrap_or_default(),
    ))
}

/// `POST /v1/admin/deliveries/<id>/retry`: the shard that holds it tries it again now.
pub async fn retry(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let id = ctx
        .url
        .path
        .strip_prefix("/v1/admin/deliveries/")
        .and_then(|rest| rest.strip_suffix("/retry"))
        .unwrap_or_default();
    if id.is_empty() || id.contains('/') {
        return Err(ApiError::bad_request("expected POST /v1/admin/deliveries/<id>/retry").into());
    }
    let stores = open(ctx)?;
    let objects = stores.settings.objects(&site);
    let query = [("id", id)];
    let calls = objects.iter().map(|object| {
        stores.json::<DeliveryStatus>(
            object,
            Method::Post,
            store_api::DELIVERY_RETRY,
            &query,
            None,
        )
    });
    let mut first_err = None;
    for result in join_all(calls).await {
        match result {
            Ok(status) => {
                return Ok(Answer::json(
                    200,
                    serde_json::to_string(&status).unwrap_or_default(),
                ))
            }
            Err(err) if err.status == 404 => {
                first_err.get_or_insert(err);
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(first_err
        .unwrap_or_else(|| ApiError::unavailable("the site has no audience store"))
        .into())
}
