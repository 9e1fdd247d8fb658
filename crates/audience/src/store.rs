//! The store over one SQLite database: settings, the changes it reports, and how one visitor's
//! audiences are recomputed, which ingest, expiry and backfill share.

use intent_engine::errors::ConfigError;
use intent_engine::{
    simulate, Event, FreshReason, LogEvent, Profile, ProfileShape, Rules, Timestamp, EARLIER_SHAPES,
};
use serde::Serialize;

use crate::codec::{decode_profile, encode_profile};
use crate::error::Error;
use crate::sql::{Row, RowExt, Sql, Value, MAX_PARAMS};

/// The default of `EVENT_RETENTION_DAYS`.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest retention a site may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3_650;
/// How often retention runs.
pub(crate) const PURGE_EVERY_SECS: i64 = 86_400;
/// Days an erasure's tombstone is kept: a queue keeps an undelivered message at most 14 days, so
/// no record from before the erasure can arrive later.
pub const TOMBSTONE_DAYS: i64 = 14;

/// The rules text a store runs with, as the worker last handed it over, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRules {
    /// The rules config, as published.
    pub text: String,
    /// When the store was given it (the store's clock).
    pub saved_at: Timestamp,
    /// The profile shapes of the rules the store ran with before, most recent first (at most
    /// [`EARLIER_SHAPES`]): the stored profiles made under them carry over
    /// ([`Rules::with_earlier_shapes`]).
    pub earlier: Vec<ProfileShape>,
}

impl SavedRules {
    /// The saved rules, compiled, carrying over profiles made under the earlier shapes.
    pub fn compile(&self) -> Result<Rules, ConfigError> {
        Ok(Rules::from_json(&self.text)?.with_earlier_shapes(self.earlier.iter().cloned()))
    }
}

/// The `meta` keys of the saved rules.
const RULES_TEXT: &str = "rules_text";
const RULES_SAVED_AT: &str = "rules_saved_at";
const RULES_SHAPES: &str = "rules_shapes";

/// The rules text the store was last given ([`save_rules`]), if any.
pub fn saved_rules(db: &impl Sql) -> Result<Option<SavedRules>, Error> {
    let rows = db.query(
        "SELECT key, value FROM meta WHERE key IN (?, ?, ?)",
        &[
            RULES_TEXT.into(),
            RULES_SAVED_AT.into(),
            RULES_SHAPES.into(),
        ],
    )?;
    let (mut text, mut at, mut shapes) = (None, None, Vec::new());
    for row in &rows {
        match row.text(0)? {
            RULES_TEXT => text = Some(row.text(1)?.to_owned()),
            RULES_SAVED_AT => at = row.text(1)?.parse::<i64>().ok(),
            _ => shapes = shape_records(row.text(1)?)?,
        }
    }
    let Some(text) = text else {
        return Ok(None);
    };
    // The first record is the saved rules' own shape.
    let earlier = shapes
        .iter()
        .skip(1)
        .filter_map(|r| ProfileShape::from_record(r).ok())
        .collect();
    Ok(Some(SavedRules {
        text,
        saved_at: Timestamp::from_secs(at.unwrap_or(0)),
        earlier,
    }))
}

/// Reads the `rules_shapes` list: shape records ([`ProfileShape::to_record`]), most recent first.
fn shape_records(value: &str) -> Result<Vec<String>, Error> {
    serde_json::from_str(value).map_err(|e| Error::Corrupt(format!("`{RULES_SHAPES}`: {e}")))
}

