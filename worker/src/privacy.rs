//! Who is not tracked: visitors who ask not to be (Global Privacy Control, Do Not Track) and
//! crawlers. For them nothing is recorded, no token is stored and the default variants show.
//!
//! The crawler rule is `intent_policy`'s, the one the snippet applies in the browser.
//!
//! Consent (`docs/PRIVACY.md`, "Consent") adds two reasons: the visitor denied consent (in
//! either setting: the profile cookie is deleted, as for GPC), or the site requires consent and
//! the request does not show it was granted (nothing is read or written: an existing profile
//! cookie is left as it is, neither read nor renewed nor deleted).

use crate::cookie::ConsentChoice;
use crate::settings::Consent;

/// Why a request is not tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTracked {
    /// `Sec-GPC: 1`.
    GlobalPrivacyControl,
    /// `DNT: 1`.
    DoNotTrack,
    /// A known crawler's user agent.
    Bot,
    /// The consent cookie says `intent_consent=denied`.
    ConsentDenied,
    /// The site requires consent (`CONSENT=required`) and the request does not carry
    /// `intent_consent=granted`.
    NoConsent,
}

impl NotTracked {
    /// Short label for the `X-Intent-Tracking` response header.
    pub fn label(self) -> &'static str {
        match self {
            Self::GlobalPrivacyControl => "off; gpc",
            Self::DoNotTrack => "off; dnt",
            Self::Bot => "off; bot",
            Self::ConsentDenied => "off; consent-denied",
            Self::NoConsent => "off; no-consent",
        }
    }

    /// True when the reason is about consent: the page then shows no tier on `<html>` (the
    /// snippet reads that attribute as "the edge recorded this view").
    pub fn is_consent(self) -> bool {
        matches!(self, Self::ConsentDenied | Self::NoConsent)
    }

    /// True when the visitor's profile cookie is deleted by a call that may record (collect,
    /// a page). A denied consent also deletes it on `/v1/decide`, which the snippet calls at
    /// once when consent is withdrawn; without consent the cookie is not touched at all.
    pub fn clears_cookie(self, recording_call: bool) -> bool {
        match self {
            Self::NoConsent => false,
            Self::ConsentDenied => true,
            Self::GlobalPrivacyControl | Self::DoNotTrack | Self::Bot => recording_call,
        }
    }
}

/// Decides from the site's consent setting and the request whether consent stops tracking.
/// `choice` is the consent cookie's; `cross_origin` is true for an API call from another
/// origin (snippet mode), which cannot carry the site's cookie: there the call itself is the
/// evidence, since the snippet sends nothing without consent.
pub fn consent_verdict(
    consent: Consent,
    choice: Option<ConsentChoice>,
    cross_origin: bool,
) -> Option<NotTracked> {
    match (choice, consent) {
        (Some(ConsentChoice::Denied), _) => Some(NotTracked::ConsentDenied),
        (Some(ConsentChoice::Granted), _) | (None, Consent::Implied) => None,
        (None, Consent::Required) if cross_origin => None,
        (None, Consent::Required) => Some(NotTracked::NoConsent),
    }
}

/// Whether the visitor may be tracked, all reasons together: a denied consent first (it also
/// deletes the cookie where GPC would leave it), then GPC, DNT and bots, then a missing
/// consent where the site requires it.
pub fn tracking_verdict(
    signals: Option<NotTracked>,
    consent: Option<NotTracked>,
) -> Option<NotTracked> {
    match (signals, consent) {
        (_, Some(NotTracked::ConsentDenied)) => Some(NotTracked::ConsentDenied),
        (Some(signal), _) => Some(signal),
        (None, consent) => consent,
    }
}

/// Decides from the request headers whether the visitor may be tracked.
pub fn not_tracked(
    sec_gpc: Option<&str>,
    dnt: Option<&str>,
    user_agent: Option<&str>,
) -> Option<NotTracked> {
    if sec_gpc.is_some_and(|v| v.trim() == "1") {
        return Some(NotTracked::GlobalPrivacyControl);
    }
    if dnt.is_some_and(|v| v.trim() == "1") {
        return Some(NotTracked::DoNotTrack);
    }
    if user_agent.is_some_and(intent_policy::is_crawler) {
        return Some(NotTracked::Bot);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

    #[test]
    fn privacy_signals() {
        assert_eq!(
            not_tracked(Some("1"), None, Some(CHROME)),
            Some(NotTracked::GlobalPrivacyControl)
        );
        assert_eq!(
            not_tracked(None, Some("1"), Some(CHROME)),
            Some(NotTracked::DoNotTrack)
        );
        assert_eq!(not_tracked(Some("0"), Some("0"), Some(CHROME)), None);
        assert_eq!(not_tracked(None, None, None), None);
    }

    #[test]
    fn consent() {
        use ConsentChoice::{Denied, Granted};
        use NotTracked::{ConsentDenied, NoConsent};
        let required = Consent::Required;
        let implied = Consent::Implied;
        assert_eq!(consent_verdict(implied, None, false), None);
        assert_eq!(consent_verdict(implied, Some(Granted), false), None);
        assert_eq!(
            consent_verdict(implied, Some(Denied), false),
            Some(ConsentDenied)
        );
        assert_eq!(consent_verdict(required, None, false), Some(NoConsent));
        assert_eq!(consent_verdict(required, None, true), None);
        assert_eq!(consent_verdict(required, Some(Granted), false), None);
        assert_eq!(
            consent_verdict(required, Some(Denied), true),
            Some(ConsentDenied)
        );
        let gpc = Some(NotTracked::GlobalPrivacyControl);
        assert_eq!(
            tracking_verdict(gpc, Some(ConsentDenied)),
            Some(ConsentDenied)
        );
        assert_eq!(tracking_verdict(gpc, Some(NoConsent)), gpc);
        assert_eq!(tracking_verdict(None, Some(NoConsent)), Some(NoConsent));
        assert_eq!(tracking_verdict(None, None), None);
        assert!(!NoConsent.clears_cookie(true));
        assert!(ConsentDenied.clears_cookie(false));
        assert!(!NotTracked::Bot.clears_cookie(false));
    }

    /// The shared vectors, as the worker reads them (the snippet runs them in a browser).
    #[test]
    fn crawlers() {
        for (ua, crawler) in intent_policy::CRAWLER_CASES {
            let want = crawler.then_some(NotTracked::Bot);
            assert_eq!(not_tracked(None, None, Some(ua)), want, "{ua}");
        }
    }
}
