//! The admin API's questions: audiences with counts, one audience's members, accounts, one
//! visitor, the event log, and erasure.

use std::collections::BTreeMap;

use intent_engine::{Email, Explanation, Rules, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::export::{Cursor, Member, MembersPage, MembersRequest};
use crate::ids::check_visitor;
use crate::sql::{Row, RowExt, Sql, Value};
use crate::store::{Audience, Kind, Store, VisitorState, VISITOR_COLUMNS};

/// The largest timestamp a Durable Object's numbers hold exactly: the first page's bound.
const NO_CURSOR: i64 = (1 << 53) - 1;
/// Most events of a visitor's timeline (the newest).
pub const TIMELINE_MAX: usize = 1_000;
/// Events per page of the event log's export.
pub const EVENTS_PAGE: usize = 1_000;

/// `GET /v1/admin/audiences`: `{"as_of": "<RFC3339>", "audiences": [{"name", "kind", "members"}]}`,
/// tiers in priority order (the fallback last), then segments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceCounts {
    /// When the counts were taken.
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::from_rfc3339"
    )]
    pub as_of: Timestamp,
    /// Every audience of the active rules with its member count.
    pub audiences: Vec<AudienceCount>,
}

/// One audience and how many are in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudienceCount {
    /// The tier's or segment's name.
    pub name: String,
    /// `tier` or `segment`.
    pub kind: Kind,
    /// Visitors in it now.
    pub members: u64,
}

/// One account of `GET /v1/admin/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// The company domain.
    pub account: String,
    /// Visitors of the account seen within the window.
    pub visitors: u64,
    /// Of those, the ones who identified with an email.
    pub identified: u64,
    /// The highest tier among them.
    pub tier: String,
    /// The latest event of any of them.
    #[serde(
        serialize_with = "crate::time::rfc3339",
        deserialize_with = "crate::time::from_rfc3339"
    )]
    pub last_seen: Timestamp,
}

/// `GET /v1/admin/accounts`: `{"accounts": [...]}`, highest tier first, then latest activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    /// The accounts.
    pub accounts: Vec<AccountSummary>,
}

/// A stored visitor's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitorRecord {
    /// The visitor's id.
    pub id: String,
    /// Their email, after an identify event.
    pub email: Option<String>,
    /// Their account.
    pub account: Option<String>,
    /// Their tier.
    pub tier: String,
    /// Their segments.
    pub segments: Vec<String>,
    /// Their score when last computed.
    pub score: Option<f64>,
    /// Their first event.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub first_seen: Timestamp,
    /// Their latest event.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub last_seen: Timestamp,
}

/// One membership of a visitor, current or past.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipRecord {
    /// The audience's name.
    pub audience: String,
    /// `tier` or `segment`.
    pub kind: Kind,
    /// When they entered it.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub entered: Timestamp,
    /// When they left it; `null` while they are in it.
    pub left: Option<String>,
}

/// `GET /v1/admin/visitors/<id>`: the record, memberships with times, the timeline of stored
/// events (newest [`TIMELINE_MAX`]), and the engine's explanation of the tier now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitorReport {
    /// The record.
    pub visitor: VisitorRecord,
    /// Every membership, current and past, newest first.
    pub memberships: Vec<MembershipRecord>,
    /// Stored events, oldest first, each `{"ts": …, "type": …, …}`.
    pub timeline: Vec<serde_json::Value>,
    /// Whether older events were left out of the timeline.
    pub timeline_truncated: bool,
    /// Why the visitor has their tier, evaluated now.
    pub explanation: Explanation,
}

/// A page of the event log as JSON Lines, in the format `intentctl simulate` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPage {
    /// One event a line: `{"visitor": …, "ts": …, "type": …, …}\n`.
    pub lines: String,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

