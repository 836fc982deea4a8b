//! Applications, the live permission decision, and the audit trail.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fastauth_core::Error;
use fastauth_core::ids::{ClientId, UserId};
use fastauth_core::model::{Application, AuditFilter};
use fastauth_core::permission::parse_name;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppQuery, Authenticated, Meta, page_limit};
use super::problem::{ApiError, Problem};
use super::views::Results;
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_application, list_applications))
        .routes(routes!(authorize))
        .routes(routes!(audit_events))
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ApplicationBody {
    /// The `client_id`: lowercase letters, digits, `-` and `_`.
    id: String,
    name: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
}

impl From<&Application> for ApplicationBody {
    fn from(a: &Application) -> Self {
        Self { id: a.id.to_string(), name: a.name.clone(), allowed_origins: a.allowed_origins.clone() }
    }
}

/// Registers a client application. Requires: apps:write.
#[utoipa::path(post, path = "/applications", tag = "applications", security(("bearer" = [])), request_body = ApplicationBody,
    responses((status = 201, body = ApplicationBody), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn create_application(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<ApplicationBody>,
) -> Result<(StatusCode, Json<ApplicationBody>), ApiError> {
    let name = req.name.trim();
    if !(1..=100).contains(&name.chars().count()) {
        return Err(Error::invalid("name", "must be 1 to 100 characters").into());
    }
    if req.allowed_origins.iter().any(|o| !(o.starts_with("https://") || o.starts_with("http://")) || o.len() > 200) {
        return Err(Error::invalid("allowed_origins", "must be http(s) origins").into());
    }
    let application =
        Application { id: ClientId::parse(&req.id)?, name: name.to_owned(), allowed_origins: req.allowed_origins };
    let created = app.core.create_application(&caller, application, &meta).await?;
    Ok((StatusCode::CREATED, Json(ApplicationBody::from(&created))))
}

/// Lists the client applications. Requires: apps:write.
#[utoipa::path(get, path = "/applications", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = Results<Vec<ApplicationBody>>), (status = 403, body = Problem)))]
async fn list_applications(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
) -> Result<Json<Results<Vec<ApplicationBody>>>, ApiError> {
    let apps = app.core.list_applications(&caller, &meta).await?;
    Ok(Json(Results { results: apps.iter().map(ApplicationBody::from).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct AuthorizeRequest {
    user_id: String,
    permission: String,
    /// The application whose roles count besides the global ones; `default` if absent.
    application: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Decision {
    allowed: bool,
}

/// The live decision: does this user hold this permission now? Requires: authz:check.
#[utoipa::path(post, path = "/authorize", tag = "applications", security(("bearer" = [])), request_body = AuthorizeRequest,
    responses((status = 200, body = Decision), (status = 403, body = Problem)))]
async fn authorize(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<AuthorizeRequest>,
) -> Result<Json<Decision>, ApiError> {
    let user = UserId::parse(&req.user_id)?;
    let permission =
        parse_name(&req.permission).map_err(|_| Error::invalid("permission", "is not a permission name"))?;
    let application = req.application.map_or_else(|| Ok(ClientId::default_app()), |a| ClientId::parse(&a))?;
    let allowed = app.core.authorize(&caller, &user, &permission, &application, &meta).await?;
    Ok(Json(Decision { allowed }))
}

#[derive(Deserialize, IntoParams)]
pub struct AuditParams {
    user_id: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    /// At most 200; 50 by default.
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    id: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    actor_id: Option<String>,
    subject_id: Option<String>,
    ip: Option<String>,
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    results: Vec<AuditEventView>,
    next_cursor: Option<String>,
}

/// The audit trail, newest first. Requires: audit:read.
#[utoipa::path(get, path = "/audit-events", tag = "audit", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem)))]
async fn audit_events(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(p): AppQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    app.core.require(&caller, fastauth_core::permission::Permission::AuditRead, &meta).await?;
    let time = |field: &str, v: Option<String>| {
        v.map(|v| {
            OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Error::invalid(field, "must be an RFC 3339 time"))
        })
        .transpose()
    };
    let limit = page_limit(p.limit)?;
    let filter = AuditFilter {
        user: p.user_id.map(|u| UserId::parse(&u)).transpose()?,
        kind: p.kind,
        since: time("since", p.since)?,
        until: time("until", p.until)?,
        before: p
            .cursor
            .map(|c| c.parse::<i64>().map_err(|_| Error::invalid("cursor", "is not a cursor from this API")))
            .transpose()?,
        limit,
    };
    let events = app.core.list_audit(&filter).await?;
    let next_cursor = (events.len() == limit as usize).then(|| events.last().map(|e| e.id.to_string())).flatten();
    let results = events
        .into_iter()
        .map(|e| AuditEventView {
            id: e.id,
            kind: e.kind,
            at: e.at,
            actor_id: e.actor_id,
            subject_id: e.subject_id,
            ip: e.ip,
            details: e.details,
        })
        .collect();
    Ok(Json(AuditPage { results, next_cursor }))
}
