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
//! | `outbox` | `id`, `visitor`, `created_at`, `event`, `payload`, `status`, `attempts`, `next_attempt_at` | notifications to send (the triggers), written in the same transaction as the membership change that causes them |
//! | `erased` | `visitor`, `at` | visitors erased, and when: a record of theirs from before that time (still in the queue when they were erased) is not stored. Kept [`crate::TOMBSTONE_DAYS`] days, the longest a queue keeps a message |
//! | `meta` | `key`, `value` | `schema` (this layout's version), `rules` (the rules memberships were computed with), `backfill_rules` and `backfill_cursor` (a backfill under way and the last visitor id it did), `purge_at` (when retention next runs), `rules_text`, `rules_saved_at` and `rules_shapes` (the rules the store runs with, as the worker handed them over, when, and a JSON array of the shape records of those and the rules it ran with before, most recent first: [`crate::save_rules`]) |
//!
//! Every statement is plain SQLite 3 (partial indexes, row values, upserts, `RETURNING`), as a
//! Durable Object's SQLite storage runs it.

use crate::error::Error;
use crate::sql::Sql;

/// The version of this layout, kept in `meta` under `schema`.
pub const SCHEMA_VERSION: i64 = 1;

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
        id INTEGER PRIMARY KEY,
        visitor TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER)",
    "CREATE INDEX IF NOT EXISTS outbox_by_visitor ON outbox (visitor)",
    "CREATE TABLE IF NOT EXISTS erased (visitor TEXT PRIMARY KEY, at INTEGER NOT NULL)",
];

/// Creates the tables that are missing and records the layout's version. Safe to run on every
/// start of the object: it changes nothing in a store already at this version.
pub fn migrate(db: &impl Sql) -> Result<(), Error> {
    db.atomic(|| {
        for statement in TABLES {
            db.run(statement, &[])?;
        }
        let rows = db.query("SELECT value FROM meta WHERE key = 'schema'", &[])?;
        let found = rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse::<i64>().ok());
        match found {
            Some(v) if v > SCHEMA_VERSION => Err(Error::Corrupt(format!(
                "the store's layout is version {v}, newer than this code's {SCHEMA_VERSION}"
            ))),
            Some(_) => Ok(()),
            None => {
                db.run(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?)",
                    &[SCHEMA_VERSION.to_string().into()],
                )?;
                Ok(())
            }
        }
    })
}
