//! The event pipeline: the producer, which enqueues what a call recorded after the visitor has
//! their answer, and the consumer of `intent-events`, which hands each store its share of a
//! batch in one call.
//!
//! The producer makes the call's message in the handler (sanitised, serialised, the profile
//! signed for the store: microseconds) and hands it to JavaScript, which sends it in
//! `ctx.waitUntil` with the isolate's other calls of the next 20 ms, in one message (a JSON array
//! of calls): the answer never waits for the queue, no Rust future is spawned for it, and a
//! hundred concurrent calls cost one queue message. (`POST /v1/events` sends a message per
//! record, a JSON object; the consumer reads both.)
//! A worker without the queue binding runs without the pipeline (the audience layer off).
//!
//! The consumer acknowledges each message whose stores took all of its calls, and retries the
//! others with a growing delay (after `max_retries` the queue moves them to the dead-letter queue): a store
//! that fails gets its share again, and since ingest is one transaction and idempotent by event
//! id, it lands exactly once.

use std::cell::Cell;

use futures_util::future::join_all;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{
    console_error, console_warn, event, Context, Env, MessageBatch, MessageExt,
    QueueRetryOptionsBuilder, RawMessage,
};

use super::stores::Stores;
use super::{isolate, now_ms, rules, Ctx};
use crate::audience::{call_id, group, names, store_api, Pending, Queued};
use crate::visitor::Resolved;

thread_local! {
    /// Whether this isolate has found that it runs without the queue (and said so).
    static SAID_NO_QUEUE: Cell<bool> = const { Cell::new(false) };
}

#[wasm_bindgen(module = "/js/http.js")]
extern "C" {
    /// Adds `text` (`bytes` long in UTF-8) to the message this isolate sends to `env[binding]` in
    /// a `ctx.waitUntil`, with the isolate's other calls of the next 20 ms (at most 100 calls and
    /// 60,000 bytes), a failure logged; false when there is no such binding (`worker/js/http.js`).
    #[wasm_bindgen(js_name = enqueue)]
    fn send_after_answer(
        env: &JsValue,
        ctx: &JsValue,
        binding: &str,
        text: &str,
        bytes: u32,
    ) -> bool;
}

/// Enqueues what the call recorded, once the answer is on its way. Nothing when the visitor
/// may not be tracked, nothing was recorded, or the audience layer is off.
///
/// The message is made here, in the handler (the sanitised events with their ids, the profile
/// signed for the store: a few microseconds), and sent from JavaScript in `ctx.waitUntil`: one
/// call out of wasm, no future for wasm-bindgen-futures to drive through microtasks.
pub fn enqueue(ctx: &Ctx<'_>, resolved: &mut Resolved<'_, '_, '_>, at_ms: f64) {
    // A binding is there for the isolate's life or not at all: once one call found none, the
    // others make no message.
    if ctx.isolate.audience.is_err() || SAID_NO_QUEUE.with(Cell::get) {
        return;
    }
    let Some(pending) = Pending::take(resolved, at_ms) else {
        return;
    };
    let mut random = [0u8; 12];
    if let Err(err) = getrandom::getrandom(&mut random) {
        console_error!("no random call id ({err}); the call's events were not enqueued");
        return;
    }
    let Some(queued) = pending.into_queued(&call_id(random), &ctx.rules.rules) else {
        return;
    };
    let env: &JsValue = ctx.env.as_ref();
    let wctx: &JsValue = ctx.wctx.as_ref().unchecked_ref();
    let text = queued.to_json();
    let bytes = u32::try_from(text.len()).unwrap_or(u32::MAX);
    if !send_after_answer(env, wctx, names::EVENTS_QUEUE, &text, bytes)
        && !SAID_NO_QUEUE.with(|s| s.replace(true))
    {
        console_warn!(
            "no `{}` queue binding: the audience store receives nothing",
            names::EVENTS_QUEUE
        );
    }
}

