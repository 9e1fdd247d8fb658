//! Benchmarks of the audience store over SQLite (natively, through `rusqlite`): ingesting
//! batches of 100 records as the queue delivers them, and listing a 100,000-member audience
//! (its first page, and the whole of it as CSV), and the store's side of the triggers'
//! deliveries (handing them out, building and signing each webhook request, recording each
//! report). Printed figures only; the figures that count for the budgets are taken on workerd,
//! in the Durable Object.

// Benchmark code: a panic is a failed run, not a visitor's error page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use intent_audience::send::{request, SendContext};
use intent_audience::{
    csv_rows, migrate, MembersRequest, Outcome, Record, RetrySchedule, Settings, Store, CSV_HEADER,
};
use intent_engine::{Checks, Event, Profile, Rules, Timestamp};

#[path = "../tests/support/sqlite.rs"]
#[allow(dead_code)]
mod sqlite;

use sqlite::Sqlite;

const T0: i64 = 1_795_168_800;
const PATHS: [&str; 6] = [
    "/pricing/",
    "/blog/post",
    "/compare/x",
    "/docs/start",
    "/product/",
    "/",
];

fn visitor(n: u64) -> String {
    format!("v{n:015}-bench")
}

/// Visitors as the edge tracks them, each call a record of one page view.
struct Traffic {
    profiles: Vec<Profile>,
    calls: u64,
}

impl Traffic {
    fn new(rules: &Rules, visitors: usize) -> Traffic {
        Traffic {
            profiles: vec![Profile::new(rules); visitors],
            calls: 0,
        }
    }

    /// The next batch of 100 records: calls of visitors in turn, a page view each.
    fn batch(&mut self, rules: &Rules, size: usize) -> Vec<Record> {
        (0..size)
            .map(|_| {
                self.calls += 1;
                let n = (self.calls * 7919) % self.profiles.len() as u64;
                let at = Timestamp::from_secs(T0 + self.calls as i64);
                let url = format!(
                    "https://demo.test{}?utm_source=x",
                    PATHS[(self.calls % 6) as usize]
                );
                let event = Event::pageview(&url, Some("https://www.google.com/"));
                let profile = &mut self.profiles[n as usize];
                profile.fold(rules, at, &event);
                Record::new(
                    &format!("c{}", self.calls),
                    &visitor(n),
                    at,
                    rules,
                    profile,
                    [&event],
                )
            })
            .collect()
    }
}

fn store_db() -> Sqlite {
    let db = Sqlite::memory();
    migrate(&db).unwrap_or_else(|e| panic!("{e}"));
    db
}

