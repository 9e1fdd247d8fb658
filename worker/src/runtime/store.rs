//! The `AudienceStore` Durable Object: one per site, or per shard of a large site (`site:N`),
//! with SQLite storage. It adapts `intent_audience::Store` to the object: `Sql` over its
//! database (`do_sql`), the schema migrated once per start, the alarm set to the store's next
//! re-check, and the rules it runs with.
//!
//! **Which rules.** The object keeps the rules text it runs with in its own database, so an
//! alarm (which no worker call carries) and a restart use the same rules. A publish through
//! the admin API hands the new text to every store at once (`POST /rules`), which starts the
//! backfill. Every other call names the rules its isolate runs with (`x-intent-rules`); when
//! they differ from the store's, the store reads the `RULES` KV namespace (at most every
//! [`KV_RECHECK_MS`]) and adopts what it finds there if it is what the caller named: rules put
//! in KV directly, with wrangler, reach the stores too. For [`GRACE_SECS`] after it was handed
//! new rules the store does not look: isolates whose rules cache has not caught up with the
//! publish yet would otherwise switch it back. Handing the text over with each call instead
//! would cost up to 256 KiB a batch for what changes a few times a month.
//!
//! **Carry-over.** With the rules text the object keeps the profile shapes of the rules it ran
//! with before (`intent_audience::save_rules`), and runs with rules that carry profiles made
//! under those over, as the edge carries tokens across a publish: the backfill after a publish
//! recomputes each visitor from their stored profile, carried over, and rebuilds from the event
//! log only a profile whose shape it does not know.
//!
//! The object answers the worker's internal calls (`crate::audience::store_api`), each with a
//! JSON body; errors are `intent_audience::Error`'s JSON with its status.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use intent_audience::send::AuditDigest;
use intent_audience::{
    migrate, save_rules, saved_rules, Error as StoreError, MembersRequest, Outcome, Record, Store,
    Subject, DELIVERIES_LISTED,
};
use intent_engine::{Rules, Timestamp};
use serde::Serialize;
use worker::{
    console_error, console_warn, durable_object, js_sys, wasm_bindgen::JsValue, DurableObject, Env,
    Method, Queue, QueueContentType, RawMessageBuilder, Request, Response, Result, ScheduledTime,
    SendMessage, State,
};

use super::deliveries::{site_of, Job, Report};
use super::do_sql::DoSql;
use super::{isolate, now, now_ms};
use crate::audience::names as audience_names;
use crate::audience::store_api as api;
use crate::settings::{keys, names};

/// Seconds after new rules were handed over during which calls naming other rules (isolates
/// whose cache is still catching up) do not make the store look for other rules.
pub const GRACE_SECS: i64 = 300;
/// Deliveries one alarm hands to the queue at most; the rest on the next alarm, right after.
const HAND_OUT: usize = 500;
/// Messages in one send to the deliveries queue at most (the queue's limit is 100).
const SEND_BATCH: usize = 100;
/// Bytes of message bodies in one send at most (the queue's limit is 256 KB in all).
const SEND_BATCH_BYTES: usize = 200_000;

/// Sends `messages` to the deliveries queue in one call. Those it did not take come due again
/// when their lease ends, with the same ids.
async fn send(queue: &Queue, messages: Vec<SendMessage<JsValue>>) {
    let n = messages.len();
    if let Err(err) = queue.send_raw_batch(messages).await {
        console_error!("enqueueing {n} deliveries failed ({err}); they are handed out again later");
    }
}
/// How often, at most, a store reads KV because a call named rules it does not run with.
pub const KV_RECHECK_MS: f64 = 30_000.0;

/// The rules a store runs with.
struct Active {
    /// `None`: the built-in default rules.
    rules: Option<Rules>,
    /// When they were handed over (0 for the built-in rules, never handed over).
    saved_at: i64,
}

impl Active {
    fn rules(&self) -> &Rules {
        self.rules.as_ref().unwrap_or_else(|| Rules::builtin())
    }
}

