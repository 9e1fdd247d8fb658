//! Visitor and event ids as the store accepts them.

use crate::error::Error;

/// Shortest visitor id: 16 base64url characters are 96 bits.
pub const VISITOR_ID_MIN: usize = 16;
/// Longest visitor id.
pub const VISITOR_ID_MAX: usize = 64;
/// Longest event id.
pub const EVENT_ID_MAX: usize = 96;

/// Checks a visitor id: 16 to 64 base64url characters (at least 96 random bits, as the edge
/// makes them).
pub fn check_visitor(id: &str) -> Result<(), Error> {
    let ok = (VISITOR_ID_MIN..=VISITOR_ID_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::param(
            "id",
            format!(
                "`{}` is not a visitor id; expected {VISITOR_ID_MIN} to {VISITOR_ID_MAX} letters, digits, `-` or `_`",
                id.chars().take(80).collect::<String>()
            ),
        ))
    }
}

/// Checks an event id: 1 to 96 letters, digits, `-`, `_`, `.` or `:` (the producer makes them
/// unique: a call's id and the event's place in it).
pub fn check_event(id: &str) -> Result<(), Error> {
    let ok = (1..=EVENT_ID_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::param(
            "event",
            format!(
                "`{}` is not an event id; expected 1 to {EVENT_ID_MAX} letters, digits, `-`, `_`, `.` or `:`",
                id.chars().take(100).collect::<String>()
            ),
        ))
    }
}
