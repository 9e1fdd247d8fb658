//! Compiling a rules config once into an evaluation plan and a profile shape, checking
//! everything on the way. All validation lives here (and in `variants.rs`), with the limits of
//! `limits.rs`; the worst-case token size is computed and checked here.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::destinations::{self, Checks};
use super::{
    variants, Cond, Counted, FilterMatcher, GroupPlan, NamedPlan, Rules, ScorePlan, SignalPlan,
    ViewsInVisits, VisitMatcher,
};
use crate::config::{
    Condition, ConfigError, FieldPath, ReferrerFilter, RulesConfig, Signal, UtmFilter, Window,
};
use crate::limits::Limits;
use crate::pattern::Glob;
use crate::shape::{
    legacy, ProfileShape, ScoreShape, Series, SignalKey, Tracked, VisitFilter, VisitTest,
};

/// Checks `config` and compiles it.
// `#[inline]`: built by the calling crate, for size in the worker (see `Rules::from_json`).
#[inline]
pub(super) fn compile(config: RulesConfig, checks: Checks) -> Result<Rules, ConfigError> {
    // The compiler borrows the config while it checks it; the plan keeps its own copy.
    let rules = Compiler::new(&config)?.finish(config.clone())?;
    destinations::check(&config, checks)?;
    Ok(rules)
}

struct Compiler<'c> {
    config: &'c RulesConfig,
    group_index: BTreeMap<&'c str, usize>,
    series: Vec<Series>,
    visit_tests: Vec<VisitTest>,
    visit_engagement: bool,
    conditions: usize,
    horizon: u64,
}

pub(super) fn err<T>(path: FieldPath, message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::at(path, message.into()))
}

