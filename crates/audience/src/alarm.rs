//! The object's alarm: a chunk of a backfill after new rules, the visitors whose windows lapsed,
//! and retention.

use intent_engine::Timestamp;
use serde::Serialize;

use crate::error::Error;
use crate::sql::{RowExt, Sql};
use crate::store::{
    Cause, Change, Store, VisitorState, Writes, PURGE_EVERY_SECS, TOMBSTONE_DAYS, VISITOR_COLUMNS,
};

/// What one alarm did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarmed {
    /// Memberships left (and entered) because windows lapsed or rules changed.
    pub changes: Vec<Change>,
    /// Visitors re-checked because a window lapsed.
    pub rechecked: usize,
    /// Visitors recomputed by the backfill in this alarm.
    pub backfilled: usize,
    /// Whether a backfill is still under way after this alarm.
    pub backfilling: bool,
    /// What retention removed, when it ran.
    pub purged: Option<Purged>,
    /// Notifications the triggers wrote to the outbox for these changes (none for a backfill's
    /// unless [`Store::fire_on_backfill`] asked).
    pub notifications: usize,
    /// When the alarm should next fire.
    #[serde(skip)]
    pub next_alarm: Option<Timestamp>,
}

/// What retention removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Events older than the retention period.
    pub events: usize,
    /// Visitors not seen within the retention period, with their memberships and outbox rows.
    pub visitors: usize,
}

impl<D: Sql> Store<'_, D> {
    /// Runs the alarm at `now`, as one transaction: one chunk of a backfill if rules changed,
    /// the visitors whose re-check time has come (they leave the audiences whose windows
    /// lapsed), and retention once a day. Set the object's alarm to
    /// [`Alarmed::next_alarm`] afterwards.
    pub fn alarm(&self, now: Timestamp) -> Result<Alarmed, Error> {
        self.db.atomic(|| {
            let mut changes = Vec::new();
            let backfilled = if self.sync_rules()? {
                self.backfill_chunk(now, &mut changes)?
            } else {
                0
            };
            let rechecked = self.recheck_due(now, &mut changes)?;
            let due = self
                .meta("purge_at")?
                .and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|t| t <= now.secs());
            let purged = if due {
                let purged = self.purge_in(now)?;
                self.set_meta("purge_at", &(now.secs() + PURGE_EVERY_SECS).to_string())?;
                Some(purged)
            } else {
                None
            };
            let notifications = self.notify(&changes, now)?;
            Ok(Alarmed {
                notifications,
                changes,
                rechecked,
                backfilled,
                backfilling: self.meta("backfill_rules")?.is_some(),
                purged,
                next_alarm: self.next_alarm(now)?,
            })
        })
    }

    /// Re-checks the visitors whose audiences may have lapsed by `now`, at most a chunk of them.
    fn recheck_due(&self, now: Timestamp, changes: &mut Vec<Change>) -> Result<usize, Error> {
        let rows = self.db.query(
            &format!(
                "SELECT {VISITOR_COLUMNS} FROM visitors WHERE recheck_at IS NOT NULL AND recheck_at <= ? ORDER BY recheck_at LIMIT ?"
            ),
            &[now.secs().into(), (self.settings.expiry_chunk as i64).into()],
        )?;
        let mut writes = Writes::new(now);
        for row in &rows {
            let mut v = VisitorState::from_row(row)?;
            let (profile, rebuilt) = self.profile_of(&v, now)?;
            v.rebuilt = rebuilt;
            self.evaluate(&v, &profile, now, Cause::Lapse, changes, &mut writes);
        }
        self.flush(&mut writes)?;
        Ok(rows.len())
    }

    /// Recomputes the next chunk of visitors under new rules, from the stored profile where the
    /// rules keep its shape and from the event log where they do not; ends the backfill after
    /// the last visitor. Returns how many it recomputed.
    fn backfill_chunk(&self, now: Timestamp, changes: &mut Vec<Change>) -> Result<usize, Error> {
        let cursor = self.meta("backfill_cursor")?.unwrap_or_default();
        let chunk = self.settings.backfill_chunk.max(1);
        let rows = self.db.query(
            &format!(
                "SELECT {VISITOR_COLUMNS}, rules FROM visitors WHERE id > ? ORDER BY id LIMIT ?"
            ),
            &[cursor.into(), (chunk as i64).into()],
        )?;
        let mut done = 0;
        let mut writes = Writes::new(now);
        for row in &rows {
            let mut v = VisitorState::from_row(row)?;
            if row.opt_text(10)? == Some(self.rules.id()) {
                // Already computed under these rules (new events since they were published).
                continue;
            }
            let (profile, rebuilt) = self.profile_of(&v, now)?;
            v.rebuilt = rebuilt;
            self.evaluate(&v, &profile, now, Cause::Backfill, changes, &mut writes);
            done += 1;
        }
        self.flush(&mut writes)?;
        match rows.last() {
            Some(last) if rows.len() == chunk => self.set_meta("backfill_cursor", last.text(0)?)?,
            _ => {
                // Every visitor is done: audiences of earlier rules that no one can be in now
                // were left by each visitor's recomputation.
                self.delete_meta("backfill_rules")?;
                self.delete_meta("backfill_cursor")?;
            }
        }
        Ok(done)
    }

    /// Removes events older than the retention period, and visitors not seen within it with
    /// their memberships and outbox rows.
    pub fn purge(&self, now: Timestamp) -> Result<Purged, Error> {
        self.db.atomic(|| self.purge_in(now))
    }

    fn purge_in(&self, now: Timestamp) -> Result<Purged, Error> {
        let cutoff = now.secs() - i64::from(self.settings.retention_days) * 86_400;
        let count = |sql: &str| -> Result<usize, Error> {
            let rows = self.db.query(sql, &[cutoff.into()])?;
            Ok(rows.first().map(|r| r.int(0)).transpose()?.unwrap_or(0) as usize)
        };
        let events = count("SELECT COUNT(*) FROM events WHERE at < ?")?;
        let visitors = count("SELECT COUNT(*) FROM visitors WHERE last_seen < ?")?;
        self.db
            .run("DELETE FROM events WHERE at < ?", &[cutoff.into()])?;
        for table in ["memberships", "outbox", "fired"] {
            self.db.run(
                &format!(
                    "DELETE FROM {table} WHERE visitor IN (SELECT id FROM visitors WHERE last_seen < ?)"
                ),
                &[cutoff.into()],
            )?;
        }
        // Finished deliveries are kept for the retention period; the times triggers fired for
        // as long as the longest `at_most` needs them.
        self.db.run(
            "DELETE FROM outbox WHERE next_attempt_at IS NULL AND created_at < ?",
            &[cutoff.into()],
        )?;
        let longest = self
            .rules
            .config()
            .triggers
            .iter()
            .filter_map(|t| t.at_most)
            .map(|m| i64::try_from(m.per.secs()).unwrap_or(i64::MAX))
            .max()
            .unwrap_or(0);
        self.db.run(
            "DELETE FROM fired WHERE at < ?",
            &[cutoff.min(now.secs().saturating_sub(longest)).into()],
        )?;
        self.db
            .run("DELETE FROM visitors WHERE last_seen < ?", &[cutoff.into()])?;
        self.db.run(
            "DELETE FROM erased WHERE at < ?",
            &[(now.secs() - TOMBSTONE_DAYS * 86_400).into()],
        )?;
        Ok(Purged { events, visitors })
    }
}