fn ingest(c: &mut Criterion) {
    let rules = Rules::builtin();
    let settings = Settings::default();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(100));
    for visitors in [1_000usize, 20_000] {
        let db = store_db();
        let store = Store::new(&db, rules, &settings);
        let mut traffic = Traffic::new(rules, visitors);
        group.bench_function(BenchmarkId::new("batch_of_100_events", visitors), |b| {
            b.iter_custom(|iters| {
                let batches: Vec<Vec<Record>> =
                    (0..iters).map(|_| traffic.batch(rules, 100)).collect();
                let now = Timestamp::from_secs(T0 + traffic.calls as i64 + 1);
                let start = Instant::now();
                for batch in &batches {
                    let done = store
                        .ingest(black_box(batch), now)
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(done.events, 100);
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

/// A store with `n` visitors in `ready` (three pricing views each), entered over `n` seconds.
fn ready_store(rules: &Rules, settings: &Settings, n: u64) -> Sqlite {
    let db = store_db();
    let store = Store::new(&db, rules, settings);
    let mut records = Vec::with_capacity(1_000);
    let started = Instant::now();
    for i in 0..n {
        let mut p = Profile::new(rules);
        let at = Timestamp::from_secs(T0 + i as i64);
        let views: Vec<Event<'static>> = (0..3)
            .map(|_| Event::pageview("https://demo.test/pricing/", None))
            .collect();
        for e in &views {
            p.fold(rules, at, e);
        }
        records.push(Record::new(
            &format!("r{i}"),
            &visitor(i),
            at,
            rules,
            &p,
            &views,
        ));
        if records.len() == 1_000 || i + 1 == n {
            store.ingest(&records, at).unwrap_or_else(|e| panic!("{e}"));
            records.clear();
        }
    }
    println!(
        "set-up: {n} visitors ({} events) ingested in {:.1} s",
        3 * n,
        started.elapsed().as_secs_f64()
    );
    db
}

fn list(c: &mut Criterion) {
    let rules = Rules::builtin();
    let settings = Settings::default();
    let members: u64 = std::env::var("AUDIENCE_BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let db = ready_store(rules, &settings, members);
    let store = Store::new(&db, rules, &settings);
    let mut group = c.benchmark_group("audience");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let first = MembersRequest::from_query([]).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function(BenchmarkId::new("first_page_of_100", members), |b| {
        b.iter(|| {
            let page = store
                .members("ready", &first)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(page.members.len(), 100);
            black_box(serde_json::to_string(&page).unwrap_or_default())
        })
    });
    let csv = MembersRequest::from_query([("format", "csv")]).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function(BenchmarkId::new("whole_csv", members), |b| {
        b.iter(|| {
            let mut req = csv.clone();
            let mut out = String::from(CSV_HEADER);
            let mut rows = 0;
            loop {
                let page = store
                    .members("ready", &req)
                    .unwrap_or_else(|e| panic!("{e}"));
                rows += page.members.len();
                out.push_str(&csv_rows(&page.members));
                match page.next_cursor {
                    Some(c) => req.cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(rows as u64, members);
            black_box(out.len())
        })
    });
    group.finish();
}

/// The store's side of the deliveries: `n` visitors entering `ready` write `n` webhook
/// notifications; then, 100 at a time as the queue consumer takes them, each is handed out,
/// its signed request built, and its report recorded. The sending itself is not measured.
fn deliveries(_: &mut Criterion) {
    let mut cfg: serde_json::Value =
        serde_json::from_str(Rules::builtin_json()).unwrap_or_else(|e| panic!("{e}"));
    cfg["destinations"] = serde_json::json!({"ops": {"type": "webhook",
        "url": "https://hooks.acme.com/intent", "secret": "env:WEBHOOK_SECRET"}});
    cfg["triggers"] = serde_json::json!([{"when": "entered", "audience": "ready", "to": ["ops"]}]);
    let rules = Rules::from_json(&cfg.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings::default();
    let n: u64 = 20_000;
    let db = ready_store(&rules, &settings, n);
    let store = Store::new(&db, &rules, &settings);
    let env = |name: &str| {
        (name == "WEBHOOK_SECRET").then(|| "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned())
    };
    let now = Timestamp::from_secs(T0 + n as i64 + 1);
    let ctx = SendContext {
        site: "demo",
        now,
        origin: None,
        hubspot_api_base: "https://api.hubapi.com",
        checks: Checks::default(),
        env: &env,
    };
    let destination = &rules.config().destinations["ops"];
    let schedule = RetrySchedule::default();
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        let due = store.due(now, 100).unwrap_or_else(|e| panic!("{e}"));
        if due.is_empty() {
            break;
        }
        for d in &due {
            let req = request(destination, &d.notification, &ctx).unwrap_or_else(|e| panic!("{e}"));
            black_box(req);
            store
                .report(
                    &d.id,
                    d.attempt,
                    &Outcome::Delivered { status: 204 },
                    now,
                    &schedule,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            done += 1;
        }
    }
    assert_eq!(done, n);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "deliveries: {n} handed out 100 at a time, each signed and its report recorded, in {secs:.2} s: {:.0} deliveries/s",
        n as f64 / secs
    );
}

criterion_group!(benches, ingest, list, deliveries);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
