//! Each destination's request for one notification: the webhook body and its Standard Webhooks
//! signature, the Slack message, the HubSpot contact upsert (and its one-time property setup),
//! the Salesforce Lead upsert, the Segment batch. Pure: the sender makes the request.

use base64_simd::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use intent_engine::{check_destination_url, env_reference, Audit, Checks, Destination, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use crate::store::Audience;

/// What a notification says, as the outbox keeps it (the webhook body without `site`, and the
/// line of the explanation that says why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `audience.entered`, `audience.left`, `visitor.identified` or `audit.weekly`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The delivery's id, the `webhook-id`: the same across retries.
    pub id: String,
    /// When the change happened, RFC 3339.
    pub timestamp: String,
    /// The id of the rules the change was computed with.
    pub rules: String,
    /// The audience entered or left; `null` for `visitor.identified` and `audit.weekly`.
    pub audience: Option<Audience>,
    /// The visitor as the change left them; `null` for `audit.weekly`.
    pub visitor: Option<VisitorSnapshot>,
    /// Why, in words: the top line of the visitor's explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The weekly audit's summary and warnings (`audit.weekly` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditDigest>,
}

/// The weekly audit as a notification carries it: the period, its totals, each tier's and
/// segment's figures, and the warnings (the full report is `intentctl audit --json` and the
/// console's Audit screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDigest {
    /// The period's start, RFC 3339.
    pub from: String,
    /// The period's end, RFC 3339.
    pub to: String,
    /// Visitors with an event in the period.
    pub visitors: usize,
    /// Events in the period.
    pub events: usize,
    /// Each tier in priority order, the fallback, then each segment.
    pub audiences: Vec<AudienceDigest>,
    /// What looks wrong.
    pub warnings: Vec<WarningDigest>,
}

/// One tier or segment in the weekly audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceDigest {
    /// Its name.
    pub name: String,
    /// `tier` or `segment`.
    pub kind: String,
    /// Members at the end of the period.
    pub members: usize,
    /// Members over the period's visitors.
    pub share: f64,
    /// Times a visitor joined it during the period.
    pub entries: usize,
    /// Times a visitor left it during the period.
    pub exits: usize,
}

/// One warning of the weekly audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarningDigest {
    /// `unreached`, `too-broad`, `never-true`, `shadowed` or `not-reviewed`.
    pub code: String,
    /// The tier or segment concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The condition concerned, as `tiers[0].when.any[1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl AuditDigest {
    /// The digest of a full audit.
    pub fn of(audit: &Audit) -> AuditDigest {
        AuditDigest {
            from: audit.from.to_string(),
            to: audit.to.to_string(),
            visitors: audit.visitors,
            events: audit.events,
            audiences: audit
                .audiences
                .iter()
                .map(|a| AudienceDigest {
                    name: a.name.clone(),
                    kind: a.kind.to_owned(),
                    members: a.members,
                    share: a.share,
                    entries: a.entries,
                    exits: a.exits,
                })
                .collect(),
            warnings: audit
                .warnings
                .iter()
                .map(|w| WarningDigest {
                    code: w.code.to_owned(),
                    audience: w.audience.clone(),
                    field: w.field.clone(),
                    message: w.message.clone(),
                })
                .collect(),
        }
    }
}

/// The visitor in a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorSnapshot {
    /// The visitor's id.
    pub id: String,
    /// Their email, once they identified.
    pub email: Option<String>,
    /// Their account (company domain).
    pub account: Option<String>,
    /// Their tier.
    pub tier: String,
    /// Their segments.
    pub segments: Vec<String>,
    /// Their lead score, when the rules define one.
    pub score: Option<f64>,
    /// Their latest event, RFC 3339.
    pub last_seen: String,
}

/// The webhook body, exactly as the contract gives it (fields in this order).
#[derive(Serialize)]
struct WebhookBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    timestamp: &'a str,
    site: &'a str,
    rules: &'a str,
    audience: &'a Option<Audience>,
    visitor: &'a Option<VisitorSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: &'a Option<AuditDigest>,
}

/// One HTTP request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `POST` or `PATCH`.
    pub method: &'static str,
    /// The URL, already checked with [`check_destination_url`].
    pub url: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

