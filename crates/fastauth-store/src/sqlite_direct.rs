//! On SQLite, the hottest statements run through SQLite's library itself instead of on the thread
//! sqlx gives each connection: the reads (`/token`'s session, sign-in's user, sign-up's default
//! role) on the calling thread, and the one-call writes (sign-in's and sign-up's transactions,
//! refresh's rotation) on a blocking thread, on the writer's own connection.
//!
//! Through sqlx each read is two hand-offs between threads (the statement to the connection's
//! thread, the rows back), each a wake-up through the kernel. During a sign-in flood, with the
//! service in a scheduling group of its own, an HTTP worker and SQLite's thread passed the core
//! back and forth every 20-300 µs, one `/token` read each, and the kernel's network thread waited
//! up to 112 ms behind them: `/token`'s p99 went over 50 ms (bench/FINDINGS.md, "Floods and scheduling
//! groups"). A read by key costs tens of microseconds, no longer than the request's other work on
//! the same thread, and in WAL mode a reader never waits for the writer.
//!
//! A write through sqlx is worse: at 200 sign-ins/s the HTTP workers went to sleep 13 times a
//! sign-in and SQLite's thread was preempted 11 times, however few its statements (bench/FINDINGS.md). Here
//! it is one hand-off each way (3 sleeps, no preemption). The caller holds sqlx's writer
//! connection meanwhile, so writes still take their turns one at a time and never meet SQLite's
//! lock.

use std::sync::{Mutex, MutexGuard};

use fastauth_core::StoreError;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Rows, ffi};

use crate::args::Args;
use crate::dialect::{SQLITE_PRAGMAS, constraint};
use crate::rows::Cells;

/// Connections to one SQLite file, opened when first needed and kept between statements.
#[derive(Debug)]
pub(crate) struct DirectSqlite {
    /// The file as an SQLite URI, with the options of `DATABASE_URL` (`mode=…`).
    uri: String,
    readers: Mutex<Vec<Connection>>,
    /// Readers kept idle at most: one per thread that reads at the same time.
    keep: usize,
    /// The connection of the one-call writes.
    writer: Mutex<Option<Connection>>,
}

/// One result row, its cells copied out of SQLite.
#[derive(Debug)]
pub(crate) struct DirectRow(Vec<Value>);

/// Compiled statements kept per connection: room to spare over the dozen of the writes.
const STATEMENTS_KEPT: usize = 32;

/// A reader that finds the file locked (SQLite recovering its log after a crash) waits this
/// long, holding its thread and the requests behind it, before the read is 503.
const BUSY_TIMEOUT_MS: u32 = 250;

impl DirectSqlite {
    /// `url` as `Dialect::prepare_url` gives it: `sqlite://FILE?OPTIONS`.
    pub(crate) fn new(url: &str, keep: usize) -> Self {
        let url = url.trim_start_matches("sqlite://");
        let (file, options) = url.split_once('?').unwrap_or((url, ""));
        // A file name's `#` and `%` would end or escape the path in a URI (its `?` cannot occur:
        // the URL's options start at the first).
        let file = file.replace('%', "%25").replace('#', "%23");
        Self { uri: format!("file:{file}?{options}"), readers: Mutex::new(Vec::new()), keep, writer: Mutex::new(None) }
    }

