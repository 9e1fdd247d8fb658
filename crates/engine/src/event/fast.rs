//! The fast path for reading a `POST /v1/collect` body: one pass over the bytes for the bodies
//! the snippet sends. It reads what `serde_json` reads for them, field for field, and gives up
//! (`None`) on anything else — escapes in text, numbers with exponents or signs, unknown or
//! repeated keys, wrong types, trailing bytes — so that `serde_json` reads those and names the
//! field of any error. Reading the body was the costliest step of a collect call after the two
//! HMAC-SHA256 computations; in the worker's wasm this reads a typical body in about 40 % less
//! time than `serde_json` did.
//!
//! The property test below and the `collect` fuzz target hold it to `serde_json`: whatever it
//! reads, `serde_json` reads the same.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{CollectRequest, Event, Kind, PropValue, RawEvent};

/// Reads `body` if it has the shape the fast path knows; `None` otherwise.
pub(super) fn read(body: &str) -> Option<CollectRequest<'_>> {
    // The snippet's bodies (`JSON.stringify`) have no control characters at all, not even as
    // whitespace: a body with any goes to `serde_json`. Tested once over the whole body,
    // without stopping early, so that the loop runs over whole vectors; text and whitespace
    // need no further test for them.
    if body.bytes().fold(false, |any, b| any | (b < 0x20)) {
        return None;
    }
    let mut p = Parser { text: body, pos: 0 };
    let request = p.request()?;
    p.skip_ws();
    (p.pos == body.len()).then_some(request)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

/// `10^i`, exactly, for the number of decimals a fast-path number may have.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
/// Digits a fast-path number may have: every integer below `10^15` is an exact `f64`.
const MAX_DIGITS: usize = 15;

/// Up to 8 bytes as one number, to compare keys and literals without a `memcmp` call each.
/// Longer input gives `u64::MAX`, which no key is. Strings here have no NUL byte (control
/// characters end the fast path), so the zero padding cannot make two strings equal.
const fn word(bytes: &[u8]) -> u64 {
    if bytes.len() > 8 {
        return u64::MAX;
    }
    let mut w = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        w |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    w
}

const SITE: u64 = word(b"site");
const PROFILE: u64 = word(b"profile");
const EVENTS: u64 = word(b"events");
const TYPE: u64 = word(b"type");
const URL: u64 = word(b"url");
const REFERRER: u64 = word(b"referrer");
const TITLE: u64 = word(b"title");
const TARGET: u64 = word(b"target");
const NAME: u64 = word(b"name");
const SECONDS: u64 = word(b"seconds");
const SCROLL: u64 = word(b"scroll");
const PROPS: u64 = word(b"props");

/// How many bytes of `s` go before the first `"` or `\\` (`s.len()` when none does). `memchr`
/// searches with wasm SIMD in the worker: tokens, the longest strings here, take a few
/// nanoseconds.
fn plain_len(s: &[u8]) -> usize {
    memchr::memchr2(b'"', b'\\', s).unwrap_or(s.len())
}

