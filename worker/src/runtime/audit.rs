//! The weekly audit: the Monday cron audits the published rules over the last week of each
//! site's stored log (the log of every shard, as `GET /v1/admin/events` serves it to the
//! console's Audit screen, with the weeks before it as history) and hands the summary and
//! warnings to the site's first audience store. That store alone writes the `audit.weekly`
//! notification, one outbox row per destination an `audit.weekly` trigger names, with an id
//! of the week: a cron run delivered again writes nothing, and no other shard writes it. The
//! `intent-deliveries` consumer sends it like any notification.

use intent_audience::send::AuditDigest;
use intent_engine::{AuditPeriod, Rules, Timestamp, TriggerEvent, VisitorLog};
use worker::{console_error, console_log, Env, Method};

use super::audiences::events_page;
use super::isolate;
use super::stores::Stores;
use crate::audience::store_api;
use crate::history::{History, HISTORY_KEY};
use crate::settings::{keys, names};

/// The audited period: the week before the cron.
const WEEK_SECS: i64 = 7 * 86_400;
/// The log read, in seconds: the period and the weeks before it, which build each visitor's
/// history (the console's audit reads as much, 30 days).
const LOG_SINCE_SECS: i64 = 30 * 86_400;

/// Audits every site and hands each site's digest to its first store, when the published rules
/// have an `audit.weekly` trigger.
pub async fn weekly(env: &Env, now: Timestamp) {
    let Some((rules, reviewed)) = published(env).await else {
        return;
    };
    if rules
        .triggers_for(TriggerEvent::AuditWeekly, None)
        .next()
        .is_none()
    {
        return;
    }
    let isolate = isolate::get(env);
    let stores = match Stores::open(env, &isolate.audience, rules.id()) {
        Ok(stores) => stores,
        Err(err) => {
            console_error!("weekly audit: {}", err.message);
            return;
        }
    };
    for site in &isolate.settings.sites {
        match site_audit(&stores, &rules, reviewed, site, now).await {
            Ok(0) => console_log!("weekly audit of site {site}: already written this week"),
            Ok(written) => {
                console_log!("weekly audit of site {site}: {written} notification(s) written")
            }
            Err(message) => console_error!("weekly audit of site {site}: {message}"),
        }
    }
}

/// The published rules and when they were last made active, from KV. None when nothing is
/// published (the built-in rules have no triggers) or it cannot be read, which is logged.
async fn published(env: &Env) -> Option<(Rules, Option<Timestamp>)> {
    let kv = match env.kv(names::RULES_KV) {
        Ok(kv) => kv,
        Err(err) => {
            console_error!("weekly audit: no RULES KV binding ({err})");
            return None;
        }
    };
    let text = match kv.get(keys::RULES).text().await {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(err) => {
            console_error!("weekly audit: reading the rules from KV failed: {err}");
            return None;
        }
    };
    let rules = match Rules::from_json_with(&text, crate::settings::checks()) {
        Ok(rules) => rules,
        Err(err) => {
            console_error!("weekly audit: the rules in KV are invalid: {err}");
            return None;
        }
    };
    // "Reviewed" is when the active version was last published or restored, as the console's
    // audit reads it; unknown without a history.
    let history = kv.get(HISTORY_KEY).text().await.ok().flatten();
    let reviewed = History::parse(history.as_deref()).ok().and_then(|h| {
        let v = h.get(rules.id())?;
        let at = v.activated_at.as_deref().or(v.published_at.as_deref())?;
        Timestamp::parse_rfc3339(at).ok()
    });
    Some((rules, reviewed))
}

/// One site: its log from every shard, the audit, and the digest to its first store. Answers
/// how many notifications the store wrote.
async fn site_audit(
    stores: &Stores,
    rules: &Rules,
    reviewed: Option<Timestamp>,
    site: &str,
    now: Timestamp,
) -> Result<usize, String> {
    let objects = stores.settings.objects(site);
    let first = objects
        .first()
        .ok_or_else(|| "the site has no audience store".to_owned())?;
    let since = LOG_SINCE_SECS.to_string();
    let mut text = String::new();
    for object in &objects {
        let mut after = None;
        loop {
            let (lines, next) = events_page(stores, object, &since, after)
                .await
                .map_err(|e| e.message)?;
            text.push_str(&lines);
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    let log = VisitorLog::from_jsonl(&text).map_err(|e| format!("the stored log: {e}"))?;
    let period = AuditPeriod {
        from: Timestamp::from_secs(now.secs() - WEEK_SECS),
        to: now,
        reviewed,
    };
    let digest = AuditDigest::of(&rules.audit(&log, period));
    let body = serde_json::to_string(&digest).map_err(|e| format!("the digest: {e}"))?;
    stores
        .json::<usize>(first, Method::Post, store_api::AUDIT, &[], Some(body))
        .await
        .map_err(|e| e.message)
}
