//! Visitors through the edge into the store: the lists, the accounts, the CSV, what the log
//! keeps, and a batch delivered twice or failing half-way.

use std::collections::BTreeMap;

use intent_audience::{
    csv_rows, Audience, Change, Kind, MembersRequest, Record, Sql, Store, CSV_HEADER,
};
use intent_engine::{Event, PropValue, Rules};

use crate::support::*;

/// The brief's three visitors, and two more of Jane's company: the records the queue delivers.
fn visitors(rules: &Rules) -> Vec<Record> {
    let mut jane = Edge::new(rules, 1);
    let mut bob = Edge::new(rules, 2);
    let mut carl = Edge::new(rules, 3);
    let mut dan = Edge::new(rules, 4);
    let mut ann = Edge::new(rules, 5);
    let company = Event::Identify {
        email: None,
        traits: BTreeMap::from([(
            "company_domain".to_owned(),
            PropValue::Text("www.acme.com".to_owned()),
        )]),
    };
    vec![
        jane.call(rules, T0, &[page("/pricing/")]),
        bob.call(rules, T0 + 10, &[page("/compare/")]),
        jane.call(rules, T0 + MINUTE, &[page("/pricing/")]),
        carl.call(rules, T0 + 20, &[page("/blog/")]),
        jane.call(rules, T0 + 2 * MINUTE, &[page("/pricing/")]),
        jane.call(rules, T0 + 3 * MINUTE, &[identify("Jane@ACME.com")]),
        dan.call(rules, T0 + 30, &[page("/blog/"), identify("dan@acme.com")]),
        ann.call(rules, T0 + 40, &[page("/blog/"), company]),
    ]
}

#[test]
fn three_visitors_make_the_lists() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    let now = at(T0 + 4 * MINUTE);
    let done = store.ingest(&visitors(rules), now).unwrap();
    assert_eq!((done.events, done.duplicates, done.visitors), (10, 0, 5));
    assert!(done.rejected.is_empty(), "{:?}", done.rejected);

    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
    assert_eq!(member_ids(&store, "evaluating"), [vid(2)]);
    assert_eq!(member_ids(&store, "researching"), [vid(3), vid(4), vid(5)]);

    let page = store
        .members("ready", &MembersRequest::from_query([]).unwrap())
        .unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": "ready", "members": [{
            "visitor": vid(1), "email": "jane@acme.com", "account": "acme.com", "tier": "ready",
            "segments": [], "score": null, "since": "2026-11-20T10:04:00Z",
            "last_seen": "2026-11-20T10:03:00Z"}], "next_cursor": null})
    );
    let csv = format!("{CSV_HEADER}{}", csv_rows(&page.members));
    assert_eq!(
        csv,
        format!(
            "visitor,email,account,tier,segments,score,since,last_seen\n{},jane@acme.com,acme.com,ready,,,2026-11-20T10:04:00Z,2026-11-20T10:03:00Z\n",
            vid(1)
        )
    );

    let counts = serde_json::to_value(store.audiences(now).unwrap()).unwrap();
    assert_eq!(
        counts,
        serde_json::json!({"as_of": "2026-11-20T10:04:00Z", "audiences": [
            {"name": "ready", "kind": "tier", "members": 1},
            {"name": "evaluating", "kind": "tier", "members": 1},
            {"name": "researching", "kind": "tier", "members": 3}]})
    );

    let accounts = serde_json::to_value(store.accounts(7 * DAY, now).unwrap()).unwrap();
    assert_eq!(
        accounts,
        serde_json::json!({"accounts": [{"account": "acme.com", "visitors": 3, "identified": 2,
            "tier": "ready", "last_seen": "2026-11-20T10:03:00Z"}]})
    );
    assert!(store
        .accounts(60, at(T0 + DAY))
        .unwrap()
        .accounts
        .is_empty());

    // The changes, as the triggers will read them.
    let identified: Vec<&str> = done
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Identified { email, .. } => Some(email.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(identified, ["jane@acme.com", "dan@acme.com"]);
    assert!(done.changes.contains(&Change::Entered {
        visitor: vid(1),
        audience: Audience {
            name: "ready".to_owned(),
            kind: Kind::Tier
        },
        at: now,
        cause: intent_audience::Cause::Event,
    }));
}

