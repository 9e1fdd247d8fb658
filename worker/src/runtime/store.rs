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

use intent_audience::{
    migrate, save_rules, saved_rules, Error as StoreError, MembersRequest, Record, Store, Subject,
};
use intent_engine::{Rules, Timestamp};
use serde::Serialize;
use worker::{
    console_error, console_warn, durable_object, js_sys, wasm_bindgen::JsValue, DurableObject, Env,
    Method, Request, Response, Result, ScheduledTime, State,
};

use super::do_sql::DoSql;
use super::{isolate, now, now_ms};
use crate::audience::store_api as api;
use crate::settings::{keys, names};

/// Seconds after new rules were handed over during which calls naming other rules (isolates
/// whose cache is still catching up) do not make the store look for other rules.
pub const GRACE_SECS: i64 = 300;
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
            return match Rules::from_json(&text) {
                Ok(rules) => {
                    self.adopt(rules, &text, at)?;
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
            Ok(done) => {
                self.schedule(done.next_alarm).await?;
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
            match saved.compile() {
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
        match Rules::from_json(&text) {
            Ok(rules) => Some((rules, text)),
            Err(_) => None,
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
