//! Compiling a rules config once into an evaluation plan, checking everything on the way.
//!
//! The plan replaces names by indexes: page groups, the things a profile tracks ("series"), the
//! UTM and referrer tests a visit carries as bits. Each series keeps exactly as many recent
//! timestamps as the highest `at_least` that refers to it, which is what makes the profile both
//! compact and exact for the counts the rules ask about.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::config::{
    self, Condition, ConfigError, FieldPath, RulesConfig, Signal, Variant, Window,
};
use crate::limits::Limits;
use crate::pattern::Glob;

/// A validated, compiled rules config, ready to classify visitors.
#[derive(Debug, Clone)]
pub struct Rules {
    pub(crate) config: RulesConfig,
    source: String,
    id: String,
    /// The shape of the profiles these rules keep, as tokens of the current format carry it.
    pub(crate) fingerprint: u32,
    /// The same for tokens of format 1, which carried every visit field whatever the rules.
    pub(crate) fingerprint_v1: u32,
    pub(crate) horizon: i64,
    pub(crate) groups: Vec<GroupPlan>,
    pub(crate) series: Vec<SeriesPlan>,
    pub(crate) visit_tests: Vec<VisitTest>,
    /// Whether a rule reads visible seconds and scroll depth of visits (an `engaged` condition
    /// without a group). Profiles keep them, and tokens carry them, only then.
    pub(crate) visit_engagement: bool,
    pub(crate) score: Option<ScorePlan>,
    pub(crate) tiers: Vec<NamedPlan>,
    pub(crate) fallback: String,
    pub(crate) segments: Vec<NamedPlan>,
    pub(crate) slots: Vec<SlotPlan>,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupPlan {
    pub(crate) name: String,
    pub(crate) patterns: Vec<Glob>,
    /// The series that counts this group's views, if any rule looks at them.
    pub(crate) series: Option<usize>,
}

/// Something a profile keeps recent timestamps of.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tracked {
    Group(usize),
    Event {
        name: String,
        props: Vec<(String, String)>,
    },
    Click(Glob, String),
}

#[derive(Debug, Clone)]
pub(crate) struct SeriesPlan {
    pub(crate) what: Tracked,
    /// How many recent hits are kept: the highest `at_least` asked of this series.
    pub(crate) capacity: usize,
    /// Whether hits also carry visible seconds and scroll depth (group views under an
    /// `engaged` condition).
    pub(crate) engagement: bool,
}

/// A test on a visit's landing page, stored as one bit per visit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VisitTest {
    Utm(Box<UtmTest>),
    Referrer(Glob, String),
}

/// Each given UTM parameter must match its pattern; the text is kept for explanations.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UtmTest {
    pub(crate) source: Option<(Glob, String)>,
    pub(crate) medium: Option<(Glob, String)>,
    pub(crate) campaign: Option<(Glob, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct ScorePlan {
    pub(crate) half_life: f64,
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
}

/// `"slot":{...}`: one member of an answer's `variants` object.
fn slot_json(slot: &str, variant: Option<&Variant>) -> Option<String> {
    let variant = serde_json::to_string(variant?).ok()?;
    let name = serde_json::to_string(slot).ok()?;
    Some(format!("{name}:{variant}"))
}

const DEFAULT_RULES: &str = include_str!("default_rules.json");

impl Rules {
    /// Reads, validates and compiles a rules config. Errors name the line and the field.
    pub fn from_json(src: &str) -> Result<Rules, ConfigError> {
        let config = config::parse(src)?;
        Rules::compile(config).map_err(|e| e.located(src))
    }

    /// Validates and compiles a config already in memory.
    pub fn compile(config: RulesConfig) -> Result<Rules, ConfigError> {
        // The compiler borrows the config while it checks it; the plan keeps its own copy.
        Compiler::new(&config)?.finish(config.clone())
    }

    /// The built-in default rules of the brief, used when no valid rules are published.
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
        crate::token::max_token_len(self)
    }
}

struct Compiler<'c> {
    config: &'c RulesConfig,
    group_index: BTreeMap<&'c str, usize>,
    series: Vec<SeriesPlan>,
    visit_tests: Vec<VisitTest>,
    visit_engagement: bool,
    conditions: usize,
    horizon: u64,
}

