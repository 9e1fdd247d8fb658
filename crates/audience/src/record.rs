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
/// {"visitor": "q3Xk…", "at": 1795168800, "profile": "AgF…", "events": [{"id": "c9f…:0", "event": "{\"type\":\"pageview\",\"url\":\"/pricing\"}"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The visitor's id.
    pub visitor: String,
    /// When the call happened, in seconds since the epoch (the edge's clock).
    pub at: i64,
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

/// An event as JSON text. Serialising an event cannot fail (it has string keys and finite
/// numbers only), so the empty object is never written in practice.
pub(crate) fn event_json(event: &Event<'_>) -> String {
    serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned())
}
