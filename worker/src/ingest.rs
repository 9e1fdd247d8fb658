//! `POST /v1/events`: events from the team's other tools (an email platform's opens and
//! clicks, a CRM's form fills) about people who identified on the site, read and checked here
//! without the runtime.
//!
//! ```json
//! {"site": "demo", "events": [{"email": "jane@acme.com", "type": "event", "name": "email_opened",
//!   "ts": "2026-12-01T09:30:00Z", "props": {"campaign": "winter"}}]}
//! ```
//!
//! Each event becomes one queue message ([`crate::audience::Queued`]) keyed by the person's
//! email, which the store files under the visitor who identified with it. Its id is
//! `ext:<batch>:<n>`: the batch is a digest of the site and the caller's `Idempotency-Key`
//! (or a random one, returned), so a batch posted again with the same key stores nothing
//! twice. These events count in audiences, never in a visitor's token.

use base64_simd::URL_SAFE_NO_PAD;
use intent_audience::{Record, EXTERNAL_ID_PREFIX};
use intent_engine::{Email, Event, Timestamp};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::api_error::{echo, ApiError};

/// Most events one call may post.
pub const MAX_EVENTS: usize = 500;
/// Largest body of a call: 500 events of about 1 KiB each, with room.
pub const MAX_INGEST_BODY_BYTES: usize = 1024 * 1024;
/// Longest `Idempotency-Key`.
pub const MAX_KEY_CHARS: usize = 255;
/// How far ahead of the edge's clock an event's `ts` may be (the caller's clock may be a
/// little ahead).
pub const MAX_AHEAD_SECS: i64 = 300;

/// A checked call: the site and one record per event, in the body's order.
#[derive(Debug)]
pub struct Batch {
    /// The site.
    pub site: String,
    /// One record per event.
    pub records: Vec<Record>,
}

/// The id of a batch from its `Idempotency-Key` and site: 22 base64url characters of their
/// SHA-256, so a key of any characters makes a short, valid event id, and the same key on
/// two sites names two batches.
pub fn batch_id(site: &str, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(site.as_bytes())
        .chain_update([0u8])
        .chain_update(key.as_bytes())
        .finalize();
    let mut id = URL_SAFE_NO_PAD.encode_to_string(digest);
    id.truncate(22);
    id
}

/// Checks an `Idempotency-Key` header: 1 to [`MAX_KEY_CHARS`] visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`Idempotency-Key`: `{}` is not 1 to {MAX_KEY_CHARS} visible ASCII characters",
            echo(key)
        )))
    }
}

fn field(at: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("`{at}`: {message}"))
}