#[test]
fn the_log_keeps_no_query_referrer_path_or_other_traits() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    let now = at(T0 + 4 * MINUTE);
    store.ingest(&visitors(rules), now).unwrap();
    let log = store.events(30 * DAY, now, None).unwrap().lines;
    assert_eq!(log.lines().count(), 10);
    for secret in [
        "session",
        "secret-123",
        "q=jane",
        "search",
        "Jane\"",
        "name",
    ] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
    assert!(log.contains(r#""url":"https://demo.test/pricing/?utm_source=newsletter""#));
    assert!(log.contains(r#""referrer":"https://www.google.com""#));
    assert!(log.contains(r#""email":"jane@acme.com""#));
}

/// Everything a test compares of a store's state.
fn state(db: &Sqlite) -> Vec<Vec<intent_audience::Value>> {
    let mut all = Vec::new();
    for sql in [
        "SELECT id, visitor, at, body, email FROM events ORDER BY id",
        "SELECT id, email, account, tier, segments, first_seen, last_seen, recheck_at FROM visitors ORDER BY id",
        "SELECT visitor, kind, audience, entered_at, left_at FROM memberships ORDER BY visitor, kind, audience",
    ] {
        all.extend(db.query(sql, &[]).unwrap());
    }
    all
}

#[test]
fn a_redelivered_batch_counts_nothing_twice() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    let batch = visitors(rules);
    store.ingest(&batch, at(T0 + 4 * MINUTE)).unwrap();
    let before = state(&db);
    let again = store.ingest(&batch, at(T0 + 5 * MINUTE)).unwrap();
    assert_eq!((again.events, again.duplicates, again.visitors), (0, 10, 0));
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(state(&db), before);
    // Half of it again, with one new call: only the new call counts.
    let mut eve = Edge::new(rules, 9);
    let mut part: Vec<Record> = batch[..4].to_vec();
    part.push(eve.call(rules, T0 + 9 * MINUTE, &[page("/docs/")]));
    let third = store.ingest(&part, at(T0 + 10 * MINUTE)).unwrap();
    assert_eq!((third.events, third.duplicates), (1, 4));
    // The same message twice in one batch (the queue delivers at least once).
    let fresh = crate::support::db();
    let store = Store::new(&fresh, rules, &settings);
    let twice = [batch[6].clone(), batch[6].clone()];
    let done = store.ingest(&twice, at(T0 + 4 * MINUTE)).unwrap();
    assert_eq!((done.events, done.duplicates, done.visitors), (2, 2, 1));
    let identified = done
        .changes
        .iter()
        .filter(|c| matches!(c, Change::Identified { .. }))
        .count();
    assert_eq!(identified, 1);
}

#[test]
fn calls_of_one_second_delivered_out_of_order_keep_the_latest_profile() {
    let rules = Rules::builtin();
    let settings = settings();
    // Three pricing views in three calls of the same second, as a quick visitor makes them.
    let mut jane = Edge::new(rules, 1);
    let calls: Vec<Record> = (0..3)
        .map(|i| {
            let ms = (T0 * 1000 + 100 + i * 250) as f64;
            jane.call(rules, T0, &[page("/pricing/")]).at_millis(ms)
        })
        .collect();
    let tier = |store: &Store<'_, Sqlite>| store.visitor(&vid(1), at(T0 + 5)).unwrap().visitor.tier;
    // In one batch, the last call first (a queue keeps no order).
    let db1 = db();
    let store = Store::new(&db1, rules, &settings);
    store
        .ingest(
            &[calls[2].clone(), calls[0].clone(), calls[1].clone()],
            at(T0 + 1),
        )
        .unwrap();
    assert_eq!(tier(&store), "ready");
    // The last call alone, then the first two, retried late: the stored profile stays the last.
    let db2 = db();
    let store = Store::new(&db2, rules, &settings);
    store.ingest(&calls[2..], at(T0 + 1)).unwrap();
    let late = store.ingest(&calls[..2], at(T0 + 3)).unwrap();
    assert_eq!(late.events, 2);
    assert_eq!(tier(&store), "ready");
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
    // A time outside the record's second is not taken.
    assert_eq!(calls[0].clone().at_millis(0.0).ms, calls[0].ms);
    assert_eq!(jane.call(rules, T0, &[]).at_millis(f64::NAN).ms, None);
}

#[test]
fn a_store_failing_mid_batch_loses_nothing_and_the_retry_lands_once() {
    let rules = Rules::builtin();
    let settings = settings();
    let batch = visitors(rules);
    let now = at(T0 + 4 * MINUTE);
    let reference = {
        let db = db();
        Store::new(&db, rules, &settings)
            .ingest(&batch, now)
            .unwrap();
        state(&db)
    };
    let empty = state(&db());
    // Fail at every statement of the batch in turn.
    let mut failed = 0;
    for k in 0.. {
        let db = db();
        let store = Store::new(&db, rules, &settings);
        db.fail_after(k);
        match store.ingest(&batch, now) {
            Ok(_) => break,
            Err(e) => {
                assert_eq!(e.status(), 500, "{e}");
                failed += 1;
            }
        }
        assert_eq!(state(&db), empty, "statement {k} failed and left a change");
        let retried = store.ingest(&batch, now).unwrap();
        assert_eq!(retried.events, 10);
        assert_eq!(state(&db), reference);
    }
    assert!(failed >= 15, "only {failed} statements");
}

#[test]
fn numbers_read_back_as_a_durable_object_gives_them() {
    let rules = Rules::builtin();
    let db = Sqlite::like_durable_object();
    intent_audience::migrate(&db).unwrap();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    let now = at(T0 + 4 * MINUTE);
    store.ingest(&visitors(rules), now).unwrap();
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
    let report = store.visitor(&vid(1), now).unwrap();
    assert_eq!(report.visitor.first_seen, at(T0));
    assert_eq!(report.timeline.len(), 4);
    assert_eq!(
        store.next_alarm(now).unwrap().map(|t| t.secs() > T0),
        Some(true)
    );
}

#[test]
fn bad_records_are_left_out_and_the_rest_lands() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    let mut batch = visitors(rules);
    batch[0].visitor = "short".to_owned();
    batch[1].events[0].event = r#"{"type":"teleport"}"#.to_owned();
    batch[2].events[0].id = "bad id!".to_owned();
    batch[3].at = T0 + 3 * DAY;
    // An identify with an address no browser field accepts: nothing of it would be left.
    batch[4].events[0].event = r#"{"type":"identify","email":"jane@localhost"}"#.to_owned();
    let done = store.ingest(&batch, at(T0 + 4 * MINUTE)).unwrap();
    assert_eq!(done.rejected.len(), 5, "{:?}", done.rejected);
    assert!(done.rejected[0].reason.contains("not a visitor id"));
    assert!(done.rejected[1].reason.contains("`event`"));
    assert!(done.rejected[2].reason.contains("not an event id"));
    assert!(done.rejected[3].reason.starts_with("`at`"));
    assert_eq!(
        done.rejected[4].reason,
        "`event`: `email`: give an email address, a `traits.company_domain`, or both"
    );
    assert_eq!(done.events, 5);
}
