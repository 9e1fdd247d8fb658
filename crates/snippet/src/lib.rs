//! The browser half of Intent Edge: records what a visitor does, sends it to the edge, and
//! shows the content variant for the visitor's tier.
//!
//! The loader `js/intent.js` fetches this crate's wasm and calls [`start`] with its own script
//! tag. From then on the tracker records page views (on load and on single-page navigations),
//! engagement (visible seconds and scroll depth), clicks on `data-intent-track` elements and
//! outbound links, and custom events from `intent('event', name, props)`; it sends them in
//! batches to `POST /v1/collect` on the script's origin, keeps the visitor's token from each
//! answer in `localStorage`, and fills `data-intent-slot` elements with the answer's variants.
//! Events not acknowledged when the page is left wait in a `localStorage` outbox for the next
//! call (in proxy mode, where the token is a cookie, they leave by `sendBeacon`).
//!
//! **Invariant:** nothing here throws into the host page. Errors are values, swallowed, and
//! logged only when the script tag has `data-debug`. There is no `unwrap` and no indexing that
//! input can reach.
//!
//! Size is a feature: the loader, the JS glue and this wasm must stay within 12 KiB gzipped
//! (`scripts/size-check.sh`). That is why the browser is reached through a few generic
//! helpers (`dom`) rather than a web-sys binding per API, why events and answers stay JS
//! objects (the body is written by `JSON.stringify`, not serde), why one closure serves every
//! entry point, and why the allocator is a bump allocator that never frees.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// NOTE: an allocator that never frees, the smallest there is. The tracker allocates nothing per
// event (no browser string is copied into wasm, closures capture nothing): only wasm-bindgen's
// table of JS values grows, by doubling, so what is never freed stays within twice its peak.
// tests/memory.rs fails if handling events ever allocates.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::LeakingAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::LeakingAllocator::new());

mod api;
mod config;
mod consent;
mod dom;
mod engagement;
mod event;
mod listen;
mod privacy;
mod slots;
mod tracker;

use wasm_bindgen::prelude::*;

use crate::config::Config;
use crate::dom::Page;
use crate::privacy::Off;
use crate::tracker::{Tracker, OUTBOX_KEY, TOKEN_KEY};

/// Starts tracking this page, as the loader's script tag configures it. Called by the loader
/// with its `<script>` element and the URL events go to (`/v1/collect` on the script's
/// origin); calling it again (the tag included twice) does nothing.
#[wasm_bindgen]
pub fn start(script: JsValue, collect_url: JsValue) {
    if let Err(e) = run(&script, collect_url) {
        dom::log(
            dom::has_attr(&script, "data-debug"),
            "intent: not started",
            &e.into(),
        );
    }
}

fn run(script: &JsValue, collect_url: JsValue) -> Result<(), &'static str> {
    if tracker::is_started() {
        return Ok(());
    }
    let page = Page::of(script).ok_or("no window")?;
    let config = Config::from_script(&page, script, collect_url)?;
    let none = JsValue::UNDEFINED;
    match privacy::check(&page, &config) {
        None => {}
        Some(Off::VisitorChoice) => {
            page.store("removeItem", TOKEN_KEY, &none);
            page.store("removeItem", OUTBOX_KEY, &none);
            return Ok(());
        }
        Some(_) => return Ok(()),
    }
    // The choice a previous page recorded: granted, denied (what it denied is gone, and stays
    // gone), or none yet, when a site that requires consent waits for it. Either way the
    // tracker is installed, so that `intent('consent', ...)` can change it.
    let consent = consent::recorded(&page);
    if consent == Some(false) {
        page.store("removeItem", TOKEN_KEY, &none);
        page.store("removeItem", OUTBOX_KEY, &none);
    }
    let tracking = consent.unwrap_or(!config.consent_required);
    let mut tracker = Tracker::new(page.clone(), config);
    if tracking {
        tracker.begin();
    }
    tracker::install(tracker);
    api::install(&page);
    listen::listen(&page);
    tracker::handle(tracker::Msg::Started);
    Ok(())
}
