//! The HTTP API: one module per area, each listing its routes with their OpenAPI docs.

mod apps;
mod auth;
mod cookie;
mod docs;
pub mod extract;
mod limits;
mod observe;
mod ops;
mod otp;
mod passwords;
pub mod problem;
mod roles;
mod sessions;
mod token;
mod uploads;
mod users;
mod views;
mod wellknown;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::{Router, middleware};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::App;
use problem::problem;

/// Request bodies are at most 64 KiB (uploads set their own limit).
const BODY_LIMIT: usize = 64 * 1024;

fn api() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(token::routes())
        .merge(sessions::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(apps::routes())
        .merge(uploads::routes())
        .merge(passwords::routes())
        .merge(otp::routes())
        .merge(wellknown::routes())
        .merge(ops::routes())
}

/// The OpenAPI 3.1 document (`fastauth openapi`, `/openapi.json`).
pub fn openapi() -> OpenApi {
    docs::finish(api().split_for_parts().1)
}

/// CORS for browser apps: only CORS_ORIGINS, BASE_URL's origin and `https://*.BASE_DOMAIN` are
/// answered, with credentials; any other origin (`null` and `*` included) gets no CORS headers.
fn cors(app: &App) -> CorsLayer {
    let http = app.config.http.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| origin.to_str().is_ok_and(|o| http.is_allowed_origin(o))))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-client-id"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("deprecation"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The whole service. The layers every answer passes through wrap the routes once, from
/// outside: `Router::layer` wraps each route in each layer as a boxed service, and each level
/// clones the boxed stack below it for every request (`/healthz` +6 %, JWKS +13 % from outside,
/// three A/B pairs). Only `front` stays inside, where the matched route is known.
pub fn router(app: App) -> Router {
    let (routes, api) = api().split_for_parts();
    let routes = routes
        .merge(docs::routes(docs::finish(api)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), front))
        .with_state(app.clone());
    let layered = ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(|_| {
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error".into(), vec![])
        }))
        .layer(cors(&app))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Responses carry tokens and user data: nothing is cached unless a route says so.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(routes);
    Router::new().fallback_service(layered)
}

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "not_found", "no such route".into(), vec![])
}

async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not answer that method".into(),
        vec![],
    )
}

/// How long a "come back later" refusal (503 `overloaded`, 429) waits before it is sent. A
/// client that retries at once, as a flood does, gets at most one refusal per connection per
/// pause, so refusing it cannot take the cores from the requests being served: at 512 flooding
/// connections the refusals fell from ~33,000/s to ~15,000/s and /token's p99 beside them from
/// 36 ms to 10 ms in an A/B run (53 ms to 5.4 ms between bench/run runs on SQLite). Well under
/// the 100 ms in which a refusal must come.
const REFUSAL_PAUSE: Duration = Duration::from_millis(25);

/// What every matched request passes through before its handler, as one layer: axum copies a
/// layer's inner service for each request, and three layers here cost /healthz ~15 % of its
/// CPU (perf). Logging and metrics wrap the per-IP limit and the handler; answers to requests
/// that carried a credential in the query string (a FastAuthCore habit that leaks tokens into
/// logs and histories) are marked deprecated.
async fn front(
    axum::extract::State(app): axum::extract::State<App>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    observe::observe(&app, req, async |req| {
        let uses_query = app.config.http.allow_query_tokens
            && ["token", "refresh_token"].iter().any(|name| extract::query_param(req.uri(), name).is_some());
        let mut response = match limits::limit_by_ip(&app, req).await {
            Ok(req) => next.run(req).await,
            Err(refusal) => refusal,
        };
        if response.extensions().get::<problem::Paced>().is_some() {
            tokio::time::sleep(REFUSAL_PAUSE).await;
        }
        if uses_query {
            response.headers_mut().insert("deprecation", HeaderValue::from_static("true"));
        }
        response
    })
    .await
}
