//! RFC 9457 problem details: the one mapping from domain errors to status and stable `code`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fastauth_core::error::Constraint;
use fastauth_core::{Error, FieldError};
use serde::Serialize;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

/// The problem document. `detail` keeps FastAuthCore clients that read it working.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

/// The internal error behind a 5xx, for the logging middleware (never sent to the client).
#[derive(Debug, Clone)]
pub struct InternalError(pub std::sync::Arc<String>);

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match &self.0 {
            Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
            Error::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Error::InvalidRefreshToken => (StatusCode::UNAUTHORIZED, "invalid_refresh_token"),
            Error::RefreshTokenReused => (StatusCode::UNAUTHORIZED, "refresh_token_reused"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Error::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Error::ReauthenticationRequired => (StatusCode::FORBIDDEN, "reauthentication_required"),
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(Constraint::RoleName) => (StatusCode::CONFLICT, "role_exists"),
            Error::Conflict(Constraint::ApplicationId) => (StatusCode::CONFLICT, "application_exists"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "user_exists"),
            Error::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Error::WeakPassword(_) => (StatusCode::UNPROCESSABLE_ENTITY, "weak_password"),
            Error::UnknownClient => (StatusCode::BAD_REQUEST, "unknown_client"),
            Error::AmbiguousCredentials => (StatusCode::BAD_REQUEST, "ambiguous_credentials"),
            Error::SmsLimit { .. } => (StatusCode::TOO_MANY_REQUESTS, "sms_limit"),
            Error::InvalidOtp => (StatusCode::UNAUTHORIZED, "invalid_otp"),
            Error::InvalidCurrentPassword => (StatusCode::BAD_REQUEST, "invalid_current_password"),
            Error::PasswordReused => (StatusCode::BAD_REQUEST, "password_reused"),
            Error::InvalidResetToken => (StatusCode::UNAUTHORIZED, "invalid_reset_token"),
            Error::InvalidBaseUrl => (StatusCode::BAD_REQUEST, "invalid_base_url"),
            Error::DeliveryFailed => (StatusCode::SERVICE_UNAVAILABLE, "delivery_failed"),
            Error::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Error::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Error::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let (detail, errors, retry_after) = match &self.0 {
            Error::Validation(errors) | Error::WeakPassword(errors) => {
                let detail = errors.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
                (detail, errors.clone(), None)
            }
            Error::Conflict(c) => (
                format!("{} is already registered", c.field()),
                vec![FieldError::new(c.field(), "is already registered")],
                None,
            ),
            Error::RateLimited { retry_after } | Error::SmsLimit { retry_after } => {
                (self.0.to_string(), vec![], Some(*retry_after))
            }
            Error::Overloaded | Error::Unavailable | Error::DeliveryFailed => {
                (self.0.to_string(), vec![], Some(Duration::from_secs(1)))
            }
            // A 5xx says nothing specific; the cause goes to the log.
            Error::Internal(_) => ("internal error".to_owned(), vec![], None),
            other => (other.to_string(), vec![], None),
        };
        let mut response = problem(status, code, detail, errors);
        if let Some(after) = retry_after {
            let secs = after.as_millis().div_ceil(1000).max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if matches!(self.0, Error::Overloaded | Error::RateLimited { .. }) {
            response.extensions_mut().insert(Paced);
        }
        if let Error::Internal(err) = &self.0 {
            response.extensions_mut().insert(InternalError(std::sync::Arc::new(format!("{err:#}"))));
        }
        response
    }
}

/// Marks a "come back later" refusal (hashing pool full, rate limit), which the front layer
/// answers after a short pause.
#[derive(Debug, Clone, Copy)]
pub struct Paced;

/// A problem response for conditions outside the domain (unknown route, bad body, ...).
pub fn problem(status: StatusCode, code: &str, detail: String, errors: Vec<FieldError>) -> Response {
    let body = Problem {
        kind: format!("https://fastauth.dev/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
        errors,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}