/// Reads a call's body. `known_site` says whether a site is served; events must have
/// happened at most `horizon_secs` (the rules' horizon, beyond which nothing counts) before
/// `now` and at most [`MAX_AHEAD_SECS`] after it. `batch` is the batch id ([`batch_id`]).
/// Every error names the field: `events[3].ts`.
pub fn read(
    body: &str,
    known_site: impl Fn(&str) -> bool,
    now: Timestamp,
    horizon_secs: i64,
    batch: &str,
) -> Result<Batch, ApiError> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON `{{\"site\": \"...\", \"events\": [...]}}`: {e}"
        ))
    })?;
    let Value::Object(mut top) = value else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object `{\"site\": \"...\", \"events\": [...]}`",
        ));
    };
    if let Some(unknown) = top.keys().find(|k| *k != "site" && *k != "events") {
        return Err(field(
            unknown,
            "unknown field; a body has `site` and `events`",
        ));
    }
    let site = match top.remove("site") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(field("site", "must be a string")),
        None => return Err(field("site", "missing: name the site the events are for")),
    };
    if !known_site(&site) {
        return Err(ApiError::unknown_site(&site));
    }
    let events = match top.remove("events") {
        Some(Value::Array(events)) => events,
        Some(_) => return Err(field("events", "must be an array")),
        None => return Err(field("events", "missing")),
    };
    if events.is_empty() {
        return Err(field("events", "is empty; post 1 to 500 events"));
    }
    if events.len() > MAX_EVENTS {
        return Err(field(
            "events",
            format!("{} events; post at most {MAX_EVENTS} a call", events.len()),
        ));
    }
    let oldest = now.secs() - horizon_secs;
    let latest = now.secs() + MAX_AHEAD_SECS;
    let mut records = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        let at = |name: &str| format!("events[{i}].{name}");
        let Value::Object(mut event) = event else {
            return Err(field(&format!("events[{i}]"), "must be an object"));
        };
        let email = match event.remove("email") {
            Some(Value::String(e)) => Email::parse(&e).map_err(|err| field(&at("email"), err))?,
            Some(_) => return Err(field(&at("email"), "must be a string")),
            None => {
                return Err(field(
                    &at("email"),
                    "missing: the email of the person the event is about",
                ))
            }
        };
        let ts = match event.remove("ts") {
            Some(Value::String(t)) => Timestamp::parse_rfc3339(&t)
                .map_err(|err| field(&at("ts"), format!("`{}`: {err}", echo(&t))))?,
            Some(_) => return Err(field(&at("ts"), "must be an RFC 3339 time string")),
            None => return Err(field(&at("ts"), "missing: when the event happened")),
        };
        if ts.secs() < oldest {
            return Err(field(
                &at("ts"),
                format!(
                    "{ts} is older than the rules' horizon ({} days before now, {}): it could count in no audience",
                    horizon_secs / 86_400,
                    Timestamp::from_secs(oldest)
                ),
            ));
        }
        if ts.secs() > latest {
            return Err(field(
                &at("ts"),
                format!("{ts} is in the future (now is {now})"),
            ));
        }
        match event.get("type") {
            Some(Value::String(t)) if t == "event" => {}
            Some(Value::String(t)) => {
                return Err(field(
                    &at("type"),
                    format!(
                        "`{}`: other tools post `event`s only (page views, clicks and identities come from the site)",
                        echo(t)
                    ),
                ))
            }
            Some(_) => return Err(field(&at("type"), "must be the string `event`")),
            None => return Err(field(&at("type"), "missing: `event`")),
        }
        if let Some(unknown) = event
            .keys()
            .find(|k| !["type", "name", "props"].contains(&k.as_str()))
        {
            return Err(field(
                &at(unknown),
                "unknown field; an event has `email`, `type`, `name`, `ts` and `props`",
            ));
        }
        let text = Value::Object(event).to_string();
        let parsed: Event<'_> =
            serde_json::from_str(&text).map_err(|err| field(&format!("events[{i}]"), err))?;
        let id = format!("{EXTERNAL_ID_PREFIX}{batch}:{i}");
        records.push(Record::external(id, email.as_str(), ts, &parsed));
    }
    Ok(Batch { site, records })
}

