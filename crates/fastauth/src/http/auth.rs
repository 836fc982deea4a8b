//! Sign-up, sign-in, refresh and logout.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fastauth_core::Error;
use fastauth_core::auth::{Identifier, IssuedTokens, SignIn, SignUp, SignedUp};
use fastauth_core::email::Email;
use fastauth_core::error::FieldErrors;
use fastauth_core::password::Password;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::secret::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie;
use super::extract::{
    AppJson, Authenticated, BearerToken, ClientHeader, Meta, OptionalJson, one_credential, query_param,
};
use super::problem::{ApiError, Problem};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(refresh_token))
        .routes(routes!(logout))
}

#[derive(Deserialize, ToSchema)]
pub struct SignUpRequest {
    firstname: String,
    lastname: String,
    email: String,
    phone_number: Option<String>,
    #[schema(value_type = String, format = Password)]
    password: Secret,
    source_profile: Option<String>,
    /// Roles other than DEFAULT_ROLE need an admin's bearer token with users:write.
    role_ids: Option<Vec<i64>>,
    client_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignUpResponse {
    msg: &'static str,
    /// Absent when REQUIRE_EMAIL_VERIFICATION holds tokens back until the email is verified.
    #[serde(flatten)]
    tokens: Option<TokenFields>,
    user_id: String,
    role_ids: Vec<i64>,
    source_profile: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenFields {
    access_token: String,
    /// Absent when the refresh token travels only as a cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
}

impl TokenFields {
    fn new(tokens: &IssuedTokens, with_refresh: bool) -> Self {
        Self {
            access_token: tokens.access_token.clone(),
            refresh_token: with_refresh.then(|| tokens.refresh_token.expose().to_owned()),
            token_type: "bearer",
            expires_in: tokens.expires_in,
        }
    }
}

/// A name field: trimmed, 1 to 100 characters, no control characters.
pub(super) fn name(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    match value.chars().count() {
        1..=100 if !value.chars().any(char::is_control) => Ok(value.to_owned()),
        _ => Err(Error::invalid(field, "must be 1 to 100 characters")),
    }
}

/// A profile image URL: http(s), at most 2048 characters.
pub(super) fn source_profile(value: &str) -> Result<String, Error> {
    let value = value.trim();
    let ok = value.len() <= 2048
        && (value.starts_with("https://") || value.starts_with("http://") || value.starts_with('/'))
        && !value.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid("source_profile", "must be an http(s) URL of at most 2048 characters"))
    }
}

impl SignUpRequest {
    fn parse(self, app: &App, client: ClientHeader) -> Result<SignUp, Error> {
        let mut errors = FieldErrors::default();
        let firstname = errors.take(name("firstname", &self.firstname));
        let lastname = errors.take(name("lastname", &self.lastname));
        let email = errors.take(Email::parse(&self.email));
        let phone_number = match self.phone_number.filter(|p| !p.trim().is_empty()) {
            Some(p) => errors.take(PhoneNumber::parse(&p, app.config.phone_region)),
            None => None,
        };
        let source_profile =
            self.source_profile.filter(|s| !s.is_empty()).and_then(|s| errors.take(source_profile(&s)));
        let client = errors.take(client.resolve(self.client_id.as_deref()).map_err(|e| e.0));
        errors.finish()?;
        match (firstname, lastname, email, client) {
            (Some(firstname), Some(lastname), Some(email), Some(client)) => Ok(SignUp {
                firstname,
                lastname,
                email,
                phone_number,
                password: Password::new(self.password.expose()),
                source_profile,
                role_ids: self.role_ids,
                client,
            }),
            _ => Err(Error::invalid("body", "is incomplete")),
        }
    }
}

