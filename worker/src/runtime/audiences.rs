//! The audiences admin API, behind the same bearer token as the rules (its routes are
//! `Guard::Admin`). `?site=` picks the site (default: the first of `SITES`). Every answer asks
//! each shard of the site's store and merges with `intent-audience`'s merge functions; ids and
//! parameters are checked here first, so a bad request costs no call to a store.
//!
//! - `GET /v1/admin/audiences`: every tier and segment with its member count.
//! - `GET /v1/admin/audiences/<name>?format=json|csv&limit=&cursor=`: a page of members as JSON,
//!   or the whole audience as CSV, streamed page by page.
//! - `GET /v1/admin/accounts?within=7d`: accounts with a visitor seen within the window.
//! - `GET /v1/admin/visitors/<id>`: one visitor's record, memberships, timeline, explanation.
//! - `GET /v1/admin/events?since=30d`: the event log as JSON Lines, as `intentctl simulate`
//!   reads it, streamed page by page.
//! - `DELETE /v1/admin/visitors/<id>`, `DELETE /v1/admin/visitors?email=`: erasure.
//!
//! A publish (`PUT /v1/admin/rules`, rollback) hands the new rules to every store
//! ([`rules_published`]) so that their backfill starts at once.

use futures_util::stream;
use intent_audience::{
    check_visitor, csv_rows, merge_accounts, merge_counts, merge_members, parse_window, resolve,
    Accounts, Audience, AudienceCounts, Erased, Format, MembersPage, MembersRequest, CSV_HEADER,
};
use intent_engine::Email;
use serde::Serialize;
use worker::{console_error, console_warn, Method, Request, Response};

use super::stores::Stores;
use super::{Ctx, Failure, Reply};
use crate::api_error::ApiError;
use crate::audience::store_api;
use crate::headers::Answer;

/// Default `within` of the accounts view.
const DEFAULT_WITHIN: &str = "7d";
/// Default `since` of the event log's export.
const DEFAULT_SINCE: &str = "30d";

/// The query's pairs.
fn query(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    form_urlencoded::parse(ctx.url.query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'q>(pairs: &'q [(String, String)], name: &str) -> Option<&'q str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The site the call is about: `?site=`, else the first of `SITES`.
fn site<'c>(ctx: &'c Ctx<'_>, pairs: &'c [(String, String)]) -> Result<&'c str, ApiError> {
    let site = param(pairs, "site").unwrap_or_else(|| ctx.settings.proxy_site());
    if ctx.settings.knows_site(site) {
        Ok(site)
    } else {
        Err(ApiError::unknown_site(site))
    }
}

fn stores(ctx: &Ctx<'_>) -> Result<Stores, ApiError> {
    Stores::open(ctx.env, &ctx.isolate.audience, ctx.rules.rules.id())
}

fn json_answer<T: Serialize>(value: &T) -> Answer {
    Answer::json(200, serde_json::to_string(value).unwrap_or_default())
}

/// The path's last part after `prefix`.
fn tail<'p>(ctx: &Ctx<'p>, prefix: &str) -> &'p str {
    ctx.url.path.strip_prefix(prefix).unwrap_or_default()
}

/// `GET /v1/admin/audiences`.
pub async fn list(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let stores = stores(ctx)?;
    let parts: Vec<AudienceCounts> = stores
        .each(site, Method::Get, store_api::AUDIENCES, &[])
        .await?;
    let merged = merge_counts(parts)
        .ok_or_else(|| ApiError::unavailable("the site has no audience store"))?;
    Ok(json_answer(&merged))
}

/// One merged page of `audience`'s members after `cursor`.
async fn page(
    stores: &Stores,
    site: &str,
    audience: &Audience,
    req: &MembersRequest,
) -> Result<MembersPage, ApiError> {
    let limit = req.limit.to_string();
    let format = match req.format {
        Format::Json => "json",
        Format::Csv => "csv",
    };
    let mut q: Vec<(&str, &str)> = vec![
        ("name", audience.name.as_str()),
        ("format", format),
        ("limit", &limit),
    ];
    if let Some(cursor) = &req.cursor {
        q.push(("cursor", cursor));
    }
    let pages: Vec<MembersPage> = stores
        .each(site, Method::Get, store_api::MEMBERS, &q)
        .await?;
    Ok(merge_members(audience, pages, req.limit))
}

