//! The event pipeline: the producer, which enqueues what a call recorded after the visitor has
//! their answer, and the consumer of `intent-events`, which hands each store its share of a
//! batch in one call.
//!
//! The producer takes owned copies on the visitor's path and nothing else: sanitising,
//! serialising, signing the profile for the store and the queue's `send` run in `wait_until`.
//! A worker without the queue binding runs without the pipeline (the audience layer off).
//!
//! The consumer acknowledges each message whose store took it, and retries the others with a
//! growing delay (after `max_retries` the queue moves them to the dead-letter queue): a store
//! that fails gets its share again, and since ingest is one transaction and idempotent by event
//! id, it lands exactly once.

use std::cell::Cell;

use futures_util::future::join_all;
use worker::{
    console_error, console_warn, event, wasm_bindgen::JsValue, Context, Env, MessageBatch,
    MessageExt, QueueContentType, QueueRetryOptionsBuilder, RawMessage, RawMessageBuilder,
};

use super::stores::Stores;
use super::{isolate, now_ms, rules, Ctx};
use crate::audience::{call_id, group, names, store_api, Pending, Queued};
use crate::rules_cache::SharedRules;
use crate::visitor::Resolved;

thread_local! {
    /// Whether this isolate has said that it runs without the queue.
    static SAID_NO_QUEUE: Cell<bool> = const { Cell::new(false) };
}

/// Enqueues what the call recorded, once the answer is on its way. Nothing when the visitor
/// may not be tracked, nothing was recorded, or the audience layer is off.
pub fn enqueue(ctx: &Ctx<'_>, resolved: &mut Resolved<'_, '_, '_>, at_ms: f64) {
    if ctx.isolate.audience.is_err() {
        return;
    }
    let Some(pending) = Pending::take(resolved, at_ms) else {
        return;
    };
    let rules: SharedRules = ctx.rules.rules.clone();
    let env = ctx.env.clone();
    ctx.wctx.wait_until(async move {
        let queue = match env.queue(names::EVENTS_QUEUE) {
            Ok(queue) => queue,
            Err(_) => {
                if !SAID_NO_QUEUE.with(|s| s.replace(true)) {
                    console_warn!(
                        "no `{}` queue binding: the audience store receives nothing",
                        names::EVENTS_QUEUE
                    );
                }
                return;
            }
        };
        let mut random = [0u8; 12];
        if let Err(err) = getrandom::getrandom(&mut random) {
            console_error!("no random call id ({err}); the call's events were not enqueued");
            return;
        }
        let Some(queued) = pending.into_queued(&call_id(random), &rules) else {
            return;
        };
        let message = RawMessageBuilder::new(JsValue::from_str(&queued.to_json()))
            .build_with_content_type(QueueContentType::Text);
        if let Err(err) = queue.send_raw(message).await {
            console_error!("enqueueing a call's events failed: {err}");
        }
    });
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

/// The consumer of `intent-events`.
#[event(queue)]
pub async fn consume(batch: MessageBatch<Queued>, env: Env, ctx: Context) -> worker::Result<()> {
    let isolate = isolate::get(&env);
    let messages: Vec<RawMessage> = batch.raw_iter().collect();
    let rules = rules::active(&env, &ctx, &isolate.settings, now_ms()).await;
    let stores = match Stores::open(&env, &isolate.audience, rules.rules.id()) {
        Ok(stores) => stores,
        Err(err) => {
            console_error!("intent-events: {}; the batch is retried", err.message);
            messages.iter().for_each(retry);
            return Ok(());
        }
    };
    let mut read = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        match m.body().as_string().map(|text| Queued::from_json(&text)) {
            Some(Ok(queued)) => read.push((i, queued)),
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
    let groups = group(
        read.iter()
            .map(|(i, q)| (*i, q.site.as_str(), q.record.visitor.as_str())),
        &stores.settings,
    );
    let calls = groups.iter().map(|g| {
        let records: Vec<&intent_audience::Record> = g
            .messages
            .iter()
            .filter_map(|i| read.iter().find(|(j, _)| j == i).map(|(_, q)| &q.record))
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
    for (g, result) in groups.iter().zip(results) {
        let acked = result.is_ok();
        if let Err(err) = result {
            console_error!(
                "intent-events: the store {} did not take {} message(s) ({}); they are retried",
                g.object,
                g.messages.len(),
                err.message
            );
        }
        for &i in &g.messages {
            if let Some(m) = messages.get(i) {
                if acked {
                    m.ack();
                } else {
                    retry(m);
                }
            }
        }
    }
    Ok(())
}
