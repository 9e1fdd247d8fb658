//! Opening a visitor's token (or a plain profile) under the active rules: verify it, read it
//! with the shape it was made under, and carry it over when that is an earlier shape.
//!
//! A profile made under the rules' own shape is used as it is: the hot path. One made under a
//! shape the rules know from earlier configs ([`Rules::with_earlier_shapes`]) is carried over
//! ([`Profile::carried_over`]). Anything else starts the visitor fresh with a reason.

use crate::profile::Profile;
use crate::rules::Rules;
use crate::shape::ProfileShape;
use crate::time::Timestamp;
use crate::token::{self, check_age, read_profile, FreshReason, Keyring};

/// A profile read under the active rules.
#[derive(Debug, Clone)]
pub struct Opened<'r> {
    /// The profile, in the active rules' shape.
    pub profile: Profile,
    /// The earlier shape it was made under and carried over from; `None` when it was made
    /// under the active rules' own shape.
    pub carried_from: Option<&'r ProfileShape>,
}

impl Keyring {
    /// Verifies and decodes a token for `site` under `rules` at `now`, carrying it over when it
    /// was made under one of the rules' earlier shapes.
    pub fn decode(
        &self,
        rules: &Rules,
        site: &str,
        token: &str,
        now: Timestamp,
    ) -> Result<Profile, FreshReason> {
        self.open(rules, site, token, now).map(|o| o.profile)
    }

    /// Like [`Keyring::decode`], and also says whether the profile was carried over, and from
    /// which shape.
    pub fn open<'r>(
        &self,
        rules: &'r Rules,
        site: &str,
        token: &str,
        now: Timestamp,
    ) -> Result<Opened<'r>, FreshReason> {
        self.verified(site, token, |v| {
            open_body(rules, v.format, v.fingerprint, v.body, now)
        })
    }
}

impl Rules {
    /// Reads a plain profile ([`Profile::to_plain`]) under these rules at `now`: made under
    /// their own shape, or carried over from one of their earlier shapes. One made under a shape
    /// they do not know, or past their horizon, is refused with the reason.
    pub fn read_plain(&self, text: &str, now: Timestamp) -> Result<Opened<'_>, FreshReason> {
        let (fingerprint, body) = token::plain_parts(text)?;
        open_body(self, token::FORMAT, fingerprint, &body, now)
    }
}

/// Reads a profile's bytes in `format`, made under the shape `fingerprint` names.
#[inline(always)]
fn open_body<'r>(
    rules: &'r Rules,
    format: u8,
    fingerprint: u32,
    body: &[u8],
    now: Timestamp,
) -> Result<Opened<'r>, FreshReason> {
    let made_under = rules
        .shape_for(format, fingerprint)
        .map_err(|()| FreshReason::OtherRules)?;
    let shape = made_under.unwrap_or(&rules.shape);
    let profile = read_profile(body, shape, format).ok_or(FreshReason::Malformed)?;
    check_age(profile.last_seen, rules.shape.horizon, now)?;
    Ok(match made_under {
        None => Opened {
            profile,
            carried_from: None,
        },
        Some(earlier) => Opened {
            profile: profile.carried_over(earlier, &rules.shape),
            carried_from: Some(earlier),
        },
    })
}
