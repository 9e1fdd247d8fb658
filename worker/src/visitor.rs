//! The visitor flow, resolved once for every route that classifies a visitor.
//!
//! `POST /v1/collect`, `GET /v1/decide` and proxy-mode pages all ask the same questions —
//! may this visitor be tracked, which token counts, what do they see, which token do they keep
//! and is the cookie set or cleared — and differ only in the answers' shape. [`resolve`] answers
//! the questions once, as data ([`Resolved`]); each route then renders it: the JSON answer
//! ([`Resolved::answer_json`]), the page plan ([`Resolved::page_plan`]), and the headers of
//! both ([`Resolved::headers`]).
//!
//! The resolved flow also says what was recorded ([`Resolved::recorded`]), for whom
//! ([`Resolved::site`]), the profile after folding ([`Resolved::profile`]) and whether anything
//! may be stored ([`Resolved::may_store`]): what an event pipeline enqueues after the answer.
//!
//! This module knows nothing of the Workers runtime, so it is tested natively. The engine's
//! [`process`] is called here and nowhere else in the worker.

use intent_engine::{
    process, Decision, Event, FreshReason, Keyring, Profile, Rules, Timestamp, VisitorId,
};

use crate::api_error::ApiError;
use crate::cookie::{clear_profile_cookie, set_profile_cookie};
use crate::headers::{
    std_names, X_INTENT_FRESH, X_INTENT_SEGMENTS, X_INTENT_TIER, X_INTENT_TRACKING,
};
use crate::privacy::NotTracked;
use crate::rewrite::{loader_tag, PagePlan};
use crate::settings::Consent;

/// What the route asks of the flow.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a, 'e> {
    /// `POST /v1/collect`: record `events`. The proxy-mode cookie wins over the body's token.
    Collect {
        /// The events of the body.
        events: &'a [Event<'e>],
        /// The body's `profile` token.
        body_token: Option<&'a str>,
    },
    /// `GET /v1/decide`: record nothing. The `X-Intent-Profile` header wins over the cookie.
    Decide {
        /// The header's token (blank counts as none).
        header_token: Option<&'a str>,
        /// The slots asked for (`?slots=`); `None` for all.
        slots: Option<&'a [String]>,
    },
    /// A proxied HTML page: record `view`, the page view read from the request itself, or
    /// nothing for a speculative load (prefetch, prerender), which is personalised but no view.
    Page {
        /// The page view, `None` for a speculative load.
        view: Option<&'a Event<'e>>,
    },
}

/// Who is asking, as the request says it.
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    /// The site the call is for.
    pub site: &'a str,
    /// Why the visitor may not be tracked, if they may not (privacy signals and consent,
    /// `crate::privacy::tracking_verdict`).
    pub not_tracked: Option<NotTracked>,
    /// Whether the site requires consent (the loader tag a page gets says so).
    pub consent: Consent,
    /// The token in the proxy-mode cookie.
    pub cookie_token: Option<&'a str>,
    /// The browser says the call comes from a page of the worker's own origin
    /// (`Sec-Fetch-Site: same-origin`): proxy mode, where the profile travels in the cookie
    /// even when the visitor has none yet (a visitor who just consented).
    pub first_party: bool,
    /// The request's host (with port), for the cookie's attributes.
    pub host: &'a str,
    /// Where a new visitor's random id comes from (`crypto.getRandomValues` in the worker);
    /// called only when a call records something for a profile without an id.
    pub new_id: fn() -> Option<VisitorId>,
}

/// Whether the visitor's behaviour is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// Recorded: the profile was folded and signed.
    On,
    /// The visitor may not be tracked: default content, nothing stored.
    Off(NotTracked),
    /// A proxied page while the signing keys are not configured: default content, nothing
    /// stored, and no error (the page must still work).
    Unsigned,
}

