//! What the worker reads of a request, as text the runtime answers in one call out of wasm
//! each: the head (`head` of `worker/js/http.js`: the method, the URL and the `Origin` header)
//! and the headers the API's handlers read (`sent`: [`SENT`], in order).
//!
//! Each call out of wasm costs the runtime several microseconds (a header read is two: the
//! headers object, then `get`), so the entry asks for the head once per request and a handler
//! for the headers it reads once, and both are carried across the read of the body (see
//! [`HeadAt::find`]): the parts are sliced from the text, no header becomes its own `String`.
//!
//! The text is one value a line. An absent header is [`ABSENT`], a NUL, which no header value
//! can hold: the runtime refuses NUL, CR and LF in header values (RFC 9110, section 5.5), and
//! the URL parser removes line breaks, so no line can hold a line break either.

use std::ops::Range;

use crate::headers::{std_names, X_INTENT_PROFILE};

/// A header that was not sent, in the runtime's text.
pub const ABSENT: &str = "\0";

/// Declares [`Sent`], one field per header, and [`SENT`], their names in the same order.
macro_rules! sent_headers {
    ($($(#[$doc:meta])* $field:ident = $name:expr;)+) => {
        /// The request headers the API's handlers read (`collect`, `decide`, and the proxied
        /// pages' privacy and cookie checks), sliced from the runtime's text: `None` when a
        /// header was not sent.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct Sent<'t> {
            $( $(#[$doc])* pub $field: Option<&'t str>, )+
        }

        /// The names of [`Sent`]'s headers, in the order of the runtime's text.
        ///
        /// Twin: `SENT` in `worker/js/http.js`, which reads these headers in this order (the
        /// test `the_js_list_is_this_list` holds the two to each other).
        pub const SENT: &[&str] = &[$($name),+];

        impl<'t> Sent<'t> {
            /// Slices the runtime's text: one line per name of [`SENT`], in order. `None` when
            /// the text has another number of lines (the two lists disagree).
            pub fn parse(text: &'t str) -> Option<Sent<'t>> {
                let mut lines = text.split('\n');
                // Fields are initialised in the order written: the order of `SENT`.
                let sent = Sent { $( $field: present(lines.next()?), )+ };
                lines.next().is_none().then_some(sent)
            }
        }
    };
}

sent_headers! {
    /// `Content-Type` (collect checks it).
    content_type = std_names::CONTENT_TYPE;
    /// `Content-Encoding` (collect refuses compressed bodies).
    content_encoding = std_names::CONTENT_ENCODING;
    /// `Content-Length` (collect reads a declared body in one call and refuses one too large).
    content_length = std_names::CONTENT_LENGTH;
    /// `Sec-GPC` (Global Privacy Control).
    sec_gpc = std_names::SEC_GPC;
    /// `DNT` (Do Not Track).
    dnt = std_names::DNT;
    /// `User-Agent` (crawlers are not tracked).
    user_agent = std_names::USER_AGENT;
    /// `Cookie` (the profile and consent cookies).
    cookie = std_names::COOKIE;
    /// `Sec-Fetch-Site` (a same-origin call keeps its profile in a cookie).
    sec_fetch_site = std_names::SEC_FETCH_SITE;
    /// `X-Intent-Profile` (the token `decide` is sent by a snippet on another host).
    x_intent_profile = X_INTENT_PROFILE;
}

/// A line of the runtime's text as a header's value.
fn present(line: &str) -> Option<&str> {
    (line != ABSENT).then_some(line)
}

/// Where the parts of a request's head lie in the runtime's text (`method\nurl\norigin`), and,
/// in a text carried across the body's read, the [`Sent`] text after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadAt {
    method: Range<usize>,
    url: Range<usize>,
    origin: Option<Range<usize>>,
    sent: Option<Range<usize>>,
}

impl HeadAt {
    /// Finds the parts of `text`: the head's three lines, then, if the text goes on, the
    /// [`Sent`] text (a head carried with the headers a handler read). `None` when the text has
    /// fewer than three lines.
    pub fn find(text: &str) -> Option<HeadAt> {
        let method_end = text.find('\n')?;
        let url_start = method_end + 1;
        let url_end = url_start + text.get(url_start..)?.find('\n')?;
        let origin_start = url_end + 1;
        let rest = text.get(origin_start..)?;
        let (origin_end, sent) = match rest.find('\n') {
            Some(at) => (origin_start + at, Some(origin_start + at + 1..text.len())),
            None => (text.len(), None),
        };
        let origin =
            (text.get(origin_start..origin_end)? != ABSENT).then_some(origin_start..origin_end);
        Some(HeadAt {
            method: 0..method_end,
            url: url_start..url_end,
            origin,
            sent,
        })
    }

    /// The request's method.
    pub fn method<'t>(&self, text: &'t str) -> &'t str {
        slice(text, &self.method)
    }

    /// The request's URL.
    pub fn url<'t>(&self, text: &'t str) -> &'t str {
        slice(text, &self.url)
    }

    /// The `Origin` header, if one was sent.
    pub fn origin<'t>(&self, text: &'t str) -> Option<&'t str> {
        self.origin.as_ref().map(|at| slice(text, at))
    }

    /// The [`Sent`] text carried after the head, if any.
    pub fn sent<'t>(&self, text: &'t str) -> Option<&'t str> {
        self.sent.as_ref().map(|at| slice(text, at))
    }
}

