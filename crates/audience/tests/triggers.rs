//! Triggers: outbox rows written with the change that causes them, handed out in order and
//! paced, the sender's reports (retries, `Retry-After`, `410`, dead, retried on request),
//! `at_most`, backfills, erasure; each destination's request, and the Standard Webhooks
//! signature against the specification's published test vector.

use intent_audience::send::{
    hubspot_property_setup, request, sign, webhook_body, AuditDigest, Notification, SendContext,
};
use intent_audience::{
    Delivery, Outcome, Reported, RetrySchedule, Sql, Store, Subject, Value, LEASE_SECS,
};
use intent_engine::{Checks, Rules, Timestamp};
use serde_json::json;

use crate::support::*;

/// The default rules with destinations and triggers.
pub fn rules_with_triggers(at_most: Option<&str>) -> Rules {
    let mut cfg: serde_json::Value = serde_json::from_str(Rules::builtin_json()).unwrap();
    cfg["destinations"] = json!({
        "ops": {"type": "webhook", "url": "https://hooks.acme.com/intent", "secret": "env:WEBHOOK_SECRET"},
        "sales": {"type": "slack", "url": "env:SLACK_WEBHOOK_URL"},
        "crm": {"type": "hubspot", "token": "env:HUBSPOT_TOKEN"},
    });
    let mut entered =
        json!({"when": "entered", "audience": "ready", "to": ["ops", "sales", "crm"]});
    if let Some(a) = at_most {
        entered["at_most"] = a.into();
    }
    cfg["triggers"] = json!([
        entered,
        {"when": "left", "audience": "ready", "to": ["ops"]},
        {"when": "identified", "to": ["crm"]},
    ]);
    Rules::from_json(&cfg.to_string()).unwrap()
}

fn outbox(db: &Sqlite) -> Vec<(String, String, String, String)> {
    db.query(
        "SELECT visitor, destination, event, status FROM outbox ORDER BY seq",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        let t = |i: usize| r[i].as_str().unwrap().to_owned();
        (t(0), t(1), t(2), t(3))
    })
    .collect()
}

fn row(v: u32, destination: &str, event: &str, status: &str) -> (String, String, String, String) {
    (
        vid(v),
        destination.to_owned(),
        event.to_owned(),
        status.to_owned(),
    )
}

/// Three pricing views a minute apart: `ready` (the default rules) at the third.
fn three_pricing_views(rules: &Rules, edge: &mut Edge, start: i64) -> Vec<intent_audience::Record> {
    (0..3)
        .map(|i| edge.call(rules, start + i * MINUTE, &[page("/pricing/")]))
        .collect()
}

#[test]
fn entering_writes_one_row_per_destination_with_the_change() {
    let rules = rules_with_triggers(None);
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut jane = Edge::new(&rules, 1);
    let done = store
        .ingest(
            &three_pricing_views(&rules, &mut jane, T0),
            at(T0 + 3 * MINUTE),
        )
        .unwrap();
    assert_eq!(done.notifications, 3);
    assert_eq!(
        outbox(&db),
        [
            row(1, "ops", "audience.entered", "pending"),
            row(1, "sales", "audience.entered", "pending"),
            // Not identified: the CRM is skipped, and the log says why.
            row(1, "crm", "audience.entered", "skipped"),
        ]
    );
    let skipped = store.deliveries(Some("skipped"), 10).unwrap();
    assert_eq!(
        skipped.deliveries[0].error.as_deref(),
        Some("the visitor has not identified: hubspot takes identified visitors only")
    );
    // She identifies: the CRM hears of it, with her properties.
    let done = store
        .ingest(
            &[jane.call(&rules, T0 + 4 * MINUTE, &[identify("Jane@Acme.com")])],
            at(T0 + 4 * MINUTE),
        )
        .unwrap();
    assert_eq!(done.notifications, 1);
    let due = store.due(at(T0 + 4 * MINUTE), 10).unwrap();
    let crm = due.iter().find(|d| d.destination == "crm").unwrap();
    assert_eq!(crm.notification.kind, "visitor.identified");
    assert_eq!(
        crm.notification.visitor.as_ref().unwrap().email.as_deref(),
        Some("jane@acme.com")
    );
    assert_eq!(crm.notification.visitor.as_ref().unwrap().tier, "ready");
    // The notification of entering says why, from the explanation.
    let ops = due.iter().find(|d| d.destination == "ops").unwrap();
    assert_eq!(
        ops.notification.why.as_deref(),
        Some("viewed pricing pages at least 3 times within 14 days (seen: 3 times)")
    );
    // Nothing pending is left unhanded; a redelivered batch writes nothing.
    let again = store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 1), T0),
            at(T0 + 5 * MINUTE),
        )
        .unwrap();
    assert_eq!((again.events, again.notifications), (0, 0));
}

