//! The caller's own sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use fastauth_core::ids::SessionId;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Authenticated, Meta};
use super::problem::{ApiError, Problem};
use super::views::Results;
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_sessions, end_other_sessions)).routes(routes!(end_session))
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_used_at: OffsetDateTime,
    user_agent: Option<String>,
    ip: Option<String>,
    /// True for the session of the token making this request.
    current: bool,
}

/// List the caller's live sessions.
#[utoipa::path(get, path = "/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Results<Vec<SessionView>>), (status = 401, body = Problem)))]
async fn list_sessions(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
) -> Result<Json<Results<Vec<SessionView>>>, ApiError> {
    let sessions = app.core.list_sessions(&caller, &meta).await?;
    let results = sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.id == caller.session_id,
            id: s.id.to_string(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(Json(Results { results }))
}

/// End every session of the caller except the current one.
#[utoipa::path(delete, path = "/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn end_other_sessions(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
) -> Result<StatusCode, ApiError> {
    app.core.end_other_sessions(&caller, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one of the caller's sessions; another user's session id is 404.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn end_session(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.core.end_session(&caller, &SessionId::from_trusted(id), &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
