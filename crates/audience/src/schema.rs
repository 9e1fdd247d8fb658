//! The store's tables: one SQLite database per site (per shard of a site, `site:N`).
//!
//! | table | column | what it holds |
//! | --- | --- | --- |
//! | `events` | `seq` | integer key, in the order events were stored |
//! | | `id` | the event id the producer gave it, unique: a redelivered event is not stored twice |
//! | | `visitor` | the visitor's id |
//! | | `at` | when it happened, seconds since the epoch |
//! | | `body` | the sanitised event as JSON (`{"type": "pageview", "url": "/pricing"}`; see `Event::sanitized`) |
//! | | `email` | for an identify event, its normalised email (so erasure by email finds it) |
//! | `visitors` | `id` | the visitor's id |
//! | | `email`, `account` | identity, after an identify event; else `NULL` |
//! | | `profile`, `profile_at` | the latest profile as the edge computed it, and the time of the call it came from, in milliseconds (`Record::ms`, else the start of its second) |
//! | | `rebuilt` | `1` when `profile` was rebuilt from the event log instead (rules of another shape, or no profile sent) |
//! | | `rules` | the id of the rules `tier`, `segments` and `score` were computed with |
//! | | `tier`, `segments`, `score` | the visitor's audiences as last computed (`segments` `;`-joined) |
//! | | `first_seen`, `last_seen` | the first and latest event |
//! | | `recheck_at` | when the tier or segments next lapse with no new event (`Rules::next_change`), or `NULL` |
//! | `memberships` | `id` | integer key |
//! | | `visitor`, `kind`, `audience` | who is in which audience (`kind` `tier` or `segment`) |
//! | | `entered_at`, `left_at` | when they entered and left it; `left_at` `NULL` while they are in it. History is kept until the visitor is erased or purged |
//! | `outbox` | `seq` | integer key: the order notifications were written in, which is the order a visitor's are sent to a destination |
//! | | `id` | the delivery's stable id, the `webhook-id` (`msg_…`), unique: the same change never notifies twice |
//! | | `visitor`, `destination`, `type`, `event` | who, where to (the destination's name and type), and what (`audience.entered`, …) |
//! | | `created_at`, `payload` | when it was written, in the same transaction as the change that caused it, and the notification as JSON (`Notification`) |
//! | | `status` | `pending`, `failed` (to be tried again), `delivered`, `dead` (the schedule ran out, or the destination answered 410), `skipped` (a CRM and a visitor without email) |
//! | | `attempts`, `round_from` | attempts made, and how many of them came before the latest manual retry (the schedule restarts there) |
//! | | `last_status`, `error` | the latest answer's HTTP status and what went wrong |
//! | | `next_attempt_at` | when it may next be handed to the sender (for one handed out: when it is handed out again if no report came); `NULL` when finished |
//! | `fired` | `visitor`, `trigger`, `at` | when each trigger (by `Trigger::key`) last notified each visitor, for `at_most` |
//! | `destinations` | `name`, `disabled_at`, `reason`, `pace` | a destination disabled by a `410` (until a delivery to it is retried), and its recent requests for its rate limit |
//! | `erased` | `visitor`, `at` | visitors erased, and when: a record of theirs from before that time (still in the queue when they were erased) is not stored. Kept [`crate::TOMBSTONE_DAYS`] days, the longest a queue keeps a message |
//! | `meta` | `key`, `value` | `schema` (this layout's version), `rules` (the rules memberships were computed with), `backfill_rules` and `backfill_cursor` (a backfill under way and the last visitor id it did), `purge_at` (when retention next runs), `rules_text`, `rules_saved_at` and `rules_shapes` (the rules the store runs with, as the worker handed them over, when, and a JSON array of the shape records of those and the rules it ran with before, most recent first: [`crate::save_rules`]) |
//!
//! Every statement is plain SQLite 3 (partial indexes, row values, upserts, `RETURNING`), as a
//! Durable Object's SQLite storage runs it.