/// A site's (or shard's) audience store.
#[durable_object(alarm)]
pub struct AudienceStore {
    state: State,
    env: Env,
    db: DoSql,
    migrated: Cell<bool>,
    active: RefCell<Option<Rc<Active>>>,
    kv_checked_ms: Cell<f64>,
    /// Whether the injected failure (tests only) has happened in this object.
    fault_done: Cell<bool>,
}

/// What an ingest answers the consumer.
#[derive(Serialize)]
struct IngestAnswer {
    events: usize,
    duplicates: usize,
    visitors: usize,
    rejected: Vec<intent_audience::Rejected>,
}

fn store_error(err: &StoreError) -> Result<Response> {
    if err.status() >= 500 {
        console_error!("the audience store failed: {err}");
    }
    json(err.to_json(), err.status())
}

fn json(body: String, status: u16) -> Result<Response> {
    let resp = Response::from_bytes(body.into_bytes())?.with_status(status);
    resp.headers().set("content-type", "application/json")?;
    Ok(resp)
}

fn bad(message: impl Into<String>) -> Result<Response> {
    store_error(&StoreError::BadParam {
        field: "body",
        message: message.into(),
    })
}

impl DurableObject for AudienceStore {
    fn new(state: State, env: Env) -> Self {
        let db = DoSql::new(&state.storage());
        AudienceStore {
            state,
            env,
            db,
            migrated: Cell::new(false),
            active: RefCell::new(None),
            kv_checked_ms: Cell::new(f64::NEG_INFINITY),
            fault_done: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let at = now();
        // The vars first: the rules are compiled with their destination checks.
        let iso = isolate::get(&self.env);
        if let Err(err) = self.migrate() {
            return store_error(&err);
        }
        let url = req.url()?;
        let path = url.path().to_owned();
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if req.method() == Method::Post && path == api::RULES_PUBLISHED {
            let text = req.text().await?;
            return match Rules::from_json_with(&text, crate::settings::checks()) {
                Ok(rules) => {
                    let active = self.adopt(rules, &text, at)?;
                    // The publish asked for its backfill's entries and exits to fire triggers
                    // (by default a backfill notifies nobody).
                    if param(api::FIRE_TRIGGERS) == Some("true") {
                        let settings = match &iso.audience {
                            Ok(s) => s.clone(),
                            Err(err) => return store_error(&StoreError::Corrupt(err.clone())),
                        };
                        let store = Store::new(&self.db, active.rules(), &settings.store);
                        if let Err(err) = store.fire_on_backfill() {
                            return store_error(&err);
                        }
                    }
                    self.schedule(Some(at)).await?;
                    json("{\"ok\":true}".to_owned(), 200)
                }
                Err(err) => bad(format!("the rules do not validate: {err}")),
            };
        }
        let asked = req.headers().get(api::RULES)?;
        let active = self.rules_for(asked.as_deref(), at).await;
        let settings = match &isolate::get(&self.env).audience {
            Ok(s) => s.clone(),
            Err(err) => return store_error(&StoreError::Corrupt(err.clone())),
        };
        let store = Store::new(&self.db, active.rules(), &settings.store);
        match (req.method(), path.as_str()) {
            (Method::Post, api::INGEST) => {
                let text = req.text().await?;
                let records: Vec<Record> = match serde_json::from_str(&text) {
                    Ok(r) => r,
                    Err(e) => return bad(format!("not a batch of records: {e}")),
                };
                if let Some(fault) = settings.fault.filter(|_| !self.fault_done.get()) {
                    self.fault_done.set(true);
                    console_warn!(
                        "audience store: failing statement {} of this ingest on purpose (AUDIENCE_FAULTS)",
                        fault.statement
                    );
                    self.db.fail_statement(fault.statement);
                }
                let done = store.ingest(&records, at);
                self.db.disarm();
                match done {
                    Ok(done) => {
                        self.schedule(done.next_alarm).await?;
                        let answer = IngestAnswer {
                            events: done.events,
                            duplicates: done.duplicates,
                            visitors: done.visitors,
                            rejected: done.rejected,
                        };
                        json(serde_json::to_string(&answer).unwrap_or_default(), 200)
                    }
                    Err(err) => store_error(&err),
                }
            }
            (Method::Get, api::AUDIENCES) => answer(store.audiences(at)),
            (Method::Get, api::MEMBERS) => {
                let name = param("name").unwrap_or_default();
                let pairs = query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match MembersRequest::from_query(pairs) {
                    Ok(req) => answer(store.members(name, &req)),
                    Err(err) => store_error(&err),
                }
            }
            (Method::Get, api::ACCOUNTS) => {
                let within = param("within").and_then(|w| w.parse::<i64>().ok());
                match within {
                    Some(within) => answer(store.accounts(within, at)),
                    None => bad("`within`: seconds expected"),
                }
            }
            (Method::Get, api::VISITOR) => {
                answer(store.visitor(param("id").unwrap_or_default(), at))
            }
            (Method::Get, api::EVENTS) => {
                let since = param("since").and_then(|w| w.parse::<i64>().ok());
                let after = param("after").and_then(|a| a.parse::<i64>().ok());
                let Some(since) = since else {
                    return bad("`since`: seconds expected");
                };
                match store.events(since, at, after) {
                    Ok(page) => {
                        let resp = Response::from_bytes(page.lines.into_bytes())?;
                        resp.headers().set("content-type", "application/x-ndjson")?;
                        if let Some(next) = page.next {
                            resp.headers().set(api::NEXT, &next.to_string())?;
                        }
                        Ok(resp)
                    }
                    Err(err) => store_error(&err),
                }
            }
            (Method::Post, api::ERASE) => {
                let subject = match (param("visitor"), param("email")) {
                    (Some(id), None) => Subject::Visitor(id),
                    (None, Some(email)) => Subject::Email(email),
                    _ => return bad("name one `visitor` or one `email`"),
                };
                answer(store.erase(subject, at))
            }
            (Method::Get, api::DELIVERIES) => {
                answer(store.deliveries(param("status"), DELIVERIES_LISTED))
            }
            (Method::Post, api::DELIVERY_REPORT) => {
                let text = req.text().await?;
                let reports: Vec<Report> = match serde_json::from_str(&text) {
                    Ok(r) => r,
                    Err(e) => return bad(format!("not a list of delivery reports: {e}")),
                };
                // Each report is its own transaction: one the store cannot record fails the
                // call, and the sender sends the rest again (a report recorded twice is ignored).
                let mut done = Vec::with_capacity(reports.len());
                for report in &reports {
                    match store.report(
                        &report.id,
                        report.attempt,
                        &report.outcome,
                        at,
                        &iso.retry_schedule,
                    ) {
                        Ok(reported) => done.push(reported),
                        Err(err) => return store_error(&err),
                    }
                }
                self.schedule(store.next_alarm(at).ok().flatten()).await?;
                answer::<Vec<_>>(Ok(done))
            }
            (Method::Post, api::DELIVERY_RETRY) => {
                let done = store.retry(param("id").unwrap_or_default(), at);
                if done.is_ok() {
                    self.schedule(Some(at)).await?;
                }
                answer(done)
            }
            (Method::Post, api::AUDIT) => {
                let text = req.text().await?;
                let digest: AuditDigest = match serde_json::from_str(&text) {
                    Ok(d) => d,
                    Err(e) => return bad(format!("not an audit digest: {e}")),
                };
                let done = store.notify_audit(&digest, at);
                if matches!(done, Ok(n) if n > 0) {
                    self.schedule(Some(at)).await?;
                }
                answer(done)
            }
            (Method::Post, api::WAKE) => match store.next_alarm(at) {
                Ok(next) => {
                    self.schedule(next).await?;
                    json("{\"ok\":true}".to_owned(), 200)
                }
                Err(err) => store_error(&err),
            },
            _ => store_error(&StoreError::BadParam {
                field: "path",
                message: format!("no store call `{path}`"),
            }),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let at = now();
        // The vars first: the rules are compiled with their destination checks.
        isolate::get(&self.env);
        if let Err(err) = self.migrate() {
            console_error!("the audience store's alarm failed: {err}");
            return Err(worker::Error::RustError(err.to_string()));
        }
        let active = self.rules_for(None, at).await;
        let settings = match &isolate::get(&self.env).audience {
            Ok(s) => s.clone(),
            Err(err) => {
                console_error!("the audience store's alarm cannot run: {err}");
                return Response::empty();
            }
        };
        let store = Store::new(&self.db, active.rules(), &settings.store);
        match store.alarm(at) {
            Ok(_) => {
                self.hand_out(&store, active.rules(), at).await;
                self.schedule(store.next_alarm(at).ok().flatten()).await?;
                Response::empty()
            }
            Err(err) => {
                // Returning the error makes the runtime retry the alarm, with backoff.
                console_error!("the audience store's alarm failed: {err}");
                Err(worker::Error::RustError(err.to_string()))
            }
        }
    }
}

fn answer<T: Serialize>(result: std::result::Result<T, StoreError>) -> Result<Response> {
    match result {
        Ok(value) => match serde_json::to_string(&value) {
            Ok(body) => json(body, 200),
            Err(e) => store_error(&StoreError::Corrupt(e.to_string())),
        },
        Err(err) => store_error(&err),
    }
}

impl AudienceStore {
    /// Creates the tables once per start of the object.
    fn migrate(&self) -> std::result::Result<(), StoreError> {
        if !self.migrated.get() {
            migrate(&self.db)?;
            self.migrated.set(true);
        }
        Ok(())
    }

    /// Runs with `rules` (whose text is `text`) from now on, and keeps them; profiles stored
    /// under the shapes of the rules it ran with before carry over to them.
    fn adopt(&self, rules: Rules, text: &str, at: Timestamp) -> Result<Rc<Active>> {
        let rules = save_rules(&self.db, rules, text, at)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let active = Rc::new(Active {
            rules: Some(rules),
            saved_at: at.secs(),
        });
        *self.active.borrow_mut() = Some(Rc::clone(&active));
        Ok(active)
    }

    /// The rules the store runs with, loaded on first use: the text it was last given, else
    /// what KV holds (kept from then on), else the built-in rules.
    async fn loaded(&self, at: Timestamp) -> Rc<Active> {
        if let Some(active) = self.active.borrow().as_ref() {
            return Rc::clone(active);
        }
        let saved = match saved_rules(&self.db) {
            Ok(saved) => saved,
            Err(err) => {
                console_error!("the audience store cannot read its rules: {err}");
                None
            }
        };
        if let Some(saved) = saved {
            match saved.compile_with(crate::settings::checks()) {
                Ok(rules) => {
                    let active = Rc::new(Active {
                        rules: Some(rules),
                        saved_at: saved.saved_at.secs(),
                    });
                    *self.active.borrow_mut() = Some(Rc::clone(&active));
                    return active;
                }
                Err(err) => console_error!("the audience store's rules no longer validate: {err}"),
            }
        }
        self.kv_checked_ms.set(now_ms());
        if let Some((rules, text)) = self.read_kv().await {
            if let Ok(active) = self.adopt(rules, &text, at) {
                return active;
            }
        }
        let active = Rc::new(Active {
            rules: None,
            saved_at: 0,
        });
        *self.active.borrow_mut() = Some(Rc::clone(&active));
        active
    }

    /// The rules for a call naming `asked` (the caller's rules id).
    async fn rules_for(&self, asked: Option<&str>, at: Timestamp) -> Rc<Active> {
        let active = self.loaded(at).await;
        let Some(asked) = asked else {
            return active;
        };
        let recent = at.secs() - active.saved_at < GRACE_SECS;
        if asked == active.rules().id()
            || recent
            || now_ms() - self.kv_checked_ms.get() < KV_RECHECK_MS
        {
            return active;
        }
        self.kv_checked_ms.set(now_ms());
        match self.read_kv().await {
            Some((rules, text)) if rules.id() == asked => match self.adopt(rules, &text, at) {
                Ok(adopted) => {
                    // The backfill runs from the alarm.
                    if let Err(err) = self.schedule(Some(at)).await {
                        console_error!("the audience store could not set its alarm: {err}");
                    }
                    adopted
                }
                Err(err) => {
                    console_error!("the audience store could not keep new rules: {err}");
                    active
                }
            },
            _ => active,
        }
    }

    /// The valid rules in KV, if any.
    async fn read_kv(&self) -> Option<(Rules, String)> {
        let kv = match self.env.kv(names::RULES_KV) {
            Ok(kv) => kv,
            Err(err) => {
                console_error!("the audience store has no RULES binding ({err})");
                return None;
            }
        };
        let text = match kv.get(keys::RULES).text().await {
            Ok(text) => text?,
            Err(err) => {
                console_warn!("the audience store could not read the rules from KV: {err}");
                return None;
            }
        };
        match Rules::from_json_with(&text, crate::settings::checks()) {
            Ok(rules) => Some((rules, text)),
            Err(_) => None,
        }
    }

    /// Hands the deliveries due at `at` to the `intent-deliveries` queue, each delayed as its
    /// destination's rate limit asks. A delivery the queue did not take comes due again when
    /// its lease ends; one whose destination the rules no longer have fails as an attempt.
    async fn hand_out(&self, store: &Store<'_, DoSql>, rules: &Rules, at: Timestamp) {
        let due = match store.due(at, HAND_OUT) {
            Ok(due) => due,
            Err(err) => {
                console_error!("the audience store could not hand out its deliveries: {err}");
                return;
            }
        };
        if due.is_empty() {
            return;
        }
        let Some(object) = self.state.id().name() else {
            console_error!("the audience store has no name: its deliveries cannot be reported");
            return;
        };
        let queue = match self.env.queue(audience_names::DELIVERIES_QUEUE) {
            Ok(queue) => queue,
            Err(_) => {
                console_error!(
                    "no `{}` queue binding: trigger deliveries wait",
                    audience_names::DELIVERIES_QUEUE
                );
                return;
            }
        };
        let site = site_of(&object).to_owned();
        let iso = isolate::get(&self.env);
        let mut messages: Vec<SendMessage<JsValue>> = Vec::with_capacity(due.len());
        let mut bytes = 0;
        for delivery in due {
            let Some(destination) = rules.config().destinations.get(&delivery.destination) else {
                let outcome = Outcome::Failed {
                    status: None,
                    retry_after: None,
                    error: format!(
                        "the destination `{}` is no longer in the rules",
                        delivery.destination
                    ),
                };
                if let Err(err) = store.report(
                    &delivery.id,
                    delivery.attempt,
                    &outcome,
                    at,
                    &iso.retry_schedule,
                ) {
                    console_error!("the audience store could not record a delivery: {err}");
                }
                continue;
            };
            let delay = delivery.delay_secs;
            let job = Job {
                object: object.clone(),
                site: site.clone(),
                destination: destination.clone(),
                delivery,
            };
            let text = serde_json::to_string(&job).unwrap_or_default();
            // A queue takes at most 100 messages or 256 KB in one send.
            if messages.len() == SEND_BATCH || bytes + text.len() > SEND_BATCH_BYTES {
                send(&queue, std::mem::take(&mut messages)).await;
                bytes = 0;
            }
            bytes += text.len();
            let mut message = RawMessageBuilder::new(JsValue::from_str(&text));
            if delay > 0 {
                message = message.delay_seconds(delay);
            }
            messages.push(message.build_with_content_type(QueueContentType::Text));
        }
        if !messages.is_empty() {
            send(&queue, messages).await;
        }
    }

    /// Sets the alarm to `next` unless it is already set to fire sooner.
    async fn schedule(&self, next: Option<Timestamp>) -> Result<()> {
        let Some(next) = next else {
            return Ok(());
        };
        let storage = self.state.storage();
        let next_ms = next.secs() as f64 * 1000.0;
        if let Some(current) = storage.get_alarm().await? {
            if (current as f64) <= next_ms {
                return Ok(());
            }
        }
        let date = js_sys::Date::new(&JsValue::from_f64(next_ms));
        storage.set_alarm(ScheduledTime::new(date)).await
    }
}
