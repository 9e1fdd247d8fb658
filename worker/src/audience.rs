//! The audience layer's side of the worker that needs no runtime: its settings, what the event
//! pipeline carries, how a batch is split between stores, and the internal calls the worker
//! makes to a site's `AudienceStore` object. What the store decides is `intent-audience`'s; the
//! adapters to Queues, the Durable Object and the admin routes are in `runtime/`.
//!
//! ```text
//! collect / proxied page ──(message made in the handler, sent in waitUntil)──▶ queue `intent-events`
//!     ──▶ consumer: one call per store (site:shard) ──▶ AudienceStore (SQLite)
//! admin routes ──▶ every shard of the site ──▶ merged answer
//! ```

use base64_simd::URL_SAFE_NO_PAD;
use intent_audience::shard::Sharding;
use intent_audience::Record;
use intent_engine::{Event, Profile, Rules, Timestamp};
use serde::{Deserialize, Serialize};

use crate::visitor::Resolved;

/// Bindings and vars of the audience layer; the names are the keys in `wrangler.toml`.
pub mod names {
    /// The queue producer binding of `intent-events`.
    pub const EVENTS_QUEUE: &str = "EVENTS";
    /// The queue producer binding of `intent-deliveries` (the stores hand out what is due).
    pub const DELIVERIES_QUEUE: &str = "DELIVERIES";
    /// The name of the deliveries queue, which its consumer's batches carry.
    pub const DELIVERIES_QUEUE_NAME: &str = "intent-deliveries";
    /// The `AudienceStore` Durable Object namespace.
    pub const STORE: &str = "AUDIENCES";
    /// Shards per site's store: `4`, or `acme=4,demo=1` (default 1).
    pub const AUDIENCE_SHARDS: &str = "AUDIENCE_SHARDS";
    /// Days the event log keeps events (default 30).
    pub const EVENT_RETENTION_DAYS: &str = "EVENT_RETENTION_DAYS";
    /// Tests only (`make dev` and the test harness may set it, a deployment never does): a
    /// storage failure to inject, `ingest:N` (see [`super::Fault`]).
    pub const AUDIENCE_FAULTS: &str = "AUDIENCE_FAULTS";
}

/// A storage failure the tests inject to prove that a failing store loses nothing: every
/// store object fails the `statement`-th SQL statement of its first ingest, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Which statement of the ingest fails, counting from 1.
    pub statement: u32,
}

impl Fault {
    /// Reads `AUDIENCE_FAULTS`: empty (none) or `ingest:N`.
    pub fn parse(setting: &str) -> Result<Option<Fault>, String> {
        let setting = setting.trim();
        if setting.is_empty() {
            return Ok(None);
        }
        setting
            .strip_prefix("ingest:")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
            .map(|statement| Some(Fault { statement }))
            .ok_or_else(|| {
                format!(
                    "`{}`: `{}` is not a fault; expected `ingest:N` (tests only)",
                    names::AUDIENCE_FAULTS,
                    crate::api_error::echo(setting)
                )
            })
    }
}

/// The audience layer's settings, from the vars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceSettings {
    /// Shards per site (`AUDIENCE_SHARDS`).
    pub sharding: Sharding,
    /// The store's settings (`EVENT_RETENTION_DAYS`).
    pub store: intent_audience::Settings,
    /// A storage failure to inject (`AUDIENCE_FAULTS`, tests only).
    pub fault: Option<Fault>,
}

impl AudienceSettings {
    /// Reads the vars (missing: `None`). A var that cannot be used is an error naming it: the
    /// audience layer then stays off rather than guess where visitors' records belong.
    pub fn from_vars(
        shards: Option<&str>,
        retention: Option<&str>,
        faults: Option<&str>,
    ) -> Result<AudienceSettings, String> {
        Ok(AudienceSettings {
            sharding: Sharding::parse(shards.unwrap_or("")).map_err(|e| e.to_string())?,
            store: intent_audience::Settings::with_retention(retention)
                .map_err(|e| e.to_string())?,
            fault: Fault::parse(faults.unwrap_or(""))?,
        })
    }

