//! The rules admin API, behind the `ADMIN_TOKEN` bearer token (its routes are `Guard::Admin`
//! in the route table, which checks the token before these handlers run).
//!
//! - `GET /v1/admin/rules`: the active config as it was published (the built-in default rules
//!   as `intentctl defaults` prints them), with its id in `ETag` and `X-Intent-Rules` and its
//!   source in `X-Intent-Rules-Source`. `?version=previous` gives the version a rollback would
//!   restore, `?version=<id>` any kept version; any other value, or another parameter, is a
//!   400 naming it. What it answers can be edited and published again as it is.
//! - `PUT /v1/admin/rules`: validates the body and, only if it is valid, stores it as a new
//!   version of the history (`crate::history`). A broken config gets 422 with the same
//!   line/field message as `intentctl validate`. The answer says what the new rules do to
//!   visitors' profiles (`profiles`).
//! - `POST /v1/admin/rules/rollback`: makes the version that was active before the active one
//!   was published active again, or the version `{"to": "<id>"}` names.
//! - `GET /v1/admin/rules/history`: the kept versions, newest first.
//!
//! `PUT` and rollback honour `If-Match` (the `ETag` of `GET`): when the active version is no
//! longer the one named, nothing is changed and the answer is 412 with what was published
//! meanwhile. Changes are made one at a time in an isolate. KV is eventually consistent across
//! locations, so two publishers going through different locations within about a minute can
//! still both succeed (the README says what each can see).

use std::cell::Cell;
use std::time::Duration;

use futures_util::future::join;
use intent_engine::{Limits, Rules, ShapeChange};
use serde_json::{json, Value};
use worker::{console_warn, kv::KvStore, Delay, Request, Response};

use super::http;
use super::rules;
use super::{now, now_ms, Ctx, Failure};
use crate::api_error::ApiError;
use crate::headers::std_names;
use crate::history::{self, etag, looks_like_id, version_key, History, Version, HISTORY_KEY};
use crate::rules_cache::ActiveRules;
use crate::settings::{keys, names};

thread_local! {
    /// Since when (milliseconds) a publish or rollback of this isolate has been reading,
    /// checking and writing; `None` when none is. Changes happen one at a time, so that each
    /// `If-Match` is checked against the version it replaces.
    static CHANGING: Cell<Option<f64>> = const { Cell::new(None) };
}

/// How long a change waits for the one before it before answering 503.
const CHANGE_WAIT_MS: f64 = 10_000.0;
/// A change held longer than this belonged to a request the runtime cancelled: it is taken over.
const CHANGE_STALE_MS: f64 = 30_000.0;
/// How often a waiting change looks again.
const CHANGE_POLL: Duration = Duration::from_millis(5);

/// The turn of one publish or rollback; the next may start when it is dropped.
struct Turn;

impl Drop for Turn {
    fn drop(&mut self) {
        CHANGING.with(|c| c.set(None));
    }
}

/// Waits for this isolate's changes before this one to finish, then holds the turn.
///
/// NOTE: the wait is a loop over short timers rather than an async mutex. workerd cancels a
/// request that awaits something only another request can complete (a mutex released by
/// another request's code) as hung; a timer is the request's own, so it may wait on one.
async fn turn() -> Result<Turn, ApiError> {
    let start = now_ms();
    loop {
        let now = now_ms();
        let free = CHANGING.with(|c| match c.get() {
            Some(since) if now - since < CHANGE_STALE_MS => false,
            _ => {
                c.set(Some(now));
                true
            }
        });
        if free {
            return Ok(Turn);
        }
        if now - start > CHANGE_WAIT_MS {
            return Err(ApiError::unavailable(
                "another change of the rules is still being stored; nothing was changed, try again",
            ));
        }
        Delay::from(CHANGE_POLL).await;
    }
}

/// Largest rollback body: `{"to": "<id>"}`.
const ROLLBACK_BODY_BYTES: usize = 4 * 1024;

