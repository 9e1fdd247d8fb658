//! The shape of a profile: what a profile keeps under some rules, and nothing about how the
//! rules use it.
//!
//! The rules compiler ([`crate::Rules`]) produces a [`ProfileShape`]; profiles, tokens and the
//! carry-over of a profile from one config to the next read only the shape. Two configs with the
//! same shape share their visitors' profiles as they are; configs with different shapes carry
//! profiles over thing by thing ([`crate::Profile::carried_over`]).
//!
//! A shape has a written, stable binary encoding ([`ProfileShape::to_bytes`]), and its
//! fingerprint, which every token carries, is a hash of exactly those bytes. The encoding
//! (integers are unsigned LEB128 varints unless noted; a string is its byte length as a varint,
//! then its UTF-8 bytes):
//!
//! | field | encoding |
//! | --- | --- |
//! | encoding version (`1`) | u8 |
//! | horizon, seconds | varint |
//! | whether visits keep visible seconds and scroll depth | u8 (0 or 1) |
//! | tracked series: count, then per series | varint |
//! | — kind: `1` page group views, `2` custom event, `3` click, `4` filtered visits, `5` page group views in filtered visits | u8 |
//! | — the group's name, the event's name or the click target pattern, as written (none for kind 4) | string |
//! | — for events: property count, then per property its key and value (sorted by key) | varint, strings |
//! | — for kinds 4 and 5, the visit filter: UTM source, medium, campaign, referrer host, landing page group, each a presence byte (0 or 1) then the text | u8, strings |
//! | — capacity: how many recent hits are kept | u8 |
//! | — whether each hit keeps visible seconds and scroll depth | u8 (0 or 1) |
//! | visit tests: count, then per test | varint |
//! | — `1` UTM: source, medium, campaign, each a presence byte (0 or 1) then the pattern | u8, strings |
//! | — `2` referrer host: the pattern | u8, string |
//! | lead score: `0` none, or `1` then the half-life in seconds and the signals | u8, varint |
//! | — signals: count, then per signal its kind (`1` viewed, `2` event, `3` click, `4` visit), its name (none for a visit) and its points (zigzag varint) | varint, … |
//!
//! The fingerprint is the first four bytes (little-endian) of SHA-256 over the label
//! `intent-profile-shape/2` and a zero byte, then the encoding. A shape read back from its
//! bytes is equal to the one written, and so is its fingerprint.

mod change;
pub(crate) mod legacy;

use std::fmt;

use base64_simd::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::limits::Limits;

pub use self::change::ShapeChange;

/// The label every shape fingerprint is hashed under.
const FINGERPRINT_LABEL: &[u8] = b"intent-profile-shape/2\0";
/// The version of the shape encoding.
const ENCODING: u8 = 1;
/// Most series a shape can hold: each costs at least a byte of the 1 KiB token.
const MAX_SERIES: usize = Limits::TOKEN_BYTES;
/// The longest name or pattern a shape holds (a page-group name is at most 64 bytes, an event
/// name or click target at most [`Limits::NAME_BYTES`], a property at most
/// [`Limits::PROP_BYTES`]).
const MAX_TEXT: usize = 1024;

/// What a profile keeps under some rules: which things it tracks and how many recent hits of
/// each, which visit tests it records, how long it remembers, and whether it keeps a lead score.
///
/// Get the active one with [`crate::Rules::shape`]; store earlier ones with
/// [`ProfileShape::to_record`] so that profiles made under them can be carried over.
#[derive(Debug, Clone)]
pub struct ProfileShape {
    pub(crate) horizon: i64,
    pub(crate) series: Vec<Series>,
    pub(crate) visit_tests: Vec<VisitTest>,
    /// Whether visits keep visible seconds and scroll depth (a rule reads them site-wide).
    pub(crate) visit_engagement: bool,
    pub(crate) score: Option<ScoreShape>,
    /// The fingerprint of the encoding, computed once.
    fingerprint: u32,
    /// What tokens of formats 1 and 2 carried instead of [`ProfileShape::fingerprint`] (see
    /// [`legacy`]); known only for a shape compiled from a config, or read from a record that
    /// kept them.
    pub(crate) legacy: Option<[u32; 2]>,
}

