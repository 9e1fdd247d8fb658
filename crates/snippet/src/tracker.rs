//! The tracker's state for the page, and its conversation with the edge.
//!
//! One tracker per page lives in a thread-local cell. Every entry point (event listeners, the
//! `intent()` function, timers, promise callbacks) reaches it through [`with`], which never
//! panics: a re-entrant call, which can only come from site code running inside one of ours,
//! is dropped instead.

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::config::Config;
use crate::dom::{
    append, attr, bind, bind_this, call, call1, call2, closest, get, get_at, is, length, log, now,
    object, push, set, Page,
};
use crate::engagement::Engagement;
use crate::event::{self, limits};
use crate::slots;

/// Where the visitor's token is kept between pages and visits (first-party `localStorage`).
pub(crate) const TOKEN_KEY: &str = "intent_profile";

/// The outbox: in snippet mode, the events a page was left with that the edge had not
/// acknowledged (a JSON array in `localStorage`). The next page view takes them, they go first
/// in its call, and that call's answer clears the outbox.
pub(crate) const OUTBOX_KEY: &str = "intent_outbox";

/// The outbox's bounds: events (leaving room in the next call, at most
/// [`limits::EVENTS_PER_CALL`], for that page's view and queued calls) and characters of JSON
/// (the site's own data shares `localStorage`). Past them the oldest events go.
const OUTBOX_EVENTS: u32 = 40;
const OUTBOX_CHARS: u32 = 8192;

thread_local! {
    static TRACKER: RefCell<Option<Tracker>> = const { RefCell::new(None) };
}

/// Runs `f` on the page's tracker; `None` if there is none or it is busy.
pub(crate) fn with<R>(f: impl FnOnce(&mut Tracker) -> R) -> Option<R> {
    // try_with and try_borrow_mut: neither can panic (a panic would throw into the page).
    TRACKER
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut tracker) => tracker.as_mut().map(f),
            Err(_) => None,
        })
        .ok()
        .flatten()
}

/// Something for the tracker to handle. Every entry point sends one through [`handle`], so
/// that the tracker is borrowed in one place only.
pub(crate) enum Msg {
    /// A browser event the tracker listens to.
    Browser(JsValue),
    /// What the edge answered (or why the request failed).
    Answer(JsValue),
    /// The once-a-second heartbeat.
    Heartbeat,
    /// `history.pushState` or `replaceState` was called.
    Navigated,
    /// `intent('event', name, props)`.
    Custom(JsValue, JsValue),
    /// `intent('tier', callback)`.
    OnTier(JsValue),
    /// The first page view, and the queued calls, are recorded: send them.
    Started,
}

/// Hands `msg` to the page's tracker, then calls the site's tier callbacks that are due.
pub(crate) fn handle(msg: Msg) {
    if let Some(Some(call)) = with(|t| t.handle(msg)) {
        call.run();
    }
}

/// Whether this page already has a tracker (the tag was included twice, or `start` called twice).
pub(crate) fn is_started() -> bool {
    TRACKER
        .try_with(|cell| cell.try_borrow().map_or(true, |t| t.is_some()))
        .unwrap_or(true)
}

pub(crate) fn install(tracker: Tracker) {
    let _ = TRACKER.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = Some(tracker);
        }
    });
}

/// The ways the browser calls into the tracker. Each is the one closure of [`entry`] with
/// its kind bound as the first argument.
#[derive(Clone, Copy)]
pub(crate) enum Entry {
    /// A listened-to browser event, `(event)`.
    Browser,
    /// An answer of the edge, or why the request failed, `(answer)`.
    Answer,
    /// `intent(command, a, b)`.
    Intent,
    /// `history.pushState` or `replaceState` was called.
    Navigated,
    /// The once-a-second heartbeat.
    Heartbeat,
}

thread_local! {
    // NOTE: one closure for every entry point, told apart by a bound argument. Each closure
    // of its own costs a wasm shim and glue per signature and per body; with one, the
    // listeners, `intent()`, the history wrapper, the heartbeat and the fetch callbacks share
    // them. It lives as long as the page.
    static DISPATCH: JsValue =
        Closure::<dyn FnMut(JsValue, JsValue, JsValue, JsValue)>::new(dispatch).into_js_value();
}

