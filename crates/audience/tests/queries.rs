//! The admin API's questions and their errors, the event log's export, erasure.

use intent_audience::{
    csv_rows, parse_window, save_rules, saved_rules, Erased, Error, MembersRequest, Record,
    Settings, Store, Subject, CSV_HEADER,
};
use intent_engine::{simulate, LogEvent, Rules};
use serde_json::json;

use crate::support::*;

fn rules_with_segments() -> Rules {
    let mut cfg: serde_json::Value = serde_json::from_str(Rules::builtin_json()).unwrap();
    cfg["segments"] = json!([
        {"name": "pricing_fans", "when": {"viewed": {"group": "pricing"}}},
        {"name": "returning", "when": {"visits": {"at_least": 1}}}]);
    Rules::from_json(&cfg.to_string()).unwrap()
}

/// `n` visitors who viewed pricing three times, entering `ready` one a minute.
fn ready_visitors(store: &Store<'_, Sqlite>, rules: &Rules, n: u32) {
    for i in 0..n {
        let mut e = Edge::new(rules, 100 + i);
        let t = T0 + i64::from(i) * MINUTE;
        let batch: Vec<Record> = (0..3)
            .map(|k| e.call(rules, t + k, &[page("/pricing/")]))
            .collect();
        store.ingest(&batch, at(t + 10)).unwrap();
    }
}

fn field(e: &Error) -> &'static str {
    match e {
        Error::BadParam { field, .. } => field,
        other => panic!("not a bad parameter: {other}"),
    }
}

#[test]
fn bad_parameters_are_4xx_naming_the_field() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    ready_visitors(&store, rules, 3);
    let q = |pairs: &[(&str, &str)]| MembersRequest::from_query(pairs.iter().copied());
    for (pairs, want) in [
        (&[("format", "xml")][..], "format"),
        (&[("limit", "0")], "limit"),
        (&[("limit", "1001")], "limit"),
        (&[("limit", "ten")], "limit"),
    ] {
        let e = q(pairs).unwrap_err();
        assert_eq!((field(&e), e.status()), (want, 400), "{pairs:?}: {e}");
        let body: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(body["field"], want);
        assert_eq!(body["error"], "bad_request");
    }
    let first = store
        .members("ready", &q(&[("limit", "1")]).unwrap())
        .unwrap();
    let cursor = first.next_cursor.unwrap();
    for bad in [
        "garbage",
        "AAAA",
        "",
        "x".repeat(600).as_str(),
        &cursor[1..],
    ] {
        let e = store
            .members("ready", &q(&[("cursor", bad)]).unwrap())
            .map(|p| p.members.len());
        if bad.is_empty() {
            // An empty cursor is the first page.
            assert_eq!(e, Ok(3));
            continue;
        }
        let e = e.unwrap_err();
        assert_eq!((field(&e), e.status()), ("cursor", 400), "{bad}: {e}");
    }
    // A cursor of one audience is refused by another.
    let e = store
        .members("evaluating", &q(&[("cursor", &cursor)]).unwrap())
        .unwrap_err();
    assert_eq!(field(&e), "cursor");
    let e = store.members("vip", &q(&[]).unwrap()).unwrap_err();
    assert_eq!(e.status(), 404);
    assert_eq!(
        e.to_string(),
        "no audience is named `vip`; the active rules have ready, evaluating, researching"
    );
    for (f, v) in [("within", "7 days"), ("since", "0d"), ("within", "")] {
        let e = parse_window(f, v).unwrap_err();
        assert_eq!(field(&e), f, "{v}: {e}");
    }
    assert_eq!(parse_window("within", "7d"), Ok(7 * DAY));
    let e = store.visitor("nope", at(T0)).unwrap_err();
    assert_eq!((field(&e), e.status()), ("id", 400));
    let e = store.visitor(&vid(999), at(T0)).unwrap_err();
    assert_eq!(e.status(), 404);
    let e = store
        .erase(Subject::Email("not-an-email"), at(T0))
        .unwrap_err();
    assert_eq!(field(&e), "email");
    let e = store.erase(Subject::Visitor("x"), at(T0)).unwrap_err();
    assert_eq!(field(&e), "id");
}

#[test]
fn pages_of_members_cover_everyone_once_newest_first() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    ready_visitors(&store, rules, 250);
    let mut req = MembersRequest::from_query([("limit", "100")]).unwrap();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.members("ready", &req).unwrap();
        pages += 1;
        seen.extend(page.members.iter().map(|m| (m.since, m.visitor.clone())));
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "not newest first");
    assert_eq!(seen[0].1, vid(349));
}