#[test]
fn a_failing_store_writes_neither_the_change_nor_its_notification() {
    let rules = rules_with_triggers(None);
    let settings = settings();
    let mut jane = Edge::new(&rules, 1);
    let batch = three_pricing_views(&rules, &mut jane, T0);
    let now = at(T0 + 3 * MINUTE);
    let mut failed = 0;
    for k in 0.. {
        let db = db();
        let store = Store::new(&db, &rules, &settings);
        db.fail_after(k);
        match store.ingest(&batch, now) {
            Ok(done) => {
                assert_eq!(done.notifications, 3);
                break;
            }
            Err(_) => failed += 1,
        }
        let members = db.query("SELECT COUNT(*) FROM memberships", &[]).unwrap();
        assert_eq!(members[0][0], Value::Integer(0), "statement {k}");
        assert!(outbox(&db).is_empty(), "statement {k} left a notification");
        let retried = store.ingest(&batch, now).unwrap();
        assert_eq!(retried.notifications, 3);
        assert_eq!(outbox(&db).len(), 3);
    }
    assert!(failed > 10, "only {failed} statements");
}

fn failed(status: u16) -> Outcome {
    Outcome::Failed {
        status: Some(status),
        retry_after: None,
        error: format!("HTTP {status}"),
    }
}

fn only(due: &[Delivery], destination: &str) -> Delivery {
    let mut found: Vec<&Delivery> = due
        .iter()
        .filter(|d| d.destination == destination)
        .collect();
    assert_eq!(found.len(), 1, "{due:?}");
    found.remove(0).clone()
}

#[test]
fn retries_follow_the_schedule_with_the_same_id_until_delivered() {
    let rules = rules_with_triggers(None);
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let schedule = RetrySchedule::default();
    let mut now = T0 + 3 * MINUTE;
    store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 1), T0),
            at(now),
        )
        .unwrap();
    let first = only(&store.due(at(now), 10).unwrap(), "ops");
    assert_eq!(first.attempt, 1);
    // Handed out, it is not handed out again while the sender has it.
    assert!(store
        .due(at(now + 1), 10)
        .unwrap()
        .iter()
        .all(|d| d.destination != "ops"));
    assert_eq!(
        store
            .report(&first.id, 1, &failed(500), at(now), &schedule)
            .unwrap(),
        Reported::Retrying { at: now + 5 }
    );
    // A second report of the same attempt changes nothing.
    assert_eq!(
        store
            .report(&first.id, 1, &failed(500), at(now), &schedule)
            .unwrap(),
        Reported::Ignored
    );
    assert!(store
        .due(at(now + 4), 10)
        .unwrap()
        .iter()
        .all(|d| d.destination != "ops"));
    now += 5;
    let second = only(&store.due(at(now), 10).unwrap(), "ops");
    assert_eq!((second.id.as_str(), second.attempt), (first.id.as_str(), 2));
    // The receiver asks for ten minutes, longer than the schedule's five: it is honoured.
    let busy = Outcome::Failed {
        status: Some(503),
        retry_after: Some(600),
        error: "HTTP 503".to_owned(),
    };
    assert_eq!(
        store
            .report(&second.id, 2, &busy, at(now), &schedule)
            .unwrap(),
        Reported::Retrying { at: now + 600 }
    );
    let listed = store.deliveries(Some("failed"), 10).unwrap();
    let ops = listed
        .deliveries
        .iter()
        .find(|d| d.destination == "ops")
        .unwrap();
    assert_eq!((ops.attempts, ops.last_status), (2, Some(503)));
    assert_eq!(ops.event, "audience.entered");
    now += 600;
    let third = only(&store.due(at(now), 10).unwrap(), "ops");
    assert_eq!((third.id.as_str(), third.attempt), (first.id.as_str(), 3));
    assert_eq!(
        store
            .report(
                &third.id,
                3,
                &Outcome::Delivered { status: 200 },
                at(now),
                &schedule
            )
            .unwrap(),
        Reported::Delivered
    );
    let delivered = store.deliveries(Some("delivered"), 10).unwrap();
    let ops = &delivered.deliveries[0];
    assert_eq!(
        (
            ops.id.as_str(),
            ops.status.as_str(),
            ops.attempts,
            ops.next_attempt_at.as_deref()
        ),
        (first.id.as_str(), "delivered", 3, None)
    );
    assert!(
        store.retry(&first.id, at(now)).is_err(),
        "a delivered one is not retried"
    );
}

