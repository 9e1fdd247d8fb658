//! Benchmarks of the hot path: verify + decode the token, fold a batch of events, evaluate the
//! rules, pick variants, re-sign. For the default rules and a generated 50-rule config, over an
//! empty, a typical and a worst-case (size-bound) profile.
//!
//! Besides criterion's report, it prints a table of per-call p50/p99 (each call timed on its
//! own), which is what the budgets are stated in, and writes it to
//! `target/bench/engine-native.json` for `make bench`.

// A benchmark is not code input reaches: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use intent_engine::{process, Event, Keyring, Rules, Timestamp, VisitorId};

const T0: i64 = 1_790_000_000;

/// A new visitor's id; the worker makes one from `crypto.getRandomValues`.
fn new_id() -> Option<VisitorId> {
    Some(VisitorId::from_random_bytes(*b"bench-visitr"))
}

/// The keyring as the worker holds it: prepared for its site.
fn keys() -> Keyring {
    Keyring::parse("k1:benchmark-secret-0123456789abcdef")
        .unwrap_or_else(|e| panic!("{e}"))
        .for_sites(["demo"])
}

/// A config with 50 rules (20 tiers, 30 segments) over 12 page groups, events, clicks and UTM.
fn fifty_rules() -> Rules {
    let groups: Vec<String> = (0..12)
        .map(|i| format!("\"g{i}\": [\"/section{i}*\", \"/alt{i}/*\"]"))
        .collect();
    let cond = |i: usize| -> String {
        match i % 6 {
            0 => format!("{{\"viewed\": {{\"group\": \"g{}\", \"at_least\": {}, \"within\": \"14d\"}}}}", i % 12, 1 + i % 3),
            1 => format!("{{\"all\": [{{\"viewed\": {{\"group\": \"g{}\", \"within\": \"7d\"}}}}, {{\"visits\": {{\"at_least\": {}, \"within\": \"30d\"}}}}]}}", i % 12, 2 + i % 3),
            2 => format!("{{\"event\": {{\"name\": \"ev{}\", \"within\": \"30d\"}}}}", i % 5),
            3 => format!("{{\"any\": [{{\"click\": {{\"target\": \"cta-{}*\"}}}}, {{\"utm\": {{\"source\": \"src{}\"}}}}]}}", i % 4, i % 3),
            4 => format!("{{\"not\": {{\"last_seen\": {{\"within\": \"{}d\"}}}}}}", 1 + i % 7),
            _ => format!("{{\"referrer\": {{\"host\": \"*.site{}.com\"}}}}", i % 3),
        }
    };
    let tiers: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "{{\"name\": \"t{i}\", \"when\": {{\"all\": [{}, {}]}}}}",
                cond(i),
                cond(i + 7)
            )
        })
        .collect();
    let segments: Vec<String> = (0..30)
        .map(|i| format!("{{\"name\": \"s{i}\", \"when\": {}}}", cond(i + 3)))
        .collect();
    let text = format!(
        "{{\"version\": 1, \"page_groups\": {{{}}}, \"tiers\": [{}], \"fallback\": \"cold\", \"segments\": [{}], \"variants\": {{\"hero\": {{\"t0\": {{\"text\": \"x\"}}, \"default\": {{\"text\": \"y\"}}}}}}}}",
        groups.join(","),
        tiers.join(","),
        segments.join(",")
    );
    Rules::from_json(&text).unwrap_or_else(|e| panic!("generated config: {e}"))
}

fn urls(rules: &Rules) -> Vec<String> {
    if rules.config().page_groups.contains_key("g0") {
        (0..12)
            .map(|i| format!("https://acme.test/section{i}/page?utm_source=src{}", i % 3))
            .collect()
    } else {
        [
            "/",
            "/pricing",
            "/product",
            "/vs/x",
            "/customers/a",
            "/docs/api",
            "/blog/p",
            "/book-a-demo",
        ]
        .iter()
        .map(|p| format!("https://acme.test{p}"))
        .collect()
    }
}