/// The visitor flow's answer, as data.
#[derive(Debug)]
pub struct Resolved<'r, 'a, 'e> {
    /// The site the call is for.
    pub site: &'a str,
    /// Tier, segments and variants.
    pub decision: Decision<'r>,
    /// Whether anything was recorded, and why not.
    pub tracking: Tracking,
    /// The token the visitor keeps (the answer's `profile`); `None` when nothing may be kept.
    pub token: Option<String>,
    /// Why the token sent was discarded, if it was.
    pub fresh: Option<FreshReason>,
    /// The `Set-Cookie` value, when the cookie is set or cleared.
    pub set_cookie: Option<String>,
    /// The events folded into the profile (none when nothing was recorded).
    pub recorded: &'a [Event<'e>],
    /// The profile after folding, when the visitor is tracked.
    pub profile: Option<Profile>,
    /// Whether the site requires consent.
    pub consent: Consent,
}

impl Resolved<'_, '_, '_> {
    /// True when the visitor's behaviour may be stored (recorded, enqueued, kept).
    pub fn may_store(&self) -> bool {
        self.tracking == Tracking::On
    }

    /// The headers this flow adds to the answer: why nothing was recorded, or the tier and
    /// why a token was discarded; and the cookie.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(3);
        match self.tracking {
            Tracking::Off(reason) => out.push((X_INTENT_TRACKING, reason.label().to_owned())),
            Tracking::On => {
                out.push((X_INTENT_TIER, self.decision.tier.to_owned()));
                if !self.decision.segments.is_empty() {
                    out.push((X_INTENT_SEGMENTS, self.decision.segments.join(", ")));
                }
                if let Some(fresh) = self.fresh {
                    out.push((X_INTENT_FRESH, fresh.code().to_owned()));
                }
            }
            Tracking::Unsigned => {}
        }
        if let Some(cookie) = &self.set_cookie {
            out.push((std_names::SET_COOKIE, cookie.clone()));
        }
        out
    }

    /// The JSON answer of `/v1/collect` and `/v1/decide`.
    pub fn answer_json(&self) -> String {
        self.decision
            .answer_json(self.token.as_deref(), self.fresh.map(FreshReason::code))
    }

    /// What a proxied page shows: the decision's variants and tier, and the loader tag.
    pub fn page_plan(&self) -> PagePlan {
        PagePlan {
            slots: self
                .decision
                .variants()
                .map(|(slot, variant)| (slot.to_owned(), variant.clone()))
                .collect(),
            // Without consent the page shows no tier: the snippet reads one as "the edge
            // recorded this view", and records the view itself once consent is granted.
            tier: match self.tracking {
                Tracking::Off(reason) if reason.is_consent() => None,
                _ => Some(self.decision.tier.to_owned()),
            },
            segments: self.decision.segments.join(" "),
            loader_tag: Some(loader_tag(self.site, self.consent == Consent::Required)),
            consent_required: self.consent == Consent::Required,
            // The page's, which the proxy reads from the response.
            charset: None,
        }
    }
}

/// True when a proxied page view would be recorded: the visitor may be tracked and the keys
/// are there. Only then does proxy mode read the page's head for an opt-out first.
pub fn page_records(not_tracked: Option<NotTracked>, keys_ready: bool) -> bool {
    not_tracked.is_none() && keys_ready
}