#[test]
fn the_end_of_the_schedule_is_dead_and_a_retry_starts_it_again() {
    let rules = rules_with_triggers(None);
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let schedule = RetrySchedule::parse("1s,2s").unwrap();
    let mut now = T0 + 3 * MINUTE;
    store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 1), T0),
            at(now),
        )
        .unwrap();
    let mut id = String::new();
    for attempt in 1..=3 {
        let d = only(&store.due(at(now), 10).unwrap(), "ops");
        assert_eq!(d.attempt, attempt);
        id = d.id.clone();
        let r = store
            .report(&d.id, attempt, &failed(500), at(now), &schedule)
            .unwrap();
        now += 10;
        assert_eq!(r == Reported::Dead, attempt == 3, "{r:?}");
    }
    assert!(store
        .due(at(now + 3600), 10)
        .unwrap()
        .iter()
        .all(|d| d.destination != "ops"));
    let dead = store.deliveries(Some("dead"), 10).unwrap();
    assert_eq!(dead.deliveries[0].attempts, 3);
    assert_eq!(dead.deliveries[0].next_attempt_at, None);
    // Retried from the console: handed out now, and the schedule starts again.
    let retried = store.retry(&id, at(now)).unwrap();
    assert_eq!(retried.status, "pending");
    let d = only(&store.due(at(now), 10).unwrap(), "ops");
    assert_eq!((d.id.as_str(), d.attempt), (id.as_str(), 4));
    assert_eq!(
        store
            .report(&d.id, 4, &failed(500), at(now), &schedule)
            .unwrap(),
        Reported::Retrying { at: now + 1 }
    );
    let unknown = store.retry("msg_nope", at(now)).unwrap_err();
    assert_eq!(unknown.status(), 404);
    let bad = store.deliveries(Some("lost"), 10).unwrap_err();
    assert_eq!(bad.status(), 400);
    assert!(
        bad.to_json().contains("\"field\":\"status\""),
        "{}",
        bad.to_json()
    );
}

