//! Streaming personalisation of HTML pages with `lol_html`.
//!
//! A page is rewritten chunk by chunk as it arrives from the origin (or the static assets):
//! every element carrying `data-intent-slot="NAME"` whose slot has a variant for the visitor's
//! tier gets that variant's content, and the loader script tag is injected before `</body>`
//! when the page does not already load it. Nothing is buffered beyond what the HTML tokenizer
//! needs, so the first bytes reach the browser as soon as the origin sends them and the visitor
//! never sees the default content flash before the tier's content.
//!
//! This module knows nothing of HTTP or of the Workers runtime, so it is tested natively.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use encoding_rs::Encoding;
use intent_engine::Variant;
use intent_policy::slot;
use lol_html::html_content::ContentType;
use lol_html::{element, end, AsciiCompatibleEncoding, EndTagHandler, HtmlRewriter, Settings};

/// The attribute that marks a swappable element, as the site developer writes it.
pub const SLOT_ATTRIBUTE: &str = "data-intent-slot";

/// Set on a slot element the worker filled, so the snippet leaves it alone.
pub const FILLED_ATTRIBUTE: &str = "data-intent-filled";

/// Set on `<html>`: the visitor's tier, for the snippet and for the site's own CSS.
pub const TIER_ATTRIBUTE: &str = "data-intent-tier";

/// Set on `<html>` beside the tier when the visitor is in any segment: their names,
/// space-separated (as the snippet sets it, so `[data-intent-segments~="enterprise"]` works).
pub const SEGMENTS_ATTRIBUTE: &str = "data-intent-segments";

/// What to do to one page: the slot contents for the visitor's tier, and the extras.
#[derive(Debug, Clone, Default)]
pub struct PagePlan {
    /// Slot name to the engine's variant for the visitor's tier. A slot absent here keeps the
    /// page's own content.
    pub slots: BTreeMap<String, Variant>,
    /// The visitor's tier, written on `<html>` when given.
    pub tier: Option<String>,
    /// The visitor's segments, space-separated, written on `<html>` beside the tier when not
    /// empty.
    pub segments: String,
    /// The loader tag to add before `</body>` when the page does not load `intent.js` itself.
    pub loader_tag: Option<String>,
    /// The site requires consent: the page's own loader tag gets `data-consent="required"`
    /// when it does not say otherwise, so that the snippet waits for consent as the edge does.
    pub consent_required: bool,
    /// The page's charset as its `Content-Type` declares it; `None` reads it from
    /// `<meta charset>` (or `http-equiv`) in the head, else UTF-8.
    pub charset: Option<PageCharset>,
}

/// A charset the rewriter can read and write: one in which ASCII is ASCII (UTF-8, the
/// ISO-8859 and Windows code pages, Shift_JIS, …). Inserted text the charset cannot write
/// becomes character references (`&#8364;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCharset(&'static Encoding);

impl PageCharset {
    /// The charset's name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

/// What a page's bytes are, as far as rewriting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// Declared (header or byte order mark) and rewritable.
    Declared(PageCharset),
    /// Not declared where the worker looks first: the page's `<meta>` decides, else UTF-8.
    Undeclared,
    /// An encoding in which ASCII is not ASCII (UTF-16): the page is passed through byte for
    /// byte, with nothing recorded and no loader tag.
    Unrewritable,
}

/// The charset of a page, from its byte order mark (which wins, as browsers read it), then
/// the `charset` parameter of its `Content-Type`. An unknown label counts as undeclared.
pub fn page_charset(content_type: Option<&str>, first_bytes: &[u8]) -> Charset {
    if let Some((encoding, _)) = Encoding::for_bom(first_bytes) {
        return charset_of(encoding);
    }
    let label = content_type.and_then(|ct| {
        ct.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches(['"', '\'']))
        })
    });
    match label.and_then(|l| Encoding::for_label(l.as_bytes())) {
        Some(encoding) => charset_of(encoding),
        None => Charset::Undeclared,
    }
}

fn charset_of(encoding: &'static Encoding) -> Charset {
    match AsciiCompatibleEncoding::new(encoding) {
        Some(_) => Charset::Declared(PageCharset(encoding)),
        None => Charset::Unrewritable,
    }
}

/// The attribute on the loader tag that makes the snippet wait for consent.
pub const CONSENT_ATTRIBUTE: &str = "data-consent";

/// The loader tag the worker injects, pointing at its own origin; with
/// `data-consent="required"` when the site requires consent.
pub fn loader_tag(site: &str, consent_required: bool) -> String {
    let consent = if consent_required {
        r#" data-consent="required""#
    } else {
        ""
    };
    format!(
        r#"<script defer src="/intent.js" data-site="{}"{consent}></script>"#,
        escape_attribute(site)
    )
}

fn escape_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// An attribute value for `lol_html`'s `set_attribute`, which escapes only `"`: `&` is escaped
/// here so the browser reads the value as written. Otherwise an entity would be decoded, and
/// `&#106;avascript:` (which the engine's link check sees as harmless text) would become a
/// `javascript:` link.
fn literal_attribute(value: &str) -> String {
    value.replace('&', "&amp;")
}

