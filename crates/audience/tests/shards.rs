//! A site split over two shards (`site:0`, `site:1`) answers as one store does: visitors land
//! on the shard of their id, and the lists merged from both shards' pages are the one store's.

use intent_audience::shard::{object_name, Sharding};
use intent_audience::{
    audiences_of, merge_accounts, merge_counts, merge_members, Erased, MembersPage, MembersRequest,
    Record, Store, Subject,
};
use intent_engine::Rules;

use crate::support::*;

fn traffic(rules: &Rules) -> Vec<Vec<Record>> {
    let mut batches = Vec::new();
    for round in 0..4i64 {
        let mut batch = Vec::new();
        for n in 0..40u32 {
            let mut e = Edge::new(rules, n + 1000 * round as u32);
            let t = T0 + round * DAY + i64::from(n) * 7;
            let path = ["/pricing/", "/compare/", "/blog/"][(n % 3) as usize];
            let views = if n % 3 == 0 { 3 } else { 1 };
            for k in 0..views {
                batch.push(e.call(rules, t + k, &[page(path)]));
            }
            let domain = ["acme.com", "initech.com", "gmail.com", "globex.io"][(n % 4) as usize];
            if n % 5 != 0 {
                batch.push(e.call(rules, t + 5, &[identify(&format!("p{n}r{round}@{domain}"))]));
            }
        }
        batches.push(batch);
    }
    batches
}

/// Every member of `audience` through pages of `limit`, merged over `stores`.
fn listing(stores: &[&Store<'_, Sqlite>], audience: &str, limit: &str) -> (usize, Vec<String>) {
    let rules = Rules::builtin();
    let target = intent_audience::resolve(rules, audience).unwrap();
    let mut req = MembersRequest::from_query([("limit", limit)]).unwrap();
    let (mut pages, mut all) = (0, Vec::new());
    loop {
        let parts: Vec<MembersPage> = stores
            .iter()
            .map(|s| {
                // Each shard's page crosses from the object to the worker as JSON.
                let json = serde_json::to_string(&s.members(audience, &req).unwrap()).unwrap();
                serde_json::from_str(&json).unwrap()
            })
            .collect();
        let page = merge_members(&target, parts, req.limit);
        pages += 1;
        all.extend(page.members.into_iter().map(|m| m.visitor));
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => return (pages, all),
        }
    }
}

#[test]
fn two_shards_list_count_and_erase_as_one_store() {
    let rules = Rules::builtin();
    let settings = settings();
    let sharding = Sharding::parse("demo=2").unwrap();
    let (one, s0, s1) = (db(), db(), db());
    let whole = Store::new(&one, rules, &settings);
    let shards = [
        Store::new(&s0, rules, &settings),
        Store::new(&s1, rules, &settings),
    ];
    for (i, batch) in traffic(rules).into_iter().enumerate() {
        let now = at(T0 + i as i64 * DAY + 600);
        whole.ingest(&batch, now).unwrap();
        for (n, shard) in shards.iter().enumerate() {
            let mine: Vec<Record> = batch
                .iter()
                .filter(|r| usize::from(sharding.shard_of("demo", &r.visitor)) == n)
                .cloned()
                .collect();
            assert!(!mine.is_empty());
            shard.ingest(&mine, now).unwrap();
        }
    }
    assert_eq!(object_name("demo", 1), "demo:1");
    let now = at(T0 + 5 * DAY);
    let both: Vec<&Store<'_, Sqlite>> = shards.iter().collect();
    for audience in audiences_of(rules) {
        for limit in ["7", "100"] {
            let (expected_pages, expected) = listing(&[&whole], &audience.name, limit);
            let (pages, merged) = listing(&both, &audience.name, limit);
            assert!(!expected.is_empty());
            assert_eq!(merged, expected, "{} by {limit}", audience.name);
            assert_eq!(pages, expected_pages);
            assert_eq!(pages, expected.len().div_ceil(limit.parse().unwrap()));
        }
    }
    let counts = merge_counts(shards.iter().map(|s| s.audiences(now).unwrap()).collect());
    assert_eq!(counts, Some(whole.audiences(now).unwrap()));
    let accounts = merge_accounts(
        rules,
        shards
            .iter()
            .map(|s| s.accounts(7 * DAY, now).unwrap())
            .collect(),
    );
    assert_eq!(accounts, whole.accounts(7 * DAY, now).unwrap());
    assert_eq!(accounts.accounts.len(), 3);
    let email = "p1r2@initech.com";
    let mut erased = Erased::merge(
        shards
            .iter()
            .map(|s| s.erase(Subject::Email(email), at(T0)).unwrap()),
    );
    let mut reference = whole.erase(Subject::Email(email), at(T0)).unwrap();
    erased.visitors.sort();
    reference.visitors.sort();
    assert_eq!(erased, reference);
    assert_eq!(erased.visitors.len(), 1);
}
