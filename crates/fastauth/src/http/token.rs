//! The live token check for resource servers (`/token`) and the caller's own profile (`/me`).

use axum::Json;
use axum::extract::State;
use fastauth_core::ids::ClientId;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Authenticated, BearerToken, ClientHeader, Meta, OptionalJson, one_credential};
use super::problem::{ApiError, Problem};
use super::views::{Results, TokenUserView};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(check_token, check_token_get)).routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    token: Option<String>,
    /// When given, tokens issued to another application are refused.
    client_id: Option<String>,
}

/// Validate an access token against the live state and return its user.
///
/// The token comes as a bearer header, the `token` query parameter, or `{token}`. Tokens of
/// ended sessions and disabled users are refused at once.
#[utoipa::path(post, path = "/token", tag = "tokens", request_body(content = Option<TokenRequest>),
    responses((status = 200, body = Results<TokenUserView>), (status = 401, body = Problem)))]
async fn check_token(
    State(app): State<App>,
    Meta(meta): Meta,
    BearerToken(bearer): BearerToken,
    client: ClientHeader,
    OptionalJson(body): OptionalJson<TokenRequest>,
) -> Result<Json<Results<TokenUserView>>, ApiError> {
    let (body_token, body_client) = body.map_or((None, None), |b| (b.token, b.client_id));
    let token = one_credential([bearer.map(|s| s.expose().to_owned()), body_token])?;
    let token = token.ok_or(fastauth_core::Error::Unauthenticated)?;
    let client = one_credential([client.0, body_client])?.map(|c| ClientId::parse(&c)).transpose()?;
    let caller = app.core.authenticate(&token, client.as_ref(), meta.now).await?;
    Ok(Json(Results { results: TokenUserView::new(&caller.user, &caller.roles) }))
}

/// Validate an access token (GET form of `POST /token`).
#[utoipa::path(get, path = "/token", tag = "tokens",
    responses((status = 200, body = Results<TokenUserView>), (status = 401, body = Problem)))]
async fn check_token_get(
    State(app): State<App>,
    meta: Meta,
    bearer: BearerToken,
    client: ClientHeader,
) -> Result<Json<Results<TokenUserView>>, ApiError> {
    check_token(State(app), meta, bearer, client, OptionalJson(None)).await
}

/// The signed-in user, exactly as `/token` answers it.
#[utoipa::path(get, path = "/me", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Results<TokenUserView>), (status = 401, body = Problem)))]
async fn me(Authenticated(caller): Authenticated) -> Json<Results<TokenUserView>> {
    Json(Results { results: TokenUserView::new(&caller.user, &caller.roles) })
}
