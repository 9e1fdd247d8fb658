//! The Intent Edge worker: the edge half of the product, on Cloudflare Workers.
//!
//! It answers the snippet's calls (`POST /v1/collect`, `GET /v1/decide`), serves the snippet
//! files, personalises pages in proxy mode while streaming them, and lets operators read and
//! publish the tier rules (`/v1/admin/rules`). All the product logic lives in the engine
//! (`intent-engine`); this crate is the adapter between it and HTTP, KV and the assets.
//!
//! The modules at the top level are pure and build on every target, so `cargo test` checks
//! them natively; `runtime` talks to the Workers runtime and only exists on `wasm32`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api_error;
pub mod audience;
pub mod auth;
pub mod cookie;
pub mod headers;
pub mod history;
pub mod ingest;
pub mod privacy;
pub mod request;
pub mod rewrite;
pub mod routes;
pub mod rules_cache;
pub mod settings;
pub mod visitor;

#[cfg(target_arch = "wasm32")]
pub mod runtime;
