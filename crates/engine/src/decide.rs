//! Classifying a profile: the tier, the segments, the variants.

use std::fmt;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::config::Variant;
use crate::limits::Limits;
use crate::profile::{Profile, VisitorId};
use crate::rules::{Cond, Counted, Rules, SlotPlan};
use crate::time::Timestamp;

/// What a visitor should see: their tier, the segments they are in, and a variant per slot.
///
/// The variants are not copied out of the rules: a decision names the slots it shows, and
/// [`Decision::variants`] reads them (and [`Decision::answer_json`] their JSON, rendered when
/// the rules compiled) from the rules. Deciding allocates nothing but the segment list.
#[derive(Clone)]
pub struct Decision<'r> {
    /// The first tier, in priority order, whose condition holds; else the fallback.
    pub tier: &'r str,
    /// Every segment whose condition holds, in config order.
    pub segments: Vec<&'r str>,
    /// The decayed lead score, when the rules define one.
    pub score: Option<f64>,
    /// The visitor's random id, when their profile has one (never for a visitor who is not
    /// tracked).
    pub visitor: Option<VisitorId>,
    /// The rules' slots.
    slots: &'r [SlotPlan],
    /// Whose variants the slots show: tier `Some(i)` (the fallback is the last index), or the
    /// `default` ones.
    tier_index: Option<usize>,
    /// Bit `i` set: slot `i` shows its variant (it has one, and [`Decision::only_slots`] kept
    /// it).
    shown: u64,
    /// Bit `i` set: the visitor is in segment `i` (config order).
    segment_bits: u64,
}

// A slot is a bit of `Decision::shown`, a segment one of `Decision::segment_bits`.
const _: () = assert!(Limits::SLOTS <= 64 && Limits::SEGMENTS <= 64);

impl<'r> Decision<'r> {
    fn new(
        rules: &'r Rules,
        tier: &'r str,
        tier_index: Option<usize>,
        segments: Vec<&'r str>,
        segment_bits: u64,
        score: Option<f64>,
        visitor: Option<VisitorId>,
    ) -> Decision<'r> {
        let mut d = Decision {
            tier,
            segments,
            score,
            visitor,
            slots: &rules.slots,
            tier_index,
            shown: 0,
            segment_bits,
        };
        for (i, slot) in rules.slots.iter().enumerate() {
            if d.rendered(slot).is_some() {
                d.shown |= 1 << i;
            }
        }
        d
    }

    /// What `slot` shows under this decision's segments and tier, with its `"slot":{variant}`
    /// JSON, whether or not it is kept: the variant of the visitor's first segment (in config
    /// order) that has one, else the tier's, else `default`.
    fn rendered(&self, slot: &'r SlotPlan) -> Option<(&'r Variant, &'r str)> {
        let segment = slot.segment_bits & self.segment_bits;
        if segment != 0 {
            let (variant, json) = slot
                .by_segment
                .get(segment.trailing_zeros() as usize)?
                .as_ref()?;
            return Some((variant, json.as_str()));
        }
        match self.tier_index {
            Some(t) => Some((
                slot.by_tier.get(t)?.as_ref()?,
                slot.by_tier_json.get(t)?.as_deref()?,
            )),
            None => Some((slot.default.as_ref()?, slot.default_json.as_deref()?)),
        }
    }

    /// The shown slots with their variant and its JSON, in config order.
    fn shown(&self) -> impl Iterator<Item = (&'r SlotPlan, &'r Variant, &'r str)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(i, _)| self.shown & (1 << i) != 0)
            .filter_map(|(_, slot)| {
                let (variant, json) = self.rendered(slot)?;
                Some((slot, variant, json))
            })
    }

    /// Slot name and the variant it shows, for every slot with a variant for this tier, in
    /// config order.
    pub fn variants(&self) -> impl Iterator<Item = (&'r str, &'r Variant)> + '_ {
        self.shown()
            .map(|(slot, variant, _)| (slot.name.as_str(), variant))
    }

    /// Keeps only the variants of the named slots (as `/v1/decide?slots=hero,cta` asks).
    pub fn only_slots(mut self, slots: &[&str]) -> Decision<'r> {
        for (i, slot) in self.slots.iter().enumerate() {
            if !slots.contains(&slot.name.as_str()) {
                self.shown &= !(1 << i);
            }
        }
        self
    }

    /// The answer of `/v1/collect` and `/v1/decide` as JSON text:
    /// `{"profile": …, "visitor": …, "tier": …, "segments": […], "variants": {…}, "score": …,
    /// "fresh": …}` (`visitor` is `null` when the profile has no id yet or the visitor is not
    /// tracked, `score` is there when the rules score, `fresh` when a token was discarded). The
    /// variants were rendered when the rules were compiled, so this is concatenation, not
    /// serialisation.
    pub fn answer_json(&self, profile: Option<&str>, fresh: Option<&str>) -> String {
        let mut out = String::with_capacity(
            128 + profile.map_or(4, str::len)
                + self.shown().map(|(_, _, f)| f.len() + 1).sum::<usize>(),
        );
        out.push_str("{\"profile\":");
        match profile {
            Some(token) => push_json_str(&mut out, token),
            None => out.push_str("null"),
        }
        out.push_str(",\"visitor\":");
        match &self.visitor {
            Some(id) => {
                out.push('"');
                // base64url characters need no escaping.
                out.push_str(std::str::from_utf8(&id.chars()).unwrap_or_default());
                out.push('"');
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"tier\":");
        push_json_str(&mut out, self.tier);
        out.push_str(",\"segments\":[");
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(&mut out, segment);
        }
        out.push_str("],\"variants\":{");
        for (i, (_, _, fragment)) in self.shown().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(fragment);
        }
        out.push('}');
        if let Some(score) = self.score {
            out.push_str(",\"score\":");
            out.push_str(
                &serde_json::to_string(&((score * 100.0).round() / 100.0))
                    .unwrap_or_else(|_| "0".to_owned()),
            );
        }
        if let Some(fresh) = fresh {
            out.push_str(",\"fresh\":");
            push_json_str(&mut out, fresh);
        }
        out.push('}');
        out
    }

    /// The variant for `slot`, if the visitor's tier has one.
    pub fn variant(&self, slot: &str) -> Option<&'r Variant> {
        self.variants().find(|(n, _)| *n == slot).map(|(_, v)| v)
    }
}