/// True when a `<script src>` value loads the Intent Edge loader. Paths are compared without
/// regard to case (`/INTENT.JS`): a server that serves the loader under another case serves it
/// all the same, and a page loading it twice would track twice.
fn is_loader_src(src: &str) -> bool {
    let path = src.split(['?', '#']).next().unwrap_or(src).trim();
    let path = path.as_bytes();
    let name = b"intent.js";
    path.len() >= name.len()
        && path[path.len() - name.len()..].eq_ignore_ascii_case(name)
        && (path.len() == name.len() || path[path.len() - name.len() - 1] == b'/')
}

/// Where the loader tag goes, written at `</body>` while the rest of the page may still load
/// the loader itself (a tag after `</body>`, which browsers still run): the output from here
/// on is held until the page ends, then the marker becomes the tag or nothing. Only what
/// follows `</body>` is held, usually a few bytes (`</html>`).
const LOADER_MARKER: &[u8] = b"<!--intent-edge-loader-tag-->";

/// The most held after `</body>` before the loader tag is written anyway.
const MAX_HELD_AFTER_BODY: usize = 64 * 1024;

type Sink = Box<dyn FnMut(&[u8])>;
/// The head scanner's output, which nobody reads.
type Discard = fn(&[u8]);

/// Rewrites one HTML document fed in chunks. Output comes back from each call, so a caller
/// can forward it at once.
///
/// If the HTML cannot be rewritten (a rewriting error in the middle of the stream), the rest
/// of the document is passed through untouched: the visitor gets the default content, never
/// a broken page.
pub struct SlotRewriter {
    rewriter: Option<HtmlRewriter<'static, Sink>>,
    output: Rc<RefCell<Vec<u8>>>,
    failed: Option<String>,
    /// The loader tag waiting at its marker, once `</body>` was passed without one.
    loader: Option<PendingLoader>,
}

/// The loader tag written at `</body>` as a marker, and whether the page loaded it since.
struct PendingLoader {
    tag: String,
    /// Once the marker is written: the offset in the output buffer it comes at or after.
    /// Only there is it looked for, since the page itself may contain the marker's text
    /// before `</body>` (in an attribute value, a script's string or a comment of its own):
    /// taken for the marker, the tag would land inside it.
    marked: Rc<Cell<Option<usize>>>,
    seen: Rc<Cell<bool>>,
}

