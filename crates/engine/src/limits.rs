//! The bounds every config, request and profile stays within. They keep the token under 1 KiB,
//! evaluation within microseconds, and make a hostile config a validation error, not a hang.

/// The limits, gathered so documentation and error messages quote the same numbers. Those of a
/// collect call come from `intent-policy`, which the snippet trims its requests to.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits;

impl Limits {
    /// Largest rules config, in bytes of JSON.
    pub const CONFIG_BYTES: usize = 256 * 1024;
    /// Most page groups in a config.
    pub const PAGE_GROUPS: usize = 64;
    /// Most path patterns in one page group.
    pub const PATTERNS_PER_GROUP: usize = 32;
    /// Longest path pattern, in bytes.
    pub const PATTERN_BYTES: usize = 256;
    /// Most tiers (the fallback not included).
    pub const TIERS: usize = 32;
    /// Most segments.
    pub const SEGMENTS: usize = 64;
    /// Most conditions in the whole config, counting every `all`/`any`/`not` node.
    pub const CONDITIONS: usize = 2_000;
    /// Deepest nesting of `all`/`any`/`not`.
    pub const CONDITION_DEPTH: usize = 12;
    /// Highest `at_least` count a condition may ask for: the profile keeps this many recent
    /// timestamps per tracked thing at most, so counts up to it are exact.
    pub const COUNT: u32 = 16;
    /// Most distinct UTM/referrer tests (each is one bit on every visit).
    pub const VISIT_TESTS: usize = 24;
    /// Most score signals.
    pub const SCORE_SIGNALS: usize = 64;
    /// Most slots with variants.
    pub const SLOTS: usize = 32;
    /// Largest single variant (text + html + href + attributes), in bytes.
    pub const VARIANT_BYTES: usize = 8 * 1024;
    /// Longest horizon.
    pub const HORIZON_DAYS: u64 = 365;
    /// Largest encoded token, in bytes.
    pub const TOKEN_BYTES: usize = 1024;
    /// Visits kept on a profile (the most recent ones).
    pub const VISITS_KEPT: usize = 16;
    /// Most events accepted in one collect call.
    pub const EVENTS_PER_CALL: usize = intent_policy::limits::EVENTS_PER_CALL;
    /// Longest URL or referrer accepted in an event, in bytes.
    pub const URL_BYTES: usize = intent_policy::limits::URL_BYTES;
    /// Longest event name or click target, in bytes.
    pub const NAME_BYTES: usize = intent_policy::limits::NAME_BYTES;
    /// Longest page title accepted (titles are never stored), in bytes.
    pub const TITLE_BYTES: usize = intent_policy::limits::TITLE_BYTES;
    /// Most properties on a custom event.
    pub const PROPS: usize = intent_policy::limits::PROPS;
    /// Longest property key or string value, in bytes.
    pub const PROP_BYTES: usize = intent_policy::limits::PROP_BYTES;
    /// Longest site id, in bytes.
    pub const SITE_BYTES: usize = intent_policy::limits::SITE_BYTES;
    /// Most visible seconds one engagement event can add (a heartbeat is far shorter).
    pub const ENGAGEMENT_SECS_PER_EVENT: u32 = 1_800;
}