impl fmt::Debug for Decision<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("tier", &self.tier)
            .field("segments", &self.segments)
            .field("variants", &self.variants().collect::<Vec<_>>())
            .field("score", &self.score)
            .field("visitor", &self.visitor)
            .finish()
    }
}

/// Two decisions are equal when they show the same: tier, segments, score and variants.
impl PartialEq for Decision<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.tier == other.tier
            && self.segments == other.segments
            && self.score == other.score
            && self.variants().eq(other.variants())
    }
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it (a test holds the two
/// equal), without building a string for each value.
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    // Tested without stopping at the first hit: the loop then runs over whole vectors (the
    // worker is built with wasm SIMD), and tokens, the longest strings here, have none.
    let plain = !s.bytes().fold(false, |esc, b| {
        esc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        // Tokens, tier and segment names: nothing to escape.
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

struct Variants<'a, 'r>(&'a Decision<'r>);

impl Serialize for Variants<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (slot, variant) in self.0.variants() {
            map.serialize_entry(slot, variant)?;
        }
        map.end()
    }
}

impl Serialize for Decision<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Decision", 5)?;
        st.serialize_field("tier", self.tier)?;
        st.serialize_field("segments", &self.segments)?;
        st.serialize_field("variants", &Variants(self))?;
        if let Some(score) = self.score {
            // Two decimals are all a marketer reads, and they keep the answer short.
            st.serialize_field("score", &((score * 100.0).round() / 100.0))?;
        }
        if let Some(visitor) = &self.visitor {
            st.serialize_field("visitor", &visitor.to_string())?;
        }
        st.end()
    }
}

