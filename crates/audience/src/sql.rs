//! The little of SQL the store needs, as a trait two backends implement: a Durable Object's
//! synchronous `SqlStorage::exec` in the worker, and SQLite through `rusqlite` for native tests
//! and benchmarks.
//!
//! The store's SQL stays within what both accept: plain SQLite 3 (upserts, `RETURNING`, partial
//! indexes, row values), no extensions, one statement a call, at most [`MAX_PARAMS`] bound
//! parameters, and no `BEGIN`/`COMMIT` of its own (a Durable Object refuses them): transactions
//! are the backend's, through [`Sql::atomic`].

use std::fmt;

use crate::error::Error;

/// Most bound parameters in one statement: the Durable Object SQL limit.
pub const MAX_PARAMS: usize = 100;

/// A value passed to or read from SQL. A Durable Object gives every number back as a
/// JavaScript number, so readers accept an integral [`Value::Real`] where they want an
/// integer ([`Value::as_i64`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer (within ±2^53 for a Durable Object).
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The value as an integer, if it is one (or an integral real).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    /// The value as a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Real(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Integer(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// A row of a result, its columns in the order the query selects them.
pub type Row = Vec<Value>;

/// A statement the backend could not run: the storage's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError(pub String);

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

impl std::error::Error for SqlError {}

/// A SQLite database the store runs on.
pub trait Sql {
    /// Runs one statement with `?` parameters (at most [`MAX_PARAMS`]) and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError>;

    /// Runs `f` as one transaction: when it returns `Ok` its writes commit together, when it
    /// returns `Err` none of them does. In a Durable Object this is
    /// `ctx.storage.transactionSync`; the store never awaits inside it.
    fn atomic<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error>;

    /// Runs one statement for its effect.
    fn run(&self, sql: &str, params: &[Value]) -> Result<(), SqlError> {
        self.query(sql, params).map(drop)
    }
}

/// Reading typed columns out of a row; a value of the wrong type is a corrupt store.
pub(crate) trait RowExt {
    fn int(&self, i: usize) -> Result<i64, Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Error>;
    fn text(&self, i: usize) -> Result<&str, Error>;
    fn opt_text(&self, i: usize) -> Result<Option<&str>, Error>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>, Error>;
}

fn column(row: &Row, i: usize) -> Result<&Value, Error> {
    row.get(i)
        .ok_or_else(|| Error::Corrupt(format!("a row has no column {i}")))
}

fn wrong(what: &str, v: &Value) -> Error {
    Error::Corrupt(format!("expected {what}, found {v:?}"))
}

impl RowExt for Row {
    fn int(&self, i: usize) -> Result<i64, Error> {
        let v = column(self, i)?;
        v.as_i64().ok_or_else(|| wrong("an integer", v))
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, Error> {
        let v = column(self, i)?;
        if v.is_null() {
            return Ok(None);
        }
        v.as_i64().map(Some).ok_or_else(|| wrong("an integer", v))
    }

    fn text(&self, i: usize) -> Result<&str, Error> {
        let v = column(self, i)?;
        v.as_str().ok_or_else(|| wrong("text", v))
    }

    fn opt_text(&self, i: usize) -> Result<Option<&str>, Error> {
        let v = column(self, i)?;
        if v.is_null() {
            return Ok(None);
        }
        v.as_str().map(Some).ok_or_else(|| wrong("text", v))
    }

    fn opt_real(&self, i: usize) -> Result<Option<f64>, Error> {
        let v = column(self, i)?;
        if v.is_null() {
            return Ok(None);
        }
        v.as_f64().map(Some).ok_or_else(|| wrong("a number", v))
    }
}
