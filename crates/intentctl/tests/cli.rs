//! `intentctl` as a marketer runs it: commands, output, exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn intentctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_intentctl"))
        .args(args)
        .current_dir(root())
        .env_remove("INTENT_ADMIN_TOKEN")
        .env_remove("INTENT_URL")
        .env_remove("ALLOW_LOOPBACK_DESTINATIONS")
        .output()
        .expect("run intentctl")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_accepts_the_examples() {
    for file in [
        "examples/rules/default.json",
        "examples/rules/campaigns.json",
        "examples/rules/webinar.json",
        "examples/brief/rules.json",
        "examples/rules/triggers.json",
    ] {
        let out = intentctl(&["validate", file]);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("valid"), "{}", text(&out.stdout));
    }
}

#[test]
fn validate_names_line_and_field() {
    let out = intentctl(&["validate", "examples/rules/broken-window.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "examples/rules/broken-window.json: line 21, `tiers[0].when.any[1].viewed.within`: expected a duration like `7d`, `12h` or `30m`, found `7 days`"
    );
    let out = intentctl(&["validate", "examples/rules/broken-group.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(
        "line 38, `tiers[1].when.any[1].viewed.group`: unknown page group `comparisons`"
    ));
    let out = intentctl(&["validate", "no/such/file.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("reading no/such/file.json"));
}

#[test]
fn simulate_gives_the_default_tiers() {
    let out = intentctl(&[
        "simulate",
        "--events",
        "examples/events/acme-november.jsonl",
        "--at",
        "2026-11-30T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tiers: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["visitor"].as_str().unwrap().to_owned(),
                l["tier"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("v-pricing-fan", "ready"),
        ("v-blog-reader", "researching"),
        ("v-compare", "evaluating"),
        ("v-demo-curious", "ready"),
        ("v-requested", "ready"),
        ("v-returning", "ready"),
        ("v-pricing-once", "evaluating"),
        ("v-social-proof", "evaluating"),
        ("v-one-story", "researching"),
        ("v-product-deep", "evaluating"),
        ("v-stale", "evaluating"),
        ("v-long-gone", "researching"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(tiers, want);
    // One JSON object a line, the visitor first, as the contract shows.
    assert!(text(&out.stdout).starts_with("{\"visitor\":\"v-pricing-fan\",\"tier\":\"ready\""));
    let summary = text(&out.stderr);
    assert!(
        summary.contains("12 visitors, 30 events (1 after --at left out)"),
        "{summary}"
    );
    assert!(
        summary.contains("ready 4 (33%), evaluating 5 (42%), researching 3 (25%)"),
        "{summary}"
    );
}

/// `examples/brief/`: each example of the product brief is a named segment, and the log puts
/// one visitor in it and one just short of it. The audiences are exactly `expected.jsonl`.
#[test]
fn the_brief_rule_by_rule() {
    let dir = root().join("examples/brief");
    let at = std::fs::read_to_string(dir.join("at.txt")).expect("examples/brief/at.txt");
    let out = intentctl(&[
        "simulate",
        "--rules",
        "examples/brief/rules.json",
        "--events",
        "examples/brief/events.jsonl",
        "--at",
        at.trim(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = text(&out.stdout);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(dir.join("expected.jsonl"), &got).expect("write expected.jsonl");
    }
    let want =
        std::fs::read_to_string(dir.join("expected.jsonl")).expect("examples/brief/expected.jsonl");
    assert_eq!(
        got, want,
        "examples/brief: the audiences changed (UPDATE_GOLDEN=1 rewrites expected.jsonl)"
    );
    // Every segment of the brief has a member, and a visitor who falls just short of it.
    let rules: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rules.json")).unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = got
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for segment in rules["segments"].as_array().unwrap() {
        let name = &segment["name"];
        let members = lines
            .iter()
            .filter(|l| l["segments"].as_array().unwrap().contains(name))
            .count();
        assert_eq!(members, 1, "segment {name}");
    }
    assert_eq!(lines.len(), 14);
    assert!(
        lines
            .iter()
            .filter(|l| l["segments"].as_array().unwrap().is_empty())
            .count()
            == 7
    );
}

#[test]
fn simulate_with_other_rules_and_stdin() {
    let log = std::fs::read(root().join("examples/events/acme-november.jsonl")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_intentctl"))
        .args([
            "simulate",
            "--rules",
            "examples/rules/campaigns.json",
            "--events",
            "-",
            "--at",
            "2026-11-30T12:00:00Z",
        ])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert!(
        first["score"].as_f64().is_some(),
        "campaign rules score visitors: {first}"
    );
    assert!(text(&out.stderr).contains("2026-11-campaigns@"));
}

#[test]
fn simulate_reports_the_bad_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, "{\"visitor\":\"a\",\"ts\":\"2026-11-20T10:00:00Z\",\"type\":\"pageview\",\"url\":\"/\"}\n{\"visitor\":\"a\",\"ts\":\"2026-11-20T10:00:00Z\",\"type\":\"hover\"}\n").unwrap();
    let out = intentctl(&["simulate", "--events", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 2: unknown kind `hover`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn explain_says_why_in_words() {
    let out = intentctl(&[
        "explain",
        "--visitor",
        "v-returning",
        "--events",
        "examples/events/acme-november.jsonl",
        "--at",
        "2026-11-30T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("Tier: ready"), "{s}");
    assert!(
        s.contains("✓ at least 3 visits within 14 days — seen: 3 visits"),
        "{s}"
    );
    assert!(
        s.contains("✗ viewed pricing pages at least 3 times within 14 days — seen: once"),
        "{s}"
    );
    let json = intentctl(&[
        "explain",
        "--json",
        "--visitor",
        "v-returning",
        "--events",
        "examples/events/acme-november.jsonl",
        "--at",
        "2026-11-30T12:00:00Z",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["tier"], "ready");
    let missing = intentctl(&[
        "explain",
        "--visitor",
        "nobody",
        "--events",
        "examples/events/acme-november.jsonl",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no events for visitor `nobody`"));
}

#[test]
fn schema_and_defaults_print_json() {
    let out = intentctl(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "RulesConfig");
    let out = intentctl(&["defaults"]);
    let defaults: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(defaults["fallback"], "researching");
}

#[test]
fn publish_refuses_a_broken_config_before_sending() {
    let out = intentctl(&[
        "publish",
        "examples/rules/broken-group.json",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not published"));
    let out = intentctl(&[
        "publish",
        "examples/rules/default.json",
        "--url",
        "http://127.0.0.1:9",
        "--token",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("could not reach http://127.0.0.1:9/v1/admin/rules"),
        "{}",
        text(&out.stderr)
    );
    let out = intentctl(&["publish", "examples/rules/default.json"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--token"),
        "{}",
        text(&out.stderr)
    );
}

/// A token the worker would issue after `pages` page views an hour apart, ending at `end`.
fn issued_token(keys: &str, pages: &[&str], end: i64) -> String {
    use intent_engine::{process, Event, Keyring, Rules, Timestamp};
    let keys = Keyring::parse(keys).expect("keys");
    let mut token: Option<String> = None;
    for (i, page) in pages.iter().enumerate() {
        let at = Timestamp::from_secs(end - 3600 * (pages.len() - 1 - i) as i64);
        let events = [Event::pageview(&format!("https://acme.test{page}"), None)];
        token = Some(
            process(
                Rules::builtin(),
                &keys,
                "demo",
                token.as_deref(),
                &events,
                at,
                || {
                    Some(intent_engine::VisitorId::from_random_bytes(
                        *b"cli-visitor!",
                    ))
                },
            )
            .token,
        );
    }
    token.expect("at least one page")
}

#[test]
fn token_verifies_a_visitors_token_and_explains_the_tier() {
    let keys = "k2:a-new-secret-of-enough-length,k1:an-old-secret-of-enough-length";
    let end = 1_795_000_000; // 2026-11-18T11:06:40Z
    let token = issued_token(keys, &["/pricing", "/compare/", "/pricing"], end);
    let run = |args: &[&str], keys: &str| {
        Command::new(env!("CARGO_BIN_EXE_intentctl"))
            .args(args)
            .current_dir(root())
            .env("PROFILE_KEYS", keys)
            .output()
            .expect("run intentctl")
    };
    let at = "2026-11-18T12:00:00Z";
    let out = run(&["token", &token, "--site", "demo", "--at", at], keys);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let words = text(&out.stdout);
    assert!(words.contains("verified (rules default@"), "{words}");
    assert!(
        words.contains("last seen 2026-11-18T11:06:40Z, 3 visits"),
        "{words}"
    );
    assert!(words.contains("ready"), "{words}");

    let out = run(
        &["token", &token, "--site", "demo", "--at", at, "--json"],
        keys,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["profile"]["visits"], 3);
    assert_eq!(json["explanation"]["tier"], "ready");

    // What the worker would do with it elsewhere: another site, an unknown key, much later;
    // and a keyring that cannot be read. Each: (site, at, keys, exit code, what stderr says).
    let refusals = [
        ("other", at, keys, 1, "(bad-signature)"),
        (
            "demo",
            at,
            "k9:a-third-secret-of-enough-length",
            1,
            "(unknown-key)",
        ),
        ("demo", "2027-06-01T00:00:00Z", keys, 1, "(expired)"),
        ("demo", at, "no-colon", 2, "--keys"),
    ];
    for (site, when, keys, code, says) in refusals {
        let out = run(&["token", &token, "--site", site, "--at", when], keys);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{site} {when} {keys}: {err}");
        assert!(err.contains(says), "{site} {when} {keys}: {err}");
    }
}

/// Compares `actual` with the golden file `tests/data/<name>`; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from line {}:\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            first + 1,
            expected
                .lines()
                .skip(first)
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
            actual
                .lines()
                .skip(first)
                .take(5)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}

/// A month of generated traffic of the demo site (500 visitors), in a temporary file.
fn generated_month() -> tempfile::NamedTempFile {
    let out = intentctl(&[
        "sample-traffic",
        "--visitors",
        "500",
        "--days",
        "30",
        "--end",
        "2026-11-30T00:00:00Z",
        "--seed",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &out.stdout).expect("write the log");
    file
}

#[test]
fn audit_of_the_example_log_in_words_and_json() {
    let args = [
        "audit",
        "--events",
        "examples/events/acme-november.jsonl",
        "--to",
        "2026-11-30T12:00:00Z",
        "--reviewed",
        "2026-11-01T00:00:00Z",
    ];
    let out = intentctl(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    golden("audit/acme-november.txt", &text(&out.stdout));
    let out = intentctl(&[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["visitors"], 11);
    golden("audit/acme-november.json", &text(&out.stdout));
}

#[test]
fn audit_of_a_generated_month() {
    let log = generated_month();
    let path = log.path().to_str().expect("UTF-8 path");
    let out = intentctl(&["audit", "--events", path]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    golden("audit/generated-month-default.txt", &text(&out.stdout));
    // Rules written to trip every warning: a tier shadowed by a wider one above it, a tier and
    // a segment no one reaches, a condition never true, a segment that takes everyone, and a
    // review date over 30 days old.
    let out = intentctl(&[
        "audit",
        "--rules",
        "crates/intentctl/tests/data/audit/warnings.json",
        "--events",
        path,
        "--from",
        "2026-11-01T00:00:00Z",
        "--to",
        "2026-11-30T00:00:00Z",
        "--reviewed",
        "2026-09-15T00:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for code in [
        "[shadowed] tiers[1]",
        "[unreached]",
        "[never-true] tiers[2].when",
        "[too-broad]",
        "[not-reviewed]",
    ] {
        assert!(report.contains(code), "no {code} in:\n{report}");
    }
    golden("audit/generated-month-warnings.txt", &report);
}

#[test]
fn audit_refuses_a_bad_period_and_a_broken_log() {
    let out = intentctl(&[
        "audit",
        "--events",
        "examples/events/acme-november.jsonl",
        "--from",
        "2026-12-01T00:00:00Z",
        "--to",
        "2026-11-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is after --to"),
        "{}",
        text(&out.stderr)
    );
    let out = intentctl(&["audit", "--events", "examples/rules/default.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("examples/rules/default.json: line 1:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_against_says_what_publishing_does_to_profiles() {
    let out = intentctl(&[
        "validate",
        "examples/rules/webinar.json",
        "--against",
        "examples/rules/default.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(
        lines[1],
        "against examples/rules/default.json (rules default@1c63f927), visitors' profiles: keeps `pricing`, `demo`, the `demo_request` event, `compare`, `customers`, `product`, visits and last activity; starts `webinar` empty"
    );
    let out = intentctl(&[
        "validate",
        "examples/rules/default.json",
        "--against",
        "examples/rules/campaigns.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("; drops `docs`, visits landing with utm_source = linkedin and utm_campaign = nov-*, visits from `*google.*`"),
        "{}",
        text(&out.stdout)
    );
    // A filtered count is a series of its own: publishing the brief's rules over the defaults
    // starts it empty, named by its filter.
    let out = intentctl(&[
        "validate",
        "examples/brief/rules.json",
        "--against",
        "examples/rules/default.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("; starts visits that landed on a `product` page with utm_medium = email, "),
        "{}",
        text(&out.stdout)
    );
    let out = intentctl(&[
        "validate",
        "examples/rules/default.json",
        "--against",
        "examples/rules/broken-group.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown page group `comparisons`"));
}

/// A token made under the default rules, read under rules with one more page group: with the
/// earlier rules named, it is carried over and explained; without them it starts fresh.
#[test]
fn token_explains_a_carried_over_token() {
    let keys = "k1:a-secret-of-enough-length-here";
    let end = 1_795_000_000; // 2026-11-18T11:06:40Z
    let token = issued_token(keys, &["/pricing", "/docs/", "/pricing"], end);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "token",
            token.as_str(),
            "--site",
            "demo",
            "--at",
            "2026-11-18T12:00:00Z",
            "--rules",
            "examples/rules/webinar.json",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_intentctl"))
            .args(&args)
            .current_dir(root())
            .env("PROFILE_KEYS", keys)
            .output()
            .expect("run intentctl")
    };
    let out = run(&["--earlier", "examples/rules/default.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let words = text(&out.stdout);
    assert!(
        words.contains("verified (rules 2026-12-webinar@0bf88108)"),
        "{words}"
    );
    assert!(
        words.contains("made under rules default@1c63f927, carried over: keeps `pricing`, `demo`, the `demo_request` event, `compare`, `customers`, `product`, visits and last activity; starts `webinar` empty"),
        "{words}"
    );
    assert!(words.contains("viewed pricing: 2 kept"), "{words}");
    assert!(words.contains("visitor id Y2xpLXZpc2l0b3Ih"), "{words}");
    let out = run(&["--earlier", "examples/rules/default.json", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["carried_over"]["from"], "default@1c63f927");
    assert_eq!(json["carried_over"]["profiles"]["started"][0], "`webinar`");
    assert_eq!(json["explanation"]["tier"], "ready");
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("(other-rules)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn simulate_triggers_lists_what_would_fire_and_explain_says_it() {
    let args = [
        "simulate",
        "--triggers",
        "--rules",
        "examples/rules/triggers.json",
        "--events",
        "examples/events/acme-november.jsonl",
        "--at",
        "2026-11-30T12:00:00Z",
    ];
    let out = intentctl(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // v-stale entered `ready` on 10 November and its pricing views lapsed 12 days later.
    let stale: Vec<(&str, &str, &str)> = lines
        .iter()
        .filter(|l| l["visitor"] == "v-stale" && l["audience"] == "ready")
        .map(|l| {
            (
                l["at"].as_str().unwrap(),
                l["when"].as_str().unwrap(),
                l["to"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stale,
        vec![
            ("2026-11-10T09:00:00Z", "entered", "sales-alerts"),
            ("2026-11-22T09:00:01Z", "left", "crm"),
        ]
    );
    let times: Vec<&str> = lines.iter().map(|l| l["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    assert!(text(&out.stderr).contains("held back by `at_most`"));

    let explained = intentctl(&[
        "explain",
        "--rules",
        "examples/rules/triggers.json",
        "--visitor",
        "v-stale",
        "--events",
        "examples/events/acme-november.jsonl",
        "--at",
        "2026-11-30T12:00:00Z",
    ]);
    let s = text(&explained.stdout);
    assert!(
        s.contains(
            "2026-11-10T09:00:00Z entered `ready`: notifies sales-alerts, crm, ops (triggers[0])"
        ),
        "{s}"
    );
    let validated = intentctl(&["validate", "examples/rules/triggers.json"]);
    assert!(
        text(&validated.stdout).contains(
            "trigger: entering `ready` notifies `sales-alerts` (slack), `crm` (hubspot), `ops` (webhook), at most 1/30d per visitor"
        ),
        "{}",
        text(&validated.stdout)
    );
}

#[test]
fn loopback_destinations_follow_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    let mut rules: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/rules/triggers.json")).unwrap(),
    )
    .unwrap();
    rules["destinations"]["ops"]["url"] = "http://127.0.0.1:9000/hook".into();
    std::fs::write(&path, rules.to_string()).unwrap();
    let file = path.to_str().unwrap();
    let strict = intentctl(&["validate", file]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        text(&strict.stderr).contains("`destinations.ops.url`"),
        "{}",
        text(&strict.stderr)
    );
    let dev = Command::new(env!("CARGO_BIN_EXE_intentctl"))
        .args(["validate", file])
        .env("ALLOW_LOOPBACK_DESTINATIONS", "true")
        .output()
        .unwrap();
    assert!(dev.status.success(), "{}", text(&dev.stderr));
}
