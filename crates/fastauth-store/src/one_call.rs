//! Transactions whose `begin` and `commit` travel in the same call as their statements (SQLite:
//! one hand-off to its thread instead of three, each of which wakes that thread and an async
//! worker, and both preempt hashing).

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};

/// The connection of one such transaction. If the call fails or is cancelled midway, the
/// transaction may still be open: the connection is then closed, which rolls it back, instead
/// of going back to the pool, where the next writer's `begin` would fail inside it.
pub(crate) struct OneCallTx {
    conn: PoolConnection<Any>,
    committed: bool,
}

impl OneCallTx {
    pub(crate) async fn acquire(pool: &AnyPool) -> Result<Self, sqlx::Error> {
        Ok(Self { conn: pool.acquire().await?, committed: false })
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// The call ran to its `commit`: the connection goes back to the pool.
    pub(crate) fn committed(mut self) {
        self.committed = true;
    }
}

impl Drop for OneCallTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}