/// The answer of an accepted call.
pub fn accepted(count: usize, key: &str) -> String {
    let mut answer = Map::new();
    answer.insert("accepted".to_owned(), count.into());
    answer.insert("idempotency_key".to_owned(), key.into());
    Value::Object(answer).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_119_200; // 2026-12-01T10:00:00Z
    const HORIZON: i64 = 90 * 86_400;

    fn read_at(body: &str) -> Result<Batch, ApiError> {
        read(
            body,
            |s| s == "demo",
            Timestamp::from_secs(NOW),
            HORIZON,
            "b1",
        )
    }

    fn one(event: &str) -> String {
        format!(r#"{{"site": "demo", "events": [{event}]}}"#)
    }

    #[test]
    fn events_become_records_keyed_by_the_normalised_email() {
        let body = one(
            r#"{"email": " Jane@ACME.com", "type": "event", "name": "email_opened", "ts": "2026-12-01T09:00:00Z", "props": {"campaign": "winter"}}"#,
        );
        let batch = read_at(&body).unwrap();
        assert_eq!(batch.site, "demo");
        let r = &batch.records[0];
        assert_eq!(r.email.as_deref(), Some("jane@acme.com"));
        assert_eq!(r.visitor, "");
        assert_eq!(r.at, NOW - 3600);
        assert!(r.profile.is_none());
        assert_eq!(r.events[0].id, "ext:b1:0");
        assert!(
            r.events[0].event.contains("email_opened"),
            "{}",
            r.events[0].event
        );
        assert!(
            r.events[0].event.contains("winter"),
            "{}",
            r.events[0].event
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let ok = r#""type": "event", "name": "email_opened", "ts": "2026-12-01T09:00:00Z""#;
        let cases = [
            (
                one(&format!(r#"{{"email": "not-an-email", {ok}}}"#)),
                "`events[0].email`",
            ),
            (one(&format!(r#"{{{ok}}}"#)), "`events[0].email`"),
            (
                one(
                    r#"{"email": "j@acme.com", "type": "event", "name": "x", "ts": "2026-06-01T00:00:00Z"}"#,
                ),
                "`events[0].ts`: 2026-06-01T00:00:00Z is older than the rules' horizon",
            ),
            (
                one(
                    r#"{"email": "j@acme.com", "type": "event", "name": "x", "ts": "2026-12-02T00:00:00Z"}"#,
                ),
                "`events[0].ts`: 2026-12-02T00:00:00Z is in the future",
            ),
            (
                one(r#"{"email": "j@acme.com", "type": "event", "name": "x", "ts": "yesterday"}"#),
                "`events[0].ts`",
            ),
            (
                one(
                    r#"{"email": "j@acme.com", "type": "pageview", "url": "/", "ts": "2026-12-01T09:00:00Z"}"#,
                ),
                "`events[0].type`",
            ),
            (
                one(&format!(
                    r#"{{"email": "j@acme.com", {ok}, "visitor": "x"}}"#
                )),
                "`events[0].visitor`",
            ),
            (
                one(r#"{"email": "j@acme.com", "type": "event", "ts": "2026-12-01T09:00:00Z"}"#),
                "`events[0]`",
            ),
            (
                r#"{"site": "acme", "events": []}"#.to_owned(),
                "site `acme`",
            ),
            (
                r#"{"site": "demo", "events": []}"#.to_owned(),
                "`events`: is empty",
            ),
            (r#"{"site": "demo"}"#.to_owned(), "`events`: missing"),
            (r#"{"events": []}"#.to_owned(), "`site`: missing"),
            (
                r#"{"site": "demo", "events": [], "x": 1}"#.to_owned(),
                "`x`",
            ),
            ("[]".to_owned(), "a JSON object"),
            ("{".to_owned(), "must be JSON"),
        ];
        for (body, want) in cases {
            let err = read_at(&body).unwrap_err();
            assert_eq!(err.status, 400, "{body}");
            assert!(err.message.contains(want), "{body}: {}", err.message);
        }
        // The second event is named when it is the bad one.
        let two = format!(
            r#"{{"site": "demo", "events": [{{"email": "j@acme.com", {ok}}}, {{"email": "j@", {ok}}}]}}"#
        );
        assert!(read_at(&two)
            .unwrap_err()
            .message
            .starts_with("`events[1].email`"));
    }

    #[test]
    fn at_most_500_events() {
        let event = r#"{"email": "j@acme.com", "type": "event", "name": "email_opened", "ts": "2026-12-01T09:00:00Z"}"#;
        let body = |n: usize| {
            format!(
                r#"{{"site": "demo", "events": [{}]}}"#,
                vec![event; n].join(",")
            )
        };
        assert_eq!(read_at(&body(500)).unwrap().records.len(), 500);
        let err = read_at(&body(501)).unwrap_err();
        assert!(
            err.message.starts_with("`events`: 501 events"),
            "{}",
            err.message
        );
        assert!(body(500).len() < MAX_INGEST_BODY_BYTES);
    }

    #[test]
    fn keys() {
        assert_eq!(batch_id("demo", "k-1"), batch_id("demo", "k-1"));
        assert_ne!(batch_id("demo", "k-1"), batch_id("demo", "k-2"));
        assert_ne!(batch_id("demo", "k-1"), batch_id("acme", "k-1"));
        assert_eq!(batch_id("demo", "k").len(), 22);
        let id = format!("{EXTERNAL_ID_PREFIX}{}:499", batch_id("demo", "k"));
        assert!(intent_audience::check_event(&id).is_ok());
        assert!(check_key("evt_01HX-abc/2026:12").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("with space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
        assert_eq!(accepted(5, "k"), r#"{"accepted":5,"idempotency_key":"k"}"#);
    }
}