impl Request {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The HubSpot API's base URL when `HUBSPOT_API_BASE` is not set.
pub const HUBSPOT_API_BASE: &str = "https://api.hubapi.com";

/// What a request needs besides the notification: the site, the clock, where the console is,
/// the worker's vars and secrets.
pub struct SendContext<'a> {
    /// The site id.
    pub site: &'a str,
    /// Now: the `webhook-timestamp`.
    pub now: Timestamp,
    /// The worker's public origin (`https://edge.acme.com`), for links to the console.
    pub origin: Option<&'a str>,
    /// `HUBSPOT_API_BASE`, or [`HUBSPOT_API_BASE`].
    pub hubspot_api_base: &'a str,
    /// What destination URLs may be (loopback in development).
    pub checks: Checks,
    /// The worker's secrets and vars by name (`env:NAME` references).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl SendContext<'_> {
    /// The value an `env:NAME` reference names, or the literal.
    fn resolve(&self, field: &str, value: &str) -> Result<String, String> {
        match env_reference(value) {
            Some(name) => (self.env)(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("`{field}`: the worker has no secret or var `{name}`")),
            None => Ok(value.to_owned()),
        }
    }

    /// A destination URL from its field, checked before each request. A URL that came from a
    /// secret (`env:NAME`; a Slack incoming webhook's URL is one) is named by its reference in
    /// the error, never repeated: the error reaches the delivery log and the worker's log.
    fn url(&self, field: &str, value: &str) -> Result<String, String> {
        let url = self.resolve(field, value)?;
        check_destination_url(&url, self.checks).map_err(|e| {
            let e = match env_reference(value) {
                Some(_) => e.replace(&url.chars().take(200).collect::<String>(), value),
                None => e,
            };
            format!("`{field}`: {e}")
        })?;
        Ok(url)
    }
}

/// The request that delivers `n` to `destination`. An error says why it cannot be made (a
/// missing secret, a refused URL, a CRM and a visitor without email); the delivery then
/// fails as a failed request would.
pub fn request(
    destination: &Destination,
    n: &Notification,
    ctx: &SendContext<'_>,
) -> Result<Request, String> {
    match destination {
        Destination::Webhook { url, secret } => {
            let url = ctx.url("url", url)?;
            let secret = ctx.resolve("secret", secret)?;
            webhook(&url, &secret, n, ctx)
        }
        Destination::Slack { url } => {
            let url = ctx.url("url", url)?;
            Ok(json_request(
                "POST",
                url,
                Vec::new(),
                &slack_message(n, ctx.origin),
            ))
        }
        Destination::Hubspot { token } => {
            let token = ctx.resolve("token", token)?;
            let base = ctx.url("HUBSPOT_API_BASE", ctx.hubspot_api_base)?;
            let (v, email) = identified(n)?;
            let body = json!({"inputs": [{
                "idProperty": "email",
                "id": email,
                "properties": {
                    "email": email,
                    "intent_tier": v.tier,
                    "intent_segments": v.segments.join(";"),
                    "intent_score": v.score.map(|s| s.to_string()).unwrap_or_default(),
                },
            }]});
            Ok(json_request(
                "POST",
                format!(
                    "{}/crm/v3/objects/contacts/batch/upsert",
                    base.trim_end_matches('/')
                ),
                vec![bearer(&token)],
                &body,
            ))
        }
        Destination::Salesforce {
            instance_url,
            token,
            external_id_field,
            api_version,
        } => {
            let base = ctx.url("instance_url", instance_url)?;
            let token = ctx.resolve("token", token)?;
            let (v, email) = identified(n)?;
            let (local, domain) = email.split_once('@').unwrap_or((email, ""));
            let body = json!({
                "Email": email,
                "LastName": local,
                "Company": v.account.as_deref().unwrap_or(domain),
                "LeadSource": "Intent Edge",
                "Intent_Tier__c": v.tier,
                "Intent_Segments__c": v.segments.join(";"),
                "Intent_Score__c": v.score,
            });
            Ok(json_request(
                "PATCH",
                format!(
                    "{}/services/data/{api_version}/sobjects/Lead/{external_id_field}/{}",
                    base.trim_end_matches('/'),
                    percent_encode(email)
                ),
                vec![bearer(&token)],
                &body,
            ))
        }
        Destination::Segment { write_key, url } => {
            about_a_visitor(n)?;
            let key = ctx.resolve("write_key", write_key)?;
            let url = ctx.url("url", url)?;
            let auth = format!("Basic {}", BASE64.encode_to_string(format!("{key}:")));
            Ok(json_request(
                "POST",
                url,
                vec![("authorization".to_owned(), auth)],
                &segment_batch(n),
            ))
        }
    }
}