fn err<T>(path: FieldPath, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::at(path, message.into()))
}

fn check_name(path: FieldPath, name: &str, what: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        err(
            path,
            format!("`{name}` is not a valid {what} name; use 1 to 64 letters, digits, `-` or `_`"),
        )
    }
}

fn check_text(path: FieldPath, text: &str, what: &str, max: usize) -> Result<(), ConfigError> {
    if text.trim().is_empty() {
        return err(path, format!("the {what} is empty"));
    }
    if text.len() > max {
        return err(
            path,
            format!("the {what} is {} bytes; at most {max}", text.len()),
        );
    }
    Ok(())
}

impl<'c> Compiler<'c> {
    fn new(config: &'c RulesConfig) -> Result<Self, ConfigError> {
        let root = FieldPath::default();
        if config.version != 1 {
            return err(
                root.key("version"),
                format!(
                    "this engine reads rules language version 1, found {}",
                    config.version
                ),
            );
        }
        if let Some(rev) = &config.revision {
            check_text(root.key("revision"), rev, "revision label", 64)?;
        }
        let horizon = config.horizon.secs();
        if !(86_400..=Limits::HORIZON_DAYS * 86_400).contains(&horizon) {
            return err(
                root.key("horizon"),
                format!("the horizon must be from 1d to {}d", Limits::HORIZON_DAYS),
            );
        }
        if config.page_groups.len() > Limits::PAGE_GROUPS {
            return err(
                root.key("page_groups"),
                format!(
                    "{} page groups; at most {}",
                    config.page_groups.len(),
                    Limits::PAGE_GROUPS
                ),
            );
        }
        let mut group_index = BTreeMap::new();
        for (i, (name, patterns)) in config.page_groups.iter().enumerate() {
            let path = root.key("page_groups").key(name);
            check_name(path.clone(), name, "page group")?;
            if patterns.is_empty() || patterns.len() > Limits::PATTERNS_PER_GROUP {
                return err(
                    path,
                    format!(
                        "give 1 to {} path patterns, like `/pricing*`",
                        Limits::PATTERNS_PER_GROUP
                    ),
                );
            }
            for (j, p) in patterns.iter().enumerate() {
                if !p.starts_with('/')
                    || p.len() > Limits::PATTERN_BYTES
                    || p.contains(char::is_whitespace)
                {
                    return err(
                        path.index(j),
                        format!(
                            "`{p}` is not a path pattern; it starts with `/`, has no spaces, is at most {} bytes, and `*` matches anything (`/pricing*`)",
                            Limits::PATTERN_BYTES
                        ),
                    );
                }
            }
            group_index.insert(name.as_str(), i);
        }
        Ok(Compiler {
            config,
            group_index,
            series: Vec::new(),
            visit_tests: Vec::new(),
            visit_engagement: false,
            conditions: 0,
            horizon,
        })
    }

