//! The Workers entry point, the route table and dispatch.
//!
//! Every route is one entry of [`ROUTES`]: its path, who may call it, and a handler per
//! method. Dispatch, the `405`'s `Allow` header and its message read the table; a path no
//! route has is a JSON `404` under `/v1/`, and a page of the site (proxy mode) anywhere else.
//!
//! The entry answers without a future whenever nothing has to be waited for: the isolate's
//! rules are fresh and the route's handler answers at once ([`Handler::Now`]: collect, decide,
//! health). A body it asks for is read in one native call, and the entry is called again with
//! it. Everything else (rules to read from KV, a body of undeclared length, the admin API, the
//! snippet files, proxied pages) runs as a future, as an `#[event(fetch)]` handler would.

mod admin;
mod api;
mod audiences;
mod audit;
mod console;
mod deliveries;
mod do_sql;
mod guard;
mod http;
mod ingest;
mod isolate;
mod pipeline;
mod proxy;
mod rules;
// NOTE: the #[durable_object] macro generates undocumented glue (its constructor and handlers).
#[allow(missing_docs)]
mod store;
mod stores;

pub use store::AudienceStore;

use std::cell::OnceCell;
use std::rc::Rc;

use futures_util::future::LocalBoxFuture;
use intent_engine::Timestamp;
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::future_to_promise;
use worker::{
    console_error, console_log, event, web_sys, worker_sys, Context, Env, Request, Response,
    Result, ScheduleContext, ScheduledEvent,
};

use crate::api_error::ApiError;
use crate::headers::{std_names, Answer};
use crate::request::{HeadAt, Sent};
use crate::routes::{find, Found, Guard, Method, Route, UrlParts};
use crate::rules_cache::ActiveRules;
use http::{Body, Reading};
use isolate::Isolate;

/// What a handler answers: an answer the worker wrote (built in one construction), or a
/// response from elsewhere (a page streaming through the rewriter, a static file).
pub enum Reply {
    /// Status, headers and body as data.
    Answer(Answer),
    /// A response object to pass on.
    Stream(Response),
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Self {
        Reply::Answer(answer)
    }
}

impl From<Response> for Reply {
    fn from(resp: Response) -> Self {
        Reply::Stream(resp)
    }
}

/// What every handler is given besides the request.
pub struct Ctx<'a> {
    env: &'a Env,
    /// The request's context, for work that goes on after the answer (`wait_until`).
    pub wctx: &'a Context,
    /// Vars and secrets, read once per isolate.
    isolate: &'a Isolate,
    /// The settings (the isolate's).
    settings: &'a crate::settings::Settings,
    /// The rules this request runs with.
    rules: ActiveRules,
    /// The request URL's parts.
    url: UrlParts<'a>,
    /// The browser origin of a cross-origin call (an `Origin` header naming another origin).
    origin: Option<&'a str>,
    /// The request's head, and the headers read for the handler ([`Ctx::sent`]).
    head: &'a Head,
}

/// Why a handler did not produce its answer: a client error to report, a runtime failure, or
/// a body it needs that is not read yet.
pub enum Failure {
    /// Answered as the error's status and JSON body.
    Api(ApiError),
    /// A runtime call failed (a header the runtime refused, a missing binding).
    Runtime(worker::Error),
    /// The handler needs the request body (`http::body`): the entry reads it as said and calls
    /// the handler again.
    Unread(Reading),
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        Failure::Api(err)
    }
}

impl From<worker::Error> for Failure {
    fn from(err: worker::Error) -> Self {
        Failure::Runtime(err)
    }
}

/// A route's handler.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Answers at once, from the runtime's request object and, when it asks for it, the body
    /// (read for it, see `http::body`): the hot routes, which run without a future.
    Now(
        for<'a> fn(
            &'a web_sys::Request,
            &'a Ctx<'a>,
            &'a Body,
        ) -> std::result::Result<Reply, Failure>,
    ),
    /// Waits on the runtime (KV, the assets): run as a future.
    Later(
        for<'a> fn(
            web_sys::Request,
            &'a Ctx<'a>,
        ) -> LocalBoxFuture<'a, std::result::Result<Reply, Failure>>,
    ),
}