/// Two shapes are equal when their encodings are: the legacy fingerprints are not part of it.
impl PartialEq for ProfileShape {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for ProfileShape {}

impl AsRef<ProfileShape> for ProfileShape {
    fn as_ref(&self) -> &ProfileShape {
        self
    }
}

/// Something a profile keeps recent timestamps of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tracked {
    /// Views of a page group, by the group's name.
    Group(String),
    /// A custom event, with the properties it must carry (sorted by key).
    Event {
        name: String,
        props: Vec<(String, String)>,
    },
    /// Clicks on targets matching a pattern, as written.
    Click(String),
    /// Visits whose landing page passed a filter; a hit is the visit's start.
    Visits(VisitFilter),
    /// Views of a page group made during a visit whose landing page passed a filter.
    GroupIn { group: String, visits: VisitFilter },
}

/// What a visit's landing page (its first page view) must match for a filtered series to count
/// the visit or the views made during it. Every part given must match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct VisitFilter {
    pub(crate) source: Option<String>,
    pub(crate) medium: Option<String>,
    pub(crate) campaign: Option<String>,
    /// The referring host's pattern.
    pub(crate) referrer: Option<String>,
    /// The page group the landing page is in.
    pub(crate) landed: Option<String>,
}

impl VisitFilter {
    fn parts(&self) -> [&Option<String>; 5] {
        [
            &self.source,
            &self.medium,
            &self.campaign,
            &self.referrer,
            &self.landed,
        ]
    }
}

impl fmt::Display for VisitFilter {
    /// The filter in words, after "visits": ``that landed on a `product` page with utm_medium =
    /// email and came from `*.google.*` ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utm: Vec<String> = [
            ("utm_source", &self.source),
            ("utm_medium", &self.medium),
            ("utm_campaign", &self.campaign),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {v}")))
        .collect();
        let utm = (!utm.is_empty()).then(|| format!("with {}", utm.join(" and ")));
        let landing = match (&self.landed, utm) {
            (Some(group), Some(utm)) => Some(format!("landed on a `{group}` page {utm}")),
            (Some(group), None) => Some(format!("landed on a `{group}` page")),
            (None, Some(utm)) => Some(format!("landed {utm}")),
            (None, None) => None,
        };
        let from = self
            .referrer
            .as_ref()
            .map(|host| format!("came from `{host}`"));
        let clauses: Vec<String> = landing.into_iter().chain(from).collect();
        write!(f, "that {}", clauses.join(" and "))
    }
}

impl Tracked {
    fn kind(&self) -> u8 {
        match self {
            Tracked::Group(_) => 1,
            Tracked::Event { .. } => 2,
            Tracked::Click(_) => 3,
            Tracked::Visits(_) => 4,
            Tracked::GroupIn { .. } => 5,
        }
    }

    /// The visit filter of a filtered series.
    pub(crate) fn visit_filter(&self) -> Option<&VisitFilter> {
        match self {
            Tracked::Visits(filter) | Tracked::GroupIn { visits: filter, .. } => Some(filter),
            _ => None,
        }
    }
}

impl Tracked {
    /// The short label a profile summary lists the thing under: `viewed pricing`,
    /// `event demo_request with plan = pro`, `clicked pricing-plan-*`.
    pub(crate) fn label(&self) -> String {
        match self {
            Tracked::Group(name) => format!("viewed {name}"),
            Tracked::Event { name, props } => {
                let props: Vec<String> = props.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                if props.is_empty() {
                    format!("event {name}")
                } else {
                    format!("event {name} with {}", props.join(", "))
                }
            }
            Tracked::Click(target) => format!("clicked {target}"),
            Tracked::Visits(filter) => format!("visits {filter}"),
            Tracked::GroupIn { group, visits } => format!("viewed {group} in visits {visits}"),
        }
    }
}

