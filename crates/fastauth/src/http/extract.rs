//! Extractors that turn requests into parsed values, with every rejection a problem document.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use fastauth_core::auth::Caller;
use fastauth_core::ids::ClientId;
use fastauth_core::secret::Secret;
use fastauth_core::service::RequestMeta;
use fastauth_core::{Error, FieldError};
use serde::de::DeserializeOwned;

use super::problem::{ApiError, problem};
use crate::app::App;
use crate::client_ip;

/// A rejection before the request reached a use case.
#[derive(Debug)]
pub struct Rejection(Box<Response>);

impl Rejection {
    fn new(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<ApiError> for Rejection {
    fn from(e: ApiError) -> Self {
        Self::new(e.into_response())
    }
}

/// A JSON body (`application/json` or `+json`), at most the configured size.
pub struct AppJson<T>(pub T);

/// Like `AppJson`, but an empty body is `None` (endpoints whose fields may come elsewhere).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match OptionalJson::<T>::from_request(req, state).await? {
            OptionalJson(Some(value)) => Ok(Self(value)),
            OptionalJson(None) => Err(Rejection::new(problem(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "a JSON body is required".into(),
                vec![],
            ))),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "payload_too_large" } else { "malformed_request" };
            Rejection::new(problem(status, code, e.body_text(), vec![]))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if is_json != Some(true) {
            let detail = "the body must be JSON with Content-Type: application/json".to_owned();
            return Err(Rejection::new(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                detail,
                vec![],
            )));
        }
        parse_json(&bytes).map(|v| Self(Some(v)))
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                let field = field_of(&e.to_string());
                let message = e.to_string().split(" at line").next().unwrap_or_default().to_owned();
                ApiError(Error::Validation(vec![FieldError::new(field, message)])).into()
            }
            _ => Rejection::new(problem(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "the body is not valid JSON".into(),
                vec![],
            )),
        }
    })
}

/// The field a serde message names (`missing field `email``), or `body`.
fn field_of(message: &str) -> String {
    message.split('`').nth(1).filter(|f| !f.is_empty() && f.len() < 64).unwrap_or("body").to_owned()
}

/// Query-string parameters, rejected as a problem.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(v)| Self(v))
            .map_err(|e| ApiError(Error::Validation(vec![FieldError::new("query", e.body_text())])).into())
    }
}

/// Path parameters, rejected as a problem.
pub struct AppPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppPath<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| ApiError(Error::Validation(vec![FieldError::new("path", e.body_text())])).into())
    }
}

/// The request's time, client address and user agent.
pub struct Meta(pub RequestMeta);

impl FromRequestParts<App> for Meta {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let ip = peer.map(|p| client_ip::resolve(p, forwarded, &app.config.http.trusted_proxies).to_string());
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Self(RequestMeta { now: app.now(), ip, user_agent }))
    }
}

/// The access token from `Authorization: Bearer`, or from `?token=` while ALLOW_QUERY_TOKENS.
pub struct BearerToken(pub Option<Secret>);

impl FromRequestParts<App> for BearerToken {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
        });
        let query = if app.config.http.allow_query_tokens { query_param(&parts.uri, "token") } else { None };
        Ok(Self(one_credential([header, query])?.map(Secret::new)))
    }
}

/// The one value among the places a credential may come from; two different ones are refused.
pub fn one_credential<const N: usize>(values: [Option<String>; N]) -> Result<Option<String>, ApiError> {
    let mut found: Option<String> = None;
    for value in values.into_iter().flatten().filter(|v| !v.is_empty()) {
        match &found {
            Some(f) if *f != value => return Err(ApiError(Error::AmbiguousCredentials)),
            _ => found = Some(value),
        }
    }
    Ok(found)
}

/// One query-string parameter.
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?; // most requests have none: nothing to parse
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A signed-in caller: a valid access token of a live session and an active user.
pub struct Authenticated(pub Caller);

impl FromRequestParts<App> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, app).await?;
        let token = token.ok_or(ApiError(Error::Unauthenticated))?;
        let caller = app.core.authenticate(token.expose(), None, app.now()).await.map_err(ApiError)?;
        Ok(Self(caller))
    }
}

/// The application named by the `X-Client-Id` header, if any.
pub struct ClientHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientHeader {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get("x-client-id").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned())))
    }
}

impl ClientHeader {
    /// The app from the body's `client_id` or the header (they must agree), else `default`.
    pub fn resolve(self, body: Option<&str>) -> Result<ClientId, ApiError> {
        match one_credential([self.0, body.map(str::to_owned)])? {
            Some(id) => Ok(ClientId::parse(&id)?),
            None => Ok(ClientId::default_app()),
        }
    }
}

/// A page size: 50 by default, at most 200.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid("limit", "must be between 1 and 200").into())
    }
}
