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
    problem_content_type(api)
}

/// Error answers are `application/problem+json` (RFC 9457); utoipa writes every body as
/// `application/json`, so the document is corrected here, once, for every 4xx and 5xx.
fn problem_content_type(api: OpenApi) -> OpenApi {
    let Ok(mut doc) = serde_json::to_value(&api) else { return api };
    for item in doc["paths"].as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
        for operation in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let responses = operation.get_mut("responses").and_then(|r| r.as_object_mut());
            for (status, response) in responses.into_iter().flatten() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                let content = response.get_mut("content").and_then(|c| c.as_object_mut());
                if let (true, Some(content)) = (is_error, content)
                    && let Some(json) = content.remove("application/json")
                {
                    content.insert("application/problem+json".to_owned(), json);
                }
            }
        }
    }
    serde_json::from_value(doc).unwrap_or(api)
}

pub fn routes(api: OpenApi) -> axum::Router<App> {
    let ui = SwaggerUi::new("/docs").url("/openapi.json", api).config(Config::default().validator_url("none"));
    axum::Router::from(ui)
}