use crate::error::Error;
use crate::sql::Sql;

/// The version of this layout, kept in `meta` under `schema`.
pub const SCHEMA_VERSION: i64 = 2;

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        visitor TEXT NOT NULL,
        at INTEGER NOT NULL,
        body TEXT NOT NULL,
        email TEXT)",
    "CREATE INDEX IF NOT EXISTS events_by_visitor ON events (visitor, at)",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (at)",
    "CREATE INDEX IF NOT EXISTS events_by_email ON events (email) WHERE email IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS visitors (
        id TEXT PRIMARY KEY,
        email TEXT,
        account TEXT,
        profile TEXT,
        profile_at INTEGER,
        rebuilt INTEGER NOT NULL DEFAULT 0,
        rules TEXT,
        tier TEXT NOT NULL,
        segments TEXT NOT NULL DEFAULT '',
        score REAL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        recheck_at INTEGER)",
    "CREATE INDEX IF NOT EXISTS visitors_by_recheck ON visitors (recheck_at) WHERE recheck_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS visitors_by_email ON visitors (email) WHERE email IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS visitors_by_account ON visitors (account, last_seen) WHERE account IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS memberships (
        id INTEGER PRIMARY KEY,
        visitor TEXT NOT NULL,
        kind TEXT NOT NULL,
        audience TEXT NOT NULL,
        entered_at INTEGER NOT NULL,
        left_at INTEGER)",
    "CREATE UNIQUE INDEX IF NOT EXISTS memberships_open ON memberships (visitor, kind, audience) WHERE left_at IS NULL",
    "CREATE INDEX IF NOT EXISTS memberships_current ON memberships (kind, audience, entered_at, visitor) WHERE left_at IS NULL",
    "CREATE INDEX IF NOT EXISTS memberships_by_visitor ON memberships (visitor)",
    "CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        visitor TEXT NOT NULL,
        destination TEXT NOT NULL,
        type TEXT NOT NULL,
        event TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        round_from INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        error TEXT,
        next_attempt_at INTEGER)",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS outbox_by_visitor ON outbox (visitor, destination, seq)",
    "CREATE INDEX IF NOT EXISTS outbox_by_status ON outbox (status, seq)",
    "CREATE TABLE IF NOT EXISTS fired (visitor TEXT NOT NULL, trigger TEXT NOT NULL, at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS fired_by_visitor ON fired (visitor, trigger, at)",
    "CREATE TABLE IF NOT EXISTS destinations (
        name TEXT PRIMARY KEY,
        disabled_at INTEGER,
        reason TEXT,
        pace TEXT)",
    "CREATE TABLE IF NOT EXISTS erased (visitor TEXT PRIMARY KEY, at INTEGER NOT NULL)",
];

/// Creates the tables that are missing and records the layout's version. Safe to run on every
/// start of the object: it changes nothing in a store already at this version.
pub fn migrate(db: &impl Sql) -> Result<(), Error> {
    db.atomic(|| {
        db.run(TABLES[0], &[])?;
        let rows = db.query("SELECT value FROM meta WHERE key = 'schema'", &[])?;
        let found = rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse::<i64>().ok());
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(Error::Corrupt(format!(
                    "the store's layout is version {v}, newer than this code's {SCHEMA_VERSION}"
                )))
            }
            Some(1) => {
                // Layout 1 had an outbox of another shape that nothing wrote to: replace it.
                db.run("DROP INDEX IF EXISTS outbox_by_visitor", &[])?;
                db.run("DROP TABLE IF EXISTS outbox", &[])?;
            }
            _ => {}
        }
        for statement in TABLES {
            db.run(statement, &[])?;
        }
        if found != Some(SCHEMA_VERSION) {
            db.run(
                "INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[SCHEMA_VERSION.to_string().into()],
            )?;
        }
        Ok(())
    })
}