/// A handler of the table. `handler!(f)` takes an `async fn(Request, &Ctx) -> Result<impl
/// Into<Reply>, Failure>`, given workers-rs's `Request` (which reads the method, the URL, the
/// headers object and the `cf` properties when it is made); `handler!(now f)` a `fn(&Request,
/// &Ctx, &Body) -> Result<impl Into<Reply>, Failure>` that never waits, given the runtime's
/// request object itself, from which it reads only what it needs; `handler!(raw f)` an `async
/// fn(web_sys::Request, &Ctx)` that reads only what it needs of the runtime's request.
macro_rules! handler {
    (now $f:path) => {{
        fn now<'a>(
            req: &'a web_sys::Request,
            ctx: &'a Ctx<'a>,
            body: &'a Body,
        ) -> std::result::Result<Reply, Failure> {
            $f(req, ctx, body).map(Reply::from)
        }
        Handler::Now(now)
    }};
    (raw $f:path) => {{
        fn later<'a>(
            req: web_sys::Request,
            ctx: &'a Ctx<'a>,
        ) -> LocalBoxFuture<'a, std::result::Result<Reply, Failure>> {
            Box::pin(async move { $f(req, ctx).await.map(Reply::from) })
        }
        Handler::Later(later)
    }};
    ($f:path) => {{
        fn later<'a>(
            req: web_sys::Request,
            ctx: &'a Ctx<'a>,
        ) -> LocalBoxFuture<'a, std::result::Result<Reply, Failure>> {
            Box::pin(async move { $f(Request::from(req), ctx).await.map(Reply::from) })
        }
        Handler::Later(later)
    }};
}

/// Every route. The first entry whose path matches serves the request; `/prefix/*` matches
/// everything below the prefix. An `Admin` route is checked for the admin bearer token before
/// its handler runs. (A new route is one entry here; see ARCHITECTURE.md.)
pub static ROUTES: &[Route<Handler>] = &[
    Route {
        path: "/v1/collect",
        guard: Guard::Public,
        methods: &[(Method::Post, handler!(now api::collect))],
    },
    Route {
        path: "/v1/decide",
        guard: Guard::Public,
        methods: &[(Method::Get, handler!(now api::decide))],
    },
    Route {
        path: "/v1/health",
        guard: Guard::Public,
        methods: &[(Method::Get, handler!(now api::health))],
    },
    Route {
        path: "/v1/events",
        guard: Guard::Ingest,
        methods: &[(Method::Post, handler!(raw ingest::events))],
    },
    Route {
        path: "/v1/admin/rules",
        guard: Guard::Admin,
        methods: &[
            (Method::Get, handler!(admin::get)),
            (Method::Put, handler!(admin::put)),
        ],
    },
    Route {
        path: "/v1/admin/rules/rollback",
        guard: Guard::Admin,
        methods: &[(Method::Post, handler!(admin::rollback))],
    },
    Route {
        path: "/v1/admin/rules/history",
        guard: Guard::Admin,
        methods: &[(Method::Get, handler!(admin::list))],
    },
    Route {
        path: "/v1/admin/audiences",
        guard: Guard::Admin,
        methods: &[(Method::Get, handler!(audiences::list))],
    },
    Route {
        path: "/v1/admin/audiences/*",
        guard: Guard::Admin,
        methods: &[(Method::Get, handler!(audiences::members))],
    },
    Route {
        path: "/v1/admin/accounts",
        guard: Guard::Admin,
        methods: &[(Method::Get, handler!(audiences::accounts))],
    },
    Route {
        path: "/v1/admin/visitors",
        guard: Guard::Admin,
        methods: &[(Method::Delete, handler!(audiences::erase_email))],
    },
    Route {
        path: "/v1/admin/visitors/*",
        guard: Guard::Admin,
        methods: &[
            (Method::Get, handler!(audiences::visitor)),
            (Method::Delete, handler!(audiences::erase_visitor)),
        ],
    },
    Route {
        path: "/v1/admin/deliveries",
        guard: Guard::Admin,
        methods: &[(Method::Get, handler!(deliveries::list))],
    },
    Route {
        path: "/v1/admin/deliveries/*",
        guard: Guard::Admin,
        methods: &[(Method::Post, handler!(deliveries::retry))],
    },
    Route {
        path: "/v1/admin/events",
        guard: Guard::Admin,
        methods: &[(Method::Get, handler!(audiences::events))],
    },
    // The snippet always comes from the worker's own assets, in proxy mode too.
    Route {
        path: "/intent.js",
        guard: Guard::Public,
        methods: &[(Method::Any, handler!(proxy::snippet_file))],
    },
    Route {
        path: "/_intent/*",
        guard: Guard::Public,
        methods: &[(Method::Any, handler!(proxy::snippet_file))],
    },
    // The marketer's console: its own static files, never proxied or personalised.
    Route {
        path: "/admin/*",
        guard: Guard::Public,
        methods: &[(Method::Any, handler!(console::file))],
    },
];