impl SlotRewriter {
    /// Prepares a rewriter for one document.
    pub fn new(plan: PagePlan) -> Self {
        let output = Rc::new(RefCell::new(Vec::new()));
        let sink_output = Rc::clone(&output);
        let sink: Sink = Box::new(move |chunk: &[u8]| {
            sink_output.borrow_mut().extend_from_slice(chunk);
        });

        let plan = Rc::new(plan);
        let loader_seen = Rc::new(Cell::new(false));
        let loader_added = Rc::new(Cell::new(false));
        let loader_marked = Rc::new(Cell::new(None));

        let mut element_handlers = Vec::new();

        if let Some(tier) = plan.tier.clone() {
            let segments = plan.segments.clone();
            element_handlers.push(element!("html", move |el| {
                // An invalid name cannot happen for these constants; nothing to do if it did.
                let _ = el.set_attribute(TIER_ATTRIBUTE, &tier);
                if !segments.is_empty() {
                    let _ = el.set_attribute(SEGMENTS_ATTRIBUTE, &segments);
                }
                Ok(())
            }));
        }

        // What a slot accepts is `intent_policy::slot`'s, the snippet's too: the name as
        // written, nothing inside `<template>`, content only where content goes, `href` only
        // on links, and the mark only where something changed.
        let in_template = Rc::new(Cell::new(0usize));
        let depth = Rc::clone(&in_template);
        element_handlers.push(element!("template", move |el| {
            depth.set(depth.get() + 1);
            let depth = Rc::clone(&depth);
            let leave: EndTagHandler<'static> = Box::new(move |_| {
                depth.set(depth.get().saturating_sub(1));
                Ok(())
            });
            let _ = el.on_end_tag(leave);
            Ok(())
        }));
        let slot_plan = Rc::clone(&plan);
        element_handlers.push(element!("[data-intent-slot]", move |el| {
            if in_template.get() > 0 {
                return Ok(());
            }
            let Some(name) = el.get_attribute(SLOT_ATTRIBUTE) else {
                return Ok(());
            };
            let Some(content) = slot_plan.slots.get(name.as_str()) else {
                return Ok(());
            };
            let tag = el.tag_name();
            let mut changed = false;
            if slot::takes_content(&tag) && el.can_have_content() {
                if let Some(html) = &content.html {
                    el.set_inner_content(html, ContentType::Html);
                    changed = true;
                } else if let Some(text) = &content.text {
                    el.set_inner_content(text, ContentType::Text);
                    changed = true;
                }
            }
            if let Some(href) = content.href.as_ref().filter(|_| slot::takes_href(&tag)) {
                changed |= el.set_attribute("href", &literal_attribute(href)).is_ok();
            }
            for (key, value) in &content.attrs {
                // Invalid attribute names come from the rules author; skip them.
                changed |= el.set_attribute(key, &literal_attribute(value)).is_ok();
            }
            if changed {
                let _ = el.set_attribute(FILLED_ATTRIBUTE, "");
            }
            Ok(())
        }));

        let mut document_handlers = Vec::new();
        if let Some(tag) = plan.loader_tag.clone() {
            let seen = Rc::clone(&loader_seen);
            let consent_required = plan.consent_required;
            element_handlers.push(element!("script[src]", move |el| {
                if el
                    .get_attribute("src")
                    .is_some_and(|src| is_loader_src(&src))
                {
                    seen.set(true);
                    if consent_required && !el.has_attribute(CONSENT_ATTRIBUTE) {
                        let _ = el.set_attribute(CONSENT_ATTRIBUTE, "required");
                    }
                }
                Ok(())
            }));

            let seen = Rc::clone(&loader_seen);
            let added = Rc::clone(&loader_added);
            let marked = Rc::clone(&loader_marked);
            let emitted = Rc::clone(&output);
            element_handlers.push(element!("body", move |el| {
                let seen = Rc::clone(&seen);
                let added = Rc::clone(&added);
                let marked = Rc::clone(&marked);
                let emitted = Rc::clone(&emitted);
                // A `<body>` without an end tag in the source has no handler to attach; the
                // document-end handler below covers that case.
                let handler: EndTagHandler<'static> = Box::new(move |end| {
                    if !seen.get() && !added.get() {
                        // The marker, not the tag: the page may still load the loader after
                        // `</body>`. `SlotRewriter` turns it into the tag or nothing.
                        let marker = String::from_utf8_lossy(LOADER_MARKER);
                        end.before(&marker, ContentType::Html);
                        added.set(true);
                        // Everything emitted so far comes before the marker.
                        marked.set(Some(emitted.borrow().len()));
                    }
                    Ok(())
                });
                let _ = el.on_end_tag(handler);
                Ok(())
            }));

            let seen = Rc::clone(&loader_seen);
            let added = Rc::clone(&loader_added);
            document_handlers.push(end!(move |end| {
                if !seen.get() && !added.get() {
                    end.append(&tag, ContentType::Html);
                    added.set(true);
                }
                Ok(())
            }));
        }

        let encoding = plan
            .charset
            .and_then(|c| AsciiCompatibleEncoding::new(c.0))
            .unwrap_or_else(AsciiCompatibleEncoding::utf_8);
        let settings = Settings {
            element_content_handlers: element_handlers,
            document_content_handlers: document_handlers,
            // Non-strict: on the rare ambiguous markup the parser keeps going instead of
            // failing the page; a slot in such markup at worst keeps its default content.
            strict: false,
            // What the page is written in: inserted text is encoded for it. A charset the
            // header declares wins over the page's `<meta>`, as in a browser.
            encoding,
            adjust_charset_on_meta_tag: plan.charset.is_none(),
            ..Settings::new()
        };

        let loader = plan.loader_tag.clone().map(|tag| PendingLoader {
            tag,
            marked: loader_marked,
            seen: loader_seen,
        });
        Self {
            rewriter: Some(HtmlRewriter::new(settings, sink)),
            output,
            failed: None,
            loader,
        }
    }

    /// Feeds the next chunk of the document; returns the output that is ready.
    pub fn write(&mut self, chunk: &[u8]) -> Vec<u8> {
        if let Some(rewriter) = self.rewriter.as_mut() {
            if let Err(err) = rewriter.write(chunk) {
                self.failed = Some(err.to_string());
                self.rewriter = None;
                // The failing chunk was partly consumed; what the rewriter already produced is
                // returned and the rest of the stream passes through unchanged.
                self.resolve_loader();
                let mut out = self.take_output();
                out.extend_from_slice(chunk);
                return out;
            }
            self.take_output()
        } else {
            chunk.to_vec()
        }
    }

    /// Ends the document; returns the last output (for example the injected loader tag).
    pub fn finish(mut self) -> Vec<u8> {
        if let Some(rewriter) = self.rewriter.take() {
            if let Err(err) = rewriter.end() {
                self.failed = Some(err.to_string());
            }
        }
        self.resolve_loader();
        self.take_output()
    }

    /// Why rewriting stopped, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// The output ready to send: all of it, except from the loader's marker on while the
    /// page may still load the loader itself.
    fn take_output(&mut self) -> Vec<u8> {
        let mut output = self.output.borrow_mut();
        let Some((loader, from)) = self
            .loader
            .as_ref()
            .and_then(|l| l.marked.get().map(|from| (l, from)))
        else {
            return std::mem::take(&mut *output);
        };
        let Some(at) = find(&output, LOADER_MARKER, from) else {
            // Not written out yet: hold everything until it is.
            return Vec::new();
        };
        if output.len() - at > MAX_HELD_AFTER_BODY {
            // Far more after `</body>` than a page has: write the tag now.
            let tag = if loader.seen.get() { "" } else { &loader.tag };
            splice(&mut output, at, tag.as_bytes());
            self.loader = None;
            return std::mem::take(&mut *output);
        }
        let rest = output.split_off(at);
        // What is held now starts with the marker.
        loader.marked.set(Some(0));
        std::mem::replace(&mut *output, rest)
    }

    /// At the end of the page: the marker becomes the loader tag, or nothing when the page
    /// loaded the loader after `</body>`.
    fn resolve_loader(&mut self) {
        let Some((loader, from)) = self
            .loader
            .take()
            .and_then(|l| l.marked.get().map(|from| (l, from)))
        else {
            return;
        };
        let mut output = self.output.borrow_mut();
        if let Some(at) = find(&output, LOADER_MARKER, from) {
            let tag = if loader.seen.get() { "" } else { &loader.tag };
            splice(&mut output, at, tag.as_bytes());
        }
    }
}

