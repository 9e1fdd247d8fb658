//! The product facts shared by the engine, the worker and the browser snippet, so each is
//! written once: which user agents are crawlers, and the limits of a collect call.
//!
//! The worker reads the crawler rule with [`is_crawler`]; the snippet hands
//! [`CRAWLER_PATTERN`], the same rule as a regular expression built from the same list at
//! compile time, to the browser's `RegExp` (Rust string search would cost its size budget).
//! [`CRAWLER_CASES`] are test vectors both run.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The generic crawler word: a user agent with `bot` followed by one of
/// [`CRAWLER_WORD_ENDS`], or ending with it, is a crawler (`Googlebot/2.1`, `AhrefsBot;`,
/// `TelegramBot (like TwitterBot)`, `AdsBot-Google`, `Twitterbot`). A bare `bot` or `bot `
/// would also match phones such as the Cubot X30.
pub const CRAWLER_WORD: &str = "bot";

/// What may follow [`CRAWLER_WORD`] in a crawler's user agent (besides the end of it).
pub const CRAWLER_WORD_ENDS: &str = "/;)-";

/// Lower-case substrings of crawler and link-preview user agents without the generic word:
/// the long tail (`crawler`, `spider`) and fetchers that say none of those, each as short as
/// still tells it apart (`preview` covers BingPreview, SkypeUriPreview and Quora Link Preview):
/// the snippet carries this list, and every byte counts against its budget.
///
/// Only lower-case letters and `-` may appear: [`CRAWLER_PATTERN`] copies them into a regular
/// expression as they are, and a test checks that nothing a regular expression reads specially
/// sneaks in.
pub const CRAWLER_MARKERS: &[&str] = &[
    "crawl",
    "spider",
    "slurp",
    "lighthouse",
    "facebookext",
    "mediapartners",
    "inspectiontool",
    "preview",
    "yandex",
    "embedly",
    "whatsapp",
    "slackbot",
];

/// True when `user_agent` is a known crawler's: [`CRAWLER_WORD`] followed by one of
/// [`CRAWLER_WORD_ENDS`] or at the end, or one of [`CRAWLER_MARKERS`], ignoring ASCII case.
///
/// One pass over the user agent: at each byte only the words that start with it are compared
/// (the worker runs this on every request; thirteen scans of the whole header cost it
/// microseconds).
pub fn is_crawler(user_agent: &str) -> bool {
    let ua = user_agent.as_bytes();
    let word = CRAWLER_WORD.as_bytes();
    (0..ua.len()).any(|i| {
        let rest = &ua[i..];
        let first = rest[0].to_ascii_lowercase();
        if !STARTS[usize::from(first)] {
            return false;
        }
        let generic = word.first() == Some(&first)
            && starts_with_ignore_case(rest, word)
            && rest
                .get(word.len())
                .is_none_or(|b| CRAWLER_WORD_ENDS.as_bytes().contains(b));
        generic
            || CRAWLER_MARKERS.iter().any(|m| {
                m.as_bytes().first() == Some(&first) && starts_with_ignore_case(rest, m.as_bytes())
            })
    })
}

/// The bytes a crawler word starts with: [`CRAWLER_WORD`]'s and [`CRAWLER_MARKERS`]' first.
const STARTS: [bool; 256] = {
    let mut starts = [false; 256];
    if let Some(&b) = CRAWLER_WORD.as_bytes().first() {
        starts[b as usize] = true;
    }
    let mut i = 0;
    while i < CRAWLER_MARKERS.len() {
        if let Some(&b) = CRAWLER_MARKERS[i].as_bytes().first() {
            starts[b as usize] = true;
        }
        i += 1;
    }
    starts
};

/// Whether `hay` starts with `needle` (lower case), ignoring ASCII case.
fn starts_with_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.get(..needle.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(needle))
}