#[test]
fn csv_quotes_and_defuses_what_a_spreadsheet_would_misread() {
    let rules = rules_with_segments();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut e = Edge::new(&rules, 1);
    let mut batch: Vec<Record> = (0..3)
        .map(|k| e.call(&rules, T0 + k, &[page("/pricing/")]))
        .collect();
    batch.push(e.call(&rules, T0 + 5, &[identify("=1+2'x@acme.com")]));
    let done = store.ingest(&batch, at(T0 + 10)).unwrap();
    assert!(done.rejected.is_empty(), "{:?}", done.rejected);
    let page = store
        .members(
            "ready",
            &MembersRequest::from_query([("format", "csv")]).unwrap(),
        )
        .unwrap();
    let text = format!("{CSV_HEADER}{}", csv_rows(&page.members));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "visitor",
            "email",
            "account",
            "tier",
            "segments",
            "score",
            "since",
            "last_seen"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], "'=1+2'x@acme.com");
    assert_eq!(&rows[0][2], "acme.com");
    assert_eq!(&rows[0][4], "pricing_fans;returning");
    assert_eq!(&rows[0][6], "2026-11-20T10:00:10Z");
}

#[test]
fn the_event_log_exports_as_simulate_reads_it() {
    let rules = rules_with_segments();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    // Enough events for three pages of the export.
    let mut edges: Vec<Edge> = (0..30).map(|n| Edge::new(&rules, n)).collect();
    let paths = [
        "/pricing/",
        "/blog/",
        "/compare/",
        "/docs/start",
        "/customers/",
    ];
    for round in 0..80i64 {
        let batch: Vec<Record> = edges
            .iter_mut()
            .enumerate()
            .map(|(n, e)| {
                let t = T0 + round * 3 * MINUTE + n as i64;
                e.call(
                    &rules,
                    t,
                    &[page(paths[(round as usize + n) % paths.len()])],
                )
            })
            .collect();
        store
            .ingest(&batch, at(T0 + round * 3 * MINUTE + 40))
            .unwrap();
    }
    let now = at(T0 + 80 * 3 * MINUTE);
    let mut text = String::new();
    let mut after = None;
    loop {
        let page = store.events(30 * DAY, now, after).unwrap();
        text.push_str(&page.lines);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let log: Vec<LogEvent> = text
        .lines()
        .enumerate()
        .map(|(i, l)| LogEvent::parse(l, i + 1).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(log.len(), 2400);
    // Replaying the export gives every visitor the tier and segments the store lists them in.
    let replay = simulate(&rules, &log, now);
    assert_eq!(replay.visitors.len(), 30);
    for v in replay.visitors {
        let d = rules.decide(&v.profile, now);
        let report = store.visitor(&v.visitor, now).unwrap();
        assert_eq!(report.visitor.tier, d.tier, "{}", v.visitor);
        assert_eq!(report.visitor.segments, d.segments, "{}", v.visitor);
    }
    // `since` bounds it.
    let recent = store.events(10 * MINUTE, now, None).unwrap();
    // Rounds at 231, 234 and 237 minutes are within 10 minutes of 240.
    assert_eq!(recent.lines.lines().count(), 30 * 3);
}

#[test]
fn a_visitor_report_has_memberships_timeline_and_explanation() {
    let rules = Rules::builtin();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, rules, &settings);
    let mut e = Edge::new(rules, 1);
    store
        .ingest(&[e.call(rules, T0, &[page("/compare/")])], at(T0 + 1))
        .unwrap();
    let batch: Vec<Record> = (1..4)
        .map(|k| e.call(rules, T0 + k * MINUTE, &[page("/pricing/")]))
        .collect();
    store.ingest(&batch, at(T0 + 4 * MINUTE)).unwrap();
    let report = store.visitor(&vid(1), at(T0 + 5 * MINUTE)).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["memberships"],
        json!([
            {"audience": "ready", "kind": "tier", "entered": "2026-11-20T10:04:00Z", "left": null},
            {"audience": "evaluating", "kind": "tier", "entered": "2026-11-20T10:00:01Z", "left": "2026-11-20T10:04:00Z"}])
    );
    assert_eq!(json["timeline"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        json["timeline"][0],
        json!({"ts": "2026-11-20T10:00:00Z", "type": "pageview",
               "url": "https://demo.test/compare/?utm_source=newsletter", "referrer": "https://www.google.com"})
    );
    assert_eq!(report.explanation.tier, "ready");
    assert!(report
        .explanation
        .to_string()
        .contains("viewed pricing pages at least 3 times"));
}

#[test]
fn erasure_removes_a_person_from_every_list_and_the_log() {
    let rules = Rules::builtin();
    let db = db();
    let settings = Settings::default();
    let store = Store::new(&db, rules, &settings);
    let mut jane = Edge::new(rules, 1);
    let mut laptop = Edge::new(rules, 2);
    let mut bob = Edge::new(rules, 3);
    let mut batch: Vec<Record> = (0..3)
        .map(|k| jane.call(rules, T0 + k, &[page("/pricing/")]))
        .collect();
    batch.push(jane.call(rules, T0 + 5, &[identify("jane@acme.com")]));
    // The same person on another device, who later typed another address.
    batch.push(laptop.call(rules, T0 + 6, &[page("/blog/"), identify("jane@acme.com")]));
    batch.push(laptop.call(rules, T0 + 7, &[identify("j.doe@acme.com")]));
    batch.push(bob.call(rules, T0 + 8, &[page("/blog/")]));
    store.ingest(&batch, at(T0 + 10)).unwrap();
    let erased = store
        .erase(Subject::Email(" JANE@acme.com "), at(T0 + 11))
        .unwrap();
    let mut ids = erased.visitors.clone();
    ids.sort();
    assert_eq!(ids, [vid(1), vid(2)]);
    assert_eq!((erased.events, erased.memberships), (7, 2));
    assert!(member_ids(&store, "ready").is_empty());
    assert_eq!(member_ids(&store, "researching"), [vid(3)]);
    let log = store.events(30 * DAY, at(T0 + 20), None).unwrap().lines;
    assert_eq!(log.lines().count(), 1);
    assert!(!log.contains("jane") && !log.contains(&vid(1)));
    assert_eq!(
        store
            .erase(Subject::Email("jane@acme.com"), at(T0 + 12))
            .unwrap(),
        Erased::default()
    );
    let bob_gone = store.erase(Subject::Visitor(&vid(3)), at(T0 + 12)).unwrap();
    assert_eq!(bob_gone.visitors, [vid(3)]);
    assert_eq!(
        store.audiences(at(T0 + 20)).unwrap().audiences[2].members,
        0
    );
    assert_eq!(
        store.visitor(&vid(3), at(T0 + 20)).unwrap_err().status(),
        404
    );

    // A call of Jane's made before the erasure, still in the queue, arrives afterwards (or a
    // batch with it is redelivered): it is not stored. What she does after the erasure is.
    let late = jane.call(rules, T0 + 9, &[page("/pricing/")]);
    let done = store.ingest(&[late], at(T0 + 30)).unwrap();
    assert_eq!((done.events, done.visitors, done.rejected.len()), (0, 0, 1));
    assert!(
        done.rejected[0].reason.contains("erased"),
        "{:?}",
        done.rejected
    );
    assert_eq!(
        store.visitor(&vid(1), at(T0 + 30)).unwrap_err().status(),
        404
    );
    let after = jane.call(rules, T0 + 40, &[page("/blog/")]);
    assert_eq!(store.ingest(&[after], at(T0 + 41)).unwrap().events, 1);
    // Tombstones go with retention once the queue can hold nothing older.
    store.purge(at(T0 + 15 * DAY)).unwrap();
    let again = jane.call(rules, T0 + 8, &[page("/docs/")]);
    assert_eq!(
        store
            .ingest(&[again], at(T0 + 15 * DAY))
            .unwrap()
            .rejected
            .len(),
        0
    );
}

#[test]
fn the_rules_text_a_store_runs_with_is_kept_with_the_shapes_it_ran_with() {
    let db = db();
    assert_eq!(saved_rules(&db).unwrap(), None);
    let careers = careers_rules();
    let careers_text = "{\"revision\": \"careers\"}";
    // Never given rules: it ran with the built-in ones, whose profiles now carry over.
    let r = save_rules(&db, careers.clone(), careers_text, at(T0)).unwrap();
    assert_eq!(r.earlier_shapes(), [Rules::builtin().shape().clone()]);
    let r = save_rules(
        &db,
        Rules::builtin().clone(),
        Rules::builtin_json(),
        at(T0 + 5),
    )
    .unwrap();
    assert_eq!(r.earlier_shapes(), [careers.shape().clone()]);
    let saved = saved_rules(&db).unwrap().unwrap();
    assert_eq!(saved.text, Rules::builtin_json());
    assert_eq!(saved.saved_at, at(T0 + 5));
    assert_eq!(saved.earlier, [careers.shape().clone()]);
    let compiled = saved.compile().unwrap();
    assert_eq!(compiled.id(), Rules::builtin().id());
    assert_eq!(compiled.earlier_shapes(), [careers.shape().clone()]);
    // The same shape again is not an earlier one.
    let relabelled = rules_with_segments();
    let r = save_rules(&db, relabelled, "{}", at(T0 + 9)).unwrap();
    assert!(!r.earlier_shapes().contains(r.shape()));
}