/// The API's prefix: paths under it answer JSON (errors included) and CORS preflights.
const API_PREFIX: &str = "/v1/";

/// Milliseconds since the epoch, from the runtime's clock (`Date.now()`: one call, no `Date`
/// object).
fn now_ms() -> f64 {
    worker::js_sys::Date::now()
}

/// The engine's notion of now.
fn now() -> Timestamp {
    Timestamp::from_millis(now_ms())
}

/// What the entry reads of every request before routing it: the head, in one call out of
/// wasm (`http::head`), and the headers the API's handlers read, in one more when a handler
/// asks for them ([`Ctx::sent`]). A body's read carries both to the entry's second run
/// ([`Head::carried`]).
struct Head {
    isolate: Rc<Isolate>,
    /// The runtime's text: the head, or, carried across a body's read, the head and the
    /// headers a handler read.
    text: String,
    at: HeadAt,
    /// The headers' text, when a handler of this run read it (not carried in `text`).
    sent: OnceCell<String>,
}

impl Head {
    fn read(req: &web_sys::Request, env: &Env) -> Result<Head> {
        Head::of(http::head(req), env)
    }

    /// The head from its text: the runtime's, or carried across a body's read.
    fn of(text: String, env: &Env) -> Result<Head> {
        let at = HeadAt::find(&text).ok_or_else(|| {
            worker::Error::RustError("the request's head text has fewer than three lines".into())
        })?;
        Ok(Head {
            isolate: isolate::get(env),
            text,
            at,
            sent: OnceCell::new(),
        })
    }

    fn method_name(&self) -> &str {
        self.at.method(&self.text)
    }

    fn parts(&self) -> UrlParts<'_> {
        UrlParts::of(self.at.url(&self.text))
    }

    fn method(&self) -> Method {
        Method::parse(self.method_name())
    }

    fn origin_header(&self) -> Option<&str> {
        self.at.origin(&self.text)
    }

    /// The browser origin of a cross-origin call: same-origin calls (the worker's own pages)
    /// need no CORS. The URL is sliced only when an `Origin` header was sent.
    fn origin(&self) -> Option<&str> {
        self.origin_header().filter(|o| *o != self.parts().origin)
    }

    /// The headers' text: carried, read already, or read now (one call out of wasm).
    fn sent_text(&self, req: &web_sys::Request) -> &str {
        match self.at.sent(&self.text) {
            Some(carried) => carried,
            None => self.sent.get_or_init(|| http::sent(req)),
        }
    }

    /// What a body's read hands to the entry's second run: the head's text and the headers'
    /// text when a handler read it in this run (a text carried already holds them).
    fn carried(&self) -> (&str, Option<&str>) {
        (&self.text, self.sent.get().map(String::as_str))
    }

    fn ctx<'a>(&'a self, env: &'a Env, wctx: &'a Context, rules: ActiveRules) -> Ctx<'a> {
        Ctx {
            env,
            wctx,
            isolate: &self.isolate,
            settings: &self.isolate.settings,
            rules,
            url: self.parts(),
            origin: self.origin(),
            head: self,
        }
    }
}