    fn finish(mut self, config: RulesConfig) -> Result<Rules, ConfigError> {
        let root = FieldPath::default();
        let cfg = self.config;
        check_name(root.key("fallback"), &cfg.fallback, "tier")?;
        if cfg.tiers.len() > Limits::TIERS {
            return err(
                root.key("tiers"),
                format!("{} tiers; at most {}", cfg.tiers.len(), Limits::TIERS),
            );
        }
        if cfg.segments.len() > Limits::SEGMENTS {
            return err(
                root.key("segments"),
                format!(
                    "{} segments; at most {}",
                    cfg.segments.len(),
                    Limits::SEGMENTS
                ),
            );
        }
        let score = self.score(&root)?;
        let mut tiers = Vec::new();
        for (i, t) in cfg.tiers.iter().enumerate() {
            let path = root.key("tiers").index(i);
            check_name(path.key("name"), &t.name, "tier")?;
            if t.name == cfg.fallback
                || t.name == "default"
                || tiers.iter().any(|p: &NamedPlan| p.name == t.name)
            {
                return err(
                    path.key("name"),
                    format!("`{}` is used twice (or is the fallback, or `default`); tier names must be unique", t.name),
                );
            }
            let cond = self.cond(&t.when, path.key("when"), 1)?;
            tiers.push(NamedPlan {
                name: t.name.clone(),
                cond,
            });
        }
        let mut segments = Vec::new();
        for (i, s) in cfg.segments.iter().enumerate() {
            let path = root.key("segments").index(i);
            check_name(path.key("name"), &s.name, "segment")?;
            if segments.iter().any(|p: &NamedPlan| p.name == s.name) {
                return err(
                    path.key("name"),
                    format!("the segment `{}` is defined twice", s.name),
                );
            }
            let cond = self.cond(&s.when, path.key("when"), 1)?;
            segments.push(NamedPlan {
                name: s.name.clone(),
                cond,
            });
        }
        let slots = self.slots(&root, &tiers)?;
        let groups = cfg
            .page_groups
            .iter()
            .enumerate()
            .map(|(i, (name, patterns))| GroupPlan {
                name: name.clone(),
                patterns: patterns.iter().map(|p| Glob::compile(p)).collect(),
                series: self.series.iter().position(|s| s.what == Tracked::Group(i)),
            })
            .collect();
        let source = serde_json::to_string_pretty(&config).unwrap_or_default();
        let digest = Sha256::digest(source.as_bytes());
        let id = format!(
            "{}@{:02x}{:02x}{:02x}{:02x}",
            config.revision.as_deref().unwrap_or("rules"),
            digest[0],
            digest[1],
            digest[2],
            digest[3]
        );
        let mut rules = Rules {
            fingerprint: 0,
            fingerprint_v1: 0,
            horizon: self.horizon as i64,
            groups,
            series: self.series,
            visit_tests: self.visit_tests,
            visit_engagement: self.visit_engagement,
            score,
            tiers,
            fallback: cfg.fallback.clone(),
            segments,
            slots,
            source,
            id,
            config,
        };
        rules.fingerprint = fingerprint(&rules, crate::token::FORMAT);
        rules.fingerprint_v1 = fingerprint(&rules, 1);
        let worst = rules.max_token_bytes();
        if worst > Limits::TOKEN_BYTES {
            return err(
                FieldPath::default(),
                format!(
                    "these rules would need a visitor token of up to {worst} bytes; the limit is {}. Lower the `at_least` counts, or use `engaged` on fewer page groups",
                    Limits::TOKEN_BYTES
                ),
            );
        }
        Ok(rules)
    }

    fn within(&self, path: FieldPath, w: Option<Window>) -> Result<i64, ConfigError> {
        let secs = w.map_or(self.horizon, Window::secs);
        if secs > self.horizon {
            return err(
                path.key("within"),
                format!(
                    "`{}` is longer than the horizon ({}); nothing older than the horizon is kept",
                    w.map(|w| w.to_string()).unwrap_or_default(),
                    self.config.horizon
                ),
            );
        }
        Ok(secs as i64)
    }

    fn at_least(path: FieldPath, n: u32) -> Result<u32, ConfigError> {
        if n == 0 || n > Limits::COUNT {
            return err(
                path.key("at_least"),
                format!("expected a count from 1 to {}, found {n}", Limits::COUNT),
            );
        }
        Ok(n)
    }

    fn group(&self, path: FieldPath, name: &str) -> Result<usize, ConfigError> {
        self.group_index.get(name).copied().ok_or_else(|| {
            let known: Vec<&str> = self.group_index.keys().copied().collect();
            ConfigError::at(
                path,
                format!(
                    "unknown page group `{name}`; defined groups are: {}",
                    known.join(", ")
                ),
            )
        })
    }

    /// The series for `what`, created on first use; its capacity grows to `need`.
    fn series(&mut self, what: Tracked, need: u32, engagement: bool) -> usize {
        let need = need as usize;
        if let Some(i) = self.series.iter().position(|s| s.what == what) {
            let s = &mut self.series[i];
            s.capacity = s.capacity.max(need);
            s.engagement |= engagement;
            return i;
        }
        self.series.push(SeriesPlan {
            what,
            capacity: need,
            engagement,
        });
        self.series.len() - 1
    }