/// Keeps `rules` (whose text is `text`) as the rules the store runs with from now on, so that
/// it runs with the same rules after a restart; the next ingest or alarm notices new rules and
/// starts a backfill. Also keeps the shape of the rules it ran with until now (the built-in
/// rules when it was never given any), and returns `rules` carrying over the profiles made under
/// the shapes it ran with before: the backfill then carries each stored profile over as the
/// edge carries a visitor's token, rather than rebuilding it from the event log.
pub fn save_rules(db: &impl Sql, rules: Rules, text: &str, at: Timestamp) -> Result<Rules, Error> {
    db.atomic(|| {
        let saved = saved_rules(db)?;
        let rows = db.query(
            "SELECT value FROM meta WHERE key = ?",
            &[RULES_SHAPES.into()],
        )?;
        let mut shapes = match rows.first() {
            Some(row) => shape_records(row.text(0)?)?,
            // Never given rules before, or by a version of the store that kept no shapes: the
            // rules it ran with are the saved text's, or the built-in rules.
            None => {
                let ran_with = match &saved {
                    Some(saved) => Rules::from_json(&saved.text).ok(),
                    None => Some(Rules::builtin().clone()),
                };
                ran_with
                    .map(|r| vec![r.shape().to_record()])
                    .unwrap_or_default()
            }
        };
        let own = rules.shape().to_record();
        shapes.retain(|r| *r != own);
        shapes.insert(0, own);
        shapes.truncate(EARLIER_SHAPES + 1);
        let list = serde_json::to_string(&shapes)
            .map_err(|e| Error::Corrupt(format!("`{RULES_SHAPES}`: {e}")))?;
        for (key, value) in [
            (RULES_TEXT, text.to_owned()),
            (RULES_SAVED_AT, at.secs().to_string()),
            (RULES_SHAPES, list),
        ] {
            db.run(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[key.into(), value.into()],
            )?;
        }
        let earlier = shapes
            .iter()
            .skip(1)
            .filter_map(|r| ProfileShape::from_record(r).ok())
            .collect::<Vec<_>>();
        Ok(rules.with_earlier_shapes(earlier))
    })
}

/// The store's settings, from the worker's vars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Days the event log keeps events, and visitor records are kept after their last event
    /// (`EVENT_RETENTION_DAYS`, default 30).
    pub retention_days: u32,
    /// Visitors recomputed per alarm while a backfill runs: between chunks the object answers
    /// other requests.
    pub backfill_chunk: usize,
    /// Visitors whose audiences lapsed that one alarm re-checks at most.
    pub expiry_chunk: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            retention_days: DEFAULT_RETENTION_DAYS,
            backfill_chunk: 500,
            expiry_chunk: 1_000,
        }
    }
}

impl Settings {
    /// The settings with `EVENT_RETENTION_DAYS` read from its var (`None` or empty: the
    /// default).
    pub fn with_retention(retention: Option<&str>) -> Result<Settings, Error> {
        let mut s = Settings::default();
        if let Some(text) = retention.map(str::trim).filter(|t| !t.is_empty()) {
            s.retention_days = text
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_RETENTION_DAYS).contains(d))
                .ok_or_else(|| {
                    Error::param(
                        "EVENT_RETENTION_DAYS",
                        format!("`{text}` is not a number of days from 1 to {MAX_RETENTION_DAYS}"),
                    )
                })?;
        }
        Ok(s)
    }
}

/// Whether an audience is a tier or a segment of the rules.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A tier (the fallback included).
    Tier,
    /// A segment.
    Segment,
}

impl Kind {
    /// `tier` or `segment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tier => "tier",
            Kind::Segment => "segment",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Kind, Error> {
        match s {
            "tier" => Ok(Kind::Tier),
            "segment" => Ok(Kind::Segment),
            other => Err(Error::Corrupt(format!("unknown audience kind `{other}`"))),
        }
    }
}

/// An audience: a tier or a segment, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Audience {
    /// The tier's or segment's name.
    pub name: String,
    /// Which it is.
    pub kind: Kind,
}

/// Why a membership changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// New events from the visitor.
    Event,
    /// A window lapsed with no new event (the alarm).
    Lapse,
    /// New rules were published. Triggers fire nothing for these by default.
    Backfill,
}

/// A change the store made, returned so that the caller (the triggers) can act on it in the
/// same transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// The visitor entered an audience.
    Entered {
        /// The visitor's id.
        visitor: String,
        /// The audience.
        audience: Audience,
        /// When (the store's clock).
        #[serde(serialize_with = "crate::time::rfc3339")]
        at: Timestamp,
        /// Why.
        cause: Cause,
    },
    /// The visitor left an audience.
    Left {
        /// The visitor's id.
        visitor: String,
        /// The audience.
        audience: Audience,
        /// When (the store's clock).
        #[serde(serialize_with = "crate::time::rfc3339")]
        at: Timestamp,
        /// Why.
        cause: Cause,
    },
    /// The visitor identified with a new email address.
    Identified {
        /// The visitor's id.
        visitor: String,
        /// The normalised email.
        email: String,
        /// Their account, if the email or traits name one.
        account: Option<String>,
        /// When the identify event happened.
        #[serde(serialize_with = "crate::time::rfc3339")]
        at: Timestamp,
    },
}