#[test]
fn gone_disables_the_destination_until_a_retry() {
    let rules = rules_with_triggers(None);
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let schedule = RetrySchedule::default();
    let now = T0 + 3 * MINUTE;
    store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 1), T0),
            at(now),
        )
        .unwrap();
    store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 2), T0),
            at(now),
        )
        .unwrap();
    let due = store.due(at(now), 10).unwrap();
    let ops: Vec<&Delivery> = due.iter().filter(|d| d.destination == "ops").collect();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        store
            .report(&ops[0].id, 1, &failed(410), at(now), &schedule)
            .unwrap(),
        Reported::Disabled
    );
    let listed = store.deliveries(None, 10).unwrap();
    assert!(
        listed.disabled["ops"].contains("HTTP 410"),
        "{:?}",
        listed.disabled
    );
    // The other visitor's delivery to it, out for a minute, comes back; nothing goes to `ops`.
    assert!(store
        .due(at(now + LEASE_SECS + 10), 10)
        .unwrap()
        .iter()
        .all(|d| d.destination != "ops"));
    assert!(store
        .next_delivery()
        .unwrap()
        .is_none_or(|t| t.secs() > now + LEASE_SECS + 10));
    store.retry(&ops[0].id, at(now + LEASE_SECS + 20)).unwrap();
    let due = store.due(at(now + LEASE_SECS + 20), 10).unwrap();
    assert_eq!(due.iter().filter(|d| d.destination == "ops").count(), 2);
    assert!(store.deliveries(None, 10).unwrap().disabled.is_empty());
}

#[test]
fn a_visitors_notifications_go_in_order_per_destination() {
    let rules = rules_with_triggers(None);
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let schedule = RetrySchedule::default();
    store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 1), T0),
            at(T0 + 3 * MINUTE),
        )
        .unwrap();
    // 14 days on, the views lapse: she leaves `ready`, a second notification to `ops`.
    let later = T0 + 15 * DAY;
    let alarmed = store.alarm(at(later)).unwrap();
    assert_eq!(alarmed.notifications, 1);
    let due = store.due(at(later), 10).unwrap();
    let ops = only(&due, "ops");
    assert_eq!(ops.notification.kind, "audience.entered", "the older first");
    assert!(store.due(at(later), 10).unwrap().is_empty());
    store
        .report(
            &ops.id,
            1,
            &Outcome::Delivered { status: 204 },
            at(later),
            &schedule,
        )
        .unwrap();
    let next = only(&store.due(at(later), 10).unwrap(), "ops");
    assert_eq!(next.notification.kind, "audience.left");
    assert_eq!(
        next.notification.why.as_deref(),
        Some("no longer viewed pricing pages at least 3 times within 14 days (seen: 0 times)")
    );
}

#[test]
fn at_most_notifies_once_across_leaving_and_entering_again() {
    let rules = rules_with_triggers(Some("1/30d"));
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut jane = Edge::new(&rules, 1);
    let entered = |db: &Sqlite| {
        outbox(db)
            .iter()
            .filter(|r| r.1 == "ops" && r.2 == "audience.entered")
            .count()
    };
    store
        .ingest(
            &three_pricing_views(&rules, &mut jane, T0),
            at(T0 + 3 * MINUTE),
        )
        .unwrap();
    store.alarm(at(T0 + 15 * DAY)).unwrap();
    let back = T0 + 20 * DAY;
    store
        .ingest(
            &three_pricing_views(&rules, &mut jane, back),
            at(back + 3 * MINUTE),
        )
        .unwrap();
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
    assert_eq!(entered(&db), 1, "once within 30 days");
    // `left` has no limit.
    assert_eq!(
        outbox(&db)
            .iter()
            .filter(|r| r.2 == "audience.left")
            .count(),
        1
    );
    store.alarm(at(back + 15 * DAY)).unwrap();
    let again = T0 + 40 * DAY;
    store
        .ingest(
            &three_pricing_views(&rules, &mut jane, again),
            at(again + 3 * MINUTE),
        )
        .unwrap();
    assert_eq!(entered(&db), 2, "again after 30 days");
}

