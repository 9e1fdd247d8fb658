//! Golden tests at the engine's boundary: `tests/data/classify/<case>/` holds `events.jsonl`,
//! `at.txt`, optionally `rules.json` (else the built-in rules), and `expected.txt`: each
//! visitor's decision and explanation. `tests/data/invalid/<case>.json` holds a broken config
//! and `<case>.expected` the exact error. Run with `UPDATE_GOLDEN=1` to rewrite the expected
//! files, then read the diff before committing it.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use intent_engine::{simulate, LogEvent, Rules, Timestamp};

fn data(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
}

fn check_golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if expected == actual {
        return Ok(());
    }
    let mut diff = String::new();
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            let _ = writeln!(diff, "line {}:\n  expected: {e}\n  actual:   {a}", i + 1);
        }
    }
    let _ = writeln!(
        diff,
        "({} expected lines, {} actual)",
        expected.lines().count(),
        actual.lines().count()
    );
    Err(format!("{} differs:\n{diff}", path.display()))
}

fn run_case(dir: &Path) -> Result<(), String> {
    let rules = match fs::read_to_string(dir.join("rules.json")) {
        Ok(text) => Rules::from_json(&text).map_err(|e| e.to_string())?,
        Err(_) => Rules::builtin().clone(),
    };
    let at_text = fs::read_to_string(dir.join("at.txt")).map_err(|e| e.to_string())?;
    let at = Timestamp::parse_rfc3339(at_text.trim()).map_err(|e| e.to_string())?;
    let log: Vec<LogEvent> = fs::read_to_string(dir.join("events.jsonl"))
        .map_err(|e| e.to_string())?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| LogEvent::parse(l, i + 1).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut out = String::new();
    for v in simulate(&rules, &log, at).visitors {
        let decision = rules.decide(&v.profile, at);
        let json = serde_json::to_string(&decision).map_err(|e| e.to_string())?;
        check_answer_json(&decision, &json)?;
        let _ = writeln!(
            out,
            "## {}\n{json}\n{}",
            v.visitor,
            rules.explain(&v.profile, at)
        );
    }
    check_golden(&dir.join("expected.txt"), &out)
}

/// The hand-written answer must say exactly what the serialised decision says.
fn check_answer_json(
    decision: &intent_engine::Decision<'_>,
    serialised: &str,
) -> Result<(), String> {
    for (profile, fresh) in [(None, None), (Some("tok\"en"), Some("expired"))] {
        let answer: serde_json::Value = serde_json::from_str(&decision.answer_json(profile, fresh))
            .map_err(|e| e.to_string())?;
        let mut want: serde_json::Value =
            serde_json::from_str(serialised).map_err(|e| e.to_string())?;
        want["profile"] = profile.map_or(serde_json::Value::Null, Into::into);
        want["visitor"] = decision
            .visitor
            .map_or(serde_json::Value::Null, |v| v.to_string().into());
        if let Some(f) = fresh {
            want["fresh"] = f.into();
        }
        if answer != want {
            return Err(format!("answer_json {answer} differs from {want}"));
        }
    }
    let only = decision.clone().only_slots(&["cta"]);
    let answer: serde_json::Value =
        serde_json::from_str(&only.answer_json(None, None)).map_err(|e| e.to_string())?;
    let slots: Vec<&String> = answer["variants"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    if slots.iter().any(|s| *s != "cta") {
        return Err(format!("only_slots kept {slots:?}"));
    }
    if only.variants().any(|(s, _)| s != "cta")
        || only.variant("hero").is_some()
        || only.variant("cta") != decision.variant("cta")
    {
        return Err(format!("only_slots: {only:?} from {decision:?}"));
    }
    Ok(())
}

fn cases(dir: &str, ext: Option<&str>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(data(dir))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)));
    paths.sort();
    paths
}

