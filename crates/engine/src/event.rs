//! What visitors do, as the snippet, proxy mode and event logs report it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::config::{ConfigError, FieldPath};
use crate::identity::{Email, COMPANY_DOMAIN};
use crate::limits::Limits;
use crate::time::Timestamp;

mod fast;

/// One thing a visitor did. The `type` field says which.
///
/// Its text borrows from the request body it was read from where it can (`'a`); an event
/// that owns its text is an `Event<'static>` ([`Event::into_owned`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    try_from = "RawEvent<'a>",
    bound(deserialize = "'de: 'a")
)]
pub enum Event<'a> {
    /// A page was viewed.
    Pageview {
        /// The page's URL (or path).
        url: Cow<'a, str>,
        /// The referring page's URL, if any. Only its host is ever used, and only to test it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        referrer: Option<Cow<'a, str>>,
        /// The page's title. Accepted for logs; never stored on a profile.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<Cow<'a, str>>,
    },
    /// Time the page was visible and how far it was scrolled, since the last report.
    Engagement {
        /// The page's URL.
        url: Cow<'a, str>,
        /// Visible seconds since the previous engagement report for this page view.
        #[serde(default)]
        seconds: f64,
        /// The deepest scroll so far, in percent of the page.
        #[serde(default)]
        scroll: f64,
    },
    /// A tracked element or an outbound link was clicked.
    Click {
        /// The page the click happened on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<Cow<'a, str>>,
        /// The tracked element's name (`data-intent-track`) or the link's URL.
        target: Cow<'a, str>,
    },
    /// A custom event, from `intent('event', name, props)`.
    Event {
        /// The event's name.
        name: Cow<'a, str>,
        /// A few properties.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        props: BTreeMap<String, PropValue>,
    },
    /// Who the visitor is, from `intent('identify', email, traits)`: an email address and a few
    /// traits. It is not behaviour: folding ignores it, so neither the email nor the traits ever
    /// enter a profile or a token. Only the audience store keeps it ([`crate::Email`]).
    Identify {
        /// The email address as sent; [`crate::Email::parse`] checks and normalises it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<Cow<'a, str>>,
        /// A few traits; `company_domain` names the visitor's account when the email cannot.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        traits: BTreeMap<String, PropValue>,
    },
}

/// Text that borrows from the body unless it has escapes to undo. serde borrows a `Cow` only
/// when it is a field's whole type, never inside an `Option`; `Option<Text>` does.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads an optional text field, borrowing it from the body where it can.
fn optional_text<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

/// An event as it arrives, read field by field in one pass. serde's internally tagged enums
/// buffer every event before reading it, which made parsing the slowest step of a collect call;
/// this flat form is read directly and then checked into an [`Event`]. Its text borrows from
/// the body unless it has escapes to undo.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    url: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    referrer: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    title: Option<Cow<'a, str>>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    scroll: Option<f64>,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    target: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    props: Option<BTreeMap<String, PropValue>>,
    #[serde(default, borrow, deserialize_with = "optional_text")]
    email: Option<Cow<'a, str>>,
    #[serde(default)]
    traits: Option<BTreeMap<String, PropValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Pageview,
    Engagement,
    Click,
    Event,
    Identify,
}

impl<'a> TryFrom<RawEvent<'a>> for Event<'a> {
    type Error = String;

    fn try_from(raw: RawEvent<'a>) -> Result<Event<'a>, String> {
        fn need<'a>(field: Option<Cow<'a, str>>, name: &str) -> Result<Cow<'a, str>, String> {
            field.ok_or_else(|| format!("missing field `{name}`"))
        }
        Ok(match raw.kind {
            Kind::Pageview => Event::Pageview {
                url: need(raw.url, "url")?,
                referrer: raw.referrer,
                title: raw.title,
            },
            Kind::Engagement => Event::Engagement {
                url: need(raw.url, "url")?,
                seconds: raw.seconds.unwrap_or(0.0),
                scroll: raw.scroll.unwrap_or(0.0),
            },
            Kind::Click => Event::Click {
                url: raw.url,
                target: need(raw.target, "target")?,
            },
            Kind::Event => Event::Event {
                name: need(raw.name, "name")?,
                props: raw.props.unwrap_or_default(),
            },
            Kind::Identify => Event::Identify {
                email: raw.email,
                traits: raw.traits.unwrap_or_default(),
            },
        })
    }
}

