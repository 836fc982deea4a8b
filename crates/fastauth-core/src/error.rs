//! Errors in domain words. `StoreError` converts into `Error` once; the HTTP layer maps `Error`
//! to a status and a stable code in one place.

use std::time::Duration;

/// A field that failed validation, with a message safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Gathers the field errors of a whole request, so that the caller hears of all of them at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The value, or `None` with its validation errors kept (other errors are kept as `body`).
    pub fn take<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Error::Validation(errors) | Error::WeakPassword(errors)) => {
                self.0.extend(errors);
                None
            }
            Err(other) => {
                self.0.push(FieldError::new("body", other.to_string()));
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    /// `Err(Validation)` if anything was gathered.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::Validation(self.0)) }
    }
}

/// A uniqueness rule that a change would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    UserEmail,
    UserPhone,
    UserId,
    RoleName,
    ApplicationId,
}

impl Constraint {
    /// The request field the constraint is about.
    pub fn field(self) -> &'static str {
        match self {
            Constraint::UserEmail => "email",
            Constraint::UserPhone => "phone_number",
            Constraint::UserId => "id",
            Constraint::RoleName => "role_name",
            Constraint::ApplicationId => "id",
        }
    }
}

/// What can go wrong in a store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict on {0:?}")]
    Conflict(Constraint),
    #[error("database unavailable")]
    Unavailable,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Every failure a use case reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("missing or invalid access token")]
    Unauthenticated,
    #[error("token expired")]
    TokenExpired,
    #[error("invalid token")]
    InvalidToken,
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("too many attempts")]
    RateLimited { retry_after: Duration },
    #[error("forbidden")]
    Forbidden,
    #[error("confirm with your current password (current_password)")]
    ReauthenticationRequired,
    #[error("not found")]
    NotFound,
    #[error("{} already in use", .0.field())]
    Conflict(Constraint),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("password does not meet the policy")]
    WeakPassword(Vec<FieldError>),
    #[error("unknown client_id")]
    UnknownClient,
    #[error("the same credential was given twice with different values")]
    AmbiguousCredentials,
    #[error("the file is not a JPEG, PNG, GIF, WebP or AVIF image")]
    UnsupportedMediaType,
    #[error("SMS to this number cannot be sent now")]
    SmsLimit { retry_after: Duration },
    #[error("the code is wrong, used or expired")]
    InvalidOtp,
    #[error("the current password is wrong")]
    InvalidCurrentPassword,
    #[error("the new password must differ from the current one")]
    PasswordReused,
    #[error("the reset link is invalid, used or expired")]
    InvalidResetToken,
    #[error("base_url is not an allowed origin for reset links")]
    InvalidBaseUrl,
    #[error("the message could not be delivered; try again later")]
    DeliveryFailed,
    #[error("service overloaded")]
    Overloaded,
    #[error("service unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// A single-field validation failure.
    pub fn invalid(field: &str, message: &str) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict(c) => Error::Conflict(c),
            StoreError::Unavailable => Error::Unavailable,
            StoreError::Other(e) => Error::Internal(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
