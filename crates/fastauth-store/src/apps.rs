//! Client applications.

use async_trait::async_trait;
use fastauth_core::StoreError;
use fastauth_core::ids::ClientId;
use fastauth_core::model::Application;
use fastauth_core::ports::{AppStore, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::ms;

const INSERT: &str = "insert into applications (id, name, allowed_origins, created_at) values ($1, $2, $3, $4)";
const INSERT_IF_ABSENT: &str =
    "insert into applications (id, name, allowed_origins, created_at) values ($1, $2, $3, $4) on conflict do nothing";

impl SqlStore {
    async fn insert_application(&self, app: &Application, sql: &'static str) -> StoreResult<()> {
        let origins = serde_json::to_string(&app.allowed_origins).map_err(|e| StoreError::Other(e.into()))?;
        sqlx::query(sql)
            .bind(app.id.as_str())
            .bind(&app.name)
            .bind(origins)
            .bind(ms(time::OffsetDateTime::now_utc()))
            .execute(self.writer.turn().pool())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }
}

#[async_trait]
impl AppStore for SqlStore {
    async fn ensure_application(&self, app: &Application) -> StoreResult<()> {
        self.insert_application(app, INSERT_IF_ABSENT).await
    }

    async fn find_application(&self, id: &ClientId) -> StoreResult<Option<Application>> {
        let row = sqlx::query("select id, name, allowed_origins from applications where id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        row.map(|r| application(&r)).transpose().map_err(|e| self.error(e))
    }

    async fn create_application(&self, app: &Application) -> StoreResult<()> {
        self.insert_application(app, INSERT).await
    }

    async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let rows = sqlx::query("select id, name, allowed_origins from applications order by id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(application).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}

fn application(row: &AnyRow) -> Result<Application, sqlx::Error> {
    let origins: String = row.try_get("allowed_origins")?;
    Ok(Application {
        id: ClientId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        allowed_origins: serde_json::from_str(&origins).map_err(|e| sqlx::Error::Decode(e.into()))?,
    })
}