#[test]
fn a_backfill_notifies_nobody_unless_the_publish_asks() {
    let plain = Rules::builtin();
    let settings = settings();
    for asked in [false, true] {
        let db = db();
        let store = Store::new(&db, plain, &settings);
        let mut jane = Edge::new(plain, 1);
        // Two pricing views: `evaluating` under the default rules.
        let calls: Vec<_> = (0..2)
            .map(|i| jane.call(plain, T0 + i * MINUTE, &[page("/pricing/")]))
            .collect();
        store.ingest(&calls, at(T0 + 2 * MINUTE)).unwrap();
        // New rules: two views are enough for `ready`, and entering it notifies.
        let mut cfg: serde_json::Value =
            serde_json::from_str(rules_with_triggers(None).source_json()).unwrap();
        cfg["tiers"][0]["when"] = json!({"viewed": {"group": "pricing", "at_least": 2}});
        let new = Rules::from_json(&cfg.to_string()).unwrap();
        let store = Store::new(&db, &new, &settings);
        // The publish call syncs the store, and asks or not.
        store.ingest(&[], at(T0 + 3 * MINUTE)).unwrap();
        if asked {
            store.fire_on_backfill().unwrap();
        }
        let alarmed = store.alarm(at(T0 + 3 * MINUTE)).unwrap();
        assert_eq!(member_ids(&store, "ready"), [vid(1)]);
        assert_eq!(alarmed.backfilled, 1);
        // Asked: `ops`, `sales`, and `crm` skipped (she has not identified).
        assert_eq!(
            alarmed.notifications,
            if asked { 3 } else { 0 },
            "asked: {asked}"
        );
    }
}

#[test]
fn slack_is_paced_and_erasure_removes_notifications() {
    let rules = rules_with_triggers(Some("1/30d"));
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let now = T0 + 3 * MINUTE;
    for v in 1..=4 {
        store
            .ingest(
                &three_pricing_views(&rules, &mut Edge::new(&rules, v), T0),
                at(now),
            )
            .unwrap();
    }
    let due = store.due(at(now), 100).unwrap();
    let mut slack: Vec<u32> = due
        .iter()
        .filter(|d| d.kind == "slack")
        .map(|d| d.delay_secs)
        .collect();
    slack.sort_unstable();
    assert_eq!(slack, [0, 1, 2, 3], "one a second");
    assert!(due
        .iter()
        .filter(|d| d.kind == "webhook")
        .all(|d| d.delay_secs == 0));
    let erased = store.erase(Subject::Visitor(&vid(1)), at(now)).unwrap();
    assert_eq!(erased.outbox, 3);
    let count = |table: &str| {
        db.query(
            &format!("SELECT COUNT(*) FROM {table} WHERE visitor = ?"),
            &[vid(1).as_str().into()],
        )
        .unwrap()[0][0]
            .clone()
    };
    assert_eq!(count("outbox"), Value::Integer(0));
    assert_eq!(count("fired"), Value::Integer(0));
    // A report for an erased delivery is ignored.
    let gone = due
        .iter()
        .find(|d| d.notification.visitor.as_ref().unwrap().id == vid(1))
        .unwrap();
    assert_eq!(
        store
            .report(
                &gone.id,
                1,
                &Outcome::Delivered { status: 200 },
                at(now),
                &RetrySchedule::default()
            )
            .unwrap(),
        Reported::Ignored
    );
}

// Each destination's request.

fn notification() -> Notification {
    serde_json::from_value(json!({
        "type": "audience.entered",
        "id": "msg_0123",
        "timestamp": "2026-11-20T10:03:00Z",
        "rules": "default@1a2b3c4d",
        "audience": {"name": "ready", "kind": "tier"},
        "visitor": {"id": "v-1", "email": "jane@acme.com", "account": "acme.com", "tier": "ready",
                    "segments": ["returning"], "score": 42.5, "last_seen": "2026-11-20T10:02:00Z"},
        "why": "viewed pricing pages at least 3 times within 14 days (seen: 3 times)",
    }))
    .unwrap()
}