/// A JS function through which the browser calls into the tracker as `kind`.
pub(crate) fn entry(kind: Entry) -> JsValue {
    DISPATCH
        .try_with(|f| bind(f, &JsValue::NULL, &(kind as u32).into()))
        .unwrap_or_default()
}

fn dispatch(kind: JsValue, a: JsValue, b: JsValue, c: JsValue) {
    const BROWSER: u32 = Entry::Browser as u32;
    const ANSWER: u32 = Entry::Answer as u32;
    const INTENT: u32 = Entry::Intent as u32;
    const NAVIGATED: u32 = Entry::Navigated as u32;
    handle(match kind.as_f64().unwrap_or(-1.0) as u32 {
        BROWSER => Msg::Browser(a),
        ANSWER => Msg::Answer(a),
        INTENT => crate::api::command(a, b, c),
        NAVIGATED => Msg::Navigated,
        _ => Msg::Heartbeat,
    });
}

/// Site callbacks registered with `intent('tier', fn)`, due to be called with the tier.
/// They run after the tracker is released, so they may call `intent()` themselves.
pub(crate) struct TierCall {
    /// An array of functions.
    callbacks: JsValue,
    tier: JsValue,
    segments: JsValue,
    debug: bool,
}

impl TierCall {
    pub(crate) fn run(self) {
        for i in 0..length(&self.callbacks) {
            let f = get_at(&self.callbacks, i);
            if let Err(e) = call(&f, "call", &JsValue::NULL, &self.tier, &self.segments) {
                log(self.debug, "intent: tier callback threw", &e);
            }
        }
    }
}

pub(crate) struct Tracker {
    pub(crate) config: Config,
    pub(crate) page: Page,
    /// The visitor's token (a string), or `null` before the first answer.
    token: JsValue,
    /// Events not yet sent (an array).
    pending: JsValue,
    /// The events of the request in flight (an array); `true` once they were moved to the
    /// outbox (its answer is then ignored); `undefined` when none is.
    in_flight: JsValue,
    /// The outbox as this page took it, while its events are pending or in flight: the answer
    /// that acknowledges them clears it.
    outbox_taken: JsValue,
    /// Something waits for the next heartbeat to be sent.
    flush_scheduled: bool,
    /// Set on `pagehide`: from then on, nothing waits for an answer.
    unloading: bool,
    /// Proxy mode: the worker served this page, and the token is its cookie.
    proxied: bool,
    /// The URL of the current page view; `undefined` before the first one.
    url: JsValue,
    engagement: Engagement,
    /// The tier of the last answer; `undefined` before the first one.
    tier: JsValue,
    segments: JsValue,
    /// The variants of the last answer, for slots parsed after it arrived.
    variants: JsValue,
    /// Functions registered with `intent('tier', fn)` (an array).
    tier_callbacks: JsValue,
    /// `r => r.json()`, for the fetch promise.
    read_json: JsValue,
    on_answer: JsValue,
}

impl Tracker {
    pub(crate) fn new(page: Page, config: Config) -> Tracker {
        let token = Some(page.store("getItem", TOKEN_KEY, &JsValue::UNDEFINED))
            .filter(JsValue::is_string)
            .unwrap_or(JsValue::NULL);
        // Function.prototype.call.bind(Response.prototype.json): no closure needed.
        let json = get(&get(&get(&page.window, "Response"), "prototype"), "json");
        let read_json = bind_this(&get(&json, "call"), &json);
        Tracker {
            token,
            config,
            pending: Array::new().into(),
            in_flight: JsValue::UNDEFINED,
            outbox_taken: JsValue::UNDEFINED,
            flush_scheduled: false,
            unloading: false,
            proxied: false,
            url: JsValue::UNDEFINED,
            engagement: Engagement::default(),
            tier: JsValue::UNDEFINED,
            segments: JsValue::UNDEFINED,
            variants: JsValue::UNDEFINED,
            tier_callbacks: Array::new().into(),
            page,
            read_json,
            // Failures come here too: `answered` tells them apart (they have no tier).
            on_answer: entry(Entry::Answer),
        }
    }

