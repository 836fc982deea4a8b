//! On SQLite, the hottest reads (`/token`'s session, sign-in's user, sign-up's default role) run
//! on the calling thread, through SQLite's library itself, instead of on the thread sqlx gives
//! each connection.
//!
//! Through sqlx each read is two hand-offs between threads (the statement to the connection's
//! thread, the rows back), each a wake-up through the kernel. During a sign-in flood, with the
//! service in a scheduling group of its own, an HTTP worker and SQLite's thread passed the core
//! back and forth every 20-300 µs, one `/token` read each, and the kernel's network thread waited
//! up to 112 ms behind them: `/token`'s p99 went over 50 ms (README, "Floods and scheduling
//! groups"). A read by key costs tens of microseconds, no longer than the request's other work on
//! the same thread, and in WAL mode a reader never waits for the writer.

use std::sync::Mutex;

use fastauth_core::StoreError;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, ffi};

use crate::rows::Cells;

/// Reader connections to one SQLite file, opened when first needed and kept between reads.
#[derive(Debug)]
pub(crate) struct InlineReads {
    /// The file as an SQLite URI, with the options of `DATABASE_URL` (`mode=…`).
    uri: String,
    idle: Mutex<Vec<Connection>>,
    /// Connections kept idle at most: one per thread that reads at the same time.
    keep: usize,
}

/// One result row, its cells copied out of SQLite.
pub(crate) struct InlineRow(Vec<Value>);

/// A reader that finds the file locked (SQLite recovering its log after a crash) waits this
/// long, holding its thread and the requests behind it, before the read is 503.
const BUSY_TIMEOUT_MS: u32 = 250;

impl InlineReads {
    /// `url` as `Dialect::prepare_url` gives it: `sqlite://FILE?OPTIONS`.
    pub(crate) fn new(url: &str, keep: usize) -> Self {
        let url = url.trim_start_matches("sqlite://");
        let (file, options) = url.split_once('?').unwrap_or((url, ""));
        // A file name's `#` and `%` would end or escape the path in a URI (its `?` cannot occur:
        // the URL's options start at the first).
        let file = file.replace('%', "%25").replace('#', "%23");
        Self { uri: format!("file:{file}?{options}"), idle: Mutex::new(Vec::new()), keep }
    }

    /// The rows of `sql`, its parameters `$1, $2, …` bound to `params`.
    pub(crate) fn rows(&self, sql: &str, params: &[&str]) -> Result<Vec<InlineRow>, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(store_error)?,
        };
        let rows = read(&conn, sql, params).map_err(store_error)?;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
        Ok(rows)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // URI: the options of DATABASE_URL apply (`mode=ro` can only narrow the flags).
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.uri, flags)?;
        conn.execute_batch(&format!("pragma busy_timeout = {BUSY_TIMEOUT_MS}; pragma query_only = on"))?;
        Ok(conn)
    }

    /// Closes the idle connections (tests, shutdown).
    pub(crate) fn close(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn read(conn: &Connection, sql: &str, params: &[&str]) -> rusqlite::Result<Vec<InlineRow>> {
    let mut statement = conn.prepare_cached(sql)?;
    let columns = statement.column_count();
    let mut found = statement.query(rusqlite::params_from_iter(params))?;
    let mut rows = Vec::new();
    while let Some(row) = found.next()? {
        rows.push(InlineRow((0..columns).map(|at| row.get(at)).collect::<Result<_, _>>()?));
    }
    Ok(rows)
}

/// A file that cannot be opened or stays locked is unavailable (503), as a pool's connection
/// that cannot be had; anything else is a fault.
fn store_error(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked | ffi::ErrorCode::CannotOpen) => {
            StoreError::Unavailable
        }
        _ => StoreError::Other(err.into()),
    }
}

impl Cells for InlineRow {
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

impl InlineRow {
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
