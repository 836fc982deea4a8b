//! What differs between PostgreSQL and SQLite: migrations, connection set-up, error parsing.

use std::borrow::Cow;

use anyhow::{Context, bail};
use fastauth_core::StoreError;
use fastauth_core::error::Constraint;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, Executor, SqlSafeStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// Each SQLite connection's settings (sqlx's and the direct writer's). WAL lets readers run
/// beside the one writer; waiting writers retry for 5 s. The log is moved into the database by
/// `Store::checkpoint`, beside the writer: left to SQLite, every 1,000 pages a committing writer
/// did it and writes stalled for up to 2 s while readers were busy. SQLite's own at 10,000 pages
/// (40 MiB) is the backstop for a log that readers never leave long enough to start again.
pub(crate) const SQLITE_PRAGMAS: &str = "pragma journal_mode = wal; pragma synchronous = normal; \
    pragma busy_timeout = 5000; pragma foreign_keys = on; pragma wal_autocheckpoint = 10000";

/// Paired migrations: the same file names in both trees (a test checks it).
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/postgres/0001_init.sql")),
    (2, "reset_tokens", include_str!("../migrations/postgres/0002_reset_tokens.sql")),
    (3, "otp_codes", include_str!("../migrations/postgres/0003_otp_codes.sql")),
    (4, "session_test_identity", include_str!("../migrations/postgres/0004_session_test_identity.sql")),
    (5, "pending_identifiers", include_str!("../migrations/postgres/0005_pending_identifiers.sql")),
    (6, "outbox", include_str!("../migrations/postgres/0006_outbox.sql")),
    (7, "current_refresh_token", include_str!("../migrations/postgres/0007_current_refresh_token.sql")),
    (8, "live_sessions_index", include_str!("../migrations/postgres/0008_live_sessions_index.sql")),
];
const SQLITE: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
    (2, "reset_tokens", include_str!("../migrations/sqlite/0002_reset_tokens.sql")),
    (3, "otp_codes", include_str!("../migrations/sqlite/0003_otp_codes.sql")),
    (4, "session_test_identity", include_str!("../migrations/sqlite/0004_session_test_identity.sql")),
    (5, "pending_identifiers", include_str!("../migrations/sqlite/0005_pending_identifiers.sql")),
    (6, "outbox", include_str!("../migrations/sqlite/0006_outbox.sql")),
    (7, "current_refresh_token", include_str!("../migrations/sqlite/0007_current_refresh_token.sql")),
    (8, "live_sessions_index", include_str!("../migrations/sqlite/0008_live_sessions_index.sql")),
];

impl Dialect {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else {
            bail!("must start with sqlite://, postgres:// or postgresql://")
        }
    }

    /// For SQLite, creates the file's folder and asks for the file to be created if missing.
    pub(crate) fn prepare_url(self, url: &str) -> anyhow::Result<String> {
        if self == Dialect::Postgres {
            return Ok(url.to_owned());
        }
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let file = path.split('?').next().unwrap_or_default();
        if file.is_empty() || file == ":memory:" {
            bail!("needs a file path (sqlite://data/fastauth.db)");
        }
        if let Some(dir) = std::path::Path::new(file).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(if path.contains("mode=") { format!("sqlite://{path}") } else { format!("sqlite://{file}?mode=rwc") })
    }

    pub(crate) async fn on_connect(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self == Dialect::Sqlite {
            conn.execute(SQLITE_PRAGMAS).await?;
        }
        Ok(())
    }

    pub(crate) fn migrator(self) -> Migrator {
        let files = match self {
            Dialect::Postgres => POSTGRES,
            Dialect::Sqlite => SQLITE,
        };
        let migrations = files
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(*version, Cow::Borrowed(*name), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect();
        Migrator::with_migrations(migrations)
    }

    pub(crate) fn map_error(self, err: sqlx::Error) -> StoreError {
        match err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            // A peer that hangs up mid-handshake (a dying server or proxy) garbles the protocol.
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable,
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    // PostgreSQL names the constraint; SQLite names the columns or the index.
                    let text = db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned);
                    if let Some(c) = constraint(&text) {
                        return StoreError::Conflict(c);
                    }
                }
                // 08: connection exception; 40: rolled back for a deadlock or a serialization
                // failure, which a retry can clear; 53: out of connections or memory; 57P:
                // shutdown, restart.
                let code = db.code().unwrap_or_default();
                if self == Dialect::Postgres && ["08", "40", "53", "57P"].iter().any(|class| code.starts_with(class)) {
                    return StoreError::Unavailable;
                }
                StoreError::Other(anyhow::Error::new(sqlx::Error::Database(db)))
            }
            other => StoreError::Other(other.into()),
        }
    }
}

/// The unique constraint a database's message names, where fastauth knows it.
pub(crate) fn constraint(text: &str) -> Option<Constraint> {
    const KNOWN: &[(&str, &str, Constraint)] = &[
        ("users_email_key", "users.email", Constraint::UserEmail),
        ("users_phone_key", "users.phone_number", Constraint::UserPhone),
        ("users_pkey", "users.id", Constraint::UserId),
        ("roles_name_key", "roles_name_key", Constraint::RoleName),
        ("applications_pkey", "applications.id", Constraint::ApplicationId),
    ];
    KNOWN.iter().find(|(pg, lite, _)| text.contains(pg) || text.contains(lite)).map(|(_, _, c)| *c)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    /// What PostgreSQL's transient failures become, raised by their SQLSTATE codes.
    #[tokio::test]
    async fn postgres_failures_a_retry_can_clear_are_unavailable() {
        let db = crate::testing::TestDb::postgres().await;
        for (code, unavailable) in
            [("40P01", true), ("40001", true), ("57P01", true), ("53300", true), ("22023", false)]
        {
            let raise = format!("do $$ begin raise exception 'raised' using errcode = '{code}'; end $$");
            let err = sqlx::query(sqlx::AssertSqlSafe(raise)).execute(&db.store.pool).await.expect_err("raised");
            let mapped = Dialect::Postgres.map_error(err);
            assert_eq!(matches!(mapped, StoreError::Unavailable), unavailable, "{code}: {mapped:?}");
        }
    }
}