/// Whose records to erase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject<'a> {
    /// One visitor id.
    Visitor(&'a str),
    /// Everyone who identified with this email (or had it on their record).
    Email(&'a str),
}

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Erased {
    /// The visitors whose records were removed.
    pub visitors: Vec<String>,
    /// Events removed from the log.
    pub events: u64,
    /// Memberships removed, current and past.
    pub memberships: u64,
    /// Outbox rows (pending notifications) removed.
    pub outbox: u64,
}

impl Erased {
    /// Adds up what several shards removed.
    pub fn merge(parts: impl IntoIterator<Item = Erased>) -> Erased {
        parts.into_iter().fold(Erased::default(), |mut all, p| {
            all.visitors.extend(p.visitors);
            all.events += p.events;
            all.memberships += p.memberships;
            all.outbox += p.outbox;
            all
        })
    }
}

/// The audience named `name` in `rules`: a tier (the fallback included) first, else a segment.
pub fn resolve(rules: &Rules, name: &str) -> Result<Audience, Error> {
    let kind = if rules.tier_names().any(|t| t == name) {
        Kind::Tier
    } else if rules.config().segments.iter().any(|s| s.name == name) {
        Kind::Segment
    } else {
        return Err(Error::UnknownAudience {
            name: crate::export::shown(name),
            known: audiences_of(rules).into_iter().map(|a| a.name).collect(),
        });
    };
    Ok(Audience {
        name: name.to_owned(),
        kind,
    })
}

/// Every audience of `rules`: tiers in priority order, the fallback, then segments.
pub fn audiences_of(rules: &Rules) -> Vec<Audience> {
    rules
        .tier_names()
        .map(|t| Audience {
            name: t.to_owned(),
            kind: Kind::Tier,
        })
        .chain(rules.config().segments.iter().map(|s| Audience {
            name: s.name.clone(),
            kind: Kind::Segment,
        }))
        .collect()
}

/// Adds up the counts of several shards.
pub fn merge_counts(parts: Vec<AudienceCounts>) -> Option<AudienceCounts> {
    let mut parts = parts.into_iter();
    let mut all = parts.next()?;
    for part in parts {
        all.as_of = all.as_of.max(part.as_of);
        for (a, b) in all.audiences.iter_mut().zip(part.audiences) {
            a.members += b.members;
        }
    }
    Some(all)
}

/// Merges the accounts of several shards (a visitor lives in one shard; an account's visitors
/// may be in several).
pub fn merge_accounts(rules: &Rules, parts: Vec<Accounts>) -> Accounts {
    let mut by_account: BTreeMap<String, AccountSummary> = BTreeMap::new();
    for a in parts.into_iter().flat_map(|p| p.accounts) {
        combine(rules, &mut by_account, a);
    }
    sorted_accounts(rules, by_account)
}

fn tier_rank(rules: &Rules, tier: &str) -> usize {
    rules
        .tier_names()
        .position(|t| t == tier)
        .unwrap_or(usize::MAX)
}

fn combine(rules: &Rules, all: &mut BTreeMap<String, AccountSummary>, a: AccountSummary) {
    match all.get_mut(&a.account) {
        Some(have) => {
            have.visitors += a.visitors;
            have.identified += a.identified;
            have.last_seen = have.last_seen.max(a.last_seen);
            if tier_rank(rules, &a.tier) < tier_rank(rules, &have.tier) {
                have.tier = a.tier;
            }
        }
        None => {
            all.insert(a.account.clone(), a);
        }
    }
}

fn sorted_accounts(rules: &Rules, all: BTreeMap<String, AccountSummary>) -> Accounts {
    let mut accounts: Vec<AccountSummary> = all.into_values().collect();
    accounts.sort_by(|a, b| {
        tier_rank(rules, &a.tier)
            .cmp(&tier_rank(rules, &b.tier))
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.account.cmp(&b.account))
    });
    Accounts { accounts }
}

