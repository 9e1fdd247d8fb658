//! `intentctl`: the marketer's tool for Intent Edge rules. Validate a config (and see what it
//! would do to visitors' profiles), print its JSON Schema, replay an event log against it,
//! explain one visitor's tier (from a log, or from the visitor's own profile token), publish it,
//! list the published versions and roll back.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use intent_engine::{
    replay_triggers, simulate, AuditPeriod, Checks, Firing, Keyring, LogEvent, Rules, Timestamp,
    TriggerEvent, VisitorLog,
};

mod sample;

mod admin;

#[derive(Parser)]
#[command(
    name = "intentctl",
    version,
    about = "Validate, simulate, explain and publish Intent Edge rules"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a rules config; errors name the line and the field.
    Validate {
        /// The rules JSON file (`-` for standard input).
        file: PathBuf,
        /// The rules it would replace: also say what publishing it over them does to
        /// visitors' profiles (what is kept, what starts empty, what is dropped).
        #[arg(long, value_name = "OLD.json")]
        against: Option<PathBuf>,
    },
    /// Print the JSON Schema of the rules config (for editor help).
    Schema,
    /// Print the built-in default rules, a good starting point.
    Defaults,
    /// Replay an event log (JSON Lines) and print each visitor's tier, one JSON object a line.
    Simulate {
        #[command(flatten)]
        inputs: Inputs,
        /// Also print on stderr, as one JSON line after `timings: `, how long reading the log
        /// (JSON), grouping it, replaying it (folding and deciding) and writing took.
        #[arg(long)]
        timings: bool,
        /// Print instead, one JSON object a line in time order, the triggers the log would
        /// have fired: who entered or left which audience (or identified) and when, the
        /// destinations notified, and `held` where the trigger's `at_most` held it back.
        #[arg(long)]
        triggers: bool,
    },
    /// Explain in words why one visitor of an event log got their tier.
    Explain {
        /// The visitor's id in the event log.
        #[arg(long)]
        visitor: String,
        #[command(flatten)]
        inputs: Inputs,
        /// Print the explanation as JSON instead of words.
        #[arg(long)]
        json: bool,
    },
    /// Verify a visitor's profile token and explain their tier: what the profile holds and why.
    ///
    /// The token is the `intent_profile` cookie (proxy mode) or the snippet's
    /// `intent_profile` entry in localStorage; it holds no personal data.
    Token {
        /// The token (`-` for standard input).
        token: String,
        /// The site id it was issued for (the script tag's `data-site`).
        #[arg(long)]
        site: String,
        /// The signing keys, as in the worker's `PROFILE_KEYS` secret (`label:secret[,…]`).
        #[arg(long, env = "PROFILE_KEYS", hide_env_values = true)]
        keys: String,
        /// The rules JSON file it is read under (the active rules); the built-in default rules
        /// when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Earlier rules whose tokens the worker carries over to `--rules` (the versions of
        /// `intentctl history`); repeat for each.
        #[arg(long, value_name = "OLD.json")]
        earlier: Vec<PathBuf>,
        /// The evaluation time, RFC 3339 (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Print the profile and the explanation as JSON instead of words.
        #[arg(long)]
        json: bool,
    },
    /// Audit rules over a period of an event log: members, entries and exits per tier and
    /// segment, how often each condition was true, the pages each tier used most, and warnings
    /// (an audience no one reaches or almost everyone does, a condition never true, a shadowed
    /// tier, rules not reviewed for 30 days).
    Audit {
        /// The rules JSON file; the built-in default rules when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The event log, JSON Lines (`-` for standard input).
        #[arg(long)]
        events: PathBuf,
        /// The period's start, RFC 3339 (default: 30 days before its end).
        #[arg(long)]
        from: Option<String>,
        /// The period's end, RFC 3339 (default: the log's latest event).
        #[arg(long)]
        to: Option<String>,
        /// When the rules were last reviewed, that is published, RFC 3339; rules older than
        /// 30 days at the period's end are flagged. Unknown when absent.
        #[arg(long)]
        reviewed: Option<String>,
        /// Print the report as JSON instead of words.
        #[arg(long)]
        json: bool,
    },
    /// Print a synthetic event log of the demo site (JSON Lines), the same for the same seed:
    /// traffic to try `simulate`, `audit` and the console's preview on.
    SampleTraffic {
        /// How many visitors.
        #[arg(long, default_value_t = 1000)]
        visitors: u32,
        /// How many days, ending at `--end`.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// The end of the period, RFC 3339.
        #[arg(long, default_value = "2026-11-30T00:00:00Z")]
        end: String,
        /// The seed: another seed, other visitors.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Validate a rules config, then publish it through the worker's admin API.
    ///
    /// It reads the active rules first, says what the new ones do to visitors' profiles, and
    /// publishes only if nobody else published in between (or since `--if-match`).
    Publish {
        /// The rules JSON file.
        file: PathBuf,
        #[command(flatten)]
        worker: admin::Worker,
        /// Publish only over this version (an id from `intentctl history`, or the `ETag` of
        /// `GET /v1/admin/rules`): the one your edit started from. Default: the version active
        /// when `publish` reads it.
        #[arg(long, value_name = "VERSION")]
        if_match: Option<String>,
    },
    /// List the published versions of the rules, newest first, with what each changed.
    History {
        #[command(flatten)]
        worker: admin::Worker,
        /// Print the worker's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier version active again: the one before the active version, or `ID`.
    Rollback {
        /// The version to restore (an id from `intentctl history`).
        id: Option<String>,
        #[command(flatten)]
        worker: admin::Worker,
    },
}

#[derive(clap::Args)]
struct Inputs {
    /// The rules JSON file; the built-in default rules when absent.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The event log, JSON Lines (`-` for standard input).
    #[arg(long)]
    events: PathBuf,
    /// The evaluation time, RFC 3339 (default: now). Later events are left out.
    #[arg(long)]
    at: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { file, against } => validate(&file, against.as_deref()),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&Rules::json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Defaults => {
            print!("{}", Rules::builtin_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            inputs,
            timings: _,
            triggers: true,
        } => triggers_cmd(&inputs),
        Command::Simulate {
            inputs, timings, ..
        } => simulate_cmd(&inputs, timings),
        Command::Explain {
            visitor,
            inputs,
            json,
        } => explain_cmd(&visitor, &inputs, json),
        Command::Token {
            token,
            site,
            keys,
            rules,
            earlier,
            at,
            json,
        } => token_cmd(
            &token,
            &site,
            &keys,
            rules.as_deref(),
            &earlier,
            at.as_deref(),
            json,
        ),
        Command::Audit {
            rules,
            events,
            from,
            to,
            reviewed,
            json,
        } => audit_cmd(
            rules.as_deref(),
            &events,
            [from.as_deref(), to.as_deref(), reviewed.as_deref()],
            json,
        ),
        Command::SampleTraffic {
            visitors,
            days,
            end,
            seed,
        } => {
            let end = Timestamp::parse_rfc3339(&end).map_err(|e| anyhow::anyhow!("--end: {e}"))?;
            let mut out = io::stdout().lock();
            out.write_all(sample::traffic(visitors, days, end, seed).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish {
            file,
            worker,
            if_match,
        } => admin::publish(&file, &worker, if_match.as_deref()),
        Command::History { worker, json } => admin::history(&worker, json),
        Command::Rollback { id, worker } => admin::rollback(&worker, id.as_deref()),
    }
}

pub(crate) fn read_input(path: &Path) -> Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
    } else {
        text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(text)
}

/// What the rules' checks allow: loopback destinations when the environment variable
/// `ALLOW_LOOPBACK_DESTINATIONS` is `true`, as the worker's var of that name does.
pub(crate) fn checks() -> Checks {
    Checks {
        allow_loopback_destinations: std::env::var("ALLOW_LOOPBACK_DESTINATIONS")
            .is_ok_and(|v| v.trim() == "true"),
    }
}

/// Reads and compiles rules; a broken config is reported as `FILE: line L, `field`: message`.
fn load_rules(path: &Path) -> Result<std::result::Result<Rules, String>> {
    let text = read_input(path)?;
    Ok(Rules::from_json_with(&text, checks()).map_err(|e| format!("{}: {e}", path.display())))
}

/// `n` and `what`, in the plural unless `n` is 1: `1 segment`, `2 segments`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn validate(file: &Path, against: Option<&Path>) -> Result<ExitCode> {
    let rules = match load_rules(file)? {
        Ok(rules) => rules,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(1));
        }
    };
    let cfg = rules.config();
    println!(
        "{}: valid (rules {}): {} + fallback `{}`, {}, {}, {}; largest visitor token {} bytes",
        file.display(),
        rules.id(),
        count(cfg.tiers.len(), "tier"),
        cfg.fallback,
        count(cfg.segments.len(), "segment"),
        count(cfg.page_groups.len(), "page group"),
        count(cfg.variants.len(), "slot"),
        rules.max_token_bytes()
    );
    for line in describe_triggers(&rules) {
        println!("  {line}");
    }
    let Some(against) = against else {
        return Ok(ExitCode::SUCCESS);
    };
    let old = match load_rules(against)? {
        Ok(old) => old,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "against {} (rules {}), visitors' profiles: {}",
        against.display(),
        old.id(),
        rules.change_from(&old)
    );
    Ok(ExitCode::SUCCESS)
}