/// A token for a profile built from `n` calls spread over `days`.
fn history(rules: &Rules, keys: &Keyring, calls: usize, spacing: i64) -> (Option<String>, i64) {
    let urls = urls(rules);
    let mut token = None;
    let mut t = T0;
    for i in 0..calls {
        t += spacing;
        let events = [
            Event::pageview(&urls[i % urls.len()], Some("https://www.site1.com/")),
            Event::Engagement {
                url: urls[i % urls.len()].clone().into(),
                seconds: 15.0,
                scroll: 60.0,
            },
            Event::Click {
                url: None,
                target: format!("cta-{}", i % 4).into(),
            },
            Event::Event {
                name: format!("ev{}", i % 5).into(),
                props: Default::default(),
            },
        ];
        token = Some(
            process(
                rules,
                keys,
                "demo",
                token.as_deref(),
                &events,
                Timestamp::from_secs(t),
                new_id,
            )
            .token,
        );
    }
    (token, t)
}

struct Case {
    name: String,
    rules: Rules,
    token: Option<String>,
    now: i64,
}

fn cases() -> Vec<Case> {
    let k = keys();
    let mut out = Vec::new();
    for (label, rules) in [
        ("default", Rules::builtin().clone()),
        ("50-rule", fifty_rules()),
    ] {
        for (profile, calls, spacing) in [
            ("empty", 0, 0),
            ("typical", 6, 86_400),
            ("worst", 400, 2_000),
        ] {
            let (token, last) = history(&rules, &k, calls, spacing);
            out.push(Case {
                name: format!("{label}/{profile}"),
                rules: rules.clone(),
                token,
                now: last + 60,
            });
        }
    }
    out
}

fn batch(rules: &Rules) -> Vec<Event<'static>> {
    let url = urls(rules)[1].clone();
    vec![
        Event::pageview(&url, Some("https://www.google.com/")),
        Event::Engagement {
            url: url.into(),
            seconds: 12.0,
            scroll: 40.0,
        },
    ]
}

fn bench_classify(c: &mut Criterion) {
    let k = keys();
    let mut group = c.benchmark_group("classify");
    for case in cases() {
        let events = batch(&case.rules);
        group.bench_function(&case.name, |b| {
            b.iter(|| {
                let out = process(
                    &case.rules,
                    &k,
                    "demo",
                    black_box(case.token.as_deref()),
                    black_box(&events),
                    Timestamp::from_secs(case.now),
                    new_id,
                );
                black_box(out.token.len())
            })
        });
    }
    group.finish();
}

fn bench_token(c: &mut Criterion) {
    let k = keys();
    let rules = Rules::builtin();
    let (token, now) = history(rules, &k, 6, 86_400);
    let token = token.unwrap_or_default();
    c.bench_function("token/decode", |b| {
        b.iter(|| {
            black_box(
                k.decode(rules, "demo", black_box(&token), Timestamp::from_secs(now))
                    .is_ok(),
            )
        })
    });
    let profile = k
        .decode(rules, "demo", &token, Timestamp::from_secs(now))
        .unwrap_or_else(|_| intent_engine::Profile::new(rules));
    c.bench_function("token/encode", |b| {
        b.iter(|| black_box(k.encode(rules, "demo", black_box(&profile)).len()))
    });
}

fn percentiles() {
    let k = keys();
    let mut rows = Vec::new();
    println!("\nper-call latency of the full path (verify + decode, fold 2 events, evaluate, variants, re-sign)");
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>12}",
        "case", "p50 µs", "p99 µs", "max µs", "token bytes"
    );
    for case in cases() {
        let events = batch(&case.rules);
        let mut samples = Vec::with_capacity(50_000);
        let mut token_len = 0;
        for _ in 0..50_000 {
            let start = Instant::now();
            let out = process(
                &case.rules,
                &k,
                "demo",
                black_box(case.token.as_deref()),
                black_box(&events),
                Timestamp::from_secs(case.now),
                new_id,
            );
            samples.push(start.elapsed().as_nanos() as f64 / 1000.0);
            token_len = out.token.len();
        }
        samples.sort_by(f64::total_cmp);
        let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
        println!(
            "{:<22} {:>10.2} {:>10.2} {:>10.2} {:>12}",
            case.name,
            p(0.5),
            p(0.99),
            p(1.0),
            token_len
        );
        rows.push(format!(
            "{{\"case\": \"{}\", \"p50_us\": {:.3}, \"p99_us\": {:.3}, \"token_bytes\": {token_len}, \"max_token_bytes\": {}}}",
            case.name,
            p(0.5),
            p(0.99),
            case.rules.max_token_bytes()
        ));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(
            dir.join("engine-native.json"),
            format!("[{}]\n", rows.join(",\n")),
        );
    }
}

criterion_group!(benches, bench_classify, bench_token);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    percentiles();
}
