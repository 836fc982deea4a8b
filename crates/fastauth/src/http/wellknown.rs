//! What standard JWT libraries need to validate tokens offline: the JWKS and the discovery
//! document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(jwks)).routes(routes!(openid_configuration))
}

/// The public signing keys (empty in HS256 mode). Cached for 5 minutes.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "JWK Set", content_type = "application/json")))]
async fn jwks(State(app): State<App>) -> Response {
    let body = app.core.keys.jwks();
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[derive(Serialize, ToSchema)]
pub struct Discovery {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    response_types_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
    id_token_signing_alg_values_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
}

/// Discovery document: issuer, JWKS location, signing algorithm.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "tokens",
    responses((status = 200, body = Discovery)))]
async fn openid_configuration(State(app): State<App>) -> Response {
    let base = &app.config.base_url;
    let body = Discovery {
        issuer: base.clone(),
        jwks_uri: format!("{base}.well-known/jwks.json"),
        token_endpoint: format!("{base}signin"),
        response_types_supported: vec!["token"],
        subject_types_supported: vec!["public"],
        id_token_signing_alg_values_supported: vec![app.core.keys.algorithm().as_str()],
        token_endpoint_auth_methods_supported: vec!["none"],
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
