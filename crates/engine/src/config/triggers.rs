//! Destinations and triggers: where audience changes are sent, and which changes are.

use std::fmt;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::Window;

/// Where notifications go. Secrets are `env:NAME` references to the worker's secrets, never
/// literals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Destination {
    /// An HTTP endpoint of your own, signed as Standard Webhooks specifies (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`).
    Webhook {
        /// The endpoint: an `https://` URL, or `env:NAME` naming a worker var that holds one.
        url: String,
        /// The signing secret (`whsec_…`): `env:NAME`.
        secret: String,
    },
    /// A Slack incoming webhook, paced to one message a second.
    Slack {
        /// The incoming webhook's URL, a secret: `env:NAME`.
        url: String,
    },
    /// HubSpot contacts, upserted by email with `intent_tier`, `intent_segments` and
    /// `intent_score`. Identified visitors only.
    Hubspot {
        /// A private app token with the contacts scopes: `env:NAME`.
        token: String,
    },
    /// Salesforce Leads, upserted by an external id field holding the visitor's email.
    /// Identified visitors only.
    Salesforce {
        /// The org's URL, `https://acme.my.salesforce.com`, or `env:NAME`.
        instance_url: String,
        /// An OAuth access token: `env:NAME`.
        token: String,
        /// The Lead's external id field the upsert matches on (`Intent_Email__c`).
        external_id_field: String,
        /// The REST API version (default `v61.0`).
        #[serde(default = "default_salesforce_version")]
        api_version: String,
    },
    /// Segment's (or RudderStack's) HTTP `batch` API: `identify` and `track` calls.
    Segment {
        /// The source's write key: `env:NAME`.
        write_key: String,
        /// The batch endpoint (default `https://api.segment.io/v1/batch`; RudderStack's data
        /// plane URL ends in `/v1/batch` too), or `env:NAME`.
        #[serde(default = "default_segment_url")]
        url: String,
    },
}

fn default_salesforce_version() -> String {
    "v61.0".to_owned()
}

fn default_segment_url() -> String {
    "https://api.segment.io/v1/batch".to_owned()
}

impl Destination {
    /// `webhook`, `slack`, `hubspot`, `salesforce` or `segment`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Destination::Webhook { .. } => "webhook",
            Destination::Slack { .. } => "slack",
            Destination::Hubspot { .. } => "hubspot",
            Destination::Salesforce { .. } => "salesforce",
            Destination::Segment { .. } => "segment",
        }
    }

    /// Whether the destination takes only identified visitors (the CRMs).
    pub fn needs_identity(&self) -> bool {
        matches!(
            self,
            Destination::Hubspot { .. } | Destination::Salesforce { .. }
        )
    }
}

/// What a trigger reacts to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEvent {
    /// The visitor entered the audience.
    Entered,
    /// The visitor left the audience.
    Left,
    /// The visitor identified with a new email address.
    Identified,
    /// The weekly audit of the rules ran (Mondays, 06:00 UTC): its summary and warnings.
    /// Webhook and Slack destinations only; no `audience`, no `at_most`.
    #[serde(rename = "audit.weekly")]
    AuditWeekly,
}

impl TriggerEvent {
    /// `entered`, `left`, `identified` or `audit.weekly`.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerEvent::Entered => "entered",
            TriggerEvent::Left => "left",
            TriggerEvent::Identified => "identified",
            TriggerEvent::AuditWeekly => "audit.weekly",
        }
    }

    /// The notification's type: `audience.entered`, `audience.left`, `visitor.identified`,
    /// `audit.weekly`.
    pub fn notification_type(self) -> &'static str {
        match self {
            TriggerEvent::Entered => "audience.entered",
            TriggerEvent::Left => "audience.left",
            TriggerEvent::Identified => "visitor.identified",
            TriggerEvent::AuditWeekly => "audit.weekly",
        }
    }

    /// Whether it is about one visitor (every event but the weekly audit).
    pub fn is_per_visitor(self) -> bool {
        self != TriggerEvent::AuditWeekly
    }
}

