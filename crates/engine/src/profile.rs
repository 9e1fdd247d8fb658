//! The compact visitor profile: bounded counters and recent timestamps, nothing personal.
//!
//! What a profile holds, exactly (this is also what the token carries):
//! - `visitor`: the visitor's random id ([`VisitorId`]), made at their first recorded call from
//!   random bytes the caller supplies (never derived from anything about the visitor);
//! - `last_seen`: when the visitor was last active;
//! - `visits_total`: how many visits the profile has seen (saturating);
//! - the most recent [`Limits::VISITS_KEPT`] visits, each with its start, visible seconds,
//!   deepest scroll, and one bit per UTM/referrer test of the rules (never the URL or referrer);
//! - per tracked thing (a page group, a custom event, a click target, a visit filter the rules
//!   mention), the most recent timestamps (for a filtered count of visits, the start of each
//!   visit whose landing page passed; for a filtered `viewed`, each view made during one), as many as the highest `at_least` asking about it, and for page
//!   groups under an `engaged` condition the visible seconds and scroll of each view;
//! - the lead score and when it was last updated, when the rules define one.
//!
//! Where compaction approximates (everything else is exact):
//! - counts are exact up to the series' capacity; the rules cannot ask for more
//!   ([`Limits::COUNT`]);
//! - visit-level tests (`visits`, `utm`, `referrer`, site-wide `engaged`) see the 16 most recent
//!   visits (a filtered `visits` count is a series, exact as the others are); page-group `engaged` sums over the group's 16 most recent views;
//! - the score keeps decayed points of signals older than the horizon, at most
//!   `points × 2^(−horizon / half_life)` each (under 0.02 % for 90 days and a 7-day half-life);
//! - the score travels in the token as a 32-bit float (about seven significant digits), so a
//!   score within a rounding error of a threshold may land on either side of it;
//! - events are folded in arrival order: one older than the last activity counts as happening
//!   at the last activity.
//!
//! Which things are tracked, how many timestamps each keeps, and the rest of what a profile
//! keeps is its [`ProfileShape`]; a profile made under one shape is carried over to another by
//! [`Profile::carried_over`].

use std::fmt;

use base64_simd::URL_SAFE_NO_PAD;

use crate::limits::Limits;
use crate::shape::ProfileShape;
use crate::time::Timestamp;

/// A visitor's random id: 96 bits, written as 16 base64url characters.
///
/// The engine has no randomness of its own: the caller supplies the bytes (the worker from
/// `crypto.getRandomValues`), so the engine stays deterministic. The id says nothing about the
/// visitor; it only lets a form or the audience store name the same visitor again.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorId([u8; VisitorId::BYTES]);

impl VisitorId {
    /// How many random bytes an id holds.
    pub const BYTES: usize = 12;
    /// How many characters it is written with.
    pub const CHARS: usize = 16;

    /// An id from fresh random bytes.
    pub const fn from_random_bytes(bytes: [u8; VisitorId::BYTES]) -> VisitorId {
        VisitorId(bytes)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; VisitorId::BYTES] {
        &self.0
    }

    /// Reads an id written by [`VisitorId`]'s `Display`: 16 base64url characters.
    pub fn parse(text: &str) -> Option<VisitorId> {
        if text.len() != VisitorId::CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode_to_vec(text.as_bytes()).ok()?;
        Some(VisitorId(bytes.try_into().ok()?))
    }

    /// The id's characters, written without allocating.
    pub(crate) fn chars(&self) -> [u8; VisitorId::CHARS] {
        let mut out = [0u8; VisitorId::CHARS];
        // 12 bytes are exactly 16 characters: the output always fits.
        let _ = URL_SAFE_NO_PAD.encode(&self.0, base64_simd::Out::from_slice(&mut out));
        out
    }
}

impl fmt::Display for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars = self.chars();
        // base64url characters are ASCII.
        f.write_str(std::str::from_utf8(&chars).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VisitorId({self})")
    }
}

