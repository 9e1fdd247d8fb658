//! What a site's audience store decides, as pure Rust over a small SQL trait.
//!
//! The store keeps the site's sanitised event log, each visitor's record (identity, the latest
//! profile as the edge computed it, tier, segments, score, first and last seen), audience
//! memberships with the times they were entered and left, and an outbox for the triggers. It
//! recomputes memberships with the engine: when a batch of events arrives ([`Store::ingest`]),
//! when a visitor's windows lapse with no new event and when new rules are published
//! ([`Store::alarm`]). It answers the admin API's questions ([`Store::audiences`],
//! [`Store::members`], [`Store::accounts`], [`Store::visitor`], [`Store::events`]) and erases
//! a person on request ([`Store::erase`]).
//!
//! The worker runs it in a Durable Object with SQLite storage, one per site (or per shard of a
//! site, [`shard`]); tests and benchmarks run it on SQLite through `rusqlite`. Both implement
//! [`Sql`]. Time always comes in as a value.
//!
//! ```
//! # fn demo(db: &impl intent_audience::Sql) -> Result<(), intent_audience::Error> {
//! use intent_audience::{migrate, Record, Settings, Store};
//! use intent_engine::{Event, Profile, Rules, Timestamp};
//!
//! let rules = Rules::builtin();
//! let now = Timestamp::from_secs(1_795_000_000);
//! let mut profile = Profile::new(rules);
//! let view = Event::pageview("https://acme.test/pricing?utm_source=x&email=jane", None);
//! profile.fold(rules, now, &view);
//! let record = Record::new("call-1", "q3XkZ2l0b3JJZDAwMDE", now, rules, &profile, [&view]);
//!
//! migrate(db)?;
//! let settings = Settings::default();
//! let store = Store::new(db, rules, &settings);
//! let done = store.ingest(&[record], now)?;
//! assert_eq!(done.events, 1);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alarm;
mod codec;
mod delivery;
mod error;
mod export;
mod ids;
mod ingest;
mod outbox;
mod query;
mod record;
mod schema;
pub mod send;
pub mod shard;
mod sql;
mod store;
mod time;

pub use crate::alarm::{Alarmed, Purged};
pub use crate::codec::{decode_profile, encode_profile};
pub use crate::delivery::{
    retry_after, Outcome, Pace, RateLimit, RetrySchedule, DEFAULT_RETRY_SCHEDULE,
    MAX_RETRY_WAIT_SECS,
};
pub use crate::error::Error;
pub use crate::export::{
    csv_rows, merge_members, parse_window, Format, Member, MembersPage, MembersRequest, CSV_HEADER,
    CSV_PAGE, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use crate::ids::{check_event, check_visitor};
pub use crate::ingest::{Ingested, Rejected};
pub use crate::outbox::{
    Deliveries, Delivery, DeliveryStatus, Reported, DELIVERIES_LISTED, LEASE_SECS,
};
pub use crate::query::{
    audiences_of, merge_accounts, merge_counts, resolve, AccountSummary, Accounts, AudienceCount,
    AudienceCounts, Erased, EventsPage, MembershipRecord, Subject, VisitorRecord, VisitorReport,
    EVENTS_PAGE, TIMELINE_MAX,
};
pub use crate::record::{Logged, Record};
pub use crate::schema::{migrate, SCHEMA_VERSION};
pub use crate::sql::{Row, Sql, SqlError, Value, MAX_PARAMS};
pub use crate::store::{
    save_rules, saved_rules, Audience, Cause, Change, Kind, SavedRules, Settings, Store,
    DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, TOMBSTONE_DAYS,
};
