//! Events from other tools (`POST /v1/events`): filed under the visitor who identified with
//! the email, counted in their audiences at their own time, never in the profile from the edge,
//! starting no visit; a redelivery or a repeated idempotency key counts nothing twice; and the
//! audience they put someone in fires its trigger, as on-site events would.

use intent_audience::{Record, Store};
use intent_engine::{Event, Rules};

use crate::support::*;

fn brief() -> Rules {
    Rules::from_json(&std::fs::read_to_string("../../examples/brief/rules.json").unwrap()).unwrap()
}

fn opened(key: &str, i: usize, email: &str, secs: i64) -> Record {
    let event: Event<'_> = serde_json::from_str(
        r#"{"type": "event", "name": "email_opened", "props": {"subject": "Winter news"}}"#,
    )
    .unwrap();
    Record::external(format!("ext:{key}:{i}"), email, at(secs), &event)
}

#[test]
fn five_opens_put_an_identified_visitor_in_offer_a_demo() {
    let rules = brief();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut jane = Edge::new(&rules, 1);
    let call = jane.call(&rules, T0, &[page("/"), identify("Jane@Acme.com")]);
    store.ingest(&[call], at(T0)).unwrap();
    let before = store.visitor(&jane.visitor, at(T0)).unwrap();
    assert_eq!(before.visitor.email.as_deref(), Some("jane@acme.com"));

    // Four opens, a day apart, posted a week later: not yet.
    let later = T0 + 7 * DAY;
    let four: Vec<Record> = (0..4)
        .map(|i| opened("k1", i, "jane@acme.com", T0 + (i as i64 + 1) * DAY))
        .collect();
    let done = store.ingest(&four, at(later)).unwrap();
    assert_eq!((done.events, done.rejected.len()), (4, 0), "{done:?}");
    assert!(member_ids(&store, "offer-a-demo").is_empty());

    // The same batch again (a repeated idempotency key, a redelivery): nothing counts twice.
    let again = store.ingest(&four, at(later)).unwrap();
    assert_eq!((again.events, again.duplicates), (0, 4));
    assert!(member_ids(&store, "offer-a-demo").is_empty());

    // The fifth: in.
    let fifth = opened("k2", 0, "jane@acme.com", T0 + 5 * DAY);
    store.ingest(&[fifth], at(later)).unwrap();
    assert_eq!(member_ids(&store, "offer-a-demo"), [jane.visitor.clone()]);

    // No visit started and no activity on the site: first and last seen are the page view's.
    let after = store.visitor(&jane.visitor, at(later)).unwrap();
    assert_eq!(after.visitor.last_seen, before.visitor.last_seen);
    assert!(after.visitor.segments.contains(&"offer-a-demo".to_owned()));

    // Her next page view brings the edge's profile, which has no opens: she stays in.
    let call = jane.call(&rules, later, &[page("/pricing")]);
    store.ingest(&[call], at(later)).unwrap();
    assert_eq!(member_ids(&store, "offer-a-demo"), [jane.visitor.clone()]);
    // Thirty days after the first open, four are left in the window: out.
    let lapse = T0 + 31 * DAY + 60;
    store.alarm(at(lapse)).unwrap();
    assert!(member_ids(&store, "offer-a-demo").is_empty());
}

#[test]
fn an_email_nobody_identified_with_is_rejected_and_the_rest_is_kept() {
    let rules = brief();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut jane = Edge::new(&rules, 1);
    let call = jane.call(&rules, T0, &[page("/"), identify("jane@acme.com")]);
    store.ingest(&[call], at(T0)).unwrap();
    let batch = [
        opened("k", 0, "nobody@acme.com", T0 + 60),
        opened("k", 1, "jane@acme.com", T0 + 60),
    ];
    let done = store.ingest(&batch, at(T0 + 120)).unwrap();
    assert_eq!(done.events, 1);
    assert_eq!(done.rejected.len(), 1);
    assert_eq!(done.rejected[0].record, 0);
    assert!(
        done.rejected[0].reason.contains("`email`"),
        "{:?}",
        done.rejected
    );
    // An edge record may not use the id space of other tools, nor another tool a page view.
    let mut forged = jane.call(&rules, T0 + 180, &[page("/")]);
    forged.events[0].id = "ext:forged:0".to_owned();
    let done = store.ingest(&[forged], at(T0 + 180)).unwrap();
    assert_eq!((done.events, done.rejected.len()), (0, 1), "{done:?}");
    let page_from_elsewhere =
        Record::external("ext:p:0".to_owned(), "jane@acme.com", at(T0), &page("/"));
    let done = store.ingest(&[page_from_elsewhere], at(T0 + 180)).unwrap();
    assert_eq!((done.events, done.rejected.len()), (0, 1), "{done:?}");
}

#[test]
fn the_fifth_open_fires_the_offer_a_demo_trigger_once() {
    // examples/brief/rules.json: entering `offer-a-demo` notifies `marketing-automation`.
    let rules = brief();
    let db = db();
    let settings = settings();
    let store = Store::new(&db, &rules, &settings);
    let mut jane = Edge::new(&rules, 1);
    let call = jane.call(&rules, T0, &[page("/"), identify("jane@acme.com")]);
    store.ingest(&[call], at(T0)).unwrap();
    let later = T0 + 7 * DAY;
    let four: Vec<Record> = (0..4)
        .map(|i| opened("k1", i, "jane@acme.com", T0 + (i as i64 + 1) * DAY))
        .collect();
    assert_eq!(store.ingest(&four, at(later)).unwrap().notifications, 0);
    assert!(store.due(at(later), 10).unwrap().is_empty());

    let fifth = [opened("k2", 0, "jane@acme.com", T0 + 5 * DAY)];
    assert_eq!(store.ingest(&fifth, at(later)).unwrap().notifications, 1);
    let due = store.due(at(later), 10).unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    let n = &due[0].notification;
    assert_eq!(due[0].destination, "marketing-automation");
    assert_eq!(n.kind, "audience.entered");
    assert_eq!(
        n.audience.as_ref().map(|a| a.name.as_str()),
        Some("offer-a-demo")
    );
    assert_eq!(n.visitor.as_ref().unwrap().id, jane.visitor);
    assert_eq!(
        n.visitor.as_ref().unwrap().email.as_deref(),
        Some("jane@acme.com")
    );

    // The same five again (a repeated key): nothing new, nobody notified twice.
    let mut all = four.clone();
    all.extend(fifth);
    assert_eq!(store.ingest(&all, at(later)).unwrap().notifications, 0);
}
