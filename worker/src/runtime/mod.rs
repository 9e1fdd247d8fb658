//! The Workers entry point and routing.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/collect` | fold the snippet's events into the visitor's profile, answer the decision |
//! | `GET /v1/decide` | the decision for the token sent, recording nothing |
//! | `GET/PUT /v1/admin/rules`, `POST /v1/admin/rules/rollback`, `GET /v1/admin/rules/history` | the rules admin API |
//! | `GET /v1/health` | liveness and the active rules id |
//! | `GET /intent.js`, `/_intent/*` | the snippet, from the static assets |
//! | anything else | proxy mode: the page from the origin or the bundled site, personalised |

mod admin;
mod api;
mod http;
mod proxy;
mod rules;
mod visitor;

use intent_engine::Timestamp;
use serde_json::json;
use worker::{console_error, event, Context, Env, Method, Request, Response, Result};

use crate::api_error::ApiError;
use crate::settings::{names, Settings};
use rules::ActiveRules;

/// What every handler needs for one request.
pub struct Ctx<'a> {
    env: &'a Env,
    settings: &'a Settings,
    rules: ActiveRules,
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

/// Milliseconds since the epoch, from the runtime's clock.
fn now_ms() -> f64 {
    worker::Date::now().as_millis() as f64
}

/// The engine's notion of now.
fn now() -> Timestamp {
    Timestamp::from_millis(now_ms())
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

fn settings(env: &Env) -> Settings {
    Settings::from_vars(
        var(env, names::SITES).as_deref(),
        var(env, names::ALLOWED_ORIGINS).as_deref(),
        var(env, names::ORIGIN).as_deref(),
        var(env, names::RULES_CACHE_SECONDS).as_deref(),
        var(env, names::RULES_KV_TIMEOUT_MS).as_deref(),
    )
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, wctx: Context) -> Result<worker::web_sys::Response> {
    route(req, env, wctx).await.and_then(http::into_raw)
}

async fn route(req: Request, env: Env, wctx: Context) -> Result<Response> {
    let settings = settings(&env);
    let path = req.path();
    let origin = http::foreign_origin(&req);

    if path == "/intent.js" || path.starts_with("/_intent/") {
        // The snippet always comes from the worker's own assets, in proxy mode too.
        let resp = env.assets(names::ASSETS)?.fetch_request(req).await?;
        return http::with_cors(
            proxy::with_mutable_headers(resp),
            origin.as_deref(),
            &settings,
        );
    }
    if path.starts_with("/v1/") {
        if req.method() == Method::Options {
            return http::preflight(&req, &settings);
        }
        let rules = rules::active(&env, &wctx, &settings, now_ms()).await;
        let ctx = Ctx {
            env: &env,
            settings: &settings,
            rules,
        };
        return api(req, &ctx, origin.as_deref()).await;
    }
    let rules = rules::active(&env, &wctx, &settings, now_ms()).await;
    let ctx = Ctx {
        env: &env,
        settings: &settings,
        rules,
    };
    proxy::page(req, &ctx).await
}

async fn api(req: Request, ctx: &Ctx<'_>, origin: Option<&str>) -> Result<Response> {
    let path = req.path();
    let method = req.method();
    let method_name = method.to_string();
    let result = match (path.as_str(), method) {
        ("/v1/collect", Method::Post) => api::collect(req, ctx).await,
        ("/v1/collect", m) => Err(ApiError::method_not_allowed(m.as_ref(), "POST").into()),
        ("/v1/decide", Method::Get | Method::Head) => api::decide(req, ctx).await,
        ("/v1/decide", m) => Err(ApiError::method_not_allowed(m.as_ref(), "GET").into()),
        ("/v1/admin/rules", Method::Get | Method::Head) => admin::get(req, ctx).await,
        ("/v1/admin/rules", Method::Put) => admin::put(req, ctx).await,
        ("/v1/admin/rules", m) => {
            Err(ApiError::method_not_allowed(m.as_ref(), "GET or PUT").into())
        }
        ("/v1/admin/rules/rollback", Method::Post) => admin::rollback(req, ctx).await,
        ("/v1/admin/rules/rollback", m) => {
            Err(ApiError::method_not_allowed(m.as_ref(), "POST").into())
        }
        ("/v1/admin/rules/history", Method::Get | Method::Head) => admin::list(req, ctx).await,
        ("/v1/admin/rules/history", m) => {
            Err(ApiError::method_not_allowed(m.as_ref(), "GET").into())
        }
        ("/v1/health", Method::Get | Method::Head) => health(ctx),
        ("/v1/health", m) => Err(ApiError::method_not_allowed(m.as_ref(), "GET").into()),
        _ => Err(ApiError::not_found(&path).into()),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(Failure::Api(err)) => {
            let resp = http::error(&err)?;
            if err.status == 405 {
                resp.headers().set("allow", allowed_methods(&path))?;
            }
            resp
        }
        Err(Failure::Runtime(err)) => {
            console_error!("{method_name} {path} failed: {err}");
            http::error(&ApiError::unavailable(
                "the worker could not complete this call; try again",
            ))?
        }
    };
    http::with_cors(resp, origin, ctx.settings)
}

fn allowed_methods(path: &str) -> &'static str {
    match path {
        "/v1/collect" | "/v1/admin/rules/rollback" => "POST",
        "/v1/admin/rules" => "GET, PUT",
        _ => "GET",
    }
}

fn health(ctx: &Ctx<'_>) -> std::result::Result<Response, Failure> {
    let body = json!({
        "ok": true,
        "rules": ctx.rules.rules.id(),
        "rules_source": ctx.rules.source.label(),
    });
    Ok(http::json(body.to_string(), 200)?)
}
