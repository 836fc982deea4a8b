//! Transactions whose `begin` and `commit` travel in the same call as their statements: on SQLite
//! one hand-off to another thread and one back, instead of one each way per statement and per
//! row, each of which wakes a thread that preempts hashing.

use fastauth_core::StoreError;
use fastauth_core::ports::StoreResult;

use crate::SqlStore;
use crate::args::Args;
use crate::rows::{Cells, as_cells};

impl SqlStore {
    /// Runs `sql`, a whole write transaction in one call, and gives its rows to `decode`. On
    /// PostgreSQL one statement (one transaction) on a kept connection, like the hottest reads; on
    /// SQLite statements between `begin immediate` and `commit`, run directly on SQLite on a
    /// blocking thread (`sqlite_direct`) in the writer's turn.
    pub(crate) async fn write_in_one_call<T>(
        &self,
        sql: &'static str,
        args: Args,
        decode: impl FnOnce(&[&dyn Cells]) -> Result<T, sqlx::Error>,
    ) -> StoreResult<T> {
        let Some(direct) = &self.direct else {
            let rows = self.read_kept(args.query(sql)).await?;
            return decode(&as_cells(&rows)).map_err(|e| self.error(e));
        };
        let hot = self.writer.take().await.map_err(|e| self.error(e))?;
        let (direct, writer) = (direct.clone(), self.writer.clone());
        // The turn ends with the write, even where the caller has gone away meanwhile.
        let rows = tokio::task::spawn_blocking(move || {
            let rows = direct.write(sql, &args);
            writer.keep(hot);
            rows
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))??;
        decode(&as_cells(&rows)).map_err(|e| self.error(e))
    }
}
