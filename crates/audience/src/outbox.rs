//! The triggers' outbox: notifications written in the same transaction as the membership change
//! that causes them, handed to the sender in order per visitor and destination and paced per
//! destination, and the sender's reports: delivered, tried again on the retry schedule
//! (`Retry-After` honoured), dead at its end, a destination disabled by `410`. A dead delivery
//! is retried on request.

use std::collections::BTreeMap;

use intent_engine::{Destination, Explanation, Timestamp, Trigger, TriggerEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::decode_profile;
use crate::delivery::{Outcome, Pace, RateLimit, RetrySchedule};
use crate::error::Error;
use crate::send::{AuditDigest, Notification, VisitorSnapshot};
use crate::sql::{Row, RowExt, Sql};
use crate::store::{Audience, Cause, Change, Kind, Store};

/// How long a delivery handed to the sender stays with it: with no report by then (the sender
/// died), it is handed out again. Its id stays the same, so receivers see a duplicate at worst.
pub const LEASE_SECS: i64 = 600;

/// Deliveries a listing answers at most.
pub const DELIVERIES_LISTED: usize = 500;

/// One notification to one destination, as the store hands it to the sender (the queue
/// message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The stable id, the `webhook-id`.
    pub id: String,
    /// The destination's name in the rules.
    pub destination: String,
    /// Its type (`webhook`, `slack`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Which attempt this is (1 for the first); the report names it.
    pub attempt: u32,
    /// Seconds to wait before sending, so that the destination's rate limit holds.
    pub delay_secs: u32,
    /// What to send.
    pub notification: Notification,
}

/// A delivery as the admin API lists it (and the worker reads it back from a store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    /// The stable id.
    pub id: String,
    /// The destination's name.
    pub destination: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `audience.entered`, `audience.left` or `visitor.identified`.
    pub event: String,
    /// `pending`, `delivered`, `failed`, `dead` or `skipped`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The latest answer's HTTP status.
    pub last_status: Option<u16>,
    /// When it is next tried, RFC 3339; `null` when finished.
    pub next_attempt_at: Option<String>,
    /// The visitor's id.
    pub visitor: String,
    /// When the change happened, RFC 3339.
    pub created_at: String,
    /// What went wrong last, or why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer of `GET /v1/admin/deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deliveries {
    /// Newest first.
    pub deliveries: Vec<DeliveryStatus>,
    /// Destinations a `410` disabled: name → why.
    pub disabled: BTreeMap<String, String>,
}

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reported {
    /// Delivered.
    Delivered,
    /// To be tried again at this time.
    Retrying {
        /// When, seconds since the epoch.
        at: i64,
    },
    /// Dead: the schedule ran out.
    Dead,
    /// Dead, and the destination is disabled (it answered `410`).
    Disabled,
    /// Nothing: a report of an attempt already reported, or of a delivery since erased.
    Ignored,
}

/// The statuses a listing can ask for.
const STATUSES: [&str; 5] = ["pending", "delivered", "failed", "dead", "skipped"];

const OUTBOX_COLUMNS: &str = "id, destination, type, event, status, attempts, last_status, next_attempt_at, visitor, created_at, error, payload, round_from";

struct OutboxRow {
    status: DeliveryStatus,
    payload: String,
    round_from: u32,
}

impl OutboxRow {
    fn from_row(row: &Row) -> Result<OutboxRow, Error> {
        let time = |t: Option<i64>| t.map(|t| Timestamp::from_secs(t).to_string());
        Ok(OutboxRow {
            status: DeliveryStatus {
                id: row.text(0)?.to_owned(),
                destination: row.text(1)?.to_owned(),
                kind: row.text(2)?.to_owned(),
                event: row.text(3)?.to_owned(),
                status: row.text(4)?.to_owned(),
                attempts: u32::try_from(row.int(5)?).unwrap_or(0),
                last_status: row.opt_int(6)?.and_then(|s| u16::try_from(s).ok()),
                next_attempt_at: time(row.opt_int(7)?),
                visitor: row.text(8)?.to_owned(),
                created_at: time(Some(row.int(9)?)).unwrap_or_default(),
                error: row.opt_text(10)?.map(str::to_owned),
            },
            payload: row.text(11)?.to_owned(),
            round_from: u32::try_from(row.int(12)?).unwrap_or(0),
        })
    }
}

