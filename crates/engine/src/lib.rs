//! The intent engine: everything Intent Edge knows about behaviour, with no I/O and no clock.
//!
//! A visitor's behaviour arrives as [`Event`]s. They are folded one at a time into a compact,
//! bounded [`Profile`], which travels with the visitor as a signed token ([`Keyring`]). Marketers
//! describe intent tiers in a JSON rules config; [`Rules::from_json`] validates it (errors name the
//! line and the field) and compiles it once into an evaluation plan and the [`ProfileShape`] of the
//! profiles it keeps. [`Rules::decide`] sorts a profile into a tier, segments and content
//! variants, and [`Rules::explain`] says why. When the rules change, profiles made under the
//! earlier rules are carried over ([`Rules::with_earlier_shapes`], [`Profile::carried_over`]), and
//! [`Rules::change_from`] says what that keeps.
//!
//! Time always comes in as a [`Timestamp`] value, and randomness (a new visitor's id) as bytes:
//! the worker, the CLI and the tests each bring their own clock and their own random source.
//!
//! ```
//! use intent_engine::{process, Event, Keyring, Rules, Timestamp, VisitorId};
//!
//! let rules = Rules::builtin();
//! let keys = Keyring::parse("k1:a-dev-secret-of-enough-length").unwrap();
//! let now = Timestamp::from_secs(1_764_000_000);
//! let new_id = || Some(VisitorId::from_random_bytes([7; 12])); // use real random bytes
//! let mut token = None;
//! for i in 0..3 {
//!     let events = [Event::pageview("https://acme.test/pricing", None)];
//!     let at = now.plus_secs(i * 3600);
//!     let out = process(rules, &keys, "demo", token.as_deref(), &events, at, new_id);
//!     token = Some(out.token);
//!     assert_eq!(out.decision.visitor, new_id());
//!     if i == 2 {
//!         assert_eq!(out.decision.tier, "ready");
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod audit;
mod carry;
mod config;
mod decide;
mod event;
mod explain;
mod fold;
mod identity;
mod lapse;
mod limits;
mod open;
mod pattern;
mod preview;
mod profile;
mod replay;
mod rules;
mod sanitize;
mod shape;
mod simulate;
mod time;
mod token;
mod triggers;
mod url;

pub use crate::audit::{
    AudienceStats, Audit, AuditPeriod, ConditionStats, PageStats, TierPages, Warning,
};
pub use crate::config::{
    AtMost, ClickCondition, Condition, Destination, EngagedCondition, EventCondition,
    LastSeenCondition, ReferrerCondition, ReferrerFilter, Rule, RulesConfig, ScoreCondition,
    ScoreConfig, ScoreSignal, ScriptsInVariants, Signal, SlotVariants, Trigger, TriggerEvent,
    UtmCondition, UtmFilter, Variant, ViewedCondition, VisitsCondition, Window, AT_MOST_COUNT,
};
pub use crate::decide::Decision;
pub use crate::event::{CollectRequest, Event, LogEvent, PropValue};
pub use crate::explain::{Check, Explanation, RuleCheck};
pub use crate::identity::{account_of, company_domain, is_free_mail, Email, COMPANY_DOMAIN};
pub use crate::limits::Limits;
pub use crate::open::Opened;
pub use crate::preview::{preview, AudienceChange, Move, Preview, PREVIEW_MOVES_LISTED};
pub use crate::profile::{Profile, ProfileSummary, VisitorId};
pub use crate::replay::{Day, Replayed, VisitorEvents, VisitorLog};
pub use crate::rules::{
    check_destination_url, env_reference, Checks, Rules, EARLIER_SHAPES, MAX_DESTINATIONS,
    MAX_TRIGGERS,
};
pub use crate::shape::{ProfileShape, ShapeChange};
pub use crate::simulate::{simulate, SimulatedVisitor, Simulation};
pub use crate::time::Timestamp;
pub use crate::token::{FreshReason, Keyring};
pub use crate::triggers::{replay_triggers, Firing};

/// Errors, one type per concern.
pub mod errors {
    pub use crate::config::ConfigError;
    pub use crate::event::{LogError, RequestError};
    pub use crate::identity::IdentityError;
    pub use crate::shape::ShapeError;
    pub use crate::time::TimeError;
    pub use crate::token::KeyError;
}

/// A new visit starts after this long without activity (30 minutes, as in web analytics).
pub const VISIT_GAP_SECS: i64 = 30 * 60;

/// What one call to [`process`] produced.
#[derive(Debug)]
pub struct Outcome<'r> {
    /// The visitor's profile after the new events were folded in.
    pub profile: Profile,
    /// The profile, signed and encoded: what the visitor keeps until the next call.
    pub token: String,
    /// Why the incoming token was discarded, if one was sent and it was.
    pub fresh: Option<FreshReason>,
    /// The earlier shape the incoming token was made under and carried over from, if it was.
    pub carried_from: Option<&'r ProfileShape>,
    /// Tier, segments and content variants for the profile.
    pub decision: Decision<'r>,
}

/// The whole hot path for one call: verify and decode the visitor's token (or start fresh),
/// fold the new events in, classify, pick variants, and re-sign.
///
/// A token made under one of the rules' earlier shapes is carried over to their own. A token
/// that does not verify, has expired, belongs to another site or was made under a shape the
/// rules do not know is discarded: the visitor starts fresh and `fresh` says why.
///
/// A call that records events gives a profile without a visitor id one, from `new_id`: the
/// caller's fresh random bytes ([`VisitorId::from_random_bytes`]), or `None` when it has none
/// to give (the visitor then gains an id on a later call). A call without events (a decision
/// only) records nothing and never calls it.
pub fn process<'r>(
    rules: &'r Rules,
    keys: &Keyring,
    site: &str,
    token: Option<&str>,
    events: &[Event],
    now: Timestamp,
    new_id: impl FnOnce() -> Option<VisitorId>,
) -> Outcome<'r> {
    let (mut profile, fresh, carried_from) = match token {
        None => (Profile::new(rules), None, None),
        Some(t) => match keys.open(rules, site, t, now) {
            Ok(opened) => (opened.profile, None, opened.carried_from),
            Err(reason) => (Profile::new(rules), Some(reason), None),
        },
    };
    for event in events {
        profile.fold(rules, now, event);
    }
    if !events.is_empty() && profile.visitor.is_none() {
        profile.visitor = new_id();
    }
    let decision = rules.decide(&profile, now);
    let token = keys.encode(rules, site, &profile);
    Outcome {
        profile,
        token,
        fresh,
        carried_from,
        decision,
    }
}