impl Rules {
    /// Classifies `profile` at `now`: tier (first match wins), segments, variants.
    pub fn decide(&self, profile: &Profile, now: Timestamp) -> Decision<'_> {
        let tier_index = self
            .tiers
            .iter()
            .position(|t| self.holds(&t.cond, profile, now))
            .unwrap_or(self.tiers.len());
        let tier = self
            .tiers
            .get(tier_index)
            .map_or(self.fallback.as_str(), |t| t.name.as_str());
        let mut segments = Vec::new();
        let mut segment_bits = 0u64;
        for (i, s) in self.segments.iter().enumerate() {
            if self.holds(&s.cond, profile, now) {
                segments.push(s.name.as_str());
                segment_bits |= 1 << i;
            }
        }
        Decision::new(
            self,
            tier,
            Some(tier_index),
            segments,
            segment_bits,
            profile.score(self, now),
            profile.visitor,
        )
    }

    /// What a visitor who is not tracked (Global Privacy Control, Do Not Track, a bot) gets:
    /// the fallback tier, no segments, and only the `default` variants.
    pub fn decide_default(&self) -> Decision<'_> {
        Decision::new(self, &self.fallback, None, Vec::new(), 0, None, None)
    }

    pub(crate) fn holds(&self, cond: &Cond, p: &Profile, now: Timestamp) -> bool {
        let now_s = now.secs();
        match cond {
            Cond::All(list) => list.iter().all(|c| self.holds(c, p, now)),
            Cond::Any(list) => list.iter().any(|c| self.holds(c, p, now)),
            Cond::Not(c) => !self.holds(c, p, now),
            Cond::Count {
                of,
                at_least,
                within,
            } => count(p, *of, now_s - within) >= *at_least,
            Cond::LastSeen { within } => !p.is_new() && now_s - p.last_seen <= *within,
            Cond::Engaged {
                of,
                seconds,
                scroll,
                within,
            } => {
                let (secs, deepest) = engagement(p, *of, now_s - within);
                seconds.is_none_or(|s| secs >= s) && scroll.is_none_or(|s| deepest >= s)
            }
            Cond::Visit { test, within } => visit_test(p, *test, now_s - within).is_some(),
            Cond::Score { at_least, below } => {
                let score = p.score(self, now).unwrap_or(0.0);
                at_least.is_none_or(|a| score >= a) && below.is_none_or(|b| score < b)
            }
        }
    }
}

/// How many of the counted things happened at or after `from`.
pub(crate) fn count(p: &Profile, of: Counted, from: i64) -> u32 {
    let n = match of {
        Counted::Series(s) => p.series(s).iter().filter(|h| h.at >= from).count(),
        Counted::Visits => p.visits.iter().filter(|v| v.start >= from).count(),
    };
    n as u32
}

/// Visible seconds (summed) and deepest scroll at or after `from`.
pub(crate) fn engagement(p: &Profile, of: Counted, from: i64) -> (u32, u8) {
    let fold =
        |(s, d): (u32, u8), (secs, scroll): (u32, u8)| (s.saturating_add(secs), d.max(scroll));
    match of {
        Counted::Series(i) => p
            .series(i)
            .iter()
            .filter(|h| h.at >= from)
            .map(|h| (h.seconds, h.scroll))
            .fold((0, 0), fold),
        Counted::Visits => p
            .visits
            .iter()
            .filter(|v| v.start >= from)
            .map(|v| (v.seconds, v.scroll))
            .fold((0, 0), fold),
    }
}

/// The start of the latest visit at or after `from` whose landing page passed `test`.
pub(crate) fn visit_test(p: &Profile, test: usize, from: i64) -> Option<i64> {
    p.visits
        .iter()
        .rev()
        .find(|v| v.start >= from && v.tests & (1 << test) != 0)
        .map(|v| v.start)
}

#[cfg(test)]
mod tests {
    use super::push_json_str;

