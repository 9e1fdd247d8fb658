//! `intent_audience::Sql` over a Durable Object's SQLite storage: `ctx.storage.sql.exec` for
//! statements and `ctx.storage.transactionSync` for transactions.
//!
//! Parameters cross into JavaScript as one JSON array (`JSON.parse`, spread into `exec`'s
//! variadic bindings) and rows come back as one JSON text (`JSON.stringify` of the cursor's raw
//! rows): two crossings a statement, where converting value by value costs a few per value.
//! The store's tables hold text and numbers only, which JSON carries exactly (integers within
//! ±2^53, as a Durable Object gives them back anyway).

use std::cell::Cell;

use intent_audience::{Error, Row, Sql, SqlError, Value};
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::js_sys::{self, Array};
use worker::worker_sys::{DurableObjectStorage, SqlStorage};

#[wasm_bindgen]
extern "C" {
    /// The object's storage, for the one method of it that workers-rs does not bind.
    #[wasm_bindgen(extends = js_sys::Object)]
    type SyncStorage;

    /// `ctx.storage.transactionSync(callback)`: runs the callback as one transaction, rolled
    /// back when it throws. workers-rs binds only the asynchronous `transaction`.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &SyncStorage,
        callback: &mut dyn FnMut() -> Result<JsValue, JsValue>,
    ) -> Result<JsValue, JsValue>;
}

/// A Durable Object's SQLite database, as the store's `Sql`.
pub struct DoSql {
    storage: SyncStorage,
    sql: SqlStorage,
    /// Transactions open (a nested `atomic` runs inside the outer one).
    depth: Cell<u32>,
    /// Statements until an injected failure (tests only, `AUDIENCE_FAULTS`); 0: none armed.
    fail_in: Cell<u32>,
}

impl DoSql {
    /// The database of the object whose storage this is.
    pub fn new(storage: &worker::Storage) -> DoSql {
        let raw: &DurableObjectStorage = storage.as_raw();
        let sql = raw.sql();
        let storage = AsRef::<JsValue>::as_ref(raw)
            .clone()
            .unchecked_into::<SyncStorage>();
        DoSql {
            storage,
            sql,
            depth: Cell::new(0),
            fail_in: Cell::new(0),
        }
    }

    /// Makes the `n`-th statement from now fail, once (tests only).
    pub fn fail_statement(&self, n: u32) {
        self.fail_in.set(n);
    }

    /// Disarms an injected failure that has not happened.
    pub fn disarm(&self) {
        self.fail_in.set(0);
    }
}

fn js_error(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the storage failed".to_owned())
}

/// The parameters as a JSON array.
fn params_json(params: &[Value]) -> Result<String, SqlError> {
    let mut out = String::with_capacity(16 + params.len() * 16);
    out.push('[');
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match p {
            Value::Null => out.push_str("null"),
            Value::Integer(n) => out.push_str(&n.to_string()),
            Value::Real(f) if f.is_finite() => out.push_str(&f.to_string()),
            Value::Real(_) => out.push_str("null"),
            Value::Text(s) => out.push_str(
                &serde_json::to_string(s).map_err(|e| SqlError(format!("a parameter: {e}")))?,
            ),
            Value::Blob(_) => {
                return Err(SqlError(
                    "a blob parameter: the store's tables hold text and numbers only".to_owned(),
                ))
            }
        }
    }
    out.push(']');
    Ok(out)
}

/// One cell of a row read back from JSON.
struct JsonCell(Value);

impl<'de> Deserialize<'de> for JsonCell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonCell, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JsonCell;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a SQL value")
            }
            fn visit_unit<E>(self) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Null))
            }
            fn visit_none<E>(self) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Null))
            }
            fn visit_bool<E>(self, v: bool) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Integer(i64::from(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Integer(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<JsonCell, E> {
                Ok(JsonCell(
                    i64::try_from(v).map_or(Value::Real(v as f64), Value::Integer),
                ))
            }
            fn visit_f64<E>(self, v: f64) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Real(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Text(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<JsonCell, E> {
                Ok(JsonCell(Value::Text(v)))
            }
        }
        d.deserialize_any(V)
    }
}

impl Sql for DoSql {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        match self.fail_in.get() {
            0 => {}
            1 => {
                self.fail_in.set(0);
                return Err(SqlError(
                    "injected failure (AUDIENCE_FAULTS, tests only)".to_owned(),
                ));
            }
            n => self.fail_in.set(n - 1),
        }
        let bindings: Array = if params.is_empty() {
            Array::new()
        } else {
            js_sys::JSON::parse(&params_json(params)?)
                .map_err(|e| SqlError(js_error(&e)))?
                .unchecked_into()
        };
        let cursor = self
            .sql
            .exec(sql, bindings)
            .map_err(|e| SqlError(js_error(&e)))?;
        let rows = Array::from(&cursor.raw());
        if rows.length() == 0 {
            return Ok(Vec::new());
        }
        let text = js_sys::JSON::stringify(&rows)
            .map_err(|e| SqlError(js_error(&e)))?
            .as_string()
            .unwrap_or_default();
        let rows: Vec<Vec<JsonCell>> =
            serde_json::from_str(&text).map_err(|e| SqlError(format!("reading rows back: {e}")))?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(|c| c.0).collect())
            .collect())
    }

    fn atomic<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        if self.depth.get() > 0 {
            // Already inside a transaction: its commit or rollback covers this too.
            return f();
        }
        let mut f = Some(f);
        let mut out: Option<Result<T, Error>> = None;
        let mut body = || -> Result<JsValue, JsValue> {
            let result = match f.take() {
                Some(f) => f(),
                None => return Err(JsValue::from_str("the transaction ran twice")),
            };
            let failed = result.is_err();
            out = Some(result);
            if failed {
                // Throwing makes transactionSync roll back every write of the callback.
                Err(JsValue::from_str("rolled back"))
            } else {
                Ok(JsValue::UNDEFINED)
            }
        };
        self.depth.set(1);
        let called = self.storage.transaction_sync(&mut body);
        self.depth.set(0);
        match (out, called) {
            (Some(Ok(v)), Ok(_)) => Ok(v),
            (Some(Err(e)), _) => Err(e),
            // The callback succeeded but the commit failed: nothing was written.
            (Some(Ok(_)), Err(e)) | (None, Err(e)) => Err(Error::Storage(SqlError(js_error(&e)))),
            (None, Ok(_)) => Err(Error::Storage(SqlError(
                "the transaction did not run".to_owned(),
            ))),
        }
    }
}