    /// The store object of `visitor` of `site`: `site:N`.
    pub fn object_of(&self, site: &str, visitor: &str) -> String {
        intent_audience::shard::object_name(site, self.sharding.shard_of(site, visitor))
    }

    /// Every store object of `site`, shard 0 first.
    pub fn objects(&self, site: &str) -> Vec<String> {
        (0..self.sharding.shards(site))
            .map(|n| intent_audience::shard::object_name(site, n))
            .collect()
    }
}

/// What one collect call or proxied page view recorded, for one site (or one event another tool
/// posted): a message of the `intent-events` queue holds one (`POST /v1/events`) or a JSON array
/// of them (the calls an isolate made within 20 ms, see [`Queued::read_message`]).
///
/// ```json
/// {"site": "demo", "record": {"visitor": "q3Xk…", "at": 1795168800, "profile": "…", "events": [{"id": "…:0", "event": "{…}"}]}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    /// The site the call was for.
    pub site: String,
    /// What it recorded.
    pub record: Record,
}

impl Queued {
    /// The message's text (queue messages are sent as text).
    pub fn to_json(&self) -> String {
        // Serialising strings, numbers and arrays cannot fail; an empty message would be
        // refused by the consumer, never half-read.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads one call's text.
    pub fn from_json(text: &str) -> Result<Queued, String> {
        serde_json::from_str(text).map_err(|e| format!("not an intent-events message: {e}"))
    }

    /// Reads a message's text: one call (a JSON object) or several (a JSON array of them). A
    /// message is read whole or not at all: one unreadable call fails it.
    pub fn read_message(text: &str) -> Result<Vec<Queued>, String> {
        if text.trim_start().starts_with('[') {
            serde_json::from_str(text).map_err(|e| format!("not an intent-events message: {e}"))
        } else {
            Queued::from_json(text).map(|q| vec![q])
        }
    }
}

/// The visitor id a call's records are keyed by: the one the visitor's token carries (the
/// answer's `"visitor"`), which the edge gives a visitor at their first recorded call and which
/// carries over across rule changes. `None` for a profile without one (the runtime had no random
/// source for it): such a call is not stored, and the visitor gains an id on a later call.
pub fn visitor_id(profile: &Profile) -> Option<String> {
    profile.visitor().map(|id| id.to_string())
}

/// What a call recorded, owned, taken from the resolved flow: the sanitising, serialising and
/// signing for the queue are [`Pending::into_queued`]'s.
#[derive(Debug)]
pub struct Pending {
    site: String,
    /// The call's time, in milliseconds (the edge's clock).
    at_ms: f64,
    profile: Profile,
    events: Vec<Event<'static>>,
}

impl Pending {
    /// What the call recorded, when anything may be stored: the visitor is tracked and at least
    /// one event was recorded. Takes the profile out of `resolved`. `at_ms` is the time the call
    /// was resolved at, in milliseconds.
    pub fn take(resolved: &mut Resolved<'_, '_, '_>, at_ms: f64) -> Option<Pending> {
        if !resolved.may_store() || resolved.recorded.is_empty() {
            return None;
        }
        let profile = resolved.profile.take()?;
        Some(Pending {
            site: resolved.site.to_owned(),
            at_ms,
            profile,
            events: resolved
                .recorded
                .iter()
                .map(|e| e.clone().into_owned())
                .collect(),
        })
    }

    /// The queue message: each event sanitised with an id `<call_id>:<i>`, the profile encoded
    /// for the store. `None` when the visitor has no id.
    pub fn into_queued(self, call_id: &str, rules: &Rules) -> Option<Queued> {
        let visitor = visitor_id(&self.profile)?;
        let record = Record::new(
            call_id,
            &visitor,
            Timestamp::from_millis(self.at_ms),
            rules,
            &self.profile,
            self.events.iter(),
        )
        .at_millis(self.at_ms);
        Some(Queued {
            site: self.site,
            record,
        })
    }
}

/// A call id from 12 random bytes: 16 base64url characters.
pub fn call_id(random: [u8; 12]) -> String {
    URL_SAFE_NO_PAD.encode_to_string(random)
}

/// One store's share of a batch: the calls (by the place `group` was given for each) whose
/// visitors live in the store object `object` of `site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The site.
    pub site: String,
    /// The store object, `site:N`.
    pub object: String,
    /// The calls' places, in batch order.
    pub calls: Vec<usize>,
}