    #[test]
    fn variants_come_from_the_tier_or_the_defaults() {
        let rules = crate::Rules::from_json(
            r#"{"version": 1, "page_groups": {}, "tiers": [{"name": "hot", "when": {"last_seen": {"within": "1d"}}}],
                "fallback": "cold",
                "variants": {
                    "hero": {"hot": {"text": "H"}, "default": {"text": "D"}},
                    "cta": {"cold": {"text": "C"}},
                    "side": {"hot": {"text": "S"}}}}"#,
        )
        .unwrap();
        let names = |d: &super::Decision<'_>| -> Vec<String> {
            d.variants()
                .map(|(s, v)| format!("{s}={}", v.text.as_deref().unwrap_or("")))
                .collect()
        };
        let fresh = rules.decide(&crate::Profile::new(&rules), crate::Timestamp::from_secs(1));
        assert_eq!(fresh.tier, "cold");
        // In slot order; `hero` has no `cold` variant, so its default shows.
        assert_eq!(names(&fresh), ["cta=C", "hero=D"]);
        let untracked = rules.decide_default();
        assert_eq!(names(&untracked), ["hero=D"]);
        assert_eq!(
            names(&fresh.clone().only_slots(&["cta", "nope"])),
            ["cta=C"]
        );
        assert!(fresh
            .only_slots(&[])
            .answer_json(None, None)
            .contains(r#""variants":{}"#));
        assert!(untracked
            .answer_json(None, None)
            .contains(r#""variants":{"hero":{"text":"D"}}"#));
    }

    /// Issue 20, item 6: a variant keyed on a segment was refused ("is not a tier"). The first
    /// of the visitor's segments, in config order, with a variant in the slot wins over the
    /// tier's variant; a slot without one for those segments shows the tier's.
    #[test]
    fn issue_20_6_variants_keyed_by_segment_win_over_the_tier_in_config_order() {
        let rules = crate::Rules::from_json(
            r#"{"version": 1, "page_groups": {}, "tiers": [{"name": "hot", "when": {"last_seen": {"within": "1d"}}}],
                "fallback": "cold",
                "segments": [
                    {"name": "returning", "when": {"visits": {"at_least": 1, "within": "30d"}}},
                    {"name": "everyone", "when": {"not": {"visits": {"at_least": 16, "within": "1d"}}}}],
                "variants": {
                    "hero": {"hot": {"text": "H"}, "everyone": {"text": "E"}, "returning": {"text": "R"}},
                    "cta": {"hot": {"text": "C"}, "everyone": {"text": "CE"}},
                    "side": {"hot": {"text": "S"}}}}"#,
        )
        .unwrap();
        let names = |d: &super::Decision<'_>| -> Vec<String> {
            d.variants()
                .map(|(s, v)| format!("{s}={}", v.text.as_deref().unwrap_or("")))
                .collect()
        };
        let mut p = crate::Profile::new(&rules);
        let now = crate::Timestamp::from_secs(1_764_000_000);
        p.fold(&rules, now, &crate::Event::pageview("/", None));
        let d = rules.decide(&p, now);
        assert_eq!(d.tier, "hot");
        assert_eq!(d.segments, ["returning", "everyone"]);
        // `returning` is listed first in `segments`, so it wins in `hero` although the slot
        // names `everyone` first in the file.
        assert_eq!(names(&d), ["cta=CE", "hero=R", "side=S"]);
        assert!(d.answer_json(None, None).contains(
            r#""variants":{"cta":{"text":"CE"},"hero":{"text":"R"},"side":{"text":"S"}}"#
        ));
        // Only `everyone`: it wins where it has a variant.
        let fresh = rules.decide(&crate::Profile::new(&rules), now);
        assert_eq!(fresh.segments, ["everyone"]);
        assert_eq!(names(&fresh), ["cta=CE", "hero=E"]);
        // Not tracked: no segments, only `default`s.
        assert_eq!(names(&rules.decide_default()), Vec::<String>::new());

        let bad = crate::Rules::from_json(
            r#"{"version": 1, "page_groups": {}, "tiers": [], "fallback": "cold",
                "segments": [{"name": "vip", "when": {"visits": {"at_least": 1, "within": "30d"}}}],
                "variants": {"hero": {"vpi": {"text": "x"}}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains(
                "`vpi` is not a tier or a segment; use a tier (cold), a segment (vip) or `default`"
            ),
            "{bad}"
        );
        let clash = crate::Rules::from_json(
            r#"{"version": 1, "page_groups": {}, "tiers": [], "fallback": "cold",
                "segments": [{"name": "cold", "when": {"visits": {"at_least": 1, "within": "30d"}}}],
                "variants": {"hero": {"cold": {"text": "x"}}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(clash.contains("names both a segment and a tier"), "{clash}");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = (0u8..0x80)
            .map(|b| format!("a{}z", char::from(b)))
            .collect();
        cases.extend(
            [
                "",
                "plain",
                "\"quoted\"",
                "back\\slash",
                "é ü 中文 🚀",
                "\u{7f}\u{2028}",
                "</script>",
            ]
            .map(str::to_owned),
        );
        for s in cases {
            let mut ours = String::new();
            push_json_str(&mut ours, &s);
            assert_eq!(ours, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }
}