/// A visitor's compact behavioural profile. Build one with [`Profile::new`], fold events in with
/// [`Profile::fold`], carry it with [`crate::Keyring::encode`].
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The visitor's random id; `None` until their first recorded call, and for profiles of
    /// tokens issued before ids existed.
    pub(crate) visitor: Option<VisitorId>,
    pub(crate) last_seen: i64,
    pub(crate) visits_total: u32,
    /// Oldest first, at most [`Limits::VISITS_KEPT`].
    pub(crate) visits: Vec<VisitRec>,
    /// The hits of every series of the rules in one list, grouped by series in the rules'
    /// order, oldest first within a series, at most the series' capacity each. One list
    /// rather than one per series: a call then allocates once for all of them.
    pub(crate) hits: Vec<Hit>,
    pub(crate) score: f64,
    pub(crate) score_at: i64,
}

/// One visit on a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VisitRec {
    pub(crate) start: i64,
    pub(crate) seconds: u32,
    pub(crate) scroll: u8,
    /// Bit `i` set: the visit's landing page passed the rules' visit test `i`.
    pub(crate) tests: u32,
    /// Whether the visit's landing page view has been seen (and its tests evaluated).
    pub(crate) landed: bool,
}

/// One remembered occurrence of a tracked thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) at: i64,
    pub(crate) seconds: u32,
    pub(crate) scroll: u8,
    /// The index of the series in the profile's shape this hit belongs to.
    pub(crate) series: u16,
}

/// What a profile says about a visitor, in plain fields, for explanations, the API and audits.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProfileSummary {
    /// When the visitor was last active; `None` for a new visitor.
    pub last_seen: Option<Timestamp>,
    /// Visits seen by this profile.
    pub visits: u32,
    /// Whether this is a return visitor (more than one visit).
    pub returning: bool,
    /// The start of each kept visit, oldest first.
    pub visit_starts: Vec<Timestamp>,
    /// Per tracked thing, the kept timestamps, oldest first.
    pub tracked: Vec<(String, Vec<Timestamp>)>,
    /// The visitor's random id, when the profile has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
}

/// Visible seconds are kept up to this per visit and per view (18 hours).
pub(crate) const MAX_SECONDS: u32 = u16::MAX as u32;

impl Profile {
    /// A new visitor's empty profile, for the rules (or the [`ProfileShape`]) it will be folded
    /// under. (An empty profile is the same for all shapes; the argument keeps the call the same
    /// whatever shape a profile takes.)
    pub fn new<S: AsRef<ProfileShape> + ?Sized>(_shape: &S) -> Profile {
        Profile {
            visitor: None,
            last_seen: 0,
            visits_total: 0,
            visits: Vec::new(),
            hits: Vec::new(),
            score: 0.0,
            score_at: 0,
        }
    }

    /// Whether the profile has seen no activity yet.
    pub fn is_new(&self) -> bool {
        self.last_seen == 0
    }

    /// The visitor's random id, once they have one.
    pub fn visitor(&self) -> Option<VisitorId> {
        self.visitor
    }

    /// The decayed lead score at `now`, or `None` when the rules (the shape) define no score.
    pub fn score<S: AsRef<ProfileShape> + ?Sized>(&self, shape: &S, now: Timestamp) -> Option<f64> {
        let shape = shape.as_ref();
        let score = shape.score.as_ref()?;
        if self.is_new() || now.secs() - self.last_seen > shape.horizon {
            return Some(0.0);
        }
        let age = (now.secs() - self.score_at).max(0) as f64;
        Some(self.score * (0.5f64).powf(age / score.half_life as f64))
    }

