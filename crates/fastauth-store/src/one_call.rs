//! Transactions whose `begin` and `commit` travel in the same call as their statements (SQLite:
//! one hand-off to its thread instead of three, each of which wakes that thread and an async
//! worker, and both preempt hashing).

use fastauth_core::ports::StoreResult;
use sqlx::Any;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;

use crate::{AnyQuery, Dialect, SqlStore};

impl SqlStore {
    /// Runs `query`, a whole write transaction in one call: on PostgreSQL one statement (one
    /// transaction) on a kept connection, like the hottest reads; on SQLite statements between
    /// `begin immediate` and `commit`, on the writer's connection.
    pub(crate) async fn write_in_one_call(&self, query: AnyQuery<'_>) -> StoreResult<Vec<AnyRow>> {
        let written = async {
            match self.dialect {
                Dialect::Postgres => {
                    let mut lease = self.kept.lend(&self.pool).await?;
                    let rows = query.fetch_all(lease.conn()).await?;
                    lease.finish();
                    Ok(rows)
                }
                Dialect::Sqlite => {
                    let mut conn = self.writer.take().await?;
                    let mut tx = OneCallTx { conn: &mut conn, open: true };
                    let written = query.fetch_all(&mut **tx.conn).await;
                    match written {
                        Ok(_) => tx.open = false,
                        // A statement refused (a taken email, say): roll back and keep the
                        // connection. Where the rollback fails there was nothing open, or the
                        // connection is broken; it is closed either way.
                        Err(_) => tx.open = sqlx::query("rollback").execute(&mut **tx.conn).await.is_err(),
                    }
                    if !tx.open {
                        drop(tx);
                        self.writer.keep(conn);
                    }
                    written
                }
            }
        };
        written.await.map_err(|e: sqlx::Error| self.error(e))
    }
}

/// The connection of one such transaction. Until the call has committed or been rolled back
/// (`open`), for instance when its caller went away midway, the transaction may still be open:
/// the connection is then closed, which rolls it back, instead of going back to the pool, where
/// the next writer's `begin` would fail inside it.
struct OneCallTx<'a> {
    conn: &'a mut PoolConnection<Any>,
    open: bool,
}

impl Drop for OneCallTx<'_> {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}