    /// The rows of `sql`, its parameters `$1, $2, …` bound to `params`.
    pub(crate) fn rows(&self, sql: &str, params: &[&str]) -> Result<Vec<DirectRow>, StoreError> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open(&format!("pragma busy_timeout = {BUSY_TIMEOUT_MS}; pragma query_only = on"))?,
        };
        let mut statement = conn.prepare_cached(sql).map_err(store_error)?;
        let found = statement.query(rusqlite::params_from_iter(params)).map_err(store_error)?;
        let rows = copy_rows(found).map_err(store_error)?;
        drop(statement);
        let mut idle = lock(&self.readers);
        if idle.len() < self.keep {
            idle.push(conn);
        }
        Ok(rows)
    }

    /// Runs `sql`, a whole transaction (one statement, or several between `begin immediate` and
    /// `commit`), its parameters `$1, $2, …` taken from `args`, and gives the rows its statements
    /// return. It blocks: call it off the
    /// async workers, holding the writer's turn. A statement that fails rolls it all back.
    pub(crate) fn write(&self, sql: &str, args: &Args) -> Result<Vec<DirectRow>, StoreError> {
        let mut writer = lock(&self.writer);
        let conn = match writer.take() {
            Some(conn) => conn,
            None => self.open(SQLITE_PRAGMAS)?,
        };
        let written = run(&conn, sql, args);
        // Where the rollback fails the connection is broken: the next write opens another.
        if conn.is_autocommit() || conn.execute_batch("rollback").is_ok() {
            *writer = Some(conn);
        }
        written.map_err(store_error)
    }

    fn open(&self, pragmas: &str) -> Result<Connection, StoreError> {
        // URI: the options of DATABASE_URL apply (`mode=ro` can only narrow the flags).
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.uri, flags).map_err(store_error)?;
        // rusqlite's default (16) leaves little room.
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        conn.execute_batch(pragmas).map_err(store_error)?;
        Ok(conn)
    }

    /// Closes the idle connections (tests, shutdown).
    pub(crate) fn close(&self) {
        lock(&self.readers).clear();
        lock(&self.writer).take();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The statements of `sql` one after another, each bound to the parameters it names.
fn run(conn: &Connection, sql: &str, args: &Args) -> rusqlite::Result<Vec<DirectRow>> {
    let mut rows = Vec::new();
    for text in statements(sql) {
        let mut statement = conn.prepare_cached(text)?;
        for at in 1..=statement.parameter_count() {
            let name = statement.parameter_name(at).unwrap_or_default().to_owned();
            let arg = name.strip_prefix('$').and_then(|n| n.parse().ok()).and_then(|n| args.get(n));
            statement.raw_bind_parameter(at, arg.ok_or(rusqlite::Error::InvalidParameterName(name))?)?;
        }
        rows.extend(copy_rows(statement.raw_query())?);
    }
    Ok(rows)
}

/// `sql` cut at each `;` outside a quoted string (fastauth's own statements: no comments).
fn statements(sql: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    sql.split(move |c| {
        quoted ^= c == '\'';
        c == ';' && !quoted
    })
    .map(str::trim)
    .filter(|s| !s.is_empty())
}

fn copy_rows(mut found: Rows<'_>) -> rusqlite::Result<Vec<DirectRow>> {
    let columns = found.as_ref().map_or(0, |s| s.column_count());
    let mut rows = Vec::new();
    while let Some(row) = found.next()? {
        rows.push(DirectRow((0..columns).map(|at| row.get(at)).collect::<Result<_, _>>()?));
    }
    Ok(rows)
}

/// A file that cannot be opened or stays locked is unavailable (503), as a pool's connection
/// that cannot be had; a taken unique value is the conflict it names; anything else is a fault.
fn store_error(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &err {
        let unique =
            [ffi::SQLITE_CONSTRAINT_UNIQUE, ffi::SQLITE_CONSTRAINT_PRIMARYKEY].contains(&failure.extended_code);
        if let Some(c) = constraint(message).filter(|_| unique) {
            return StoreError::Conflict(c);
        }
    }
    match err.sqlite_error_code() {
        Some(ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked | ffi::ErrorCode::CannotOpen) => {
            StoreError::Unavailable
        }
        _ => StoreError::Other(err.into()),
    }
}

impl Cells for DirectRow {
    fn int(&self, at: usize) -> Result<Option<i64>, sqlx::Error> {
        match self.cell(at)? {
            Value::Null => Ok(None),
            Value::Integer(n) => Ok(Some(*n)),
            _ => Err(mismatch(at, "an integer")),
        }
    }

    fn text(&self, at: usize) -> Result<Option<String>, sqlx::Error> {
        match self.cell(at)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            _ => Err(mismatch(at, "text")),
        }
    }
}

impl DirectRow {
    fn cell(&self, at: usize) -> Result<&Value, sqlx::Error> {
        self.0.get(at).ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds { index: at, len: self.0.len() })
    }
}