    fn handle(&mut self, msg: Msg) -> Option<TierCall> {
        match msg {
            Msg::Browser(event) => self.on_event(&event),
            Msg::Answer(answer) => return self.answered(&answer),
            Msg::Heartbeat => self.heartbeat(),
            Msg::Navigated => self.navigated(),
            Msg::Custom(name, props) => match crate::api::custom_event(&self.page, &name, &props) {
                // Sent at once (a custom event such as `demo_request` may change the tier,
                // and the page may be left right after it); while a request is in flight, it
                // goes with the next one.
                Some(event) => {
                    self.record(event);
                    self.flush();
                }
                // An event without a name, or an unknown command (`name` is then undefined
                // and `props` holds the command).
                None => log(
                    self.config.debug,
                    "intent: ignored call",
                    if name.is_undefined() { &props } else { &name },
                ),
            },
            Msg::OnTier(callback) => return self.on_tier(callback),
            Msg::Started => self.flush(),
        }
        None
    }

    fn hidden(&self) -> bool {
        get(&self.page.document, "hidden").is_truthy()
    }

    pub(crate) fn record(&mut self, event: JsValue) {
        // One request carries at most this many; past it (the edge unreachable for long),
        // new events are dropped.
        if length(&self.pending) < limits::EVENTS_PER_CALL {
            push(&self.pending, &event);
        }
    }

    /// Records a page view if the URL changed since the last one, after reporting the
    /// engagement of the page view it ends. Returns whether it recorded one.
    pub(crate) fn pageview(&mut self) -> bool {
        let url = get(&self.page.location, "href");
        if url == self.url {
            return false;
        }
        self.report_engagement();
        let doc = &self.page.document;
        let first = self.url.is_undefined();
        if first {
            // A new page (or one back from the back/forward cache): what the last one left in
            // the outbox goes first.
            self.outbox_taken = self.outbox();
            append(&self.pending, &self.page.parse(&self.outbox_taken));
        }
        let referrer = if first {
            get(doc, "referrer")
        } else {
            self.url.clone()
        };
        // In proxy mode the worker served this page: it recorded the view, filled the slots
        // and put the tier on <html> before any answer of ours could. That view is not
        // recorded twice; later (single-page, back/forward cache) views are the snippet's.
        let served = attr(&get(doc, "documentElement"), "data-intent-tier");
        if first && self.tier.is_undefined() && served.is_string() {
            self.proxied = true;
            self.tier = served;
            self.segments = Array::new().into();
        } else {
            self.record(event::pageview(&url, &referrer, &get(doc, "title")));
        }
        self.engagement = Engagement::new(now(), !self.hidden());
        self.url = url;
        self.measure_scroll();
        true
    }

    /// After `pushState`, `replaceState` or `popstate`: a new page view if the URL changed.
    pub(crate) fn navigated(&mut self) {
        if self.pageview() {
            self.flush();
        }
    }

    pub(crate) fn report_engagement(&mut self) {
        if self.url.is_undefined() {
            return;
        }
        let visible = !self.hidden();
        if let Some((seconds, scroll)) = self.engagement.report(now(), visible) {
            let event = event::engagement(&self.url, seconds, scroll);
            self.record(event);
        }
    }

    /// Every second: reads the clock for engagement, and sends what clicks left pending (and
    /// what waited behind a failed request), so that clicks close together travel together.
    pub(crate) fn heartbeat(&mut self) {
        let visible = !self.hidden();
        self.engagement.tick(now(), visible);
        if self.flush_scheduled {
            self.flush_scheduled = false;
            self.flush();
        }
    }

