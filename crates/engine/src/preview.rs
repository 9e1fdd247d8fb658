//! What an edit of the rules would do to real visitors, before it is published: the same log
//! replayed under the published rules and under the edited ones, members per tier and segment
//! before and after, and the visitors who move.

use serde::Serialize;

use crate::replay::VisitorLog;
use crate::rules::Rules;
use crate::time::Timestamp;

/// How many moving visitors a preview lists (all are counted).
pub const PREVIEW_MOVES_LISTED: usize = 500;

/// A preview of an edit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    /// The published rules' id.
    pub before: String,
    /// The edited rules' id.
    pub after: String,
    /// The evaluation time.
    pub at: Timestamp,
    /// Visitors in the log with an event at or before `at`.
    pub visitors: usize,
    /// Events replayed under each of the two rules.
    pub events: usize,
    /// Every tier and segment of either rules: the edited rules' tiers in priority order and
    /// fallback, then their segments, then those only the published rules have.
    pub audiences: Vec<AudienceChange>,
    /// Visitors whose tier or segments differ.
    pub moved: usize,
    /// The first [`PREVIEW_MOVES_LISTED`] of them, in log order.
    pub moves: Vec<Move>,
}

/// One tier or segment, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudienceChange {
    /// Its name.
    pub name: String,
    /// `tier` or `segment`.
    pub kind: &'static str,
    /// Members under the published rules (0 when they do not have it).
    pub before: usize,
    /// Members under the edited rules (0 when they do not have it).
    pub after: usize,
}

/// A visitor whose tier or segments change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// The visitor's id from the log.
    pub visitor: String,
    /// Their tier under the published rules.
    pub from: String,
    /// Their tier under the edited rules.
    pub to: String,
    /// Segments they join.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub joins: Vec<String>,
    /// Segments they leave.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leaves: Vec<String>,
}

/// Replays `log` up to `at` under `before` (the published rules) and `after` (the edited
/// ones), and says who ends up where.
pub fn preview(log: &VisitorLog, before: &Rules, after: &Rules, at: Timestamp) -> Preview {
    let mut audiences: Vec<AudienceChange> = Vec::new();
    let tiers_of = |r: &Rules| -> Vec<String> { r.tier_names().map(str::to_owned).collect() };
    let segments_of =
        |r: &Rules| -> Vec<String> { r.config().segments.iter().map(|s| s.name.clone()).collect() };
    let (tiers_b, tiers_a) = (tiers_of(before), tiers_of(after));
    let (segs_b, segs_a) = (segments_of(before), segments_of(after));
    for (names, kind) in [
        (&tiers_a, "tier"),
        (&segs_a, "segment"),
        (&tiers_b, "tier"),
        (&segs_b, "segment"),
    ] {
        for n in names {
            if !audiences.iter().any(|a| a.name == *n && a.kind == kind) {
                audiences.push(AudienceChange {
                    name: n.clone(),
                    kind,
                    before: 0,
                    after: 0,
                });
            }
        }
    }
    let slot = |name: &str, kind: &str, list: &[AudienceChange]| {
        list.iter().position(|a| a.name == name && a.kind == kind)
    };
    // Index of each rules' tiers and segments in `audiences`, looked up once.
    let index =
        |tiers: &[String], segs: &[String], list: &[AudienceChange]| -> (Vec<usize>, Vec<usize>) {
            (
                tiers.iter().filter_map(|t| slot(t, "tier", list)).collect(),
                segs.iter()
                    .filter_map(|s| slot(s, "segment", list))
                    .collect(),
            )
        };
    let (tier_ix_b, seg_ix_b) = index(&tiers_b, &segs_b, &audiences);
    let (tier_ix_a, seg_ix_a) = index(&tiers_a, &segs_a, &audiences);

    let mut visitors = 0;
    let mut events = 0;
    let mut moved = 0;
    let mut moves = Vec::new();
    for v in log.visitors() {
        let (pb, n) = v.profile_at(before, at);
        if n == 0 {
            continue;
        }
        let (pa, _) = v.profile_at(after, at);
        visitors += 1;
        events += n;
        let db = before.decide(&pb, at);
        let da = after.decide(&pa, at);
        let position = |names: &[String], name: &str| names.iter().position(|t| t == name);
        if let Some(i) = position(&tiers_b, db.tier).and_then(|i| tier_ix_b.get(i)) {
            audiences[*i].before += 1;
        }
        if let Some(i) = position(&tiers_a, da.tier).and_then(|i| tier_ix_a.get(i)) {
            audiences[*i].after += 1;
        }
        for s in &db.segments {
            if let Some(i) = position(&segs_b, s).and_then(|i| seg_ix_b.get(i)) {
                audiences[*i].before += 1;
            }
        }
        for s in &da.segments {
            if let Some(i) = position(&segs_a, s).and_then(|i| seg_ix_a.get(i)) {
                audiences[*i].after += 1;
            }
        }
        if db.tier != da.tier || db.segments != da.segments {
            moved += 1;
            if moves.len() < PREVIEW_MOVES_LISTED {
                moves.push(Move {
                    visitor: v.visitor.to_owned(),
                    from: db.tier.to_owned(),
                    to: da.tier.to_owned(),
                    joins: da
                        .segments
                        .iter()
                        .filter(|s| !db.segments.contains(s))
                        .map(|s| (*s).to_owned())
                        .collect(),
                    leaves: db
                        .segments
                        .iter()
                        .filter(|s| !da.segments.contains(s))
                        .map(|s| (*s).to_owned())
                        .collect(),
                });
            }
        }
    }
    Preview {
        before: before.id().to_owned(),
        after: after.id().to_owned(),
        at,
        visitors,
        events,
        audiences,
        moved,
        moves,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_ready_to_four_pricing_views_moves_the_three_time_visitor() {
        let log = VisitorLog::from_jsonl(concat!(
            r#"{"visitor":"fan","ts":"2026-11-20T10:00:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"fan","ts":"2026-11-20T10:05:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"fan","ts":"2026-11-20T10:10:00Z","type":"pageview","url":"/pricing"}"#,
            "\n",
            r#"{"visitor":"reader","ts":"2026-11-22T10:00:00Z","type":"pageview","url":"/blog/x"}"#,
            "\n",
        ))
        .unwrap();
        let published = Rules::builtin();
        let edited = Rules::from_json(&Rules::builtin_json().replacen(
            "\"at_least\": 3",
            "\"at_least\": 4",
            1,
        ))
        .unwrap();
        let at = Timestamp::parse_rfc3339("2026-11-23T00:00:00Z").unwrap();
        let p = preview(&log, published, &edited, at);
        assert_eq!((p.visitors, p.events, p.moved), (2, 4, 1));
        assert_eq!(
            p.moves,
            [Move {
                visitor: "fan".into(),
                from: "ready".into(),
                to: "evaluating".into(),
                joins: vec![],
                leaves: vec![],
            }]
        );
        let count = |name: &str| {
            let a = p.audiences.iter().find(|a| a.name == name).unwrap();
            (a.before, a.after)
        };
        assert_eq!(count("ready"), (1, 0));
        assert_eq!(count("evaluating"), (0, 1));
        assert_eq!(count("researching"), (1, 1));
    }
}
