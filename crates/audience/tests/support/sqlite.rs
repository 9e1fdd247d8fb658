//! The native backend of the store's SQL trait: SQLite (bundled) through `rusqlite`, held to
//! what a Durable Object's SQLite storage accepts (at most 100 bound parameters, no transaction
//! statements of the store's own). Shared by the tests and the benchmarks.

use std::cell::Cell;

use intent_audience::{Error, Row, Sql, SqlError, Value, MAX_PARAMS};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// A SQLite database in memory.
pub struct Sqlite {
    conn: rusqlite::Connection,
    depth: Cell<u32>,
    /// Give every number back as a real, as a Durable Object gives JavaScript numbers.
    numbers_as_reals: bool,
    /// Fail the statement after this many more succeed (to test that a failure changes nothing).
    fail_after: Cell<Option<u32>>,
}

impl Sqlite {
    pub fn memory() -> Sqlite {
        let conn = rusqlite::Connection::open_in_memory().expect("SQLite opens in memory");
        Sqlite {
            conn,
            depth: Cell::new(0),
            numbers_as_reals: false,
            fail_after: Cell::new(None),
        }
    }

    /// A database that reads numbers back as a Durable Object does.
    #[allow(dead_code)]
    pub fn like_durable_object() -> Sqlite {
        Sqlite {
            numbers_as_reals: true,
            ..Sqlite::memory()
        }
    }

    /// Makes the statement after the next `n` fail once.
    #[allow(dead_code)]
    pub fn fail_after(&self, n: u32) {
        self.fail_after.set(Some(n));
    }
}

fn to_sql(v: &Value) -> ToSqlOutput<'_> {
    match v {
        Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
        Value::Integer(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
        Value::Real(f) => ToSqlOutput::Owned(rusqlite::types::Value::Real(*f)),
        Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(to_sql(self.0))
    }
}

impl Sql for Sqlite {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        if params.len() > MAX_PARAMS {
            return Err(SqlError(format!(
                "{} bound parameters; a Durable Object allows {MAX_PARAMS}",
                params.len()
            )));
        }
        let first = sql.split_whitespace().next().unwrap_or("");
        if ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"]
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k))
        {
            return Err(SqlError(format!(
                "`{first}`: a Durable Object runs no transaction statements"
            )));
        }
        if let Some(n) = self.fail_after.get() {
            if n == 0 {
                self.fail_after.set(None);
                return Err(SqlError(
                    "the storage failed (as the test asked)".to_owned(),
                ));
            }
            self.fail_after.set(Some(n - 1));
        }
        let err = |e: rusqlite::Error| SqlError(format!("{e} in {sql}"));
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(Param)))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) if self.numbers_as_reals => Value::Real(n as f64),
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn atomic<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        if self.depth.get() > 0 {
            // Already in this backend's transaction: part of it.
            return f();
        }
        let run = |sql: &str| {
            self.conn
                .execute_batch(sql)
                .map_err(|e| Error::Storage(SqlError(e.to_string())))
        };
        run("BEGIN IMMEDIATE")?;
        self.depth.set(1);
        let result = f();
        self.depth.set(0);
        match result {
            Ok(v) => {
                run("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                run("ROLLBACK")?;
                Err(e)
            }
        }
    }
}