    fn visit_test(&mut self, path: FieldPath, test: VisitTest) -> Result<usize, ConfigError> {
        if let Some(i) = self.visit_tests.iter().position(|t| *t == test) {
            return Ok(i);
        }
        if self.visit_tests.len() >= Limits::VISIT_TESTS {
            return err(
                path,
                format!(
                    "more than {} different UTM and referrer tests",
                    Limits::VISIT_TESTS
                ),
            );
        }
        self.visit_tests.push(test);
        Ok(self.visit_tests.len() - 1)
    }

    fn cond(&mut self, c: &Condition, path: FieldPath, depth: usize) -> Result<Cond, ConfigError> {
        self.conditions += 1;
        if self.conditions > Limits::CONDITIONS {
            return err(
                path,
                format!("the config has more than {} conditions", Limits::CONDITIONS),
            );
        }
        if depth > Limits::CONDITION_DEPTH {
            return err(
                path,
                format!(
                    "conditions are nested more than {} deep",
                    Limits::CONDITION_DEPTH
                ),
            );
        }
        Ok(match c {
            Condition::All(list) | Condition::Any(list) => {
                let key = if matches!(c, Condition::All(_)) {
                    "all"
                } else {
                    "any"
                };
                if list.is_empty() {
                    return err(path.key(key), "an empty list; give at least one condition");
                }
                let mut out = Vec::with_capacity(list.len());
                for (i, sub) in list.iter().enumerate() {
                    out.push(self.cond(sub, path.key(key).index(i), depth + 1)?);
                }
                if key == "all" {
                    Cond::All(out)
                } else {
                    Cond::Any(out)
                }
            }
            Condition::Not(sub) => {
                Cond::Not(Box::new(self.cond(sub, path.key("not"), depth + 1)?))
            }
            Condition::Viewed(v) => {
                let p = path.key("viewed");
                let g = self.group(p.key("group"), &v.group)?;
                let at_least = Self::at_least(p.clone(), v.at_least)?;
                let within = self.within(p, v.within)?;
                let s = self.series(Tracked::Group(g), at_least, false);
                Cond::Count {
                    of: Counted::Series(s),
                    at_least,
                    within,
                }
            }
            Condition::Visits(v) => {
                let p = path.key("visits");
                let at_least = Self::at_least(p.clone(), v.at_least)?;
                Cond::Count {
                    of: Counted::Visits,
                    at_least,
                    within: self.within(p, v.within)?,
                }
            }
            Condition::Event(e) => {
                let p = path.key("event");
                check_text(p.key("name"), &e.name, "event name", Limits::NAME_BYTES)?;
                if e.props.len() > Limits::PROPS {
                    return err(
                        p.key("props"),
                        format!("at most {} properties", Limits::PROPS),
                    );
                }
                let at_least = Self::at_least(p.clone(), e.at_least)?;
                let within = self.within(p, e.within)?;
                let what = Tracked::Event {
                    name: e.name.clone(),
                    props: e
                        .props
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                };
                let s = self.series(what, at_least, false);
                Cond::Count {
                    of: Counted::Series(s),
                    at_least,
                    within,
                }
            }
            Condition::Click(c) => {
                let p = path.key("click");
                check_text(
                    p.key("target"),
                    &c.target,
                    "click target",
                    Limits::NAME_BYTES,
                )?;
                let at_least = Self::at_least(p.clone(), c.at_least)?;
                let within = self.within(p, c.within)?;
                let s = self.series(
                    Tracked::Click(Glob::compile(&c.target), c.target.clone()),
                    at_least,
                    false,
                );
                Cond::Count {
                    of: Counted::Series(s),
                    at_least,
                    within,
                }
            }
            Condition::LastSeen(l) => Cond::LastSeen {
                within: self.within(path.key("last_seen"), Some(l.within))?,
            },
            Condition::Engaged(e) => {
                let p = path.key("engaged");
                if e.seconds_at_least.is_none() && e.scroll_at_least.is_none() {
                    return err(p, "give `seconds_at_least`, `scroll_at_least`, or both");
                }
                if e.scroll_at_least.is_some_and(|s| s > 100) {
                    return err(
                        p.key("scroll_at_least"),
                        "expected a percentage from 0 to 100",
                    );
                }
                let within = self.within(p.clone(), e.within)?;
                let of = match &e.group {
                    Some(name) => {
                        let g = self.group(p.key("group"), name)?;
                        Counted::Series(self.series(Tracked::Group(g), Limits::COUNT, true))
                    }
                    None => {
                        self.visit_engagement = true;
                        Counted::Visits
                    }
                };
                Cond::Engaged {
                    of,
                    seconds: e.seconds_at_least,
                    scroll: e.scroll_at_least,
                    within,
                }
            }
            Condition::Utm(u) => {
                let p = path.key("utm");
                if u.source.is_none() && u.medium.is_none() && u.campaign.is_none() {
                    return err(p, "give at least one of `source`, `medium`, `campaign`");
                }
                let glob = |v: &Option<String>| v.as_ref().map(|s| (Glob::compile(s), s.clone()));
                let test = VisitTest::Utm(Box::new(UtmTest {
                    source: glob(&u.source),
                    medium: glob(&u.medium),
                    campaign: glob(&u.campaign),
                }));
                let within = self.within(p.clone(), u.within)?;
                Cond::Visit {
                    test: self.visit_test(p, test)?,
                    within,
                }
            }
            Condition::Referrer(r) => {
                let p = path.key("referrer");
                check_text(p.key("host"), &r.host, "referrer host", Limits::NAME_BYTES)?;
                let within = self.within(p.clone(), r.within)?;
                let test = VisitTest::Referrer(Glob::compile(&r.host), r.host.clone());
                Cond::Visit {
                    test: self.visit_test(p, test)?,
                    within,
                }
            }
            Condition::Score(s) => {
                let p = path.key("score");
                if self.config.score.is_none() {
                    return err(
                        p,
                        "a `score` condition needs a top-level `score` section with signals",
                    );
                }
                if s.at_least.is_none() && s.below.is_none() {
                    return err(p, "give `at_least`, `below`, or both");
                }
                if s.at_least
                    .into_iter()
                    .chain(s.below)
                    .any(|v| !v.is_finite())
                {
                    return err(p, "expected finite numbers");
                }
                Cond::Score {
                    at_least: s.at_least,
                    below: s.below,
                }
            }
        })
    }