impl Ctx<'_> {
    /// The headers the API's handlers read (`crate::request::SENT`), read from the request
    /// once per request, in one call out of wasm.
    fn sent(&self, req: &web_sys::Request) -> Result<Sent<'_>> {
        Sent::parse(self.head.sent_text(req)).ok_or_else(|| {
            worker::Error::RustError(
                "the request headers' text does not have a line per name of `SENT`".into(),
            )
        })
    }
}

/// Where a request goes, from its head.
enum Plan {
    /// A CORS preflight of the API.
    Preflight,
    /// A route's handler, once the route's guard lets the request through.
    Route(&'static Route<Handler>, Handler),
    /// A route without this method: `405`.
    WrongMethod(&'static Route<Handler>),
    /// An API path no route has: `404`.
    NotFound,
    /// A page of the site (proxy mode).
    Page,
}

impl Plan {
    fn of(head: &Head) -> Plan {
        let path = head.parts().path;
        let api = path.starts_with(API_PREFIX);
        let method = head.method();
        if api && method == Method::Options {
            return Plan::Preflight;
        }
        match find(ROUTES, path, method) {
            Found::Handler(route, handler) => Plan::Route(route, *handler),
            Found::WrongMethod(route) => Plan::WrongMethod(route),
            Found::NoRoute if api => Plan::NotFound,
            Found::NoRoute => Plan::Page,
        }
    }

    /// Whether the request runs with the active rules (a KV read when they are stale); the
    /// snippet files and the errors of the table do not.
    fn needs_rules(&self) -> bool {
        match self {
            Plan::Route(route, _) => route.methods.iter().all(|(m, _)| *m != Method::Any),
            Plan::Page => true,
            Plan::Preflight | Plan::WrongMethod(_) | Plan::NotFound => false,
        }
    }

    /// The answer of a plan that needs no handler.
    fn fixed(&self, head: &Head) -> Option<std::result::Result<Reply, Failure>> {
        match self {
            Plan::WrongMethod(route) => {
                let err = ApiError::method_not_allowed(head.method_name(), &route.expected());
                Some(Ok(Reply::Answer(
                    http::error(&err).with(std_names::ALLOW, route.allow()),
                )))
            }
            Plan::NotFound => Some(Err(ApiError::not_found(head.parts().path).into())),
            Plan::Preflight | Plan::Route(..) | Plan::Page => None,
        }
    }
}

/// The guard of `route`, checked before its handler runs.
fn guard(
    route: &Route<Handler>,
    req: &web_sys::Request,
    isolate: &Isolate,
) -> std::result::Result<(), Failure> {
    match route.guard {
        Guard::Admin => guard::admin(req, isolate).map_err(Failure::from),
        Guard::Ingest => guard::ingest(req, isolate).map_err(Failure::from),
        Guard::Public => Ok(()),
    }
}

/// A handler's outcome as the response: errors answered as JSON (a runtime failure as `503`,
/// logged), CORS headers for an allowed origin.
fn answer(head: &Head, result: std::result::Result<Reply, Failure>) -> Result<web_sys::Response> {
    let reply = match result {
        Ok(reply) => reply,
        Err(Failure::Api(err)) => Reply::Answer(http::error(&err)),
        Err(Failure::Runtime(err)) => {
            console_error!("{} {} failed: {err}", head.method_name(), head.parts().path);
            Reply::Answer(http::error(&ApiError::unavailable(
                "the worker could not complete this call; try again",
            )))
        }
        Err(Failure::Unread(_)) => {
            // The entry reads an unread body before it gets here; this is a defect, not the
            // client's doing.
            console_error!(
                "{} {}: a handler asked again for a body it was given",
                head.method_name(),
                head.parts().path
            );
            Reply::Answer(http::error(&ApiError::unavailable(
                "the worker could not complete this call; try again",
            )))
        }
    };
    http::with_cors(reply, head.origin(), &head.isolate.settings).and_then(http::finish)
}

fn preflight(head: &Head) -> Result<web_sys::Response> {
    http::finish(http::preflight(
        head.origin_header(),
        &head.isolate.settings,
    ))
}

/// What the entry can do for a request without waiting.
enum Step {
    /// The response.
    Done(Result<web_sys::Response>),
    /// The handler needs the body, whole: the runtime reads it, then the entry runs again.
    ReadBody,
    /// Something must be waited for: the rules from KV, a body of undeclared length, a handler
    /// that waits, a page from upstream.
    Wait,
}

fn at_once(head: &Head, req: &web_sys::Request, env: &Env, wctx: &Context, body: &Body) -> Step {
    let plan = Plan::of(head);
    if let Plan::Preflight = plan {
        return Step::Done(preflight(head));
    }
    if let Some(fixed) = plan.fixed(head) {
        return Step::Done(answer(head, fixed));
    }
    let rules = if plan.needs_rules() {
        match rules::fresh(&head.isolate.settings, now_ms()) {
            Some(rules) => rules,
            None => return Step::Wait,
        }
    } else {
        rules::idle()
    };
    let Plan::Route(route, Handler::Now(handler)) = plan else {
        return Step::Wait;
    };
    let ctx = head.ctx(env, wctx, rules);
    match guard(route, req, &head.isolate).and_then(|()| handler(req, &ctx, body)) {
        Err(Failure::Unread(Reading::Whole)) => Step::ReadBody,
        Err(Failure::Unread(Reading::Chunks { .. })) => Step::Wait,
        result => Step::Done(answer(head, result)),
    }
}

/// The same as [`at_once`], waiting where it must.
async fn later(
    head: Head,
    req: web_sys::Request,
    env: Env,
    wctx: Context,
    mut body: Body,
) -> Result<web_sys::Response> {
    let plan = Plan::of(&head);
    if let Plan::Preflight = plan {
        return preflight(&head);
    }
    if let Some(fixed) = plan.fixed(&head) {
        return answer(&head, fixed);
    }
    let rules = if plan.needs_rules() {
        rules::active(&env, &wctx, &head.isolate.settings, now_ms()).await
    } else {
        rules::idle()
    };
    let ctx = head.ctx(&env, &wctx, rules);
    let (route, handler) = match plan {
        Plan::Route(route, handler) => (route, handler),
        _ => {
            return proxy::page(Request::from(req), &ctx)
                .await
                .and_then(http::into_raw)
        }
    };
    let result = match (guard(route, &req, &head.isolate), handler) {
        (Err(err), _) => Err(err),
        (Ok(()), Handler::Now(handler)) => loop {
            match handler(&req, &ctx, &body) {
                Err(Failure::Unread(how)) => body = http::read(&req, how).await,
                result => break result,
            }
        },
        (Ok(()), Handler::Later(handler)) => handler(req, &ctx).await,
    };
    answer(&head, result)
}

/// What the runtime calls once it has read a body: `(request, env, ctx, bytes, error,
/// carried)`, see `http::read_then`.
type WithBody = Closure<
    dyn Fn(
        JsValue,
        JsValue,
        JsValue,
        JsValue,
        JsValue,
        JsValue,
    ) -> std::result::Result<JsValue, JsValue>,
>;

thread_local! {
    /// The entry again, with the body the runtime read and what the first run had read of the
    /// request (`http::read_then`): made once per instance, called by each request that needs
    /// its body.
    static WITH_BODY: WithBody = Closure::new(
        |req: JsValue, env: JsValue, ctx: JsValue, bytes: JsValue, error: JsValue, carried: JsValue| {
            enter(
                req.unchecked_into(),
                env.unchecked_into(),
                ctx.unchecked_into(),
                http::arrived(bytes, error),
                carried.as_string(),
            )
        },
    );
}

/// The worker's `fetch` handler, which worker-build's entry calls for each request in place of
/// an `#[event(fetch)]` one. It answers a `Response` when nothing has to be waited for (the
/// usual call of the snippet's API), else a promise of one; a failure the worker cannot turn
/// into an answer is logged and answered `500`, as `#[event(fetch)]` does.
#[wasm_bindgen]
pub fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: worker_sys::Context,
) -> std::result::Result<JsValue, JsValue> {
    enter(req, env, ctx, Body::Unread, None)
}

/// One run of the entry: the first (`carried` is `None`: the head is read from the request),
/// or the second, once the runtime has read the body the handler asked for (`carried` is what
/// the first run had read of the request).
fn enter(
    req: web_sys::Request,
    env: Env,
    ctx: worker_sys::Context,
    body: Body,
    carried: Option<String>,
) -> std::result::Result<JsValue, JsValue> {
    let wctx = Context::new(ctx);
    let head = match carried {
        Some(text) => Head::of(text, &env),
        None => Head::read(&req, &env),
    };
    let head = match head {
        Ok(head) => head,
        Err(err) => return settle(Err(err)),
    };
    match at_once(&head, &req, &env, &wctx, &body) {
        Step::Done(response) => settle(response),
        Step::ReadBody => {
            let ctx: &JsValue = wctx.as_ref().unchecked_ref();
            let (text, sent) = head.carried();
            let read = WITH_BODY.with(|next| {
                http::read_then(&req, &env, ctx, next.as_ref().unchecked_ref(), text, sent)
            });
            match read {
                Ok(promise) => Ok(promise.into()),
                Err(err) => settle(Err(err)),
            }
        }
        Step::Wait => {
            Ok(
                future_to_promise(async move { settle(later(head, req, env, wctx, body).await) })
                    .into(),
            )
        }
    }
}

/// The response, or for a failure the `500` `#[event(fetch)]` answers (and the log line).
fn settle(response: Result<web_sys::Response>) -> std::result::Result<JsValue, JsValue> {
    let err = match response {
        Ok(response) => return Ok(response.into()),
        Err(err) => err,
    };
    console_error!("{err}");
    Response::error("INTERNAL SERVER ERROR", 500)
        .and_then(http::into_raw)
        .map(JsValue::from)
        .map_err(JsValue::from)
}

/// The cron trigger (`[triggers] crons` in wrangler.toml): makes sure every store of every site
/// has its alarm set, so that lapses and retention run even if an alarm was lost, then runs the
/// weekly rules audit for the destinations that subscribe (`audit`).
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let isolate = isolate::get(&env);
    let stores = match stores::Stores::open(&env, &isolate.audience, "") {
        Ok(stores) => stores,
        Err(err) => {
            console_error!("cron {}: {}", event.cron(), err.message);
            return;
        }
    };
    let objects: Vec<String> = isolate
        .settings
        .sites
        .iter()
        .flat_map(|site| stores.settings.objects(site))
        .collect();
    let calls = objects.iter().map(|object| {
        stores.call(
            object,
            worker::Method::Post,
            crate::audience::store_api::WAKE,
            &[],
            None,
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    console_log!(
        "cron {}: {} audience store(s) checked, {failed} failed",
        event.cron(),
        objects.len()
    );
    audit::weekly(&env, now()).await;
}
