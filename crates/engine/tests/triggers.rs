//! Destinations and triggers: what the checks accept, and which triggers a log fires.

use intent_engine::{replay_triggers, Checks, LogEvent, Rules, Timestamp, TriggerEvent};

const DAY: i64 = 86_400;

fn rules(destination_url: &str, at_most: &str) -> String {
    format!(
        r#"{{
  "version": 1,
  "page_groups": {{"pricing": ["/pricing*"]}},
  "tiers": [{{"name": "ready", "when": {{"viewed": {{"group": "pricing", "at_least": 3, "within": "14d"}}}}}}],
  "fallback": "researching",
  "destinations": {{
    "ops": {{"type": "webhook", "url": "{destination_url}", "secret": "env:WEBHOOK_SECRET"}},
    "crm": {{"type": "hubspot", "token": "env:HUBSPOT_TOKEN"}}
  }},
  "triggers": [
    {{"when": "entered", "audience": "ready", "to": ["ops"]{at_most}}},
    {{"when": "left", "audience": "ready", "to": ["crm"]}},
    {{"when": "identified", "to": ["crm"]}}
  ]
}}"#
    )
}

/// A log line: `fields` are the event's, after the visitor and the time.
fn event(visitor: &str, at: i64, fields: &str) -> LogEvent {
    let line = format!(
        r#"{{"visitor":"{visitor}","ts":"{}",{fields}}}"#,
        Timestamp::from_secs(at)
    );
    LogEvent::parse(&line, 1).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn pricing(visitor: &str, at: i64) -> LogEvent {
    event(
        visitor,
        at,
        r#""type":"pageview","url":"https://acme.test/pricing""#,
    )
}

#[test]
fn loopback_destinations_only_when_allowed() {
    let text = rules("http://127.0.0.1:9000/hook", "");
    let e = Rules::from_json(&text).err().map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("`destinations.ops.url`") && e.contains("loopback")),
        "{e:?}"
    );
    let dev = Checks {
        allow_loopback_destinations: true,
    };
    assert!(Rules::from_json_with(&text, dev).is_ok());
    // Development allows loopback, never a private or metadata address.
    for url in ["http://10.0.0.1/", "http://169.254.169.254/"] {
        let e = Rules::from_json_with(&rules(url, ""), dev)
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.contains("`destinations.ops.url`")),
            "{url}: {e:?}"
        );
    }
}

#[test]
fn destinations_and_triggers_keep_the_rules_id_of_rules_without_them() {
    let with = Rules::from_json(&rules("https://hooks.acme.com/x", "")).unwrap();
    assert_eq!(with.config().triggers.len(), 3);
    let schema = Rules::json_schema().to_string();
    for word in [
        "destinations",
        "triggers",
        "at_most",
        "hubspot",
        "salesforce",
        "segment",
    ] {
        assert!(schema.contains(word), "{word} missing from the schema");
    }
    // A config without triggers serialises without the keys, so its id is unchanged.
    assert!(!Rules::builtin().source_json().contains("triggers"));
}

