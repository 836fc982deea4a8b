//! Profile image upload, and serving images stored in the local upload directory.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fastauth_core::Error;
use fastauth_core::image::ImageType;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppPath, AppQuery, Authenticated, Meta};
use super::problem::{ApiError, Problem, problem};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    // The handler enforces UPLOAD_MAX_BYTES itself while streaming; the 64 KiB JSON limit
    // does not apply here.
    OpenApiRouter::new().routes(routes!(upload_image)).layer(DefaultBodyLimit::disable()).routes(routes!(serve_upload))
}

#[derive(Deserialize, IntoParams)]
pub struct UploadParams {
    /// Store the image's URL as the caller's `source_profile`.
    set_profile: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    message: &'static str,
    image_url: String,
}

/// The multipart form `/upload-image` takes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// JPEG, PNG, GIF, WebP or AVIF, judged by content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads an image (multipart field `file`); the type is judged by its bytes.
#[utoipa::path(post, path = "/upload-image", tag = "users", security(("bearer" = [])), params(UploadParams),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded), (status = 413, body = Problem), (status = 415, body = Problem), (status = 503, body = Problem)))]
async fn upload_image(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(p): AppQuery<UploadParams>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let max = app.config.uploads.max_bytes;
    // Refuse at once what announces itself as too large, before reading any of it.
    let announced =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > max + 16 * 1024) {
        return Ok(too_large(max));
    }
    let mut multipart =
        multipart.map_err(|_| Error::invalid("file", "the body must be multipart/form-data with a `file` field"))?;
    let mut bytes = None;
    while let Some(mut field) =
        multipart.next_field().await.map_err(|_| Error::invalid("file", "malformed multipart body"))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let mut buf = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| Error::invalid("file", "malformed multipart body"))? {
            if buf.len() + chunk.len() > max {
                return Ok(too_large(max));
            }
            buf.extend_from_slice(&chunk);
        }
        bytes = Some(buf);
        break;
    }
    let bytes = bytes.filter(|b| !b.is_empty()).ok_or_else(|| Error::invalid("file", "is required"))?;
    let url = app.core.upload_image(&caller, bytes, p.set_profile.unwrap_or(false), &meta).await?;
    Ok((StatusCode::CREATED, Json(Uploaded { message: "Image uploaded successfully", image_url: url })).into_response())
}

fn too_large(max: usize) -> Response {
    problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the file must be at most {max} bytes"), vec![])
}

/// Serves an image from the local upload directory.
#[utoipa::path(get, path = "/uploads/profiles/{name}", tag = "users", params(("name" = String, Path)),
    responses((status = 200, description = "the image"), (status = 404, body = Problem)))]
async fn serve_upload(State(app): State<App>, AppPath(name): AppPath<String>) -> Response {
    let kind = name.rsplit_once('.').and_then(|(_, ext)| ImageType::from_extension(ext));
    let valid = !name.contains(['/', '\\']) && !name.starts_with('.');
    let bytes = match kind {
        Some(_) if valid => app.blobs.read_local(&format!("profiles/{name}")).await,
        _ => None,
    };
    match (kind, bytes) {
        (Some(kind), Some(bytes)) => {
            let mut response = ([(header::CONTENT_TYPE, kind.mime())], bytes).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'"));
            response
        }
        _ => problem(StatusCode::NOT_FOUND, "not_found", "no such image".into(), vec![]),
    }
}