impl Event<'_> {
    /// A page view, as proxy mode records it from the request itself.
    pub fn pageview(url: &str, referrer: Option<&str>) -> Event<'static> {
        Event::Pageview {
            url: Cow::Owned(url.to_owned()),
            referrer: referrer.map(|r| Cow::Owned(r.to_owned())),
            title: None,
        }
    }

    /// The same event, owning its text.
    pub fn into_owned(self) -> Event<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        match self {
            Event::Pageview {
                url,
                referrer,
                title,
            } => Event::Pageview {
                url: own(url),
                referrer: referrer.map(own),
                title: title.map(own),
            },
            Event::Engagement {
                url,
                seconds,
                scroll,
            } => Event::Engagement {
                url: own(url),
                seconds,
                scroll,
            },
            Event::Click { url, target } => Event::Click {
                url: url.map(own),
                target: own(target),
            },
            Event::Event { name, props } => Event::Event {
                name: own(name),
                props,
            },
            Event::Identify { email, traits } => Event::Identify {
                email: email.map(own),
                traits,
            },
        }
    }

    /// Checks the event against the size limits; the message names the field. `path` builds the
    /// event's path only when there is an error to report.
    fn check(&self, path: &dyn Fn() -> FieldPath) -> Result<(), ConfigError> {
        let too_long = |field: &str, len: usize, max: usize| {
            Err(ConfigError::at(
                path().key(field),
                format!("{len} bytes is too long; at most {max}"),
            ))
        };
        match self {
            Event::Pageview {
                url,
                referrer,
                title,
            } => {
                if url.len() > Limits::URL_BYTES {
                    return too_long("url", url.len(), Limits::URL_BYTES);
                }
                if let Some(r) = referrer.as_ref().filter(|r| r.len() > Limits::URL_BYTES) {
                    return too_long("referrer", r.len(), Limits::URL_BYTES);
                }
                if let Some(t) = title.as_ref().filter(|t| t.len() > Limits::TITLE_BYTES) {
                    return too_long("title", t.len(), Limits::TITLE_BYTES);
                }
            }
            Event::Engagement {
                url,
                seconds,
                scroll,
            } => {
                if url.len() > Limits::URL_BYTES {
                    return too_long("url", url.len(), Limits::URL_BYTES);
                }
                if !seconds.is_finite() || *seconds < 0.0 {
                    return Err(ConfigError::at(
                        path().key("seconds"),
                        "expected a number of seconds, 0 or more".to_owned(),
                    ));
                }
                if !scroll.is_finite() || !(0.0..=100.0).contains(scroll) {
                    return Err(ConfigError::at(
                        path().key("scroll"),
                        "expected a percentage from 0 to 100".to_owned(),
                    ));
                }
            }
            Event::Click { url, target } => {
                if let Some(u) = url.as_ref().filter(|u| u.len() > Limits::URL_BYTES) {
                    return too_long("url", u.len(), Limits::URL_BYTES);
                }
                if target.len() > Limits::URL_BYTES {
                    return too_long("target", target.len(), Limits::URL_BYTES);
                }
            }
            Event::Event { name, props } => {
                if name.is_empty() || name.len() > Limits::NAME_BYTES {
                    return Err(ConfigError::at(
                        path().key("name"),
                        format!("expected a name of 1 to {} bytes", Limits::NAME_BYTES),
                    ));
                }
                check_props(props, &|| path().key("props"))?;
            }
            Event::Identify { email, traits } => {
                if let Some(email) = email {
                    Email::parse(email)
                        .map_err(|e| ConfigError::at(path().key("email"), e.to_string()))?;
                }
                check_props(traits, &|| path().key("traits"))?;
                let domain = traits.get(COMPANY_DOMAIN);
                if let Some(domain) = domain {
                    crate::identity::company_domain(&domain.as_text()).map_err(|e| {
                        ConfigError::at(path().key("traits").key(COMPANY_DOMAIN), e.to_string())
                    })?;
                }
                if email.is_none() && domain.is_none() {
                    return Err(ConfigError::at(
                        path().key("email"),
                        format!("give an email address, a `traits.{COMPANY_DOMAIN}`, or both"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Checks a custom event's props or an identify event's traits against the limits.
fn check_props(
    props: &BTreeMap<String, PropValue>,
    path: &dyn Fn() -> FieldPath,
) -> Result<(), ConfigError> {
    if props.len() > Limits::PROPS {
        return Err(ConfigError::at(
            path(),
            format!("{} properties; at most {}", props.len(), Limits::PROPS),
        ));
    }
    for (k, v) in props {
        if k.len() > Limits::PROP_BYTES || v.as_text().len() > Limits::PROP_BYTES {
            return Err(ConfigError::at(
                path().key(k),
                format!("keys and values are at most {} bytes", Limits::PROP_BYTES),
            ));
        }
    }
    Ok(())
}

/// A custom event's property value: text, a number or true/false.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// True or false.
    Bool(bool),
}

impl PropValue {
    /// The value as text, the way conditions compare it (`2` for the number 2.0).
    pub fn as_text(&self) -> String {
        match self {
            PropValue::Text(s) => s.clone(),
            PropValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            PropValue::Number(n) => n.to_string(),
            PropValue::Bool(b) => b.to_string(),
        }
    }
}

impl Serialize for PropValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PropValue::Text(t) => s.serialize_str(t),
            PropValue::Number(n) => s.serialize_f64(*n),
            PropValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for PropValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = PropValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text, a number or true/false")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PropValue, E> {
                Ok(PropValue::Text(v.to_owned()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PropValue, E> {
                Ok(PropValue::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PropValue, E> {
                Ok(PropValue::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PropValue, E> {
                Ok(PropValue::Number(v as f64))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PropValue, E> {
                Ok(PropValue::Bool(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The body of `POST /v1/collect`. Its text borrows from the body it was read from (`'a`)
/// unless it has escapes to undo.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CollectRequest<'a> {
    /// The site's id, as in the script tag's `data-site`.
    #[serde(borrow)]
    pub site: Cow<'a, str>,
    /// The visitor's token from the previous answer, or `null` for a new visitor.
    #[serde(default, borrow, deserialize_with = "optional_text")]
    pub profile: Option<Cow<'a, str>>,
    /// What happened since the last call, oldest first.
    #[serde(default, borrow)]
    pub events: Vec<Event<'a>>,
}

/// A request body that cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError(ConfigError);

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Request bodies are usually one line, so the field says more than a line number.
        let field = self.0.field();
        if field.is_empty() {
            f.write_str(self.0.message())
        } else {
            write!(f, "`{field}`: {}", self.0.message())
        }
    }
}

impl std::error::Error for RequestError {}

impl CollectRequest<'_> {
    /// The same request, owning its text.
    pub fn into_owned(self) -> CollectRequest<'static> {
        CollectRequest {
            site: Cow::Owned(self.site.into_owned()),
            profile: self.profile.map(|p| Cow::Owned(p.into_owned())),
            events: self.events.into_iter().map(Event::into_owned).collect(),
        }
    }

    /// Reads and checks a collect body: JSON syntax, types, known event kinds, and limits.
    ///
    /// The body must be a JSON object: serde would also read a struct from an array of its
    /// fields in order (`["demo", null, []]`), which is no part of the contract. Fields the
    /// request or an event does not know are ignored, so that a snippet newer than the worker
    /// never loses a visitor's events to a field added later; they are never stored.
    pub fn from_json(body: &str) -> Result<CollectRequest<'_>, RequestError> {
        if !body.trim_start().starts_with('{') {
            return Err(RequestError(not_an_object(body)));
        }
        // The fast path: the snippet's bodies in one pass (`fast`), then a plain parse. Only a
        // body that fails both is parsed again, tracking the path, to name the field in the
        // error; tracking it on every call doubles the cost.
        if let Some(req) = fast::read(body) {
            req.check().map_err(RequestError)?;
            return Ok(req);
        }
        if let Ok(req) = serde_json::from_str::<CollectRequest>(body) {
            req.check().map_err(RequestError)?;
            return Ok(req);
        }
        let mut de = serde_json::Deserializer::from_str(body);
        let req: CollectRequest = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| RequestError(ConfigError::from_serde(e)))?;
        de.end()
            .map_err(|e| RequestError(ConfigError::from_json(FieldPath::default(), e)))?;
        req.check().map_err(RequestError)?;
        Ok(req)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let root = FieldPath::default();
        if !valid_site(&self.site) {
            return Err(ConfigError::at(
                root.key("site"),
                format!(
                    "expected a site id of 1 to {} letters, digits, `-` or `_`",
                    Limits::SITE_BYTES
                ),
            ));
        }
        if self
            .profile
            .as_ref()
            .is_some_and(|p| p.len() > 4 * Limits::TOKEN_BYTES)
        {
            return Err(ConfigError::at(
                root.key("profile"),
                "the token is far longer than any token this service issues".to_owned(),
            ));
        }
        if self.events.len() > Limits::EVENTS_PER_CALL {
            return Err(ConfigError::at(
                root.key("events"),
                format!(
                    "{} events in one call; send at most {}",
                    self.events.len(),
                    Limits::EVENTS_PER_CALL
                ),
            ));
        }
        for (i, e) in self.events.iter().enumerate() {
            e.check(&|| root.key("events").index(i))?;
        }
        Ok(())
    }
}

/// Whether `site` is a well-formed site id.
pub(crate) fn valid_site(site: &str) -> bool {
    !site.is_empty()
        && site.len() <= Limits::SITE_BYTES
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One line of an event log (JSON Lines), as `intentctl simulate` reads it:
/// `{"visitor": "v1", "ts": "2026-11-20T10:00:00Z", "type": "pageview", "url": "..."}`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// Who did it (an opaque id from the log).
    pub visitor: String,
    /// When.
    pub at: Timestamp,
    /// What.
    pub event: Event<'static>,
}

/// A log line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogError {
    /// The 1-based line of the log.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for LogError {}

#[derive(Deserialize)]
struct RawLogLine<'a> {
    visitor: String,
    ts: String,
    #[serde(flatten, borrow)]
    event: Event<'a>,
}

impl LogEvent {
    /// Reads one log line; `line` is its 1-based number, for the error.
    pub fn parse(text: &str, line: usize) -> Result<LogEvent, LogError> {
        let err = |message: String| LogError { line, message };
        let raw: RawLogLine = serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            err(crate::config::friendlier(match msg.rfind(" at line ") {
                Some(i) => &msg[..i],
                None => &msg,
            }))
        })?;
        let at = Timestamp::parse_rfc3339(&raw.ts).map_err(|e| err(format!("`ts`: {e}")))?;
        raw.event
            .check(&FieldPath::default)
            .map_err(|e| err(e.to_string()))?;
        Ok(LogEvent {
            visitor: raw.visitor,
            at,
            event: raw.event.into_owned(),
        })
    }
}

/// The error for a collect body that is not a JSON object, in the contract's words.
fn not_an_object(body: &str) -> ConfigError {
    const EXPECTED: &str =
        r#"expected a JSON object `{"site": "...", "profile": ..., "events": [...]}`"#;
    let found = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(_)) => "found an array",
        Ok(serde_json::Value::String(_)) => "found a string",
        Ok(serde_json::Value::Number(_)) => "found a number",
        Ok(serde_json::Value::Bool(_)) => "found `true` or `false`",
        Ok(serde_json::Value::Null) => "found `null`",
        Ok(serde_json::Value::Object(_)) | Err(_) if body.trim().is_empty() => {
            "found an empty body"
        }
        Ok(serde_json::Value::Object(_)) | Err(_) => "found text that is not JSON",
    };
    ConfigError::at(FieldPath::default(), format!("{EXPECTED}, {found}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_collect_body() {
        let body = r#"{"site":"demo","profile":null,"events":[
            {"type":"pageview","url":"https://acme.test/pricing","referrer":"","title":"Pricing"},
            {"type":"engagement","url":"/pricing","seconds":12.5,"scroll":80},
            {"type":"click","url":"/pricing","target":"plan-pro"},
            {"type":"event","name":"demo_request","props":{"plan":"pro","seats":5,"trial":true}}]}"#;
        let req = CollectRequest::from_json(body).unwrap();
        assert_eq!(req.events.len(), 4);
        assert_eq!(req.site, "demo");
    }

    #[test]
    fn borrows_text_from_the_body_and_undoes_escapes() {
        let body = r#"{"site":"demo","profile":"AQFj","events":[
            {"type":"pageview","url":"https://acme.test/pricing","referrer":"https:\/\/mail.example\/"},
            {"type":"click","target":"plan \"pro\" \u00e9"}]}"#;
        let req = CollectRequest::from_json(body).unwrap();
        assert!(matches!(req.site, Cow::Borrowed("demo")));
        assert!(matches!(req.profile, Some(Cow::Borrowed("AQFj"))));
        let Event::Pageview { url, referrer, .. } = &req.events[0] else {
            panic!("{:?}", req.events[0]);
        };
        assert!(matches!(url, Cow::Borrowed("https://acme.test/pricing")));
        assert_eq!(referrer.as_deref(), Some("https://mail.example/"));
        assert!(matches!(referrer, Some(Cow::Owned(_))));
        let Event::Click { target, .. } = &req.events[1] else {
            panic!("{:?}", req.events[1]);
        };
        assert_eq!(target, "plan \"pro\" é");
        let owned: Event<'static> = req.events[1].clone().into_owned();
        assert_eq!(owned, req.events[1]);
    }

    #[test]
    fn refuses_bad_bodies_with_the_field() {
        let cases = [
            (
                r#"{"site":"demo","events":[{"type":"teleport"}]}"#,
                "`events[0].type`: unknown kind `teleport`",
            ),
            (
                r#"{"site":"demo","events":[{"type":"pageview"}]}"#,
                "missing field `url`",
            ),
            (
                r#"{"site":"de mo","events":[]}"#,
                "`site`: expected a site id",
            ),
            (
                r#"{"site":"demo","events":[{"type":"engagement","url":"/","scroll":120}]}"#,
                "`events[0].scroll`",
            ),
            (
                r#"{"site":"demo","events":{}}"#,
                "`events`: wrong type: map",
            ),
            (r#"{"site":"demo"} x"#, "trailing characters"),
            (r#"{"site":"demo","#, "EOF"),
        ];
        for (body, want) in cases {
            let err = CollectRequest::from_json(body).unwrap_err().to_string();
            assert!(err.contains(want), "{body}: {err}");
        }
        let many = format!(
            r#"{{"site":"demo","events":[{}]}}"#,
            vec![r#"{"type":"pageview","url":"/"}"#; 51].join(",")
        );
        assert!(CollectRequest::from_json(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 50"));
    }

    /// Issue 20, item 13: a body of `[]` was answered in serde's words ("invalid length 0,
    /// expected struct CollectRequest with 3 elements"), and an array of the fields in order
    /// was even accepted.
    #[test]
    fn issue_20_13_a_body_that_is_not_an_object_is_refused_in_the_contracts_words() {
        for (body, found) in [
            ("[]", "found an array"),
            (r#"["demo", null, []]"#, "found an array"),
            (r#""demo""#, "found a string"),
            ("42", "found a number"),
            ("null", "found `null`"),
            ("", "found an empty body"),
            ("  \n", "found an empty body"),
            ("site=demo", "found text that is not JSON"),
        ] {
            let err = CollectRequest::from_json(body).unwrap_err().to_string();
            assert!(
                err.starts_with("expected a JSON object `{\"site\""),
                "{body}: {err}"
            );
            assert!(err.ends_with(found), "{body}: {err}");
            assert!(!err.contains("CollectRequest"), "{body}: {err}");
        }
    }

    /// Issue 20, item 13: unknown fields in events (and in the request) are ignored, by
    /// decision: a snippet newer than the worker must not lose a visitor's events. They are
    /// not kept: the event read is the same as without them.
    #[test]
    fn issue_20_13_unknown_fields_in_events_are_ignored_and_not_kept() {
        let plain =
            r#"{"site":"demo","profile":null,"events":[{"type":"pageview","url":"/pricing"}]}"#;
        let extra = r#"{"site":"demo","profile":null,"v":2,"events":[{"type":"pageview","url":"/pricing","color":"red","seconds":3}]}"#;
        let a = CollectRequest::from_json(plain).unwrap();
        let b = CollectRequest::from_json(extra).unwrap();
        assert_eq!(a.events, b.events);
        assert!(!serde_json::to_string(&b.events[0]).unwrap().contains("red"));
    }

    #[test]
    fn reads_identify_events_and_checks_them() {
        let body = r#"{"site":"demo","events":[{"type":"pageview","url":"/pricing"},
            {"type":"identify","email":"Jane@Acme.com","traits":{"company_domain":"acme.com","plan":"pro"}}]}"#;
        let req = CollectRequest::from_json(body).unwrap();
        let Event::Identify { email, traits } = &req.events[1] else {
            panic!("{:?}", req.events[1]);
        };
        assert_eq!(email.as_deref(), Some("Jane@Acme.com"));
        assert_eq!(traits.len(), 2);
        let cases = [
            (
                r#"{"type":"identify","email":"jane"}"#,
                "`events[0].email`: `jane` is not an email address: no `@`",
            ),
            (
                r#"{"type":"identify"}"#,
                "`events[0].email`: give an email address",
            ),
            (
                r#"{"type":"identify","email":"jane@acme.com","traits":{"company_domain":"x"}}"#,
                "`events[0].traits.company_domain`: `x` is not a company domain",
            ),
            (
                r#"{"type":"identify","email":"jane@acme.com","traits":[]}"#,
                "`events[0].traits`",
            ),
        ];
        for (event, want) in cases {
            let body = format!(r#"{{"site":"demo","events":[{event}]}}"#);
            let err = CollectRequest::from_json(&body).unwrap_err().to_string();
            assert!(err.starts_with(want), "{event}: {err}");
        }
        let many: Vec<String> = (0..17).map(|i| format!(r#""t{i}":1"#)).collect();
        let body = format!(
            r#"{{"site":"demo","events":[{{"type":"identify","email":"a@b.co","traits":{{{}}}}}]}}"#,
            many.join(",")
        );
        let err = CollectRequest::from_json(&body).unwrap_err().to_string();
        assert!(err.contains("17 properties; at most 16"), "{err}");
    }

    #[test]
    fn reads_log_lines() {
        let e = LogEvent::parse(
            r#"{"visitor":"v1","ts":"2026-11-20T10:00:00Z","type":"pageview","url":"https://acme.test/pricing"}"#,
            1,
        )
        .unwrap();
        assert_eq!(e.visitor, "v1");
        assert_eq!(e.at.to_string(), "2026-11-20T10:00:00Z");
        let bad = LogEvent::parse(
            r#"{"visitor":"v1","ts":"soon","type":"pageview","url":"/"}"#,
            7,
        );
        assert!(bad.unwrap_err().to_string().starts_with("line 7: `ts`"));
    }
}