/// `{"when": "entered", "audience": "ready", "to": ["sales-alerts"], "at_most": "1/30d"}`, or
/// `{"when": "audit.weekly", "to": ["marketing"]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// What happened to the visitor.
    pub when: TriggerEvent,
    /// The tier or segment entered or left; none for `identified` and `audit.weekly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The destinations to notify, by name.
    pub to: Vec<String>,
    /// Notify a visitor at most this often for this trigger (`1/30d`); every time if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<AtMost>,
}

impl Trigger {
    /// A key for this trigger that stays the same across edits of the rules that keep what it
    /// reacts to (`entered:ready`, `identified`): `at_most` counts per visitor and key.
    pub fn key(&self) -> String {
        match &self.audience {
            Some(a) => format!("{}:{a}", self.when.as_str()),
            None => self.when.as_str().to_owned(),
        }
    }
}

/// A rate: at most `count` notifications per `per`, written `1/30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AtMost {
    /// How many notifications at most.
    pub count: u32,
    /// Within this span.
    pub per: Window,
}

/// The largest count `at_most` accepts.
pub const AT_MOST_COUNT: u32 = 1_000;

impl AtMost {
    /// Reads `1/30d`, `3/1w`.
    pub fn parse(s: &str) -> Result<AtMost, String> {
        let err = || {
            format!(
                "expected a rate like `1/30d` (how many times, then per which span), found `{s}`"
            )
        };
        let (count, per) = s.split_once('/').ok_or_else(err)?;
        if count.is_empty() || count.len() > 4 || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let count: u32 = count.parse().map_err(|_| err())?;
        if count == 0 || count > AT_MOST_COUNT {
            return Err(format!(
                "`{s}`: the count must be from 1 to {AT_MOST_COUNT}; remove the trigger to send nothing"
            ));
        }
        let per = Window::parse(per).map_err(|e| format!("`{s}`: {e}"))?;
        Ok(AtMost { count, per })
    }

    /// Whether one more notification at `now` keeps within the rate, given the times (seconds)
    /// of the earlier ones.
    pub fn allows(&self, earlier: impl IntoIterator<Item = i64>, now: i64) -> bool {
        let since = now.saturating_sub(i64::try_from(self.per.secs()).unwrap_or(i64::MAX));
        let within = earlier.into_iter().filter(|&t| t > since).count();
        within < self.count as usize
    }
}

impl fmt::Display for AtMost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per)
    }
}

impl Serialize for AtMost {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AtMost {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = AtMost;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate like `1/30d`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AtMost, E> {
                AtMost::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for AtMost {
    fn schema_name() -> String {
        "AtMost".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let mut schema = schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            ..Default::default()
        };
        schema.string().pattern = Some("^[1-9][0-9]{0,3}/[1-9][0-9]{0,5}[mhdw]$".to_owned());
        schema.metadata().description =
            Some("At most this many notifications per visitor within a span (`1/30d`).".to_owned());
        schema.into()
    }
}

#[cfg(test)]
mod tests {
    use super::AtMost;

    #[test]
    fn reads_rates_and_counts_within_the_span() {
        let a = AtMost::parse("1/30d").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.count, a.per.secs()), (1, 30 * 86_400));
        assert_eq!(a.to_string(), "1/30d");
        assert!(a.allows([], 100));
        assert!(!a.allows([100], 100 + 30 * 86_400 - 1));
        assert!(a.allows([100], 100 + 30 * 86_400));
        let two = AtMost::parse("2/1h").unwrap_or_else(|e| panic!("{e}"));
        assert!(two.allows([0], 10));
        assert!(!two.allows([0, 5], 10));
        for bad in [
            "", "1", "0/1d", "1/0d", "1/", "/1d", "x/1d", "1/1y", "1001/1d", "-1/1d",
        ] {
            assert!(AtMost::parse(bad).is_err(), "{bad}");
        }
    }
}