struct Loaded {
    rules: Rules,
    log: Vec<LogEvent>,
    at: Timestamp,
}

/// Reads the rules, the log and the evaluation time. A broken config or log line is reported
/// on stderr (file, line, field) and gives `None`; I/O failures are errors.
fn load(inputs: &Inputs) -> Result<Option<Loaded>> {
    match read_inputs(inputs)? {
        Ok(loaded) => Ok(Some(loaded)),
        Err(message) => {
            eprintln!("{message}");
            Ok(None)
        }
    }
}

/// The rules of `--rules`, or the built-in default rules without it; a broken config as its
/// message.
fn rules_or_builtin(path: Option<&Path>) -> Result<std::result::Result<Rules, String>> {
    match path {
        Some(path) => load_rules(path),
        None => Ok(Ok(Rules::builtin().clone())),
    }
}

/// The evaluation time of `--at` (RFC 3339), or now.
fn evaluation_time(at: Option<&str>) -> Result<Timestamp> {
    match at {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| anyhow::anyhow!("--at: {e}")),
        None => Ok(Timestamp::from_secs(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )),
    }
}

fn read_inputs(inputs: &Inputs) -> Result<std::result::Result<Loaded, String>> {
    let rules = match rules_or_builtin(inputs.rules.as_deref())? {
        Ok(r) => r,
        Err(message) => return Ok(Err(message)),
    };
    let at = evaluation_time(inputs.at.as_deref())?;
    let log = match read_log(&inputs.events)? {
        Ok(log) => log,
        Err(message) => return Ok(Err(message)),
    };
    Ok(Ok(Loaded { rules, log, at }))
}

