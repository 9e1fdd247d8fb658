//! What the tests share: the SQLite backend, visitors as the edge tracks them, the clock.

pub mod sqlite;

use std::borrow::Cow;
use std::collections::BTreeMap;

use intent_audience::{migrate, MembersRequest, Record, Settings, Store};
use intent_engine::{Event, Profile, PropValue, Rules, Timestamp};
pub use sqlite::Sqlite;

/// 2026-11-20T10:00:00Z.
pub const T0: i64 = 1_795_168_800;
pub const MINUTE: i64 = 60;
pub const DAY: i64 = 86_400;

pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

/// A visitor id as the edge makes them (22 base64url characters).
pub fn vid(n: u32) -> String {
    format!("v{n:08}-Zm9vYmFyYmF6")
}

/// A migrated in-memory database.
pub fn db() -> Sqlite {
    let db = Sqlite::memory();
    migrate(&db).expect("the schema applies");
    db
}

/// A visitor as the edge tracks them: their profile folded call by call, as the token carries
/// it, and each call turned into the record the queue delivers.
pub struct Edge {
    pub visitor: String,
    pub profile: Profile,
    calls: u32,
}

impl Edge {
    pub fn new(rules: &Rules, n: u32) -> Edge {
        Edge {
            visitor: vid(n),
            profile: Profile::new(rules),
            calls: 0,
        }
    }

    /// One collect call at `secs` with `events`: folds them as the edge does and returns the
    /// record it enqueues.
    pub fn call(&mut self, rules: &Rules, secs: i64, events: &[Event<'static>]) -> Record {
        for e in events {
            self.profile.fold(rules, at(secs), e);
        }
        self.calls += 1;
        let id = format!("{}-{}", self.visitor, self.calls);
        Record::new(&id, &self.visitor, at(secs), rules, &self.profile, events)
    }
}

/// A page view of `path` on the demo site, its URL carrying a query the log must not keep.
pub fn page(path: &str) -> Event<'static> {
    Event::pageview(
        &format!("https://demo.test{path}?utm_source=newsletter&session=secret-123"),
        Some("https://www.google.com/search?q=jane+doe"),
    )
}

pub fn identify(email: &str) -> Event<'static> {
    Event::Identify {
        email: Some(Cow::Owned(email.to_owned())),
        traits: BTreeMap::from([("name".to_owned(), PropValue::Text("Jane".to_owned()))]),
    }
}

/// The members of `audience`, every page, ids only.
pub fn member_ids(store: &Store<'_, Sqlite>, audience: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut req = MembersRequest::from_query([("limit", "1000")]).unwrap();
    loop {
        let page = store.members(audience, &req).unwrap();
        ids.extend(page.members.into_iter().map(|m| m.visitor));
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    ids.sort();
    ids
}

pub fn settings() -> Settings {
    Settings::default()
}

/// The default rules with a page group of their own (`careers`) and a segment reading it: a
/// profile of another shape than the default rules'.
pub fn careers_rules() -> Rules {
    let mut cfg: serde_json::Value = serde_json::from_str(Rules::builtin_json()).unwrap();
    cfg["revision"] = serde_json::json!("careers");
    cfg["page_groups"]["careers"] = serde_json::json!(["/careers*"]);
    cfg["segments"] = serde_json::json!([{"name": "job_seeker",
        "when": {"viewed": {"group": "careers", "at_least": 1}}}]);
    let rules = Rules::from_json(&cfg.to_string()).unwrap();
    assert_ne!(rules.shape(), Rules::builtin().shape());
    rules
}
