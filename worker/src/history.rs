//! The history of published rules versions, as the admin API keeps it in KV.
//!
//! | KV key | value |
//! | --- | --- |
//! | `rules` | the active config, byte for byte as it was published (what the worker serves) |
//! | `rules:history` | this module's [`History`] as JSON: the versions kept, newest first |
//! | `rules:version:<id>` | each kept version's config text, for `?version=<id>` and rollback |
//!
//! Each version records when it was published and last made active, the version that was
//! active when it was published (what a rollback without an id returns to, so rolling back
//! twice goes two steps back instead of toggling), the publish summary (what it did to visitors'
//! profiles), and its profile shape as a record (`ProfileShape::to_record`), so that tokens
//! made under any kept version carry over to the active one. At most [`KEPT_VERSIONS`] are kept.
//!
//! This module is pure bookkeeping over strings: the engine makes the ids, summaries and shape
//! records, and `runtime/admin.rs` reads and writes KV.

use serde::{Deserialize, Serialize};

/// KV key of the history.
pub const HISTORY_KEY: &str = "rules:history";

/// The KV key of a kept version's config text.
pub fn version_key(id: &str) -> String {
    format!("rules:version:{id}")
}

/// How many versions are kept; older ones are dropped with their text.
pub const KEPT_VERSIONS: usize = 20;

/// One published version of the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The rules id, `revision@hash`.
    pub id: String,
    /// When it was first published (RFC 3339); `None` for a version that was active before
    /// the history was kept.
    pub published_at: Option<String>,
    /// When it was last made active (published, or restored by a rollback).
    pub activated_at: Option<String>,
    /// The number of the change that last made it active: orders versions where two were made
    /// active within the same second. 0 for a version never made active through the history.
    #[serde(default)]
    pub activation: u64,
    /// The version that was active when this one was first published.
    pub previous: Option<String>,
    /// What publishing it did to visitors' profiles, in one line.
    pub summary: String,
    /// Its profile shape, as a record.
    pub shape: String,
}

/// The versions kept, newest first by first publication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The id of the version made active last through the admin API.
    pub active: Option<String>,
    /// How many changes (publishes and rollbacks) the history has recorded.
    #[serde(default)]
    pub changes: u64,
    /// The kept versions, newest first.
    pub versions: Vec<Version>,
}

impl History {
    /// Reads the stored history; a missing value is an empty history. A value that cannot be
    /// read is `Err` with the reason, so that a publish never overwrites it blindly.
    pub fn parse(text: Option<&str>) -> Result<History, String> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(History::default()),
            Some(t) => serde_json::from_str(t).map_err(|e| e.to_string()),
        }
    }

    /// The history as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The version `id`, if it is kept.
    pub fn get(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// Whether nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Records `version` as published at `at` and makes it active. A version already kept
    /// (published again, or a publish retried after a failure) keeps its first publication and
    /// becomes active again, over the version it now replaces (its `previous` and summary are
    /// this publication's). Returns the ids of the versions dropped to stay within
    /// [`KEPT_VERSIONS`], whose texts can go.
    pub fn publish(&mut self, version: Version, at: &str) -> Vec<String> {
        let id = version.id.clone();
        self.changes += 1;
        let activation = self.changes;
        match self.versions.iter_mut().find(|v| v.id == id) {
            Some(kept) => {
                kept.activated_at = Some(at.to_owned());
                kept.activation = activation;
                kept.previous = version.previous;
                kept.summary = version.summary;
            }
            None => {
                let mut version = version;
                version.published_at = Some(at.to_owned());
                version.activated_at = Some(at.to_owned());
                version.activation = activation;
                self.versions.insert(0, version);
            }
        }
        self.active = Some(id.clone());
        let mut dropped = Vec::new();
        while self.versions.len() > KEPT_VERSIONS {
            // Never the active version: the oldest other one goes.
            let Some(i) = self.versions.iter().rposition(|v| v.id != id) else {
                break;
            };
            dropped.push(self.versions.remove(i).id);
        }
        dropped
    }

    /// Records the version that was active before the history was kept (published at an
    /// unknown time), as the oldest entry, unless it is kept already.
    pub fn seed(&mut self, version: Version) {
        if self.get(&version.id).is_none() {
            self.versions.push(version);
        }
    }

    /// Makes the kept version `id` active again at `at` (a rollback). Returns false when it is
    /// not kept.
    pub fn activate(&mut self, id: &str, at: &str) -> bool {
        let activation = self.changes + 1;
        match self.versions.iter_mut().find(|v| v.id == id) {
            Some(v) => {
                self.changes = activation;
                v.activated_at = Some(at.to_owned());
                v.activation = activation;
                self.active = Some(id.to_owned());
                true
            }
            None => false,
        }
    }

    /// What a rollback without an id restores when `current` is active: the version that was
    /// active when `current` was published, if it is still kept.
    pub fn rollback_target(&self, current: &str) -> Option<&Version> {
        let previous = self.get(current)?.previous.as_deref()?;
        self.get(previous)
    }

    /// The versions made active after `since` was (all of them, when `since` is not kept),
    /// most recent first: what changed meanwhile, for a refused conditional request.
    pub fn since(&self, since: &str) -> Vec<&Version> {
        let from = self.get(since).map_or(0, |v| v.activation);
        let mut list: Vec<&Version> = self
            .versions
            .iter()
            .filter(|v| v.id != since && v.activation > from)
            .collect();
        list.sort_by_key(|v| std::cmp::Reverse(v.activation));
        list
    }

    /// The shape records of every kept version but `active`, the most recently active first:
    /// the shapes whose tokens carry over to the active rules.
    pub fn earlier_shapes<'h>(&'h self, active: &'h str) -> impl Iterator<Item = &'h str> + 'h {
        let mut list: Vec<&Version> = self.versions.iter().filter(|v| v.id != active).collect();
        list.sort_by_key(|v| std::cmp::Reverse(v.activation));
        list.into_iter().map(|v| v.shape.as_str())
    }
}

