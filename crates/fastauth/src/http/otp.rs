//! Sign-in with a one-time code sent by email.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fastauth_core::email::Email;
use fastauth_core::otp::parse_code;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::with_refresh_cookie;
use super::extract::{AppJson, ClientHeader, Meta};
use super::problem::{ApiError, Problem};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(request_otp)).routes(routes!(verify_otp))
}

#[derive(Deserialize, ToSchema)]
pub struct OtpRequest {
    email: String,
    client_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OtpSent {
    msg: &'static str,
}

/// Emails a six-digit sign-in code. The answer is the same for unknown emails; a new code at
/// most every 60 s and 5 an hour per address (429 with Retry-After).
#[utoipa::path(post, path = "/request-otp", tag = "otp", request_body = OtpRequest,
    responses((status = 202, body = OtpSent), (status = 429, body = Problem)))]
async fn request_otp(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<OtpRequest>,
) -> Result<(StatusCode, Json<OtpSent>), ApiError> {
    let email = Email::parse(&req.email)?;
    let client = client.resolve(req.client_id.as_deref())?;
    app.core.request_email_otp(&email, &client, &meta).await?;
    Ok((StatusCode::ACCEPTED, Json(OtpSent { msg: "If an account uses this email, a code is on its way." })))
}

#[derive(Deserialize, ToSchema)]
pub struct OtpVerify {
    email: String,
    otp: String,
    client_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OtpTokens {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    uuid: String,
    role_ids: Vec<i64>,
}

/// Signs in with the emailed code (single use; 5 wrong tries burn it) and marks the email verified.
#[utoipa::path(post, path = "/verify-otp", tag = "otp", request_body = OtpVerify,
    responses((status = 200, body = OtpTokens), (status = 401, body = Problem)))]
async fn verify_otp(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<OtpVerify>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&req.email)?;
    let code = parse_code(&req.otp)?;
    let client = client.resolve(req.client_id.as_deref())?;
    let tokens = app.core.verify_email_otp(&email, &code, &client, &meta).await?;
    let body = OtpTokens {
        access_token: tokens.access_token.clone(),
        refresh_token: tokens.refresh_token.expose().to_owned(),
        token_type: "bearer",
        expires_in: tokens.expires_in,
        uuid: tokens.user_id.to_string(),
        role_ids: tokens.role_ids.clone(),
    };
    Ok(with_refresh_cookie(&app, Some(&tokens), Json(body).into_response()))
}
