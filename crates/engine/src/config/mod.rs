//! The rules config: the marketer's language, as serde types. The JSON Schema is derived from
//! these same types, so the schema, the parser and the error messages cannot drift apart.

mod error;
mod locate;
mod triggers;
mod window;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::error::ConfigError;
pub(crate) use self::error::{friendlier, FieldPath, PathSeg};
pub use self::triggers::{AtMost, Destination, Trigger, TriggerEvent, AT_MOST_COUNT};
pub use self::window::Window;

/// A rules config: page groups, tiers in priority order, segments, an optional lead score,
/// content variants per slot, and the triggers that notify destinations of audience changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Version of the rules language. Always `1` today.
    pub version: u32,
    /// A label for this revision of the rules, shown in explanations and response headers
    /// (for example `2026-11-spring-campaign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Nothing older than this counts, and nothing older is kept (default `90d`).
    #[serde(default = "Window::default_horizon")]
    pub horizon: Window,
    /// Named groups of pages, each a list of path patterns where `*` matches anything:
    /// `"pricing": ["/pricing*"]`.
    pub page_groups: BTreeMap<String, Vec<String>>,
    /// An optional lead score: signals add points that decay with a half-life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ScoreConfig>,
    /// Tiers in priority order, highest stage first: the first whose condition holds wins.
    pub tiers: Vec<Rule>,
    /// The tier of a visitor no tier matches (for example `researching`).
    pub fallback: String,
    /// Named segments beside the tier; a visitor is in every segment whose condition holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Rule>,
    /// Content variants: slot name → tier name, segment name or `default` → variant. A slot
    /// shows the variant of the first of the visitor's segments, in the order `segments` lists
    /// them, that has one; else its tier's; else `default`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<String, SlotVariants>,
    /// Whether `html` variants may run scripts: `allow` (the default: whoever publishes rules is
    /// trusted with the site's pages, see `docs/SECURITY.md`) or `refuse`, which refuses a
    /// variant whose `html` has a `<script>` element, an `on…` attribute or a `javascript:`
    /// or `vbscript:` URL.
    #[serde(default, skip_serializing_if = "ScriptsInVariants::is_allow")]
    pub scripts_in_variants: ScriptsInVariants,
    /// Where audience changes are sent: name → destination.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub destinations: BTreeMap<String, Destination>,
    /// Which changes are sent where: a visitor entering or leaving an audience, or identifying.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
}

/// Whether `html` variants may run scripts (`scripts_in_variants`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScriptsInVariants {
    /// Variants are trusted as the rest of the site's HTML is.
    #[default]
    Allow,
    /// Variants whose `html` could run a script are refused.
    Refuse,
}

impl ScriptsInVariants {
    fn is_allow(&self) -> bool {
        *self == Self::Allow
    }
}

/// Variants of one slot: tier name, segment name or `default` → what the slot shows.
pub type SlotVariants = BTreeMap<String, Variant>;

/// A named condition: a tier or a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The tier's or segment's name, as the site and the API see it.
    pub name: String,
    /// What this tier or segment means, in words, for colleagues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When a visitor is in it.
    pub when: Condition,
}

/// A condition on a visitor's behaviour. Exactly one key: the kind of condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every condition in the list holds.
    All(Vec<Condition>),
    /// At least one condition in the list holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// Pages of a group were viewed at least `at_least` times within the window (optionally
    /// only during visits whose landing page matched a filter).
    Viewed(ViewedCondition),
    /// The visitor made at least `at_least` visits within the window (optionally only visits
    /// whose landing page matched a filter: UTM parameters, referrer, page group).
    Visits(VisitsCondition),
    /// A custom event (optionally with given properties) happened at least `at_least` times.
    Event(EventCondition),
    /// A tracked element was clicked at least `at_least` times.
    Click(ClickCondition),
    /// The visitor was last active within the window.
    LastSeen(LastSeenCondition),
    /// The visitor spent visible time or scrolled deep enough (on a page group, or anywhere).
    Engaged(EngagedCondition),
    /// A visit within the window landed with these UTM parameters.
    Utm(UtmCondition),
    /// A visit within the window came from this referrer host.
    Referrer(ReferrerCondition),
    /// The lead score is at least, or below, a number.
    Score(ScoreCondition),
}

/// `{"viewed": {"group": "pricing", "at_least": 3, "within": "14d"}}`
///
/// With `utm`, `referrer` or `landed`, only views made during a visit whose landing page
/// matched count: `{"viewed": {"group": "pricing", "utm": {"medium": "email"}}}` counts views of
/// pricing in visits that arrived from an email link, wherever in the visit they happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewedCondition {
    /// A page group's name.
    pub group: String,
    /// How many views at least (default 1, at most 16).
    #[serde(default = "one")]
    pub at_least: u32,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
    /// Only views in visits that landed with these UTM parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<UtmFilter>,
    /// Only views in visits that came from this referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<ReferrerFilter>,
    /// Only views in visits whose landing page is in this page group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
}