/// Splits a batch into one group per store object, in order of first appearance. `calls`
/// gives each readable call's place, site and visitor; a call without a visitor (an event from
/// another tool, keyed by email) goes to every store of its site, since any of them may hold
/// the visitor who identified with the email. A call is done when every group it is in is, and
/// a message when all its calls are.
pub fn group<'m>(
    calls: impl IntoIterator<Item = (usize, &'m str, Option<&'m str>)>,
    settings: &AudienceSettings,
) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, site, visitor) in calls {
        let objects = match visitor {
            Some(visitor) => vec![settings.object_of(site, visitor)],
            None => settings.objects(site),
        };
        for object in objects {
            match groups.iter_mut().find(|g| g.object == object) {
                Some(g) => g.calls.push(i),
                None => groups.push(Group {
                    site: site.to_owned(),
                    object,
                    calls: vec![i],
                }),
            }
        }
    }
    groups
}

/// The calls the worker makes to a store object (`https://store/<op>`), and what they carry.
/// Every call names the rules the caller runs with in [`store_api::RULES`]; an object that runs
/// with other rules compares them (see `runtime::store`).
pub mod store_api {
    /// Header: the id of the rules the calling isolate runs with.
    pub const RULES: &str = "x-intent-rules";
    /// Header of a page of the event log: where the next page starts.
    pub const NEXT: &str = "x-intent-next";
    /// `POST`, body a JSON array of `Record`s: ingest them; answers what was stored.
    pub const INGEST: &str = "/ingest";
    /// `POST`, body the rules text just published: run with it and backfill.
    pub const RULES_PUBLISHED: &str = "/rules";
    /// `GET`: audiences and their counts.
    pub const AUDIENCES: &str = "/audiences";
    /// `GET ?name=&format=&limit=&cursor=`: a page of an audience's members, as JSON.
    pub const MEMBERS: &str = "/members";
    /// `GET ?within=<seconds>`: accounts.
    pub const ACCOUNTS: &str = "/accounts";
    /// `GET ?id=`: one visitor's record, memberships, timeline and explanation.
    pub const VISITOR: &str = "/visitor";
    /// `GET ?since=<seconds>[&after=<n>]`: a page of the event log as JSON Lines.
    pub const EVENTS: &str = "/events";
    /// `POST ?visitor=` or `?email=`: erase.
    pub const ERASE: &str = "/erase";
    /// `POST`: make sure the alarm is set (the weekly cron).
    pub const WAKE: &str = "/wake";
    /// `POST`, body an `intent_audience::send::AuditDigest`: write the weekly audit's
    /// notifications (once a week) and hand them out; answers how many were written.
    pub const AUDIT: &str = "/audit";
    /// The query parameter of [`RULES_PUBLISHED`] (and of `PUT /v1/admin/rules`): `true` asks
    /// the backfill of the new rules to fire triggers.
    pub const FIRE_TRIGGERS: &str = "fire_triggers";
    /// `GET ?status=`: the deliveries (`intent_audience::Deliveries`).
    pub const DELIVERIES: &str = "/deliveries";
    /// `POST`, body a JSON array of `runtime::deliveries::Report`s: what attempts came to.
    pub const DELIVERY_REPORT: &str = "/deliveries/report";
    /// `POST ?id=`: try a dead or failed delivery again now.
    pub const DELIVERY_RETRY: &str = "/deliveries/retry";
    /// The origin of the internal calls (never reaches the network).
    pub const ORIGIN: &str = "https://audience-store";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::NotTracked;
    use crate::visitor::{resolve, Call, Visitor};
    use intent_engine::{Keyring, VisitorId};

