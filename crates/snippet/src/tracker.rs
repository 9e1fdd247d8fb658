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
    append, attr, bind, bind_this, call, closest, get, get_at, is, length, log, now, object, push,
    set, set_attr, try_call, try_call2, try_call_s, try_call_ss, Page,
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

/// What `data-debug` logs for an `intent()` call that does nothing.
const IGNORED: &str = "intent: ignored call";

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
    /// `intent('identify', email, traits)`.
    Identify(JsValue, JsValue),
    /// `intent('consent', choice)`.
    Consent(JsValue),
    /// `intent('tier', callback)`.
    OnTier(JsValue),
    /// `intent('visitor', callback)`.
    OnVisitor(JsValue),
    /// An `intent()` call the tracker does not know, by its first argument.
    Ignored(JsValue),
    /// What `/v1/decide` answered, asked for the visitor id in proxy mode.
    Decided(JsValue),
    /// The first page view, and the queued calls, are recorded: send them.
    Started,
}

/// Hands `msg` to the page's tracker, then calls the site's callbacks that are due. They run
/// after the tracker is released, so they may call `intent()` themselves.
pub(crate) fn handle(msg: Msg) {
    let Some(due) = with(|t| {
        t.handle(msg);
        std::mem::replace(&mut t.due, Array::new().into())
    }) else {
        return;
    };
    let debug = with(|t| t.config.debug).unwrap_or(false);
    // `[callback, a, b]` each.
    for i in 0..length(&due) {
        let each = get_at(&due, i);
        let f = get_at(&each, 0);
        if let Err(e) = call(
            &f,
            "call",
            &JsValue::NULL,
            &get_at(&each, 1),
            &get_at(&each, 2),
        ) {
            log(debug, "intent: callback threw", &e);
        }
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
    /// What `/v1/decide` answered, `(answer)`.
    Decided,
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
    const DECIDED: u32 = Entry::Decided as u32;
    handle(match kind.as_f64().unwrap_or(-1.0) as u32 {
        BROWSER => Msg::Browser(a),
        ANSWER => Msg::Answer(a),
        INTENT => crate::api::command(a, b, c),
        NAVIGATED => Msg::Navigated,
        DECIDED => Msg::Decided(a),
        _ => Msg::Heartbeat,
    });
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
    /// The visitor may be tracked: consent is implied or was granted. While it is false,
    /// nothing is read or written in storage, recorded or sent.
    tracking: bool,
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
    /// The visitor id of the last answer that had one (a string), or `undefined`.
    visitor: JsValue,
    /// Functions registered with `intent('visitor', fn)` waiting for the id (an array).
    visitor_callbacks: JsValue,
    /// `/v1/decide` was asked for the visitor id.
    decide_asked: bool,
    /// Site callbacks due once the tracker is released: `[callback, a, b]` each, in an array.
    due: JsValue,
    /// `r => r.json()`, for the fetch promise.
    read_json: JsValue,
    on_answer: JsValue,
}

impl Tracker {
    /// A tracker for the page, not yet tracking: [`Tracker::begin`] starts it.
    pub(crate) fn new(page: Page, config: Config) -> Tracker {
        // Function.prototype.call.bind(Response.prototype.json): no closure needed.
        let json = get(&get(&get(&page.window, "Response"), "prototype"), "json");
        let read_json = bind_this(&get(&json, "call"), &json);
        Tracker {
            token: JsValue::NULL,
            config,
            pending: Array::new().into(),
            in_flight: JsValue::UNDEFINED,
            outbox_taken: JsValue::UNDEFINED,
            flush_scheduled: false,
            unloading: false,
            tracking: false,
            proxied: false,
            url: JsValue::UNDEFINED,
            engagement: Engagement::default(),
            tier: JsValue::UNDEFINED,
            segments: JsValue::UNDEFINED,
            variants: JsValue::UNDEFINED,
            tier_callbacks: Array::new().into(),
            visitor: JsValue::UNDEFINED,
            visitor_callbacks: Array::new().into(),
            decide_asked: false,
            due: Array::new().into(),
            page,
            read_json,
            // Failures come here too: `answered` tells them apart (they have no tier).
            on_answer: entry(Entry::Answer),
        }
    }

    /// Starts tracking: reads the stored token and records this page's view. At start when
    /// the visitor may be tracked, or when they grant consent.
    pub(crate) fn begin(&mut self) {
        self.tracking = true;
        self.token = Some(self.page.store("getItem", TOKEN_KEY, &JsValue::UNDEFINED))
            .filter(JsValue::is_string)
            .unwrap_or(JsValue::NULL);
        self.url = JsValue::UNDEFINED;
        self.pageview();
    }

    fn handle(&mut self, msg: Msg) {
        let custom = match msg {
            Msg::Browser(event) => return self.on_event(&event),
            Msg::Answer(answer) => return self.answered(&answer),
            Msg::Heartbeat => return self.heartbeat(),
            Msg::Navigated => return self.navigated(),
            Msg::Consent(choice) => return self.consent(&choice),
            Msg::OnTier(callback) => return self.on_tier(callback),
            Msg::OnVisitor(callback) => return self.on_visitor(callback),
            Msg::Decided(answer) => return self.learn_visitor(&answer),
            Msg::Started => return self.flush(),
            Msg::Ignored(name) => return log(self.config.debug, IGNORED, &name),
            Msg::Custom(name, props) => crate::api::custom_event(&self.page, &name, &props),
            Msg::Identify(email, traits) => crate::api::identify_event(&self.page, &email, &traits),
        };
        match custom {
            // Sent at once (a custom event such as `demo_request` may change the tier, and the
            // page may be left right after it); while a request is in flight, it goes with the
            // next one.
            Some(event) => {
                self.record(event);
                self.flush();
            }
            // No event name, or not an email address.
            None => log(self.config.debug, IGNORED, &JsValue::UNDEFINED),
        }
    }

    /// `intent('consent', 'granted' | 'denied')`: records the choice in the consent cookie;
    /// granting starts tracking from this page on, denying stops it and deletes what the
    /// device holds (the token and the outbox) at once.
    fn consent(&mut self, choice: &JsValue) {
        let Some(granted) = crate::consent::parse(choice) else {
            return log(self.config.debug, IGNORED, choice);
        };
        crate::consent::record(&self.page, granted);
        if granted {
            if !self.tracking {
                self.begin();
                self.flush();
            }
        } else {
            self.stop();
        }
    }

    /// Consent withdrawn: nothing more is recorded or sent, the token and the outbox are
    /// removed, an answer still on its way is ignored, and the page shows its own content.
    fn stop(&mut self) {
        let tracked = self.tracking;
        self.tracking = false;
        let none = JsValue::UNDEFINED;
        self.page.store("removeItem", TOKEN_KEY, &none);
        self.page.store("removeItem", OUTBOX_KEY, &none);
        self.token = JsValue::NULL;
        self.pending = Array::new().into();
        if self.in_flight.is_truthy() {
            self.in_flight = JsValue::TRUE;
        }
        self.outbox_taken = JsValue::UNDEFINED;
        self.flush_scheduled = false;
        self.url = JsValue::UNDEFINED;
        self.visitor = JsValue::UNDEFINED;
        self.tier = JsValue::UNDEFINED;
        self.segments = JsValue::UNDEFINED;
        self.variants = JsValue::UNDEFINED;
        slots::apply(&self.page, &none);
        let root = get(&self.page.document, "documentElement");
        set_attr(&root, "data-intent-tier", None);
        set_attr(&root, "data-intent-segments", None);
        // Where the edge runs on the page's own origin, it keeps the token in its `HttpOnly`
        // cookie: set with a page it served (proxy mode), or with this page's own calls once
        // the visitor granted consent here. One request carrying the `denied` consent cookie
        // lets the edge delete it now rather than on the next page.
        if tracked && self.edge_keeps_cookie() {
            self.decide();
        }
    }

    /// The edge runs on the page's own origin, where it may keep the token in its `HttpOnly`
    /// cookie: it served this page (proxy mode), or its API is there (the collect URL is the
    /// script's origin followed by `/v1/collect`).
    fn edge_keeps_cookie(&self) -> bool {
        self.proxied
            || try_call_ss(&self.config.collect_url, "replace", "/v1/collect", "")
                == get(&self.page.location, "origin")
    }

    fn hidden(&self) -> bool {
        get(&self.page.document, "hidden").is_truthy()
    }

    pub(crate) fn record(&mut self, event: JsValue) {
        // One request carries at most this many; past it (the edge unreachable for long),
        // new events are dropped. Without consent, nothing is recorded.
        if self.tracking && length(&self.pending) < limits::EVENTS_PER_CALL {
            push(&self.pending, &event);
        }
    }

    /// Records a page view if the URL changed since the last one, after reporting the
    /// engagement of the page view it ends. Returns whether it recorded one.
    pub(crate) fn pageview(&mut self) -> bool {
        let url = get(&self.page.location, "href");
        if !self.tracking || url == self.url {
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
        let root = get(doc, "documentElement");
        let served = attr(&root, "data-intent-tier");
        if first && self.tier.is_undefined() && served.is_string() {
            self.proxied = true;
            self.tier = served;
            let segments = attr(&root, "data-intent-segments");
            self.segments = if length(&segments) > 0 {
                try_call_s(&segments, "split", " ")
            } else {
                Array::new().into()
            };
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
    /// profile. While unloading, nothing waits: where the edge keeps the token in its cookie
    /// (proxy mode, or its API on the page's origin) events leave by `sendBeacon`, in snippet
    /// mode they go to the outbox.
    ///
    /// The beacon leaves at `pagehide`, after the next page's response has set the cookie, so
    /// it folds into the newest profile. Had it waited in the outbox, the next page would send
    /// it with the cookie as it was, and a navigation made before that answer came back would
    /// have its recorded view overwritten by the older profile (and the outbox sent twice).
    pub(crate) fn flush(&mut self) {
        if !self.tracking {
            return;
        }
        if self.unloading && !self.edge_keeps_cookie() {
            return self.keep();
        }
        if length(&self.pending) == 0 || (self.in_flight.is_truthy() && !self.unloading) {
            return;
        }
        let events = std::mem::replace(&mut self.pending, Array::new().into());
        let body = self.body(&events);
        let url = &self.config.collect_url;
        if self.unloading {
            return self.beacon(&body);
        }
        let init = object();
        set(&init, "method", &"POST".into());
        set(&init, "body", &body);
        // keepalive lets the request finish when the visitor leaves the page.
        set(&init, "keepalive", &JsValue::TRUE);
        // An error status's body is not an answer: `answered` ignores what has no tier.
        match self.fetch(url, &init, &self.on_answer) {
            Ok(_) => self.in_flight = events,
            Err(e) => {
                log(self.config.debug, "intent: fetch failed", &e);
                self.settle_outbox(false);
            }
        }
    }

    /// The body of a call carrying `events`. A string body goes as `text/plain;charset=UTF-8`,
    /// a CORS-safelisted type: cross-origin sends need no preflight.
    fn body(&self, events: &JsValue) -> JsValue {
        let batch = object();
        set(&batch, "site", &self.config.site);
        set(&batch, "profile", &self.token);
        set(&batch, "events", events);
        self.page.stringify(&batch)
    }

    /// `fetch(url, init).then(r => r.json()).then(on, on)`; `Err` if `fetch` threw.
    fn fetch(&self, url: &JsValue, init: &JsValue, on: &JsValue) -> Result<(), JsValue> {
        let sent = call(&self.page.window, "fetch", url, init, &JsValue::UNDEFINED)?;
        try_call2(&try_call(&sent, "then", &self.read_json), "then", on, on);
        Ok(())
    }

    fn beacon(&self, body: &JsValue) {
        let url = &self.config.collect_url;
        if try_call2(&self.page.navigator, "sendBeacon", url, body) != JsValue::TRUE {
            log(self.config.debug, "intent: sendBeacon failed", body);
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
    ///
    /// Except identities: an email is never stored in the browser. An identify event changes
    /// no profile, so the token of its answer is not needed: a pending one leaves by
    /// `sendBeacon` with the token the page has, and one in flight was sent already.
    fn keep(&mut self) {
        let outbox = self.outbox();
        let events: JsValue = Array::new().into();
        let identities: JsValue = Array::new().into();
        if outbox != self.outbox_taken {
            append(&events, &self.page.parse(&outbox));
        }
        let pending = std::mem::replace(&mut self.pending, Array::new().into());
        for (from, identities) in [(&self.in_flight, None), (&pending, Some(&identities))] {
            for i in 0..length(from).min(limits::EVENTS_PER_CALL) {
                let event = get_at(from, i);
                if !is(&get(&event, "type"), "identify") {
                    push(&events, &event);
                } else if let Some(identities) = identities {
                    push(identities, &event);
                }
            }
        }
        if length(&identities) > 0 {
            self.beacon(&self.body(&identities));
        }
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
            try_call(&events, "shift", &JsValue::UNDEFINED);
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

    /// Takes an answer: `{"profile", "visitor", "tier", "segments", "variants"}`.
    fn answered(&mut self, answer: &JsValue) {
        let moved = self.in_flight == JsValue::TRUE;
        self.in_flight = JsValue::UNDEFINED;
        if moved {
            // Its events are in the outbox, and go again with the next call, or consent was
            // withdrawn: the token of this answer, which counts them, must not be kept. In the
            // second case the answer may have set the edge's cookie again after the withdrawal
            // asked the edge to delete it: it is asked once more.
            if !self.tracking && self.edge_keeps_cookie() {
                self.decide();
            }
            return self.flush();
        }
        let tier = get(answer, "tier");
        if !tier.is_string() {
            // Not an answer (an error status's body): nothing on the page changes.
            return self.failed(answer);
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
        self.learn_visitor(answer);
        self.segments = get(answer, "segments");
        let root = get(&self.page.document, "documentElement");
        // `data-intent-segments`: the segments, space-separated; removed when there are none.
        let segments = try_call_s(&self.segments, "join", " ");
        set_attr(
            &root,
            "data-intent-segments",
            Some(&segments).filter(|s| length(s) > 0),
        );
        if tier == self.tier {
            return;
        }
        set_attr(&root, "data-intent-tier", Some(&tier));
        self.tier = tier;
        for i in 0..length(&self.tier_callbacks) {
            self.call_later(&get_at(&self.tier_callbacks, i), &self.tier, &self.segments);
        }
    }

    /// Registers a tier callback, called at once if the tier is already known.
    fn on_tier(&mut self, callback: JsValue) {
        push(&self.tier_callbacks, &callback);
        if self.tier.is_string() {
            self.call_later(&callback, &self.tier, &self.segments);
        }
    }

    /// Registers a visitor callback, called once with the visitor id: at once if it is known.
    /// In proxy mode the page's view was recorded by the edge, so no answer of ours may come
    /// soon: `/v1/decide` is asked for the id.
    fn on_visitor(&mut self, callback: JsValue) {
        push(&self.visitor_callbacks, &callback);
        if self.visitor.is_string() {
            self.call_visitor_callbacks();
        } else if self.tracking && self.proxied && !self.decide_asked {
            self.decide_asked = true;
            self.decide();
        }
    }

    /// `GET /v1/decide` with the visitor's cookie (proxy mode: same origin), recording nothing.
    fn decide(&self) {
        let url = try_call_ss(
            &self.config.collect_url,
            "replace",
            "/v1/collect",
            "/v1/decide",
        );
        let _ = self.fetch(&url, &JsValue::UNDEFINED, &entry(Entry::Decided));
    }

    /// Takes the visitor id of an answer, if it has one, for the visitor callbacks.
    fn learn_visitor(&mut self, answer: &JsValue) {
        let visitor = get(answer, "visitor");
        if self.tracking && visitor.is_string() {
            self.visitor = visitor;
            self.call_visitor_callbacks();
        }
    }

    fn call_visitor_callbacks(&mut self) {
        let callbacks = std::mem::replace(&mut self.visitor_callbacks, Array::new().into());
        for i in 0..length(&callbacks) {
            self.call_later(&get_at(&callbacks, i), &self.visitor, &JsValue::UNDEFINED);
        }
    }

    /// Calls `callback(a, b)` once the tracker is released ([`handle`]).
    fn call_later(&self, callback: &JsValue, a: &JsValue, b: &JsValue) {
        let each: JsValue = Array::new().into();
        push(&each, callback);
        push(&each, a);
        push(&each, b);
        push(&self.due, &each);
    }
}