/// The first position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| from + at)
}

/// Replaces the loader marker at `at` with `with`.
fn splice(output: &mut Vec<u8>, at: usize, with: &[u8]) {
    output.splice(at..at + LOADER_MARKER.len(), with.iter().copied());
}

/// The most of a page read ahead, looking for its opt-out, before the worker decides to record
/// the view anyway. A page's `<head>` is almost always far shorter.
pub const HEAD_LOOKAHEAD_BYTES: usize = 64 * 1024;

/// What the start of a page says about tracking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadVerdict {
    /// The page opts out: `<meta name="intent-edge" content="off">` before `<body>`.
    OptedOut,
    /// `<body>` began (or the look-ahead ran out) without an opt-out.
    Tracked,
    /// Not known yet: read more.
    Undecided,
}

/// Reads the start of a page, as the snippet would see it, for the page's opt-out
/// (`<meta name="intent-edge" content="off">`, the same selector the snippet uses). Proxy mode
/// records a page view before the page reaches the browser, so it reads ahead to `<body>`
/// first; the chunks read are then rewritten and sent as usual.
pub struct HeadScan {
    rewriter: Option<HtmlRewriter<'static, Discard>>,
    verdict: Rc<Cell<HeadVerdict>>,
    read: usize,
}

impl Default for HeadScan {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadScan {
    /// Starts reading a page.
    pub fn new() -> Self {
        let verdict = Rc::new(Cell::new(HeadVerdict::Undecided));
        let on_meta = Rc::clone(&verdict);
        let on_body = Rc::clone(&verdict);
        let settings = Settings {
            element_content_handlers: vec![
                element!(r#"meta[name="intent-edge"][content="off"]"#, move |_| {
                    if on_meta.get() == HeadVerdict::Undecided {
                        on_meta.set(HeadVerdict::OptedOut);
                    }
                    Ok(())
                }),
                element!("body", move |_| {
                    if on_body.get() == HeadVerdict::Undecided {
                        on_body.set(HeadVerdict::Tracked);
                    }
                    Ok(())
                }),
            ],
            strict: false,
            ..Settings::new()
        };
        let discard: Discard = |_| {};
        Self {
            rewriter: Some(HtmlRewriter::new(settings, discard)),
            verdict,
            read: 0,
        }
    }

    /// Reads the next chunk; the verdict so far.
    pub fn feed(&mut self, chunk: &[u8]) -> HeadVerdict {
        self.read += chunk.len();
        if let Some(rewriter) = self.rewriter.as_mut() {
            if rewriter.write(chunk).is_err() {
                // Markup the parser gives up on: decided as the rewriter will treat it.
                self.rewriter = None;
                self.verdict.set(HeadVerdict::Tracked);
            }
        }
        if self.verdict.get() == HeadVerdict::Undecided && self.read >= HEAD_LOOKAHEAD_BYTES {
            self.verdict.set(HeadVerdict::Tracked);
        }
        self.verdict.get()
    }

