//! The Workers entry point and routing.

mod http;
mod proxy;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::api_error::ApiError;
use crate::rewrite::{loader_tag, PagePlan};
use crate::settings::{names, Settings};

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

fn settings(env: &Env) -> Settings {
    Settings::from_vars(
        var(env, names::SITES).as_deref(),
        var(env, names::ALLOWED_ORIGINS).as_deref(),
        var(env, names::ORIGIN).as_deref(),
        var(env, names::RULES_CACHE_SECONDS).as_deref(),
    )
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let settings = settings(&env);
    let path = req.path();
    if req.method() == Method::Options && path.starts_with("/v1/") {
        return http::preflight(&req, &settings);
    }
    if path.starts_with("/v1/") {
        return api(req, &settings).await;
    }
    page(req, &env, &settings).await
}

async fn api(req: Request, settings: &Settings) -> Result<Response> {
    let path = req.path();
    let resp = match (req.method(), path.as_str()) {
        (Method::Get, "/v1/health") => http::json(r#"{"ok":true}"#.to_owned(), 200)?,
        _ => http::error(&ApiError::not_found(&path))?,
    };
    http::with_cors(resp, &req, settings)
}

async fn page(req: Request, env: &Env, settings: &Settings) -> Result<Response> {
    let is_get = req.method() == Method::Get;
    let upstream = proxy::fetch_upstream(req, env, settings).await?;
    if !is_get || !proxy::is_html(&upstream) {
        return Ok(upstream);
    }
    let plan = PagePlan {
        loader_tag: Some(loader_tag(settings.proxy_site())),
        ..PagePlan::default()
    };
    proxy::personalise(upstream, plan, &[])
}
