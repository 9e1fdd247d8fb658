//! What can go wrong, as values: bad admin parameters (4xx, naming the field), unknown audiences
//! and visitors (404), and the storage failing (5xx: the queue retries the batch).

use std::fmt;

use crate::sql::SqlError;

/// An error of the audience store. [`Error::status`] and [`Error::to_json`] give the HTTP answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A request parameter cannot be used: `field` names it (`cursor`, `format`, `limit`,
    /// `within`, `since`, `email`, `id`), `message` says what is wrong.
    BadParam {
        /// The parameter.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No tier or segment of the active rules has this name.
    UnknownAudience {
        /// The name asked for.
        name: String,
        /// The audiences there are, tiers first.
        known: Vec<String>,
    },
    /// No visitor with this id is stored.
    UnknownVisitor(String),
    /// No delivery with this id is stored.
    UnknownDelivery(String),
    /// The storage failed; the call changed nothing and may be retried.
    Storage(SqlError),
    /// A stored value cannot be read: a bug or a damaged store, never bad input.
    Corrupt(String),
}

impl Error {
    pub(crate) fn param(field: &'static str, message: impl Into<String>) -> Error {
        Error::BadParam {
            field,
            message: message.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadParam { .. } => 400,
            Error::UnknownAudience { .. }
            | Error::UnknownVisitor(_)
            | Error::UnknownDelivery(_) => 404,
            Error::Storage(_) | Error::Corrupt(_) => 500,
        }
    }

    /// A short code for the answer's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadParam { .. } => "bad_request",
            Error::UnknownAudience { .. } => "unknown_audience",
            Error::UnknownVisitor(_) => "unknown_visitor",
            Error::UnknownDelivery(_) => "unknown_delivery",
            Error::Storage(_) => "storage",
            Error::Corrupt(_) => "corrupt_store",
        }
    }

    /// The answer's body: `{"error": "<code>", "message": "<what is wrong>"}`, with `field`
    /// for a bad parameter.
    pub fn to_json(&self) -> String {
        let mut body = serde_json::json!({"error": self.code(), "message": self.to_string()});
        if let (Error::BadParam { field, .. }, Some(map)) = (self, body.as_object_mut()) {
            map.insert("field".to_owned(), serde_json::Value::from(*field));
        }
        body.to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadParam { field, message } => write!(f, "`{field}`: {message}"),
            Error::UnknownAudience { name, known } => write!(
                f,
                "no audience is named `{name}`; the active rules have {}",
                known.join(", ")
            ),
            Error::UnknownVisitor(id) => write!(f, "no visitor `{id}` is stored"),
            Error::UnknownDelivery(id) => write!(f, "no delivery `{id}` is stored"),
            Error::Storage(e) => write!(f, "{e}"),
            Error::Corrupt(what) => {
                write!(f, "the audience store holds an unreadable value: {what}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Error {
        Error::Storage(e)
    }
}
