//! Points in time as values. The engine never reads a clock.

use std::fmt;

/// A point in time, in whole seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    input: String,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an RFC 3339 time; expected something like `2026-11-20T10:00:00Z`",
            self.input
        )
    }
}

impl std::error::Error for TimeError {}

impl Timestamp {
    /// A timestamp from seconds since the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// A timestamp from milliseconds since the Unix epoch, as `Date.now()` gives them.
    pub fn from_millis(millis: f64) -> Self {
        if millis.is_finite() {
            Timestamp((millis / 1000.0).floor() as i64)
        } else {
            Timestamp(0)
        }
    }

    /// Seconds since the Unix epoch.
    pub const fn secs(self) -> i64 {
        self.0
    }

    /// This time plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Reads an RFC 3339 time such as `2026-11-20T10:00:00Z` or `2026-11-20T11:00:00+01:00`.
    pub fn parse_rfc3339(input: &str) -> Result<Self, TimeError> {
        let format = time::format_description::well_known::Rfc3339;
        time::OffsetDateTime::parse(input.trim(), &format)
            .map(|t| Timestamp(t.unix_timestamp()))
            .map_err(|_| TimeError {
                input: input.chars().take(64).collect(),
            })
    }
}

impl fmt::Display for Timestamp {
    /// Formats as RFC 3339 in UTC, for explanations and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = time::format_description::well_known::Rfc3339;
        match time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&format).ok())
        {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}", self.0),
        }
    }
}

/// Words for a span of seconds, as a marketer writes it: `14 days`, `12 hours`, `30 minutes`.
pub(crate) fn describe_span(secs: u64) -> String {
    const DAY: u64 = 86_400;
    let (n, unit) = if secs.is_multiple_of(DAY) {
        (secs / DAY, "day")
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else {
        (secs.div_ceil(60), "minute")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rfc3339() {
        let t = Timestamp::parse_rfc3339("2026-11-20T10:00:00Z").unwrap();
        assert_eq!(t.secs(), 1_795_168_800);
        assert_eq!(t.to_string(), "2026-11-20T10:00:00Z");
        let t2 = Timestamp::parse_rfc3339("2026-11-20T11:00:00+01:00").unwrap();
        assert_eq!(t, t2);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn spans_read_as_words() {
        assert_eq!(describe_span(14 * 86_400), "14 days");
        assert_eq!(describe_span(86_400), "1 day");
        assert_eq!(describe_span(7200), "2 hours");
        assert_eq!(describe_span(1800), "30 minutes");
    }
}
