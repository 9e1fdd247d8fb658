//! Ingesting one site's batch from the queue: the events appended to the log (once each, however
//! often the batch is delivered), the visitors upserted with their latest profile and identity,
//! their audiences recomputed.

use std::collections::{BTreeMap, HashMap, HashSet};

use intent_engine::{account_of, Email, Event, FreshReason, LogEvent, Timestamp, COMPANY_DOMAIN};
use serde::Serialize;

use crate::codec::decode_profile;
use crate::error::Error;
use crate::ids::{check_event, check_visitor};
use crate::record::{event_json, Record};
use crate::sql::{RowExt, Sql, Value, MAX_PARAMS};
use crate::store::{Cause, Change, Store, VisitorState, Writes, PURGE_EVERY_SECS, VISITOR_COLUMNS};

/// What one call to [`Store::ingest`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    /// Events appended to the log.
    pub events: usize,
    /// Events already in the log (a redelivered batch), left as they were.
    pub duplicates: usize,
    /// Visitors whose record was written.
    pub visitors: usize,
    /// Memberships entered and left, and new identities, in the order they were made.
    pub changes: Vec<Change>,
    /// Records and events that could not be used, each with why; the rest of the batch was.
    pub rejected: Vec<Rejected>,
    /// Notifications the triggers wrote to the outbox for these changes.
    pub notifications: usize,
    /// When the object's alarm should next fire.
    #[serde(serialize_with = "opt_rfc3339")]
    pub next_alarm: Option<Timestamp>,
}

fn opt_rfc3339<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

/// A record or event of a batch that was left out: retrying it would not help, so the batch is
/// not failed for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// The record's place in the batch.
    pub record: usize,
    /// The event's id, when one event was left out rather than the whole record.
    pub event: Option<String>,
    /// Why.
    pub reason: String,
}

/// An event of the batch, checked and sanitised.
struct Incoming<'b> {
    id: &'b str,
    visitor: &'b str,
    at: i64,
    body: String,
    email: Option<Email>,
    identify: bool,
}

/// Rows per multi-row insert of events: five parameters each, within [`MAX_PARAMS`].
const EVENT_ROWS_PER_INSERT: usize = MAX_PARAMS / 5;

