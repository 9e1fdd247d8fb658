//! The names of the headers the worker reads and writes, and answers as data.
//!
//! Every `X-Intent-*` header is named here once; the CORS expose list is derived from the same
//! list, so a new response header is readable by the snippet on another origin as soon as it
//! is added to the `intent_response_headers!` invocation below.

/// Declares the `X-Intent-*` response headers and [`EXPOSED`], their names joined for
/// `Access-Control-Expose-Headers`.
macro_rules! intent_response_headers {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)+) => {
        $( $(#[$doc])* pub const $name: &str = $value; )+
        /// The `X-Intent-*` response headers, for `Access-Control-Expose-Headers`: a script on
        /// an allowed origin may read every one of them.
        pub const EXPOSED: &str = intent_response_headers!(@join $($value),+);
        /// The `X-Intent-*` response headers, one name each.
        pub const INTENT_RESPONSE_HEADERS: &[&str] = &[$($value),+];
    };
    (@join $first:literal $(, $rest:literal)*) => { concat!($first $(, ", ", $rest)*) };
}

intent_response_headers! {
    /// The active rules' id (`name@fingerprint`).
    X_INTENT_RULES = "x-intent-rules";
    /// Where the active rules came from: `kv`, `last-good` or `builtin`.
    X_INTENT_RULES_SOURCE = "x-intent-rules-source";
    /// The visitor's tier.
    X_INTENT_TIER = "x-intent-tier";
    /// The visitor's segments, comma-separated, when they are in any.
    X_INTENT_SEGMENTS = "x-intent-segments";
    /// Why nothing was recorded (`off; gpc`, `off; dnt`, `off; bot`, `off; page`,
    /// `off; consent-denied`, `off; no-consent`).
    X_INTENT_TRACKING = "x-intent-tracking";
    /// Why the token sent was discarded (`expired`, `bad-signature`, …).
    X_INTENT_FRESH = "x-intent-fresh";
}

/// Request header carrying the token on `/v1/decide` when the snippet keeps it (cross-origin
/// mode).
pub const X_INTENT_PROFILE: &str = "x-intent-profile";

/// Request headers a browser on an allowed origin may send (`Access-Control-Allow-Headers`).
pub const ALLOWED_REQUEST_HEADERS: &str = "content-type, x-intent-profile, authorization";

/// The standard headers the worker reads or writes.
pub mod std_names {
    /// `Accept`.
    pub const ACCEPT: &str = "accept";
    /// `Authorization`.
    pub const AUTHORIZATION: &str = "authorization";
    /// `Cache-Control`.
    pub const CACHE_CONTROL: &str = "cache-control";
    /// `Content-Encoding`.
    pub const CONTENT_ENCODING: &str = "content-encoding";
    /// `Content-Length`.
    pub const CONTENT_LENGTH: &str = "content-length";
    /// `Content-Type`.
    pub const CONTENT_TYPE: &str = "content-type";
    /// `Cookie`.
    pub const COOKIE: &str = "cookie";
    /// `DNT`.
    pub const DNT: &str = "dnt";
    /// `Origin`.
    pub const ORIGIN: &str = "origin";
    /// `Purpose` (older browsers' prefetch marker).
    pub const PURPOSE: &str = "purpose";
    /// `Referer`.
    pub const REFERER: &str = "referer";
    /// `Sec-Fetch-Site` (`same-origin` for a call from a page of the worker's own origin).
    pub const SEC_FETCH_SITE: &str = "sec-fetch-site";
    /// `Sec-Fetch-Dest`.
    pub const SEC_FETCH_DEST: &str = "sec-fetch-dest";
    /// `Sec-GPC`.
    pub const SEC_GPC: &str = "sec-gpc";
    /// `Sec-Purpose` (prefetch, prerender).
    pub const SEC_PURPOSE: &str = "sec-purpose";
    /// `Set-Cookie`.
    pub const SET_COOKIE: &str = "set-cookie";
    /// `User-Agent`.
    pub const USER_AGENT: &str = "user-agent";
    /// `Vary`.
    pub const VARY: &str = "vary";
    /// `WWW-Authenticate`.
    pub const WWW_AUTHENTICATE: &str = "www-authenticate";
    /// `Allow`.
    pub const ALLOW: &str = "allow";
}

/// An answer the worker wrote itself, as data: status, headers in order (a name may repeat,
/// as `Set-Cookie` and `Vary` do), and the body. The runtime turns it into a `Response` in one
/// construction ([`Answer::head`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// `application/json; charset=utf-8`, the content type of every JSON answer.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl Answer {
    /// A JSON answer that no cache keeps.
    pub fn json(status: u16, body: String) -> Answer {
        Answer {
            status,
            headers: vec![
                (std_names::CONTENT_TYPE, JSON_CONTENT_TYPE.to_owned()),
                (std_names::CACHE_CONTROL, "no-store".to_owned()),
            ],
            body: body.into_bytes(),
        }
    }

    /// Adds a header (after those already there, even one of the same name).
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds headers.
    pub fn with_all(mut self, headers: impl IntoIterator<Item = (&'static str, String)>) -> Answer {
        self.headers.extend(headers);
        self
    }

    /// The status and the headers as one text, for the runtime to build the response from in
    /// one step (`respond` in `worker/js/http.js`): the status, then each header's name and
    /// value, one per line. `None` when a name or value holds a line break or a NUL, which no
    /// HTTP header may (the runtime would refuse the header).
    pub fn head(&self) -> Option<String> {
        let mut out = String::with_capacity(
            4 + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 2)
                .sum::<usize>(),
        );
        out.push_str(&self.status.to_string());
        for (name, value) in &self.headers {
            if [*name, value.as_str()]
                .iter()
                .any(|s| s.contains(['\n', '\r', '\0']))
            {
                return None;
            }
            out.push('\n');
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expose_list_is_every_intent_header() {
        assert_eq!(
            EXPOSED,
            "x-intent-rules, x-intent-rules-source, x-intent-tier, x-intent-segments, x-intent-tracking, x-intent-fresh"
        );
        assert_eq!(
            EXPOSED.split(", ").collect::<Vec<_>>(),
            INTENT_RESPONSE_HEADERS
        );
        assert!(ALLOWED_REQUEST_HEADERS.contains(X_INTENT_PROFILE));
    }

    #[test]
    fn head() {
        let a = Answer::json(200, "{}".into())
            .with(std_names::SET_COOKIE, "a=\"b\"; Path=/")
            .with(std_names::VARY, "Origin")
            .with(std_names::VARY, "Cookie");
        assert_eq!(
            a.head().as_deref(),
            Some(
                "200\ncontent-type\napplication/json; charset=utf-8\ncache-control\nno-store\n\
                 set-cookie\na=\"b\"; Path=/\nvary\nOrigin\nvary\nCookie"
            )
        );
        let bare = Answer {
            status: 204,
            headers: vec![],
            body: vec![],
        };
        assert_eq!(bare.head().as_deref(), Some("204"));
        for bad in ["a\nb", "a\rb", "a\0b"] {
            let a = Answer::json(200, "{}".into()).with(std_names::VARY, bad);
            assert_eq!(a.head(), None, "{bad:?}");
        }
    }
}