fn env(name: &str) -> Option<String> {
    match name {
        "WEBHOOK_SECRET" => Some("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned()),
        "SLACK_WEBHOOK_URL" => Some("http://127.0.0.1:9001/slack".to_owned()),
        "HUBSPOT_TOKEN" => Some("pat-na1-test".to_owned()),
        "SF_TOKEN" => Some("00Dxx!token".to_owned()),
        "SEGMENT_WRITE_KEY" => Some("wk_123".to_owned()),
        _ => None,
    }
}

fn context<'a>(loopback: bool) -> SendContext<'a> {
    SendContext {
        site: "acme",
        now: at(1_795_169_000),
        origin: Some("https://edge.acme.com"),
        hubspot_api_base: "https://api.hubapi.com",
        checks: Checks {
            allow_loopback_destinations: loopback,
        },
        env: &env,
    }
}

fn destination(value: serde_json::Value) -> intent_engine::Destination {
    serde_json::from_value(value).unwrap()
}

#[test]
fn standard_webhooks_signature_matches_the_published_test_vector() {
    // The specification's reference libraries sign this message with this secret so.
    assert_eq!(
        sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
        ),
        Ok("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".to_owned())
    );
    assert!(sign("whsec_!!!", "id", 1, "{}").is_err());
}

#[test]
fn the_webhook_request_is_signed_and_its_body_is_the_contracts() {
    let n = notification();
    let d = destination(
        json!({"type": "webhook", "url": "https://hooks.acme.com/intent", "secret": "env:WEBHOOK_SECRET"}),
    );
    let r = request(&d, &n, &context(false)).unwrap();
    assert_eq!(
        (r.method, r.url.as_str()),
        ("POST", "https://hooks.acme.com/intent")
    );
    assert_eq!(
        r.body,
        r#"{"type":"audience.entered","id":"msg_0123","timestamp":"2026-11-20T10:03:00Z","site":"acme","rules":"default@1a2b3c4d","audience":{"name":"ready","kind":"tier"},"visitor":{"id":"v-1","email":"jane@acme.com","account":"acme.com","tier":"ready","segments":["returning"],"score":42.5,"last_seen":"2026-11-20T10:02:00Z"}}"#
    );
    assert_eq!(r.body, webhook_body(&n, "acme"));
    assert_eq!(r.header("webhook-id"), Some("msg_0123"));
    assert_eq!(r.header("webhook-timestamp"), Some("1795169000"));
    let expected = sign(
        &env("WEBHOOK_SECRET").unwrap(),
        "msg_0123",
        1_795_169_000,
        &r.body,
    )
    .unwrap();
    assert_eq!(r.header("webhook-signature"), Some(expected.as_str()));
    // At send time the URL is checked again, and a missing secret is named.
    let private = destination(
        json!({"type": "webhook", "url": "https://10.0.0.1/", "secret": "env:WEBHOOK_SECRET"}),
    );
    assert!(request(&private, &n, &context(true))
        .unwrap_err()
        .contains("private"));
    let unset = destination(
        json!({"type": "webhook", "url": "https://hooks.acme.com/", "secret": "env:NOPE"}),
    );
    assert!(request(&unset, &n, &context(false))
        .unwrap_err()
        .contains("`NOPE`"));
}