/// Retries `message` after a delay that grows with its age (half of it, from 1 s to 5 min):
/// a store that fails for long is not called again and again.
fn retry(message: &RawMessage) {
    // NOTE: workers-rs 0.8.7 binds no per-message attempt count (workers-rs issue #1057); the
    // time the message was sent gives the same backoff.
    let age_secs = (now_ms() - message.timestamp().as_millis() as f64) / 1000.0;
    let delay = (age_secs / 2.0).clamp(1.0, 300.0) as u32;
    message.retry_with_options(
        &QueueRetryOptionsBuilder::new()
            .with_delay_seconds(delay)
            .build(),
    );
}

/// The consumer of `intent-events` (and the dispatch to that of `intent-deliveries`).
#[event(queue)]
pub async fn consume(batch: MessageBatch<Queued>, env: Env, ctx: Context) -> worker::Result<()> {
    let messages: Vec<RawMessage> = batch.raw_iter().collect();
    // The worker has one queue handler: `intent-deliveries` goes to its own consumer.
    if batch.queue() == names::DELIVERIES_QUEUE_NAME {
        super::deliveries::consume(messages, &env, &ctx).await;
        return Ok(());
    }
    let isolate = isolate::get(&env);
    let rules = rules::active(&env, &ctx, &isolate.settings, now_ms()).await;
    let stores = match Stores::open(&env, &isolate.audience, rules.rules.id()) {
        Ok(stores) => stores,
        Err(err) => {
            console_error!("intent-events: {}; the batch is retried", err.message);
            messages.iter().for_each(retry);
            return Ok(());
        }
    };
    // Every call of every message, with the index of its message.
    let mut read: Vec<(usize, Queued)> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        match m.body().as_string().map(|text| Queued::read_message(&text)) {
            Some(Ok(calls)) => read.extend(calls.into_iter().map(|q| (i, q))),
            // A message this worker cannot read may be one a newer version wrote: it goes to
            // the dead-letter queue after its retries rather than being dropped.
            Some(Err(err)) => {
                console_error!("intent-events: {err}");
                retry(m);
            }
            None => {
                console_error!("intent-events: a message that is not text");
                retry(m);
            }
        }
    }
    // Grouped by store; a group's members are indexes into `read`.
    let groups = group(
        read.iter().enumerate().map(|(k, (_, q))| {
            let visitor = (!q.record.is_external()).then_some(q.record.visitor.as_str());
            (k, q.site.as_str(), visitor)
        }),
        &stores.settings,
    );
    let calls = groups.iter().map(|g| {
        let records: Vec<&intent_audience::Record> = g
            .calls
            .iter()
            .filter_map(|&k| read.get(k).map(|(_, q)| &q.record))
            .collect();
        let body = serde_json::to_string(&records).unwrap_or_default();
        stores.call(
            &g.object,
            worker::Method::Post,
            store_api::INGEST,
            &[],
            Some(body),
        )
    });
    let results = join_all(calls).await;
    // A message is acknowledged when every store its calls went to took them (an event from
    // another tool goes to each store of its site); otherwise it is retried whole, and the
    // stores that took their share already count nothing twice.
    let mut failed = vec![false; messages.len()];
    for (g, result) in groups.iter().zip(results) {
        if let Err(err) = result {
            console_error!(
                "intent-events: the store {} did not take {} call(s) ({}); their messages are retried",
                g.object,
                g.calls.len(),
                err.message
            );
            for &k in &g.calls {
                if let Some(f) = read.get(k).and_then(|(i, _)| failed.get_mut(*i)) {
                    *f = true;
                }
            }
        }
    }
    let grouped: std::collections::BTreeSet<usize> = groups
        .iter()
        .flat_map(|g| g.calls.iter().filter_map(|&k| read.get(k).map(|(i, _)| *i)))
        .collect();
    for i in grouped {
        if let Some(m) = messages.get(i) {
            if failed.get(i).copied().unwrap_or(true) {
                retry(m);
            } else {
                m.ack();
            }
        }
    }
    Ok(())
}