    fn score(&mut self, root: &FieldPath) -> Result<Option<ScorePlan>, ConfigError> {
        let Some(score) = &self.config.score else {
            return Ok(None);
        };
        let path = root.key("score");
        if score.half_life.secs() < 3_600 {
            return err(
                path.key("half_life"),
                "a half-life shorter than 1h makes points vanish almost at once",
            );
        }
        if score.signals.is_empty() || score.signals.len() > Limits::SCORE_SIGNALS {
            return err(
                path.key("signals"),
                format!("give 1 to {} signals", Limits::SCORE_SIGNALS),
            );
        }
        let mut signals = Vec::new();
        for (i, s) in score.signals.iter().enumerate() {
            let p = path.key("signals").index(i);
            if !(-1000..=1000).contains(&s.points) {
                return err(p.key("points"), "points go from -1000 to 1000");
            }
            let plan = match &s.on {
                Signal::Viewed(g) => SignalPlan::Viewed(self.group(p.key("on").key("viewed"), g)?),
                Signal::Event(name) => {
                    check_text(
                        p.key("on").key("event"),
                        name,
                        "event name",
                        Limits::NAME_BYTES,
                    )?;
                    SignalPlan::Event(name.clone())
                }
                Signal::Click(t) => {
                    check_text(
                        p.key("on").key("click"),
                        t,
                        "click target",
                        Limits::NAME_BYTES,
                    )?;
                    SignalPlan::Click(Glob::compile(t))
                }
                Signal::Visit => SignalPlan::Visit,
            };
            signals.push((plan, f64::from(s.points)));
        }
        Ok(Some(ScorePlan {
            half_life: score.half_life.secs() as f64,
            signals,
        }))
    }