    /// Every listened-to browser event comes here, by its `type`.
    pub(crate) fn on_event(&mut self, event: &JsValue) {
        // Compared in the browser: copying the type into wasm would cost an allocation for
        // every scroll event.
        let kind = get(event, "type");
        let kind = |name| is(&kind, name);
        if kind("click") {
            self.clicked(event);
        } else if kind("scroll") {
            self.measure_scroll();
        } else if kind("visibilitychange") {
            if self.hidden() {
                // The page may never come back (mobile browsers discard hidden tabs): report now.
                self.report_engagement();
                self.flush();
            } else {
                self.engagement.tick(now(), true);
            }
        } else if kind("pagehide") {
            self.unloading = true;
            self.report_engagement();
            self.flush();
        } else if kind("pageshow") {
            // Back from the back/forward cache: a new view of the same page.
            if get(event, "persisted").is_truthy() {
                self.unloading = false;
                self.url = JsValue::UNDEFINED;
                self.navigated();
            }
        } else if kind("popstate") {
            self.navigated();
        } else if kind("DOMContentLoaded") {
            // A tag without `defer` can start the snippet before the page is parsed: slots
            // that arrive later get the last answer's variants.
            slots::apply(&self.page, &self.variants);
        }
    }

    pub(crate) fn measure_scroll(&mut self) {
        let w = &self.page.window;
        let number = |obj: &JsValue, key| get(obj, key).as_f64().unwrap_or(0.0);
        let seen = number(w, "scrollY") + number(w, "innerHeight");
        let height = number(&get(&self.page.document, "documentElement"), "scrollHeight");
        let percent = if height > 0.0 {
            seen * 100.0 / height
        } else {
            100.0
        };
        self.engagement.scrolled(percent as u32);
    }

    /// A click anywhere: recorded if it is on a `data-intent-track` element (named by the
    /// attribute, or by its id when the attribute is empty) or on a link to another site.
    fn clicked(&mut self, event: &JsValue) {
        let target = get(event, "target");
        let name = if let Some(el) = closest(&target, "[data-intent-track]") {
            let name = attr(&el, "data-intent-track");
            if length(&name) > 0 {
                name
            } else {
                get(&el, "id")
            }
        } else if let Some(link) = closest(&target, "a[href]") {
            // A link to another origin, over http(s) (not mailto:, tel:, javascript:).
            let protocol = get(&link, "protocol");
            let web = is(&protocol, "https:") || is(&protocol, "http:");
            let outbound = web && get(&link, "origin") != get(&self.page.location, "origin");
            if outbound {
                get(&link, "href")
            } else {
                JsValue::UNDEFINED
            }
        } else {
            JsValue::UNDEFINED
        };
        if name.is_string() && length(&name) > 0 {
            let event = event::click(&self.url, &name);
            self.record(event);
            self.flush_scheduled = true;
        }
    }

    /// Sends what is pending. One request at a time: each answer carries the token the next
    /// request must send, so a second request in flight would fold its events into a stale
    /// profile. While unloading, nothing waits: in proxy mode events leave by `sendBeacon`
    /// (the browser keeps the cookie its answer sets), in snippet mode they go to the outbox.
    pub(crate) fn flush(&mut self) {
        if self.unloading && !self.proxied {
            return self.keep();
        }
        if length(&self.pending) == 0 || (self.in_flight.is_truthy() && !self.unloading) {
            return;
        }
        let events = std::mem::replace(&mut self.pending, Array::new().into());
        let batch = object();
        set(&batch, "site", &self.config.site);
        set(&batch, "profile", &self.token);
        set(&batch, "events", &events);
        let body = self.page.stringify(&batch);
        let url = &self.config.collect_url;
        // A string body goes as `text/plain;charset=UTF-8`, a CORS-safelisted type:
        // cross-origin sends need no preflight.
        if self.unloading {
            if let Err(e) = call2(&self.page.navigator, "sendBeacon", url, &body) {
                log(self.config.debug, "intent: sendBeacon failed", &e);
            }
            return;
        }
        let init = object();
        set(&init, "method", &"POST".into());
        set(&init, "body", &body);
        // keepalive lets the request finish when the visitor leaves the page.
        set(&init, "keepalive", &JsValue::TRUE);
        // An error status's body is not an answer: `answered` ignores what has no tier.
        let sent = call2(&self.page.window, "fetch", url, &init)
            .and_then(|p| call1(&p, "then", &self.read_json))
            .and_then(|p| call2(&p, "then", &self.on_answer, &self.on_answer));
        match sent {
            Ok(_) => self.in_flight = events,
            Err(e) => {
                log(self.config.debug, "intent: fetch failed", &e);
                self.settle_outbox(false);
            }
        }
    }