/// Create an account with email and password.
///
/// Returns tokens at once unless REQUIRE_EMAIL_VERIFICATION is on. `role_ids` other than the
/// default role need a bearer token holding users:write and every permission those roles grant.
#[utoipa::path(post, path = "/signup", tag = "auth", request_body = SignUpRequest,
    responses((status = 201, body = SignUpResponse), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn sign_up(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    BearerToken(token): BearerToken,
    AppJson(req): AppJson<SignUpRequest>,
) -> Result<Response, ApiError> {
    let req = req.parse(&app, client)?;
    // An admin may create accounts with roles through sign-up, as in FastAuthCore.
    let caller = match token {
        Some(token) => Some(app.core.authenticate(token.expose(), None, meta.now).await?),
        None => None,
    };
    let source_profile = req.source_profile.clone();
    let (tokens, user, role_ids) = match app.core.sign_up(req, caller.as_ref(), &meta).await? {
        SignedUp::Tokens(tokens, user) => {
            let role_ids = tokens.role_ids.clone();
            (Some(tokens), user, role_ids)
        }
        SignedUp::VerificationRequired(user, role_ids) => (None, user, role_ids),
    };
    let body = SignUpResponse {
        msg: if tokens.is_some() { "User created successfully" } else { "User created; verify the email to sign in" },
        tokens: tokens.as_ref().map(|t| TokenFields::new(t, true)),
        user_id: user.id.to_string(),
        role_ids,
        source_profile,
    };
    Ok(with_refresh_cookie(&app, tokens.as_ref(), (StatusCode::CREATED, axum::Json(body)).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    email: Option<String>,
    phone_number: Option<String>,
    #[schema(value_type = String, format = Password)]
    password: Secret,
    client_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignInResponse {
    #[serde(flatten)]
    tokens: TokenFields,
    user_id: String,
    role_ids: Vec<i64>,
}

/// Sign in with email (or phone number) and password.
///
/// Unknown accounts and wrong passwords get the same 401 `invalid_credentials`, in similar time.
#[utoipa::path(post, path = "/signin", tag = "auth", request_body = SignInRequest,
    responses((status = 200, body = SignInResponse), (status = 401, body = Problem), (status = 503, body = Problem), (status = 429, body = Problem)))]
async fn sign_in(
    State(app): State<App>,
    Meta(meta): Meta,
    client: ClientHeader,
    AppJson(req): AppJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let identifier =
        match (req.email.filter(|e| !e.trim().is_empty()), req.phone_number.filter(|p| !p.trim().is_empty())) {
            (Some(email), _) => Identifier::Email(Email::parse(&email)?),
            (None, Some(phone)) => Identifier::Phone(PhoneNumber::parse(&phone, app.config.phone_region)?),
            (None, None) => return Err(Error::invalid("email", "email or phone_number is required").into()),
        };
    let client = client.resolve(req.client_id.as_deref())?;
    let sign_in = SignIn { identifier, password: Password::new(req.password.expose()), client };
    let tokens = app.core.sign_in(sign_in, &meta).await?;
    let body = SignInResponse {
        tokens: TokenFields::new(&tokens, true),
        user_id: tokens.user_id.to_string(),
        role_ids: tokens.role_ids.clone(),
    };
    Ok(with_refresh_cookie(&app, Some(&tokens), axum::Json(body).into_response()))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    refresh_token: Option<String>,
}

/// Trade a refresh token for new tokens; the old refresh token stops working.
///
/// The token comes in the body, the `refresh_token` query parameter, or the `refresh_token`
/// cookie. With the cookie, the browser's Origin must be allowed and the new refresh token is
/// answered only as a cookie.
#[utoipa::path(post, path = "/refresh-token", tag = "auth", request_body(content = Option<RefreshRequest>),
    responses((status = 200, body = TokenFields), (status = 401, body = Problem)))]
async fn refresh_token(
    State(app): State<App>,
    Meta(meta): Meta,
    headers: HeaderMap,
    uri: axum::http::Uri,
    OptionalJson(req): OptionalJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let query = if app.config.http.allow_query_tokens { query_param(&uri, "refresh_token") } else { None };
    let given = one_credential([req.and_then(|r| r.refresh_token), query])?;
    let (token, from_cookie) = match given {
        Some(token) => (token, false),
        None => (cookie::read(&headers).ok_or(Error::InvalidRefreshToken)?, true),
    };
    if from_cookie {
        // A cross-site page must not be able to mint tokens with the user's cookie.
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if origin.is_some_and(|o| !app.config.http.is_allowed_origin(o)) {
            return Err(Error::Forbidden.into());
        }
    }
    let tokens = app.core.refresh(&token, &meta).await?;
    let body = TokenFields::new(&tokens, !from_cookie);
    Ok(with_refresh_cookie(&app, Some(&tokens), axum::Json(body).into_response()))
}

/// End the current session.
#[utoipa::path(post, path = "/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
async fn logout(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    app.core.logout(&caller, &meta).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie::clear());
    Ok(response)
}

/// Adds the refresh cookie for web clients.
pub(super) fn with_refresh_cookie(app: &App, tokens: Option<&IssuedTokens>, mut response: Response) -> Response {
    if let Some(value) = tokens.and_then(|t| cookie::set(t.refresh_token.expose(), app.config.tokens.refresh_idle_ttl))
    {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
