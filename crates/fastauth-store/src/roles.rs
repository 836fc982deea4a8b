//! Roles and what a user holds.

use async_trait::async_trait;
use fastauth_core::StoreError;
use fastauth_core::ids::{ClientId, RoleId, UserId};
use fastauth_core::model::{NewRole, Role, RoleChange, RoleChanges};
use fastauth_core::ports::{RoleStore, StoreResult};
use time::OffsetDateTime;

use crate::rows::{self, ms, role_columns};
use crate::{Dialect, SqlStore, Tx, outbox};

const INSERT_ROLE: &str = concat!(
    "insert into roles (role_name, permissions, department_name, department_id, is_active, application, \
     created_at, updated_at) values ($1, $2, $3, $4, 1, $5, $6, $6) returning ",
    role_columns!()
);
const INSERT_ROLE_WITH_ID: &str = concat!(
    "insert into roles (id, role_name, permissions, department_name, department_id, is_active, application, \
     created_at, updated_at) values ($7, $1, $2, $3, $4, 1, $5, $6, $6) returning ",
    role_columns!()
);

fn to_json(permissions: &[String]) -> StoreResult<String> {
    serde_json::to_string(permissions).map_err(|e| StoreError::Other(e.into()))
}

/// The user's active roles in `app` (global ones included), on their own or inside the
/// transaction that opens a session.
pub(crate) async fn live_roles<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    user: &UserId,
    app: &ClientId,
) -> Result<Vec<Role>, sqlx::Error> {
    let rows = sqlx::query(
        "select r.id, r.role_name, r.permissions, r.department_name, r.department_id, r.is_active, r.application \
         from roles r join user_roles ur on ur.role_id = r.id \
         where ur.user_id = $1 and r.is_active = 1 and (r.application is null or r.application = $2) \
         order by r.id",
    )
    .bind(user.as_str())
    .bind(app.as_str())
    .fetch_all(db)
    .await?;
    rows.iter().map(rows::role).collect()
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn ensure_global_roles(&self, roles: &[NewRole]) -> StoreResult<()> {
        let now = ms(OffsetDateTime::now_utc());
        for role in roles {
            // The unique index on (role_name, application) makes a concurrent start harmless; an
            // explicit id already taken leaves the role to be created without it.
            let exists = self.find_role_by_name(&role.role_name, None).await?.is_some();
            let id_free = match role.id {
                Some(id) => self.find_roles(&[id]).await?.is_empty(),
                None => false,
            };
            if exists {
                continue;
            }
            let sql = if id_free {
                "insert into roles (id, role_name, permissions, department_name, department_id, is_active, application, \
                 created_at, updated_at) values ($6, $1, $2, $3, $4, 1, null, $5, $5) on conflict do nothing"
            } else {
                "insert into roles (role_name, permissions, department_name, department_id, is_active, application, \
                 created_at, updated_at) values ($1, $2, $3, $4, 1, null, $5, $5) on conflict do nothing"
            };
            let query = sqlx::query(sql)
                .bind(&role.role_name)
                .bind(to_json(&role.permissions)?)
                .bind(role.department_name.as_deref())
                .bind(role.department_id.as_deref())
                .bind(now);
            let query = if id_free { query.bind(role.id) } else { query };
            query.execute(self.writer.turn().pool()).await.map_err(|e| self.error(e))?;
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
        // Every sign-up reads its default role: a hot read.
        let sql =
            concat!("select ", role_columns!(), " from roles where role_name = $1 and coalesce(application, '') = $2");
        let params = [name, application.map_or("", ClientId::as_str)];
        self.read_hot(sql, &params, |rows| rows.first().map(rows::role).transpose()).await
    }

    async fn roles_of_user(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<Role>> {
        live_roles(&self.pool, user, app).await.map_err(|e| self.error(e))
    }

    async fn list_roles(&self, application: Option<&ClientId>) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(concat!(
            "select ",
            role_columns!(),
            " from roles where is_active = 1 and ($1 = '' or application = $1) order by id"
        ))
        .bind(application.map_or("", ClientId::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.error(e))?;
        rows.iter().map(rows::role).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    async fn create_roles(&self, roles: &[NewRole], now: OffsetDateTime) -> StoreResult<Vec<Role>> {
        let mut tx = self.begin().await?;
        let mut created = Vec::with_capacity(roles.len());
        let mut explicit_ids = false;
        for role in roles {
            explicit_ids |= role.id.is_some();
            let query = sqlx::query(if role.id.is_some() { INSERT_ROLE_WITH_ID } else { INSERT_ROLE })
                .bind(&role.role_name)
                .bind(to_json(&role.permissions)?)
                .bind(role.department_name.as_deref())
                .bind(role.department_id.as_deref())
                .bind(role.application.as_ref().map(ClientId::as_str))
                .bind(ms(now));
            let query = match role.id {
                Some(id) => query.bind(id),
                None => query,
            };
            let row = query.fetch_one(&mut *tx).await.map_err(|e| self.error(e))?;
            let role = rows::role(&row).map_err(|e| self.error(e))?;
            self.record_role(&mut tx, "role.created", &role, now).await?;
            created.push(role);
        }
        if explicit_ids && self.dialect == Dialect::Postgres {
            // Explicit ids do not move PostgreSQL's sequence; move it past them.
            sqlx::query("select setval(pg_get_serial_sequence('roles', 'id'), (select max(id) from roles))")
                .execute(&mut *tx)
                .await
                .map_err(|e| self.error(e))?;
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(created)
    }

    async fn update_role(&self, id: RoleId, changes: &RoleChanges, now: OffsetDateTime) -> StoreResult<Role> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "update roles set role_name = coalesce($2, role_name), department_name = coalesce($3, department_name), \
             department_id = coalesce($4, department_id), updated_at = $5 where id = $1 returning ",
            role_columns!()
        ))
        .bind(id)
        .bind(changes.role_name.as_deref())
        .bind(changes.department_name.as_deref())
        .bind(changes.department_id.as_deref())
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.error(e))?
        .ok_or(StoreError::NotFound)?;
        self.commit_role_update(tx, &row, now).await
    }

    async fn replace_role_permissions(
        &self,
        changes: &[(RoleId, Vec<String>)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Role>> {
        let sql =
            concat!("update roles set permissions = $2, updated_at = $3 where id = $1 returning ", role_columns!());
        let mut tx = self.begin().await?;
        let mut roles = Vec::with_capacity(changes.len());
        for (id, permissions) in changes {
            let row = sqlx::query(sql)
                .bind(id)
                .bind(to_json(permissions)?)
                .bind(ms(now))
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.error(e))?
                // Dropping `tx` rolls back the roles already changed.
                .ok_or(StoreError::NotFound)?;
            let role = rows::role(&row).map_err(|e| self.error(e))?;
            self.record_role(&mut tx, "role.updated", &role, now).await?;
            roles.push(role);
        }
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(roles)
    }

    async fn set_role_active(&self, id: RoleId, active: bool, now: OffsetDateTime) -> StoreResult<Role> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "update roles set is_active = $2, updated_at = $3 where id = $1 returning ",
            role_columns!()
        ))
        .bind(id)
        .bind(i64::from(active))
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.error(e))?
        .ok_or(StoreError::NotFound)?;
        self.commit_role_update(tx, &row, now).await
    }

    async fn all_roles(&self) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(concat!("select ", role_columns!(), " from roles order by id"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.error(e))?;
        rows.iter().map(rows::role).collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    async fn apply_role_changes(&self, changes: &[RoleChange], now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for change in changes {
            let query = match change {
                RoleChange::CreateApplication(app) => sqlx::query(
                    "insert into applications (id, name, allowed_origins, created_at) values ($1, $2, $3, $4)",
                )
                .bind(app.id.as_str())
                .bind(&app.name)
                .bind(to_json(&app.allowed_origins)?)
                .bind(ms(now)),
                RoleChange::UpdateApplication(app) => {
                    sqlx::query("update applications set name = $2, allowed_origins = $3 where id = $1")
                        .bind(app.id.as_str())
                        .bind(&app.name)
                        .bind(to_json(&app.allowed_origins)?)
                }
                RoleChange::CreateRole(spec) => sqlx::query(concat!(
                    "insert into roles (role_name, permissions, department_name, department_id, is_active, application, \
                     created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7) returning ",
                    role_columns!()
                ))
                .bind(&spec.role_name)
                .bind(to_json(&spec.permissions)?)
                .bind(spec.department_name.as_deref())
                .bind(spec.department_id.as_deref())
                .bind(i64::from(spec.is_active))
                .bind(spec.application.as_ref().map(ClientId::as_str))
                .bind(ms(now)),
                RoleChange::UpdateRole { id, spec, .. } => sqlx::query(concat!(
                    "update roles set permissions = $2, department_name = $3, department_id = $4, is_active = $5, \
                     updated_at = $6 where id = $1 returning ",
                    role_columns!()
                ))
                .bind(id)
                .bind(to_json(&spec.permissions)?)
                .bind(spec.department_name.as_deref())
                .bind(spec.department_id.as_deref())
                .bind(i64::from(spec.is_active))
                .bind(ms(now)),
            };
            let kind = match change {
                RoleChange::CreateRole(_) => "role.created",
                RoleChange::UpdateRole { .. } => "role.updated",
                _ => {
                    query.execute(&mut *tx).await.map_err(|e| self.error(e))?;
                    continue;
                }
            };
            let row = query.fetch_one(&mut *tx).await.map_err(|e| self.error(e))?;
            let role = rows::role(&row).map_err(|e| self.error(e))?;
            self.record_role(&mut tx, kind, &role, now).await?;
        }
        tx.commit().await.map_err(|e| self.error(e))
    }
}

impl SqlStore {
    async fn record_role(&self, tx: &mut Tx, kind: &str, role: &Role, now: OffsetDateTime) -> StoreResult<()> {
        outbox::record(tx, kind, &outbox::role_subject(role), &outbox::role_data(role), now)
            .await
            .map_err(|e| self.error(e))
    }

    /// Records `role.updated` for the changed row and commits.
    async fn commit_role_update(&self, mut tx: Tx, row: &sqlx::any::AnyRow, now: OffsetDateTime) -> StoreResult<Role> {
        let role = rows::role(row).map_err(|e| self.error(e))?;
        self.record_role(&mut tx, "role.updated", &role, now).await?;
        tx.commit().await.map_err(|e| self.error(e))?;
        Ok(role)
    }
}
