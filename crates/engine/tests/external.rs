//! Events from other tools (`Profile::count_external`): counted at their own time, in the
//! series their name feeds, without starting visits or moving the last activity.

use intent_engine::{Event, Profile, Rules, Timestamp};

fn rules() -> Rules {
    Rules::from_json(&std::fs::read_to_string("../../examples/brief/rules.json").unwrap()).unwrap()
}

fn opened() -> Event<'static> {
    serde_json::from_str(
        r#"{"type": "event", "name": "email_opened", "props": {"campaign": "dec"}}"#,
    )
    .unwrap()
}

#[test]
fn five_opens_make_the_segment_without_a_visit() {
    let rules = rules();
    let start = Timestamp::from_secs(1_795_000_000);
    let mut p = Profile::new(&rules);
    p.fold(&rules, start, &Event::pageview("https://acme.test/", None));
    let before = p.summary(&rules);
    assert_eq!(before.visits, 1);
    // Five opens over four days, posted out of order, days after the visit.
    let day = 86_400;
    let times = [3, 1, 4, 2, 5].map(|d| start.plus_secs(d * day));
    let now = start.plus_secs(6 * day);
    for (n, at) in times.iter().enumerate() {
        assert!(
            !rules.decide(&p, now).segments.contains(&"offer-a-demo"),
            "{n} opens"
        );
        p.count_external(&rules, *at, &opened());
    }
    assert!(rules.decide(&p, now).segments.contains(&"offer-a-demo"));
    let after = p.summary(&rules);
    assert_eq!(after.visits, 1, "no visit started");
    assert_eq!(after.last_seen, before.last_seen, "no activity on the site");
    let (_, opens) = after
        .tracked
        .iter()
        .find(|(name, _)| name.contains("email_opened"))
        .unwrap();
    let mut sorted = times.to_vec();
    sorted.sort();
    assert_eq!(
        opens
            .iter()
            .rev()
            .take(5)
            .rev()
            .copied()
            .collect::<Vec<_>>(),
        sorted
    );
    // A page view now still starts the second visit from the site's own last activity.
    p.fold(&rules, now, &Event::pageview("https://acme.test/", None));
    assert_eq!(p.summary(&rules).visits, 2);
}

#[test]
fn only_events_count_and_old_ones_do_not() {
    let rules = rules();
    let start = Timestamp::from_secs(1_795_000_000);
    let mut p = Profile::new(&rules);
    p.fold(&rules, start, &Event::pageview("https://acme.test/", None));
    let before = p.clone();
    p.count_external(
        &rules,
        start,
        &Event::pageview("https://acme.test/pricing", None),
    );
    assert_eq!(p, before, "a page view from elsewhere is not counted");
    let long_ago = Timestamp::from_secs(start.secs() - 400 * 86_400);
    p.count_external(&rules, long_ago, &opened());
    assert_eq!(p, before, "an open past the horizon is not counted");
}
