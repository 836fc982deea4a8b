//! Reads a FastAuthCore database (its SQLAlchemy schema on PostgreSQL) for the importer.

use anyhow::Context;
use fastauth_core::import::{LegacyData as SourceData, LegacyRole as SourceRole, LegacyUser as SourceUser};
use sqlx::Row;
use sqlx::any::AnyPoolOptions;

/// Reads users, roles and user_roles from the FastAuthCore database at `url`.
pub async fn read(url: &str) -> anyhow::Result<SourceData> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .context("connecting to the FastAuthCore database")?;
    let users = sqlx::query(
        "select id::bigint as id, uuid::text as uuid, firstname::text as firstname, lastname::text as lastname, \
         email::text as email, phone_number::text as phone_number, hashed_password::text as hashed_password, \
         source_profile::text as source_profile, status::bigint as status from users order by id",
    )
    .fetch_all(&pool)
    .await
    .context("reading users")?
    .iter()
    .map(|r| {
        Ok(SourceUser {
            id: r.try_get("id")?,
            uuid: r.try_get::<Option<String>, _>("uuid")?.unwrap_or_default(),
            firstname: r.try_get("firstname")?,
            lastname: r.try_get("lastname")?,
            email: r.try_get("email")?,
            phone_number: r.try_get("phone_number")?,
            hashed_password: r.try_get("hashed_password")?,
            source_profile: r.try_get("source_profile")?,
            status: r.try_get("status")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let roles = sqlx::query(
        "select id::bigint as id, role_name::text as role_name, permissions::text as permissions, \
         department_name::text as department_name, department_id::text as department_id, \
         case when coalesce(is_active, true) then 1 else 0 end::bigint as is_active from roles order by id",
    )
    .fetch_all(&pool)
    .await
    .context("reading roles")?
    .iter()
    .map(|r| {
        Ok(SourceRole {
            id: r.try_get("id")?,
            role_name: r.try_get::<Option<String>, _>("role_name")?.unwrap_or_default(),
            permissions: r.try_get("permissions")?,
            department_name: r.try_get("department_name")?,
            department_id: r.try_get("department_id")?,
            is_active: r.try_get::<i64, _>("is_active")? != 0,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let assignments = sqlx::query(
        "select user_id::bigint as user_id, role_id::bigint as role_id from user_roles order by user_id, role_id",
    )
    .fetch_all(&pool)
    .await
    .context("reading user_roles")?
    .iter()
    .map(|r| Ok((r.try_get("user_id")?, r.try_get("role_id")?)))
    .collect::<Result<_, sqlx::Error>>()?;
    pool.close().await;
    Ok(SourceData { users, roles, assignments })
}
