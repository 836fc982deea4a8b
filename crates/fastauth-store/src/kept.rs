//! On PostgreSQL, connections kept out of the pool between the hottest reads (`/token`'s session,
//! sign-in's user, sign-up's default role) and the one-statement writes of sign-in, sign-up and
//! refresh (on SQLite those run directly on SQLite, `sqlite_direct`). sqlx pings every connection
//! as it goes back to its pool: a second round trip to PostgreSQL for every read (without it
//! `/token` went from about 7,000 to 9,000 req/s here). A read that finished leaves its
//! connection here for the next; one that failed or was cancelled drops it, and it goes back
//! through the pool, whose ping cleans up after it or closes it.

use std::sync::Mutex;
use std::time::Instant;

use fastauth_core::ports::StoreResult;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};

use crate::{AnyQuery, STALE_AFTER, SqlStore};

impl SqlStore {
    /// The rows of one of the hottest reads or one-call writes, on a kept connection.
    pub(crate) async fn read_kept(&self, query: AnyQuery<'_>) -> StoreResult<Vec<AnyRow>> {
        let mut lease = self.kept.lend(&self.pool).await.map_err(|e| self.error(e))?;
        let rows = query.fetch_all(lease.conn()).await.map_err(|e| self.error(e))?;
        lease.finish();
        Ok(rows)
    }
}

/// The kept connections.
#[derive(Debug)]
pub(crate) struct Kept {
    slots: Vec<Mutex<Option<Idle>>>,
}

/// A kept connection and when its last read finished.
type Idle = (PoolConnection<Any>, Instant);

/// One connection lent for one read.
pub(crate) struct Lease<'a> {
    conn: PoolConnection<Any>,
    kept: &'a Kept,
}

impl Kept {
    /// A quarter of the pool at most: the rest stays free for everything else (on PostgreSQL the
    /// writes share the pool).
    pub(crate) fn new(max_connections: u32) -> Self {
        Self { slots: (0..max_connections / 4).map(|_| Mutex::new(None)).collect() }
    }

    /// A kept connection used within `STALE_AFTER`, else one from the pool (which checks an
    /// older one before lending it).
    pub(crate) async fn lend(&self, pool: &AnyPool) -> Result<Lease<'_>, sqlx::Error> {
        for slot in &self.slots {
            let Some((conn, used)) = slot.try_lock().ok().and_then(|mut s| s.take()) else { continue };
            if used.elapsed() <= STALE_AFTER {
                return Ok(Lease { conn, kept: self });
            }
            drop(conn); // back through the pool
        }
        Ok(Lease { conn: pool.acquire().await?, kept: self })
    }

    /// Gives every kept connection back to the pool (before it closes).
    pub(crate) fn release(&self) {
        for slot in &self.slots {
            drop(slot.lock().unwrap_or_else(|e| e.into_inner()).take());
        }
    }
}

impl Lease<'_> {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// The read finished: the connection waits in a free slot for the next (or goes back to the
    /// pool when none is free).
    pub(crate) fn finish(self) {
        let mut conn = Some((self.conn, Instant::now()));
        for slot in &self.kept.slots {
            if let Ok(mut free) = slot.try_lock()
                && free.is_none()
            {
                *free = conn.take();
                return;
            }
        }
    }
}