/// The crawler rule as a regular expression for the browser's `RegExp` with the `i` flag,
/// `bot[/;)-]|bot$|crawl|spider|…`: built from [`CRAWLER_WORD`], [`CRAWLER_WORD_ENDS`] and
/// [`CRAWLER_MARKERS`] when this crate compiles, so the two readings cannot drift.
// NOTE: a panic in a constant is a compile error, never a run-time one.
#[allow(clippy::panic)]
pub const CRAWLER_PATTERN: &str = match core::str::from_utf8(&PATTERN_BYTES) {
    Ok(pattern) => pattern,
    Err(_) => panic!("the crawler rule is ASCII"),
};

const fn pattern_len() -> usize {
    // `bot[/;)-]|bot$`
    let mut len = 2 * CRAWLER_WORD.len() + CRAWLER_WORD_ENDS.len() + 4;
    let mut i = 0;
    while i < CRAWLER_MARKERS.len() {
        len += 1 + CRAWLER_MARKERS[i].len(); // `|marker`
        i += 1;
    }
    len
}

const PATTERN_LEN: usize = pattern_len();

/// Copies `from` into `out` at `at`; where it ends.
const fn put(out: &mut [u8; PATTERN_LEN], at: usize, from: &str) -> usize {
    let from = from.as_bytes();
    let mut i = 0;
    while i < from.len() {
        out[at + i] = from[i];
        i += 1;
    }
    at + from.len()
}

const PATTERN_BYTES: [u8; PATTERN_LEN] = {
    let mut out = [0u8; PATTERN_LEN];
    let mut at = put(&mut out, 0, CRAWLER_WORD);
    at = put(&mut out, at, "[");
    at = put(&mut out, at, CRAWLER_WORD_ENDS);
    at = put(&mut out, at, "]|");
    at = put(&mut out, at, CRAWLER_WORD);
    at = put(&mut out, at, "$");
    let mut i = 0;
    while i < CRAWLER_MARKERS.len() {
        at = put(&mut out, at, "|");
        at = put(&mut out, at, CRAWLER_MARKERS[i]);
        i += 1;
    }
    out
};

/// Test vectors of the crawler rule: a user agent and whether it is a crawler. The worker's
/// [`is_crawler`] and the snippet's [`CRAWLER_PATTERN`] (in a real browser) both run them.
pub const CRAWLER_CASES: &[(&str, bool)] = &[
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", true),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", true),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", true),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", true),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", true),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true),
    ("Mozilla/5.0 (Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", true),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", true),
    ("Twitterbot/1.0", true),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true),
    ("Slackbot 1.0 (+https://api.slack.com/robots)", true),
    ("TelegramBot (like TwitterBot)", true),
    ("AdsBot-Google (+http://www.google.com/adsbot.html)", true),
    ("Mediapartners-Google", true),
    ("Mozilla/5.0 (compatible; Google-InspectionTool/1.0)", true),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", true),
    ("Mozilla/5.0 (compatible; Yahoo! Slurp China)", true),
    ("Mozilla/5.0 (compatible; YandexMetrika/2.0)", true),
    ("Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)", true),
    ("WhatsApp/2.23.20.0", true),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36 Chrome-Lighthouse", true),
    ("SomeNewBot", true),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", false),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1", false),
    // A phone whose model name contains `bot`: a visitor, not a crawler.
    ("Mozilla/5.0 (Linux; Android 13; Cubot X30 Build/TP1A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36", false),
    ("Mozilla/5.0 (Linux; Android 12; CUBOT KINGKONG 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36", false),
    ("curl/8.5.0", false),
    ("node", false),
    ("", false),
];