/// A stored visitor, as ingest and the re-checks read and write it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VisitorState {
    pub(crate) id: String,
    pub(crate) email: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) profile: Option<String>,
    pub(crate) profile_at: Option<i64>,
    /// Whether `profile` was rebuilt from the event log rather than received from the edge.
    pub(crate) rebuilt: bool,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    /// The audiences the visitor is in (their open memberships), sorted.
    pub(crate) audiences: Vec<Audience>,
}

/// The columns [`VisitorState::from_row`] reads, in its order.
pub(crate) const VISITOR_COLUMNS: &str =
    "id, email, account, profile, profile_at, rebuilt, first_seen, last_seen, tier, segments";

impl VisitorState {
    pub(crate) fn from_row(row: &Row) -> Result<VisitorState, Error> {
        Ok(VisitorState {
            id: row.text(0)?.to_owned(),
            email: row.opt_text(1)?.map(str::to_owned),
            account: row.opt_text(2)?.map(str::to_owned),
            profile: row.opt_text(3)?.map(str::to_owned),
            profile_at: row.opt_int(4)?,
            rebuilt: row.opt_int(5)? == Some(1),
            first_seen: row.int(6)?,
            last_seen: row.int(7)?,
            audiences: audiences(row.text(8)?, row.text(9)?),
        })
    }
}

/// The columns of a visitor's row as [`Store::flush`] writes it.
const VISITOR_ROW: usize = 13;

/// What one pass (an ingest, one alarm's re-checks or backfill chunk) decided for its visitors,
/// written together by [`Store::flush`]. Every change of a pass happens at the same `at`.
#[derive(Debug)]
pub(crate) struct Writes {
    at: i64,
    left: Vec<(String, Audience)>,
    entered: Vec<(String, Audience)>,
    visitors: Vec<[Value; VISITOR_ROW]>,
}

impl Writes {
    pub(crate) fn new(now: Timestamp) -> Writes {
        Writes {
            at: now.secs(),
            left: Vec::new(),
            entered: Vec::new(),
            visitors: Vec::new(),
        }
    }
}

/// The audiences of a visitor whose tier and segments (`;`-joined) are these, sorted.
pub(crate) fn audiences(tier: &str, segments: &str) -> Vec<Audience> {
    let mut all: Vec<Audience> = std::iter::once(Audience {
        name: tier.to_owned(),
        kind: Kind::Tier,
    })
    .chain(
        segments
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|s| Audience {
                name: s.to_owned(),
                kind: Kind::Segment,
            }),
    )
    .collect();
    all.sort();
    all
}

/// One site's (or one shard's) audience store: the rules and settings in force, over a
/// database. Every method that writes runs as one transaction ([`Sql::atomic`]).
#[derive(Debug)]
pub struct Store<'s, D: Sql> {
    pub(crate) db: &'s D,
    pub(crate) rules: &'s Rules,
    pub(crate) settings: &'s Settings,
}

