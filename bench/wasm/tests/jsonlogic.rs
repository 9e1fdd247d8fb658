//! The JSON Logic converter agrees with the engine: for the default rules and the generated
//! 50-rule config, generated visitor histories go through the engine, and the converted rules,
//! evaluated by a small JSON Logic interpreter over counts taken from the engine's own profile,
//! must give the same tier and segments at every step. (`make bench` checks the JavaScript
//! peers themselves, which keep their own profiles, the same way.)

use intent_bench_wasm::fifty_rules_json;
use intent_bench_wasm::jsonlogic::{convert, growthbook_condition};
use intent_engine::{process, Event, Keyring, ProfileSummary, Rules, Timestamp};
use serde_json::{Map, Value};

/// JSON Logic's truthiness: false, null, 0, "" and [] are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// The operators the converter writes: `and`, `or`, `!`, `>=`, `<=`, `var`.
fn apply(logic: &Value, data: &Map<String, Value>) -> Value {
    let Value::Object(op) = logic else {
        return logic.clone();
    };
    let (name, args) = op.iter().next().expect("one operator");
    let args: Vec<&Value> = match args {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let num = |v: &Value| apply(v, data).as_f64().expect("a number");
    match name.as_str() {
        "var" => data[args[0].as_str().expect("a name")].clone(),
        "and" => Value::Bool(args.iter().all(|a| truthy(&apply(a, data)))),
        "or" => Value::Bool(args.iter().any(|a| truthy(&apply(a, data)))),
        "!" => Value::Bool(!truthy(&apply(args[0], data))),
        ">=" => Value::Bool(num(args[0]) >= num(args[1])),
        "<=" => Value::Bool(num(args[0]) <= num(args[1])),
        other => panic!("the converter wrote an operator this test does not know: {other}"),
    }
}

/// The counters of the converted document, computed from the engine's profile summary.
fn counts(doc: &Value, s: &ProfileSummary, now: i64) -> Map<String, Value> {
    let series = |label: String| -> Vec<i64> {
        s.tracked
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, ts)| ts.iter().map(|t| t.secs()).collect())
            .unwrap_or_default()
    };
    let track = &doc["track"];
    let mut data = Map::new();
    for (name, c) in doc["counters"].as_object().expect("counters") {
        let within = c["within_s"].as_i64().unwrap_or(0);
        let index = c["index"].as_u64().unwrap_or(0) as usize;
        let stamps = match c["count"].as_str().expect("a kind") {
            "group" => series(format!(
                "viewed {}",
                track["groups"][index]["name"].as_str().unwrap()
            )),
            "event" => series(format!(
                "event {}",
                track["events"][index]["name"].as_str().unwrap()
            )),
            "click" => series(format!(
                "clicked {}",
                track["clicks"][index]["target"].as_str().unwrap()
            )),
            "visits" => s.visit_starts.iter().map(|t| t.secs()).collect(),
            _ => {
                let idle = s.last_seen.map_or(i64::MAX / 2, |t| now - t.secs());
                data.insert(name.clone(), idle.into());
                continue;
            }
        };
        let n = stamps.iter().filter(|&&t| t >= now - within).count();
        data.insert(name.clone(), n.into());
    }
    data
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

fn check_agreement(rules: &Rules, paths: &[&str], names: &[&str], targets: &[&str]) {
    let doc = convert(rules.config()).expect("convertible").document;
    let keys = Keyring::parse("k1:a-test-secret-of-enough-length").expect("keys");
    let gaps = [
        20,
        300,
        1_900,
        4 * 3_600,
        86_400,
        3 * 86_400,
        8 * 86_400,
        20 * 86_400,
    ];
    let mut r = Lcg(7);
    let mut tiers_seen = std::collections::BTreeSet::new();
    for visitor in 0..150 {
        let mut token: Option<String> = None;
        let mut now = 1_790_000_000i64;
        for step in 0..(1 + r.below(25)) {
            now += gaps[r.below(gaps.len())];
            let events: Vec<Event> = (0..r.below(5))
                .map(|_| match r.below(4) {
                    0 | 1 => Event::pageview(
                        &format!("https://acme.test{}", paths[r.below(paths.len())]),
                        None,
                    ),
                    2 => Event::Click {
                        url: None,
                        target: targets[r.below(targets.len())].into(),
                    },
                    _ => Event::Event {
                        name: names[r.below(names.len())].into(),
                        props: Default::default(),
                    },
                })
                .collect();
            let at = Timestamp::from_secs(now);
            let out = process(
                rules,
                &keys,
                "demo",
                token.as_deref(),
                &events,
                at,
                intent_bench_wasm::new_id,
            );
            let data = counts(&doc, &out.profile.summary(rules), now);
            let tier = doc["tiers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| truthy(&apply(&t["logic"], &data)))
                .map_or(doc["fallback"].as_str().unwrap(), |t| {
                    t["name"].as_str().unwrap()
                });
            let segments: Vec<&str> = doc["segments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| truthy(&apply(&s["logic"], &data)))
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                (out.decision.tier, &out.decision.segments),
                (tier, &segments),
                "visitor {visitor}, step {step}: engine vs JSON Logic over counts {data:?}"
            );
            tiers_seen.insert(tier.to_owned());
            token = Some(out.token);
        }
    }
    assert!(
        tiers_seen.len() >= 3,
        "the histories reached only {tiers_seen:?}"
    );
}

#[test]
fn default_rules_agree() {
    check_agreement(
        Rules::builtin(),
        &[
            "/",
            "/pricing",
            "/Pricing/x?y=1",
            "/book-a-demo/",
            "/demo",
            "/product/a",
            "/features",
            "/compare/",
            "/vs/x",
            "/customers/n",
            "/docs/",
            "/blog/p",
        ],
        &["demo_request", "newsletter"],
        &["cta-hero"],
    );
}

#[test]
fn fifty_rules_agree() {
    let rules = Rules::from_json(&fifty_rules_json()).expect("the generated config is valid");
    let paths: Vec<String> = (0..12)
        .flat_map(|i| [format!("/section{i}/p"), format!("/alt{i}/x")])
        .collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    check_agreement(
        &rules,
        &paths,
        &["ev0", "ev1", "ev2", "ev3", "ev4", "misc"],
        &["cta-0", "cta-1x", "cta-2", "cta-3", "nav"],
    );
}

#[test]
fn conditions_without_a_json_logic_form_are_refused_by_name() {
    let text = r#"{"version": 1, "page_groups": {"p": ["/p*"]}, "fallback": "cold",
        "tiers": [{"name": "hot", "when": {"utm": {"source": "linkedin"}}}]}"#;
    let rules = Rules::from_json(text).expect("valid");
    let err = convert(rules.config()).expect_err("utm has no JSON Logic form");
    assert!(err.starts_with("tier `hot`: a `utm` condition"), "{err}");
}

#[test]
fn growthbook_conditions_mirror_the_json_logic() {
    let logic = serde_json::json!({"or": [
        {">=": [{"var": "views_pricing_14d"}, 3]},
        {"and": [{">=": [{"var": "visits_14d"}, 3]}, {"!": [{"<=": [{"var": "idle_s"}, 86400]}]}]}
    ]});
    assert_eq!(
        growthbook_condition(&logic).unwrap(),
        serde_json::json!({"$or": [
            {"views_pricing_14d": {"$gte": 3}},
            {"$and": [{"visits_14d": {"$gte": 3}}, {"$not": {"idle_s": {"$lte": 86400}}}]}
        ]})
    );
}