    fn slots(&self, root: &FieldPath, tiers: &[NamedPlan]) -> Result<Vec<SlotPlan>, ConfigError> {
        let cfg = self.config;
        if cfg.variants.len() > Limits::SLOTS {
            return err(
                root.key("variants"),
                format!("{} slots; at most {}", cfg.variants.len(), Limits::SLOTS),
            );
        }
        let tier_names: Vec<&str> = tiers
            .iter()
            .map(|t| t.name.as_str())
            .chain(std::iter::once(cfg.fallback.as_str()))
            .collect();
        let mut slots = Vec::new();
        for (slot, by_key) in &cfg.variants {
            let path = root.key("variants").key(slot);
            check_name(path.clone(), slot, "slot")?;
            for (key, variant) in by_key {
                let p = path.key(key);
                if key != "default" && !tier_names.contains(&key.as_str()) {
                    return err(
                        p,
                        format!(
                            "`{key}` is not a tier; use one of {} or `default`",
                            tier_names.join(", ")
                        ),
                    );
                }
                check_variant(p, variant)?;
            }
            let default = by_key.get("default");
            let by_tier = tier_names
                .iter()
                .map(|t| by_key.get(*t).or(default).cloned())
                .collect();
            let by_tier_json = tier_names
                .iter()
                .map(|t| slot_json(slot, by_key.get(*t).or(default)))
                .collect();
            slots.push(SlotPlan {
                name: slot.clone(),
                default: default.cloned(),
                by_tier,
                by_tier_json,
                default_json: slot_json(slot, default),
            });
        }
        Ok(slots)
    }
}

fn check_variant(path: FieldPath, v: &Variant) -> Result<(), ConfigError> {
    let size = v.text.as_ref().map_or(0, String::len)
        + v.html.as_ref().map_or(0, String::len)
        + v.href.as_ref().map_or(0, String::len)
        + v.attrs
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > Limits::VARIANT_BYTES {
        return err(
            path,
            format!(
                "the variant is {size} bytes; at most {}",
                Limits::VARIANT_BYTES
            ),
        );
    }
    if v.text.is_some() && v.html.is_some() {
        return err(
            path,
            "give `text` or `html`, not both: both replace the element's content",
        );
    }
    if let Some(href) = &v.href {
        if unsafe_url(href) {
            return err(
                path.key("href"),
                "links must be http(s), relative, `mailto:` or `tel:` URLs",
            );
        }
    }
    for (name, value) in &v.attrs {
        let p = path.key("attrs").key(name);
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
        if !valid {
            return err(p, format!("`{name}` is not an attribute name"));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("on") {
            return err(p, "event-handler attributes (`on…`) are not allowed; scripts do not belong in variants");
        }
        if matches!(lower.as_str(), "href" | "src" | "action" | "formaction") && unsafe_url(value) {
            return err(
                p,
                "links must be http(s), relative, `mailto:` or `tel:` URLs",
            );
        }
    }
    Ok(())
}

fn unsafe_url(url: &str) -> bool {
    let lower: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    lower.starts_with("javascript:") || lower.starts_with("data:") || lower.starts_with("vbscript:")
}

/// A hash of everything that shapes a profile: what is tracked, how much is kept, the visit
/// tests, the horizon and the score, and from token format 2 on, which visit fields are kept.
/// Rules that differ only in thresholds below the capacity, tiers or variants keep visitors'
/// profiles; anything else starts them fresh.
fn fingerprint(rules: &Rules, format: u8) -> u32 {
    let mut h = Sha256::new();
    h.update(b"intent-profile-shape/1");
    h.update(rules.horizon.to_le_bytes());
    for s in &rules.series {
        h.update(format!("{:?}|{}|{};", s.what, s.capacity, s.engagement).as_bytes());
    }
    for t in &rules.visit_tests {
        h.update(format!("{t:?};").as_bytes());
    }
    if let Some(score) = &rules.score {
        h.update(format!("score {} {:?};", score.half_life, score.signals).as_bytes());
    }
    if format >= 2 {
        h.update(format!("visit engagement {};", rules.visit_engagement).as_bytes());
    }
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}