impl<'s, D: Sql> Store<'s, D> {
    /// The store over `db` (already migrated, see [`crate::migrate`]) with the active `rules`.
    pub fn new(db: &'s D, rules: &'s Rules, settings: &'s Settings) -> Store<'s, D> {
        Store {
            db,
            rules,
            settings,
        }
    }

    /// A value of the `meta` table.
    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let rows = self
            .db
            .query("SELECT value FROM meta WHERE key = ?", &[key.into()])?;
        match rows.first() {
            Some(row) => Ok(Some(row.text(0)?.to_owned())),
            None => Ok(None),
        }
    }

    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<(), Error> {
        self.db.run(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key.into(), value.into()],
        )?;
        Ok(())
    }

    pub(crate) fn delete_meta(&self, key: &str) -> Result<(), Error> {
        self.db
            .run("DELETE FROM meta WHERE key = ?", &[key.into()])?;
        Ok(())
    }

    /// Notices rules other than those the memberships were computed with, and starts a backfill
    /// for them. Returns whether a backfill is under way.
    pub(crate) fn sync_rules(&self) -> Result<bool, Error> {
        let active = self.rules.id();
        match self.meta("rules")? {
            Some(id) if id == active => {}
            Some(_) => {
                // Visitors computed under other rules are recomputed in chunks by the alarm.
                self.set_meta("rules", active)?;
                self.set_meta("backfill_rules", active)?;
                self.set_meta("backfill_cursor", "")?;
            }
            None => self.set_meta("rules", active)?,
        }
        Ok(self.meta("backfill_rules")?.is_some())
    }

    /// The visitor's events from the log, oldest first.
    pub(crate) fn log_of(&self, visitor: &str) -> Result<Vec<LogEvent>, Error> {
        let rows = self.db.query(
            "SELECT at, body FROM events WHERE visitor = ? ORDER BY at, seq",
            &[visitor.into()],
        )?;
        rows.iter()
            .map(|row| {
                let body = row.text(1)?;
                let event: Event<'_> = serde_json::from_str(body)
                    .map_err(|e| Error::Corrupt(format!("a logged event: {e}")))?;
                Ok(LogEvent {
                    visitor: visitor.to_owned(),
                    at: Timestamp::from_secs(row.int(0)?),
                    event: event.into_owned(),
                })
            })
            .collect()
    }

    /// The visitor's profile under the active rules rebuilt from the event log up to `now`.
    pub(crate) fn rebuild(&self, visitor: &str, now: Timestamp) -> Result<Profile, Error> {
        let log = self.log_of(visitor)?;
        Ok(simulate(self.rules, &log, now)
            .visitors
            .into_iter()
            .next()
            .map_or_else(|| Profile::new(self.rules), |v| v.profile))
    }

    /// The visitor's stored profile under the active rules at `now`: decoded when it has the
    /// rules' shape, carried over when it has one of their earlier shapes (as the edge carries
    /// the visitor's token), rebuilt from the event log when its shape is unknown to them,
    /// empty when it is past the horizon. The flag says whether it was rebuilt.
    pub(crate) fn profile_of(
        &self,
        v: &VisitorState,
        now: Timestamp,
    ) -> Result<(Profile, bool), Error> {
        match v
            .profile
            .as_deref()
            .map(|p| decode_profile(self.rules, p, now))
        {
            Some(Ok(p)) => Ok((p, v.rebuilt)),
            Some(Err(FreshReason::Expired)) => Ok((Profile::new(self.rules), v.rebuilt)),
            // A shape the rules do not know (the store was given rules while profiles of
            // unrelated rules were stored), or unreadable: the log has the events.
            Some(Err(_)) | None => Ok((self.rebuild(&v.id, now)?, true)),
        }
    }

    /// Recomputes `v`'s audiences from `profile` at `now`: the memberships entered and left
    /// (pushed onto `changes`), the tier, segments and score, the next re-check, and the visitor
    /// with the profile, all written by [`Store::flush`] with the other visitors' of the same
    /// pass.
    pub(crate) fn evaluate(
        &self,
        v: &VisitorState,
        profile: &Profile,
        now: Timestamp,
        cause: Cause,
        changes: &mut Vec<Change>,
        writes: &mut Writes,
    ) {
        let decision = self.rules.decide(profile, now);
        let mut wanted: Vec<Audience> = Vec::with_capacity(1 + decision.segments.len());
        wanted.push(Audience {
            name: decision.tier.to_owned(),
            kind: Kind::Tier,
        });
        wanted.extend(decision.segments.iter().map(|s| Audience {
            name: (*s).to_owned(),
            kind: Kind::Segment,
        }));
        // The visitor's row holds their open memberships' audiences (both are written here,
        // together), which saves reading the memberships.
        let open = &v.audiences;
        for gone in open.iter().filter(|a| !wanted.contains(a)) {
            writes.left.push((v.id.clone(), gone.clone()));
            changes.push(Change::Left {
                visitor: v.id.clone(),
                audience: gone.clone(),
                at: now,
                cause,
            });
        }
        for new in wanted.iter().filter(|a| open.binary_search(a).is_err()) {
            writes.entered.push((v.id.clone(), new.clone()));
            changes.push(Change::Entered {
                visitor: v.id.clone(),
                audience: new.clone(),
                at: now,
                cause,
            });
        }
        let recheck = self.rules.next_change(profile, now).map(Timestamp::secs);
        let score = decision.score.map(|s| (s * 100.0).round() / 100.0);
        writes.visitors.push([
            v.id.as_str().into(),
            v.email.clone().into(),
            v.account.clone().into(),
            encode_profile(self.rules, profile).into(),
            v.profile_at.into(),
            i64::from(v.rebuilt).into(),
            self.rules.id().into(),
            decision.tier.into(),
            decision.segments.join(";").into(),
            Value::from(score),
            v.first_seen.into(),
            v.last_seen.into(),
            recheck.into(),
        ]);
    }

    /// Writes what [`Store::evaluate`] decided for the visitors of one pass, in a few
    /// multi-row statements: memberships left, then entered, then the visitors. Each visitor is
    /// evaluated at most once a pass, and a pass reads no visitor it has evaluated.
    pub(crate) fn flush(&self, writes: &mut Writes) -> Result<(), Error> {
        let at = Value::from(writes.at);
        for chunk in writes.left.chunks((MAX_PARAMS - 1) / 3) {
            let marks = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let mut params = Vec::with_capacity(1 + chunk.len() * 3);
            params.push(at.clone());
            for (visitor, a) in chunk {
                params.extend([
                    Value::from(visitor.as_str()),
                    a.kind.as_str().into(),
                    a.name.as_str().into(),
                ]);
            }
            self.db.run(
                &format!(
                    "UPDATE memberships SET left_at = ? WHERE left_at IS NULL AND (visitor, kind, audience) IN (VALUES {marks})"
                ),
                &params,
            )?;
        }
        for chunk in writes.entered.chunks(MAX_PARAMS / 4) {
            let marks = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let mut params = Vec::with_capacity(chunk.len() * 4);
            for (visitor, a) in chunk {
                params.extend([
                    Value::from(visitor.as_str()),
                    a.kind.as_str().into(),
                    a.name.as_str().into(),
                    at.clone(),
                ]);
            }
            self.db.run(
                &format!(
                    "INSERT INTO memberships (visitor, kind, audience, entered_at) VALUES {marks}"
                ),
                &params,
            )?;
        }
        for chunk in writes.visitors.chunks(MAX_PARAMS / VISITOR_ROW) {
            let marks = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let params: Vec<Value> = chunk.iter().flat_map(|row| row.iter().cloned()).collect();
            self.db.run(
                &format!(
                    "INSERT INTO visitors (id, email, account, profile, profile_at, rebuilt, rules, tier, segments, score, first_seen, last_seen, recheck_at)
                     VALUES {marks}
                     ON CONFLICT (id) DO UPDATE SET email = excluded.email, account = excluded.account,
                       profile = excluded.profile, profile_at = excluded.profile_at,
                       rebuilt = excluded.rebuilt, rules = excluded.rules,
                       tier = excluded.tier, segments = excluded.segments, score = excluded.score,
                       first_seen = excluded.first_seen, last_seen = excluded.last_seen,
                       recheck_at = excluded.recheck_at"
                ),
                &params,
            )?;
        }
        writes.left.clear();
        writes.entered.clear();
        writes.visitors.clear();
        Ok(())
    }

    /// When the object's alarm should next fire: the earliest re-check, the next retention run,
    /// the next delivery due, or now while a backfill is under way.
    pub fn next_alarm(&self, now: Timestamp) -> Result<Option<Timestamp>, Error> {
        if self.meta("backfill_rules")?.is_some() {
            return Ok(Some(now));
        }
        // The first of the index, not `MIN`: an aggregate under a `WHERE` reads the whole range.
        let rows = self.db.query(
            "SELECT recheck_at FROM visitors WHERE recheck_at IS NOT NULL ORDER BY recheck_at LIMIT 1",
            &[],
        )?;
        let recheck = match rows.first() {
            Some(row) => row.opt_int(0)?,
            None => None,
        };
        let purge = self.meta("purge_at")?.and_then(|p| p.parse::<i64>().ok());
        let delivery = self.next_delivery()?.map(Timestamp::secs);
        Ok(recheck
            .into_iter()
            .chain(purge)
            .chain(delivery)
            .min()
            .map(|t| Timestamp::from_secs(t.max(now.secs()))))
    }
}
