//! Throw-away databases for tests: a temp SQLite file, or a fresh PostgreSQL database
//! (`fastauth_test_<random>`) on FASTAUTH_TEST_POSTGRES_URL, dropped when the `TestDb` is.
//! Test support: a database that cannot be set up is a failed test, so it panics.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use fastauth_core::ports::Store;

use crate::{PoolSettings, SqlStore};

/// Where tests find PostgreSQL; the machine's server by default.
pub fn postgres_admin_url() -> String {
    std::env::var("FASTAUTH_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A migrated store on a database of its own.
pub struct TestDb {
    pub store: Arc<SqlStore>,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Database(String),
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("fastauth-test-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}", path.display());
        Self::open(url, Cleanup::File(path)).await
    }

    /// Fails (never skips) when PostgreSQL cannot be reached.
    pub async fn postgres() -> Self {
        let db = Self::postgres_empty().await;
        db.store.migrate().await.expect("migrations apply");
        db
    }

    /// A fresh PostgreSQL database without fastauth's schema (a FastAuthCore source, say).
    pub async fn postgres_empty() -> Self {
        let name = format!("fastauth_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_store();
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&admin.pool)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {} is required for the tests: {e}", postgres_admin_url()));
        admin.close().await;
        let base = postgres_admin_url();
        let url = format!("{}/{name}", base.rsplit_once('/').map_or(base.as_str(), |(b, _)| b));
        let store = SqlStore::connect(&url, &PoolSettings::default()).expect("test database URL");
        Self { store: Arc::new(store), url, cleanup: Cleanup::Database(name) }
    }

    /// Runs raw SQL (test fixtures that are not fastauth's own tables).
    pub async fn execute(&self, sql: String) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&self.store.pool).await.expect("fixture SQL runs");
    }

    /// The backend FASTAUTH_TEST_DB names (sqlite by default).
    pub async fn from_env() -> Self {
        match std::env::var("FASTAUTH_TEST_DB").as_deref() {
            Ok("postgres") => Self::postgres().await,
            _ => Self::sqlite().await,
        }
    }

    async fn open(url: String, cleanup: Cleanup) -> Self {
        let store = SqlStore::connect(&url, &PoolSettings::default()).expect("test database URL");
        store.migrate().await.expect("migrations apply");
        Self { store: Arc::new(store), url, cleanup }
    }
}

fn admin_store() -> SqlStore {
    let settings = PoolSettings { max_connections: 1, ..PoolSettings::default() };
    SqlStore::connect(&postgres_admin_url(), &settings).expect("FASTAUTH_TEST_POSTGRES_URL")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database(name) => {
                // Drop runs inside the test's runtime; a thread with its own runtime can block.
                // The pool is not closed first: its sockets belong to the (now blocked) test
                // runtime, so closing would wait forever. `with (force)` ends its sessions.
                let name = name.clone();
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    rt.block_on(async move {
                        let admin = admin_store();
                        let sql = format!("drop database if exists {name} with (force)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin.pool).await;
                        admin.close().await;
                    });
                })
                .join();
            }
        }
    }
}