/// Whether `value` is written like a rules id: a revision label, `@`, eight hexadecimal
/// digits (`default@1c63f927`).
pub fn looks_like_id(value: &str) -> bool {
    match value.rsplit_once('@') {
        Some((label, hash)) => {
            !label.is_empty()
                && label.len() <= 64
                && !label.chars().any(char::is_control)
                && hash.len() == 8
                && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        None => false,
    }
}

/// Whether an `If-Match` header matches the version `id`: `*`, or one of its comma-separated
/// entity tags is `"id"` (the quotes may be left out; a weak tag never matches, as RFC 9110
/// asks of `If-Match`).
pub fn if_match(header: &str, id: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || (!tag.starts_with("W/") && tag.trim_matches('"') == id))
}

/// The `ETag` of the version `id`.
pub fn etag(id: &str) -> String {
    format!("\"{id}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, previous: Option<&str>) -> Version {
        Version {
            id: id.to_owned(),
            published_at: None,
            activated_at: None,
            activation: 0,
            previous: previous.map(str::to_owned),
            summary: String::new(),
            shape: format!("shape-of-{id}"),
        }
    }

    /// All within one second: the order of changes does not depend on the clock.
    #[test]
    fn rolling_back_twice_goes_two_steps_back() {
        let at = "2026-12-01T00:00:00Z";
        let mut h = History::default();
        h.seed(version("v1@00000001", None));
        h.publish(version("v2@00000002", Some("v1@00000001")), at);
        h.publish(version("v3@00000003", Some("v2@00000002")), at);
        let target = h.rollback_target("v3@00000003").map(|v| v.id.clone());
        assert_eq!(target.as_deref(), Some("v2@00000002"));
        assert!(h.activate("v2@00000002", at));
        let target = h.rollback_target("v2@00000002").map(|v| v.id.clone());
        assert_eq!(target.as_deref(), Some("v1@00000001"));
        assert!(h.activate("v1@00000001", at));
        assert!(!h.activate("v9@00000009", at));
        assert_eq!(h.changes, 4);
        assert_eq!(h.rollback_target("v1@00000001"), None);
        assert_eq!(h.active.as_deref(), Some("v1@00000001"));
        // What changed since v2 was made active: v1, restored after it.
        let since: Vec<&str> = h
            .since("v2@00000002")
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        assert_eq!(since, ["v1@00000001"]);
        // Tokens of every other kept version carry over, the most recently active first.
        let shapes: Vec<&str> = h.earlier_shapes("v1@00000001").collect();
        assert_eq!(shapes, ["shape-of-v2@00000002", "shape-of-v3@00000003"]);
    }

    #[test]
    fn publishing_again_keeps_one_entry_and_the_oldest_go_first() {
        let mut h = History::default();
        for i in 0..KEPT_VERSIONS + 5 {
            let dropped = h.publish(
                version(&format!("v@{i:08x}"), None),
                &format!("2026-12-01T00:00:{i:02}Z"),
            );
            assert_eq!(dropped.len(), usize::from(i >= KEPT_VERSIONS), "{i}");
        }
        assert_eq!(h.versions.len(), KEPT_VERSIONS);
        assert_eq!(h.versions[0].id, format!("v@{:08x}", KEPT_VERSIONS + 4));
        let again = h.publish(
            version("v@00000010", Some("v@00000018")),
            "2026-12-02T00:00:00Z",
        );
        assert!(again.is_empty());
        // Published again over v@…18: a rollback from it returns there.
        let target = h.rollback_target("v@00000010").map(|v| v.id.as_str());
        assert_eq!(target, Some("v@00000018"));
        assert_eq!(h.versions.len(), KEPT_VERSIONS);
        let kept = h.get("v@00000010").unwrap();
        assert_eq!(kept.published_at.as_deref(), Some("2026-12-01T00:00:16Z"));
        assert_eq!(kept.activated_at.as_deref(), Some("2026-12-02T00:00:00Z"));
        assert_eq!(History::parse(Some(&h.to_json())), Ok(h));
        assert_eq!(History::parse(None), Ok(History::default()));
        assert!(History::parse(Some("{broken")).is_err());
    }

    #[test]
    fn ids_and_entity_tags() {
        for id in [
            "default@1c63f927",
            "2026-11 spring@0badf00d",
            "rules@00000000",
        ] {
            assert!(looks_like_id(id), "{id}");
        }
        for not in [
            "garbage",
            "PREVIOUS",
            "current",
            "../x",
            "default@1C63F927",
            "default@1c63f92",
            "@1c63f927",
            "",
        ] {
            assert!(!looks_like_id(not), "{not}");
        }
        assert!(if_match("\"default@1c63f927\"", "default@1c63f927"));
        assert!(if_match("default@1c63f927", "default@1c63f927"));
        assert!(if_match(
            "\"a@00000000\", \"default@1c63f927\"",
            "default@1c63f927"
        ));
        assert!(if_match("*", "default@1c63f927"));
        assert!(!if_match("W/\"default@1c63f927\"", "default@1c63f927"));
        assert!(!if_match("\"other@1c63f927\"", "default@1c63f927"));
        assert_eq!(etag("default@1c63f927"), "\"default@1c63f927\"");
    }
}
