//! When a delivery is tried again: the retry schedule, `Retry-After`, and each destination
//! type's rate limit.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The default of `DELIVERY_RETRY_SCHEDULE`: the waits after the first attempt, the second, …;
/// after the last, the delivery is dead (about three days in all).
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,14h,20h,24h";

/// The longest wait a `Retry-After` can ask for, and a schedule step can be: a queue delays a
/// message at most 24 hours.
pub const MAX_RETRY_WAIT_SECS: u64 = 86_400;

/// The waits between attempts, in seconds (`DELIVERY_RETRY_SCHEDULE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<u64>);

impl Default for RetrySchedule {
    fn default() -> RetrySchedule {
        // The default is a constant that the tests parse: it cannot fail.
        RetrySchedule::parse(DEFAULT_RETRY_SCHEDULE).unwrap_or(RetrySchedule(vec![5]))
    }
}

impl RetrySchedule {
    /// Reads `5s,5m,30m,2h` (units `s`, `m`, `h`, `d`; 1 to 20 steps, each at most 24 h).
    pub fn parse(text: &str) -> Result<RetrySchedule, Error> {
        let bad = |why: String| Error::param("DELIVERY_RETRY_SCHEDULE", why);
        let steps: Vec<&str> = text.split(',').map(str::trim).collect();
        if steps.is_empty() || steps.len() > 20 {
            return Err(bad("give 1 to 20 waits, like `5s,5m,30m`".to_owned()));
        }
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let wrong = || {
                bad(format!(
                    "`{step}` is not a wait like `5s`, `5m`, `2h` or `1d`"
                ))
            };
            let unit = step.chars().last().ok_or_else(wrong)?;
            let per = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                _ => return Err(wrong()),
            };
            let digits = &step[..step.len() - 1];
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(wrong());
            }
            let secs = digits.parse::<u64>().map_err(|_| wrong())? * per;
            if secs == 0 || secs > MAX_RETRY_WAIT_SECS {
                return Err(bad(format!("`{step}`: each wait is from 1s to 24h")));
            }
            out.push(secs);
        }
        Ok(RetrySchedule(out))
    }

    /// The schedule of the var, or the default when it is unset or empty.
    pub fn from_var(var: Option<&str>) -> Result<RetrySchedule, Error> {
        match var.map(str::trim).filter(|v| !v.is_empty()) {
            Some(text) => RetrySchedule::parse(text),
            None => Ok(RetrySchedule::default()),
        }
    }

    /// The waits, in seconds.
    pub fn steps(&self) -> &[u64] {
        &self.0
    }

    /// How long to wait after failed attempt number `failed` (1 for the first) before the
    /// next, or `None` when the schedule is over and the delivery is dead. A `Retry-After` the
    /// receiver sent is honoured when it asks for longer (up to 24 hours).
    pub fn wait_after(&self, failed: u32, retry_after: Option<u64>) -> Option<u64> {
        let step = *self.0.get((failed.max(1) - 1) as usize)?;
        Some(step.max(retry_after.unwrap_or(0).min(MAX_RETRY_WAIT_SECS)))
    }
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date, as seconds from `now`
/// (seconds since the epoch). `None` when absent or unreadable.
pub fn retry_after(header: Option<&str>, now: i64) -> Option<u64> {
    let h = header?.trim();
    if !h.is_empty() && h.len() <= 10 && h.bytes().all(|b| b.is_ascii_digit()) {
        return h.parse().ok();
    }
    let at = time::OffsetDateTime::parse(h, &time::format_description::well_known::Rfc2822)
        .ok()?
        .unix_timestamp();
    Some(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
}

/// What one attempt came to, as the sender reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The receiver accepted it (a 2xx).
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// It failed: an error status, or no answer at all.
    Failed {
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// The receiver's `Retry-After`, in seconds.
        retry_after: Option<u64>,
        /// What went wrong, in words.
        error: String,
    },
}

impl Outcome {
    /// The outcome of an HTTP answer with `status` (2xx delivered; a redirect, never followed,
    /// is a failure) and its `Retry-After` header, at `now`.
    pub fn of_status(status: u16, retry_after_header: Option<&str>, now: i64) -> Outcome {
        if (200..300).contains(&status) {
            Outcome::Delivered { status }
        } else {
            let error = if (300..400).contains(&status) {
                format!("HTTP {status}: a redirect, which is not followed")
            } else {
                format!("HTTP {status}")
            };
            Outcome::Failed {
                status: Some(status),
                retry_after: retry_after(retry_after_header, now),
                error,
            }
        }
    }
}

/// A destination type's limit: at most `count` requests in any `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests at most…
    pub count: usize,
    /// …in any span of this many seconds.
    pub per_secs: i64,
}