/// Resolves the visitor flow for one call: consent, which token counts, the decision, the
/// token to keep, and the cookie. `keys` is the worker's keyring, or why it is unusable: the
/// API routes then answer that error (503), a proxied page shows the default content.
pub fn resolve<'r, 'a, 'e>(
    rules: &'r Rules,
    keys: Result<&Keyring, &ApiError>,
    visitor: &Visitor<'a>,
    call: Call<'a, 'e>,
    now: Timestamp,
) -> Result<Resolved<'r, 'a, 'e>, ApiError> {
    let horizon = rules.config().horizon.secs();
    // The cookie a call that may not track deletes, if any (`NotTracked::clears_cookie`).
    let cookie_clear = |reason: NotTracked, recording_call: bool| {
        visitor
            .cookie_token
            .filter(|_| reason.clears_cookie(recording_call))
            .map(|_| clear_profile_cookie(visitor.host))
    };
    let not_tracked =
        |reason: NotTracked, decision: Decision<'r>, set_cookie: Option<String>| Resolved {
            site: visitor.site,
            decision,
            tracking: Tracking::Off(reason),
            token: None,
            fresh: None,
            set_cookie,
            recorded: &[],
            profile: None,
            consent: visitor.consent,
        };

    match call {
        Call::Collect { events, body_token } => {
            if let Some(reason) = visitor.not_tracked {
                return Ok(not_tracked(
                    reason,
                    rules.decide_default(),
                    cookie_clear(reason, true),
                ));
            }
            let keys = keys.map_err(ApiError::clone)?;
            // In proxy mode the profile travels in the first-party cookie, which wins over a
            // token the snippet may also keep. (The snippet does not report the page view of a
            // page the worker served and personalised, recognised by `data-intent-tier` on
            // `<html>`; it does report single-page navigations, which only it can see.)
            let cookie_mode = visitor.cookie_token.is_some() || visitor.first_party;
            let token = visitor.cookie_token.or(body_token);
            if events.is_empty() {
                // Nothing to record: the visitor stays exactly as they were, as for
                // `/v1/decide` (a new visitor gets no token, a known one theirs unchanged and
                // no cookie). Signing the profile again would give a new visitor a token of
                // no activity, which the next call would find expired.
                return Ok(unchanged(rules, keys, visitor, token, now, |d| d));
            }
            let out = process(
                rules,
                keys,
                visitor.site,
                token,
                events,
                now,
                visitor.new_id,
            );
            let set_cookie =
                cookie_mode.then(|| set_profile_cookie(&out.token, visitor.host, horizon));
            Ok(Resolved {
                site: visitor.site,
                decision: out.decision,
                tracking: Tracking::On,
                token: Some(out.token),
                fresh: out.fresh,
                set_cookie,
                recorded: events,
                profile: Some(out.profile),
                consent: visitor.consent,
            })
        }
        Call::Decide {
            header_token,
            slots,
        } => {
            let keep = |decision: Decision<'r>| match slots {
                Some(slots) => {
                    let names: Vec<&str> = slots.iter().map(String::as_str).collect();
                    decision.only_slots(&names)
                }
                None => decision,
            };
            if let Some(reason) = visitor.not_tracked {
                // Nothing is recorded here, so a cookie is left for the next recording call to
                // clear; but a denied consent deletes it at once (the snippet calls this route
                // the moment consent is withdrawn).
                return Ok(not_tracked(
                    reason,
                    keep(rules.decide_default()),
                    cookie_clear(reason, false),
                ));
            }
            let keys = keys.map_err(ApiError::clone)?;
            let token = header_token
                .filter(|t| !t.trim().is_empty())
                .or(visitor.cookie_token);
            Ok(unchanged(rules, keys, visitor, token, now, keep))
        }
        Call::Page { view } => {
            if let Some(reason) = visitor.not_tracked {
                return Ok(not_tracked(
                    reason,
                    rules.decide_default(),
                    cookie_clear(reason, true),
                ));
            }
            let Ok(keys) = keys else {
                return Ok(Resolved {
                    site: visitor.site,
                    decision: rules.decide_default(),
                    tracking: Tracking::Unsigned,
                    token: None,
                    fresh: None,
                    set_cookie: None,
                    recorded: &[],
                    profile: None,
                    consent: visitor.consent,
                });
            };
            let recorded = view.map(std::slice::from_ref).unwrap_or(&[]);
            let out = process(
                rules,
                keys,
                visitor.site,
                visitor.cookie_token,
                recorded,
                now,
                visitor.new_id,
            );
            // A speculative load of a new visitor stores nothing; one of a known visitor keeps
            // their cookie's lifetime running, as any visit does.
            let set_cookie = (view.is_some() || visitor.cookie_token.is_some())
                .then(|| set_profile_cookie(&out.token, visitor.host, horizon));
            Ok(Resolved {
                site: visitor.site,
                decision: out.decision,
                tracking: Tracking::On,
                token: Some(out.token),
                fresh: out.fresh,
                set_cookie,
                recorded,
                profile: Some(out.profile),
                consent: visitor.consent,
            })
        }
    }
}

