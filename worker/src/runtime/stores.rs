//! Calls from the worker to a site's `AudienceStore` objects (`crate::audience::store_api`),
//! by the queue consumer, the admin routes, a publish and the cron.

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use worker::{Env, Headers, Method, ObjectNamespace, Request, RequestInit, Response};

use crate::api_error::ApiError;
use crate::audience::{names, store_api, AudienceSettings};

/// The store objects, as the isolate's settings and rules see them. Owns what it needs, so
/// that a streamed answer can keep calling after its handler has returned.
pub struct Stores {
    ns: ObjectNamespace,
    /// The settings of the audience layer.
    pub settings: AudienceSettings,
    rules_id: String,
}

/// The `{"error", "message"}` of a store's error answer.
#[derive(serde::Deserialize)]
struct StoreError {
    error: String,
    message: String,
}

impl Stores {
    /// The stores, or why the audience layer cannot be used (a var unusable, the Durable Object
    /// binding missing). `rules_id` names the rules the caller runs with.
    pub fn open(
        env: &Env,
        settings: &Result<AudienceSettings, String>,
        rules_id: &str,
    ) -> Result<Stores, ApiError> {
        let settings = settings
            .as_ref()
            .map_err(|reason| ApiError::audiences_off(reason))?;
        let ns = env.durable_object(names::STORE).map_err(|_| {
            ApiError::not_configured(format!(
                "the audience store's Durable Object binding `{}` is missing from wrangler.toml",
                names::STORE
            ))
        })?;
        Ok(Stores {
            ns,
            settings: settings.clone(),
            rules_id: rules_id.to_owned(),
        })
    }

    /// One call to the object `object`: `op` with `query`, and `body` for a `POST`. A store's
    /// error answer becomes the matching `ApiError`.
    pub async fn call(
        &self,
        object: &str,
        method: Method,
        op: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Response, ApiError> {
        let mut url = format!("{}{op}", store_api::ORIGIN);
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        let unavailable = |e: worker::Error| {
            ApiError::unavailable(format!("the audience store did not answer: {e}; try again"))
        };
        let headers = Headers::new();
        if !self.rules_id.is_empty() {
            headers
                .set(store_api::RULES, &self.rules_id)
                .map_err(unavailable)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers);
        if let Some(body) = body {
            init.with_body(Some(body.into()));
        }
        let req = Request::new_with_init(&url, &init).map_err(unavailable)?;
        let stub = self.ns.get_by_name(object).map_err(unavailable)?;
        let mut resp = stub.fetch_with_request(req).await.map_err(unavailable)?;
        let status = resp.status_code();
        if status < 400 {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<StoreError>(&text) {
            Ok(e) => ApiError::from_store(status, &e.error, e.message),
            Err(_) => ApiError::from_store(status, "unavailable", format!("status {status}")),
        })
    }

    /// [`Stores::call`], reading the answer as JSON.
    pub async fn json<T: DeserializeOwned>(
        &self,
        object: &str,
        method: Method,
        op: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<T, ApiError> {
        let mut resp = self.call(object, method, op, query, body).await?;
        let text = resp.text().await.map_err(|e| {
            ApiError::unavailable(format!("reading the audience store's answer: {e}"))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            ApiError::unavailable(format!("the audience store's answer is unreadable: {e}"))
        })
    }

    /// The same call to every shard of `site` at once, answers in shard order.
    pub async fn each<T: DeserializeOwned>(
        &self,
        site: &str,
        method: Method,
        op: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ApiError> {
        let objects = self.settings.objects(site);
        let calls = objects
            .iter()
            .map(|object| self.json::<T>(object, method.clone(), op, query, None));
        join_all(calls).await.into_iter().collect()
    }
}
