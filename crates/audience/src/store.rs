//! The store over one SQLite database: settings, the changes it reports, and how one visitor's
//! audiences are recomputed, which ingest, expiry and backfill share.

use intent_engine::{simulate, Event, FreshReason, LogEvent, Profile, Rules, Timestamp};
use serde::Serialize;

use crate::codec::{decode_profile, encode_profile};
use crate::error::Error;
use crate::sql::{Row, RowExt, Sql, Value};

/// The default of `EVENT_RETENTION_DAYS`.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest retention a site may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3_650;
/// How often retention runs.
pub(crate) const PURGE_EVERY_SECS: i64 = 86_400;

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
    /// rules' shape, rebuilt from the event log when it does not (new rules track something
    /// else), empty when it is past the horizon. The flag says whether it was rebuilt.
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
            // NOTE: until the engine carries a profile over to rules of another shape (issue 12),
            // a changed shape is rebuilt from the event log, which holds the retention period.
            Some(Err(_)) | None => Ok((self.rebuild(&v.id, now)?, true)),
        }
    }

    /// Recomputes `v`'s audiences from `profile` at `now`: records the memberships entered and
    /// left (pushed onto `changes`), the tier, segments and score, the next re-check, and saves
    /// the visitor with the profile.
    pub(crate) fn evaluate(
        &self,
        v: &VisitorState,
        profile: &Profile,
        now: Timestamp,
        cause: Cause,
        changes: &mut Vec<Change>,
    ) -> Result<(), Error> {
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
        let at = now.secs();
        for gone in open.iter().filter(|a| !wanted.contains(a)) {
            self.db.run(
                "UPDATE memberships SET left_at = ? WHERE visitor = ? AND kind = ? AND audience = ? AND left_at IS NULL",
                &[at.into(), v.id.as_str().into(), gone.kind.as_str().into(), gone.name.as_str().into()],
            )?;
            changes.push(Change::Left {
                visitor: v.id.clone(),
                audience: gone.clone(),
                at: now,
                cause,
            });
        }
        for new in wanted.iter().filter(|a| open.binary_search(a).is_err()) {
            self.db.run(
                "INSERT INTO memberships (visitor, kind, audience, entered_at) VALUES (?, ?, ?, ?)",
                &[
                    v.id.as_str().into(),
                    new.kind.as_str().into(),
                    new.name.as_str().into(),
                    at.into(),
                ],
            )?;
            changes.push(Change::Entered {
                visitor: v.id.clone(),
                audience: new.clone(),
                at: now,
                cause,
            });
        }
        let recheck = self.rules.next_change(profile, now).map(Timestamp::secs);
        let score = decision.score.map(|s| (s * 100.0).round() / 100.0);
        self.db.run(
            "INSERT INTO visitors (id, email, account, profile, profile_at, rebuilt, rules, tier, segments, score, first_seen, last_seen, recheck_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET email = excluded.email, account = excluded.account,
               profile = excluded.profile, profile_at = excluded.profile_at,
               rebuilt = excluded.rebuilt, rules = excluded.rules,
               tier = excluded.tier, segments = excluded.segments, score = excluded.score,
               first_seen = excluded.first_seen, last_seen = excluded.last_seen,
               recheck_at = excluded.recheck_at",
            &[
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
            ],
        )?;
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