    /// The page ended: whether it opted out.
    pub fn finish(self) -> HeadVerdict {
        match self.verdict.get() {
            HeadVerdict::Undecided => HeadVerdict::Tracked,
            decided => decided,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites a whole document at once.
    fn rewrite_document(html: &str, plan: PagePlan) -> String {
        let mut rewriter = SlotRewriter::new(plan);
        let mut out = rewriter.write(html.as_bytes());
        out.extend(rewriter.finish());
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Slot variants as a rules config writes them.
    fn slots(variants: serde_json::Value) -> BTreeMap<String, Variant> {
        serde_json::from_value(variants).unwrap()
    }

    /// The verdict on `html` fed in chunks of `size` bytes (0: all at once), and the chunks
    /// read before it was known.
    fn scan(html: &str, size: usize) -> (HeadVerdict, usize) {
        let bytes = html.as_bytes();
        let size = if size == 0 { bytes.len().max(1) } else { size };
        let mut scan = HeadScan::new();
        for (i, chunk) in bytes.chunks(size).enumerate() {
            let v = scan.feed(chunk);
            if v != HeadVerdict::Undecided {
                return (v, i + 1);
            }
        }
        (scan.finish(), bytes.len().div_ceil(size))
    }

    #[test]
    fn head_scan_finds_the_opt_out_however_the_page_is_cut() {
        let off = r#"<!doctype html><html><head><title>Private</title><meta name="intent-edge" content="off"></head><body><p>x</p></body></html>"#;
        let on = r#"<!doctype html><html><head><title>Public</title><meta name="description" content="off"></head><body><p>x</p></body></html>"#;
        for size in 0..=off.len() {
            assert_eq!(scan(off, size).0, HeadVerdict::OptedOut, "chunks of {size}");
            assert_eq!(scan(on, size).0, HeadVerdict::Tracked, "chunks of {size}");
        }
        // Decided at `<body>`, without reading the rest of the page.
        let long = format!("{on}{}", "<p>more</p>".repeat(10_000));
        let (verdict, chunks) = scan(&long, 64);
        assert_eq!(verdict, HeadVerdict::Tracked);
        assert!(chunks * 64 < 200, "{chunks} chunks read");
    }

    #[test]
    fn head_scan_reads_as_the_snippet_does() {
        let page =
            |head: &str, body: &str| format!("<html><head>{head}</head><body>{body}</body></html>");
        let cases = [
            (
                page(r#"<meta content="off" name="intent-edge">"#, ""),
                HeadVerdict::OptedOut,
            ),
            (
                page("<META NAME=intent-edge CONTENT=off>", ""),
                HeadVerdict::OptedOut,
            ),
            (
                page(r#"<meta name="intent-edge" content="on">"#, ""),
                HeadVerdict::Tracked,
            ),
            (
                page(r#"<meta name="intent-edge">"#, ""),
                HeadVerdict::Tracked,
            ),
            // After `<body>` the view is already recorded: the opt-out belongs in the head.
            (
                page("", r#"<meta name="intent-edge" content="off">"#),
                HeadVerdict::Tracked,
            ),
            // No `<body>` tag at all: read to the end.
            (
                r#"<meta name="intent-edge" content="off"><p>x"#.to_owned(),
                HeadVerdict::OptedOut,
            ),
            ("<p>no head, no body".to_owned(), HeadVerdict::Tracked),
        ];
        for (html, want) in cases {
            assert_eq!(scan(&html, 0).0, want, "{html}");
        }
        // A head longer than the look-ahead: tracked, rather than holding the page back.
        let huge = format!(
            "<html><head><title>{}</title>",
            "x".repeat(HEAD_LOOKAHEAD_BYTES)
        );
        assert_eq!(scan(&huge, 4096).0, HeadVerdict::Tracked);
    }

    const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><title>Pricing</title></head>
<body>
<div data-intent-slot="hero"><h1>Forecast revenue</h1><p>Default pitch.</p></div>
<a data-intent-slot="cta" href="/signup">Start free</a>
<div data-intent-slot="pricing-nudge"></div>
<div data-intent-slot="unknown">Stays</div>
</body></html>
"#;

    fn ready_plan() -> PagePlan {
        let variants = serde_json::json!({
            "hero": {"html": "<h1>Ready when you are</h1><p>Book a demo today.</p>"},
            "cta": {"text": "Book a demo", "href": "/book-a-demo", "attrs": {"data-variant": "ready"}},
            "pricing-nudge": {"html": "<strong>Talk to sales</strong>"}
        });
        PagePlan {
            slots: slots(variants),
            tier: Some("ready".into()),
            segments: String::new(),
            loader_tag: Some(loader_tag("demo", false)),
            consent_required: false,
            charset: None,
        }
    }

    #[test]
    fn attribute_values_are_written_as_they_read() {
        let variants = serde_json::json!({
            "cta": {"href": "&#106;avascript:alert(1)", "attrs": {"title": "Q&A \"now\""}}
        });
        let plan = PagePlan {
            slots: slots(variants),
            ..PagePlan::default()
        };
        let out = rewrite_document(PAGE, plan);
        // The browser decodes `&amp;#106;` to the text `&#106;`, never to a `j`.
        assert!(
            out.contains(r#"href="&amp;#106;avascript:alert(1)""#),
            "{out}"
        );
        assert!(out.contains(r#"title="Q&amp;A &quot;now&quot;""#), "{out}");
    }

    #[test]
    fn fills_slots_for_the_tier() {
        let out = rewrite_document(PAGE, ready_plan());
        assert!(out.contains(
            r#"<div data-intent-slot="hero" data-intent-filled=""><h1>Ready when you are</h1><p>Book a demo today.</p></div>"#
        ), "{out}");
        assert!(out.contains(
            r#"<a data-intent-slot="cta" href="/book-a-demo" data-variant="ready" data-intent-filled="">Book a demo</a>"#
        ), "{out}");
        assert!(
            out.contains(r#"<div data-intent-slot="unknown">Stays</div>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<html lang="en" data-intent-tier="ready">"#),
            "{out}"
        );
    }

    /// Issue 20, item 6: proxy mode exposed segments neither as an attribute nor a header.
    #[test]
    fn issue_20_6_html_gets_the_segments_beside_the_tier() {
        let plan = PagePlan {
            segments: "enterprise returning".into(),
            ..ready_plan()
        };
        let out = rewrite_document(PAGE, plan);
        assert!(
            out.contains(r#"<html lang="en" data-intent-tier="ready" data-intent-segments="enterprise returning">"#),
            "{out}"
        );
        // None: no attribute, as the snippet removes it when there are none.
        let out = rewrite_document(PAGE, ready_plan());
        assert!(!out.contains("data-intent-segments"), "{out}");
    }

    /// Issue 20, item 7: a page in ISO-8859-1 got its variant as UTF-8 bytes
    /// (`PrÃ©visions â 5 â¬`), and a UTF-16 page got a UTF-8 loader tag appended.
    #[test]
    fn issue_20_7_variants_are_written_in_the_pages_charset() {
        fn rewrite_bytes(page: &[u8], plan: PagePlan, size: usize) -> Vec<u8> {
            let mut rewriter = SlotRewriter::new(plan);
            let mut out = Vec::new();
            for chunk in page.chunks(size) {
                out.extend(rewriter.write(chunk));
            }
            out.extend(rewriter.finish());
            out
        }
        let variants = serde_json::json!({
            "hero": {"html": "<h1>Prévisions — 5 € → Łódź</h1>"},
            "cta": {"text": "Réservez", "attrs": {"title": "Déjà"}}
        });
        let plan = |charset| PagePlan {
            slots: slots(variants.clone()),
            tier: Some("ready".into()),
            charset,
            ..PagePlan::default()
        };
        let latin1 = match page_charset(Some("text/html; charset=ISO-8859-1"), b"<") {
            Charset::Declared(c) => c,
            other => panic!("{other:?}"),
        };
        // The page's own text is Latin-1 too (`é` is 0xE9) and passes through as it is.
        let page = b"<html><head></head><body><p>D\xe9j\xe0 vu</p>\
            <div data-intent-slot=\"hero\">x</div><a data-intent-slot=\"cta\">y</a></body></html>";
        for size in [1, 7, page.len()] {
            let out = rewrite_bytes(page, plan(Some(latin1)), size);
            let want_hero: &[u8] = b"<h1>Pr\xe9visions \x97 5 \x80 &#8594; &#321;\xf3d&#378;</h1>";
            assert!(
                out.windows(want_hero.len()).any(|w| w == want_hero),
                "{}",
                String::from_utf8_lossy(&out)
            );
            let want_cta: &[u8] = b"title=\"D\xe9j\xe0\" data-intent-filled=\"\">R\xe9servez</a>";
            assert!(
                out.windows(want_cta.len()).any(|w| w == want_cta),
                "{}",
                String::from_utf8_lossy(&out)
            );
            assert!(out.windows(11).any(|w| w == b"D\xe9j\xe0 vu</p>"));
        }

        // No charset in the header: `<meta charset>` in the head decides.
        let page = b"<html><head><meta charset=\"iso-8859-2\"></head><body>\
            <div data-intent-slot=\"hero\">x</div></body></html>";
        let out = rewrite_bytes(page, plan(None), 5);
        let want: &[u8] = b"\xa3\xf3d\xbc</h1>";
        assert!(
            out.windows(want.len()).any(|w| w == want),
            "{}",
            String::from_utf8_lossy(&out)
        );

        // Which charset, and what cannot be rewritten.
        assert_eq!(
            page_charset(Some("text/html"), b"<!doctype html>"),
            Charset::Undeclared
        );
        assert_eq!(
            page_charset(Some("text/html; charset=bogus"), b"<"),
            Charset::Undeclared
        );
        assert_eq!(
            page_charset(Some("text/html; charset=\"utf-8\""), b"<"),
            page_charset(None, b"\xef\xbb\xbf<")
        );
        assert_eq!(
            page_charset(Some("text/html; charset=utf-16"), b"<\0"),
            Charset::Unrewritable
        );
        assert_eq!(
            page_charset(Some("text/html"), b"\xff\xfe<\0"),
            Charset::Unrewritable
        );
        assert_eq!(
            page_charset(Some("text/html; charset=utf-16be"), b"\0<"),
            Charset::Unrewritable
        );
        // A byte order mark wins over the header, as in a browser.
        assert_eq!(
            page_charset(Some("text/html; charset=iso-8859-1"), b"\xef\xbb\xbf<html>"),
            page_charset(Some("text/html; charset=utf-8"), b"<")
        );
    }

    /// Issue 20, item 9: proxy mode trimmed slot names, filled slots inside `<template>`,
    /// marked void elements filled though no `html` applied, and gave `<img>` an `href`. The
    /// shared vectors of `intent_policy::slot` (the snippet runs them in a browser).
    #[test]
    fn issue_20_9_slots_accept_what_the_shared_definition_says() {
        let variant: Variant = serde_json::from_str(slot::VARIANT_JSON).unwrap();
        for case in slot::CASES {
            let plan = PagePlan {
                slots: BTreeMap::from([("s".to_owned(), variant.clone())]),
                ..PagePlan::default()
            };
            let page = format!("<html><body>{}</body></html>", case.page);
            let out = rewrite_document(&page, plan);
            assert_eq!(out.matches(FILLED_ATTRIBUTE).count(), case.filled, "{out}");
            let plain = out.replace(" data-intent-filled=\"\"", "");
            for after in case.after {
                assert!(plain.contains(after), "{}: {plain}", case.page);
            }
            if case.page.contains("<template>") {
                assert!(plain.contains(r#"<template><div data-intent-slot="s">d</div></template>"#));
            }
        }
    }

    #[test]
    fn text_variants_are_escaped() {
        let plan = PagePlan {
            slots: slots(serde_json::json!({"cta": {"text": "<b>&</b>"}})),
            ..PagePlan::default()
        };
        let out = rewrite_document(r#"<a data-intent-slot="cta">x</a>"#, plan);
        assert_eq!(
            out,
            r#"<a data-intent-slot="cta" data-intent-filled="">&lt;b&gt;&amp;&lt;/b&gt;</a>"#
        );
    }

    #[test]
    fn injects_the_loader_only_when_missing() {
        let out = rewrite_document(PAGE, ready_plan());
        assert!(
            out.contains("<script defer src=\"/intent.js\" data-site=\"demo\"></script></body>"),
            "{out}"
        );

        let with_loader = PAGE.replace(
            "</head>",
            r#"<script defer src="https://edge.test/intent.js?v=1" data-site="demo"></script></head>"#,
        );
        let out = rewrite_document(&with_loader, ready_plan());
        assert_eq!(out.matches("intent.js").count(), 1, "{out}");
    }

    #[test]
    fn a_site_requiring_consent_says_so_on_every_loader_tag() {
        let plan = || PagePlan {
            loader_tag: Some(loader_tag("demo", true)),
            consent_required: true,
            ..PagePlan::default()
        };
        let out = rewrite_document(PAGE, plan());
        assert!(
            out.contains(r#"<script defer src="/intent.js" data-site="demo" data-consent="required"></script></body>"#),
            "{out}"
        );
        // The page's own tag is marked, unless it already says something itself.
        let own = PAGE.replace(
            "</head>",
            r#"<script defer src="/intent.js" data-site="demo"></script></head>"#,
        );
        let out = rewrite_document(&own, plan());
        assert_eq!(out.matches("data-consent=\"required\"").count(), 1, "{out}");
        let says = PAGE.replace(
            "</head>",
            r#"<script defer src="/intent.js" data-consent="required" data-consent-from="tcf"></script></head>"#,
        );
        let out = rewrite_document(&says, plan());
        assert_eq!(out.matches("data-consent=").count(), 1, "{out}");
    }

    /// Issue 20, item 8: the loader tag was injected a second time when the page's own tag came
    /// after `</body>`, or named the loader in another case (`/INTENT.JS`).
    #[test]
    fn issue_20_8_the_loader_tag_is_never_injected_twice() {
        let own = r#"<script defer src="/intent.js" data-site="demo"></script>"#;
        let after_body = PAGE.replace("</body></html>", &format!("</body>{own}</html>"));
        let upper = PAGE.replace(
            "</head>",
            r#"<script defer src="/INTENT.JS" data-site="demo"></script></head>"#,
        );
        let after_html = PAGE.replace("</body></html>", &format!("</body></html>{own}"));
        for page in [after_body, upper, after_html] {
            let whole = rewrite_document(&page, ready_plan());
            assert_eq!(
                whole.to_ascii_lowercase().matches("intent.js").count(),
                1,
                "{whole}"
            );
            assert!(!whole.contains("intent-edge-loader-tag"), "{whole}");
            for size in [1, 5, 17, 64] {
                let mut rewriter = SlotRewriter::new(ready_plan());
                let mut out = Vec::new();
                for chunk in page.as_bytes().chunks(size) {
                    out.extend(rewriter.write(chunk));
                }
                out.extend(rewriter.finish());
                assert_eq!(String::from_utf8_lossy(&out), whole, "chunk size {size}");
            }
        }
        // Without a tag of its own the page still gets one, before `</body>`, and everything
        // up to `</body>` streams as it comes.
        let out = rewrite_document(PAGE, ready_plan());
        assert!(
            out.contains(&format!("{}</body>", loader_tag("demo", false))),
            "{out}"
        );
        let mut rewriter = SlotRewriter::new(ready_plan());
        let first = rewriter.write(PAGE.as_bytes());
        assert!(String::from_utf8_lossy(&first).contains("Stays</div>"));
        assert!(is_loader_src("/INTENT.JS"));
        assert!(is_loader_src("https://edge.test/Intent.js?v=2"));
        assert!(!is_loader_src("/xintent.js"));
    }

    /// Issue 20, item 8, a page of its own making: the tag is held at `</body>` behind a
    /// marker, and a page whose text held the marker before `</body>` (an attribute value, a
    /// script's string, a comment) had the tag written there instead when both came in one
    /// chunk, breaking out of the attribute or the string and loading no loader.
    #[test]
    fn issue_20_8_a_page_holding_the_markers_text_keeps_it_and_gets_the_tag_at_body_end() {
        let marker = String::from_utf8_lossy(LOADER_MARKER).into_owned();
        let tag = loader_tag("demo", false);
        let plan = || PagePlan {
            loader_tag: Some(tag.clone()),
            ..PagePlan::default()
        };
        for own in [
            format!(r#"<div title="{marker}">x</div>"#),
            format!("<script>var m = '{marker}';</script>"),
            marker.clone(),
        ] {
            let page = format!("<html><body>{own}</body></html>");
            let want = format!("<html><body>{own}{tag}</body></html>");
            for size in [1, 3, 16, page.len()] {
                let mut rewriter = SlotRewriter::new(plan());
                let mut out = Vec::new();
                for chunk in page.as_bytes().chunks(size) {
                    out.extend(rewriter.write(chunk));
                }
                out.extend(rewriter.finish());
                assert_eq!(String::from_utf8_lossy(&out), want, "chunk size {size}");
            }
        }
        // Its own marker text after `</body>` is left as it is, and so is a loader tag in
        // capitals there.
        let after = format!("<html><body><p>x</p></body>{marker}</html>");
        assert_eq!(
            rewrite_document(&after, plan()),
            format!("<html><body><p>x</p>{tag}</body>{marker}</html>")
        );
        let capitals = r#"<HTML><BODY><p>x</p></BODY><SCRIPT SRC="/Intent.JS"></SCRIPT></HTML>"#;
        assert_eq!(rewrite_document(capitals, plan()), capitals);
    }

    #[test]
    fn injects_the_loader_at_the_end_without_a_body_end_tag() {
        let out = rewrite_document("<p>hello", ready_plan());
        assert!(out.ends_with(&loader_tag("demo", false)), "{out}");
    }

    #[test]
    fn an_empty_plan_changes_nothing() {
        assert_eq!(rewrite_document(PAGE, PagePlan::default()), PAGE);
    }

    #[test]
    fn bad_attribute_names_are_skipped() {
        let variants = serde_json::json!({
            "cta": {"attrs": {"bad name": "x", "title": "ok"}}
        });
        let plan = PagePlan {
            slots: slots(variants),
            ..PagePlan::default()
        };
        let out = rewrite_document(PAGE, plan);
        assert!(out.contains(r#"<a data-intent-slot="cta" href="/signup" title="ok" data-intent-filled="">Start free</a>"#), "{out}");
    }

    /// The origin's chunk boundaries fall anywhere, including inside tags and attribute
    /// values; the output must not depend on them.
    #[test]
    fn output_does_not_depend_on_chunk_boundaries() {
        let expected = rewrite_document(PAGE, ready_plan());
        let bytes = PAGE.as_bytes();
        for size in 1..=bytes.len().min(64) {
            let mut rewriter = SlotRewriter::new(ready_plan());
            let mut out = Vec::new();
            for chunk in bytes.chunks(size) {
                out.extend(rewriter.write(chunk));
            }
            out.extend(rewriter.finish());
            assert_eq!(String::from_utf8_lossy(&out), expected, "chunk size {size}");
        }
    }

    #[test]
    fn output_is_streamed_before_the_document_ends() {
        let mut rewriter = SlotRewriter::new(ready_plan());
        let first =
            rewriter.write(b"<html><head><title>t</title></head><body><p>first paragraph</p>");
        assert!(String::from_utf8_lossy(&first).contains("first paragraph"));
    }

    #[test]
    fn loader_src_detection() {
        assert!(is_loader_src("/intent.js"));
        assert!(is_loader_src("https://edge.example/intent.js?x=1"));
        assert!(is_loader_src("intent.js"));
        assert!(!is_loader_src("/not-intent.json"));
        assert!(!is_loader_src("/myintent.js"));
    }

    fn demo_pages(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("the demo site {} is unreadable: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                demo_pages(&path, out);
            } else if path.extension().is_some_and(|e| e == "html") {
                out.push(path);
            }
        }
    }

    /// Every page of the demo site (www/): each slot gets its variant whatever the chunking,
    /// the rest of the page is untouched, and the page keeps exactly one loader tag.
    #[test]
    fn demo_site_pages() {
        let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
        let mut pages = Vec::new();
        demo_pages(&www, &mut pages);
        // The demo site has a dozen pages: fewer means this test lost its data.
        assert!(
            pages.len() >= 10,
            "only {} pages under {}",
            pages.len(),
            www.display()
        );
        for page in pages {
            let html = std::fs::read_to_string(&page).unwrap();
            let slots: usize = ["hero", "cta", "pricing-nudge"]
                .iter()
                .map(|name| {
                    html.matches(&format!("data-intent-slot=\"{name}\""))
                        .count()
                })
                .sum();
            let out = rewrite_document(&html, ready_plan());
            assert_eq!(
                out.matches("data-intent-filled").count(),
                slots,
                "{}",
                page.display()
            );
            assert_eq!(
                out.matches("intent.js").count(),
                html.matches("intent.js").count().max(1),
                "{}",
                page.display()
            );
            assert_eq!(
                rewrite_document(&html, PagePlan::default()),
                html,
                "{}",
                page.display()
            );
            for size in [1, 7, 64, 1000] {
                let mut rewriter = SlotRewriter::new(ready_plan());
                let mut chunked = Vec::new();
                for chunk in html.as_bytes().chunks(size) {
                    chunked.extend(rewriter.write(chunk));
                }
                chunked.extend(rewriter.finish());
                assert_eq!(
                    String::from_utf8_lossy(&chunked),
                    out,
                    "{} in chunks of {size}",
                    page.display()
                );
            }
        }
    }
}
