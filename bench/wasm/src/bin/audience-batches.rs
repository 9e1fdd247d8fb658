//! Writes the batches the audience benchmark (`bench/js/audiences.mjs`) hands a store object:
//! JSON Lines, one batch of up to 100 `intent_audience::Record`s a line, made as the edge makes
//! them (each call folded into the visitor's profile, which the record carries), so the store
//! does on workerd what it does for real traffic.
//!
//! ```text
//! audience-batches --shape returning --visitors 5000 --calls 4 --at 1795168800 > batches.jsonl
//! audience-batches --shape ready --visitors 100000 --at 1795168800 > ready.jsonl
//! ```
//!
//! `returning`: `--calls` rounds in which every visitor makes one call of one page view (pages
//! in turn), so that each batch holds 100 different visitors, the costliest shape. `ready`: one
//! call per visitor with three pricing views, so that every visitor lands in `ready`.

// A command-line tool for the benchmark: bad arguments end it with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufWriter, Write};

use intent_audience::Record;
use intent_engine::{Event, Profile, Rules, Timestamp};

const PATHS: [&str; 6] = [
    "/pricing/",
    "/blog/post",
    "/compare/x",
    "/docs/start",
    "/product/",
    "/",
];

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn number(name: &str, default: &str) -> i64 {
    let text = arg(name, default);
    text.parse()
        .unwrap_or_else(|_| panic!("{name}: `{text}` is not a number"))
}

fn visitor(n: i64) -> String {
    format!("b{n:015}-bench")
}

fn main() {
    let rules = Rules::builtin();
    let shape = arg("--shape", "returning");
    let visitors = number("--visitors", "5000");
    let calls = number("--calls", "4");
    let at = number("--at", "1795168800");
    let views_only = std::env::args().any(|a| a == "--page-views-only");
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let mut batch: Vec<Record> = Vec::with_capacity(100);
    let flush = |batch: &mut Vec<Record>, out: &mut BufWriter<_>| {
        if !batch.is_empty() {
            serde_json::to_writer(&mut *out, &batch).expect("write a batch");
            out.write_all(b"\n").expect("write a batch");
            batch.clear();
        }
    };
    match shape.as_str() {
        "returning" => {
            let mut profiles = vec![Profile::new(rules); visitors as usize];
            for round in 0..calls {
                for (n, profile) in profiles.iter_mut().enumerate() {
                    let n = n as i64;
                    let when = Timestamp::from_secs(at + round * 60);
                    let path = PATHS[((n + round) % 6) as usize];
                    let url = format!("https://demo.test{path}?utm_source=bench");
                    let mut events = vec![Event::pageview(&url, Some("https://www.google.com/"))];
                    if !views_only {
                        events.push(Event::Engagement {
                            url: url.clone().into(),
                            seconds: 12.0,
                            scroll: 40.0,
                        });
                    }
                    for e in &events {
                        profile.fold(rules, when, e);
                    }
                    let id = format!("r{round}-{n}");
                    batch.push(Record::new(
                        &id,
                        &visitor(n),
                        when,
                        rules,
                        profile,
                        events.iter(),
                    ));
                    if batch.len() == 100 {
                        flush(&mut batch, &mut out);
                    }
                }
            }
        }
        "ready" => {
            for n in 0..visitors {
                let when = Timestamp::from_secs(at);
                let mut profile = Profile::new(rules);
                let views: Vec<Event<'static>> = (0..3)
                    .map(|_| Event::pageview("https://demo.test/pricing/", None))
                    .collect();
                for e in &views {
                    profile.fold(rules, when, e);
                }
                let id = format!("ready-{n}");
                batch.push(Record::new(
                    &id,
                    &visitor(n),
                    when,
                    rules,
                    &profile,
                    views.iter(),
                ));
                if batch.len() == 100 {
                    flush(&mut batch, &mut out);
                }
            }
        }
        other => panic!("--shape: `{other}` is not `returning` or `ready`"),
    }
    flush(&mut batch, &mut out);
    out.flush().expect("write the batches");
}
