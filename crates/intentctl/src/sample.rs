//! `intentctl sample-traffic`: a synthetic but plausible event log of the demo site, for trying
//! `simulate`, `audit` and the console's preview without real traffic, and for the golden tests
//! and benchmarks that need a month of a busy site. The same seed always gives the same log, on
//! every machine: the generator is a fixed-step pseudo-random sequence (SplitMix64), not the
//! system's randomness.
//!
//! Visitors come in kinds whose behaviour the default rules sort differently: blog readers and
//! docs users who stay `researching`, product explorers and comparison shoppers who reach
//! `evaluating`, pricing returners and demo requesters who become `ready`, and a few who landed
//! from a campaign (UTM parameters) or from LinkedIn. Each visitor makes one to six visits on
//! random days of the period, each of a few page views with engagement reports, the odd tracked
//! click and, for some, a `demo_request`.

use std::fmt::Write as _;

use intent_engine::Timestamp;

/// SplitMix64: tiny, fast and the same everywhere, which is all a traffic sample needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// What a kind of visitor tends to read: pages with weights.
struct Kind {
    share: u64,
    pages: &'static [(&'static str, u64)],
    visits: (u64, u64),
    pages_per_visit: (u64, u64),
    demo_request_percent: u64,
}

const KINDS: &[Kind] = &[
    // Blog readers: mostly articles, the odd look at the product.
    Kind {
        share: 34,
        pages: &[
            ("/blog/", 3),
            ("/blog/rolling-forecasts-without-spreadsheet-sprawl/", 6),
            ("/", 2),
            ("/product/", 1),
        ],
        visits: (1, 2),
        pages_per_visit: (1, 3),
        demo_request_percent: 0,
    },
    // Customers of today reading the docs.
    Kind {
        share: 12,
        pages: &[("/docs/", 8), ("/integrations/", 2), ("/", 1)],
        visits: (1, 5),
        pages_per_visit: (1, 4),
        demo_request_percent: 0,
    },
    // Explorers: product, features, integrations, customer stories.
    Kind {
        share: 22,
        pages: &[
            ("/", 2),
            ("/product/", 5),
            ("/features/", 4),
            ("/integrations/", 3),
            ("/customers/", 2),
            ("/customers/northwind/", 2),
            ("/blog/", 1),
        ],
        visits: (1, 3),
        pages_per_visit: (2, 5),
        demo_request_percent: 0,
    },
    // Comparison shoppers: compare pages and a look at pricing.
    Kind {
        share: 14,
        pages: &[
            ("/compare/", 5),
            ("/pricing/", 2),
            ("/product/", 2),
            ("/customers/", 1),
        ],
        visits: (1, 3),
        pages_per_visit: (1, 4),
        demo_request_percent: 2,
    },
    // Pricing returners: back to pricing again and again.
    Kind {
        share: 12,
        pages: &[
            ("/pricing/", 6),
            ("/product/", 2),
            ("/compare/", 1),
            ("/customers/northwind/", 1),
        ],
        visits: (2, 6),
        pages_per_visit: (1, 4),
        demo_request_percent: 10,
    },
    // Demo requesters: straight to the form.
    Kind {
        share: 6,
        pages: &[("/book-a-demo/", 4), ("/pricing/", 2), ("/", 1)],
        visits: (1, 3),
        pages_per_visit: (1, 3),
        demo_request_percent: 60,
    },
];

const REFERRERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.linkedin.com/",
    "https://news.ycombinator.com/",
    "https://duckduckgo.com/",
];

const CAMPAIGNS: &[(&str, &str, &str)] = &[
    ("linkedin", "paid-social", "nov-forecasting"),
    ("newsletter", "email", "nov-digest"),
    ("google", "cpc", "brand"),
];

const TRACKED: &[&str] = &[
    "pricing-plan-team",
    "pricing-plan-growth",
    "pricing-plan-enterprise",
    "hero-cta",
];

/// The site's origin in the sample's URLs.
const ORIGIN: &str = "https://demo.test";