/// A call that records nothing (`/v1/decide`, a collect call without events): the decision
/// for `token`, which the visitor keeps as they sent it when it was valid (`None`, with the
/// reason in `fresh`, when it was discarded: a token the worker will not read is no use to
/// keep), and no cookie set.
fn unchanged<'r, 'a, 'e>(
    rules: &'r Rules,
    keys: &Keyring,
    visitor: &Visitor<'a>,
    token: Option<&'a str>,
    now: Timestamp,
    keep: impl FnOnce(Decision<'r>) -> Decision<'r>,
) -> Resolved<'r, 'a, 'e> {
    let out = process(rules, keys, visitor.site, token, &[], now, visitor.new_id);
    let kept = match out.fresh {
        None => token.map(str::to_owned),
        Some(_) => None,
    };
    Resolved {
        site: visitor.site,
        decision: keep(out.decision),
        tracking: Tracking::On,
        token: kept,
        fresh: out.fresh,
        set_cookie: None,
        recorded: &[],
        profile: Some(out.profile),
        consent: visitor.consent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "www.acme.com";

    fn keys() -> Keyring {
        Keyring::parse("k1:a-test-secret-of-at-least-32-characters")
            .unwrap()
            .for_sites(["demo"])
    }

    fn now() -> Timestamp {
        Timestamp::from_secs(1_764_000_000)
    }

    /// The tests' visitor id: fixed bytes, so that tokens are the same from run to run.
    fn new_id() -> Option<VisitorId> {
        Some(VisitorId::from_random_bytes(*b"test-visitor"))
    }

    fn visitor<'a>(not_tracked: Option<NotTracked>, cookie: Option<&'a str>) -> Visitor<'a> {
        Visitor {
            site: "demo",
            not_tracked,
            cookie_token: cookie,
            first_party: false,
            host: HOST,
            new_id,
            consent: Consent::Implied,
        }
    }

    fn pricing() -> Event<'static> {
        Event::pageview("https://www.acme.com/pricing", None)
    }

    /// A token of a visitor who viewed pricing `n` times.
    fn token_after(n: usize) -> String {
        let rules = Rules::builtin();
        let keys = keys();
        let mut token: Option<String> = None;
        for i in 0..n {
            let out = process(
                rules,
                &keys,
                "demo",
                token.as_deref(),
                &[pricing()],
                now().plus_secs(i as i64 * 60),
                new_id,
            );
            token = Some(out.token);
        }
        token.unwrap_or_default()
    }

    fn names(headers: &[(&'static str, String)]) -> Vec<&'static str> {
        headers.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn collect_records_and_the_cookie_wins() {
        let rules = Rules::builtin();
        let keys = keys();
        let ready = token_after(3);
        let events = [pricing()];
        // The body's token alone: no cookie is set (the snippet keeps the token).
        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, None),
            Call::Collect {
                events: &events,
                body_token: Some(&ready),
            },
            now().plus_secs(600),
        )
        .unwrap();
        assert_eq!(r.decision.tier, "ready");
        assert!(r.may_store());
        assert_eq!(r.recorded.len(), 1);
        assert_eq!(names(&r.headers()), ["x-intent-tier"]);
        assert!(r.answer_json().contains("\"tier\":\"ready\""));

        // A call from a page of the worker's own origin starts the cookie (proxy mode, a
        // visitor without one yet: one who has just consented).
        let r = resolve(
            rules,
            Ok(&keys),
            &Visitor {
                first_party: true,
                ..visitor(None, None)
            },
            Call::Collect {
                events: &events,
                body_token: Some(&ready),
            },
            now().plus_secs(600),
        )
        .unwrap();
        assert_eq!(names(&r.headers()), ["x-intent-tier", "set-cookie"]);

        // A cookie wins over the body, and is set again.
        let fresh_cookie = token_after(1);
        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, Some(&fresh_cookie)),
            Call::Collect {
                events: &events,
                body_token: Some(&ready),
            },
            now().plus_secs(600),
        )
        .unwrap();
        assert_ne!(r.decision.tier, "ready");
        assert_eq!(names(&r.headers()), ["x-intent-tier", "set-cookie"]);
    }

    #[test]
    fn not_tracked_stores_nothing_and_clears_the_cookie_where_it_records() {
        let rules = Rules::builtin();
        let keys = keys();
        let cookie = token_after(1);
        let events = [pricing()];
        let v = visitor(Some(NotTracked::GlobalPrivacyControl), Some(&cookie));
        let collect = resolve(
            rules,
            Ok(&keys),
            &v,
            Call::Collect {
                events: &events,
                body_token: None,
            },
            now(),
        )
        .unwrap();
        assert!(!collect.may_store());
        assert!(collect.recorded.is_empty());
        assert!(collect.profile.is_none());
        assert_eq!(collect.token, None);
        let h = collect.headers();
        assert_eq!(h[0], ("x-intent-tracking", "off; gpc".to_owned()));
        assert!(h[1].1.contains("Max-Age=0"), "{h:?}");
        assert!(collect.answer_json().starts_with("{\"profile\":null"));

        let view = pricing();
        let page = resolve(
            rules,
            Ok(&keys),
            &v,
            Call::Page { view: Some(&view) },
            now(),
        )
        .unwrap();
        assert_eq!(names(&page.headers()), ["x-intent-tracking", "set-cookie"]);

        // Decide records nothing and leaves the cookie alone.
        let decide = resolve(
            rules,
            Ok(&keys),
            &v,
            Call::Decide {
                header_token: None,
                slots: None,
            },
            now(),
        )
        .unwrap();
        assert_eq!(names(&decide.headers()), ["x-intent-tracking"]);
    }

    /// `CONSENT=required` without `intent_consent=granted`: nothing recorded or stored, the
    /// cookie neither read nor renewed nor deleted, default content, no tier on `<html>`, and
    /// the injected tag says consent is required. A denied consent deletes the cookie
    /// everywhere, `/v1/decide` included.
    #[test]
    fn without_consent_nothing_is_read_or_written_and_denied_clears_the_cookie() {
        let rules = Rules::builtin();
        let keys = keys();
        let ready = token_after(3);
        let view = pricing();
        let v = Visitor {
            consent: Consent::Required,
            ..visitor(Some(NotTracked::NoConsent), Some(&ready))
        };
        let page = resolve(
            rules,
            Ok(&keys),
            &v,
            Call::Page { view: Some(&view) },
            now(),
        )
        .unwrap();
        assert!(!page.may_store());
        assert!(page.recorded.is_empty());
        assert_eq!(page.token, None);
        assert_eq!(page.decision.tier, rules.decide_default().tier);
        assert_eq!(
            page.headers(),
            [("x-intent-tracking", "off; no-consent".to_owned())]
        );
        let plan = page.page_plan();
        assert_eq!(plan.tier, None);
        assert!(plan.consent_required);
        assert!(plan
            .loader_tag
            .is_some_and(|t| t.contains(r#"data-consent="required""#)));
        for call in [
            Call::Collect {
                events: std::slice::from_ref(&view),
                body_token: Some(&ready),
            },
            Call::Decide {
                header_token: Some(&ready),
                slots: None,
            },
        ] {
            let r = resolve(rules, Ok(&keys), &v, call, now()).unwrap();
            assert!(!r.may_store());
            assert_eq!(r.token, None);
            assert_eq!(names(&r.headers()), ["x-intent-tracking"]);
            assert!(r.answer_json().starts_with("{\"profile\":null"));
        }

        let denied = visitor(Some(NotTracked::ConsentDenied), Some(&ready));
        for call in [
            Call::Page { view: Some(&view) },
            Call::Decide {
                header_token: None,
                slots: None,
            },
        ] {
            let r = resolve(rules, Ok(&keys), &denied, call, now()).unwrap();
            assert!(!r.may_store());
            let h = r.headers();
            assert_eq!(
                h[0],
                ("x-intent-tracking", "off; consent-denied".to_owned())
            );
            assert!(h[1].1.starts_with("intent_profile=;") && h[1].1.contains("Max-Age=0"));
        }
        // An implied site's page keeps its tier, and its tag asks for nothing.
        let plan = resolve(
            rules,
            Ok(&keys),
            &visitor(None, None),
            Call::Page { view: Some(&view) },
            now(),
        )
        .unwrap()
        .page_plan();
        assert!(plan.tier.is_some() && !plan.consent_required);
        assert!(plan.loader_tag.is_some_and(|t| !t.contains("data-consent")));
    }

    /// Issue 20, item 11: `"events": []` gave a new visitor a token of no activity, which the
    /// next call found expired; a known visitor's token must come back as it was.
    #[test]
    fn issue_20_11_a_collect_call_without_events_keeps_the_visitor_as_they_were() {
        let rules = Rules::builtin();
        let keys = keys();
        fn empty<'r, 'a>(
            rules: &'r Rules,
            keys: &Keyring,
            v: &Visitor<'a>,
            body_token: Option<&'a str>,
        ) -> Resolved<'r, 'a, 'static> {
            resolve(
                rules,
                Ok(keys),
                v,
                Call::Collect {
                    events: &[],
                    body_token,
                },
                now().plus_secs(600),
            )
            .unwrap()
        }
        let r = empty(rules, &keys, &visitor(None, None), None);
        assert_eq!(r.token, None);
        assert_eq!(r.fresh, None);
        assert!(r.recorded.is_empty());
        assert!(r.answer_json().starts_with("{\"profile\":null"));

        let ready = token_after(3);
        let r = empty(rules, &keys, &visitor(None, None), Some(&ready));
        assert_eq!(r.token.as_deref(), Some(ready.as_str()));
        assert_eq!(r.decision.tier, "ready");
        let r = empty(rules, &keys, &visitor(None, Some(&ready)), None);
        assert_eq!(r.token.as_deref(), Some(ready.as_str()));
        assert_eq!(names(&r.headers()), ["x-intent-tier"], "no cookie is set");
    }

    #[test]
    fn decide_keeps_a_valid_token_and_drops_a_bad_one() {
        let rules = Rules::builtin();
        let keys = keys();
        let token = token_after(3);
        let slots = vec!["hero".to_owned()];
        let call = |t| Call::Decide {
            header_token: t,
            slots: Some(&slots),
        };
        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, None),
            call(Some(&token)),
            now(),
        )
        .unwrap();
        assert_eq!(r.token.as_deref(), Some(token.as_str()));
        assert_eq!(r.decision.variants().count(), 1);
        assert!(r.recorded.is_empty());

        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, None),
            call(Some("junk")),
            now(),
        )
        .unwrap();
        assert_eq!(r.token, None);
        assert!(r.fresh.is_some());
        assert_eq!(names(&r.headers()), ["x-intent-tier", "x-intent-fresh"]);

        // A blank header falls back to the cookie.
        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, Some(&token)),
            call(Some("  ")),
            now(),
        )
        .unwrap();
        assert_eq!(r.token.as_deref(), Some(token.as_str()));
    }

    #[test]
    fn pages_without_keys_show_the_default_and_the_api_says_why() {
        let rules = Rules::builtin();
        let missing = ApiError::not_configured("no keys");
        let view = pricing();
        let page = resolve(
            rules,
            Err(&missing),
            &visitor(None, None),
            Call::Page { view: Some(&view) },
            now(),
        )
        .unwrap();
        assert_eq!(page.tracking, Tracking::Unsigned);
        assert!(page.headers().is_empty());
        let err = resolve(
            rules,
            Err(&missing),
            &visitor(None, None),
            Call::Collect {
                events: &[],
                body_token: None,
            },
            now(),
        )
        .unwrap_err();
        assert_eq!(err.status, 503);
        assert!(!page_records(None, false));
        assert!(page_records(None, true));
        assert!(!page_records(Some(NotTracked::Bot), true));
    }

    #[test]
    fn speculative_loads_record_nothing_and_set_no_cookie_for_a_new_visitor() {
        let rules = Rules::builtin();
        let keys = keys();
        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, None),
            Call::Page { view: None },
            now(),
        )
        .unwrap();
        assert!(r.recorded.is_empty());
        assert_eq!(names(&r.headers()), ["x-intent-tier"]);
        let cookie = token_after(1);
        let r = resolve(
            rules,
            Ok(&keys),
            &visitor(None, Some(&cookie)),
            Call::Page { view: None },
            now(),
        )
        .unwrap();
        assert_eq!(names(&r.headers()), ["x-intent-tier", "set-cookie"]);
        let plan = r.page_plan();
        assert_eq!(plan.tier.as_deref(), Some(r.decision.tier));
        assert!(plan
            .loader_tag
            .is_some_and(|t| t.contains("data-site=\"demo\"")));
    }
}
