//! Times in answers: RFC 3339 in UTC, as the admin API writes them.

use intent_engine::Timestamp;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes a timestamp as RFC 3339 (`2026-11-20T10:00:00Z`).
pub(crate) fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Reads a timestamp written by [`rfc3339`].
pub(crate) fn from_rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
}