    /// The outbox as stored (a string), or `null`.
    fn outbox(&self) -> JsValue {
        self.page.store("getItem", OUTBOX_KEY, &JsValue::UNDEFINED)
    }

    /// Snippet mode, the page being left: an answer would not be read, and the token it
    /// carries would be lost. So nothing is sent; what the edge has not acknowledged (the
    /// request in flight, what is pending, an outbox this page did not take) is kept in the
    /// outbox, bounded, oldest first out.
    fn keep(&mut self) {
        let outbox = self.outbox();
        let events: JsValue = Array::new().into();
        if outbox != self.outbox_taken {
            append(&events, &self.page.parse(&outbox));
        }
        append(&events, &self.in_flight);
        append(
            &events,
            &std::mem::replace(&mut self.pending, Array::new().into()),
        );
        if self.in_flight.is_truthy() {
            // Its answer, if it still comes, is ignored.
            self.in_flight = JsValue::TRUE;
        }
        if length(&events) == 0 {
            return;
        }
        loop {
            let json = self.page.stringify(&events);
            if length(&events) <= OUTBOX_EVENTS && length(&json) <= OUTBOX_CHARS {
                self.page.store("setItem", OUTBOX_KEY, &json);
                return;
            }
            let _ = call1(&events, "shift", &JsValue::UNDEFINED);
        }
    }

    /// The first request after the outbox was taken (the one that carried it) is settled.
    /// `done`: its answer is stored, or the edge refused it (the same events would be refused
    /// again), so the outbox is cleared, unless another tab of the site has written it since.
    /// Otherwise the request failed on the way, and the outbox stays: the next page, or this
    /// one's `pagehide`, takes it again.
    fn settle_outbox(&mut self, done: bool) {
        if done && self.outbox() == self.outbox_taken {
            self.page
                .store("removeItem", OUTBOX_KEY, &JsValue::UNDEFINED);
        }
        self.outbox_taken = JsValue::UNDEFINED;
    }

    fn failed(&mut self, error: &JsValue) {
        log(self.config.debug, "intent: send failed", error);
        // The failed batch is dropped (retrying a refused body would fail again); events
        // recorded meanwhile go on their own. The outbox stays for the next page, unless the
        // edge refused the body it went in (an error status's `{"error": ...}`).
        self.settle_outbox(get(error, "error").is_truthy());
        if length(&self.pending) > 0 {
            self.flush_scheduled = true;
        }
    }

    /// Takes an answer: `{"profile", "tier", "segments", "variants"}`.
    fn answered(&mut self, answer: &JsValue) -> Option<TierCall> {
        let moved = self.in_flight == JsValue::TRUE;
        self.in_flight = JsValue::UNDEFINED;
        if moved {
            // Its events are in the outbox, and go again with the next call: the token of
            // this answer, which counts them, must not be kept.
            self.flush();
            return None;
        }
        let tier = get(answer, "tier");
        if !tier.is_string() {
            // Not an answer (an error status's body): nothing on the page changes.
            self.failed(answer);
            return None;
        }
        let token = get(answer, "profile");
        if token.is_string() {
            self.page.store("setItem", TOKEN_KEY, &token);
            self.token = token;
        }
        self.settle_outbox(true);
        self.variants = get(answer, "variants");
        slots::apply(&self.page, &self.variants);
        self.flush();
        self.segments = get(answer, "segments");
        if tier == self.tier {
            return None;
        }
        let root = get(&self.page.document, "documentElement");
        let _ = call2(&root, "setAttribute", &"data-intent-tier".into(), &tier);
        self.tier = tier;
        Some(self.tier_call(self.tier_callbacks.clone()))
    }

    /// Registers a tier callback; returns the call due now if the tier is already known.
    fn on_tier(&mut self, callback: JsValue) -> Option<TierCall> {
        push(&self.tier_callbacks, &callback);
        let just_this: JsValue = Array::new().into();
        push(&just_this, &callback);
        self.tier.is_string().then(|| self.tier_call(just_this))
    }

    fn tier_call(&self, callbacks: JsValue) -> TierCall {
        TierCall {
            callbacks,
            tier: self.tier.clone(),
            segments: self.segments.clone(),
            debug: self.config.debug,
        }
    }
}
