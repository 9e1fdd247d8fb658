//! The intent engine: everything Intent Edge knows about behaviour, with no I/O and no clock.
//!
//! A visitor's behaviour arrives as [`Event`]s. They are folded one at a time into a compact,
//! bounded [`Profile`], which travels with the visitor as a signed token ([`Keyring`]). Marketers
//! describe intent tiers in a JSON rules config; [`Rules::from_json`] validates it (errors name the
//! line and the field) and compiles it once into an evaluation plan. [`Rules::decide`] sorts a
//! profile into a tier, segments and content variants, and [`Rules::explain`] says why.
//!
//! Time always comes in as a [`Timestamp`] value: the worker, the CLI and the tests each bring
//! their own clock.
//!
//! ```
//! use intent_engine::{process, Event, Keyring, Rules, Timestamp};
//!
//! let rules = Rules::builtin();
//! let keys = Keyring::parse("k1:a-dev-secret-of-enough-length").unwrap();
//! let now = Timestamp::from_secs(1_764_000_000);
//! let mut token = None;
//! for i in 0..3 {
//!     let events = [Event::pageview("https://acme.test/pricing", None)];
//!     let out = process(rules, &keys, "demo", token.as_deref(), &events, now.plus_secs(i * 3600));
//!     token = Some(out.token);
//!     if i == 2 {
//!         assert_eq!(out.decision.tier, "ready");
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod audit;
mod config;
mod decide;
mod event;
mod explain;
mod fold;
mod identity;
mod lapse;
mod limits;
mod locate;
mod pattern;
mod preview;
mod profile;
mod replay;
mod rules;
mod sanitize;
mod simulate;
mod time;
mod token;
mod url;

pub use crate::audit::{
    AudienceStats, Audit, AuditPeriod, ConditionStats, PageStats, TierPages, Warning,
};
pub use crate::config::{
    ClickCondition, Condition, EngagedCondition, EventCondition, LastSeenCondition,
    ReferrerCondition, Rule, RulesConfig, ScoreCondition, ScoreConfig, ScoreSignal, Signal,
    SlotVariants, UtmCondition, Variant, ViewedCondition, VisitsCondition, Window,
};
pub use crate::decide::Decision;
pub use crate::event::{CollectRequest, Event, LogEvent, PropValue};
pub use crate::explain::{Check, Explanation, RuleCheck};
pub use crate::identity::{account_of, company_domain, is_free_mail, Email, COMPANY_DOMAIN};
pub use crate::limits::Limits;
pub use crate::preview::{preview, AudienceChange, Move, Preview, PREVIEW_MOVES_LISTED};
pub use crate::profile::{Profile, ProfileSummary};
pub use crate::replay::{Day, Replayed, VisitorEvents, VisitorLog};
pub use crate::rules::Rules;
pub use crate::simulate::{simulate, SimulatedVisitor, Simulation};
pub use crate::time::Timestamp;
pub use crate::token::{FreshReason, Keyring};

/// Errors, one type per concern.
pub mod errors {
    pub use crate::config::ConfigError;
    pub use crate::event::{LogError, RequestError};
    pub use crate::identity::IdentityError;
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
    /// Tier, segments and content variants for the profile.
    pub decision: Decision<'r>,
}

/// The whole hot path for one call: verify and decode the visitor's token (or start fresh),
/// fold the new events in, classify, pick variants, and re-sign.
///
/// A token that does not verify, has expired, belongs to another site or was made for rules
/// that track different things is discarded: the visitor starts fresh and `fresh` says why.
pub fn process<'r>(
    rules: &'r Rules,
    keys: &Keyring,
    site: &str,
    token: Option<&str>,
    events: &[Event],
    now: Timestamp,
) -> Outcome<'r> {
    let (mut profile, fresh) = match token {
        None => (Profile::new(rules), None),
        Some(t) => match keys.decode(rules, site, t, now) {
            Ok(p) => (p, None),
            Err(reason) => (Profile::new(rules), Some(reason)),
        },
    };
    for event in events {
        profile.fold(rules, now, event);
    }
    let decision = rules.decide(&profile, now);
    let token = keys.encode(rules, site, &profile);
    Outcome {
        profile,
        token,
        fresh,
        decision,
    }
}