fn with_rules_headers(resp: Response, active: &ActiveRules) -> worker::Result<Response> {
    for (name, value) in active.headers() {
        resp.headers().set(name, &value)?;
    }
    resp.headers().set("etag", &etag(active.rules.id()))?;
    Ok(resp)
}

fn kv_failure(what: &str, err: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(format!(
        "{what} failed: {err}; nothing was changed, try again"
    ))
}

async fn put_kv(kv: &KvStore, key: &str, value: &str, what: &str) -> Result<(), ApiError> {
    kv.put(key, value)
        .map_err(|e| kv_failure(what, e))?
        .execute()
        .await
        .map_err(|e| kv_failure(what, e))
}

async fn get_kv(kv: &KvStore, key: &str, what: &str) -> Result<Option<String>, ApiError> {
    kv.get(key)
        .text()
        .await
        .map_err(|e| kv_failure(what, e))
        .map(|t| t.filter(|t| !t.trim().is_empty()))
}

/// What KV holds now: the `rules` text and the history.
struct Stored {
    text: Option<String>,
    history: History,
}

async fn read_stored(kv: &KvStore) -> Result<Stored, ApiError> {
    let (text, history) = join(kv.get(keys::RULES).text(), kv.get(HISTORY_KEY).text()).await;
    let text = text
        .map_err(|e| kv_failure("reading the current rules", e))?
        .filter(|t| !t.trim().is_empty());
    let history_text = history.map_err(|e| kv_failure("reading the rules history", e))?;
    let history = History::parse(history_text.as_deref()).map_err(|err| {
        ApiError::unavailable(format!(
            "the rules history in KV (`{HISTORY_KEY}`) cannot be read ({err}); nothing was changed. Repair or delete that key and try again"
        ))
    })?;
    Ok(Stored { text, history })
}

/// The version visitors' tokens are being made under: the valid config in KV, else the rules
/// this isolate serves (the last good ones, or the built-in ones). Its rules and its text.
fn current(stored: &Stored, ctx: &Ctx<'_>) -> (Rules, String) {
    if let Some(text) = &stored.text {
        match Rules::from_json(text) {
            Ok(rules) => return (rules, text.clone()),
            Err(err) => console_warn!(
                "the rules in KV are invalid ({err}); the version served counts as the current one"
            ),
        }
    }
    (
        Rules::clone(&ctx.rules.rules),
        ctx.rules.rules.text().to_owned(),
    )
}

/// The publish summary as the answers carry it: the engine's `ShapeChange` and its line.
fn profiles(change: &ShapeChange) -> Value {
    let mut value = serde_json::to_value(change).unwrap_or(Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("summary".to_owned(), change.to_string().into());
    }
    value
}

/// A version of the history: what it is, what it did, its shape.
fn version(rules: &Rules, previous: Option<&str>, summary: String) -> Version {
    Version {
        id: rules.id().to_owned(),
        published_at: None,
        activated_at: None,
        activation: 0,
        previous: previous.map(str::to_owned),
        summary,
        shape: rules.shape().to_record(),
    }
}

/// Before its first change, the history learns the version that was active until then (and
/// the one kept for rollback under `rules:previous` by earlier releases), so that rolling back
/// still works and their visitors' tokens carry over. Returns the texts to store for them.
async fn seed(
    history: &mut History,
    kv: &KvStore,
    current: &Rules,
    current_text: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    if !history.is_empty() {
        return Ok(Vec::new());
    }
    let mut texts = Vec::new();
    let legacy = get_kv(kv, keys::PREVIOUS, "reading the previous rules").await?;
    let older = legacy.and_then(|text| {
        Rules::from_json(&text)
            .ok()
            .filter(|r| r.id() != current.id())
            .map(|r| (r, text))
    });
    history.seed(version(
        current,
        older.as_ref().map(|(r, _)| r.id()),
        "active before the history of versions was kept".to_owned(),
    ));
    texts.push((current.id().to_owned(), current_text.to_owned()));
    if let Some((rules, text)) = older {
        history.seed(version(
            &rules,
            None,
            "kept for rollback before the history of versions was kept".to_owned(),
        ));
        texts.push((rules.id().to_owned(), text));
    }
    Ok(texts)
}