#[test]
fn slack_hubspot_salesforce_and_segment_requests() {
    let n = notification();
    let slack = destination(json!({"type": "slack", "url": "env:SLACK_WEBHOOK_URL"}));
    assert!(request(&slack, &n, &context(false))
        .unwrap_err()
        .contains("loopback"));
    let r = request(&slack, &n, &context(true)).unwrap();
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body["text"],
        "jane@acme.com (acme.com) entered *ready*: viewed pricing pages at least 3 times within 14 days (seen: 3 times)"
    );
    let context_line = body["blocks"][1]["elements"][0]["text"].as_str().unwrap();
    assert!(
        context_line.contains("<https://edge.acme.com/admin/#/visitors/v-1|Open in the console>"),
        "{context_line}"
    );

    let hubspot = destination(json!({"type": "hubspot", "token": "env:HUBSPOT_TOKEN"}));
    let r = request(&hubspot, &n, &context(false)).unwrap();
    assert_eq!(
        r.url,
        "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"
    );
    assert_eq!(r.header("authorization"), Some("Bearer pat-na1-test"));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"inputs": [{"idProperty": "email", "id": "jane@acme.com", "properties": {
            "email": "jane@acme.com", "intent_tier": "ready", "intent_segments": "returning",
            "intent_score": "42.5"}}]})
    );
    let mut anonymous = n.clone();
    if let Some(v) = anonymous.visitor.as_mut() {
        v.email = None;
    }
    assert!(request(&hubspot, &anonymous, &context(false))
        .unwrap_err()
        .contains("identified"));
    let setup = hubspot_property_setup("https://api.hubapi.com/", "pat");
    assert_eq!(
        setup.url,
        "https://api.hubapi.com/crm/v3/properties/contacts/batch/create"
    );
    assert!(setup.body.contains("\"name\":\"intent_score\""));

    let salesforce = destination(
        json!({"type": "salesforce", "instance_url": "https://acme.my.salesforce.com",
        "token": "env:SF_TOKEN", "external_id_field": "Intent_Email__c"}),
    );
    let r = request(&salesforce, &n, &context(false)).unwrap();
    assert_eq!(r.method, "PATCH");
    assert_eq!(
        r.url,
        "https://acme.my.salesforce.com/services/data/v61.0/sobjects/Lead/Intent_Email__c/jane%40acme.com"
    );
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (body["Company"].as_str(), body["Intent_Tier__c"].as_str()),
        (Some("acme.com"), Some("ready"))
    );

    let segment = destination(json!({"type": "segment", "write_key": "env:SEGMENT_WRITE_KEY"}));
    let r = request(&segment, &n, &context(false)).unwrap();
    assert_eq!(r.url, "https://api.segment.io/v1/batch");
    // base64("wk_123:")
    assert_eq!(r.header("authorization"), Some("Basic d2tfMTIzOg=="));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["batch"][0]["type"], "identify");
    assert_eq!(body["batch"][0]["traits"]["email"], "jane@acme.com");
    assert_eq!(body["batch"][1]["event"], "Audience Entered");
    assert_eq!(body["batch"][1]["messageId"], "msg_0123");
}

#[test]
fn a_refused_url_from_a_secret_is_not_repeated_in_the_error() {
    // A Slack incoming webhook's URL is a secret: the error names the reference, not the URL,
    // since it goes to the delivery log and the worker's log.
    let d = destination(json!({"type": "slack", "url": "env:SLACK_WEBHOOK_URL"}));
    let err = request(&d, &notification(), &context(false)).unwrap_err();
    assert!(!err.contains("127.0.0.1:9001/slack"), "{err}");
    assert!(err.contains("env:SLACK_WEBHOOK_URL"), "{err}");
    // A URL written in the rules is no secret: it is named as it is.
    let d = destination(
        json!({"type": "webhook", "url": "http://127.0.0.1:9001/hook", "secret": "env:WEBHOOK_SECRET"}),
    );
    let err = request(&d, &notification(), &context(false)).unwrap_err();
    assert!(err.contains("127.0.0.1:9001/hook"), "{err}");
}

#[test]
fn a_store_of_layout_1_migrates_to_the_new_outbox() {
    let db = Sqlite::memory();
    // Layout 1's outbox, which nothing wrote to.
    for statement in [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('schema', '1')",
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY, visitor TEXT NOT NULL, created_at INTEGER NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER)",
        "CREATE INDEX outbox_by_visitor ON outbox (visitor)",
    ] {
        db.query(statement, &[]).unwrap();
    }
    intent_audience::migrate(&db).unwrap();
    intent_audience::migrate(&db).unwrap();
    let version = db
        .query("SELECT value FROM meta WHERE key = 'schema'", &[])
        .unwrap();
    assert_eq!(version[0][0], Value::from("2"));
    let rules = rules_with_triggers(None);
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let done = store
        .ingest(
            &three_pricing_views(&rules, &mut Edge::new(&rules, 1), T0),
            at(T0 + 3 * MINUTE),
        )
        .unwrap();
    assert_eq!(done.notifications, 3);
}

