//! fastauth's store on PostgreSQL and SQLite. One implementation runs on sqlx's `Any` driver:
//! the schemas keep times as integer milliseconds and JSON as text, so every statement is the
//! same text in both dialects; what differs (DDL, connection set-up, error parsing) is in
//! `dialect`.

mod apps;
mod args;
mod audit;
mod dialect;
pub mod fastauthcore;
mod kept;
mod keys;
mod one_call;
mod otp;
mod outbox;
mod purge;
mod reset_tokens;
mod roles;
mod rows;
mod sessions;
mod sqlite_direct;
mod users;
mod writer;

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
use kept::Kept;
use rows::{Cells, as_cells};
use sqlite_direct::DirectSqlite;
use writer::Writer;

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
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// Every write. On SQLite a pool of one connection: SQLite takes one writer at a time, and
    /// writers that raced for it slept in its busy handler (up to 100 ms a try, holding a pooled
    /// connection); here they wait their turn in the pool's queue. On PostgreSQL the same pool
    /// as `pool`.
    writer: Writer,
    /// On PostgreSQL, connections of `pool` kept between the hottest reads and the one-call
    /// writes, skipping sqlx's ping on return.
    kept: Arc<Kept>,
    /// On SQLite, where the hottest reads (on the calling thread) and the one-call writes run
    /// instead.
    direct: Option<Arc<DirectSqlite>>,
    dialect: Dialect,
}

/// A write transaction (on the writer).
pub(crate) type Tx = Transaction<'static, sqlx::Any>;

/// A statement being given its parameters.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// How long a pooled connection may sit idle before it is checked again when taken.
const STALE_AFTER: Duration = Duration::from_secs(1);

impl SqlStore {
    /// Connects lazily: the service starts (and `/readyz` says 503) even while the database is
    /// still down, and every request retries the connection.
    pub fn connect(url: &str, settings: &PoolSettings) -> anyhow::Result<Self> {
        install_default_drivers();
        let dialect = Dialect::from_url(url)?;
        let url = dialect.prepare_url(url)?;
        let pool = pool_options(dialect, settings, settings.max_connections).connect_lazy(&url)?;
        let (writer, direct) = match dialect {
            Dialect::Sqlite => {
                let writer = Writer::new(pool_options(dialect, settings, 1).connect_lazy(&url)?);
                (writer, Some(Arc::new(DirectSqlite::new(&url, settings.max_connections as usize))))
            }
            Dialect::Postgres => (Writer::new(pool.clone()), None),
        };
        let kept = Arc::new(Kept::new(settings.max_connections));
        Ok(Self { pool, writer, kept, direct, dialect })
    }

    /// Starts a write transaction.
    async fn begin(&self) -> StoreResult<Tx> {
        self.writer.turn().pool().begin().await.map_err(|e| self.error(e))
    }

    /// One of the hottest reads: `sql` with its parameters `$1, $2, …` bound to `params`, its rows
    /// given to `decode`. On SQLite on this thread, else on a kept connection.
    pub(crate) async fn read_hot<T>(
        &self,
        sql: &'static str,
        params: &[&str],
        decode: impl FnOnce(&[&dyn Cells]) -> Result<T, sqlx::Error>,
    ) -> StoreResult<T> {
        let decoded = match &self.direct {
            Some(direct) => decode(&as_cells(&direct.rows(sql, params)?)),
            None => {
                let query = params.iter().fold(sqlx::query(sql), |q, p| q.bind(*p));
                decode(&as_cells(&self.read_kept(query).await?))
            }
        };
        decoded.map_err(|e| self.error(e))
    }

    /// The one place a `sqlx::Error` becomes a `StoreError`.
    fn error(&self, err: sqlx::Error) -> StoreError {
        self.dialect.map_error(err)
    }

    /// Closes the pool (tests, shutdown).
    pub async fn close(&self) {
        self.kept.release();
        if let Some(direct) = &self.direct {
            direct.close();
        }
        self.pool.close().await;
        self.writer.close().await;
    }
}

fn pool_options(dialect: Dialect, settings: &PoolSettings, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
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
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.dialect.migrator().run(self.writer.turn().pool()).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(err) => self.error(err),
            other => StoreError::Other(other.into()),
        })
    }

    async fn purge(&self, audit_before: OffsetDateTime, expired_before: OffsetDateTime) -> StoreResult<u64> {
        self.purge_old(audit_before, expired_before).await
    }

    async fn checkpoint(&self) -> StoreResult<()> {
        if self.dialect == Dialect::Sqlite {
            // PASSIVE, on a reader connection: copies what it can and waits for no one, so the
            // writer never waits for it. Any checkpoint in the writer's turn (SQLite's own after
            // a commit, or a RESTART to start the log again) held writes for 1-9 s under load.
            // The log starts again from its beginning once a writer finds it all copied and no
            // reader in it; under load without a pause it grows until SQLite's own checkpoint
            // (at 10,000 pages, see `Dialect::on_connect`) steps in.
            sqlx::query("pragma wal_checkpoint(passive)").execute(&self.pool).await.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await.map(drop).map_err(|e| self.error(e))
    }
}