fn mismatch(at: usize, expected: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: at.to_string(), source: format!("expected {expected}").into() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use std::time::{Duration, Instant};

    use fastauth_core::error::Constraint;
    use fastauth_core::model::NewRole;
    use fastauth_core::ports::{RoleStore, Store};
    use time::OffsetDateTime;

    use super::*;
    use crate::testing::TestDb;
    use crate::{PoolSettings, SqlStore};

    fn role(name: &str) -> NewRole {
        let permissions = vec!["a:read".into()];
        NewRole {
            id: None,
            role_name: name.into(),
            permissions,
            department_name: None,
            department_id: None,
            application: None,
        }
    }

    async fn hot_read_of(store: &SqlStore, name: &str) -> Option<Vec<String>> {
        store.find_role_by_name(name, None).await.expect("read").map(|r| r.permissions)
    }

    /// A reader neither waits for a write in progress nor misses it once it is committed: a
    /// revoked session must fail `/token` at once.
    #[tokio::test]
    async fn reads_see_commits_at_once_and_never_wait_for_the_writer() {
        let db = TestDb::sqlite().await;
        let store = &db.store;
        store.create_roles(&[role("reader")], OffsetDateTime::now_utc()).await.expect("role");
        assert_eq!(hot_read_of(store, "reader").await, Some(vec!["a:read".to_owned()]));

        let mut tx = store.begin().await.expect("write transaction");
        sqlx::query("update roles set permissions = '[\"b:write\"]' where role_name = 'reader'")
            .execute(&mut *tx)
            .await
            .expect("update");
        let started = Instant::now();
        assert_eq!(hot_read_of(store, "reader").await, Some(vec!["a:read".to_owned()]), "not yet committed");
        assert!(started.elapsed() < Duration::from_millis(BUSY_TIMEOUT_MS.into()), "the read did not wait");
        tx.commit().await.expect("commit");
        assert_eq!(hot_read_of(store, "reader").await, Some(vec!["b:write".to_owned()]), "committed");
    }

    /// A statement that fails ends its transaction: nothing of it stays, and nothing is left open
    /// for the next write, on this connection or on sqlx's.
    #[tokio::test]
    async fn a_failed_write_rolls_back_and_leaves_nothing_open() {
        let db = TestDb::sqlite().await;
        let direct = db.store.direct.clone().expect("SQLite");
        let insert = "insert into roles (role_name, created_at, updated_at) values ($1, 0, 0)";
        let twice = format!("begin immediate; {insert}; {insert}; commit");
        let name = Args::default().add("twice");
        let err = direct.write(&twice, &name).expect_err("the second insert is refused");
        assert!(matches!(err, StoreError::Conflict(Constraint::RoleName)), "{err:?}");
        assert_eq!(hot_read_of(&db.store, "twice").await, None, "the first insert was rolled back");

        let started = Instant::now();
        db.store.create_roles(&[role("twice")], OffsetDateTime::now_utc()).await.expect("a write through sqlx");
        assert!(started.elapsed() < Duration::from_secs(1), "it waited {:?}", started.elapsed());
        let update = "begin immediate; update roles set permissions = '[\"b:write\"]' where role_name = $1; commit";
        direct.write(update, &name).expect("the connection writes again");
        assert_eq!(hot_read_of(&db.store, "twice").await, Some(vec!["b:write".to_owned()]));
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes() {
        let sql = "begin immediate; insert into t values ('a;b', 'it''s;'); commit";
        let found: Vec<_> = statements(sql).collect();
        assert_eq!(found, ["begin immediate", "insert into t values ('a;b', 'it''s;')", "commit"]);
    }

    /// A file another process holds locked is 503 after the busy timeout, never a hang or a 500.
    #[tokio::test]
    async fn a_file_locked_by_another_is_unavailable() {
        let db = TestDb::sqlite().await;
        db.store.close().await; // the other takes the file's lock only when no one has it open
        let other = Connection::open(db.url.trim_start_matches("sqlite://")).expect("open");
        other.execute_batch("pragma locking_mode = exclusive; delete from roles").expect("lock");
        let store = SqlStore::connect(&db.url, &PoolSettings::default()).expect("url");
        let started = Instant::now();
        let read = store.find_role_by_name("anything", None).await;
        assert!(matches!(read, Err(StoreError::Unavailable)), "{read:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        drop(other);
        assert_eq!(hot_read_of(&store, "anything").await, None, "read again once the lock is gone");
    }

    /// `#` and `%` in a file name are a name, not a URI's fragment or escape.
    #[tokio::test]
    async fn file_names_with_uri_characters() {
        let dir = std::env::temp_dir().join(format!("fastauth #1 100%-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/fastauth.db", dir.display());
        let store = SqlStore::connect(&url, &PoolSettings::default()).expect("url");
        store.migrate().await.expect("migrate");
        store.create_roles(&[role("named")], OffsetDateTime::now_utc()).await.expect("role");
        assert_eq!(hot_read_of(&store, "named").await, Some(vec!["a:read".to_owned()]));
        store.close().await;
        let files: Vec<_> = std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert!(files.iter().all(|f| f.to_string_lossy().starts_with("fastauth.db")), "{files:?}");
        std::fs::remove_dir_all(dir).expect("clean up");
    }
}