impl fmt::Display for Tracked {
    /// The tracked thing in words: ``views of `pricing` ``, ``the `demo_request` event``,
    /// ``clicks on `pricing-plan-*` ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tracked::Group(name) => write!(f, "views of `{name}`"),
            Tracked::Event { name, props } => {
                write!(f, "the `{name}` event")?;
                for (i, (k, v)) in props.iter().enumerate() {
                    let sep = if i == 0 { " with " } else { ", " };
                    write!(f, "{sep}{k} = {v}")?;
                }
                Ok(())
            }
            Tracked::Click(target) => write!(f, "clicks on `{target}`"),
            Tracked::Visits(filter) => write!(f, "visits {filter}"),
            Tracked::GroupIn { group, visits } => {
                write!(f, "views of `{group}` in visits {visits}")
            }
        }
    }
}

/// One tracked thing and how much of it a profile keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Series {
    pub(crate) what: Tracked,
    /// How many recent hits are kept: the highest `at_least` asked of this series.
    pub(crate) capacity: usize,
    /// Whether hits also carry visible seconds and scroll depth (group views under an
    /// `engaged` condition).
    pub(crate) engagement: bool,
}

/// A test on a visit's landing page, kept as one bit per visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VisitTest {
    /// Each given UTM parameter must match its pattern.
    Utm {
        source: Option<String>,
        medium: Option<String>,
        campaign: Option<String>,
    },
    /// The referring host must match the pattern.
    Referrer(String),
}

impl fmt::Display for VisitTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VisitTest::Utm {
                source,
                medium,
                campaign,
            } => {
                let parts: Vec<String> = [
                    ("utm_source", source),
                    ("utm_medium", medium),
                    ("utm_campaign", campaign),
                ]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {v}")))
                .collect();
                write!(f, "visits landing with {}", parts.join(" and "))
            }
            VisitTest::Referrer(host) => write!(f, "visits from `{host}`"),
        }
    }
}

/// The lead score a profile keeps: the points of each signal and how fast they decay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScoreShape {
    pub(crate) half_life: i64,
    pub(crate) signals: Vec<(SignalKey, i32)>,
}

/// What earns points, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SignalKey {
    Viewed(String),
    Event(String),
    Click(String),
    Visit,
}

/// A shape record or encoding that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(&'static str);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a profile shape: {}", self.0)
    }
}

impl std::error::Error for ShapeError {}

impl ProfileShape {
    /// A shape from its parts; the fingerprint is computed here.
    pub(crate) fn new(
        horizon: i64,
        series: Vec<Series>,
        visit_tests: Vec<VisitTest>,
        visit_engagement: bool,
        score: Option<ScoreShape>,
    ) -> ProfileShape {
        let mut shape = ProfileShape {
            horizon,
            series,
            visit_tests,
            visit_engagement,
            score,
            fingerprint: 0,
            legacy: None,
        };
        shape.fingerprint = fingerprint_of(&shape.to_bytes());
        shape
    }

    /// The shape's fingerprint: what a token carries to say which shape it was made under.
    pub fn fingerprint(&self) -> u32 {
        self.fingerprint
    }

