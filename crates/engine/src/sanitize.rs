//! What the event log keeps of an event: exactly what the rules can read, and the identity from
//! `identify`, nothing else.
//!
//! | event | kept | dropped |
//! | --- | --- | --- |
//! | `pageview` | the URL's scheme and host, path and `utm_*` parameters; the referrer's scheme and host | every other query parameter, the fragment, user and password in the URL, the referrer's path and query, the title |
//! | `engagement` | the URL as for a page view; visible seconds; scroll | as for a page view |
//! | `click` | the page URL as for a page view; the target, and of a target that is a URL what a page URL keeps | a target URL's user, other query parameters and fragment |
//! | `event` | the name and props | nothing |
//! | `identify` | the normalised email, a normalised `traits.company_domain` | every other trait |
//!
//! Events never carry an IP address or a user agent, so no log line can hold one.
//!
//! The rules read a page's path, the `utm_source`, `utm_medium` and `utm_campaign` of a landing
//! page, the referrer's host, engagement, event names and props, and click targets. So folding
//! a sanitised event gives the same profile as folding the event itself (a property test holds
//! this), except for a click rule whose target pattern tests a link's user name, fragment or
//! query string other than UTM: the log does not keep them, so replaying it cannot see them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::event::{Event, PropValue};
use crate::identity::{company_domain, Email, COMPANY_DOMAIN};
use crate::url;

impl Event<'_> {
    /// The event as the event log keeps it (see the module's table). Sanitising twice gives the
    /// same as sanitising once.
    pub fn sanitized(&self) -> Event<'static> {
        match self {
            Event::Pageview { url, referrer, .. } => Event::Pageview {
                url: Cow::Owned(sanitize_url(url)),
                referrer: referrer
                    .as_deref()
                    .and_then(referrer_origin)
                    .map(Cow::Owned),
                title: None,
            },
            Event::Engagement {
                url,
                seconds,
                scroll,
            } => Event::Engagement {
                url: Cow::Owned(sanitize_url(url)),
                seconds: *seconds,
                scroll: *scroll,
            },
            Event::Click { url, target } => Event::Click {
                url: url.as_deref().map(|u| Cow::Owned(sanitize_url(u))),
                target: Cow::Owned(if url::scheme_end(target).is_some() {
                    sanitize_url(target)
                } else {
                    target.clone().into_owned()
                }),
            },
            Event::Event { name, props } => Event::Event {
                name: Cow::Owned(name.clone().into_owned()),
                props: props.clone(),
            },
            Event::Identify { email, traits } => {
                let mut kept = BTreeMap::new();
                if let Some(domain) = traits
                    .get(COMPANY_DOMAIN)
                    .and_then(|d| company_domain(&d.as_text()).ok())
                {
                    kept.insert(COMPANY_DOMAIN.to_owned(), PropValue::Text(domain));
                }
                Event::Identify {
                    email: email
                        .as_deref()
                        .and_then(|e| Email::parse(e).ok())
                        .map(|e| Cow::Owned(e.as_str().to_owned())),
                    traits: kept,
                }
            }
        }
    }
}

/// Whether `s` is a URL scheme (`https`, `android-app`): a letter, then letters, digits, `+`,
/// `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
}

/// `url` with only its scheme and host, path and `utm_*` query parameters, read exactly as
/// [`url::path_of`] and [`url::query_param`] read them, so that both read the same from the
/// result. A relative URL stays relative.
fn sanitize_url(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(256));
    let rest = match url::scheme_end(raw) {
        Some(i) => {
            let scheme = &raw[..i];
            let rest = &raw[i + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let host = rest[..end].rsplit('@').next().unwrap_or("");
            // A scheme that is not one (it would hold a `?` the query reading could take for
            // the query's start) is written as `https`: only its place matters to the reading.
            out.push_str(if is_scheme(scheme) { scheme } else { "https" });
            out.push_str("://");
            out.push_str(host);
            &rest[end..]
        }
        None => raw,
    };
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    out.push_str(&rest[..path_end]);
    let mut first = true;
    for pair in url::query_of(raw).split('&') {
        if pair.starts_with("utm_") {
            out.push(if first { '?' } else { '&' });
            out.push_str(pair);
            first = false;
        }
    }
    out
}

/// The referrer's scheme and host (lower case, without user, password or port), or `None` when
/// it has no host.
fn referrer_origin(referrer: &str) -> Option<String> {
    url::host_of(referrer)?;
    let i = url::scheme_end(referrer)?;
    let scheme = &referrer[..i];
    let rest = &referrer[i + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let scheme = if is_scheme(scheme) { scheme } else { "https" };
    Some(format!("{}://{host}", scheme.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(url: &str, referrer: Option<&str>) -> (String, Option<String>) {
        match Event::pageview(url, referrer).sanitized() {
            Event::Pageview {
                url,
                referrer,
                title,
            } => {
                assert_eq!(title, None);
                (url.into_owned(), referrer.map(Cow::into_owned))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keeps_no_query_string_but_utm() {
        assert_eq!(
            page("https://acme.test/pricing?utm_source=LinkedIn&email=jane%40acme.com&utm_campaign=nov#plans", None).0,
            "https://acme.test/pricing?utm_source=LinkedIn&utm_campaign=nov"
        );
        assert_eq!(
            page("https://jane:secret@acme.test:8443/docs?token=abc", None).0,
            "https://acme.test:8443/docs"
        );
        assert_eq!(page("/pricing?session=42", None).0, "/pricing");
        assert_eq!(page("https://acme.test", None).0, "https://acme.test");
    }

    #[test]
    fn keeps_the_referrers_host_only() {
        assert_eq!(
            page(
                "/",
                Some("https://www.Google.com/search?q=jane+doe+acme&client=x")
            )
            .1
            .as_deref(),
            Some("https://www.google.com")
        );
        assert_eq!(
            page("/", Some("http://user:pw@news.example.org:8080/item?id=1"))
                .1
                .as_deref(),
            Some("http://news.example.org")
        );
        assert_eq!(page("/", Some("")).1, None);
        assert_eq!(page("/", Some("/relative/only")).1, None);
    }

    #[test]
    fn click_targets_that_are_urls_lose_their_query() {
        let click = Event::Click {
            url: Some(Cow::Borrowed("https://acme.test/pricing?x=1")),
            target: Cow::Borrowed("https://calendly.com/acme/demo?email=jane@acme.com"),
        };
        let Event::Click { url, target } = click.sanitized() else {
            panic!()
        };
        assert_eq!(url.as_deref(), Some("https://acme.test/pricing"));
        assert_eq!(target, "https://calendly.com/acme/demo");
        let named = Event::Click {
            url: None,
            target: Cow::Borrowed("pricing-plan-team"),
        };
        assert_eq!(named.sanitized(), named);
    }

    #[test]
    fn identify_keeps_the_email_and_company_domain_only() {
        let mut traits = BTreeMap::new();
        traits.insert("name".to_owned(), PropValue::Text("Jane Doe".to_owned()));
        traits.insert(
            COMPANY_DOMAIN.to_owned(),
            PropValue::Text("https://www.Acme.com/".to_owned()),
        );
        let e = Event::Identify {
            email: Some(Cow::Borrowed(" Jane@ACME.com")),
            traits,
        };
        let Event::Identify { email, traits } = e.sanitized() else {
            panic!()
        };
        assert_eq!(email.as_deref(), Some("jane@acme.com"));
        assert_eq!(traits.len(), 1);
        assert_eq!(
            traits.get(COMPANY_DOMAIN),
            Some(&PropValue::Text("acme.com".to_owned()))
        );
    }
}
