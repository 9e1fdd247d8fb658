//! Property: however the queue delivers the batches — each once, some twice, some again after
//! later ones, some late (a failed batch retried after the next one landed) — the store ends
//! with the same events, visitors and memberships as when each batch arrives once, in order,
//! and a batch delivered again notifies no one again.

use intent_audience::{Record, Sql, Store, Value};
use intent_engine::Rules;
use proptest::prelude::*;

use crate::support::*;

/// What must not depend on how often batches were delivered (times of entry aside: a batch
/// delivered again later is recomputed later).
fn state(db: &Sqlite) -> Vec<Vec<Value>> {
    let mut all = Vec::new();
    for sql in [
        "SELECT id, visitor, at, body, email FROM events ORDER BY id",
        "SELECT id, email, account, tier, segments, first_seen, last_seen FROM visitors ORDER BY id",
        "SELECT visitor, kind, audience FROM memberships WHERE left_at IS NULL ORDER BY visitor, kind, audience",
    ] {
        all.extend(db.query(sql, &[]).unwrap());
    }
    all
}

/// Calls of a few visitors: (visitor, page or identify), one a minute.
fn traffic() -> impl Strategy<Value = Vec<(u32, u8)>> {
    prop::collection::vec((0..6u32, 0..6u8), 1..40)
}

fn batches(rules: &Rules, calls: &[(u32, u8)], size: usize) -> Vec<Vec<Record>> {
    let mut edges: Vec<Edge> = (0..6).map(|n| Edge::new(rules, n)).collect();
    let records: Vec<Record> = calls
        .iter()
        .enumerate()
        .map(|(i, &(v, what))| {
            let t = T0 + i as i64 * MINUTE;
            let event = match what {
                0 | 1 => page("/pricing/"),
                2 => page("/compare/"),
                3 => page("/blog/"),
                4 => identify(&format!("p{v}@acme.com")),
                _ => identify(&format!("p{v}@gmail.com")),
            };
            edges[v as usize].call(rules, t, &[event])
        })
        .collect();
    records.chunks(size).map(<[Record]>::to_vec).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn redelivery_in_any_order_counts_nothing_twice(
        calls in traffic(),
        size in 1..8usize,
        plan in prop::collection::vec((0..3usize, any::<prop::sample::Index>()), 0..12),
        late in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        // Rules with triggers: a redelivered batch must not notify anyone again either.
        let rules = &crate::triggers::rules_with_triggers(Some("1/30d"));
        let settings = settings();
        let batches = batches(rules, &calls, size);
        let last = at(T0 + calls.len() as i64 * MINUTE);

        let once = db();
        let store = Store::new(&once, rules, &settings);
        for b in &batches {
            store.ingest(b, last).unwrap();
        }

        // The same batches in order, each possibly twice, with earlier ones delivered again
        // after later ones.
        let many = db();
        let store = Store::new(&many, rules, &settings);
        let mut order: Vec<usize> = (0..batches.len()).collect();
        for l in &late {
            // This batch failed and lands after the next one.
            let i = l.index(order.len());
            if i + 1 < order.len() {
                order.swap(i, i + 1);
            }
        }
        let mut delivered = 0;
        let mut done = Vec::new();
        for (i, b) in order.iter().map(|&i| (i, &batches[i])) {
            store.ingest(b, last).unwrap();
            done.push(i);
            delivered += 1;
            for (times, which) in &plan {
                if which.index(batches.len()) == i {
                    for _ in 0..*times {
                        // Any batch already delivered, again.
                        let again = &batches[done[which.index(done.len())]];
                        let again = store.ingest(again, last).unwrap();
                        prop_assert_eq!(again.events, 0);
                        prop_assert!(again.changes.is_empty(), "{:?}", again.changes);
                        prop_assert_eq!(again.notifications, 0);
                        delivered += 1;
                    }
                }
            }
        }
        prop_assert!(delivered >= batches.len());
        prop_assert_eq!(state(&many), state(&once));
    }
}