/// `GET /v1/admin/audiences/<name>?format=json|csv&limit=&cursor=`.
pub async fn members(_req: Request, ctx: &Ctx<'_>) -> Result<Reply, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?.to_owned();
    let name = tail(ctx, "/v1/admin/audiences/");
    let audience = resolve(&ctx.rules.rules, name).map_err(ApiError::from)?;
    let req = MembersRequest::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(ApiError::from)?;
    let stores = stores(ctx)?;
    let first = page(&stores, &site, &audience, &req).await?;
    if req.format == Format::Json {
        return Ok(Reply::Answer(json_answer(&first)));
    }
    // CSV: the first page is read before the answer starts, so that a bad cursor or a store
    // failure is still an error status; then page after page as the client reads.
    let file = format!("{}.csv", audience.name);
    let state = Some((stores, site, audience, req, Some(first)));
    let body = stream::unfold(state, |state| async move {
        let (stores, site, audience, mut req, ready) = state?;
        let (page, header) = match ready {
            Some(first) => (first, true),
            None => match page(&stores, &site, &audience, &req).await {
                Ok(p) => (p, false),
                Err(err) => {
                    console_error!("an audience's CSV broke off: {}", err.message);
                    return Some((Err(worker::Error::RustError(err.message)), None));
                }
            },
        };
        let mut chunk = String::new();
        if header {
            chunk.push_str(CSV_HEADER);
        }
        chunk.push_str(&csv_rows(&page.members));
        req.cursor = page.next_cursor;
        let next = if req.cursor.is_some() {
            Some((stores, site, audience, req, None))
        } else {
            None
        };
        Some((Ok(chunk.into_bytes()), next))
    });
    let resp = Response::from_stream(body)?;
    let h = resp.headers();
    h.set("content-type", "text/csv; charset=utf-8")?;
    h.set(
        "content-disposition",
        &format!("attachment; filename=\"{file}\""),
    )?;
    h.set("cache-control", "no-store")?;
    Ok(Reply::Stream(resp))
}

/// `GET /v1/admin/accounts?within=7d`.
pub async fn accounts(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let within = parse_window("within", param(&pairs, "within").unwrap_or(DEFAULT_WITHIN))
        .map_err(ApiError::from)?;
    let stores = stores(ctx)?;
    let within = within.to_string();
    let parts: Vec<Accounts> = stores
        .each(
            site,
            Method::Get,
            store_api::ACCOUNTS,
            &[("within", &within)],
        )
        .await?;
    Ok(json_answer(&merge_accounts(&ctx.rules.rules, parts)))
}

/// `GET /v1/admin/visitors/<id>`.
pub async fn visitor(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let id = tail(ctx, "/v1/admin/visitors/");
    check_visitor(id).map_err(ApiError::from)?;
    let stores = stores(ctx)?;
    let object = stores.settings.object_of(site, id);
    let mut resp = stores
        .call(
            &object,
            Method::Get,
            store_api::VISITOR,
            &[("id", id)],
            None,
        )
        .await?;
    let text = resp.text().await?;
    Ok(Answer::json(200, text))
}

/// `DELETE /v1/admin/visitors/<id>`.
pub async fn erase_visitor(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let id = tail(ctx, "/v1/admin/visitors/");
    check_visitor(id).map_err(ApiError::from)?;
    let stores = stores(ctx)?;
    let object = stores.settings.object_of(site, id);
    let erased: Erased = stores
        .json(
            &object,
            Method::Post,
            store_api::ERASE,
            &[("visitor", id)],
            None,
        )
        .await?;
    Ok(json_answer(&erased))
}

/// `DELETE /v1/admin/visitors?email=`: everyone who identified with the email, on every shard.
pub async fn erase_email(_req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let email = param(&pairs, "email").ok_or_else(|| {
        ApiError::bad_request(
            "`email`: name the person to erase, `?email=jane@acme.com` (or use /v1/admin/visitors/<id>)",
        )
    })?;
    let email = Email::parse(email).map_err(|e| ApiError::bad_request(format!("`email`: {e}")))?;
    let stores = stores(ctx)?;
    let parts: Vec<Erased> = stores
        .each(
            site,
            Method::Post,
            store_api::ERASE,
            &[("email", email.as_str())],
        )
        .await?;
    Ok(json_answer(&Erased::merge(parts)))
}