/// The visitor of a notification about one (not the weekly audit).
fn about_a_visitor(n: &Notification) -> Result<&VisitorSnapshot, String> {
    n.visitor.as_ref().ok_or_else(|| {
        format!(
            "`{}` is about no visitor: this destination takes visitors only",
            n.kind
        )
    })
}

fn identified(n: &Notification) -> Result<(&VisitorSnapshot, &str), String> {
    let v = about_a_visitor(n)?;
    let email = v.email.as_deref().ok_or_else(|| {
        "the visitor has not identified: a CRM takes identified visitors only".to_owned()
    })?;
    Ok((v, email))
}

fn bearer(token: &str) -> (String, String) {
    ("authorization".to_owned(), format!("Bearer {token}"))
}

fn json_request(
    method: &'static str,
    url: String,
    mut headers: Vec<(String, String)>,
    body: &impl Serialize,
) -> Request {
    headers.insert(
        0,
        ("content-type".to_owned(), "application/json".to_owned()),
    );
    headers.push(("user-agent".to_owned(), "IntentEdge/1".to_owned()));
    Request {
        method,
        url,
        headers,
        // Serialising a `serde_json::Value` or a struct of strings cannot fail.
        body: serde_json::to_string(body).unwrap_or_default(),
    }
}

/// The webhook body of `n` for `site`, exactly as the contract gives it.
pub fn webhook_body(n: &Notification, site: &str) -> String {
    serde_json::to_string(&WebhookBody {
        kind: &n.kind,
        id: &n.id,
        timestamp: &n.timestamp,
        site,
        rules: &n.rules,
        audience: &n.audience,
        visitor: &n.visitor,
        audit: &n.audit,
    })
    .unwrap_or_default()
}

fn webhook(
    url: &str,
    secret: &str,
    n: &Notification,
    ctx: &SendContext<'_>,
) -> Result<Request, String> {
    let body = webhook_body(n, ctx.site);
    let timestamp = ctx.now.secs();
    let signature = sign(secret, &n.id, timestamp, &body)?;
    Ok(Request {
        method: "POST",
        url: url.to_owned(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), "IntentEdge/1".to_owned()),
            ("webhook-id".to_owned(), n.id.clone()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), signature),
        ],
        body,
    })
}

/// The Standard Webhooks signature of a message: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` keyed with the secret's bytes (the base64 after `whsec_`).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = BASE64
        .decode_to_vec(encoded.trim())
        .map_err(|_| "the webhook secret is not `whsec_` and base64".to_owned())?;
    if key.is_empty() {
        return Err("the webhook secret is empty".to_owned());
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
        .map_err(|_| "the webhook secret cannot key HMAC-SHA256".to_owned())?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(format!(
        "v1,{}",
        BASE64.encode_to_string(mac.finalize().into_bytes())
    ))
}

/// `&`, `<` and `>` escaped, as Slack's message text wants them.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack message: who, which audience, why, and a link to the visitor in the console; or
/// the weekly audit's figures and warnings, with a link to the console's Audit screen.
pub fn slack_message(n: &Notification, origin: Option<&str>) -> serde_json::Value {
    let Some(v) = &n.visitor else {
        return slack_audit(n, origin);
    };
    let who = match (&v.email, &v.account) {
        (Some(email), Some(account)) => format!("{email} ({account})"),
        (Some(email), None) => email.clone(),
        (None, Some(account)) => format!("A visitor from {account}"),
        (None, None) => format!("Visitor {}", v.id),
    };
    let what = match (n.kind.as_str(), &n.audience) {
        ("audience.entered", Some(a)) => format!("entered *{}*", slack_escape(&a.name)),
        ("audience.left", Some(a)) => format!("left *{}*", slack_escape(&a.name)),
        _ => "identified".to_owned(),
    };
    let mut text = format!("{} {what}", slack_escape(&who));
    if let Some(why) = &n.why {
        text.push_str(&format!(": {}", slack_escape(why)));
    }
    let link = origin.map(|o| {
        format!(
            "{}/admin/#/visitors/{}",
            o.trim_end_matches('/'),
            percent_encode(&v.id)
        )
    });
    let mut context = format!("tier {}", slack_escape(&v.tier));
    if !v.segments.is_empty() {
        context.push_str(&format!(
            ", segments {}",
            slack_escape(&v.segments.join(", "))
        ));
    }
    if let Some(score) = v.score {
        context.push_str(&format!(", score {score}"));
    }
    if let Some(link) = &link {
        context.push_str(&format!(" · <{link}|Open in the console>"));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    })
}