    /// The profile in plain fields.
    pub fn summary<S: AsRef<ProfileShape> + ?Sized>(&self, shape: &S) -> ProfileSummary {
        let shape = shape.as_ref();
        ProfileSummary {
            last_seen: (!self.is_new()).then_some(Timestamp::from_secs(self.last_seen)),
            visits: self.visits_total,
            returning: self.visits_total > 1,
            visit_starts: self
                .visits
                .iter()
                .map(|v| Timestamp::from_secs(v.start))
                .collect(),
            tracked: shape
                .series
                .iter()
                .enumerate()
                .map(|(i, plan)| {
                    (
                        plan.what.label(),
                        self.series(i)
                            .iter()
                            .map(|h| Timestamp::from_secs(h.at))
                            .collect(),
                    )
                })
                .collect(),
            visitor: self.visitor.map(|v| v.to_string()),
        }
    }

    /// Where series `s`'s hits are in [`Profile::hits`] (an empty range at the place its first
    /// hit would go when it has none).
    fn series_range(&self, s: usize) -> std::ops::Range<usize> {
        let start = self.hits.partition_point(|h| usize::from(h.series) < s);
        let len = self.hits[start..]
            .iter()
            .take_while(|h| usize::from(h.series) == s)
            .count();
        start..start + len
    }

    /// Series `s`'s hits, oldest first.
    pub(crate) fn series(&self, s: usize) -> &[Hit] {
        &self.hits[self.series_range(s)]
    }

    /// Series `s`'s latest hit.
    pub(crate) fn last_hit_mut(&mut self, s: usize) -> Option<&mut Hit> {
        let end = self.series_range(s).end;
        self.hits[..end]
            .last_mut()
            .filter(|h| usize::from(h.series) == s)
    }

    /// Appends a hit to series `hit.series`, dropping its oldest when it already holds
    /// `capacity`.
    pub(crate) fn push_hit(&mut self, hit: Hit, capacity: usize) {
        if capacity == 0 {
            return;
        }
        let range = self.series_range(usize::from(hit.series));
        let mut end = range.end;
        if range.len() >= capacity {
            self.hits.remove(range.start);
            end -= 1;
        }
        self.hits.insert(end, hit);
    }

    pub(crate) fn push_visit(&mut self, v: VisitRec) {
        if self.visits.len() >= Limits::VISITS_KEPT {
            self.visits.remove(0);
        }
        self.visits.push(v);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Hit, Profile, VisitorId};
    use crate::rules::Rules;

    #[test]
    fn visitor_ids_are_16_base64url_characters() {
        let id = VisitorId::from_random_bytes([0xfb; 12]);
        assert_eq!(id.to_string(), "-_v7-_v7-_v7-_v7");
        assert_eq!(VisitorId::parse(&id.to_string()), Some(id));
        for bad in [
            "",
            "short",
            "-_v7-_v7-_v7-_v",
            "-_v7-_v7-_v7-_v7A",
            "+/v7-_v7-_v7-_v7",
        ] {
            assert_eq!(VisitorId::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        /// The one list of hits behaves as one bounded list per series would.
        #[test]
        fn hits_in_one_list_behave_as_one_list_per_series(
            capacities in proptest::collection::vec(0usize..5, 1..6),
            pushes in proptest::collection::vec((0usize..6, 0i64..1_000), 0..60),
        ) {
            let mut profile = Profile::new(Rules::builtin());
            let mut model: Vec<Vec<i64>> = vec![Vec::new(); capacities.len()];
            for (series, at) in pushes {
                let series = series % capacities.len();
                let hit = Hit { at, seconds: 0, scroll: 0, series: series as u16 };
                profile.push_hit(hit, capacities[series]);
                let kept = &mut model[series];
                if capacities[series] > 0 {
                    if kept.len() >= capacities[series] {
                        kept.remove(0);
                    }
                    kept.push(at);
                }
                if let Some(last) = profile.last_hit_mut(series) {
                    prop_assert_eq!(last.at, at);
                }
            }
            for (s, kept) in model.iter().enumerate() {
                let got: Vec<i64> = profile.series(s).iter().map(|h| h.at).collect();
                prop_assert_eq!(&got, kept);
                prop_assert_eq!(profile.last_hit_mut(s).map(|h| h.at), kept.last().copied());
            }
            prop_assert!(profile.hits.windows(2).all(|w| w[0].series <= w[1].series));
        }
    }
}
