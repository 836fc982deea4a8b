//! A statement's parameters as values, so that the same list binds to a sqlx query and to a
//! statement run on SQLite directly (`sqlite_direct`).

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::AnyQuery;

/// One parameter: the two kinds the schema stores (times are milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

/// Parameters `$1, $2, …` in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Args(Vec<Arg>);

impl Args {
    /// Adds the next parameter.
    pub(crate) fn add(mut self, value: impl Into<Arg>) -> Self {
        self.0.push(value.into());
        self
    }

    /// `$n`'s value (`n` from 1).
    pub(crate) fn get(&self, n: usize) -> Option<&Arg> {
        n.checked_sub(1).and_then(|at| self.0.get(at))
    }

    /// `sql` with these parameters, for sqlx.
    pub(crate) fn query(&self, sql: &'static str) -> AnyQuery<'_> {
        self.0.iter().fold(sqlx::query(sql), |query, arg| match arg {
            Arg::Int(n) => query.bind(*n),
            Arg::Text(s) => query.bind(s.as_deref()),
        })
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(Some(n))
    }
}

impl From<Option<i64>> for Arg {
    fn from(n: Option<i64>) -> Self {
        Arg::Int(n)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(Some(s.to_owned()))
    }
}

impl From<Option<&str>> for Arg {
    fn from(s: Option<&str>) -> Self {
        Arg::Text(s.map(str::to_owned))
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(Some(s))
    }
}

impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        Arg::Text(s)
    }
}

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Arg::Int(Some(n)) => ValueRef::Integer(*n),
            Arg::Text(Some(s)) => ValueRef::Text(s.as_bytes()),
            Arg::Int(None) | Arg::Text(None) => ValueRef::Null,
        }))
    }
}