/// A sample log: `visitors` visitors over the `days` days before `end`, as JSON Lines in time
/// order (ties in visitor order), the format `intentctl simulate` reads.
pub fn traffic(visitors: u32, days: u32, end: Timestamp, seed: u64) -> String {
    let mut rng = Rng(seed);
    let span = i64::from(days.max(1)) * 86_400;
    let start = end.secs() - span;
    let mut lines: Vec<(i64, u32, String)> = Vec::new();
    let total_share: u64 = KINDS.iter().map(|k| k.share).sum();
    for v in 0..visitors {
        let mut roll = rng.below(total_share);
        let kind = KINDS
            .iter()
            .find(|k| {
                if roll < k.share {
                    true
                } else {
                    roll -= k.share;
                    false
                }
            })
            .unwrap_or(&KINDS[0]);
        let id = format!("s{v:05}");
        let visits = kind.visits.0 + rng.below(kind.visits.1 - kind.visits.0 + 1);
        // Visits fall on random moments of the period, in order.
        let mut starts: Vec<i64> = (0..visits)
            .map(|_| start + rng.below(span as u64 - 3_600) as i64)
            .collect();
        starts.sort_unstable();
        let mut requested = false;
        for (n, visit_start) in starts.iter().enumerate() {
            let mut at = *visit_start;
            let pages = kind.pages_per_visit.0
                + rng.below(kind.pages_per_visit.1 - kind.pages_per_visit.0 + 1);
            for p in 0..pages {
                let page = weighted(&mut rng, kind.pages);
                let mut url = format!("{ORIGIN}{page}");
                let mut line = String::new();
                let mut referrer = None;
                if p == 0 {
                    if n == 0 && rng.chance(15) {
                        let (source, medium, campaign) = *rng.pick(CAMPAIGNS);
                        let _ = write!(
                            url,
                            "?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
                        );
                    } else if rng.chance(40) {
                        referrer = Some(*rng.pick(REFERRERS));
                    }
                }
                let _ = write!(
                    line,
                    r#"{{"visitor":"{id}","ts":"{}","type":"pageview","url":"{url}""#,
                    Timestamp::from_secs(at)
                );
                if let Some(r) = referrer {
                    let _ = write!(line, r#","referrer":"{r}""#);
                }
                line.push('}');
                lines.push((at, v, line));
                // Engagement is reported while the page is read.
                let seconds = 5 + rng.below(180);
                if rng.chance(70) {
                    let scroll = 10 + rng.below(91);
                    let at_e = at + seconds as i64;
                    lines.push((
                        at_e,
                        v,
                        format!(
                            r#"{{"visitor":"{id}","ts":"{}","type":"engagement","url":"{ORIGIN}{page}","seconds":{seconds},"scroll":{scroll}}}"#,
                            Timestamp::from_secs(at_e)
                        ),
                    ));
                }
                if page.starts_with("/pricing") && rng.chance(25) {
                    let target = rng.pick(&TRACKED[..3]);
                    lines.push((
                        at + 20,
                        v,
                        format!(
                            r#"{{"visitor":"{id}","ts":"{}","type":"click","url":"{ORIGIN}{page}","target":"{target}"}}"#,
                            Timestamp::from_secs(at + 20)
                        ),
                    ));
                }
                if page == "/" && rng.chance(10) {
                    lines.push((
                        at + 15,
                        v,
                        format!(
                            r#"{{"visitor":"{id}","ts":"{}","type":"click","url":"{ORIGIN}/","target":"{}"}}"#,
                            Timestamp::from_secs(at + 15),
                            TRACKED[3]
                        ),
                    ));
                }
                if page.starts_with("/book-a-demo")
                    && !requested
                    && rng.chance(kind.demo_request_percent)
                {
                    requested = true;
                    let size = rng.pick(&["1-50", "51-200", "201-1000"]);
                    lines.push((
                        at + 90,
                        v,
                        format!(
                            r#"{{"visitor":"{id}","ts":"{}","type":"event","name":"demo_request","props":{{"size":"{size}"}}}}"#,
                            Timestamp::from_secs(at + 90)
                        ),
                    ));
                }
                at += seconds as i64 + 10 + rng.below(120) as i64;
            }
        }
    }
    // A log is written as things happen: in time order; the sort is stable, so a visitor's
    // events at the same second stay in the order they were made.
    lines.sort_by_key(|(at, v, _)| (*at, *v));
    let mut out = String::with_capacity(lines.iter().map(|(_, _, l)| l.len() + 1).sum());
    for (_, _, line) in lines.into_iter().filter(|(at, _, _)| *at <= end.secs()) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn weighted(rng: &mut Rng, pages: &[(&'static str, u64)]) -> &'static str {
    let total: u64 = pages.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (page, w) in pages {
        if roll < *w {
            return page;
        }
        roll -= w;
    }
    pages.first().map_or("/", |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_log_and_every_line_reads() {
        let end = Timestamp::parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        let a = traffic(200, 30, end, 7);
        assert_eq!(a, traffic(200, 30, end, 7));
        assert_ne!(a, traffic(200, 30, end, 8));
        let mut last = 0;
        for (i, line) in a.lines().enumerate() {
            let e = intent_engine::LogEvent::parse(line, i + 1).unwrap();
            assert!(e.at.secs() >= last && e.at <= end, "line {}", i + 1);
            last = e.at.secs();
        }
        assert!(a.lines().count() > 1000);
    }
}
