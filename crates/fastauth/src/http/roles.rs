//! Role administration endpoints.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fastauth_core::Error;
use fastauth_core::auth::Caller;
use fastauth_core::ids::{ClientId, RoleId};
use fastauth_core::model::{NewRole, RoleChanges};
use fastauth_core::roles::{parse_permissions, parse_role_name};
use fastauth_core::service::RequestMeta;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppPath, AppQuery, Authenticated, Meta, OptionalJson};
use super::problem::{ApiError, Problem};
use super::views::{Envelope, RoleView};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, list_roles_post))
        .routes(routes!(create_roles))
        .routes(routes!(update_role))
        .routes(routes!(update_permissions))
        .routes(routes!(update_status))
}

#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
pub struct RolesFilter {
    /// Only this application's roles.
    application: Option<String>,
}

/// Lists the active roles. Requires: roles:read.
#[utoipa::path(get, path = "/roles", tag = "roles", security(("bearer" = [])), params(RolesFilter),
    responses((status = 200, body = Envelope<Vec<RoleView>>), (status = 403, body = Problem)))]
async fn list_roles(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(f): AppQuery<RolesFilter>,
) -> Result<Json<Envelope<Vec<RoleView>>>, ApiError> {
    list(&app, &caller, f.application, &meta).await
}

/// Lists the active roles (filter in the body). Requires: roles:read.
#[utoipa::path(post, path = "/roles", tag = "roles", security(("bearer" = [])), params(RolesFilter), request_body(content = Option<RolesFilter>),
    responses((status = 200, body = Envelope<Vec<RoleView>>), (status = 403, body = Problem)))]
async fn list_roles_post(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(f): AppQuery<RolesFilter>,
    OptionalJson(body): OptionalJson<RolesFilter>,
) -> Result<Json<Envelope<Vec<RoleView>>>, ApiError> {
    list(&app, &caller, body.and_then(|b| b.application).or(f.application), &meta).await
}

async fn list(
    app: &App,
    caller: &Caller,
    application: Option<String>,
    meta: &RequestMeta,
) -> Result<Json<Envelope<Vec<RoleView>>>, ApiError> {
    let application = application.filter(|a| !a.is_empty()).map(|a| ClientId::parse(&a)).transpose()?;
    let roles = app.core.list_roles(caller, application.as_ref(), meta).await?;
    Ok(Json(Envelope::ok("Roles fetched successfully", roles.iter().map(RoleView::from).collect())))
}

#[derive(Deserialize, ToSchema)]
pub struct NewRoleRequest {
    role_id: Option<RoleId>,
    role_name: String,
    permissions: Option<Vec<String>>,
    department_name: Option<String>,
    department_id: Option<String>,
    /// The application the role belongs to; absent for a global role.
    application: Option<String>,
}

/// Creates roles, all or none. Requires: roles:write, and every permission given.
#[utoipa::path(post, path = "/create_roles", tag = "roles", security(("bearer" = [])), request_body = Vec<NewRoleRequest>,
    responses((status = 201, body = Vec<RoleView>), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_roles(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<Vec<NewRoleRequest>>,
) -> Result<(StatusCode, Json<Vec<RoleView>>), ApiError> {
    if req.is_empty() || req.len() > 100 {
        return Err(Error::invalid("body", "must list 1 to 100 roles").into());
    }
    let mut roles = Vec::with_capacity(req.len());
    for r in req {
        if r.role_id.is_some_and(|id| id < 0) {
            return Err(Error::invalid("role_id", "must not be negative").into());
        }
        roles.push(NewRole {
            id: r.role_id,
            role_name: parse_role_name(&r.role_name)?,
            permissions: parse_permissions(&r.permissions.unwrap_or_default())?,
            department_name: r.department_name,
            department_id: r.department_id,
            application: r.application.filter(|a| !a.is_empty()).map(|a| ClientId::parse(&a)).transpose()?,
        });
    }
    let created = app.core.create_roles(&caller, roles, &meta).await?;
    Ok((StatusCode::CREATED, Json(created.iter().map(RoleView::from).collect())))
}

#[derive(Deserialize, ToSchema)]
pub struct RoleUpdateRequest {
    role_name: Option<String>,
    department_name: Option<String>,
    department_id: Option<String>,
}

/// Renames a role or changes its department. Requires: roles:write.
#[utoipa::path(post, path = "/roles/{role_id}/update", tag = "roles", security(("bearer" = [])), params(("role_id" = i64, Path)), request_body = RoleUpdateRequest,
    responses((status = 200, body = RoleView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn update_role(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<RoleId>,
    AppJson(req): AppJson<RoleUpdateRequest>,
) -> Result<Json<RoleView>, ApiError> {
    let changes = RoleChanges {
        role_name: req.role_name.map(|n| parse_role_name(&n)).transpose()?,
        department_name: req.department_name,
        department_id: req.department_id,
    };
    let role = app.core.update_role(&caller, id, &changes, &meta).await?;
    Ok(Json(RoleView::from(&role)))
}

#[derive(Deserialize, ToSchema)]
pub struct PermissionsUpdate {
    role_id: RoleId,
    permissions: Vec<String>,
}

/// Replaces the permissions of roles, all or none. Requires: roles:write, and every permission given.
#[utoipa::path(post, path = "/roles/update_permissions", tag = "roles", security(("bearer" = [])), request_body = Vec<PermissionsUpdate>,
    responses((status = 200, body = Vec<RoleView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn update_permissions(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<Vec<PermissionsUpdate>>,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    let changes = req
        .into_iter()
        .map(|u| Ok((u.role_id, parse_permissions(&u.permissions)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let roles = app.core.update_role_permissions(&caller, changes, &meta).await?;
    Ok(Json(roles.iter().map(RoleView::from).collect()))
}

#[derive(Deserialize, ToSchema, IntoParams)]
pub struct StatusParam {
    is_active: Option<bool>,
}

/// Activates or deactivates a role; inactive roles grant nothing, at once. Requires: roles:write.
#[utoipa::path(post, path = "/roles/{role_id}/update_status", tag = "roles", security(("bearer" = [])), params(("role_id" = i64, Path), StatusParam), request_body(content = Option<StatusParam>),
    responses((status = 200, body = RoleView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn update_status(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<RoleId>,
    AppQuery(q): AppQuery<StatusParam>,
    OptionalJson(body): OptionalJson<StatusParam>,
) -> Result<Json<RoleView>, ApiError> {
    let active =
        body.and_then(|b| b.is_active).or(q.is_active).ok_or_else(|| Error::invalid("is_active", "is required"))?;
    let role = app.core.set_role_status(&caller, id, active, &meta).await?;
    Ok(Json(RoleView::from(&role)))
}
