//! Per-IP rate limits on the routes that check or send secrets (SPEC section 6), counted before
//! the body is read, so that malformed requests count too.

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use fastauth_core::limits::{CODE_CHECKS, CODE_REQUESTS, IpLimit, SIGN_INS, SIGN_UPS};

use super::extract::Meta;
use super::problem::ApiError;
use crate::app::App;

/// The limit a route template counts against.
fn limit_for(route: &str) -> Option<IpLimit> {
    match route {
        "/signin" => Some(SIGN_INS),
        "/signup" => Some(SIGN_UPS),
        "/request-otp" | "/request-otp-phone" | "/request-otp-mobile" | "/forget-password" => Some(CODE_REQUESTS),
        "/verify-otp" | "/verify-otp-phone" | "/verify-otp-mobile" | "/reset-forget-password/{token}" => {
            Some(CODE_CHECKS)
        }
        _ => None,
    }
}

/// Counts `req` against its route's limit: the request back to be handled, or the refusal.
pub async fn limit_by_ip(app: &App, req: Request) -> Result<Request, Response> {
    let Some(limit) = req.extensions().get::<MatchedPath>().and_then(|p| limit_for(p.as_str())) else {
        return Ok(req);
    };
    let (mut parts, body) = req.into_parts();
    let Meta(meta) = Meta::from_request_parts(&mut parts, app).await.map_err(IntoResponse::into_response)?;
    app.core.limit_ip(limit, &meta).await.map_err(|e| ApiError(e).into_response())?;
    Ok(Request::from_parts(parts, body))
}