/// `None` when `If-Match` is absent or names the current version; else the 412 answer, with
/// what was published since the version it names.
fn refused(req: &Request, current: &Rules, history: &History) -> worker::Result<Option<Response>> {
    let Some(condition) = req.headers().get("if-match")? else {
        return Ok(None);
    };
    if history::if_match(&condition, current.id()) {
        return Ok(None);
    }
    let named = condition.trim().trim_start_matches("W/").trim_matches('"');
    let meanwhile: Vec<Value> = history
        .since(named)
        .iter()
        .map(|v| {
            json!({
                "id": v.id,
                "published_at": v.published_at,
                "activated_at": v.activated_at,
                "summary": v.summary,
            })
        })
        .collect();
    let since = history
        .get(current.id())
        .and_then(|v| {
            v.activated_at
                .as_deref()
                .map(|at| format!(" (made active {at})"))
        })
        .unwrap_or_default();
    let body = json!({
        "error": "precondition_failed",
        "message": format!(
            "the rules changed since version `{}`: the active version is now {}{since}; nothing was changed. Read them again (GET /v1/admin/rules), check your change against them, and send their ETag in If-Match",
            crate::api_error::echo(named),
            current.id()
        ),
        "current": current.id(),
        "meanwhile": meanwhile,
    });
    let resp = http::json(body.to_string(), 412)?;
    resp.headers().set("etag", &etag(current.id()))?;
    Ok(Some(resp))
}

/// The answer of a publish or a rollback.
fn changed(
    active: &ActiveRules,
    previous: Option<&str>,
    change: &ShapeChange,
) -> worker::Result<Response> {
    let body = json!({
        "id": active.rules.id(),
        "previous": previous,
        "stored": true,
        "etag": etag(active.rules.id()),
        "profiles": profiles(change),
    });
    with_rules_headers(http::json(body.to_string(), 200)?, active)
}

/// Deletes the texts of versions the history no longer keeps. A failure leaves an unused key
/// behind, nothing worse: it is logged, not answered.
async fn forget(kv: &KvStore, dropped: &[String]) {
    for id in dropped {
        if let Err(err) = kv.delete(&version_key(id)).await {
            console_warn!("could not delete the text of the dropped rules version {id}: {err}");
        }
    }
}

/// Stores a change: the `texts` of versions (id, text) the history now keeps, then the
/// `history`, then the `active` rules. In that order, a failure part-way leaves the active rules
/// as they were, with every shape their visitors' tokens were made under kept; a failure of the
/// last write is answered with `retry`, what to do about it.
async fn store(
    kv: &KvStore,
    texts: &[(String, String)],
    history: &str,
    active: &str,
    retry: &str,
) -> Result<(), ApiError> {
    for (id, text) in texts {
        put_kv(kv, &version_key(id), text, "storing a rules version").await?;
    }
    put_kv(kv, HISTORY_KEY, history, "storing the rules history").await?;
    let failed = |err: &dyn std::fmt::Display| {
        ApiError::unavailable(format!("storing the active rules failed: {err}; {retry}"))
    };
    kv.put(keys::RULES, active)
        .map_err(|e| failed(&e))?
        .execute()
        .await
        .map_err(|e| failed(&e))
}

/// Which version `GET /v1/admin/rules` is asked for.
enum Asked {
    Active,
    Previous,
    Id(String),
}

