//! Compiled rules: the evaluation plan a config turns into.
//!
//! The plan replaces names by indexes: page groups, the things a profile tracks ("series", whose
//! list is the [`ProfileShape`] the compiler produces), the UTM and referrer tests a visit
//! carries as bits. Each series keeps exactly as many recent timestamps as the highest
//! `at_least` that refers to it, which is what makes the profile both compact and exact for the
//! counts the rules ask about.
//!
//! - `compile.rs`: reading and checking a config, and building the plan and the shape.
//! - `variants.rs`: the safety checks of content variants, and their JSON rendered once.
//!
//! The plan holds what evaluation and folding need (compiled patterns, conditions, variants);
//! the shape holds what a profile keeps. Profiles and tokens read only the shape.

mod compile;
mod destinations;
mod variants;

pub use self::destinations::{
    check_destination_url, env_reference, Checks, MAX_DESTINATIONS, MAX_TRIGGERS,
};

use std::sync::OnceLock;

use crate::config::{self, ConfigError, RulesConfig, Variant};
use crate::pattern::Glob;
use crate::shape::{ProfileShape, ShapeChange};

/// A validated, compiled rules config, ready to classify visitors.
#[derive(Debug, Clone)]
pub struct Rules {
    pub(crate) config: RulesConfig,
    source: String,
    id: String,
    /// What profiles keep under these rules.
    pub(crate) shape: ProfileShape,
    /// Shapes of earlier configs whose profiles carry over to these rules
    /// ([`Rules::with_earlier_shapes`]).
    pub(crate) earlier: Vec<ProfileShape>,
    pub(crate) groups: Vec<GroupPlan>,
    /// Click series and their compiled target patterns.
    pub(crate) clicks: Vec<(usize, Glob)>,
    /// The compiled patterns of each of the shape's visit tests, in the same order.
    pub(crate) visit_tests: Vec<VisitMatcher>,
    /// Each filtered-visits series and its compiled filter.
    pub(crate) visit_filters: Vec<(usize, FilterMatcher)>,
    /// Each series of page-group views in filtered visits: its index, the page group's index,
    /// and the filtered-visits series that says whether the current visit passed.
    pub(crate) views_in_visits: Vec<ViewsInVisits>,
    /// Whether any page group's views keep visible seconds and scroll depth.
    pub(crate) engaged_groups: bool,
    pub(crate) score: Option<ScorePlan>,
    pub(crate) tiers: Vec<NamedPlan>,
    pub(crate) fallback: String,
    pub(crate) segments: Vec<NamedPlan>,
    pub(crate) slots: Vec<SlotPlan>,
}

