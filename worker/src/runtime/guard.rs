//! Who may call a route: the bearer token checks that every `Guard::Admin` and `Guard::Ingest`
//! route of the table gets before its handler runs.

use worker::{console_error, web_sys::Request};

use super::http::header;
use super::isolate::Isolate;
use crate::api_error::ApiError;
use crate::auth::bearer_matches;
use crate::headers::std_names;

/// The shortest admin token the API accepts to open with: 32 characters, as
/// `openssl rand -hex 16` gives. A short one could be guessed, and whoever holds it publishes
/// what every visitor's page shows.
pub const ADMIN_TOKEN_MIN_CHARS: usize = 32;

/// Passes a request carrying `Authorization: Bearer <ADMIN_TOKEN>`; refuses it otherwise, and
/// every request while the token is unset or too short.
pub fn admin(req: &Request, isolate: &Isolate) -> Result<(), ApiError> {
    let expected = isolate
        .admin_token
        .as_deref()
        .ok_or_else(ApiError::admin_disabled)?;
    if expected.chars().count() < ADMIN_TOKEN_MIN_CHARS {
        // Never the token itself, nor its length, in the answer or the log.
        console_error!(
            "ADMIN_TOKEN is too short: the admin API stays closed until it has at least {ADMIN_TOKEN_MIN_CHARS} characters"
        );
        return Err(ApiError::admin_token_too_short(ADMIN_TOKEN_MIN_CHARS));
    }
    if bearer_matches(header(req, std_names::AUTHORIZATION).as_deref(), expected) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// Passes a request carrying `Authorization: Bearer <INGEST_TOKEN>`; refuses it otherwise, and
/// every request while the token is unset or shorter than [`ADMIN_TOKEN_MIN_CHARS`].
pub fn ingest(req: &Request, isolate: &Isolate) -> Result<(), ApiError> {
    let expected = isolate
        .ingest_token
        .as_deref()
        .filter(|t| t.chars().count() >= ADMIN_TOKEN_MIN_CHARS)
        .ok_or_else(|| ApiError::ingest_disabled(ADMIN_TOKEN_MIN_CHARS))?;
    if bearer_matches(header(req, std_names::AUTHORIZATION).as_deref(), expected) {
        Ok(())
    } else {
        Err(ApiError::unauthorized_ingest())
    }
}