    fn keys() -> Keyring {
        Keyring::parse("k1:a-test-secret-of-at-least-32-characters")
            .unwrap()
            .for_sites(["demo"])
    }

    fn visitor(not_tracked: Option<NotTracked>) -> Visitor<'static> {
        Visitor {
            site: "demo",
            not_tracked,
            cookie_token: None,
            first_party: false,
            host: "demo.test",
            new_id: || Some(VisitorId::from_random_bytes(*b"test-visitor")),
            consent: crate::settings::Consent::Implied,
        }
    }

    #[test]
    fn settings_read_the_vars_and_name_a_bad_one() {
        let s = AudienceSettings::from_vars(Some("demo=2"), Some("30"), None).unwrap();
        assert_eq!(s.objects("demo"), ["demo:0", "demo:1"]);
        assert_eq!(s.objects("acme"), ["acme:0"]);
        assert_eq!(s.store.retention_days, 30);
        assert_eq!(s.fault, None);
        let d = AudienceSettings::from_vars(None, None, None).unwrap();
        assert_eq!(d.store.retention_days, 30);
        assert_eq!(d.objects("demo"), ["demo:0"]);
        let err = AudienceSettings::from_vars(Some("x"), None, None).unwrap_err();
        assert!(err.contains("AUDIENCE_SHARDS"), "{err}");
        let err = AudienceSettings::from_vars(None, Some("0"), None).unwrap_err();
        assert!(err.contains("EVENT_RETENTION_DAYS"), "{err}");
        let err = AudienceSettings::from_vars(None, None, Some("boom")).unwrap_err();
        assert!(err.contains("AUDIENCE_FAULTS"), "{err}");
        let f = AudienceSettings::from_vars(None, None, Some("ingest:4")).unwrap();
        assert_eq!(f.fault, Some(Fault { statement: 4 }));
    }

    #[test]
    fn a_tracked_call_is_queued_and_an_untracked_one_is_not() {
        let rules = Rules::builtin();
        let keys = keys();
        let now = Timestamp::from_secs(1_795_000_000);
        let events = [Event::pageview(
            "https://demo.test/pricing?utm_source=news&email=jane%40acme.com",
            Some("https://www.google.com/search?q=x"),
        )];
        let call = Call::Collect {
            events: &events,
            body_token: None,
        };
        let mut r = resolve(rules, Ok(&keys), &visitor(None), call, now).unwrap();
        let ms = now.secs() as f64 * 1000.0 + 250.0;
        let pending = Pending::take(&mut r, ms).unwrap();
        let q = pending.into_queued("call-1", rules).unwrap();
        assert_eq!(q.site, "demo");
        assert_eq!(q.record.at, now.secs());
        assert_eq!(q.record.ms, Some(now.secs() * 1000 + 250));
        assert_eq!(q.record.events.len(), 1);
        assert_eq!(q.record.events[0].id, "call-1:0");
        // Keyed by the token's visitor id, the answer's `"visitor"`.
        let id = VisitorId::from_random_bytes(*b"test-visitor").to_string();
        assert_eq!(q.record.visitor, id);
        assert!(
            r.answer_json().contains(&format!("\"visitor\":\"{id}\"")),
            "{}",
            r.answer_json()
        );
        // Sanitised: UTM kept, the rest of the query and the referrer's path dropped.
        let body = &q.record.events[0].event;
        assert!(body.contains("utm_source=news"), "{body}");
        assert!(!body.contains("jane"), "{body}");
        assert!(!body.contains("search"), "{body}");
        let back = Queued::from_json(&q.to_json()).unwrap();
        assert_eq!(back, q);
        // A message holds one call, or the calls of 20 ms as a JSON array (worker/js/http.js).
        assert_eq!(
            Queued::read_message(&q.to_json()).unwrap(),
            std::slice::from_ref(&q)
        );
        let many = format!("[{},{}]", q.to_json(), q.to_json());
        assert_eq!(Queued::read_message(&many).unwrap(), [q.clone(), q.clone()]);
        assert_eq!(Queued::read_message(" []").unwrap(), []);
        // One unreadable call fails the whole message (it is retried, then dead-lettered).
        let bad = format!("[{},{{\"site\": 1}}]", q.to_json());
        assert!(Queued::read_message(&bad).is_err());
        // The visitor's next call, with their token, is keyed by the same id.
        let again = Call::Collect {
            events: &events,
            body_token: r.token.as_deref(),
        };
        let other = Visitor {
            new_id: || Some(VisitorId::from_random_bytes(*b"other-random")),
            ..visitor(None)
        };
        let mut r2 = resolve(rules, Ok(&keys), &other, again, now.plus_secs(5)).unwrap();
        let q2 = Pending::take(&mut r2, ms + 5000.0)
            .unwrap()
            .into_queued("call-2", rules)
            .unwrap();
        assert_eq!(q2.record.visitor, id);
        // A profile without an id (no random source) is not stored.
        let no_id = Visitor {
            new_id: || None,
            ..visitor(None)
        };
        let mut r3 = resolve(rules, Ok(&keys), &no_id, call, now).unwrap();
        assert!(Pending::take(&mut r3, ms)
            .unwrap()
            .into_queued("call-3", rules)
            .is_none());

        // GPC: nothing.
        let mut off = resolve(
            rules,
            Ok(&keys),
            &visitor(Some(NotTracked::GlobalPrivacyControl)),
            call,
            now,
        )
        .unwrap();
        assert!(Pending::take(&mut off, 0.0).is_none());
        // Nothing recorded: nothing.
        let empty = Call::Collect {
            events: &[],
            body_token: None,
        };
        let mut none = resolve(rules, Ok(&keys), &visitor(None), empty, now).unwrap();
        assert!(Pending::take(&mut none, 0.0).is_none());
        assert!(Queued::from_json("{\"site\": 1}").is_err());
    }

    #[test]
    fn a_batch_is_grouped_by_store_object() {
        let s = AudienceSettings::from_vars(Some("demo=2"), None, None).unwrap();
        let ids = [
            "AAAAAAAAAAAAAAAAAAAAAA",
            "v00000001-Zm9vYmFyYmF6",
            "BBBBBBBBBBBBBBBBBBBBBB",
        ];
        let batch = [
            (0, "demo", ids[0]),
            (1, "acme", ids[1]),
            (2, "demo", ids[1]),
            (3, "demo", ids[0]),
            (5, "demo", ids[2]),
        ];
        let groups = group(batch.iter().map(|(i, site, v)| (*i, *site, Some(*v))), &s);
        let all: usize = groups.iter().map(|g| g.calls.len()).sum();
        assert_eq!(all, 5);
        for g in &groups {
            for &i in &g.calls {
                let (_, site, v) = batch.iter().find(|(j, _, _)| *j == i).unwrap();
                assert_eq!(g.object, s.object_of(site, v));
                assert_eq!(&g.site, site);
            }
        }
        // The same visitor always goes to the same object; one-shard sites to `site:0`.
        let acme = groups.iter().find(|g| g.site == "acme").unwrap();
        assert_eq!(
            (acme.object.as_str(), acme.calls.as_slice()),
            ("acme:0", &[1][..])
        );
        let first = groups.iter().find(|g| g.calls.contains(&0)).unwrap();
        assert!(first.calls.contains(&3));
        assert_eq!(call_id([0; 12]).len(), 16);
        // An event from another tool, keyed by email, goes to every store of its site.
        let groups = group([(0, "demo", Some(ids[0])), (1, "demo", None)], &s);
        let with_1: Vec<&str> = groups
            .iter()
            .filter(|g| g.calls.contains(&1))
            .map(|g| g.object.as_str())
            .collect();
        assert_eq!(with_1, ["demo:0", "demo:1"]);
        assert_eq!(groups.iter().filter(|g| g.calls.contains(&0)).count(), 1);
    }
}