pub(super) fn check_name(path: FieldPath, name: &str, what: &str) -> Result<(), ConfigError> {
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
    #[inline]
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

    #[inline]
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
        let slots = variants::slots(cfg, &root, &tiers, &segments)?;
        let groups = cfg
            .page_groups
            .iter()
            .map(|(name, patterns)| GroupPlan {
                patterns: patterns.iter().map(|p| Glob::compile(p)).collect(),
                series: self
                    .series
                    .iter()
                    .position(|s| matches!(&s.what, Tracked::Group(g) if g == name)),
            })
            .collect();
        let clicks = self
            .series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.what {
                Tracked::Click(target) => Some((i, Glob::compile(target))),
                _ => None,
            })
            .collect();
        let visit_tests = self.visit_tests.iter().map(matcher).collect();
        let group_index = &self.group_index;
        let visit_filters = self
            .series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.what {
                Tracked::Visits(filter) => Some((i, filter_matcher(filter, group_index))),
                _ => None,
            })
            .collect();
        let views_in_visits = self
            .series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.what {
                Tracked::GroupIn { group, visits } => Some(ViewsInVisits {
                    series: i,
                    group: *group_index.get(group.as_str())?,
                    visits: self
                        .series
                        .iter()
                        .position(|t| matches!(&t.what, Tracked::Visits(f) if f == visits))?,
                }),
                _ => None,
            })
            .collect();
        let engaged_groups = self.series.iter().any(|s| s.engagement);
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
        let (score, score_shape) = score.unzip();
        let mut shape = ProfileShape::new(
            self.horizon as i64,
            self.series,
            self.visit_tests,
            self.visit_engagement,
            score_shape,
        );
        let group_index = &self.group_index;
        shape.legacy = Some(legacy::fingerprints(&shape, |name| {
            group_index.get(name).copied().unwrap_or(usize::MAX)
        }));
        let worst = crate::token::max_token_len(&shape);
        if worst > Limits::TOKEN_BYTES {
            return err(
                FieldPath::default(),
                format!(
                    "these rules would need a visitor token of up to {worst} bytes; the limit is {}. Lower the `at_least` counts, or use `engaged` on fewer page groups",
                    Limits::TOKEN_BYTES
                ),
            );
        }
        let rules = Rules {
            shape,
            earlier: Vec::new(),
            groups,
            clicks,
            visit_tests,
            visit_filters,
            views_in_visits,
            engaged_groups,
            score,
            tiers,
            fallback: cfg.fallback.clone(),
            segments,
            slots,
            source,
            id,
            config,
        };
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
        self.series.push(Series {
            what,
            capacity: need,
            engagement,
        });
        self.series.len() - 1
    }

    /// The visit filter of a `visits` or `viewed` condition at `path`, if it has one.
    fn visit_filter(
        &self,
        path: &FieldPath,
        utm: &Option<UtmFilter>,
        referrer: &Option<ReferrerFilter>,
        landed: &Option<String>,
    ) -> Result<Option<VisitFilter>, ConfigError> {
        if utm.is_none() && referrer.is_none() && landed.is_none() {
            return Ok(None);
        }
        let mut filter = VisitFilter::default();
        if let Some(u) = utm {
            let p = path.key("utm");
            if u.source.is_none() && u.medium.is_none() && u.campaign.is_none() {
                return err(p, "give at least one of `source`, `medium`, `campaign`");
            }
            for (key, part) in [
                ("source", &u.source),
                ("medium", &u.medium),
                ("campaign", &u.campaign),
            ] {
                if let Some(text) = part {
                    check_text(p.key(key), text, "UTM pattern", Limits::NAME_BYTES)?;
                }
            }
            filter.source.clone_from(&u.source);
            filter.medium.clone_from(&u.medium);
            filter.campaign.clone_from(&u.campaign);
        }
        if let Some(r) = referrer {
            let p = path.key("referrer").key("host");
            check_text(p, &r.host, "referrer host", Limits::NAME_BYTES)?;
            filter.referrer = Some(r.host.clone());
        }
        if let Some(group) = landed {
            self.group(path.key("landed"), group)?;
            filter.landed = Some(group.clone());
        }
        Ok(Some(filter))
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
                self.group(p.key("group"), &v.group)?;
                let at_least = Self::at_least(p.clone(), v.at_least)?;
                let within = self.within(p.clone(), v.within)?;
                let what = match self.visit_filter(&p, &v.utm, &v.referrer, &v.landed)? {
                    None => Tracked::Group(v.group.clone()),
                    Some(filter) => {
                        // Whether the current visit passed the filter is read from the
                        // filtered-visits series of the same filter: its latest hit is the
                        // visit's start. One hit is all that needs.
                        self.series(Tracked::Visits(filter.clone()), 1, false);
                        Tracked::GroupIn {
                            group: v.group.clone(),
                            visits: filter,
                        }
                    }
                };
                let s = self.series(what, at_least, false);
                Cond::Count {
                    of: Counted::Series(s),
                    at_least,
                    within,
                }
            }
            Condition::Visits(v) => {
                let p = path.key("visits");
                let at_least = Self::at_least(p.clone(), v.at_least)?;
                let within = self.within(p.clone(), v.within)?;
                let of = match self.visit_filter(&p, &v.utm, &v.referrer, &v.landed)? {
                    None => Counted::Visits,
                    Some(filter) => {
                        Counted::Series(self.series(Tracked::Visits(filter), at_least, false))
                    }
                };
                Cond::Count {
                    of,
                    at_least,
                    within,
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
                let s = self.series(Tracked::Click(c.target.clone()), at_least, false);
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
                        self.group(p.key("group"), name)?;
                        let s = self.series(Tracked::Group(name.clone()), Limits::COUNT, true);
                        Counted::Series(s)
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
                let test = VisitTest::Utm {
                    source: u.source.clone(),
                    medium: u.medium.clone(),
                    campaign: u.campaign.clone(),
                };
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
                let test = VisitTest::Referrer(r.host.clone());
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

    /// The score's plan (how signals are matched) and its shape (what a profile keeps).
    fn score(&mut self, root: &FieldPath) -> Result<Option<(ScorePlan, ScoreShape)>, ConfigError> {
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
        let mut keys = Vec::new();
        for (i, s) in score.signals.iter().enumerate() {
            let p = path.key("signals").index(i);
            if !(-1000..=1000).contains(&s.points) {
                return err(p.key("points"), "points go from -1000 to 1000");
            }
            let (plan, key) = match &s.on {
                Signal::Viewed(g) => (
                    SignalPlan::Viewed(self.group(p.key("on").key("viewed"), g)?),
                    SignalKey::Viewed(g.clone()),
                ),
                Signal::Event(name) => {
                    check_text(
                        p.key("on").key("event"),
                        name,
                        "event name",
                        Limits::NAME_BYTES,
                    )?;
                    (
                        SignalPlan::Event(name.clone()),
                        SignalKey::Event(name.clone()),
                    )
                }
                Signal::Click(t) => {
                    check_text(
                        p.key("on").key("click"),
                        t,
                        "click target",
                        Limits::NAME_BYTES,
                    )?;
                    (
                        SignalPlan::Click(Glob::compile(t)),
                        SignalKey::Click(t.clone()),
                    )
                }
                Signal::Visit => (SignalPlan::Visit, SignalKey::Visit),
            };
            signals.push((plan, f64::from(s.points)));
            keys.push((key, s.points));
        }
        let plan = ScorePlan { signals };
        let shape = ScoreShape {
            half_life: score.half_life.secs() as i64,
            signals: keys,
        };
        Ok(Some((plan, shape)))
    }
}

/// The compiled patterns of a visit test.
fn matcher(test: &VisitTest) -> VisitMatcher {
    let glob = |p: &Option<String>| p.as_deref().map(Glob::compile);
    match test {
        VisitTest::Utm {
            source,
            medium,
            campaign,
        } => VisitMatcher::Utm {
            source: glob(source),
            medium: glob(medium),
            campaign: glob(campaign),
        },
        VisitTest::Referrer(host) => VisitMatcher::Referrer(Glob::compile(host)),
    }
}

/// The compiled parts of a visit filter; `group_index` gives a page group's index.
fn filter_matcher(filter: &VisitFilter, group_index: &BTreeMap<&str, usize>) -> FilterMatcher {
    let glob = |p: &Option<String>| p.as_deref().map(Glob::compile);
    FilterMatcher {
        source: glob(&filter.source),
        medium: glob(&filter.medium),
        campaign: glob(&filter.campaign),
        referrer: glob(&filter.referrer),
        // The compiler checked that the group exists.
        landed: filter
            .landed
            .as_deref()
            .and_then(|g| group_index.get(g).copied()),
    }
}
