//! The OpenAPI document and the interactive page at `/docs`, served from vendored assets so it
//! works with no internet.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::app::App;

/// Adds the document's title and the bearer scheme.
pub fn finish(mut api: OpenApi) -> OpenApi {
    api.info = InfoBuilder::new()
        .title("fastauth")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("Authentication and authorization for all of an organization's apps. Errors are RFC 9457 problem documents with a stable `code`."))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    api
}

pub fn routes(api: OpenApi) -> axum::Router<App> {
    let ui = SwaggerUi::new("/docs").url("/openapi.json", api).config(Config::default().validator_url("none"));
    axum::Router::from(ui)
}
