//! Leaving audiences with no new event (the alarm), backfills when rules change, retention.

use intent_audience::{Audience, Cause, Change, Kind, Settings, Sql, Store};
use intent_engine::Rules;
use serde_json::json;

use crate::support::*;

/// The default rules with changes made to their JSON.
fn rules_with(change: impl FnOnce(&mut serde_json::Value)) -> Rules {
    let mut cfg: serde_json::Value = serde_json::from_str(Rules::builtin_json()).unwrap();
    change(&mut cfg);
    Rules::from_json(&cfg.to_string()).unwrap()
}

fn left(changes: &[Change]) -> Vec<(String, String, Cause)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Left {
                visitor,
                audience,
                cause,
                ..
            } => Some((visitor.clone(), audience.name.clone(), *cause)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_one_minute_window_lapses_within_a_minute_with_no_new_event() {
    let rules = rules_with(|c| {
        c["segments"] = json!([{"name": "on_pricing_now",
            "when": {"viewed": {"group": "pricing", "within": "1m"}}}]);
    });
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut jane = Edge::new(&rules, 1);
    let done = store
        .ingest(&[jane.call(&rules, T0, &[page("/pricing/")])], at(T0 + 5))
        .unwrap();
    assert_eq!(member_ids(&store, "on_pricing_now"), [vid(1)]);
    // The alarm is due when the view leaves the one-minute window.
    assert_eq!(done.next_alarm, Some(at(T0 + MINUTE + 1)));
    let early = store.alarm(at(T0 + 30)).unwrap();
    assert!(early.changes.is_empty());
    assert_eq!(early.rechecked, 0);
    let due = store.alarm(at(T0 + MINUTE + 1)).unwrap();
    assert_eq!(
        left(&due.changes),
        [(vid(1), "on_pricing_now".to_owned(), Cause::Lapse)]
    );
    assert!(member_ids(&store, "on_pricing_now").is_empty());
    assert_eq!(member_ids(&store, "evaluating"), [vid(1)]);
    let report = store.visitor(&vid(1), at(T0 + 2 * MINUTE)).unwrap();
    let segment = report
        .memberships
        .iter()
        .find(|m| m.audience == "on_pricing_now")
        .unwrap();
    assert_eq!(segment.entered, at(T0 + 5));
    assert_eq!(segment.left.as_deref(), Some("2026-11-20T10:01:01Z"));
    // Pricing within 30 days keeps them evaluating for a month; retention's daily run comes
    // first.
    let recheck = db.query("SELECT recheck_at FROM visitors", &[]).unwrap();
    assert_eq!(recheck[0][0].as_i64(), Some(T0 + 30 * DAY + 1));
    assert_eq!(due.next_alarm, Some(at(T0 + 5 + DAY)));
}

#[test]
fn raising_ready_to_four_pricing_views_moves_the_visitor_out_without_a_visit() {
    let rules = Rules::builtin();
    let db = db();
    let settings = Settings {
        backfill_chunk: 2,
        ..settings()
    };
    let mut batch = Vec::new();
    let mut jane = Edge::new(rules, 1);
    for i in 0..3 {
        batch.push(jane.call(rules, T0 + i * MINUTE, &[page("/pricing/")]));
    }
    for n in 2..7 {
        batch.push(Edge::new(rules, n).call(rules, T0, &[page("/blog/")]));
    }
    Store::new(&db, rules, &settings)
        .ingest(&batch, at(T0 + 5 * MINUTE))
        .unwrap();
    let raised = rules_with(|c| {
        c["revision"] = json!("ready-at-four");
        c["tiers"][0]["when"]["any"][0]["viewed"]["at_least"] = json!(4);
    });
    let store = Store::new(&db, &raised, &settings);
    let now = at(T0 + 10 * MINUTE);
    // Six visitors in chunks of two: three alarms, the object answering between them.
    let mut changes = Vec::new();
    let mut alarms = 0;
    loop {
        let a = store.alarm(now).unwrap();
        alarms += 1;
        changes.extend(a.changes);
        assert_eq!(store.audiences(now).unwrap().audiences.len(), 3);
        if !a.backfilling {
            assert_eq!(a.next_alarm.map(|t| t > now), Some(true));
            break;
        }
        assert_eq!(a.next_alarm, Some(now));
    }
    assert_eq!(alarms, 4);
    assert_eq!(
        left(&changes),
        [(vid(1), "ready".to_owned(), Cause::Backfill)]
    );
    assert!(changes.contains(&Change::Entered {
        visitor: vid(1),
        audience: Audience {
            name: "evaluating".to_owned(),
            kind: Kind::Tier
        },
        at: now,
        cause: Cause::Backfill
    }));
    assert!(member_ids(&store, "ready").is_empty());
    assert_eq!(member_ids(&store, "evaluating"), [vid(1)]);
    // One more pricing view under the new rules makes ready again, from the edge's profile.
    let again = store
        .ingest(
            &[jane.call(&raised, T0 + 11 * MINUTE, &[page("/pricing/")])],
            at(T0 + 11 * MINUTE),
        )
        .unwrap();
    assert_eq!(again.events, 1);
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
}

/// Jane, three pricing views stored under the default rules, and then her events gone from the
/// log (as if past retention): only her stored profile remembers. Returns the database and Jane
/// as the edge tracks her.
fn ready_jane_without_her_log() -> (Sqlite, Edge) {
    let rules = Rules::builtin();
    let db = db();
    let mut jane = Edge::new(rules, 1);
    let batch: Vec<_> = (0..3)
        .map(|i| jane.call(rules, T0 + i * MINUTE, &[page("/pricing/")]))
        .collect();
    Store::new(&db, rules, &settings())
        .ingest(&batch, at(T0 + 5 * MINUTE))
        .unwrap();
    db.run("DELETE FROM events", &[]).unwrap();
    (db, jane)
}

#[test]
fn rules_of_the_same_shape_keep_the_stored_profile() {
    let (db, _) = ready_jane_without_her_log();
    let settings = settings();
    let relabelled = rules_with(|c| c["revision"] = json!("relabelled"));
    let store = Store::new(&db, &relabelled, &settings);
    let a = store.alarm(at(T0 + 6 * MINUTE)).unwrap();
    assert_eq!(a.backfilled, 1);
    assert!(a.changes.is_empty(), "{:?}", a.changes);
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
}

#[test]
fn a_backfill_carries_a_stored_profile_over_to_rules_of_another_shape() {
    let (db, mut jane) = ready_jane_without_her_log();
    let settings = settings();
    // The new rules track a page group the old ones did not.
    let careers = careers_rules().with_earlier_shapes([Rules::builtin().shape().clone()]);
    let store = Store::new(&db, &careers, &settings);
    let a = store.alarm(at(T0 + 6 * MINUTE)).unwrap();
    assert_eq!(a.backfilled, 1);
    assert!(left(&a.changes).is_empty(), "{:?}", a.changes);
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
    // A careers page from an edge that carried her token over: the carried profile gains what
    // only the new rules track.
    jane.profile = jane
        .profile
        .carried_over(Rules::builtin().shape(), careers.shape());
    let call = jane.call(&careers, T0 + 7 * MINUTE, &[page("/careers/")]);
    store.ingest(&[call], at(T0 + 8 * MINUTE)).unwrap();
    assert_eq!(member_ids(&store, "job_seeker"), [vid(1)]);
    assert_eq!(member_ids(&store, "ready"), [vid(1)]);
}

#[test]
fn rules_that_do_not_know_a_stored_shape_rebuild_the_profile_from_the_log() {
    let (db, _) = ready_jane_without_her_log();
    let (unknowing, settings) = (careers_rules(), settings());
    let store = Store::new(&db, &unknowing, &settings);
    store.alarm(at(T0 + 6 * MINUTE)).unwrap();
    // The log is empty: nothing is left of her three pricing views.
    assert!(member_ids(&store, "ready").is_empty());
}

#[test]
fn retention_purges_old_events_and_visitors() {
    let rules = Rules::builtin();
    let db = db();
    let settings = Settings::with_retention(Some("30")).unwrap();
    let store = Store::new(&db, rules, &settings);
    let mut old = Edge::new(rules, 1);
    let mut recent = Edge::new(rules, 2);
    store
        .ingest(&[old.call(rules, T0, &[page("/pricing/")])], at(T0))
        .unwrap();
    store
        .ingest(
            &[recent.call(rules, T0 + 20 * DAY, &[page("/blog/")])],
            at(T0 + 20 * DAY),
        )
        .unwrap();
    let a = store.alarm(at(T0 + 31 * DAY)).unwrap();
    let purged = a.purged.unwrap();
    assert_eq!((purged.events, purged.visitors), (1, 1));
    let count = |sql: &str| db.query(sql, &[]).unwrap()[0][0].as_i64().unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM events"), 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM memberships WHERE visitor = 'v00000001-Zm9vYmFyYmF6'"),
        0
    );
    assert_eq!(member_ids(&store, "researching"), [vid(2)]);
    // Retention runs once a day.
    let next = store.alarm(at(T0 + 31 * DAY + 60)).unwrap();
    assert_eq!(next.purged, None);
    for bad in ["0", "x", "4000"] {
        let e = Settings::with_retention(Some(bad)).unwrap_err();
        assert!(e.to_string().starts_with("`EVENT_RETENTION_DAYS`"), "{e}");
    }
    assert_eq!(Settings::with_retention(None).unwrap().retention_days, 30);
}
