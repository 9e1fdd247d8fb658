//! Errors the API answers with: a 4xx status and a JSON body `{"error": CODE, "message": TEXT}`.
//! The code is stable for programs; the message says what was wrong and what to do.

use serde::Serialize;

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: u16,
    /// Stable machine-readable code.
    pub error: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

/// Largest request body the API reads (64 KiB); larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Most characters of a request's own text (a path, a site id, an origin, a content type)
/// that an error message repeats back.
pub const MAX_ECHO_CHARS: usize = 100;

/// `value` as an error message repeats it: at most [`MAX_ECHO_CHARS`] characters, the rest
/// replaced by `…`. A client that sends kilobytes in a path or a header gets a short answer,
/// and the message stays readable.
pub fn echo(value: &str) -> String {
    match value.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

impl ApiError {
    fn new(status: u16, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    /// The body is not valid JSON or not the expected shape.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// The body is not UTF-8.
    pub fn not_utf8() -> Self {
        Self::bad_request("the request body must be UTF-8 encoded JSON")
    }

    /// The `site` is not one of the configured sites.
    pub fn unknown_site(site: &str) -> Self {
        Self::new(
            400,
            "unknown_site",
            format!(
                "site `{}` is not served by this worker; add it to the SITES var",
                echo(site)
            ),
        )
    }

    /// The body is over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "payload_too_large",
            format!("the request body is over {} KiB", limit / 1024),
        )
    }

    /// A content type the API does not read.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "unsupported_media_type",
            format!(
                "content type `{}` is not accepted; send JSON as application/json or text/plain",
                echo(content_type)
            ),
        )
    }

    /// A compressed body (`Content-Encoding: gzip`, or gzip's bytes without the header): the
    /// API reads plain JSON only. `encoding` is the header's value, `None` when only the bytes
    /// gave it away.
    pub fn unsupported_encoding(encoding: Option<&str>) -> Self {
        let what = match encoding {
            Some(e) => format!("content encoding `{}`", echo(e)),
            None => "a gzip-compressed body".to_owned(),
        };
        Self::new(
            415,
            "unsupported_encoding",
            format!("{what} is not supported; send the JSON uncompressed"),
        )
    }

    /// The browser's origin is not in `ALLOWED_ORIGINS`.
    pub fn origin_not_allowed(origin: &str) -> Self {
        Self::new(
            403,
            "origin_not_allowed",
            format!(
                "origin `{}` may not call this API; add it to the ALLOWED_ORIGINS var",
                echo(origin)
            ),
        )
    }

    /// No or a wrong bearer token on an admin route.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "unauthorized",
            "send `Authorization: Bearer <ADMIN_TOKEN>`",
        )
    }

    /// The admin API has no token configured, so it is closed.
    pub fn admin_disabled() -> Self {
        Self::new(
            403,
            "admin_disabled",
            "the admin API is disabled: set its token with `wrangler secret put ADMIN_TOKEN`",
        )
    }

    /// The admin token is set but too short to be safe, so the admin API stays closed.
    pub fn admin_token_too_short(min_chars: usize) -> Self {
        Self::new(
            403,
            "admin_disabled",
            format!(
                "the admin API is disabled: ADMIN_TOKEN is shorter than {min_chars} characters; \
                 set a long random one with `openssl rand -hex 32 | wrangler secret put ADMIN_TOKEN`"
            ),
        )
    }

    /// A rules config failed validation; `message` names the line and field.
    pub fn invalid_rules(message: impl Into<String>) -> Self {
        Self::new(422, "invalid_rules", message)
    }

    /// No such route.
    pub fn not_found(path: &str) -> Self {
        Self::new(404, "not_found", format!("no API route `{}`", echo(path)))
    }

    /// The route exists but not for this method.
    pub fn method_not_allowed(method: &str, allowed: &str) -> Self {
        Self::new(
            405,
            "method_not_allowed",
            format!("{} is not allowed here; use {allowed}", echo(method)),
        )
    }

    /// Nothing to roll back to.
    pub fn no_previous_rules() -> Self {
        Self::new(
            409,
            "no_previous_rules",
            "there is no previous rules version to roll back to",
        )
    }

    /// A version id that the history does not keep.
    pub fn unknown_version(id: &str) -> Self {
        Self::new(
            404,
            "unknown_version",
            format!(
                "no rules version `{}` is kept; GET /v1/admin/rules/history lists the versions",
                echo(id)
            ),
        )
    }

    /// A rollback to the version that is already active.
    pub fn already_active(id: &str) -> Self {
        Self::new(
            409,
            "already_active",
            format!("`{}` is already the active rules version", echo(id)),
        )
    }

    /// A query parameter of an admin route that it does not read, or one given twice.
    pub fn unknown_parameter(name: &str, known: &str) -> Self {
        Self::bad_request(format!(
            "unknown query parameter `{}`; this route reads {known}",
            echo(name)
        ))
    }

    /// A `version` that is neither `previous` nor written like a version id.
    pub fn bad_version(value: &str) -> Self {
        Self::bad_request(format!(
            "`version`: expected `previous` or a version id like `default@1c63f927` (GET /v1/admin/rules/history lists them), found `{}`",
            echo(value)
        ))
    }

    /// The worker lacks a secret it needs; the operator has to act.
    pub fn not_configured(message: impl Into<String>) -> Self {
        Self::new(503, "not_configured", message)
    }

    /// A storage call failed; nothing was changed and the call can be retried.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "unavailable", message)
    }

    /// The audience layer is off because one of its vars is unusable (`reason` names it).
    pub fn audiences_off(reason: &str) -> Self {
        Self::not_configured(format!("the audience store is off: {reason}"))
    }

    /// An error a site's audience store answered (or `intent_audience` gave): its client errors
    /// as they are, anything else as `503 unavailable` (the store failed; nothing changed).
    pub fn from_store(status: u16, code: &str, message: impl Into<String>) -> Self {
        let error = match code {
            "bad_request" => "bad_request",
            "unknown_audience" => "unknown_audience",
            "unknown_visitor" => "unknown_visitor",
            _ => "unavailable",
        };
        if (400..500).contains(&status) && error != "unavailable" {
            Self::new(status, error, message)
        } else {
            Self::unavailable(format!(
                "the audience store failed: {}; try again",
                message.into()
            ))
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(r#"{{"error":"{}","message":"(unprintable)"}}"#, self.error)
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<intent_audience::Error> for ApiError {
    fn from(err: intent_audience::Error) -> Self {
        ApiError::from_store(err.status(), err.code(), err.to_string())
    }
}

/// Checks a request's content type for the JSON endpoints. Browsers' `sendBeacon` and
/// `fetch(..., {keepalive: true})` send `text/plain` to avoid a CORS preflight, so plain
/// text is read as JSON too; form encodings are refused.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" | "text/plain" => Ok(()),
        e if e.ends_with("+json") => Ok(()),
        _ => Err(ApiError::unsupported_media_type(ct)),
    }
}

/// Checks a request's `Content-Encoding`: none (or `identity`) only.
pub fn check_content_encoding(encoding: Option<&str>) -> Result<(), ApiError> {
    match encoding.map(str::trim) {
        None | Some("") => Ok(()),
        Some(e) if e.eq_ignore_ascii_case("identity") => Ok(()),
        Some(e) => Err(ApiError::unsupported_encoding(Some(e))),
    }
}

/// A body that is not UTF-8: gzip's bytes (sent without their `Content-Encoding`) are named
/// as such, anything else is asked for as UTF-8.
pub fn not_utf8_body(bytes: &[u8]) -> ApiError {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        ApiError::unsupported_encoding(None)
    } else {
        ApiError::not_utf8()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let e = ApiError::too_large(MAX_BODY_BYTES);
        assert_eq!(e.status, 413);
        assert_eq!(
            e.to_json(),
            r#"{"error":"payload_too_large","message":"the request body is over 64 KiB"}"#
        );
    }

    /// Issue 20, item 13: a gzip-encoded body was answered "must be UTF-8 encoded JSON".
    #[test]
    fn issue_20_13_a_gzip_body_is_a_415_saying_the_encoding_is_not_supported() {
        assert!(check_content_encoding(None).is_ok());
        assert!(check_content_encoding(Some("identity")).is_ok());
        let e = check_content_encoding(Some("gzip")).unwrap_err();
        assert_eq!(e.status, 415);
        assert_eq!(e.error, "unsupported_encoding");
        assert_eq!(
            e.message,
            "content encoding `gzip` is not supported; send the JSON uncompressed"
        );
        let e = not_utf8_body(&[0x1f, 0x8b, 8, 0, 0xff]);
        assert_eq!((e.status, e.error), (415, "unsupported_encoding"));
        assert!(e.message.starts_with("a gzip-compressed body"));
        assert_eq!(not_utf8_body(&[0xff, 0xfe]).status, 400);
    }

    #[test]
    fn long_request_text_is_cut_in_messages() {
        let path = format!("/v1/{}", "é".repeat(5000));
        let msg = ApiError::not_found(&path).message;
        assert!(msg.chars().count() < MAX_ECHO_CHARS + 30, "{msg}");
        assert!(msg.ends_with("…`"), "{msg}");
        assert_eq!(echo("/v1/nope"), "/v1/nope");
        let origin = ApiError::origin_not_allowed(&"o".repeat(20_000)).message;
        assert!(origin.len() < 300);
    }

    #[test]
    fn store_errors_keep_client_errors_and_hide_failures() {
        let e = ApiError::from(intent_audience::parse_window("within", "7 days").unwrap_err());
        assert_eq!((e.status, e.error), (400, "bad_request"));
        assert!(e.message.starts_with("`within`:"), "{}", e.message);
        let e = ApiError::from_store(404, "unknown_audience", "no audience is named `x`");
        assert_eq!((e.status, e.error), (404, "unknown_audience"));
        let e = ApiError::from_store(500, "storage", "storage error: disk full");
        assert_eq!((e.status, e.error), (503, "unavailable"));
        assert!(e.message.contains("disk full"));
        let e = ApiError::from_store(418, "teapot", "?");
        assert_eq!(e.status, 503);
    }

    #[test]
    fn content_types() {
        assert!(check_content_type(None).is_ok());
        assert!(check_content_type(Some("text/plain;charset=UTF-8")).is_ok());
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("application/x-www-form-urlencoded")).is_err());
        assert_eq!(
            check_content_type(Some("multipart/form-data; boundary=x"))
                .unwrap_err()
                .status,
            415
        );
    }
}
