//! fastauth's store on PostgreSQL and SQLite. One implementation runs on sqlx's `Any` driver:
//! the schemas keep times as integer milliseconds and JSON as text, so every statement is the
//! same text in both dialects; what differs (DDL, connection set-up, error parsing) is in
//! `dialect`.

mod apps;
mod audit;
mod dialect;
pub mod fastauthcore;
mod keys;
mod otp;
mod outbox;
mod purge;
mod reset_tokens;
mod roles;
mod rows;
mod sessions;
mod users;

#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fastauth_core::StoreError;
use fastauth_core::ports::{Store, StoreResult};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Transaction};
use time::OffsetDateTime;

pub use dialect::Dialect;

/// Pool settings (how long a request may wait for a connection before it is 503).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(3) }
    }
}

/// The store, on whichever database `DATABASE_URL` names.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite takes one writer at a time: write transactions wait for this turn.
    write_turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A write transaction, holding the write turn on SQLite until it ends.
pub(crate) struct Tx {
    inner: Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &sqlx::AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}

/// How long a pooled connection may sit idle before it is checked again when taken.
const STALE_AFTER: Duration = Duration::from_secs(1);

impl SqlStore {
    /// Connects lazily: the service starts (and `/readyz` says 503) even while the database is
    /// still down, and every request retries the connection.
    pub fn connect(url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let url = dialect.prepare_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            // sqlx pings every connection both when it is taken and when it comes back, which
            // doubled each query's round trips. It still pings on return (so a connection that
            // failed is dropped); on taking, only one that sat idle long enough to go stale.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > STALE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| Box::pin(async move { dialect.on_connect(conn).await }))
            .connect_lazy(&url)?;
        let write_turn = (dialect == Dialect::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self { pool, dialect, write_turn })
    }

    /// Starts a write transaction, in the write turn.
    async fn begin(&self) -> StoreResult<Tx> {
        let turn = self.write_turn().await;
        let inner = self.pool.begin().await.map_err(|e| self.error(e))?;
        Ok(Tx { inner, _turn: turn })
    }

    /// On SQLite, the one write turn, held for a write transaction or a hot single-statement
    /// write: writers queue here instead of sleeping in SQLite's busy handler (which made tail
    /// latency spike). PostgreSQL writers need no turn.
    async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        }
    }

    /// The one place a `sqlx::Error` becomes a `StoreError`.
    fn error(&self, err: sqlx::Error) -> StoreError {
        self.dialect.map_error(err)
    }

    /// Closes the pool (tests, shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.dialect.migrator().run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(err) => self.error(err),
            other => StoreError::Other(other.into()),
        })
    }

    async fn purge(&self, audit_before: OffsetDateTime, expired_before: OffsetDateTime) -> StoreResult<u64> {
        self.purge_old(audit_before, expired_before).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await.map(drop).map_err(|e| self.error(e))
    }
}