/// The part of `text` at `at` (empty if `at` is not in it, which [`HeadAt::find`] rules out).
fn slice<'t>(text: &'t str, at: &Range<usize>) -> &'t str {
    text.get(at.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_without_origin() {
        let text = "POST\nhttp://127.0.0.1:8787/v1/collect?x=1\n\0";
        let at = HeadAt::find(text).expect("three lines");
        assert_eq!(at.method(text), "POST");
        assert_eq!(at.url(text), "http://127.0.0.1:8787/v1/collect?x=1");
        assert_eq!(at.origin(text), None);
        assert_eq!(at.sent(text), None);
    }

    #[test]
    fn a_head_with_origin_and_carried_headers() {
        let sent = "application/json\n\0\n42\n1\n\0\nMozilla/5.0\na=1; b=2\nsame-origin\n\0";
        let head = "GET\nhttps://edge.test/v1/decide\nhttps://acme.test";
        let text = format!("{head}\n{sent}");
        let at = HeadAt::find(&text).expect("head and headers");
        assert_eq!(at.method(&text), "GET");
        assert_eq!(at.url(&text), "https://edge.test/v1/decide");
        assert_eq!(at.origin(&text), Some("https://acme.test"));
        let carried = at.sent(&text).expect("carried");
        assert_eq!(carried, sent);
        let parsed = Sent::parse(carried).expect("nine lines");
        assert_eq!(
            parsed,
            Sent {
                content_type: Some("application/json"),
                content_encoding: None,
                content_length: Some("42"),
                sec_gpc: Some("1"),
                dnt: None,
                user_agent: Some("Mozilla/5.0"),
                cookie: Some("a=1; b=2"),
                sec_fetch_site: Some("same-origin"),
                x_intent_profile: None,
            }
        );
    }

    #[test]
    fn an_empty_origin_header_is_sent_not_absent() {
        let text = "GET\nhttp://h/\n";
        let at = HeadAt::find(text).expect("three lines");
        assert_eq!(at.origin(text), Some(""));
        let carried = format!("{text}\n{}", ["\0"; 9].join("\n"));
        let at = HeadAt::find(&carried).expect("carried");
        assert_eq!(at.origin(&carried), Some(""));
        assert_eq!(
            at.sent(&carried).and_then(Sent::parse),
            Some(Sent::default())
        );
    }

    #[test]
    fn texts_of_the_wrong_shape_are_refused() {
        assert_eq!(HeadAt::find(""), None);
        assert_eq!(HeadAt::find("GET"), None);
        assert_eq!(HeadAt::find("GET\nhttp://h/"), None);
        let eight = ["x"; 8].join("\n");
        let ten = ["x"; 10].join("\n");
        assert_eq!(Sent::parse(&eight), None);
        assert_eq!(Sent::parse(&ten), None);
        assert_eq!(Sent::parse(""), None);
        // Empty values are values: a header sent empty is not absent.
        let empty = [""; 9].join("\n");
        assert_eq!(Sent::parse(&empty).map(|s| s.cookie), Some(Some("")));
    }

    /// The list of `worker/js/http.js` (`const SENT = [...]`) is this one, in this order: a
    /// header added to one and not the other would be read as another's value.
    #[test]
    fn the_js_list_is_this_list() {
        let js = include_str!("../js/http.js");
        let start = js
            .find("const SENT = [")
            .expect("worker/js/http.js declares SENT");
        let list = &js[start + "const SENT = [".len()..];
        let list = &list[..list.find(']').expect("SENT's list ends")];
        let names: Vec<&str> = list
            .split(',')
            .map(|n| n.trim().trim_matches('\''))
            .filter(|n| !n.is_empty())
            .collect();
        assert_eq!(names, SENT);
    }
}
