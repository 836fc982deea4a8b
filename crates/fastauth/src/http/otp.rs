//! Sign-in with a one-time code sent by email.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fastauth_core::email::Email;
use fastauth_core::otp::{PhoneFlow, parse_code};
use fastauth_core::phone::PhoneNumber;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::with_refresh_cookie;
use super::extract::{AppJson, ClientHeader, Meta};
use super::problem::{ApiError, Problem};
use super::views::Envelope;
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(request_otp))
        .routes(routes!(verify_otp))
        .routes(routes!(request_otp_phone))
        .routes(routes!(verify_otp_phone))
        .routes(routes!(request_otp_mobile))
        .routes(routes!(verify_otp_mobile))
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
    responses((status = 200, body = OtpTokens), (status = 401, body = Problem), (status = 429, body = Problem)))]
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

#[derive(Deserialize, ToSchema)]
pub struct PhoneOtpRequest {
    phone_number: String,
    client_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct PhoneOtpVerify {
    phone_number: String,
    otp: String,
    client_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PhoneTokens {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    uuid: String,
    role_ids: Vec<i64>,
    /// `/verify-otp-mobile` only: the account was created by this sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    new_user: Option<bool>,
}

async fn request_phone(
    app: &App,
    meta: &fastauth_core::service::RequestMeta,
    client: ClientHeader,
    req: PhoneOtpRequest,
    flow: PhoneFlow,
) -> Result<(StatusCode, Json<Envelope<Option<String>>>), ApiError> {
    let phone = PhoneNumber::parse(&req.phone_number, app.config.phone_region)?;
    let client = client.resolve(req.client_id.as_deref())?;
    app.core.request_phone_otp(&phone, &client, flow, meta).await?;
    Ok((StatusCode::ACCEPTED, Json(Envelope::ok("OTP sent successfully.", None))))
}

async fn verify_phone(
    app: &App,
    meta: &fastauth_core::service::RequestMeta,
    client: ClientHeader,
    req: PhoneOtpVerify,
    flow: PhoneFlow,
) -> Result<Response, ApiError> {
    let phone = PhoneNumber::parse(&req.phone_number, app.config.phone_region)?;
    let code = parse_code(&req.otp)?;
    let client = client.resolve(req.client_id.as_deref())?;
    let signed = app.core.verify_phone_otp(&phone, &code, &client, flow, meta).await?;
    let t = &signed.tokens;
    let results = PhoneTokens {
        access_token: t.access_token.clone(),
        refresh_token: t.refresh_token.expose().to_owned(),
        token_type: "bearer",
        expires_in: t.expires_in,
        uuid: t.user_id.to_string(),
        role_ids: t.role_ids.clone(),
        new_user: (flow == PhoneFlow::Mobile).then_some(signed.new_user),
    };
    Ok(with_refresh_cookie(app, Some(t), Json(Envelope::ok("OTP verified successfully.", results)).into_response()))
}

/// Sends a code by SMS to a registered number; others get the same answer and no SMS.
#[utoipa::path(post, path = "/request-otp-phone", tag = "otp", request_body = PhoneOtpRequest,
    responses((status = 202, body = Envelope<Option<String>>), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn request_otp_phone(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<PhoneOtpRequest>,
) -> Result<(StatusCode, Json<Envelope<Option<String>>>), ApiError> {
    request_phone(&app, &meta, client, req, PhoneFlow::Registered).await
}

/// Signs in a registered number with its SMS code.
#[utoipa::path(post, path = "/verify-otp-phone", tag = "otp", request_body = PhoneOtpVerify,
    responses((status = 200, body = Envelope<PhoneTokens>), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn verify_otp_phone(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<PhoneOtpVerify>,
) -> Result<Response, ApiError> {
    verify_phone(&app, &meta, client, req, PhoneFlow::Registered).await
}

/// Sends a code by SMS to any number (mobile sign-up and sign-in).
#[utoipa::path(post, path = "/request-otp-mobile", tag = "otp", request_body = PhoneOtpRequest,
    responses((status = 202, body = Envelope<Option<String>>), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn request_otp_mobile(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<PhoneOtpRequest>,
) -> Result<(StatusCode, Json<Envelope<Option<String>>>), ApiError> {
    request_phone(&app, &meta, client, req, PhoneFlow::Mobile).await
}

/// Signs in with an SMS code; an unknown number becomes a new passwordless user (`new_user`).
#[utoipa::path(post, path = "/verify-otp-mobile", tag = "otp", request_body = PhoneOtpVerify,
    responses((status = 200, body = Envelope<PhoneTokens>), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn verify_otp_mobile(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<PhoneOtpVerify>,
) -> Result<Response, ApiError> {
    verify_phone(&app, &meta, client, req, PhoneFlow::Mobile).await
}