/// `{"visits": {"at_least": 3, "within": "14d"}}`
///
/// With `utm`, `referrer` or `landed`, only visits whose landing page (the visit's first page
/// view) matched every one given count:
/// `{"visits": {"at_least": 2, "within": "30d", "utm": {"medium": "email"}, "landed": "product"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitsCondition {
    /// How many visits at least (default 1, at most 16). A visit ends after 30 minutes idle.
    #[serde(default = "one")]
    pub at_least: u32,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
    /// Only visits whose landing URL has these UTM parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<UtmFilter>,
    /// Only visits that came from this referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<ReferrerFilter>,
    /// Only visits whose landing page is in this page group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
}

/// The UTM parameters a visit's landing URL must have, in a `visits` or `viewed` filter: each
/// given one must match (case-insensitive; `*` matches anything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UtmFilter {
    /// `utm_source` of the landing URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium` of the landing URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign` of the landing URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
}

/// The referrer a visit must have come from, in a `visits` or `viewed` filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferrerFilter {
    /// The referring site's host without `www.`; `*` matches anything (`*.google.*`).
    pub host: String,
}

/// `{"event": {"name": "demo_request", "within": "30d"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventCondition {
    /// The custom event's name, as sent by `intent('event', name, props)`.
    pub name: String,
    /// Properties the event must carry, compared as text (`{"plan": "pro"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, String>,
    /// How many times at least (default 1, at most 16).
    #[serde(default = "one")]
    pub at_least: u32,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

/// `{"click": {"target": "pricing-*", "within": "7d"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickCondition {
    /// The tracked element's name (its `data-intent-track` value) or a link; `*` matches anything.
    pub target: String,
    /// How many clicks at least (default 1, at most 16).
    #[serde(default = "one")]
    pub at_least: u32,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

/// `{"last_seen": {"within": "7d"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LastSeenCondition {
    /// The visitor was active this recently.
    pub within: Window,
}

/// `{"engaged": {"group": "docs", "seconds_at_least": 120, "within": "14d"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagedCondition {
    /// Only time and scrolling on this page group count; anywhere on the site if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Visible seconds, summed over the window, at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_at_least: Option<u32>,
    /// The deepest scroll in the window, in percent of the page, at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_at_least: Option<u8>,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

/// `{"utm": {"source": "linkedin", "medium": "paid*"}}`: each given parameter must match
/// (case-insensitive; `*` matches anything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UtmCondition {
    /// `utm_source` of the landing URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium` of the landing URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign` of the landing URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

/// `{"referrer": {"host": "*.linkedin.com"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferrerCondition {
    /// The referring site's host without `www.`; `*` matches anything (`*.google.*`).
    pub host: String,
    /// The window; default the whole horizon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

/// `{"score": {"at_least": 40}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreCondition {
    /// The decayed lead score is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    /// The decayed lead score is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
}

/// A lead score: each signal adds points when it happens; points halve every `half_life`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreConfig {
    /// Points lose half their value over this span (for example `7d`).
    pub half_life: Window,
    /// What earns points.
    pub signals: Vec<ScoreSignal>,
}

/// One scoring signal: `{"on": {"viewed": "pricing"}, "points": 10}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreSignal {
    /// What happened.
    pub on: Signal,
    /// Points added each time (negative to subtract).
    pub points: i32,
}

/// Something a visitor does that earns points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Signal {
    /// A view of a page in this group.
    Viewed(String),
    /// A custom event with this name.
    Event(String),
    /// A click on this tracked target (`*` matches anything).
    Click(String),
    /// The start of a visit.
    Visit,
}

/// What a slot shows. Every field is optional; a slot with no variant keeps its page content.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Replaces the element's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Replaces the element's inner HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Sets the element's `href` (for links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// Sets these attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

/// Reads a config's JSON into the typed config. Syntax and type errors name line and field;
/// the semantic checks happen when the config is compiled into [`crate::Rules`].
// `#[inline]`: built by the calling crate, for size in the worker (see `Rules::from_json`).
#[inline]
pub(crate) fn parse(src: &str) -> Result<RulesConfig, ConfigError> {
    if src.len() > crate::Limits::CONFIG_BYTES {
        return Err(ConfigError::whole(format!(
            "the config is {} bytes; the limit is {} bytes",
            src.len(),
            crate::Limits::CONFIG_BYTES
        )));
    }
    if src.trim().is_empty() {
        return Err(ConfigError::whole(
            "the config is empty; expected a JSON object like the one `intentctl schema` describes"
                .to_owned(),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(src);
    let config: RulesConfig =
        serde_path_to_error::deserialize(&mut de).map_err(ConfigError::from_serde)?;
    de.end()
        .map_err(|e| ConfigError::from_json(FieldPath::default(), e))?;
    Ok(config)
}

/// The JSON Schema of the rules config, for editors and for `intentctl schema`.
pub(crate) fn schema() -> schemars::schema::RootSchema {
    schemars::schema_for!(RulesConfig)
}