// The weekly audit.

fn digest() -> AuditDigest {
    serde_json::from_value(json!({
        "from": "2026-11-23T06:00:00Z", "to": "2026-11-30T06:00:00Z", "visitors": 40, "events": 310,
        "audiences": [{"name": "ready", "kind": "tier", "members": 4, "share": 0.1, "entries": 5, "exits": 1}],
        "warnings": [{"code": "unreached", "audience": "offer-a-demo",
                      "message": "segment `offer-a-demo` reached no visitor in the period"}],
    }))
    .unwrap()
}

#[test]
fn the_weekly_audit_is_written_once_a_week_to_its_subscribers_and_sent_to_them() {
    let mut cfg: serde_json::Value =
        serde_json::from_str(rules_with_triggers(None).source_json()).unwrap();
    cfg["triggers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"when": "audit.weekly", "to": ["ops", "sales"]}));
    let rules = Rules::from_json(&cfg.to_string()).unwrap();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    // Monday 2026-11-30 06:00 UTC, the cron's time.
    let monday = 1_796_018_400;
    assert_eq!(
        Timestamp::from_secs(monday).to_string(),
        "2026-11-30T06:00:00Z"
    );
    assert_eq!(store.notify_audit(&digest(), at(monday)).unwrap(), 2);
    // The same cron again, or a run later that week: nothing more.
    assert_eq!(store.notify_audit(&digest(), at(monday)).unwrap(), 0);
    assert_eq!(
        store.notify_audit(&digest(), at(monday + 6 * DAY)).unwrap(),
        0
    );
    let rows: Vec<_> = outbox(&db).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(
        rows,
        [
            (String::new(), "ops".to_owned(), "audit.weekly".to_owned()),
            (String::new(), "sales".to_owned(), "audit.weekly".to_owned()),
        ]
    );
    let due = store.due(at(monday), 10).unwrap();
    assert_eq!(due.len(), 2, "{due:?}");
    let ops = only(&due, "ops");
    assert!(ops.notification.visitor.is_none());
    // The webhook body: the contract's fields, no audience or visitor, and the audit.
    let d = destination(
        json!({"type": "webhook", "url": "https://hooks.acme.com/intent", "secret": "env:WEBHOOK_SECRET"}),
    );
    let r = request(&d, &ops.notification, &context(false)).unwrap();
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["type"], "audit.weekly");
    assert_eq!(body["id"], ops.id.as_str());
    assert_eq!(body["site"], "acme");
    assert_eq!(body["rules"], rules.id());
    assert!(body["audience"].is_null() && body["visitor"].is_null());
    assert_eq!(body["audit"]["visitors"], 40);
    assert_eq!(body["audit"]["audiences"][0]["members"], 4);
    assert_eq!(body["audit"]["warnings"][0]["code"], "unreached");
    // Slack: a readable message with the figures and the warning.
    let sales = only(&due, "sales");
    let slack = destination(json!({"type": "slack", "url": "env:SLACK_WEBHOOK_URL"}));
    let r = request(&slack, &sales.notification, &context(true)).unwrap();
    let message: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let all = message.to_string();
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .starts_with("Weekly audit of rules"),
        "{all}"
    );
    assert!(
        all.contains("40 visitors") && all.contains("1 warning"),
        "{all}"
    );
    assert!(all.contains("*ready*: 4 members (10.0%), +5 −1"), "{all}");
    assert!(all.contains("reached no visitor"), "{all}");
    assert!(all.contains("https://edge.acme.com/admin/#/audit"), "{all}");
    // A CRM never gets it: a request for one says why.
    let crm = destination(json!({"type": "hubspot", "token": "env:HUBSPOT_TOKEN"}));
    assert!(request(&crm, &sales.notification, &context(false))
        .unwrap_err()
        .contains("about no visitor"));
    // The next week's audit is new.
    assert_eq!(
        store.notify_audit(&digest(), at(monday + 7 * DAY)).unwrap(),
        2
    );
}