impl<D: Sql> Store<'_, D> {
    /// Ingests one site's batch, as the queue consumer hands it over: appends each new event to
    /// the log, upserts each visitor with their latest profile and identity, recomputes their
    /// audiences at `now`, sets when they are next re-checked, and writes the notifications the
    /// rules' triggers send for the changes to the outbox. One transaction: all of it or
    /// nothing. A redelivered batch counts nothing twice.
    pub fn ingest(&self, batch: &[Record], now: Timestamp) -> Result<Ingested, Error> {
        self.ingest_and(batch, now, |_| Ok(()))
    }

    /// [`Store::ingest`], then `after` with what it did, in the same transaction. (The
    /// triggers' outbox rows are written by the ingest itself, in that transaction.)
    pub fn ingest_and(
        &self,
        batch: &[Record],
        now: Timestamp,
        after: impl FnOnce(&Ingested) -> Result<(), Error>,
    ) -> Result<Ingested, Error> {
        self.db.atomic(|| {
            let out = self.ingest_in(batch, now)?;
            after(&out)?;
            Ok(out)
        })
    }

    fn ingest_in(&self, batch: &[Record], now: Timestamp) -> Result<Ingested, Error> {
        self.sync_rules()?;
        if self.meta("purge_at")?.is_none() {
            self.set_meta("purge_at", &(now.secs() + PURGE_EVERY_SECS).to_string())?;
        }
        let mut rejected = Vec::new();
        let mut incoming = Vec::new();
        let mut records: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        let erased = self.tombstones(batch)?;
        for (i, record) in batch.iter().enumerate() {
            let checked = check_visitor(&record.visitor)
                .map_err(|e| e.to_string())
                .and_then(|()| check_time(record.at, now))
                .and_then(|()| match erased.get(record.visitor.as_str()) {
                    Some(&t) if record.at <= t => Err(format!(
                        "the visitor was erased at {}; what they did before is not stored",
                        Timestamp::from_secs(t)
                    )),
                    _ => Ok(()),
                });
            if let Err(reason) = checked {
                rejected.push(Rejected {
                    record: i,
                    event: None,
                    reason,
                });
                continue;
            }
            records.entry(&record.visitor).or_default().push(record);
            for logged in &record.events {
                match read_event(record, &logged.id, &logged.event) {
                    Ok(e) => incoming.push(e),
                    Err(reason) => rejected.push(Rejected {
                        record: i,
                        event: Some(logged.id.chars().take(100).collect()),
                        reason,
                    }),
                }
            }
        }
        let stored = self.append(&incoming)?;
        let mut new: BTreeMap<&str, Vec<&Incoming>> = BTreeMap::new();
        for e in incoming.iter().filter(|e| stored.contains(e.id)) {
            new.entry(e.visitor).or_default().push(e);
        }
        let mut existing = self.load(records.keys().copied())?;
        let mut changes = Vec::new();
        let mut visitors = 0;
        let mut writes = Writes::new(now);
        for (visitor, mut calls) in records {
            calls.sort_by_key(|r| r.order());
            let new = new.remove(visitor).unwrap_or_default();
            let found = existing.remove(visitor);
            if self.visit(visitor, found, &calls, &new, now, &mut changes, &mut writes)? {
                visitors += 1;
            }
        }
        self.flush(&mut writes)?;
        let notifications = self.notify(&changes, now)?;
        Ok(Ingested {
            events: stored.len(),
            duplicates: incoming.len() - stored.len(),
            visitors,
            changes,
            rejected,
            notifications,
            next_alarm: self.next_alarm(now)?,
        })
    }

    /// When the batch's visitors were erased, for those who were.
    fn tombstones<'b>(&self, batch: &'b [Record]) -> Result<HashMap<&'b str, i64>, Error> {
        let ids: Vec<&str> = batch
            .iter()
            .map(|r| r.visitor.as_str())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut found = HashMap::new();
        for chunk in ids.chunks(MAX_PARAMS) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let params: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
            for row in self.db.query(
                &format!("SELECT visitor, at FROM erased WHERE visitor IN ({marks})"),
                &params,
            )? {
                let (visitor, at) = (row.text(0)?, row.int(1)?);
                if let Some(id) = chunk.iter().find(|id| **id == visitor) {
                    found.insert(*id, at);
                }
            }
        }
        Ok(found)
    }

    /// Appends the events not yet in the log; returns the ids of those it appended.
    fn append<'b>(&self, events: &[Incoming<'b>]) -> Result<HashSet<&'b str>, Error> {
        let mut stored = HashSet::with_capacity(events.len());
        for chunk in events.chunks(EVENT_ROWS_PER_INSERT) {
            let mut sql = String::from("INSERT INTO events (id, visitor, at, body, email) VALUES ");
            let mut params = Vec::with_capacity(chunk.len() * 5);
            for (i, e) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 {
                    "(?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?)"
                });
                params.extend([
                    Value::from(e.id),
                    e.visitor.into(),
                    e.at.into(),
                    e.body.as_str().into(),
                    e.email.as_ref().map(|m| m.as_str()).into(),
                ]);
            }
            sql.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
            for row in self.db.query(&sql, &params)? {
                let id = row.text(0)?;
                if let Some(e) = chunk.iter().find(|e| e.id == id) {
                    stored.insert(e.id);
                }
            }
        }
        Ok(stored)
    }

    /// The stored visitors among `ids`, read a hundred at a time.
    fn load<'i>(
        &self,
        ids: impl Iterator<Item = &'i str>,
    ) -> Result<HashMap<String, VisitorState>, Error> {
        let ids: Vec<&str> = ids.collect();
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_PARAMS) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let params: Vec<Value> = chunk.iter().map(|id| Value::from(*id)).collect();
            for row in self.db.query(
                &format!("SELECT {VISITOR_COLUMNS} FROM visitors WHERE id IN ({marks})"),
                &params,
            )? {
                let v = VisitorState::from_row(&row)?;
                found.insert(v.id.clone(), v);
            }
        }
        Ok(found)
    }

    /// Updates one visitor (`existing`, when stored) from their calls in the batch (oldest
    /// first) and their events that were new to the log. Returns whether the visitor was
    /// written.
    // The visitor's share of the batch in, the pass's changes and writes out.
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &self,
        visitor: &str,
        existing: Option<VisitorState>,
        calls: &[&Record],
        new: &[&Incoming],
        now: Timestamp,
        changes: &mut Vec<Change>,
        writes: &mut Writes,
    ) -> Result<bool, Error> {
        let latest = calls.iter().rev().find(|r| r.profile.is_some());
        // A profile from a later call is news (calls ordered to the millisecond when the edge
        // says it); one from a call at the same moment is news unless it is the very one stored
        // (a redelivery). A call older than the stored profile's, retried late, is not.
        let newer_profile = latest.is_some_and(|r| match &existing {
            Some(v) => v.profile_at.is_none_or(|at| {
                r.order() > at || (r.order() == at && r.profile.as_deref() != v.profile.as_deref())
            }),
            None => true,
        });
        if new.is_empty() && !newer_profile && existing.is_some() {
            // A redelivery: nothing this batch says is news.
            return Ok(false);
        }
        let first = calls.first().map_or(now.secs(), |r| r.at);
        let last = calls.last().map_or(now.secs(), |r| r.at);
        let mut v = existing.unwrap_or_else(|| VisitorState {
            id: visitor.to_owned(),
            email: None,
            account: None,
            profile: None,
            profile_at: None,
            rebuilt: false,
            first_seen: first,
            last_seen: last,
            audiences: Vec::new(),
        });
        v.first_seen = v.first_seen.min(first);
        v.last_seen = v.last_seen.max(last);
        if new.iter().any(|e| e.identify) {
            self.identify(&mut v, now, changes)?;
        }
        let profile = match latest.filter(|_| newer_profile) {
            Some(record) => {
                v.profile_at = Some(record.order());
                let text = record.profile.as_deref().unwrap_or_default();
                match decode_profile(self.rules, text, now) {
                    Ok(p) => {
                        v.rebuilt = false;
                        p
                    }
                    Err(FreshReason::Expired) => {
                        v.rebuilt = false;
                        intent_engine::Profile::new(self.rules)
                    }
                    // Made under a shape the store's rules do not know (the edge's rules are a
                    // moment ahead of the store's), or unreadable: the log has the events. One
                    // made under an earlier shape of the store's rules was carried over.
                    Err(_) => {
                        v.rebuilt = true;
                        self.rebuild(visitor, now)?
                    }
                }
            }
            // No profile from the edge newer than the one stored. The edge's profile includes
            // every earlier call of the visitor's (the token passes from call to call); one
            // rebuilt from the log, or none at all, is rebuilt with the new events.
            None if v.rebuilt || v.profile.is_none() || latest.is_none() => {
                v.rebuilt = true;
                let last = calls.last().map_or(now.secs() * 1000, |r| r.order());
                v.profile_at = Some(v.profile_at.unwrap_or(last).max(last));
                self.rebuild(visitor, now)?
            }
            None => {
                let (p, rebuilt) = self.profile_of(&v, now)?;
                v.rebuilt = rebuilt;
                p
            }
        };
        self.evaluate(&v, &profile, now, Cause::Event, changes, writes);
        Ok(true)
    }
}