fn segments_of(text: &str) -> Vec<String> {
    text.split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn member(row: &Row) -> Result<Member, Error> {
    Ok(Member {
        visitor: row.text(0)?.to_owned(),
        since: Timestamp::from_secs(row.int(1)?),
        email: row.opt_text(2)?.map(str::to_owned),
        account: row.opt_text(3)?.map(str::to_owned),
        tier: row.text(4)?.to_owned(),
        segments: segments_of(row.text(5)?),
        score: row.opt_real(6)?,
        last_seen: Timestamp::from_secs(row.int(7)?),
    })
}

/// One line of the event log as `intentctl simulate` reads it,
/// `{"visitor": …, "ts": …, "type": …, …}`, from a stored event's JSON `body`.
pub(crate) fn log_line(visitor: &str, at: i64, body: &str) -> Option<String> {
    let fields = body.strip_prefix('{')?;
    let visitor = serde_json::to_string(visitor).ok()?;
    let ts = Timestamp::from_secs(at);
    Some(format!("{{\"visitor\":{visitor},\"ts\":\"{ts}\",{fields}"))
}

impl<D: Sql> Store<'_, D> {
    /// Every audience of the active rules with its member count, as of `now`.
    pub fn audiences(&self, now: Timestamp) -> Result<AudienceCounts, Error> {
        let rows = self.db.query(
            "SELECT kind, audience, COUNT(*) FROM memberships WHERE left_at IS NULL GROUP BY kind, audience",
            &[],
        )?;
        let mut counts: BTreeMap<(Kind, String), u64> = BTreeMap::new();
        for row in &rows {
            counts.insert(
                (Kind::parse(row.text(0)?)?, row.text(1)?.to_owned()),
                row.int(2)?.max(0) as u64,
            );
        }
        Ok(AudienceCounts {
            as_of: now,
            audiences: audiences_of(self.rules)
                .into_iter()
                .map(|a| AudienceCount {
                    members: counts.get(&(a.kind, a.name.clone())).copied().unwrap_or(0),
                    name: a.name,
                    kind: a.kind,
                })
                .collect(),
        })
    }

    /// One page of the members of the audience `name`, newest entries first. An unknown
    /// audience and a bad cursor are errors naming them.
    pub fn members(&self, name: &str, req: &MembersRequest) -> Result<MembersPage, Error> {
        let audience = resolve(self.rules, name)?;
        let after = match &req.cursor {
            Some(text) => Cursor::decode(text, &audience)?,
            None => Cursor {
                entered: NO_CURSOR,
                visitor: String::new(),
            },
        };
        let limit = req.limit.max(1);
        let rows = self.db.query(
            "SELECT m.visitor, m.entered_at, v.email, v.account, v.tier, v.segments, v.score, v.last_seen
             FROM memberships m JOIN visitors v ON v.id = m.visitor
             WHERE m.kind = ? AND m.audience = ? AND m.left_at IS NULL
               AND (m.entered_at, m.visitor) < (?, ?)
             ORDER BY m.entered_at DESC, m.visitor DESC LIMIT ?",
            &[
                audience.kind.as_str().into(),
                audience.name.as_str().into(),
                after.entered.into(),
                after.visitor.into(),
                (limit as i64 + 1).into(),
            ],
        )?;
        let mut members = rows.iter().map(member).collect::<Result<Vec<_>, _>>()?;
        let more = members.len() > limit;
        members.truncate(limit);
        let next_cursor = if more {
            members.last().map(|m| {
                Cursor {
                    entered: m.since.secs(),
                    visitor: m.visitor.clone(),
                }
                .encode(&audience)
            })
        } else {
            None
        };
        Ok(MembersPage {
            name: audience.name,
            members,
            next_cursor,
        })
    }

    /// Accounts with a visitor seen within `within` seconds before `now`.
    pub fn accounts(&self, within: i64, now: Timestamp) -> Result<Accounts, Error> {
        let rows = self.db.query(
            "SELECT account, tier, COUNT(*), COUNT(email), MAX(last_seen) FROM visitors
             WHERE account IS NOT NULL AND last_seen >= ? GROUP BY account, tier",
            &[(now.secs() - within).into()],
        )?;
        let mut all = BTreeMap::new();
        for row in &rows {
            combine(
                self.rules,
                &mut all,
                AccountSummary {
                    account: row.text(0)?.to_owned(),
                    tier: row.text(1)?.to_owned(),
                    visitors: row.int(2)?.max(0) as u64,
                    identified: row.int(3)?.max(0) as u64,
                    last_seen: Timestamp::from_secs(row.int(4)?),
                },
            );
        }
        Ok(sorted_accounts(self.rules, all))
    }

    /// One visitor: record, memberships, timeline and the explanation of their tier at `now`.
    pub fn visitor(&self, id: &str, now: Timestamp) -> Result<VisitorReport, Error> {
        check_visitor(id)?;
        let rows = self.db.query(
            &format!("SELECT {VISITOR_COLUMNS}, score FROM visitors WHERE id = ?"),
            &[id.into()],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| Error::UnknownVisitor(id.to_owned()))?;
        let state = VisitorState::from_row(row)?;
        let record = VisitorRecord {
            id: state.id.clone(),
            email: state.email.clone(),
            account: state.account.clone(),
            tier: row.text(8)?.to_owned(),
            segments: segments_of(row.text(9)?),
            score: row.opt_real(10)?,
            first_seen: Timestamp::from_secs(state.first_seen),
            last_seen: Timestamp::from_secs(state.last_seen),
        };
        let memberships = self
            .db
            .query(
                "SELECT audience, kind, entered_at, left_at FROM memberships WHERE visitor = ? ORDER BY entered_at DESC, id DESC",
                &[id.into()],
            )?
            .iter()
            .map(|r| {
                Ok(MembershipRecord {
                    audience: r.text(0)?.to_owned(),
                    kind: Kind::parse(r.text(1)?)?,
                    entered: Timestamp::from_secs(r.int(2)?),
                    left: r.opt_int(3)?.map(|t| Timestamp::from_secs(t).to_string()),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let events = self.db.query(
            "SELECT at, body FROM events WHERE visitor = ? ORDER BY at DESC, seq DESC LIMIT ?",
            &[id.into(), (TIMELINE_MAX as i64 + 1).into()],
        )?;
        let timeline_truncated = events.len() > TIMELINE_MAX;
        let mut timeline = Vec::with_capacity(events.len().min(TIMELINE_MAX));
        for row in events.iter().take(TIMELINE_MAX).rev() {
            let mut entry = serde_json::Map::new();
            entry.insert(
                "ts".to_owned(),
                Timestamp::from_secs(row.int(0)?).to_string().into(),
            );
            let body: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(row.text(1)?)
                    .map_err(|e| Error::Corrupt(format!("a logged event: {e}")))?;
            entry.extend(body);
            timeline.push(serde_json::Value::Object(entry));
        }
        let (profile, _) = self.profile_of(&state, now)?;
        Ok(VisitorReport {
            visitor: record,
            memberships,
            timeline,
            timeline_truncated,
            explanation: self.rules.explain(&profile, now),
        })
    }

    /// A page of the event log since `since` seconds before `now`, as JSON Lines in the format
    /// `intentctl simulate` reads; `after` is the previous page's `next`.
    pub fn events(
        &self,
        since: i64,
        now: Timestamp,
        after: Option<i64>,
    ) -> Result<EventsPage, Error> {
        let rows = self.db.query(
            "SELECT seq, visitor, at, body FROM events WHERE at >= ? AND seq > ? ORDER BY seq LIMIT ?",
            &[
                (now.secs() - since).into(),
                after.unwrap_or(0).into(),
                (EVENTS_PAGE as i64 + 1).into(),
            ],
        )?;
        let mut lines = String::with_capacity(rows.len() * 128);
        for row in rows.iter().take(EVENTS_PAGE) {
            let body = row.text(3)?;
            let line = log_line(row.text(1)?, row.int(2)?, body)
                .ok_or_else(|| Error::Corrupt(format!("a logged event: {body}")))?;
            lines.push_str(&line);
            lines.push('\n');
        }
        let next = if rows.len() > EVENTS_PAGE {
            rows.get(EVENTS_PAGE - 1).map(|r| r.int(0)).transpose()?
        } else {
            None
        };
        Ok(EventsPage { lines, next })
    }

    /// Erases a visitor, or everyone with an email: their records, events, memberships and
    /// outbox rows, as one transaction, and leaves a tombstone so that a record of theirs made
    /// before `now` and still in the queue is not stored when it arrives. Answers what was
    /// removed.
    pub fn erase(&self, subject: Subject<'_>, now: Timestamp) -> Result<Erased, Error> {
        let ids: Vec<String> = match subject {
            Subject::Visitor(id) => {
                check_visitor(id)?;
                vec![id.to_owned()]
            }
            Subject::Email(email) => {
                let email =
                    Email::parse(email).map_err(|e| Error::param("email", e.to_string()))?;
                self.db
                    .query(
                        "SELECT id FROM visitors WHERE email = ? UNION SELECT visitor FROM events WHERE email = ?",
                        &[email.as_str().into(), email.as_str().into()],
                    )?
                    .iter()
                    .map(|r| r.text(0).map(str::to_owned))
                    .collect::<Result<_, _>>()?
            }
        };
        self.db.atomic(|| {
            let mut erased = Erased::default();
            for id in &ids {
                let count = |table: &str, column: &str| -> Result<u64, Error> {
                    let rows = self.db.query(
                        &format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?"),
                        &[Value::from(id.as_str())],
                    )?;
                    Ok(rows
                        .first()
                        .map(|r| r.int(0))
                        .transpose()?
                        .unwrap_or(0)
                        .max(0) as u64)
                };
                let found = count("visitors", "id")?;
                let events = count("events", "visitor")?;
                erased.events += events;
                erased.memberships += count("memberships", "visitor")?;
                erased.outbox += count("outbox", "visitor")?;
                for (table, column) in [
                    ("events", "visitor"),
                    ("memberships", "visitor"),
                    ("outbox", "visitor"),
                    ("fired", "visitor"),
                    ("visitors", "id"),
                ] {
                    self.db.run(
                        &format!("DELETE FROM {table} WHERE {column} = ?"),
                        &[id.as_str().into()],
                    )?;
                }
                if found > 0 || events > 0 {
                    erased.visitors.push(id.clone());
                }
                self.db.run(
                    "INSERT INTO erased (visitor, at) VALUES (?, ?) ON CONFLICT (visitor) DO UPDATE SET at = excluded.at",
                    &[id.as_str().into(), now.secs().into()],
                )?;
            }
            Ok(erased)
        })
    }
}