impl AsRef<ProfileShape> for Rules {
    fn as_ref(&self) -> &ProfileShape {
        &self.shape
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GroupPlan {
    pub(crate) patterns: Vec<Glob>,
    /// The series that counts this group's views, if any rule looks at them.
    pub(crate) series: Option<usize>,
}

/// The compiled patterns of a visit test.
#[derive(Debug, Clone)]
pub(crate) enum VisitMatcher {
    /// Each given UTM parameter must match.
    Utm {
        source: Option<Glob>,
        medium: Option<Glob>,
        campaign: Option<Glob>,
    },
    /// The referring host must match.
    Referrer(Glob),
}

/// The compiled parts of a visit filter ([`crate::shape::VisitFilter`]).
#[derive(Debug, Clone)]
pub(crate) struct FilterMatcher {
    pub(crate) source: Option<Glob>,
    pub(crate) medium: Option<Glob>,
    pub(crate) campaign: Option<Glob>,
    pub(crate) referrer: Option<Glob>,
    /// The index of the page group the landing page must be in.
    pub(crate) landed: Option<usize>,
}

/// A series of page-group views counted only in visits that passed a filter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViewsInVisits {
    pub(crate) series: usize,
    pub(crate) group: usize,
    /// The filtered-visits series of the same filter: its latest hit is the current visit's
    /// start when the current visit passed.
    pub(crate) visits: usize,
}

/// How score signals are matched; what they are worth and how fast they decay is the shape's.
#[derive(Debug, Clone)]
pub(crate) struct ScorePlan {
    pub(crate) signals: Vec<(SignalPlan, f64)>,
}

#[derive(Debug, Clone)]
pub(crate) enum SignalPlan {
    Viewed(usize),
    Event(String),
    Click(Glob),
    Visit,
}

#[derive(Debug, Clone)]
pub(crate) struct NamedPlan {
    pub(crate) name: String,
    pub(crate) cond: Cond,
}

/// What a count condition counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Counted {
    Series(usize),
    Visits,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Count {
        of: Counted,
        at_least: u32,
        within: i64,
    },
    LastSeen {
        within: i64,
    },
    Engaged {
        /// `Series` of a group, or `Visits` for the whole site.
        of: Counted,
        seconds: Option<u32>,
        scroll: Option<u8>,
        within: i64,
    },
    Visit {
        test: usize,
        within: i64,
    },
    Score {
        at_least: Option<f64>,
        below: Option<f64>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct SlotPlan {
    pub(crate) name: String,
    /// The `default` variant: what a visitor who is not tracked sees.
    pub(crate) default: Option<Variant>,
    /// Variant per tier index; the fallback tier is the last index. `None`: the slot keeps
    /// the page's own content.
    pub(crate) by_tier: Vec<Option<Variant>>,
    /// `"slot":{variant}` as JSON, per tier index and for `default`, rendered once here so an
    /// answer is written by concatenation instead of serialising the same variants every call.
    pub(crate) by_tier_json: Vec<Option<String>>,
    pub(crate) default_json: Option<String>,
    /// Variant and its JSON per segment index (config order), for the segments that have one
    /// in this slot: they win over the tier's, the first of the visitor's segments first.
    pub(crate) by_segment: Vec<Option<(Variant, String)>>,
    /// Bit `i` set: segment `i` has a variant in this slot.
    pub(crate) segment_bits: u64,
}

const DEFAULT_RULES: &str = include_str!("../default_rules.json");

/// How many earlier shapes a [`Rules`] keeps at most ([`Rules::with_earlier_shapes`]).
pub const EARLIER_SHAPES: usize = 16;

impl Rules {
    // NOTE: the way from JSON to compiled rules (`from_json*`, `compile*`, `builtin`,
    // `config::parse`, `compile::compile`, `Compiler::new` and `finish`) is `#[inline]` so that
    // the crate calling it builds it, with all the serde code it instantiates: the worker builds
    // it for size, while the engine's hot code stays at opt-level 3 (Cargo.toml). It is cold
    // (once per rules version in an isolate) and about 14 KB of the worker's gzipped bundle.
    /// Reads, validates and compiles a rules config. Errors name the line and the field.
    /// Destinations must be public `https` URLs ([`Checks::default`]).
    #[inline]
    pub fn from_json(src: &str) -> Result<Rules, ConfigError> {
        Rules::from_json_with(src, Checks::default())
    }

    /// [`Rules::from_json`], with what `checks` allows beyond the public internet (loopback
    /// destinations in development).
    #[inline]
    pub fn from_json_with(src: &str, checks: Checks) -> Result<Rules, ConfigError> {
        let config = config::parse(src)?;
        Rules::compile_with(config, checks).map_err(|e| e.located(src))
    }

    /// Validates and compiles a config already in memory.
    #[inline]
    pub fn compile(config: RulesConfig) -> Result<Rules, ConfigError> {
        Rules::compile_with(config, Checks::default())
    }

    /// [`Rules::compile`], with what `checks` allows beyond the public internet.
    #[inline]
    pub fn compile_with(config: RulesConfig, checks: Checks) -> Result<Rules, ConfigError> {
        compile::compile(config, checks)
    }

    /// The built-in default rules of the brief, used when no valid rules are published.
    #[inline]
    pub fn builtin() -> &'static Rules {
        static BUILTIN: OnceLock<Rules> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // NOTE: the default rules are compiled into the binary and covered by tests, so
            // they cannot fail to parse at run time; no input reaches this.
            #[allow(clippy::expect_used)]
            Rules::from_json(DEFAULT_RULES).expect("the built-in default rules are valid")
        })
    }

    /// The built-in default rules, as the JSON a marketer would start from.
    pub fn builtin_json() -> &'static str {
        DEFAULT_RULES
    }

    /// The JSON Schema of the rules config.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(config::schema()).unwrap_or(serde_json::Value::Null)
    }

    /// The config these rules were compiled from.
    pub fn config(&self) -> &RulesConfig {
        &self.config
    }

    /// The config as canonical, pretty-printed JSON.
    pub fn source_json(&self) -> &str {
        &self.source
    }

    /// A short id for this exact config: its revision label and a content hash,
    /// as `default@1a2b3c4d`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The names of the tiers in priority order, then the fallback.
    pub fn tier_names(&self) -> impl Iterator<Item = &str> {
        self.tiers
            .iter()
            .map(|t| t.name.as_str())
            .chain(std::iter::once(self.fallback.as_str()))
    }

    /// The largest token these rules can produce, in bytes, whatever the visitor's history.
    pub fn max_token_bytes(&self) -> usize {
        crate::token::max_token_len(&self.shape)
    }

    /// What profiles keep under these rules.
    pub fn shape(&self) -> &ProfileShape {
        &self.shape
    }

    /// These rules, also accepting profiles made under `earlier` shapes (those of the configs
    /// published before them): such a profile is carried over ([`crate::Profile::carried_over`])
    /// rather than started afresh. The most recent [`EARLIER_SHAPES`] distinct shapes other
    /// than these rules' own are kept, in the order given (most recent first).
    pub fn with_earlier_shapes(mut self, earlier: impl IntoIterator<Item = ProfileShape>) -> Rules {
        self.earlier.clear();
        for shape in earlier {
            if self.earlier.len() >= EARLIER_SHAPES {
                break;
            }
            if shape != self.shape && !self.earlier.contains(&shape) {
                self.earlier.push(shape);
            }
        }
        self
    }

    /// The earlier shapes these rules carry profiles over from, most recent first.
    pub fn earlier_shapes(&self) -> &[ProfileShape] {
        &self.earlier
    }

    /// Whether a visit's landing page is tested: a UTM or referrer condition, or a filtered
    /// `visits` or `viewed` count.
    pub(crate) fn tests_landing(&self) -> bool {
        !self.visit_tests.is_empty() || !self.visit_filters.is_empty()
    }

    /// The shape a token of `format` carrying `fingerprint` was made under: these rules' own
    /// (`Ok(None)`), a known earlier one (`Ok(Some)`), or none this engine knows (`Err`).
    pub(crate) fn shape_for(
        &self,
        format: u8,
        fingerprint: u32,
    ) -> Result<Option<&ProfileShape>, ()> {
        if self.shape.fingerprint_for(format) == Some(fingerprint) {
            return Ok(None);
        }
        self.earlier
            .iter()
            .find(|s| s.fingerprint_for(format) == Some(fingerprint))
            .map(Some)
            .ok_or(())
    }

    /// What publishing these rules over `previous` does to visitors' profiles: the publish
    /// summary (`keeps `pricing`, …; starts `webinar` empty; drops `docs``).
    pub fn change_from(&self, previous: &Rules) -> ShapeChange {
        previous.shape.change_to(&self.shape)
    }
}