#[test]
fn classify_cases() {
    let dirs = cases("classify", None);
    assert!(
        dirs.len() >= 8,
        "expected the golden cases under tests/data/classify"
    );
    let failures: Vec<String> = dirs.iter().filter_map(|d| run_case(d).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn read_rules(path: &Path) -> Result<Rules, String> {
    match fs::read_to_string(path) {
        Ok(text) => Rules::from_json(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(Rules::builtin().clone()),
    }
}

fn read_log(dir: &Path) -> Result<Option<(Vec<LogEvent>, Timestamp)>, String> {
    let Ok(text) = fs::read_to_string(dir.join("events.jsonl")) else {
        return Ok(None);
    };
    let at_text = fs::read_to_string(dir.join("at.txt")).map_err(|e| e.to_string())?;
    let at = Timestamp::parse_rfc3339(at_text.trim()).map_err(|e| e.to_string())?;
    let log = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| LogEvent::parse(l, i + 1).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    Ok(Some((log, at)))
}

fn run_publish_case(dir: &Path) -> Result<(), String> {
    let old = read_rules(&dir.join("old.json"))?;
    let new =
        Rules::from_json(&fs::read_to_string(dir.join("new.json")).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let change = new.change_from(&old);
    let json = serde_json::to_string_pretty(&change).map_err(|e| e.to_string())?;
    let mut out = format!("{} over {}: {change}\n{json}\n", new.id(), old.id());
    if let Some((log, at)) = read_log(dir)? {
        let before = simulate(&old, &log, at).visitors;
        let rebuilt = simulate(&new, &log, at).visitors;
        for (b, r) in before.iter().zip(&rebuilt) {
            let carried = b.profile.carried_over(old.shape(), new.shape());
            let tiers = |rules: &Rules, p: &intent_engine::Profile| {
                let d = rules.decide(p, at);
                format!("{} {:?}", d.tier, d.segments)
            };
            let _ = writeln!(
                out,
                "{}: before {}; carried over {}; built under the new rules {}",
                b.visitor,
                tiers(&old, &b.profile),
                tiers(&new, &carried),
                tiers(&new, &r.profile)
            );
        }
    }
    check_golden(&dir.join("expected.txt"), &out)
}

#[test]
fn publish_summaries() {
    let dirs = cases("publish", None);
    assert!(
        dirs.len() >= 5,
        "expected the golden cases under tests/data/publish"
    );
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| run_publish_case(d).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn invalid_configs_name_line_and_field() {
    let files = cases("invalid", Some("json"));
    assert!(
        files.len() >= 20,
        "expected the invalid configs under tests/data/invalid"
    );
    let mut failures = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let actual = match Rules::from_json(&text) {
            Ok(_) => "accepted\n".to_owned(),
            Err(e) => format!("{e}\n"),
        };
        if let Err(e) = check_golden(&file.with_extension("expected"), &actual) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn builtin_rules_are_the_briefs_default_rules() {
    let rules = Rules::builtin();
    let cfg = rules.config();
    let tiers: Vec<&str> = rules.tier_names().collect();
    assert_eq!(tiers, ["ready", "evaluating", "researching"]);
    let groups: Vec<(&str, Vec<&str>)> = cfg
        .page_groups
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        groups,
        [
            ("blog", vec!["/blog*", "/guides*"]),
            ("compare", vec!["/compare*", "/vs/*", "/alternatives*"]),
            ("customers", vec!["/customers*", "/case-studies*"]),
            ("demo", vec!["/demo*", "/book-a-demo*", "/contact-sales*"]),
            ("docs", vec!["/docs*"]),
            ("pricing", vec!["/pricing*"]),
            ("product", vec!["/product*", "/features*", "/integrations*"]),
        ]
    );
    assert_eq!(cfg.horizon.to_string(), "90d");
    // The shipped example is the built-in config, byte for byte.
    let example = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rules/default.json"),
    );
    assert_eq!(example.ok().as_deref(), Some(Rules::builtin_json()));
}

#[test]
fn schema_describes_the_config() {
    let schema = Rules::json_schema();
    let text = schema.to_string();
    for needle in [
        "page_groups",
        "tiers",
        "fallback",
        "within",
        "at_least",
        "half_life",
        "variants",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
    assert_eq!(schema["title"], "RulesConfig");
}

/// Replaying the compact log (`VisitorLog`) builds the very profiles that replaying the log as
/// read does, for every golden case's rules and events and for the example log under every
/// example's rules.
#[test]
fn the_compact_log_replays_as_the_log_does() {
    let mut cases: Vec<(String, String, String)> = Vec::new();
    let root = data("classify");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no golden cases in {}", root.display());
    for dir in dirs {
        let rules = fs::read_to_string(dir.join("rules.json"))
            .unwrap_or_else(|_| Rules::builtin_json().to_owned());
        let events = fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let at = fs::read_to_string(dir.join("at.txt")).unwrap();
        cases.push((rules, events, at));
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let log = fs::read_to_string(examples.join("events/acme-november.jsonl")).unwrap();
    for rules in ["default.json", "campaigns.json"] {
        let rules = fs::read_to_string(examples.join("rules").join(rules)).unwrap();
        cases.push((rules, log.clone(), "2026-11-30T12:00:00Z".to_owned()));
    }
    for (rules, events, at) in cases {
        let rules = Rules::from_json(&rules).unwrap();
        let at = Timestamp::parse_rfc3339(at.trim()).unwrap();
        let read: Vec<LogEvent> = events
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| LogEvent::parse(l, i + 1).unwrap())
            .collect();
        let compact = intent_engine::VisitorLog::new(read.clone());
        let expected = simulate(&rules, &read, at).visitors;
        let replayed: Vec<_> = compact.visitors().collect();
        assert_eq!(expected.len(), replayed.len());
        for (e, r) in expected.iter().zip(replayed) {
            assert_eq!(e.visitor, r.visitor);
            let (profile, n) = r.profile_at(&rules, at);
            assert_eq!((&e.profile, e.events), (&profile, n), "{}", e.visitor);
        }
    }
}
