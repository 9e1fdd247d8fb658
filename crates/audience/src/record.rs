//! What the queue carries from the edge to a site's store: one message per collect call or
//! proxied page view.

use intent_engine::{Event, Profile, Rules, Timestamp};
use serde::{Deserialize, Serialize};

use crate::codec::encode_profile;

/// What the edge recorded in one call, as the queue carries it: the visitor, when, the profile
/// after the call as the edge computed it, and the call's events, sanitised, each with an id
/// that makes a redelivery harmless.
///
/// ```json
/// {"visitor": "q3Xk…", "at": 1795168800, "ms": 1795168800123, "profile": "AgF…", "events": [{"id": "c9f…:0", "event": "{\"type\":\"pageview\",\"url\":\"/pricing\"}"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The visitor's id.
    pub visitor: String,
    /// When the call happened, in seconds since the epoch (the edge's clock).
    pub at: i64,
    /// The same moment in milliseconds, when the edge gives it: it orders a visitor's calls
    /// within one second, whose records a queue may deliver in any order (a retried batch after
    /// a later one), so that the store keeps the latest profile. Set it with
    /// [`Record::at_millis`]; without it calls are ordered by `at` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<i64>,
    /// The visitor's profile after the call ([`crate::encode_profile`]), if the edge sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The call's events, oldest first.
    pub events: Vec<Logged>,
}

/// One event of a [`Record`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logged {
    /// Unique per event: the producer's id for the call and the event's place in it.
    pub id: String,
    /// The sanitised event as JSON text, the way the event log stores it.
    pub event: String,
}

impl Record {
    /// What the producer enqueues for a call: each event sanitised ([`Event::sanitized`]), its
    /// id `<call_id>:<index>`, and the profile encoded for the store.
    pub fn new<'e>(
        call_id: &str,
        visitor: &str,
        at: Timestamp,
        rules: &Rules,
        profile: &Profile,
        events: impl IntoIterator<Item = &'e Event<'e>>,
    ) -> Record {
        Record {
            visitor: visitor.to_owned(),
            at: at.secs(),
            ms: None,
            profile: Some(encode_profile(rules, profile)),
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, e)| Logged {
                    id: format!("{call_id}:{i}"),
                    event: event_json(&e.sanitized()),
                })
                .collect(),
        }
    }
}

impl Record {
    /// The record with the call's time in milliseconds (the edge's clock, as `at` in seconds
    /// comes from), which orders the calls of one second. A time outside `at`'s second is
    /// ignored.
    pub fn at_millis(mut self, ms: f64) -> Record {
        let ms = ms.floor();
        if ms.is_finite() && (ms / 1000.0).floor() as i64 == self.at {
            self.ms = Some(ms as i64);
        }
        self
    }

    /// The key that orders a visitor's calls: milliseconds, or the start of the second.
    pub(crate) fn order(&self) -> i64 {
        self.ms.unwrap_or(self.at.saturating_mul(1000))
    }
}

/// An event as JSON text. Serialising an event cannot fail (it has string keys and finite
/// numbers only), so the empty object is never written in practice.
pub(crate) fn event_json(event: &Event<'_>) -> String {
    serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned())
}