/// The limits of a collect call, in bytes unless said otherwise. The engine refuses a request
/// past them (`intent_engine::Limits` names the same values); the snippet trims what it sends
/// to them, because one field over a limit makes the worker refuse the whole batch.
pub mod limits {
    /// Most events accepted in one collect call.
    pub const EVENTS_PER_CALL: usize = 50;
    /// Longest URL or referrer in an event.
    pub const URL_BYTES: usize = 2048;
    /// Longest event name or click target.
    pub const NAME_BYTES: usize = 128;
    /// Longest page title (titles are never stored).
    pub const TITLE_BYTES: usize = 512;
    /// Most properties on a custom event.
    pub const PROPS: usize = 16;
    /// Longest property key or string value.
    pub const PROP_BYTES: usize = 256;
    /// Longest site id.
    pub const SITE_BYTES: usize = 64;
}

/// What a slot element accepts: the one definition proxy mode (`worker/src/rewrite.rs`) and the
/// snippet (`crates/snippet/src/slots.rs`) both follow, with [`slot::CASES`], test vectors
/// both run.
///
/// - The slot's name is the attribute's value exactly as written: not trimmed, case kept
///   (`data-intent-slot=" hero"` is not the slot `hero`).
/// - Slots inside `<template>` are not filled: the browser does not render them (and the
///   snippet's `querySelectorAll` does not see them).
/// - `html` and `text` apply only to an element that can hold content, never to a void
///   element such as `<img>` or `<input>`; `href` only to an element that is a link (`<a>`,
///   `<area>`); `attrs` to any element.
/// - Proxy mode marks `data-intent-filled` only on an element the variant changed.
pub mod slot {
    /// Elements that can hold no content (HTML's void elements).
    pub const VOID_ELEMENTS: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];

    /// Elements an `href` belongs on.
    pub const HREF_ELEMENTS: &[&str] = &["a", "area"];

    /// [`VOID_ELEMENTS`] as a CSS selector list, for the browser's `Element.matches`.
    pub const VOID_SELECTOR: &str =
        "area,base,br,col,embed,hr,img,input,link,meta,source,track,wbr";

    /// [`HREF_ELEMENTS`] as a CSS selector list.
    pub const HREF_SELECTOR: &str = "a,area";

    /// True when `html` or `text` may replace the content of an element named `tag` (its local
    /// name, any case).
    pub fn takes_content(tag: &str) -> bool {
        !VOID_ELEMENTS.iter().any(|v| v.eq_ignore_ascii_case(tag))
    }

    /// True when a variant's `href` is set on an element named `tag`.
    pub fn takes_href(tag: &str) -> bool {
        HREF_ELEMENTS.iter().any(|v| v.eq_ignore_ascii_case(tag))
    }

    /// One test vector: a page fragment with slot elements, the variant of the slot `s`
    /// (`{"html": "<b>V</b>", "href": "/v"}`), and what every slot element shows after: its
    /// outer HTML, in document order, as the browser serialises it. Proxy mode also marks
    /// the elements it changed `data-intent-filled=""`; the vectors leave that out.
    pub struct Case {
        /// The fragment (inside `<body>`).
        pub page: &'static str,
        /// The slot elements after filling, in document order, outside `<template>`.
        pub after: &'static [&'static str],
        /// How many elements proxy mode marks filled.
        pub filled: usize,
    }

    /// The variant every [`Case`] applies to the slot `s`, as a rules config writes it.
    pub const VARIANT_JSON: &str = r#"{"html": "<b>V</b>", "href": "/v"}"#;

    /// The test vectors.
    pub const CASES: &[Case] = &[
        Case {
            page: r#"<div data-intent-slot="s">d</div>"#,
            after: &[r#"<div data-intent-slot="s"><b>V</b></div>"#],
            filled: 1,
        },
        Case {
            page: r#"<a data-intent-slot="s" href="/d">d</a>"#,
            after: &[r#"<a data-intent-slot="s" href="/v"><b>V</b></a>"#],
            filled: 1,
        },
        Case {
            page: r#"<div data-intent-slot=" s ">d</div>"#,
            after: &[r#"<div data-intent-slot=" s ">d</div>"#],
            filled: 0,
        },
        Case {
            page: r#"<img data-intent-slot="s" src="/d.png"><input data-intent-slot="s">"#,
            after: &[
                r#"<img data-intent-slot="s" src="/d.png">"#,
                r#"<input data-intent-slot="s">"#,
            ],
            filled: 0,
        },
        Case {
            page: r#"<template><div data-intent-slot="s">d</div></template><p data-intent-slot="s">d</p>"#,
            after: &[r#"<p data-intent-slot="s"><b>V</b></p>"#],
            filled: 1,
        },
    ];
}

#[cfg(test)]
mod slot_tests {
    extern crate std;
    use super::slot::*;

    #[test]
    fn the_selectors_list_the_elements() {
        assert_eq!(VOID_SELECTOR, VOID_ELEMENTS.join(","));
        assert_eq!(HREF_SELECTOR, HREF_ELEMENTS.join(","));
        assert!(takes_content("div") && !takes_content("IMG") && !takes_content("input"));
        assert!(takes_href("a") && takes_href("AREA") && !takes_href("img"));
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn crawler_cases() {
        for (ua, crawler) in CRAWLER_CASES {
            assert_eq!(is_crawler(ua), *crawler, "{ua}");
        }
    }

    /// The rule as written: the generic word at any place, then every marker anywhere.
    fn is_crawler_by_the_letter(ua: &str) -> bool {
        let ua = ua.as_bytes();
        let word = CRAWLER_WORD.as_bytes();
        let found = |i: usize, w: &[u8]| {
            ua.get(i..i + w.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(w))
        };
        (0..ua.len()).any(|i| {
            found(i, word)
                && ua
                    .get(i + word.len())
                    .is_none_or(|b| CRAWLER_WORD_ENDS.as_bytes().contains(b))
        }) || CRAWLER_MARKERS
            .iter()
            .any(|m| (0..ua.len()).any(|i| found(i, m.as_bytes())))
    }

    #[test]
    fn one_pass_reads_the_rule_as_written() {
        // Every marker and the word in every case, at the start, in the middle and at the end,
        // followed by every byte that matters, and cut short.
        let mut words: std::vec::Vec<&str> = CRAWLER_MARKERS.to_vec();
        words.push(CRAWLER_WORD);
        let mut checked = 0;
        for w in &words {
            let upper = w.to_ascii_uppercase();
            for w in [std::string::String::from(*w), upper] {
                for cut in 0..=w.len() {
                    let w = &w[..cut];
                    for after in ["", "/", ";", ")", "-", " ", "x", "B"] {
                        for ua in [
                            std::format!("{w}{after}"),
                            std::format!("Mozilla/5.0 ({w}{after}"),
                            std::format!("xx{w}{after}yy"),
                        ] {
                            assert_eq!(is_crawler(&ua), is_crawler_by_the_letter(&ua), "{ua:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
        assert!(is_crawler("BOT") && !is_crawler("Cubot X30") && !is_crawler(""));
    }

    #[test]
    fn the_pattern_is_the_list() {
        assert!(
            CRAWLER_PATTERN.starts_with("bot[/;)-]|bot$|crawl|spider|"),
            "{CRAWLER_PATTERN}"
        );
        assert!(CRAWLER_PATTERN.ends_with("|slackbot"), "{CRAWLER_PATTERN}");
        assert_eq!(
            CRAWLER_PATTERN.matches('|').count(),
            CRAWLER_MARKERS.len() + 1,
            "{CRAWLER_PATTERN}"
        );
    }

    #[test]
    fn markers_hold_no_regex_syntax() {
        for m in CRAWLER_MARKERS {
            assert!(
                !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{m}"
            );
        }
        // In a character class, `-` last is literal; `]`, `\\` and `^` never appear.
        assert!(CRAWLER_WORD_ENDS.ends_with('-'));
        assert!(!CRAWLER_WORD_ENDS.contains([']', '\\', '^']));
    }
}
