//! Roles and what a user holds.

use async_trait::async_trait;
use fastauth_core::ids::{ClientId, RoleId, UserId};
use fastauth_core::model::{NewRole, Role};
use fastauth_core::ports::{RoleStore, StoreResult};

use crate::SqlStore;
use crate::rows::{self, role_columns};

#[async_trait]
impl RoleStore for SqlStore {
    async fn ensure_global_roles(&self, roles: &[NewRole]) -> StoreResult<()> {
        let now = crate::rows::ms(time::OffsetDateTime::now_utc());
        for role in roles {
            let permissions =
                serde_json::to_string(&role.permissions).map_err(|e| fastauth_core::StoreError::Other(e.into()))?;
            // The unique index on (role_name, application) makes a concurrent start harmless.
            sqlx::query(
                "insert into roles (role_name, permissions, department_name, department_id, is_active, application, \
                 created_at, updated_at) values ($1, $2, $3, $4, 1, null, $5, $5) on conflict do nothing",
            )
            .bind(&role.role_name)
            .bind(permissions)
            .bind(role.department_name.as_deref())
            .bind(role.department_id.as_deref())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    async fn find_roles(&self, ids: &[RoleId]) -> StoreResult<Vec<Role>> {
        let mut roles = Vec::with_capacity(ids.len());
        for id in ids.iter().collect::<std::collections::BTreeSet<_>>() {
            let row = sqlx::query(concat!("select ", role_columns!(), " from roles where id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.error(e))?;
            if let Some(row) = row {
                roles.push(rows::role(&row).map_err(|e| self.error(e))?);
            }
        }
        Ok(roles)
    }

    async fn find_role_by_name(&self, name: &str, application: Option<&ClientId>) -> StoreResult<Option<Role>> {
        let row = sqlx::query(concat!(
            "select ",
            role_columns!(),
            " from roles where role_name = $1 and coalesce(application, '') = $2"
        ))
        .bind(name)
        .bind(application.map_or("", ClientId::as_str))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        row.map(|r| rows::role(&r)).transpose().map_err(|e| self.error(e))
    }

    async fn roles_of_user(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(
            "select r.id, r.role_name, r.permissions, r.department_name, r.department_id, r.is_active, r.application \
             from roles r join user_roles ur on ur.role_id = r.id \
             where ur.user_id = $1 and r.is_active = 1 and (r.application is null or r.application = $2) \
             order by r.id",
        )
        .bind(user.as_str())
        .bind(app.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter().map(rows::role).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }
}
