//! `POST /v1/events` (`Guard::Ingest`): events from the team's other tools, read and checked by
//! `crate::ingest`, enqueued on `intent-events` like the site's own calls, one message per
//! event, for the audience store to file under the visitor who identified with the email.
//! Nothing here reads or writes a token.

use worker::{
    console_error, wasm_bindgen::JsValue, web_sys::Request, QueueContentType, RawMessageBuilder,
};

use super::http::{self, header};
use super::{now, Ctx, Failure};
use crate::api_error::{check_content_type, ApiError};
use crate::audience::{call_id, names, Queued};
use crate::headers::{std_names, Answer};
use crate::ingest::{accepted, batch_id, check_key, read, MAX_INGEST_BODY_BYTES};

/// The header that names a batch, so that posting it again counts nothing twice.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Messages per `sendBatch` (the most a queue takes at once).
const SEND_BATCH: usize = 100;

/// `POST /v1/events`: `202 {"accepted": n, "idempotency_key": "..."}` once every event is
/// enqueued; the key is the caller's, or one made for the call, to post the same batch again
/// with after a failure.
pub async fn events(req: Request, ctx: &Ctx<'_>) -> Result<Answer, Failure> {
    if let Err(reason) = &ctx.isolate.audience {
        return Err(ApiError::audiences_off(reason).into());
    }
    check_content_type(header(&req, std_names::CONTENT_TYPE).as_deref())?;
    let key = match header(&req, IDEMPOTENCY_KEY) {
        Some(key) => {
            check_key(&key)?;
            key
        }
        None => {
            let mut random = [0u8; 12];
            getrandom::getrandom(&mut random)
                .map_err(|e| ApiError::unavailable(format!("no random batch id: {e}")))?;
            call_id(random)
        }
    };
    let length = header(&req, std_names::CONTENT_LENGTH);
    let body = http::read_text(&req, length.as_deref(), MAX_INGEST_BODY_BYTES).await?;
    // The site is read from the body: the batch id is made once it is known.
    let site = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("site").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let horizon = ctx.rules.rules.shape().horizon_secs();
    let batch = read(
        &body,
        |s| ctx.settings.knows_site(s),
        now(),
        horizon,
        &batch_id(&site, &key),
    )?;
    let queue = ctx.env.queue(names::EVENTS_QUEUE).map_err(|_| {
        ApiError::not_configured(format!(
            "no `{}` queue binding: events cannot reach the audience store",
            names::EVENTS_QUEUE
        ))
    })?;
    let count = batch.records.len();
    let messages: Vec<_> = batch
        .records
        .into_iter()
        .map(|record| {
            let queued = Queued {
                site: batch.site.clone(),
                record,
            };
            RawMessageBuilder::new(JsValue::from_str(&queued.to_json()))
                .build_with_content_type(QueueContentType::Text)
        })
        .collect();
    let mut messages = messages.into_iter().peekable();
    while messages.peek().is_some() {
        let chunk: Vec<_> = messages.by_ref().take(SEND_BATCH).collect();
        if let Err(err) = queue.send_raw_batch(chunk).await {
            console_error!("enqueueing posted events failed: {err}");
            // Some may be enqueued already: the same key posts the rest, and nothing twice.
            return Err(ApiError::unavailable(format!(
                "the events could not all be enqueued; post the same body again with `Idempotency-Key: {key}`"
            ))
            .into());
        }
    }
    Ok(Answer::json(202, accepted(count, &key)))
}