fn asked(ctx: &Ctx<'_>) -> Result<Asked, Failure> {
    let query = ctx.url.query.unwrap_or_default();
    let mut asked = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != "version" {
            return Err(ApiError::unknown_parameter(&key, "only `version`").into());
        }
        if asked.is_some() {
            return Err(ApiError::bad_request("`version` is given more than once").into());
        }
        asked = Some(if value == "previous" {
            Asked::Previous
        } else if looks_like_id(&value) {
            Asked::Id(value.into_owned())
        } else {
            return Err(ApiError::bad_version(&value).into());
        });
    }
    Ok(asked.unwrap_or(Asked::Active))
}

/// `GET /v1/admin/rules[?version=previous|<id>]`.
pub async fn get(_req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let kv = || ctx.env.kv(names::RULES_KV);
    let id = match asked(ctx)? {
        Asked::Active => {
            let resp = http::json(ctx.rules.rules.text().to_owned(), 200)?;
            return Ok(with_rules_headers(resp, &ctx.rules)?);
        }
        Asked::Previous => {
            let kv = kv()?;
            let stored = read_stored(&kv).await?;
            let (current, _) = current(&stored, ctx);
            match stored.history.rollback_target(current.id()) {
                Some(v) => v.id.clone(),
                None if stored.history.is_empty() => {
                    // Before the first change through this release: the rollback copy that
                    // earlier releases kept.
                    let text = get_kv(&kv, keys::PREVIOUS, "reading the previous rules")
                        .await?
                        .ok_or_else(ApiError::no_previous_rules)?;
                    return Ok(http::json(text, 200)?);
                }
                None => return Err(ApiError::no_previous_rules().into()),
            }
        }
        Asked::Id(id) => id,
    };
    let kv = kv()?;
    let text = get_kv(&kv, &version_key(&id), "reading a kept rules version")
        .await?
        .ok_or_else(|| ApiError::unknown_version(&id))?;
    let resp = http::json(text, 200)?;
    resp.headers().set("x-intent-rules", &id)?;
    Ok(resp)
}

/// `GET /v1/admin/rules/history`.
pub async fn list(_req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let query = ctx.url.query.unwrap_or_default();
    if let Some((key, _)) = form_urlencoded::parse(query.as_bytes()).next() {
        return Err(ApiError::unknown_parameter(&key, "no parameters").into());
    }
    let kv = ctx.env.kv(names::RULES_KV)?;
    let stored = read_stored(&kv).await?;
    let (current, _) = current(&stored, ctx);
    let versions: Vec<Value> = stored
        .history
        .versions
        .iter()
        .map(|v| {
            json!({
                "id": v.id,
                "published_at": v.published_at,
                "activated_at": v.activated_at,
                "previous": v.previous,
                "summary": v.summary,
                "active": v.id == current.id(),
            })
        })
        .collect();
    let body = json!({"active": current.id(), "versions": versions});
    let resp = http::json(body.to_string(), 200)?;
    resp.headers().set("etag", &etag(current.id()))?;
    Ok(resp)
}

/// `PUT /v1/admin/rules`.
pub async fn put(req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let length = req.headers().get(std_names::CONTENT_LENGTH)?;
    let text = http::read_text(req.inner(), length.as_deref(), Limits::CONFIG_BYTES).await?;
    let new_rules = Rules::from_json(&text).map_err(|e| ApiError::invalid_rules(e.to_string()))?;

    let _turn = turn().await?;
    let kv = ctx.env.kv(names::RULES_KV)?;
    let mut stored = read_stored(&kv).await?;
    let (current, current_text) = current(&stored, ctx);
    if let Some(resp) = refused(&req, &current, &stored.history)? {
        return Ok(resp);
    }
    let change = new_rules.change_from(&current);

    if new_rules.id() == current.id() {
        // The same config again (perhaps written differently): not a new version. Its text is
        // kept as sent, so that GET answers what was published.
        if stored.text.as_deref() != Some(text.as_str()) {
            put_kv(&kv, keys::RULES, &text, "storing the rules").await?;
            if stored.history.get(new_rules.id()).is_some() {
                put_kv(
                    &kv,
                    &version_key(new_rules.id()),
                    &text,
                    "storing the rules version",
                )
                .await?;
            }
        }
        let history = stored.history.to_json();
        let active = rules::publish(new_rules, text, history, now_ms());
        return Ok(changed(&active, None, &change)?);
    }

    let seeded = seed(&mut stored.history, &kv, &current, &current_text).await?;
    let at = now().to_string();
    let dropped = stored.history.publish(
        version(&new_rules, Some(current.id()), change.to_string()),
        &at,
    );
    let mut texts = seeded;
    texts.push((new_rules.id().to_owned(), text.clone()));
    let history = stored.history.to_json();
    store(
        &kv,
        &texts,
        &history,
        &text,
        "the history already lists the new version: publish the same file again",
    )
    .await?;
    forget(&kv, &dropped).await;

    super::audiences::rules_published(ctx, &text).await;
    let active = rules::publish(new_rules, text, history, now_ms());
    Ok(changed(&active, Some(current.id()), &change)?)
}