impl RateLimit {
    /// The limit of a destination type: Slack's incoming webhooks one message a second,
    /// HubSpot's private apps under 190 requests in 10 seconds (180, to leave room for the
    /// one-time setup and retries). Other types: none.
    pub fn of(destination_type: &str) -> Option<RateLimit> {
        match destination_type {
            "slack" => Some(RateLimit {
                count: 1,
                per_secs: 1,
            }),
            "hubspot" => Some(RateLimit {
                count: 180,
                per_secs: 10,
            }),
            _ => None,
        }
    }
}

/// The recent requests to one destination, kept between calls to pace the next ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace(VecDeque<i64>);

impl Pace {
    /// Books the next request at or after `now` within `limit`, and returns when it may go: the
    /// earliest second at which the `count` requests before it all lie `per_secs` or more back.
    pub fn book(&mut self, limit: RateLimit, now: i64) -> i64 {
        let count = limit.count.max(1);
        while self.0.len() > count {
            self.0.pop_front();
        }
        let at = if self.0.len() == count {
            self.0
                .front()
                .map_or(now, |oldest| now.max(oldest + limit.per_secs))
        } else {
            now
        };
        // Booked times only grow: a clock that steps back does not book into the past.
        let at = self.0.back().map_or(at, |last| at.max(*last));
        if self.0.len() == count {
            self.0.pop_front();
        }
        self.0.push_back(at);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::{retry_after, Outcome, Pace, RateLimit, RetrySchedule};

    #[test]
    fn the_default_schedule_and_its_end() {
        let s = RetrySchedule::default();
        assert_eq!(
            s.steps(),
            &[5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400]
        );
        assert_eq!(s.wait_after(1, None), Some(5));
        assert_eq!(s.wait_after(2, Some(60)), Some(300));
        assert_eq!(
            s.wait_after(1, Some(120)),
            Some(120),
            "Retry-After honoured"
        );
        assert_eq!(s.wait_after(1, Some(10_000_000)), Some(86_400), "capped");
        assert_eq!(s.wait_after(9, None), Some(86_400));
        assert_eq!(s.wait_after(10, None), None, "dead after the last step");
        for bad in [
            "",
            "5",
            "5x",
            "0s",
            "25h",
            "-1s",
            "5s,,5m",
            "1s,2s,3s,4s,5s,6s,7s,8s,9s,10s,11s,12s,13s,14s,15s,16s,17s,18s,19s,20s,21s",
        ] {
            assert!(RetrySchedule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            RetrySchedule::from_var(Some(" ")),
            Ok(RetrySchedule::default())
        );
        assert_eq!(
            RetrySchedule::from_var(Some("1s, 2s")).map(|s| s.steps().to_vec()),
            Ok(vec![1, 2])
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = 1_445_412_480; // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(retry_after(Some("120"), now), Some(120));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:30:00 GMT"), now),
            Some(120)
        );
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:20:00 GMT"), now),
            Some(0)
        );
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
        assert_eq!(
            Outcome::of_status(503, Some("30"), now),
            Outcome::Failed {
                status: Some(503),
                retry_after: Some(30),
                error: "HTTP 503".to_owned()
            }
        );
        assert_eq!(
            Outcome::of_status(204, None, now),
            Outcome::Delivered { status: 204 }
        );
        assert!(matches!(
            Outcome::of_status(302, None, now),
            Outcome::Failed {
                status: Some(302),
                ..
            }
        ));
    }

    #[test]
    fn slack_is_paced_to_one_a_second() {
        let limit = RateLimit::of("slack").unwrap_or(RateLimit {
            count: 0,
            per_secs: 0,
        });
        let mut pace = Pace::default();
        let booked: Vec<i64> = (0..4).map(|_| pace.book(limit, 100)).collect();
        assert_eq!(booked, vec![100, 101, 102, 103]);
        assert_eq!(pace.book(limit, 200), 200);
    }

    proptest::proptest! {
        /// Whatever the arrivals, no span of `per_secs` seconds holds more than `count` booked
        /// requests, and each is booked at or after it arrived.
        #[test]
        fn pacing_never_exceeds_the_limit(
            count in 1usize..6,
            per in 1i64..20,
            mut arrivals in proptest::collection::vec(0i64..200, 1..80),
        ) {
            arrivals.sort_unstable();
            let limit = RateLimit { count, per_secs: per };
            let mut pace = Pace::default();
            let booked: Vec<i64> = arrivals.iter().map(|&a| pace.book(limit, a)).collect();
            for (a, b) in arrivals.iter().zip(&booked) {
                proptest::prop_assert!(b >= a);
            }
            for (i, &start) in booked.iter().enumerate() {
                let within = booked[i..].iter().filter(|&&t| t < start + per).count();
                proptest::prop_assert!(within <= count, "{within} in [{start}, {})", start + per);
            }
        }
    }
}