#[test]
fn a_log_fires_entered_left_and_identified_with_at_most_applied() {
    let r = Rules::from_json(&rules(
        "https://hooks.acme.com/x",
        r#", "at_most": "1/30d""#,
    ))
    .unwrap();
    let t0 = 1_795_000_000;
    let log = vec![
        pricing("v1", t0),
        pricing("v1", t0 + 60),
        pricing("v1", t0 + 120),
        event(
            "v1",
            t0 + 180,
            r#""type":"identify","email":"Jane@Acme.com""#,
        ),
        event(
            "v1",
            t0 + 240,
            r#""type":"identify","email":"jane@acme.com""#,
        ),
        // Out of `ready` 14 days after the first view; back in on day 20, within 30 days.
        pricing("v1", t0 + 20 * DAY),
        pricing("v1", t0 + 20 * DAY + 60),
        pricing("v1", t0 + 20 * DAY + 120),
        // Again after the 30 days: notified again.
        pricing("v1", t0 + 50 * DAY),
        pricing("v1", t0 + 50 * DAY + 60),
        pricing("v1", t0 + 50 * DAY + 120),
    ];
    let fired = replay_triggers(&r, &log, Timestamp::from_secs(t0 + 60 * DAY));
    let seen: Vec<(i64, TriggerEvent, bool)> = fired
        .iter()
        .map(|f| (f.at.secs() - t0, f.when, f.held))
        .collect();
    // The first view counts from its own second: it leaves the 14-day window 14 days + 1 s on.
    let lapse = |start: i64| start + 14 * DAY + 1;
    assert_eq!(
        seen,
        vec![
            (120, TriggerEvent::Entered, false),
            (180, TriggerEvent::Identified, false),
            (lapse(0), TriggerEvent::Left, false),
            (20 * DAY + 120, TriggerEvent::Entered, true),
            (lapse(20 * DAY), TriggerEvent::Left, false),
            (50 * DAY + 120, TriggerEvent::Entered, false),
        ]
    );
    assert!(fired.iter().all(|f| f.visitor == "v1"));
    assert_eq!(fired[0].to, vec!["ops"]);
    assert_eq!(fired[0].audience.as_deref(), Some("ready"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Whatever the traffic: a visitor enters and leaves an audience alternately, entering
    /// first; no span of 30 days holds more than two notifications of the `2/30d` trigger; a
    /// held one is one the limit would have exceeded.
    #[test]
    fn at_most_holds_in_every_window(days in proptest::collection::vec(0i64..120, 1..40)) {
        let r = Rules::from_json(&rules("https://hooks.acme.com/x", r#", "at_most": "2/30d""#)).unwrap();
        let t0 = 1_795_000_000;
        let mut log: Vec<LogEvent> = days.iter().enumerate()
            .map(|(i, d)| pricing("v1", t0 + d * DAY + i as i64))
            .collect();
        log.sort_by_key(|e| e.at);
        let fired = replay_triggers(&r, &log, Timestamp::from_secs(t0 + 150 * DAY));
        let ready: Vec<_> = fired.iter().filter(|f| f.audience.as_deref() == Some("ready")).collect();
        for (i, f) in ready.iter().enumerate() {
            let expected = if i % 2 == 0 { TriggerEvent::Entered } else { TriggerEvent::Left };
            proptest::prop_assert_eq!(f.when, expected);
        }
        let sent: Vec<i64> = ready.iter()
            .filter(|f| f.when == TriggerEvent::Entered && !f.held)
            .map(|f| f.at.secs())
            .collect();
        for (i, &start) in sent.iter().enumerate() {
            let within = sent[i..].iter().filter(|&&t| t < start + 30 * DAY).count();
            proptest::prop_assert!(within <= 2);
        }
        for f in ready.iter().filter(|f| f.held) {
            let before = sent.iter().filter(|&&t| t <= f.at.secs() && t > f.at.secs() - 30 * DAY).count();
            proptest::prop_assert_eq!(before, 2);
        }
    }
}

#[test]
fn the_weekly_audit_is_a_trigger_of_its_own_that_no_visitor_fires() {
    let text = rules("https://hooks.acme.com/intent", "").replace(
        r#"{"when": "identified", "to": ["crm"]}"#,
        r#"{"when": "identified", "to": ["crm"]},
    {"when": "audit.weekly", "to": ["ops"]}"#,
    );
    let rules = Rules::from_json(&text).unwrap_or_else(|e| panic!("{e}"));
    let audit: Vec<usize> = rules
        .triggers_for(TriggerEvent::AuditWeekly, None)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(audit, vec![3]);
    assert_eq!(
        TriggerEvent::AuditWeekly.notification_type(),
        "audit.weekly"
    );
    // A visitor entering `ready` and identifying fires the visitor triggers, never the audit's.
    let log = vec![
        pricing("v1", DAY),
        pricing("v1", DAY + 60),
        pricing("v1", DAY + 120),
        event(
            "v1",
            DAY + 180,
            r#""type":"identify","email":"ana@acme.test""#,
        ),
    ];
    let fired = replay_triggers(&rules, &log, Timestamp::from_secs(2 * DAY));
    assert!(!fired.is_empty());
    assert!(
        fired.iter().all(|f| f.when != TriggerEvent::AuditWeekly),
        "{fired:?}"
    );
    // It names no audience, and the schema offers it.
    let with_audience = text.replace(
        r#"{"when": "audit.weekly", "to": ["ops"]}"#,
        r#"{"when": "audit.weekly", "audience": "ready", "to": ["ops"]}"#,
    );
    let e = Rules::from_json(&with_audience)
        .err()
        .map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("`triggers[3].audience`")),
        "{e:?}"
    );
    let schema = serde_json::to_string(&Rules::json_schema()).unwrap_or_default();
    assert!(schema.contains("\"audit.weekly\""), "the schema");
}
