//! Where profile images go: the local upload directory, or S3 when AWS_S3_BUCKET is set.

use std::path::PathBuf;

use fastauth_core::secret::Secret;

use super::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub dir: PathBuf,
    pub max_bytes: usize,
    pub s3: Option<S3Config>,
}

#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Any S3-compatible store (path-style requests; http allowed for local servers).
    pub endpoint: Option<String>,
    /// The base of the URLs handed back; the bucket's own URL by default.
    pub public_url: String,
}

impl UploadConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_bytes = env.get_in("UPLOAD_MAX_BYTES", 5 * 1024 * 1024, 1024..=100 * 1024 * 1024)?;
        let dir = PathBuf::from(env.get("UPLOAD_DIR", "data/uploads".to_owned())?);
        let s3 = match env.raw("AWS_S3_BUCKET") {
            None => None,
            Some(bucket) => {
                let region = env.get("S3_REGION", "us-east-1".to_owned())?;
                let endpoint = env.raw("S3_ENDPOINT").map(|e| e.trim_end_matches('/').to_owned());
                if endpoint.as_ref().is_some_and(|e| !e.starts_with("http://") && !e.starts_with("https://")) {
                    return Err(ConfigError::new("S3_ENDPOINT", "must be an http(s) URL"));
                }
                let public_url = match (env.raw("S3_PUBLIC_URL"), &endpoint) {
                    (Some(url), _) => url.trim_end_matches('/').to_owned(),
                    (None, Some(endpoint)) => format!("{endpoint}/{bucket}"),
                    (None, None) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
                };
                Some(S3Config {
                    bucket: bucket.to_owned(),
                    region,
                    access_key_id: env.raw("AWS_ACCESS_KEY_ID").map(str::to_owned),
                    secret_access_key: env.raw("AWS_SECRET_ACCESS_KEY").map(Secret::new),
                    endpoint,
                    public_url,
                })
            }
        };
        Ok(Self { dir, max_bytes, s3 })
    }
}