    /// The fingerprint as eight hexadecimal digits, as records and messages show it.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:08x}", self.fingerprint)
    }

    /// How long activity is remembered, in seconds.
    pub fn horizon_secs(&self) -> i64 {
        self.horizon
    }

    /// The stable encoding described in the module documentation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 24 * self.series.len());
        out.push(ENCODING);
        put_varint(&mut out, self.horizon.max(0) as u64);
        out.push(u8::from(self.visit_engagement));
        put_varint(&mut out, self.series.len() as u64);
        for s in &self.series {
            out.push(s.what.kind());
            match &s.what {
                Tracked::Group(name) | Tracked::Click(name) => put_text(&mut out, name),
                Tracked::Event { name, props } => {
                    put_text(&mut out, name);
                    put_varint(&mut out, props.len() as u64);
                    for (k, v) in props {
                        put_text(&mut out, k);
                        put_text(&mut out, v);
                    }
                }
                Tracked::Visits(filter) => put_filter(&mut out, filter),
                Tracked::GroupIn { group, visits } => {
                    put_text(&mut out, group);
                    put_filter(&mut out, visits);
                }
            }
            out.push(s.capacity.min(255) as u8);
            out.push(u8::from(s.engagement));
        }
        put_varint(&mut out, self.visit_tests.len() as u64);
        for t in &self.visit_tests {
            match t {
                VisitTest::Utm {
                    source,
                    medium,
                    campaign,
                } => {
                    out.push(1);
                    for part in [source, medium, campaign] {
                        match part {
                            Some(p) => {
                                out.push(1);
                                put_text(&mut out, p);
                            }
                            None => out.push(0),
                        }
                    }
                }
                VisitTest::Referrer(host) => {
                    out.push(2);
                    put_text(&mut out, host);
                }
            }
        }
        match &self.score {
            None => out.push(0),
            Some(score) => {
                out.push(1);
                put_varint(&mut out, score.half_life.max(0) as u64);
                put_varint(&mut out, score.signals.len() as u64);
                for (signal, points) in &score.signals {
                    match signal {
                        SignalKey::Viewed(n) => {
                            out.push(1);
                            put_text(&mut out, n);
                        }
                        SignalKey::Event(n) => {
                            out.push(2);
                            put_text(&mut out, n);
                        }
                        SignalKey::Click(n) => {
                            out.push(3);
                            put_text(&mut out, n);
                        }
                        SignalKey::Visit => out.push(4),
                    }
                    put_varint(&mut out, zigzag(*points));
                }
            }
        }
        out
    }

    /// Reads the stable encoding back. Anything but a whole, valid encoding is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<ProfileShape, ShapeError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.byte()? != ENCODING {
            return Err(ShapeError("an encoding version this engine does not read"));
        }
        let horizon = i64::try_from(r.varint()?).map_err(|_| ShapeError("horizon"))?;
        if !(1..=Limits::HORIZON_DAYS as i64 * 86_400).contains(&horizon) {
            return Err(ShapeError("a horizon out of range"));
        }
        let visit_engagement = r.flag()?;
        let n = r.count(MAX_SERIES)?;
        let mut series = Vec::with_capacity(n);
        for _ in 0..n {
            let what = match r.byte()? {
                1 => Tracked::Group(r.text()?),
                2 => {
                    let name = r.text()?;
                    let n = r.count(Limits::PROPS)?;
                    let mut props = Vec::with_capacity(n);
                    for _ in 0..n {
                        props.push((r.text()?, r.text()?));
                    }
                    Tracked::Event { name, props }
                }
                3 => Tracked::Click(r.text()?),
                4 => Tracked::Visits(r.filter()?),
                5 => Tracked::GroupIn {
                    group: r.text()?,
                    visits: r.filter()?,
                },
                _ => return Err(ShapeError("an unknown kind of series")),
            };
            let capacity = usize::from(r.byte()?);
            if capacity == 0 || capacity > Limits::COUNT as usize {
                return Err(ShapeError("a series capacity out of range"));
            }
            let engagement = r.flag()?;
            series.push(Series {
                what,
                capacity,
                engagement,
            });
        }
        let n = r.count(Limits::VISIT_TESTS)?;
        let mut visit_tests = Vec::with_capacity(n);
        for _ in 0..n {
            visit_tests.push(match r.byte()? {
                1 => {
                    let mut part = || -> Result<Option<String>, ShapeError> {
                        Ok(if r.flag()? { Some(r.text()?) } else { None })
                    };
                    let (source, medium, campaign) = (part()?, part()?, part()?);
                    VisitTest::Utm {
                        source,
                        medium,
                        campaign,
                    }
                }
                2 => VisitTest::Referrer(r.text()?),
                _ => return Err(ShapeError("an unknown kind of visit test")),
            });
        }
        let score = if r.flag()? {
            let half_life = i64::try_from(r.varint()?).map_err(|_| ShapeError("half-life"))?;
            let n = r.count(Limits::SCORE_SIGNALS)?;
            let mut signals = Vec::with_capacity(n);
            for _ in 0..n {
                let key = match r.byte()? {
                    1 => SignalKey::Viewed(r.text()?),
                    2 => SignalKey::Event(r.text()?),
                    3 => SignalKey::Click(r.text()?),
                    4 => SignalKey::Visit,
                    _ => return Err(ShapeError("an unknown kind of score signal")),
                };
                let points = unzigzag(r.varint()?).ok_or(ShapeError("points out of range"))?;
                signals.push((key, points));
            }
            Some(ScoreShape { half_life, signals })
        } else {
            None
        };
        if r.pos != bytes.len() {
            return Err(ShapeError("bytes after the end"));
        }
        Ok(ProfileShape::new(
            horizon,
            series,
            visit_tests,
            visit_engagement,
            score,
        ))
    }

    /// The shape as a record to store beside a published config (`rules:history` in the
    /// worker's KV): base64url of the record version (`1`), a presence byte (0 or 1) followed by
    /// the two legacy fingerprints (u32 little-endian each) when the shape has them, then the
    /// stable encoding. Text, so that it fits a JSON document.
    pub fn to_record(&self) -> String {
        let mut out = vec![1u8];
        match self.legacy {
            Some([v1, v2]) => {
                out.push(1);
                out.extend_from_slice(&v1.to_le_bytes());
                out.extend_from_slice(&v2.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.to_bytes());
        URL_SAFE_NO_PAD.encode_to_string(out)
    }

    /// Reads a record written by [`ProfileShape::to_record`].
    pub fn from_record(record: &str) -> Result<ProfileShape, ShapeError> {
        let bytes = URL_SAFE_NO_PAD
            .decode_to_vec(record.trim().as_bytes())
            .map_err(|_| ShapeError("not base64url"))?;
        let (&version, rest) = bytes.split_first().ok_or(ShapeError("empty"))?;
        if version != 1 {
            return Err(ShapeError("a record version this engine does not read"));
        }
        let (&has_legacy, rest) = rest.split_first().ok_or(ShapeError("cut short"))?;
        let (legacy, rest) = match has_legacy {
            0 => (None, rest),
            1 if rest.len() >= 8 => {
                let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                (Some([word(&rest[..4]), word(&rest[4..8])]), &rest[8..])
            }
            _ => return Err(ShapeError("bad legacy fingerprints")),
        };
        let mut shape = ProfileShape::from_bytes(rest)?;
        shape.legacy = legacy;
        Ok(shape)
    }

    /// What carrying profiles from this shape over to `next` keeps, starts empty and drops:
    /// the publish summary.
    pub fn change_to(&self, next: &ProfileShape) -> ShapeChange {
        ShapeChange::between(self, next)
    }

    /// Which of the fingerprints this shape answers to a token of `format` carries.
    pub(crate) fn fingerprint_for(&self, format: u8) -> Option<u32> {
        match format {
            1 => self.legacy.map(|[v1, _]| v1),
            2 => self.legacy.map(|[_, v2]| v2),
            _ => Some(self.fingerprint),
        }
    }

    /// Whether tokens of this shape carry the visit-test flag: there are tests to record, or
    /// filtered series that look at a visit's landing page.
    pub(crate) fn tests_visits(&self) -> bool {
        !self.visit_tests.is_empty() || self.series.iter().any(|s| s.what.visit_filter().is_some())
    }
}

/// The fingerprint of a shape's encoding.
fn fingerprint_of(encoding: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_LABEL);
    h.update(encoding);
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_filter(out: &mut Vec<u8>, filter: &VisitFilter) {
    for part in filter.parts() {
        match part {
            Some(p) => {
                out.push(1);
                put_text(out, p);
            }
            None => out.push(0),
        }
    }
}

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn unzigzag(v: u64) -> Option<i32> {
    let v = u32::try_from(v).ok()?;
    Some(((v >> 1) as i32) ^ -((v & 1) as i32))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, ShapeError> {
        let b = *self.bytes.get(self.pos).ok_or(ShapeError("cut short"))?;
        self.pos += 1;
        Ok(b)
    }

    fn flag(&mut self) -> Result<bool, ShapeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ShapeError("a flag that is neither 0 nor 1")),
        }
    }

    fn varint(&mut self) -> Result<u64, ShapeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f)
                .checked_shl(shift)
                .ok_or(ShapeError("a number too large"))?;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ShapeError("a number too large"))
    }

    fn count(&mut self, max: usize) -> Result<usize, ShapeError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= max)
            .ok_or(ShapeError("too many entries"))
    }

    fn optional_text(&mut self) -> Result<Option<String>, ShapeError> {
        Ok(if self.flag()? {
            Some(self.text()?)
        } else {
            None
        })
    }

    fn filter(&mut self) -> Result<VisitFilter, ShapeError> {
        let filter = VisitFilter {
            source: self.optional_text()?,
            medium: self.optional_text()?,
            campaign: self.optional_text()?,
            referrer: self.optional_text()?,
            landed: self.optional_text()?,
        };
        if filter.parts().iter().all(|p| p.is_none()) {
            return Err(ShapeError("a visit filter with nothing to match"));
        }
        Ok(filter)
    }

    fn text(&mut self) -> Result<String, ShapeError> {
        let len = self.count(MAX_TEXT)?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(ShapeError("cut short"))?;
        let text = std::str::from_utf8(&self.bytes[self.pos..end])
            .map_err(|_| ShapeError("text that is not UTF-8"))?;
        self.pos = end;
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::{unzigzag, zigzag, ProfileShape};
    use crate::Rules;

    #[test]
    fn points_survive_zigzag() {
        for v in [0, 1, -1, 1000, -1000, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(v)), Some(v));
        }
    }

    #[test]
    fn encodings_and_records_read_back() {
        for text in [
            Rules::builtin_json(),
            include_str!("../../../../examples/rules/campaigns.json"),
            include_str!("../../../../examples/brief/rules.json"),
            include_str!("../../tests/data/classify/filtered-visits/rules.json"),
        ] {
            let rules = Rules::from_json(text).unwrap();
            let shape = rules.shape();
            let back = ProfileShape::from_bytes(&shape.to_bytes()).unwrap();
            assert_eq!(&back, shape);
            assert_eq!(back.fingerprint(), shape.fingerprint());
            let record = ProfileShape::from_record(&shape.to_record()).unwrap();
            assert_eq!(&record, shape);
            assert_eq!(record.legacy, shape.legacy);
            assert!(shape.legacy.is_some());
        }
    }

    /// The default rules' shape encodes to these bytes, and so to this fingerprint, in every
    /// release: tokens in visitors' hands name their shape by it.
    #[test]
    fn the_default_shape_is_stable() {
        let shape = Rules::builtin().shape();
        let hex: String = shape
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Version 1; horizon 90 days; no visit engagement; six series: views of `pricing`
        // (3 kept), `demo` (2), the `demo_request` event (1), `compare` (1), `customers` (1),
        // `product` (3); no visit tests; no score.
        assert_eq!(
            hex,
            "0180ceda030006010770726963696e670300010464656d6f0200020c64656d6f5f72657175657374\
             0001000107636f6d7061726501000109637573746f6d6572730100010770726f6475637403000000"
        );
        assert_eq!(shape.fingerprint_hex(), "b1b35d81");
    }

    /// A filtered series names its filter part for part: two filters that differ in any part
    /// are two series, and an empty filter is no filter at all.
    #[test]
    fn filtered_series_encode_their_filter() {
        let shape = Rules::from_json(include_str!(
            "../../tests/data/classify/filtered-visits/rules.json"
        ))
        .unwrap()
        .shape()
        .clone();
        let bytes = shape.to_bytes();
        // `viewed` with a filter also tracks the filter's visits (one kept), before its views.
        let kinds: Vec<u8> = shape.series.iter().map(|s| s.what.kind()).collect();
        assert_eq!(kinds, vec![4, 4, 5, 4]);
        assert!(shape.tests_visits());
        assert_eq!(shape.series[1].capacity, 1);
        let back = ProfileShape::from_bytes(&bytes).unwrap();
        assert_eq!(back, shape);
        // Every filter part absent: refused.
        let mut empty = vec![1u8];
        super::put_varint(&mut empty, 86_400);
        empty.extend_from_slice(&[0, 1, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            ProfileShape::from_bytes(&empty),
            Err(super::ShapeError("a visit filter with nothing to match"))
        );
    }

    #[test]
    fn broken_encodings_are_refused() {
        let bytes = Rules::builtin().shape().to_bytes();
        for n in 0..bytes.len() {
            assert!(ProfileShape::from_bytes(&bytes[..n]).is_err(), "{n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(ProfileShape::from_bytes(&longer).is_err());
        for record in ["", "!!", "AA", "AgA", "AQI"] {
            assert!(ProfileShape::from_record(record).is_err(), "{record}");
        }
    }
}