/// `GET /v1/admin/events?since=30d`: every shard's log, page by page, as JSON Lines.
pub async fn events(_req: Request, ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let pairs = query(ctx);
    let site = site(ctx, &pairs)?;
    let since = parse_window("since", param(&pairs, "since").unwrap_or(DEFAULT_SINCE))
        .map_err(ApiError::from)?
        .to_string();
    let stores = stores(ctx)?;
    let objects = stores.settings.objects(site);
    // The first page of the first shard before the answer starts: a store failure is still a
    // status.
    let first_object = objects
        .first()
        .ok_or_else(|| ApiError::unavailable("the site has no audience store"))?;
    let first = events_page(&stores, first_object, &since, None).await?;
    let state = Some((stores, objects, since, 0usize, Some(first)));
    let body = stream::unfold(state, |state| async move {
        let (stores, objects, since, mut shard, ready) = state?;
        let (lines, next) = match ready {
            Some(page) => page,
            None => return None,
        };
        // Read ahead: the next page of this shard, else the first of the next shard.
        let following = match next {
            Some(after) => match objects.get(shard) {
                Some(object) => Some(events_page(&stores, object, &since, Some(after)).await),
                None => None,
            },
            None => {
                shard += 1;
                match objects.get(shard) {
                    Some(object) => Some(events_page(&stores, object, &since, None).await),
                    None => None,
                }
            }
        };
        match following {
            None => Some((Ok::<_, worker::Error>(lines.into_bytes()), None)),
            Some(Ok(page)) => Some((
                Ok(lines.into_bytes()),
                Some((stores, objects, since, shard, Some(page))),
            )),
            Some(Err(err)) => {
                console_error!("the event log's export broke off: {}", err.message);
                Some((
                    Ok(lines.into_bytes()),
                    Some((stores, objects, since, shard, None)),
                ))
            }
        }
    });
    let resp = Response::from_stream(body)?;
    resp.headers()
        .set("content-type", "application/x-ndjson; charset=utf-8")?;
    resp.headers().set("cache-control", "no-store")?;
    Ok(resp)
}

/// One page of a store's event log: its lines and where the next starts.
pub(super) async fn events_page(
    stores: &Stores,
    object: &str,
    since: &str,
    after: Option<i64>,
) -> Result<(String, Option<i64>), ApiError> {
    let after = after.map(|a| a.to_string());
    let mut q = vec![("since", since)];
    if let Some(after) = &after {
        q.push(("after", after));
    }
    let mut resp = stores
        .call(object, Method::Get, store_api::EVENTS, &q, None)
        .await?;
    let next = resp
        .headers()
        .get(store_api::NEXT)
        .ok()
        .flatten()
        .and_then(|n| n.parse::<i64>().ok());
    let lines = resp
        .text()
        .await
        .map_err(|e| ApiError::unavailable(format!("reading the event log: {e}")))?;
    Ok((lines, next))
}

/// Hands newly published rules to every store of every site, so that each starts its backfill
/// now. A store that cannot be told finds the rules later by itself (it compares the rules each
/// call names with its own), so a failure here is logged, not answered. `fire_triggers`: the
/// publish asked the backfill to fire triggers (a store that finds the rules by itself does
/// not: the default, firing nothing, is the safe side).
pub async fn rules_published(ctx: &Ctx<'_>, text: &str, fire_triggers: bool) {
    let stores = match stores(ctx) {
        Ok(stores) => stores,
        Err(_) => return,
    };
    let objects: Vec<String> = ctx
        .settings
        .sites
        .iter()
        .flat_map(|site| stores.settings.objects(site))
        .collect();
    let fire = [(store_api::FIRE_TRIGGERS, "true")];
    let calls = objects.iter().map(|object| {
        stores.call(
            object,
            Method::Post,
            store_api::RULES_PUBLISHED,
            if fire_triggers { &fire[..] } else { &[] },
            Some(text.to_owned()),
        )
    });
    for (object, result) in objects
        .iter()
        .zip(futures_util::future::join_all(calls).await)
    {
        if let Err(err) = result {
            console_warn!(
                "the audience store {object} was not told of the new rules ({}); it picks them up from KV",
                err.message
            );
        }
    }
}
