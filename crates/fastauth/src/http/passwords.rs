//! Password change, forgotten-password email, and reset by link.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fastauth_core::Error;
use fastauth_core::email::Email;
use fastauth_core::password::Password;
use fastauth_core::secret::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppPath, Authenticated, Meta};
use super::problem::{ApiError, Problem};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(reset_password))
        .routes(routes!(forget_password))
        .routes(routes!(reset_forget_password))
}

#[derive(Serialize, ToSchema)]
pub struct Msg {
    msg: &'static str,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    current_password: Secret,
    #[schema(value_type = String, format = Password)]
    new_password: Secret,
    /// Optional; when given it must be the signed-in user's email.
    email: Option<String>,
}

/// Changes the signed-in user's password; its other sessions end.
#[utoipa::path(post, path = "/reset-password", tag = "passwords", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 200, body = Msg), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn reset_password(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<ChangePasswordRequest>,
) -> Result<Json<Msg>, ApiError> {
    if let Some(email) = req.email.filter(|e| !e.trim().is_empty())
        && caller.user.email.as_ref() != Some(&Email::parse(&email)?)
    {
        return Err(Error::invalid("email", "is not the signed-in user's email").into());
    }
    let (current, new) = (Password::new(req.current_password.expose()), Password::new(req.new_password.expose()));
    app.core.change_password(&caller, &current, &new, &meta).await?;
    Ok(Json(Msg { msg: "Password updated successfully" }))
}

#[derive(Deserialize, ToSchema)]
pub struct ForgetPasswordRequest {
    email: String,
    /// Where the link points: `{base_url}/auth/reset-forget-password/{token}`. Its origin must be
    /// in RESET_REDIRECT_ALLOWLIST.
    base_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    detail: AcceptedDetail,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptedDetail {
    message: &'static str,
}

/// Emails a single-use reset link (30 minutes). The answer is the same for unknown emails.
#[utoipa::path(post, path = "/forget-password", tag = "passwords", request_body = ForgetPasswordRequest,
    responses((status = 202, body = Accepted), (status = 400, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn forget_password(
    State(app): State<App>,
    Meta(meta): Meta,
    AppJson(req): AppJson<ForgetPasswordRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let email = Email::parse(&req.email)?;
    app.core.forget_password(&email, req.base_url.as_deref(), &meta).await?;
    let message = "If an account uses this email, a link to set a new password is on its way.";
    Ok((StatusCode::ACCEPTED, Json(Accepted { detail: AcceptedDetail { message } })))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetRequest {
    #[schema(value_type = String, format = Password)]
    new_password: Secret,
    #[schema(value_type = String, format = Password)]
    confirm_password: Secret,
}

/// Sets a new password with the emailed link's token; every session ends.
#[utoipa::path(post, path = "/reset-forget-password/{token}", tag = "passwords", params(("token" = String, Path)), request_body = ResetRequest,
    responses((status = 200, body = Msg), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn reset_forget_password(
    State(app): State<App>,
    Meta(meta): Meta,
    AppPath(token): AppPath<String>,
    AppJson(req): AppJson<ResetRequest>,
) -> Result<Json<Msg>, ApiError> {
    let (new, confirm) = (Password::new(req.new_password.expose()), Password::new(req.confirm_password.expose()));
    app.core.reset_with_token(&token, &new, &confirm, &meta).await?;
    Ok(Json(Msg { msg: "Password reset successfully" }))
}