/// The stable id of the notification of one change to one destination: the same change
/// (visitor, trigger, audience, time) always gets the same id, so it is written once.
fn delivery_id(visitor: &str, trigger: &str, at: i64, destination: &str) -> String {
    let mut h = Sha256::new();
    for part in [visitor, trigger, &at.to_string(), destination] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let mut id = String::from("msg_");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// The start of the week (Monday 00:00 UTC) holding `secs`: the epoch was a Thursday.
fn week_start(secs: i64) -> i64 {
    const DAY: i64 = 86_400;
    secs - (secs - 4 * DAY).rem_euclid(7 * DAY)
}

/// The top line of why a visitor is in (or left) an audience: the condition that decided,
/// with what was seen.
fn why(explanation: &Explanation, audience: &Audience, entered: bool) -> Option<String> {
    let checks = match audience.kind {
        Kind::Tier => &explanation.tiers,
        Kind::Segment => &explanation.segments,
    };
    let rule = checks.iter().find(|c| c.name == audience.name)?;
    let Some(check) = &rule.check else {
        return Some(if entered {
            "no higher tier matched".to_owned()
        } else {
            format!("now in tier {}", explanation.tier)
        });
    };
    // The deepest condition that decided: for `any`, the first that held; for `all` when it
    // failed, the first that failed.
    let mut c = check;
    loop {
        let next = c.children.iter().find(|k| k.held == c.held);
        match next {
            Some(k) if k.children.is_empty() || k.seen.is_some() => {
                c = k;
                break;
            }
            Some(k) => c = k,
            None => break,
        }
    }
    let line = match &c.seen {
        Some(seen) => format!("{} (seen: {seen})", c.text),
        None => c.text.clone(),
    };
    Some(if entered {
        line
    } else if !check.held {
        format!("no longer {line}")
    } else {
        format!("now in tier {}", explanation.tier)
    })
}

impl<D: Sql> Store<'_, D> {
    /// Fires a new rules publish's backfill's triggers too (a switch of the publish call):
    /// by default a backfill notifies nobody.
    pub fn fire_on_backfill(&self) -> Result<(), Error> {
        self.db
            .atomic(|| self.set_meta("backfill_fires", self.rules.id()))
    }

    /// Writes the outbox rows of `changes` (within the caller's transaction). Returns how many.
    pub(crate) fn notify(&self, changes: &[Change], now: Timestamp) -> Result<usize, Error> {
        if !self.rules.has_triggers() || changes.is_empty() {
            return Ok(0);
        }
        let backfill_fires = self.meta("backfill_fires")?.as_deref() == Some(self.rules.id());
        let mut snapshots: BTreeMap<String, (VisitorSnapshot, Option<Explanation>)> =
            BTreeMap::new();
        let mut written = 0;
        for change in changes {
            let (when, visitor, audience, at) = match change {
                Change::Entered {
                    visitor,
                    audience,
                    at,
                    cause,
                }
                | Change::Left {
                    visitor,
                    audience,
                    at,
                    cause,
                } => {
                    if *cause == Cause::Backfill && !backfill_fires {
                        continue;
                    }
                    let when = match change {
                        Change::Entered { .. } => TriggerEvent::Entered,
                        _ => TriggerEvent::Left,
                    };
                    (when, visitor, Some(audience), *at)
                }
                Change::Identified { visitor, at, .. } => {
                    (TriggerEvent::Identified, visitor, None, *at)
                }
            };
            let triggers: Vec<&Trigger> = self
                .rules
                .triggers_for(when, audience.map(|a| a.name.as_str()))
                .map(|(_, t)| t)
                .collect();
            for trigger in triggers {
                if !self.allowed(visitor, trigger, now)? {
                    continue;
                }
                if !snapshots.contains_key(visitor) {
                    let snap = self.snapshot(visitor, now)?;
                    snapshots.insert(visitor.clone(), snap);
                }
                let Some((snapshot, explanation)) = snapshots.get(visitor) else {
                    continue;
                };
                let key = trigger.key();
                let notification = |id: String| Notification {
                    kind: when.notification_type().to_owned(),
                    id,
                    timestamp: at.to_string(),
                    rules: self.rules.id().to_owned(),
                    audience: audience.cloned(),
                    visitor: Some(snapshot.clone()),
                    why: match (explanation, audience) {
                        (Some(e), Some(a)) => why(e, a, when == TriggerEvent::Entered),
                        _ => None,
                    },
                    audit: None,
                };
                for name in &trigger.to {
                    let Some(destination) = self.rules.config().destinations.get(name) else {
                        continue;
                    };
                    let id = delivery_id(visitor, &key, at.secs(), name);
                    written += self.write(&notification(id), name, destination, now)?;
                }
            }
        }
        Ok(written)
    }

    /// Writes the weekly audit's notification to each destination an `audit.weekly` trigger
    /// names, once per week: its id is the week's (the Monday 00:00 UTC on or before `at`), so
    /// a cron run delivered again, or a second run in the same week, writes nothing. Audit
    /// rows belong to no visitor (an empty `visitor`). Returns how many were written.
    pub fn notify_audit(&self, digest: &AuditDigest, at: Timestamp) -> Result<usize, Error> {
        let key = TriggerEvent::AuditWeekly.as_str();
        let week = week_start(at.secs());
        self.db.atomic(|| {
            let mut written = 0;
            for (_, trigger) in self.rules.triggers_for(TriggerEvent::AuditWeekly, None) {
                for name in &trigger.to {
                    let Some(destination) = self.rules.config().destinations.get(name) else {
                        continue;
                    };
                    let n = Notification {
                        kind: TriggerEvent::AuditWeekly.notification_type().to_owned(),
                        id: delivery_id("", key, week, name),
                        timestamp: at.to_string(),
                        rules: self.rules.id().to_owned(),
                        audience: None,
                        visitor: None,
                        why: None,
                        audit: Some(digest.clone()),
                    };
                    written += self.write(&n, name, destination, at)?;
                }
            }
            Ok(written)
        })
    }

    /// Whether `trigger`'s `at_most` lets it notify `visitor` at `now`; records it if so.
    fn allowed(&self, visitor: &str, trigger: &Trigger, now: Timestamp) -> Result<bool, Error> {
        let key = trigger.key();
        if let Some(limit) = trigger.at_most {
            let since = now
                .secs()
                .saturating_sub(i64::try_from(limit.per.secs()).unwrap_or(i64::MAX));
            let rows = self.db.query(
                "SELECT at FROM fired WHERE visitor = ? AND trigger = ? AND at > ?",
                &[visitor.into(), key.as_str().into(), since.into()],
            )?;
            let earlier: Vec<i64> = rows.iter().map(|r| r.int(0)).collect::<Result<_, _>>()?;
            if !limit.allows(earlier, now.secs()) {
                return Ok(false);
            }
        }
        self.db.run(
            "INSERT INTO fired (visitor, trigger, at) VALUES (?, ?, ?)",
            &[visitor.into(), key.as_str().into(), now.secs().into()],
        )?;
        Ok(true)
    }

    /// The visitor as the change left them, and their explanation now.
    fn snapshot(
        &self,
        visitor: &str,
        now: Timestamp,
    ) -> Result<(VisitorSnapshot, Option<Explanation>), Error> {
        let rows = self.db.query(
            "SELECT email, account, tier, segments, score, last_seen, profile FROM visitors WHERE id = ?",
            &[visitor.into()],
        )?;
        let row = rows.first().ok_or_else(|| {
            Error::Corrupt(format!(
                "a change of visitor `{visitor}`, who is not stored"
            ))
        })?;
        let explanation = row
            .opt_text(6)?
            .and_then(|p| decode_profile(self.rules, p, now).ok())
            .map(|p| self.rules.explain(&p, now));
        Ok((
            VisitorSnapshot {
                id: visitor.to_owned(),
                email: row.opt_text(0)?.map(str::to_owned),
                account: row.opt_text(1)?.map(str::to_owned),
                tier: row.text(2)?.to_owned(),
                segments: row
                    .text(3)?
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                score: row.opt_real(4)?,
                last_seen: Timestamp::from_secs(row.int(5)?).to_string(),
            },
            explanation,
        ))
    }

    /// Writes one outbox row, once: a CRM and a visitor without email is `skipped`, with why.
    fn write(
        &self,
        n: &Notification,
        name: &str,
        destination: &Destination,
        now: Timestamp,
    ) -> Result<usize, Error> {
        let visitor = n.visitor.as_ref();
        let skipped =
            destination.needs_identity() && visitor.and_then(|v| v.email.as_ref()).is_none();
        let (status, error, next): (&str, Option<String>, Option<i64>) = if skipped {
            (
                "skipped",
                Some(format!(
                    "the visitor has not identified: {} takes identified visitors only",
                    destination.type_name()
                )),
                None,
            )
        } else {
            ("pending", None, Some(now.secs()))
        };
        let payload =
            serde_json::to_string(n).map_err(|e| Error::Corrupt(format!("a notification: {e}")))?;
        let rows = self.db.query(
            "INSERT INTO outbox (id, visitor, destination, type, event, created_at, payload, status, error, next_attempt_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq",
            &[
                n.id.as_str().into(),
                visitor.map_or("", |v| v.id.as_str()).into(),
                name.into(),
                destination.type_name().into(),
                n.kind.as_str().into(),
                now.secs().into(),
                payload.into(),
                status.into(),
                error.into(),
                next.into(),
            ],
        )?;
        Ok(rows.len())
    }

    /// Hands out up to `limit` deliveries due at `now`: for each visitor and destination only the
    /// oldest unfinished one (per-visitor order), none to a disabled destination, each paced by
    /// its destination's rate limit. Each is leased for [`LEASE_SECS`] past its send time.
    pub fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<Delivery>, Error> {
        self.db.atomic(|| {
            let rows = self.db.query(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox o {UNBLOCKED} AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.seq LIMIT ?"),
                &[now.secs().into(), (limit.max(1) as i64).into()],
            )?;
            let mut paces: BTreeMap<String, Pace> = BTreeMap::new();
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let r = OutboxRow::from_row(row)?;
                let mut send_at = now.secs();
                if let Some(limit) = RateLimit::of(&r.status.kind) {
                    if !paces.contains_key(&r.status.destination) {
                        let pace = self.pace(&r.status.destination)?;
                        paces.insert(r.status.destination.clone(), pace);
                    }
                    if let Some(pace) = paces.get_mut(&r.status.destination) {
                        send_at = pace.book(limit, now.secs());
                    }
                }
                self.db.run(
                    "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                    &[(send_at + LEASE_SECS).into(), r.status.id.as_str().into()],
                )?;
                let notification: Notification = serde_json::from_str(&r.payload)
                    .map_err(|e| Error::Corrupt(format!("an outbox payload: {e}")))?;
                out.push(Delivery {
                    id: r.status.id,
                    destination: r.status.destination,
                    kind: r.status.kind,
                    attempt: r.status.attempts + 1,
                    delay_secs: u32::try_from(send_at - now.secs()).unwrap_or(0),
                    notification,
                });
            }
            for (name, pace) in paces {
                let text = serde_json::to_string(&pace)
                    .map_err(|e| Error::Corrupt(format!("a pace: {e}")))?;
                self.db.run(
                    "INSERT INTO destinations (name, pace) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET pace = excluded.pace",
                    &[name.as_str().into(), text.into()],
                )?;
            }
            Ok(out)
        })
    }

    /// When a delivery is next due (for the object's alarm), if any is.
    pub fn next_delivery(&self) -> Result<Option<Timestamp>, Error> {
        let rows = self.db.query(
            &format!("SELECT o.next_attempt_at FROM outbox o {UNBLOCKED} ORDER BY o.next_attempt_at LIMIT 1"),
            &[],
        )?;
        Ok(match rows.first() {
            Some(row) => row.opt_int(0)?.map(Timestamp::from_secs),
            None => None,
        })
    }

    fn pace(&self, destination: &str) -> Result<Pace, Error> {
        let rows = self.db.query(
            "SELECT pace FROM destinations WHERE name = ?",
            &[destination.into()],
        )?;
        Ok(match rows.first() {
            Some(row) => row
                .opt_text(0)?
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
            None => Pace::default(),
        })
    }

    fn outbox_row(&self, id: &str) -> Result<Option<OutboxRow>, Error> {
        let rows = self.db.query(
            &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?"),
            &[id.into()],
        )?;
        rows.first().map(OutboxRow::from_row).transpose()
    }

    /// Records what attempt `attempt` of delivery `id` came to. A report of an attempt
    /// already reported, or of a delivery since erased, changes nothing.
    pub fn report(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Outcome,
        now: Timestamp,
        schedule: &RetrySchedule,
    ) -> Result<Reported, Error> {
        self.db.atomic(|| {
            let Some(row) = self.outbox_row(id)? else {
                return Ok(Reported::Ignored);
            };
            let s = &row.status;
            let open = s.status == "pending" || s.status == "failed";
            if !open || attempt <= s.attempts || attempt == 0 {
                return Ok(Reported::Ignored);
            }
            let (status, last_status, error, next, reported) = match outcome {
                Outcome::Delivered { status } => {
                    ("delivered", Some(*status), None, None, Reported::Delivered)
                }
                Outcome::Failed {
                    status: Some(410),
                    error,
                    ..
                } => {
                    let reason = format!("{error}: the destination is gone, so it is disabled");
                    self.db.run(
                        "INSERT INTO destinations (name, disabled_at, reason) VALUES (?, ?, ?)
                         ON CONFLICT (name) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason",
                        &[s.destination.as_str().into(), now.secs().into(), reason.as_str().into()],
                    )?;
                    ("dead", Some(410), Some(reason), None, Reported::Disabled)
                }
                Outcome::Failed {
                    status,
                    retry_after,
                    error,
                } => match schedule.wait_after(attempt.saturating_sub(row.round_from), *retry_after) {
                    Some(wait) => {
                        let at = now.secs() + i64::try_from(wait).unwrap_or(i64::MAX / 2);
                        ("failed", *status, Some(error.clone()), Some(at), Reported::Retrying { at })
                    }
                    None => ("dead", *status, Some(error.clone()), None, Reported::Dead),
                },
            };
            self.db.run(
                "UPDATE outbox SET status = ?, attempts = ?, last_status = ?, error = ?, next_attempt_at = ? WHERE id = ?",
                &[
                    status.into(),
                    i64::from(attempt).into(),
                    last_status.map(i64::from).into(),
                    error.into(),
                    next.into(),
                    id.into(),
                ],
            )?;
            Ok(reported)
        })
    }

    /// Tries a `dead` or `failed` delivery again now, the retry schedule restarting, and
    /// enables its destination again if a `410` disabled it. Answers the delivery.
    pub fn retry(&self, id: &str, now: Timestamp) -> Result<DeliveryStatus, Error> {
        self.db.atomic(|| {
            let row = self
                .outbox_row(id)?
                .ok_or_else(|| Error::UnknownDelivery(id.chars().take(100).collect()))?;
            if row.status.status != "dead" && row.status.status != "failed" {
                return Err(Error::param(
                    "id",
                    format!(
                        "delivery `{id}` is {}; only a dead or failed delivery is retried",
                        row.status.status
                    ),
                ));
            }
            self.db.run(
                "UPDATE outbox SET status = 'pending', round_from = attempts, next_attempt_at = ? WHERE id = ?",
                &[now.secs().into(), id.into()],
            )?;
            self.db.run(
                "UPDATE destinations SET disabled_at = NULL, reason = NULL WHERE name = ?",
                &[row.status.destination.as_str().into()],
            )?;
            Ok(self
                .outbox_row(id)?
                .map(|r| r.status)
                .unwrap_or(row.status))
        })
    }

    /// The deliveries, newest first, with `status` (`pending`, `delivered`, `failed`, `dead`,
    /// `skipped`) or all, at most `limit` (1 to [`DELIVERIES_LISTED`]).
    pub fn deliveries(&self, status: Option<&str>, limit: usize) -> Result<Deliveries, Error> {
        let limit = limit.clamp(1, DELIVERIES_LISTED) as i64;
        let rows = match status.filter(|s| !s.is_empty()) {
            Some(s) if STATUSES.contains(&s) => self.db.query(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = ? ORDER BY seq DESC LIMIT ?"),
                &[s.into(), limit.into()],
            )?,
            Some(s) => {
                return Err(Error::param(
                    "status",
                    format!(
                        "`{}` is not one of {}",
                        s.chars().take(40).collect::<String>(),
                        STATUSES.join(", ")
                    ),
                ))
            }
            None => self.db.query(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY seq DESC LIMIT ?"),
                &[limit.into()],
            )?,
        };
        let deliveries = rows
            .iter()
            .map(|r| OutboxRow::from_row(r).map(|r| r.status))
            .collect::<Result<_, _>>()?;
        let disabled = self
            .db
            .query(
                "SELECT name, reason FROM destinations WHERE disabled_at IS NOT NULL ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok((
                    r.text(0)?.to_owned(),
                    r.opt_text(1)?.unwrap_or_default().to_owned(),
                ))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Deliveries {
            deliveries,
            disabled,
        })
    }
}

/// The unfinished rows that may be handed out once due: the oldest unfinished of their visitor
/// and destination, their destination not disabled.
const UNBLOCKED: &str = "WHERE o.next_attempt_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.visitor = o.visitor AND p.destination = o.destination
                    AND p.seq < o.seq AND p.next_attempt_at IS NOT NULL)
    AND o.destination NOT IN (SELECT name FROM destinations WHERE disabled_at IS NOT NULL)";