/// Reads an event log (`-` for standard input); a line that cannot be read as its message.
fn read_log(path: &Path) -> Result<std::result::Result<Vec<LogEvent>, String>> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(BufReader::new(io::stdin()))
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        Box::new(BufReader::new(file))
    };
    let mut log = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match LogEvent::parse(&line, i + 1) {
            Ok(e) => log.push(e),
            Err(e) => return Ok(Err(format!("{}: {e}", path.display()))),
        }
    }
    Ok(Ok(log))
}

fn audit_cmd(
    rules: Option<&Path>,
    events: &Path,
    [from, to, reviewed]: [Option<&str>; 3],
    json: bool,
) -> Result<ExitCode> {
    let rules = match rules_or_builtin(rules)? {
        Ok(r) => r,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(1));
        }
    };
    let log = match read_log(events)? {
        Ok(log) => VisitorLog::new(log),
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(1));
        }
    };
    let time = |flag: &str, text: Option<&str>| -> Result<Option<Timestamp>> {
        text.map(|t| Timestamp::parse_rfc3339(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let Some(to) = time("to", to)?.or_else(|| log.latest()) else {
        eprintln!(
            "{}: the log has no events, and no --to was given",
            events.display()
        );
        return Ok(ExitCode::from(1));
    };
    let from = time("from", from)?.unwrap_or(to.plus_secs(-30 * 86_400));
    if from > to {
        bail!("--from ({from}) is after --to ({to})");
    }
    let period = AuditPeriod {
        from,
        to,
        reviewed: time("reviewed", reviewed)?,
    };
    let report = rules.audit(&log, period);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

fn simulate_cmd(inputs: &Inputs, timings: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let Some(Loaded { rules, log, at }) = load(inputs)? else {
        return Ok(ExitCode::from(1));
    };
    let read = started.elapsed();
    let total_events = log.len();
    let log = VisitorLog::new(log);
    let grouped = started.elapsed() - read;
    // Replaying: each visitor's events folded into a profile, then the decision.
    let replay_start = Instant::now();
    let mut replayed_events = 0;
    let mut results = Vec::with_capacity(log.visitor_count());
    log.replay(&rules, at, |r| {
        replayed_events += r.events;
        results.push((r.visitor, r.visits, rules.decide(r.profile, at)));
    });
    let replayed = replay_start.elapsed();
    let write_start = Instant::now();
    let mut tally: BTreeMap<String, usize> =
        rules.tier_names().map(|t| (t.to_owned(), 0)).collect();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for (visitor, visits, d) in &results {
        *tally.entry(d.tier.to_owned()).or_default() += 1;
        let mut line = serde_json::json!({
            "visitor": visitor,
            "tier": d.tier,
            "segments": d.segments,
            "visits": visits,
        });
        if let (Some(score), Some(obj)) = (d.score, line.as_object_mut()) {
            obj.insert(
                "score".to_owned(),
                serde_json::json!((score * 100.0).round() / 100.0),
            );
        }
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let written = write_start.elapsed();
    let total = results.len().max(1) as f64;
    let parts: Vec<String> = rules
        .tier_names()
        .map(|t| {
            let n = tally.get(t).copied().unwrap_or(0);
            format!("{t} {n} ({:.0}%)", n as f64 * 100.0 / total)
        })
        .collect();
    let after_at = total_events - replayed_events;
    eprintln!(
        "{} visitors, {} events{} — rules {} at {}",
        results.len(),
        replayed_events,
        if after_at > 0 {
            format!(" ({after_at} after --at left out)")
        } else {
            String::new()
        },
        rules.id(),
        at
    );
    eprintln!("tiers: {}", parts.join(", "));
    if timings {
        let per_s =
            |n: usize, d: std::time::Duration| (n as f64 / d.as_secs_f64().max(1e-9)).round();
        let all = started.elapsed();
        eprintln!(
            "timings: {}",
            serde_json::json!({
                "events": total_events,
                "replayed_events": replayed_events,
                "read_ms": read.as_secs_f64() * 1e3,
                "read_events_per_s": per_s(total_events, read),
                "group_ms": grouped.as_secs_f64() * 1e3,
                "replay_ms": replayed.as_secs_f64() * 1e3,
                "replay_events_per_s": per_s(replayed_events, replayed),
                "write_ms": written.as_secs_f64() * 1e3,
                "total_ms": all.as_secs_f64() * 1e3,
                "total_events_per_s": per_s(total_events, all),
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The triggers in words: `entering `ready` notifies `ops` (webhook), at most 1/30d`.
fn describe_triggers(rules: &Rules) -> Vec<String> {
    let cfg = rules.config();
    cfg.triggers
        .iter()
        .map(|t| {
            let what = match &t.audience {
                Some(a) => format!(
                    "{} `{a}`",
                    match t.when {
                        TriggerEvent::Entered => "entering",
                        _ => "leaving",
                    }
                ),
                None if t.when == TriggerEvent::AuditWeekly => {
                    "the weekly audit (Mondays 06:00 UTC: its summary and warnings)".to_owned()
                }
                None => "identifying (a new email)".to_owned(),
            };
            let to: Vec<String> =
                t.to.iter()
                    .map(|d| match cfg.destinations.get(d) {
                        Some(dest) => format!("`{d}` ({})", dest.type_name()),
                        None => format!("`{d}`"),
                    })
                    .collect();
            let limit = t
                .at_most
                .map(|m| format!(", at most {m} per visitor"))
                .unwrap_or_default();
            format!("trigger: {what} notifies {}{limit}", to.join(", "))
        })
        .collect()
}

fn triggers_cmd(inputs: &Inputs) -> Result<ExitCode> {
    let Some(Loaded { rules, log, at }) = load(inputs)? else {
        return Ok(ExitCode::from(1));
    };
    if !rules.has_triggers() {
        eprintln!(
            "rules {} have no `triggers`: nothing would fire",
            rules.id()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let fired = replay_triggers(&rules, &log, at);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for f in &fired {
        writeln!(out, "{}", serde_json::to_string(f)?)?;
    }
    out.flush()?;
    let held = fired.iter().filter(|f| f.held).count();
    eprintln!(
        "{} fired, {} held back by `at_most` — rules {} up to {at}",
        count(fired.len() - held, "notification"),
        held,
        rules.id()
    );
    Ok(ExitCode::SUCCESS)
}

fn explain_cmd(visitor: &str, inputs: &Inputs, json: bool) -> Result<ExitCode> {
    let Some(Loaded { rules, log, at }) = load(inputs)? else {
        return Ok(ExitCode::from(1));
    };
    let sim = simulate(&rules, &log, at);
    let Some(v) = sim.visitors.iter().find(|v| v.visitor == visitor) else {
        eprintln!(
            "{}: no events for visitor `{visitor}`",
            inputs.events.display()
        );
        return Ok(ExitCode::from(1));
    };
    let explanation = rules.explain(&v.profile, at);
    let fired: Vec<Firing> = if rules.has_triggers() {
        let own: Vec<LogEvent> = log
            .iter()
            .filter(|e| e.visitor == visitor)
            .cloned()
            .collect();
        replay_triggers(&rules, &own, at)
    } else {
        Vec::new()
    };
    if json {
        let mut value = serde_json::to_value(&explanation)?;
        if let Some(obj) = value.as_object_mut().filter(|_| rules.has_triggers()) {
            obj.insert("triggers".to_owned(), serde_json::to_value(&fired)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("Visitor {visitor} ({} events)", v.events);
        print!("{explanation}");
        if rules.has_triggers() {
            println!("Triggers fired:");
            if fired.is_empty() {
                println!("  none");
            }
            for f in &fired {
                let what = match (&f.when, &f.audience) {
                    (TriggerEvent::Entered, Some(a)) => format!("entered `{a}`"),
                    (TriggerEvent::Left, Some(a)) => format!("left `{a}`"),
                    _ => "identified".to_owned(),
                };
                let to = f.to.join(", ");
                if f.held {
                    println!(
                        "  {} {what}: not sent to {to} (held back by `at_most` of triggers[{}])",
                        f.at, f.trigger
                    );
                } else {
                    println!("  {} {what}: notifies {to} (triggers[{}])", f.at, f.trigger);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn token_cmd(
    token: &str,
    site: &str,
    keys: &str,
    rules: Option<&Path>,
    earlier: &[PathBuf],
    at: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let token = if token == "-" {
        read_input(Path::new("-"))?
    } else {
        token.to_owned()
    };
    let keys = Keyring::parse(keys).map_err(|e| anyhow::anyhow!("--keys: {e}"))?;
    let rules = match rules_or_builtin(rules)? {
        Ok(r) => r,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut earlier_rules = Vec::new();
    for path in earlier {
        match load_rules(path)? {
            Ok(r) => earlier_rules.push(r),
            Err(message) => {
                eprintln!("{message}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    let rules = rules.with_earlier_shapes(earlier_rules.iter().map(|r| r.shape().clone()));
    let at = evaluation_time(at)?;
    let opened = match keys.open(&rules, site, token.trim(), at) {
        Ok(opened) => opened,
        Err(reason) => {
            // What the worker does with such a token: the visitor starts fresh.
            eprintln!(
                "the worker would discard this token ({}): {reason}; the visitor starts fresh (rules {})",
                reason.code(),
                rules.id()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let profile = opened.profile;
    // The earlier rules the token was made under, and what carrying it over kept.
    let carried = opened.carried_from.map(|shape| {
        let made_under = earlier_rules
            .iter()
            .find(|r| r.shape() == shape)
            .map_or_else(|| shape.fingerprint_hex(), |r| r.id().to_owned());
        (made_under, shape.change_to(rules.shape()))
    });
    let summary = profile.summary(&rules);
    let explanation = rules.explain(&profile, at);
    if json {
        let out = serde_json::json!({
            "rules": rules.id(),
            "at": at.to_string(),
            "carried_over": carried.as_ref().map(|(from, change)| serde_json::json!({
                "from": from,
                "profiles": change,
                "summary": change.to_string(),
            })),
            "profile": summary,
            "explanation": explanation,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let when = |t: &Option<Timestamp>| t.map_or_else(|| "never".to_owned(), |t| t.to_string());
    println!(
        "Profile token for site `{site}`, verified (rules {})",
        rules.id()
    );
    if let Some((from, change)) = &carried {
        println!("  made under rules {from}, carried over: {change}");
    }
    if let Some(visitor) = &summary.visitor {
        println!("  visitor id {visitor}");
    }
    println!(
        "  last seen {}, {} visit{} ({})",
        when(&summary.last_seen),
        summary.visits,
        if summary.visits == 1 { "" } else { "s" },
        if summary.returning {
            "returning"
        } else {
            "first visit"
        }
    );
    for (name, times) in &summary.tracked {
        let latest = times
            .last()
            .map_or_else(String::new, |t| format!(", latest {t}"));
        println!("  {name}: {} kept{latest}", times.len());
    }
    print!("{explanation}");
    Ok(ExitCode::SUCCESS)
}