/// Sets a field that must appear at most once (`serde` refuses a repeated field).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Skips spaces, the only whitespace left (see [`read`]).
    fn skip_ws(&mut self) {
        while self.bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        if self.peek()? != byte {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    /// `literal` (`null`, `true`, `false`) if it comes next.
    fn literal(&mut self, literal: &str) -> bool {
        self.skip_ws();
        let end = self.pos + literal.len();
        let found = self
            .bytes()
            .get(self.pos..end)
            .is_some_and(|next| word(next) == word(literal.as_bytes()));
        if found {
            self.pos = end;
        }
        found
    }

    /// A key of at most 8 bytes without escapes, as a [`word`]: every key of a collect body and
    /// its events is one (a longer one is not, and ends the fast path).
    fn key(&mut self) -> Option<u64> {
        self.eat(b'"')?;
        let rest = &self.bytes()[self.pos..];
        let mut w = 0u64;
        for i in 0..=8 {
            match *rest.get(i)? {
                b'"' => {
                    self.pos += i + 1;
                    return Some(w);
                }
                b'\\' => return None,
                b if i < 8 => w |= u64::from(b) << (8 * i),
                _ => return None,
            }
        }
        None
    }

    /// A string without escapes, borrowed from the body.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        let len = plain_len(&self.bytes()[start..]);
        if self.bytes().get(start + len) != Some(&b'"') {
            return None;
        }
        self.pos = start + len + 1;
        // Both ends are at a `"`, so on character boundaries.
        self.text.get(start..start + len)
    }

    /// A string, or `null` for none.
    fn optional_text(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.literal("null") {
            return Some(None);
        }
        Some(Some(Cow::Borrowed(self.string()?)))
    }

    /// A non-negative number of at most 15 digits without an exponent, computed as `serde_json`
    /// computes it (an integer, or the digits divided by a power of ten, both exact).
    fn number(&mut self) -> Option<f64> {
        self.skip_ws();
        let bytes = self.bytes();
        let mut i = self.pos;
        let mut digits = 0u64;
        let mut count = 0;
        let mut decimals = 0;
        let mut point = false;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'0'..=b'9' => {
                    count += 1;
                    if count > MAX_DIGITS {
                        return None;
                    }
                    digits = digits * 10 + u64::from(b - b'0');
                    decimals += usize::from(point);
                }
                b'.' if !point && count > 0 => point = true,
                _ => break,
            }
            i += 1;
        }
        let leading_zero = bytes.get(self.pos) == Some(&b'0')
            && bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit);
        if count == 0 || (point && decimals == 0) || leading_zero {
            return None;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            return None;
        }
        self.pos = i;
        // An integer needs no division (dividing by 1 would give the same number).
        Some(if decimals == 0 {
            digits as f64
        } else {
            digits as f64 / POW10[decimals]
        })
    }

    /// Calls `field` with each key of an object, the parser placed at its value; `key` reads
    /// the keys.
    fn members<K>(
        &mut self,
        key: impl Fn(&mut Parser<'a>) -> Option<K>,
        mut field: impl FnMut(&mut Parser<'a>, K) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_ws();
            let k = key(self)?;
            self.eat(b':')?;
            field(self, k)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object of known keys, each given to `field` as a [`word`].
    fn fields(&mut self, field: impl FnMut(&mut Parser<'a>, u64) -> Option<()>) -> Option<()> {
        self.members(Parser::key, field)
    }

    fn request(&mut self) -> Option<CollectRequest<'a>> {
        let mut site = None;
        let mut profile = None;
        let mut events = None;
        self.fields(|p, key| match key {
            SITE => once(&mut site, p.string()?),
            PROFILE => once(&mut profile, p.optional_text()?),
            EVENTS => once(&mut events, p.events()?),
            _ => None,
        })?;
        Some(CollectRequest {
            site: Cow::Borrowed(site?),
            profile: profile.flatten(),
            events: events.unwrap_or_default(),
        })
    }

    fn events(&mut self) -> Option<Vec<Event<'a>>> {
        self.eat(b'[')?;
        let mut events = Vec::new();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(events);
        }
        loop {
            events.push(self.event()?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(events);
                }
                _ => return None,
            }
        }
    }

    fn event(&mut self) -> Option<Event<'a>> {
        let mut kind = None;
        let mut url = None;
        let mut referrer = None;
        let mut title = None;
        let mut seconds = None;
        let mut scroll = None;
        let mut target = None;
        let mut name = None;
        let mut props = None;
        self.fields(|p, key| match key {
            TYPE => once(
                &mut kind,
                match p.string()?.as_bytes() {
                    b"pageview" => Kind::Pageview,
                    b"engagement" => Kind::Engagement,
                    b"click" => Kind::Click,
                    b"event" => Kind::Event,
                    _ => return None,
                },
            ),
            URL => once(&mut url, p.optional_text()?),
            REFERRER => once(&mut referrer, p.optional_text()?),
            TITLE => once(&mut title, p.optional_text()?),
            TARGET => once(&mut target, p.optional_text()?),
            NAME => once(&mut name, p.optional_text()?),
            SECONDS => once(&mut seconds, p.optional_number()?),
            SCROLL => once(&mut scroll, p.optional_number()?),
            PROPS => once(&mut props, p.optional_props()?),
            _ => None,
        })?;
        Event::try_from(RawEvent {
            kind: kind?,
            url: url.flatten(),
            referrer: referrer.flatten(),
            title: title.flatten(),
            seconds: seconds.flatten(),
            scroll: scroll.flatten(),
            target: target.flatten(),
            name: name.flatten(),
            props: props.flatten(),
            // `identify` events, the only ones with these fields, are left to `serde_json`:
            // their type ends the fast path above.
            email: None,
            traits: None,
        })
        .ok()
    }

    fn optional_number(&mut self) -> Option<Option<f64>> {
        if self.literal("null") {
            return Some(None);
        }
        Some(Some(self.number()?))
    }

    fn optional_props(&mut self) -> Option<Option<BTreeMap<String, PropValue>>> {
        if self.literal("null") {
            return Some(None);
        }
        let mut props = BTreeMap::new();
        self.members(Parser::string, |p, key| {
            let value = match p.peek()? {
                b'"' => PropValue::Text(p.string()?.to_owned()),
                b't' if p.literal("true") => PropValue::Bool(true),
                b'f' if p.literal("false") => PropValue::Bool(false),
                _ => PropValue::Number(p.number()?),
            };
            // A map, not a struct: a repeated key replaces the earlier value, as in `serde`.
            props.insert(key.to_owned(), value);
            Some(())
        })?;
        Some(Some(props))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What `serde_json` reads from `body`, for comparison.
    fn by_serde(body: &str) -> Option<CollectRequest<'_>> {
        serde_json::from_str(body).ok()
    }

    #[test]
    fn reads_the_snippets_bodies() {
        let body = concat!(
            r#"{"site":"demo","profile":"AQFjZ_x-1","events":["#,
            r#"{"type":"pageview","url":"https://acme.test/pricing?utm_source=x","referrer":"https://www.google.com/","title":"Pricing — Acme"},"#,
            r#"{"type":"engagement","url":"https://acme.test/pricing","seconds":12.5,"scroll":80},"#,
            r#"{"type":"click","url":"https://acme.test/pricing","target":"plan-pro"},"#,
            r#"{"type":"event","name":"demo_request","props":{"plan":"pro","seats":5,"trial":true,"ratio":0.25}}]}"#,
        );
        let fast = read(body).expect("the fast path reads the snippet's bodies");
        assert_eq!(Some(&fast), by_serde(body).as_ref());
        assert_eq!(fast.events.len(), 4);
        for body in [
            r#"{"site":"demo","profile":null,"events":[]}"#,
            r#" { "site" : "demo" } "#,
            r#"{"events":[{"type":"pageview","url":"/","referrer":null,"title":null}],"site":"d"}"#,
            r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":0,"scroll":100.0}]}"#,
        ] {
            let fast = read(body).unwrap_or_else(|| panic!("not read: {body}"));
            assert_eq!(Some(fast), by_serde(body), "{body}");
        }
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for body in [
            // Whitespace other than spaces (`JSON.stringify` writes none), escapes, exponents,
            // signs, leading zeros, repeated and unknown keys.
            "{\"site\":\"demo\",\n\"events\":[]}",
            "{\"site\":\t\"demo\"}",
            r#"{"site":"demo","events":[{"type":"pageview","url":"/","unknownkey":1}]}"#,
            r#"{"site":"de\u006do","events":[]}"#,
            r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":1e2}]}"#,
            r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":-1}]}"#,
            r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":012}]}"#,
            r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":1.}]}"#,
            r#"{"site":"demo","site":"demo"}"#,
            r#"{"site":"demo","events":[{"type":"click","target":"a","target":"b"}]}"#,
            r#"{"site":"demo","extra":1}"#,
            // Not what serde accepts either.
            r#"{"site":"demo","events":[{"type":"pageview"}]}"#,
            r#"{"site":"demo","events":[{"type":"sale","url":"/"}]}"#,
            r#"{"site":"demo","events":null}"#,
            r#"{"site":"demo"} x"#,
            r#"{"site":"demo",}"#,
            "{\"site\":\"de\nmo\"}",
            r#"{"site":"demo","events":[{"type":"event","name":"n","props":{"a":null}}]}"#,
            r#"{"site":"demo","events":[{"type":"event","name":"n","props":{"a":[1]}}]}"#,
            r#"{"site":"demo","events":[{"type":"engagement","url":"/","seconds":1234567890123456}]}"#,
            r#"["demo",null,[]]"#,
            // Identify events, which only `serde_json` reads.
            r#"{"site":"demo","events":[{"type":"identify","email":"jane@acme.com"}]}"#,
        ] {
            assert_eq!(read(body), None, "{body}");
        }
    }

    /// Pieces of collect bodies, right and wrong, for the property test.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z/:.?=&_-]{0,12}".prop_map(|s| format!("\"{s}\"")),
            "[ -~é\u{1F600}\\\\\"\n\t]{0,6}".prop_map(|s| format!("{s:?}")),
            Just("\"\\u0041\"".to_owned()),
            prop_oneof![
                Just("0"),
                Just("12"),
                Just("12.5"),
                Just("0.125"),
                Just("-3"),
                Just("1e3"),
                Just("01"),
                Just("1."),
                Just(".5"),
                Just("100.000"),
                Just("999999999999999"),
                Just("9999999999999999"),
                Just("0.1234567890123456"),
                Just("null"),
                Just("true"),
                Just("false"),
                Just("[]"),
                Just("{}"),
                Just("nul"),
            ]
            .prop_map(str::to_owned),
            (0u64..10_000_000, 0u32..6).prop_map(|(n, d)| {
                let s = n.to_string();
                let d = (d as usize).min(s.len().saturating_sub(1));
                if d == 0 {
                    s
                } else {
                    format!("{}.{}", &s[..s.len() - d], &s[s.len() - d..])
                }
            }),
        ]
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "type", "url", "referrer", "title", "seconds", "scroll", "target", "name", "props",
            "email", "traits", "other",
        ])
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", "", " ", "\n\t", "\r\n "])
    }

    fn event() -> impl Strategy<Value = String> {
        let kind = prop::sample::select(vec![
            "pageview",
            "engagement",
            "click",
            "event",
            "identify",
            "x",
        ]);
        let props = prop::collection::vec(("[a-z]{1,3}", value()), 0..3).prop_map(|kv| {
            let inner: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", inner.join(","))
        });
        let field = (key(), value(), props, ws()).prop_map(|(k, v, props, w)| {
            let v = if k == "props" || k == "traits" {
                props
            } else {
                v
            };
            format!("{w}\"{k}\"{w}:{w}{v}")
        });
        (kind, prop::collection::vec(field, 0..5), any::<bool>()).prop_map(
            |(kind, fields, typed)| {
                let mut all = fields;
                if typed {
                    all.insert(0, format!("\"type\":\"{kind}\""));
                }
                format!("{{{}}}", all.join(","))
            },
        )
    }

    fn body() -> impl Strategy<Value = String> {
        let site = prop_oneof![Just("\"demo\"".to_owned()), value()];
        let profile = prop_oneof![
            Just("null".to_owned()),
            "[A-Za-z0-9_-]{0,40}".prop_map(|t| format!("\"{t}\"")),
            value()
        ];
        let events =
            prop::collection::vec(event(), 0..4).prop_map(|e| format!("[{}]", e.join(",")));
        (
            site,
            profile,
            events,
            prop::sample::subsequence(vec![0, 1, 2], 0..=3),
            ws(),
            ws(),
        )
            .prop_map(|(site, profile, events, order, w1, w2)| {
                let parts = [
                    format!("\"site\":{site}"),
                    format!("\"profile\":{profile}"),
                    format!("\"events\":{events}"),
                ];
                let picked: Vec<&str> = order.iter().map(|&i| parts[i].as_str()).collect();
                format!("{w1}{{{}}}{w2}", picked.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Whatever the fast path reads, `serde_json` reads the same; what it does not read, it
        /// leaves to `serde_json`.
        #[test]
        fn reads_what_serde_reads(body in body(), cut in any::<prop::sample::Index>(), drop in any::<bool>()) {
            let mut bodies = vec![body.clone()];
            if drop && !body.is_empty() {
                // A byte taken out anywhere (at a character boundary): mostly broken JSON.
                let at = cut.index(body.len());
                if body.is_char_boundary(at) {
                    let mut broken = body.clone();
                    broken.remove(at);
                    bodies.push(broken);
                }
            }
            for b in &bodies {
                if let Some(fast) = read(b) {
                    prop_assert_eq!(Some(fast), by_serde(b), "{}", b);
                }
            }
        }
    }
}