/// The Segment (or RudderStack) batch: an `identify` with the visitor's traits, then a `track`
/// of the change. Empty for a notification about no visitor (the weekly audit, which the
/// rules' checks never send to Segment).
pub fn segment_batch(n: &Notification) -> serde_json::Value {
    let Some(v) = &n.visitor else {
        return json!({"batch": []});
    };
    let event = match n.kind.as_str() {
        "audience.entered" => "Audience Entered",
        "audience.left" => "Audience Left",
        _ => "Visitor Identified",
    };
    let mut traits = json!({
        "intent_tier": v.tier,
        "intent_segments": v.segments,
        "intent_score": v.score,
    });
    if let (Some(email), Some(t)) = (&v.email, traits.as_object_mut()) {
        t.insert("email".to_owned(), email.clone().into());
    }
    if let (Some(account), Some(t)) = (&v.account, traits.as_object_mut()) {
        t.insert("company".to_owned(), json!({"name": account}));
    }
    json!({"batch": [
        {
            "type": "identify",
            "messageId": format!("{}-identify", n.id),
            "anonymousId": v.id,
            "timestamp": n.timestamp,
            "traits": traits,
        },
        {
            "type": "track",
            "messageId": n.id,
            "anonymousId": v.id,
            "timestamp": n.timestamp,
            "event": event,
            "properties": {
                "audience": n.audience.as_ref().map(|a| &a.name),
                "audience_kind": n.audience.as_ref().map(|a| a.kind.as_str()),
                "tier": v.tier,
                "segments": v.segments,
                "score": v.score,
                "rules": n.rules,
            },
        },
    ]})
}

/// The weekly audit as a Slack message: the period, each audience's members and movement, then
/// every warning.
fn slack_audit(n: &Notification, origin: Option<&str>) -> serde_json::Value {
    let Some(a) = &n.audit else {
        let text = format!("Intent Edge: {}", slack_escape(&n.kind));
        return json!({"text": text});
    };
    let day = |t: &str| t.get(..10).unwrap_or(t).to_owned();
    let text = format!(
        "Weekly audit of rules `{}`, {} to {}: {} visitors, {} events, {}",
        slack_escape(&n.rules),
        day(&a.from),
        day(&a.to),
        a.visitors,
        a.events,
        match a.warnings.len() {
            0 => "no warnings".to_owned(),
            1 => "1 warning".to_owned(),
            w => format!("{w} warnings"),
        }
    );
    let audiences: Vec<String> = a
        .audiences
        .iter()
        .map(|x| {
            format!(
                "• {} *{}*: {} members ({:.1}%), +{} −{}",
                x.kind,
                slack_escape(&x.name),
                x.members,
                x.share * 100.0,
                x.entries,
                x.exits
            )
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": audiences.join("\n")}}),
    ];
    if !a.warnings.is_empty() {
        let warnings: Vec<String> = a
            .warnings
            .iter()
            .map(|w| format!(":warning: {}", slack_escape(&w.message)))
            .collect();
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": warnings.join("\n")}}),
        );
    }
    if let Some(o) = origin {
        let link = format!(
            "<{}/admin/#/audit|Open the audit in the console>",
            o.trim_end_matches('/')
        );
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]}));
    }
    json!({"text": text, "blocks": blocks})
}

/// The one-time HubSpot setup: the three contact properties the upserts write
/// (`intent_tier`, `intent_segments`, `intent_score`), in one batch create. Run it once per
/// portal (a second run answers 409 for properties that exist, which is harmless).
pub fn hubspot_property_setup(api_base: &str, token: &str) -> Request {
    let property = |name: &str, label: &str, kind: &str, field: &str| {
        json!({
            "name": name,
            "label": label,
            "type": kind,
            "fieldType": field,
            "groupName": "contactinformation",
            "description": "Set by Intent Edge from the visitor's behaviour on the site.",
        })
    };
    json_request(
        "POST",
        format!(
            "{}/crm/v3/properties/contacts/batch/create",
            api_base.trim_end_matches('/')
        ),
        vec![bearer(token)],
        &json!({"inputs": [
            property("intent_tier", "Intent tier", "string", "text"),
            property("intent_segments", "Intent segments", "string", "text"),
            property("intent_score", "Intent score", "number", "number"),
        ]}),
    )
}

/// Everything but RFC 3986's unreserved characters is encoded in a path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` percent-encoded as one URL path segment.
fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