impl<D: Sql> Store<'_, D> {
    /// Sets the visitor's identity from every identify event of theirs in the log, in time
    /// order (ties by event id), so that the result does not depend on the order batches
    /// arrive in: the email of the latest identify that gives one, and the account named by the
    /// latest identify that names one (its company domain, else its email's domain unless a
    /// free-mail one). A new email is a [`Change::Identified`].
    fn identify(
        &self,
        v: &mut VisitorState,
        now: Timestamp,
        changes: &mut Vec<Change>,
    ) -> Result<(), Error> {
        let rows = self.db.query(
            "SELECT at, body FROM events WHERE visitor = ? AND body LIKE '{\"type\":\"identify\"%' ORDER BY at, id",
            &[v.id.as_str().into()],
        )?;
        let (mut email, mut account, mut at) = (None, None, now);
        for row in &rows {
            let event: Event<'_> = serde_json::from_str(row.text(1)?)
                .map_err(|e| Error::Corrupt(format!("a logged event: {e}")))?;
            let Event::Identify { email: e, traits } = event else {
                continue;
            };
            let e = e.as_deref().and_then(|e| Email::parse(e).ok());
            let domain = traits.get(COMPANY_DOMAIN).map(|d| d.as_text());
            if let Some(named) = account_of(e.as_ref(), domain.as_deref()) {
                account = Some(named);
            }
            if let Some(e) = e {
                email = Some(e.as_str().to_owned());
                at = Timestamp::from_secs(row.int(0)?);
            }
        }
        if let Some(email) = email.as_ref().filter(|e| v.email.as_ref() != Some(*e)) {
            changes.push(Change::Identified {
                visitor: v.id.clone(),
                email: email.clone(),
                account: account.clone(),
                at,
            });
        }
        v.email = email.or(v.email.take());
        v.account = account.or(v.account.take());
        Ok(())
    }
}

/// Clock skew between the edge and the store beyond which a record's time is refused.
const MAX_AHEAD_SECS: i64 = 86_400;

/// Checks a record's time: after the epoch, and not more than a day ahead of the store's clock
/// (a record from the future would keep its visitor past every retention run).
fn check_time(at: i64, now: Timestamp) -> Result<(), String> {
    if at <= 0 || at > now.secs() + MAX_AHEAD_SECS {
        return Err(format!(
            "`at`: {at} is not a time up to a day ahead of the store's clock ({})",
            now.secs()
        ));
    }
    Ok(())
}

/// Reads, checks and sanitises one event of a record.
fn read_event<'b>(record: &'b Record, id: &'b str, json: &str) -> Result<Incoming<'b>, String> {
    check_event(id).map_err(|e| e.to_string())?;
    let event: Event<'_> =
        serde_json::from_str(json).map_err(|e| format!("`event`: not an event: {e}"))?;
    // Sanitised again, whatever the producer did: the log holds nothing else.
    let event = event.sanitized();
    let body = event_json(&event);
    // Only what the event log's readers read back is stored: `intentctl simulate` reads the
    // export line by line with this parser.
    let line = crate::query::log_line(&record.visitor, record.at, &body)
        .ok_or_else(|| "`event`: not an object".to_owned())?;
    if let Err(e) = LogEvent::parse(&line, 1) {
        return Err(format!("`event`: {}", e.message));
    }
    let (identify, email) = match &event {
        Event::Identify { email, .. } => {
            (true, email.as_deref().and_then(|e| Email::parse(e).ok()))
        }
        _ => (false, None),
    };
    Ok(Incoming {
        id,
        visitor: &record.visitor,
        at: record.at,
        body,
        email,
        identify,
    })
}
