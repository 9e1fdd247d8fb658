//! The Workers entry point, the route table and dispatch.
//!
//! Every route is one entry of [`ROUTES`]: its path, who may call it, and a handler per
//! method. Dispatch, the `405`'s `Allow` header and its message read the table; a path no
//! route has is a JSON `404` under `/v1/`, and a page of the site (proxy mode) anywhere else.

mod admin;
mod api;
mod audiences;
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

use futures_util::future::LocalBoxFuture;
use intent_engine::Timestamp;
use worker::{
    console_error, console_log, event, web_sys, Context, Env, Request, Response, Result,
    ScheduleContext, ScheduledEvent,
};

use crate::api_error::ApiError;
use crate::headers::{std_names, Answer};
use crate::routes::{find, Found, Guard, Method, Route, UrlParts};
use crate::rules_cache::ActiveRules;
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
}

/// Why a handler did not produce its answer: a client error to report, or a runtime failure.
pub enum Failure {
    /// Answered as the error's status and JSON body.
    Api(ApiError),
    /// A runtime call failed (a header the runtime refused, a missing binding).
    Runtime(worker::Error),
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

/// A route's handler, given the runtime's request object.
pub type Handler = for<'a> fn(
    web_sys::Request,
    &'a Ctx<'a>,
) -> LocalBoxFuture<'a, std::result::Result<Reply, Failure>>;

/// A handler of the table: an `async fn(Request, &Ctx) -> Result<impl Into<Reply>, Failure>`,
/// given workers-rs's `Request`; or, written `handler!(raw f)`, given the runtime's
/// `web_sys::Request` itself. workers-rs's `Request` reads the method, the URL, the headers
/// object and the `cf` properties when it is made; the hot routes need none of that, and
/// read what they need from the request object directly.
macro_rules! handler {
    (raw $f:path) => {{
        fn boxed<'a>(
            req: web_sys::Request,
            ctx: &'a Ctx<'a>,
        ) -> LocalBoxFuture<'a, std::result::Result<Reply, Failure>> {
            Box::pin(async move { $f(req, ctx).await.map(Reply::from) })
        }
        boxed as Handler
    }};
    ($f:path) => {{
        fn boxed<'a>(
            req: web_sys::Request,
            ctx: &'a Ctx<'a>,
        ) -> LocalBoxFuture<'a, std::result::Result<Reply, Failure>> {
            Box::pin(async move { $f(Request::from(req), ctx).await.map(Reply::from) })
        }
        boxed as Handler
    }};
}

/// Every route. The first entry whose path matches serves the request; `/prefix/*` matches
/// everything below the prefix. An `Admin` route is checked for the admin bearer token before
/// its handler runs. (A new route is one entry here; see ARCHITECTURE.md.)
pub static ROUTES: &[Route<Handler>] = &[
    Route {
        path: "/v1/collect",
        guard: Guard::Public,
        methods: &[(Method::Post, handler!(raw api::collect))],
    },
    Route {
        path: "/v1/decide",
        guard: Guard::Public,
        methods: &[(Method::Get, handler!(raw api::decide))],
    },
    Route {
        path: "/v1/health",
        guard: Guard::Public,
        methods: &[(Method::Get, handler!(raw api::health))],
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

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, wctx: Context) -> Result<web_sys::Response> {
    let isolate = isolate::get(&env);
    let url = req.url();
    let parts = UrlParts::of(&url);
    let method_name = req.method();
    let method = Method::parse(&method_name);
    let origin_header = http::header(&req, std_names::ORIGIN);
    // Same-origin calls (the worker's own pages) need no CORS.
    let origin = origin_header.as_deref().filter(|o| *o != parts.origin);
    let api = parts.path.starts_with(API_PREFIX);

    let found = find(ROUTES, parts.path, method);
    let needs_rules = match &found {
        Found::Handler(route, _) => route.methods.iter().all(|(m, _)| *m != Method::Any),
        Found::WrongMethod(_) => false,
        Found::NoRoute => !api,
    };
    if api && method == Method::Options {
        return http::finish(http::preflight(origin_header.as_deref(), &isolate.settings));
    }
    let rules = if needs_rules {
        rules::active(&env, &wctx, &isolate.settings, now_ms()).await
    } else {
        rules::idle()
    };
    let ctx = Ctx {
        env: &env,
        wctx: &wctx,
        isolate: &isolate,
        settings: &isolate.settings,
        rules,
        url: parts,
        origin,
    };

    let result = match found {
        Found::Handler(route, handler) => match route.guard {
            Guard::Admin => match guard::admin(&req, &isolate) {
                Ok(()) => handler(req, &ctx).await,
                Err(err) => Err(err.into()),
            },
            Guard::Ingest => match guard::ingest(&req, &isolate) {
                Ok(()) => handler(req, &ctx).await,
                Err(err) => Err(err.into()),
            },
            Guard::Public => handler(req, &ctx).await,
        },
        Found::WrongMethod(route) => {
            let err = ApiError::method_not_allowed(&method_name, &route.expected());
            Ok(Reply::Answer(
                http::error(&err).with(std_names::ALLOW, route.allow()),
            ))
        }
        Found::NoRoute if api => Err(ApiError::not_found(parts.path).into()),
        Found::NoRoute => {
            return proxy::page(Request::from(req), &ctx)
                .await
                .and_then(http::into_raw)
        }
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(Failure::Api(err)) => Reply::Answer(http::error(&err)),
        Err(Failure::Runtime(err)) => {
            console_error!("{method_name} {} failed: {err}", parts.path);
            Reply::Answer(http::error(&ApiError::unavailable(
                "the worker could not complete this call; try again",
            )))
        }
    };
    http::with_cors(reply, origin, &isolate.settings).and_then(http::finish)
}

/// The cron trigger (`[triggers] crons` in wrangler.toml): makes sure every store of every site
/// has its alarm set, so that lapses and retention run even if an alarm was lost. (The weekly
/// rules audit will run here too.)
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
}