/// The version a rollback body names: `{"to": "<id>"}`, or nothing (an empty body).
fn rollback_to(body: &str) -> Result<Option<String>, ApiError> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be empty or `{{\"to\": \"<version id>\"}}`: {e}"
        ))
    })?;
    let Some(obj) = value.as_object() else {
        return Err(ApiError::bad_request(
            "the body must be empty or `{\"to\": \"<version id>\"}`",
        ));
    };
    if let Some(key) = obj.keys().find(|k| *k != "to") {
        return Err(ApiError::bad_request(format!(
            "`{}`: unknown field; a rollback reads only `to`",
            crate::api_error::echo(key)
        )));
    }
    match obj.get("to") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if looks_like_id(id) => Ok(Some(id.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "`to`: expected a version id like `default@1c63f927` (GET /v1/admin/rules/history lists them), found {}",
            crate::api_error::echo(&other.to_string())
        ))),
    }
}

/// `POST /v1/admin/rules/rollback`.
pub async fn rollback(req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let length = req.headers().get(std_names::CONTENT_LENGTH)?;
    let body = http::read_text(req.inner(), length.as_deref(), ROLLBACK_BODY_BYTES).await?;
    let to = rollback_to(&body)?;

    let _turn = turn().await?;
    let kv = ctx.env.kv(names::RULES_KV)?;
    let mut stored = read_stored(&kv).await?;
    let (current, current_text) = current(&stored, ctx);
    if let Some(resp) = refused(&req, &current, &stored.history)? {
        return Ok(resp);
    }
    let seeded = seed(&mut stored.history, &kv, &current, &current_text).await?;
    let target = match to {
        Some(id) => id,
        None => stored
            .history
            .rollback_target(current.id())
            .map(|v| v.id.clone())
            .ok_or_else(ApiError::no_previous_rules)?,
    };
    if target == current.id() {
        return Err(ApiError::already_active(&target).into());
    }
    if stored.history.get(&target).is_none() {
        return Err(ApiError::unknown_version(&target).into());
    }
    let text = match seeded.iter().find(|(id, _)| *id == target) {
        Some((_, text)) => text.clone(),
        None => get_kv(&kv, &version_key(&target), "reading the rules version")
            .await?
            .ok_or_else(|| {
                ApiError::unavailable(format!(
                    "the text of version `{target}` is missing from KV; nothing was changed"
                ))
            })?,
    };
    let restored = Rules::from_json(&text).map_err(|e| {
        ApiError::invalid_rules(format!("version `{target}` no longer validates: {e}"))
    })?;
    let change = restored.change_from(&current);
    stored.history.activate(&target, &now().to_string());

    let history = stored.history.to_json();
    store(
        &kv,
        &seeded,
        &history,
        &text,
        "the history already lists it as active: roll back to it again",
    )
    .await?;
    super::audiences::rules_published(ctx, &text).await;
    let active = rules::publish(restored, text, history, now_ms());
    Ok(changed(&active, Some(current.id()), &change)?)
}
