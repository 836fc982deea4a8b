//! The writer's connection and where it waits between writes. On SQLite the writer is a pool of one
//! connection, and sqlx pings every connection as it goes back to its pool: one more hand-off to
//! SQLite's thread per write, which wakes that thread and an async worker, and both preempt
//! hashing. The hottest writes (sign-in's and sign-up's transaction, refresh's rotation) leave the
//! connection here for the next instead (`take` and `keep`): fastauth's CPU per sign-in at 200/s
//! with near-free hashing went from 0.90 to 0.79 ms here (medians of five). They now run on
//! SQLite directly (`sqlite_direct`), and the connection taken here is their turn. Every other write takes
//! its `turn` through the pool, which first hands a kept connection back to the pool, and while
//! anyone waits there nothing is kept, so no write can wait in the pool for a connection that sits
//! here. Hot writes wait for each other in a lane of their own, not in the pool, so that a burst of
//! them (chained refreshes) passes the connection from one to the next without the ping.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};
use tokio::sync::OwnedMutexGuard;

use crate::STALE_AFTER;

#[derive(Clone, Debug)]
pub(crate) struct Writer {
    /// On PostgreSQL the readers' pool, where only `turn` is used: the hottest writes keep their
    /// own connections there (`Kept`).
    pool: AnyPool,
    state: Arc<Mutex<State>>,
    /// Where hot writes wait for each other while one holds the connection.
    lane: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Default)]
struct State {
    /// The connection and when its last write finished.
    kept: Option<(PoolConnection<Any>, Instant)>,
    /// Writes waiting for the pool (or using a connection from it).
    waiting: usize,
}

/// A write's turn at the pool: while it lasts, `keep` hands connections back to the pool.
pub(crate) struct Turn<'a>(&'a Writer);

/// A hot write's connection, from `take` until `keep`.
pub(crate) struct Hot {
    conn: PoolConnection<Any>,
    /// The lane, held until the connection is kept or dropped.
    _lane: OwnedMutexGuard<()>,
}

impl Writer {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool, state: Arc::default(), lane: Arc::default() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a write through the pool; use the turn's `pool()` within the same statement.
    pub(crate) fn turn(&self) -> Turn<'_> {
        let kept = {
            let mut state = self.state();
            state.waiting += 1;
            state.kept.take()
        };
        drop(kept); // back to the pool, outside the lock
        Turn(self)
    }

    /// A connection for a write that gives it back with `keep` when it finished: the kept one
    /// if it was used within `STALE_AFTER`, else one from the pool (which checks an older one).
    /// One hot write at a time (SQLite only): the others wait in the lane.
    pub(crate) async fn take(&self) -> Result<Hot, sqlx::Error> {
        let lane = self.lane.clone().lock_owned().await;
        let kept = self.state().kept.take();
        if let Some((conn, used)) = kept {
            if used.elapsed() <= STALE_AFTER {
                return Ok(Hot { conn, _lane: lane });
            }
            drop(conn);
        }
        let conn = self.turn().pool().acquire().await?;
        Ok(Hot { conn, _lane: lane })
    }

    /// A write on `hot` finished: its connection waits here for the next, unless a write waits
    /// for the pool. The next hot write leaves the lane after this.
    pub(crate) fn keep(&self, hot: Hot) {
        let mut state = self.state();
        if state.waiting == 0 && state.kept.is_none() {
            state.kept = Some((hot.conn, Instant::now()));
            return;
        }
        drop(state);
        drop(hot);
    }

    /// Closes the pool, after handing it the kept connection (it waits for every one).
    pub(crate) async fn close(&self) {
        let kept = self.state().kept.take();
        drop(kept);
        self.pool.close().await;
    }
}

impl Turn<'_> {
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.0.pool
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.state().waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    async fn writer() -> Writer {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect("sqlite::memory:").await;
        Writer::new(pool.expect("connect"))
    }

    /// Until the pool holds `idle` connections (a connection goes back to it in a task of its own).
    async fn settle(writer: &Writer, idle: usize) {
        for _ in 0..200 {
            if writer.pool.num_idle() == idle {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the pool holds {} idle connections, not {idle}", writer.pool.num_idle());
    }

    #[tokio::test]
    async fn a_kept_connection_goes_back_to_the_pool_for_any_other_write() {
        let writer = writer().await;
        let conn = writer.take().await.expect("take");
        writer.keep(conn);
        settle(&writer, 0).await;
        assert!(writer.state().kept.is_some(), "kept after a hot write");

        let turn = writer.turn();
        assert!(writer.state().kept.is_none(), "a turn hands it back");
        let conn = turn.pool().acquire().await.expect("from the pool at once");
        drop(turn);
        writer.keep(Hot { conn, _lane: writer.lane.clone().lock_owned().await });
        assert!(writer.state().kept.is_some());

        // While a write waits for the pool, a finished one does not keep the connection.
        let conn = writer.take().await.expect("the kept one");
        let waiting = writer.turn();
        writer.keep(conn);
        assert!(writer.state().kept.is_none(), "kept while a write waited for the pool");
        waiting.pool().acquire().await.expect("the waiting write gets it");
    }

    #[tokio::test]
    async fn hot_writes_wait_in_their_lane_and_pass_the_connection_on() {
        let writer = writer().await;
        let first = writer.take().await.expect("take");
        let next = tokio::spawn({
            let writer = writer.clone();
            async move { writer.take().await.map(|hot| writer.keep(hot)) }
        });
        tokio::task::yield_now().await; // the next hot write now waits
        assert_eq!(writer.state().waiting, 0, "the next hot write waits in the lane, not the pool");
        writer.keep(first);
        assert!(writer.state().kept.is_some(), "kept for the next hot write");
        next.await.expect("task").expect("the next hot write");
        settle(&writer, 0).await; // it never went back through the pool
        assert!(writer.state().kept.is_some());
    }
}
