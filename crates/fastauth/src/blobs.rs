//! Image storage through `object_store`: the local upload directory (served at `/uploads/…`)
//! or an S3-compatible bucket. One type; the backend is the `ObjectStore` it holds.

use std::sync::Arc;

use async_trait::async_trait;
use fastauth_core::StoreError;
use fastauth_core::ports::{Blobs, StoreResult};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};

use crate::config::UploadConfig;

pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    /// URLs handed back are this plus the key.
    public_base: String,
    /// Local directories cannot keep a content type; it follows from the key's extension.
    is_local: bool,
}

impl ObjectBlobs {
    pub fn new(config: &UploadConfig, base_url: &str) -> anyhow::Result<Self> {
        match &config.s3 {
            Some(s3) => {
                let mut builder = AmazonS3Builder::new().with_bucket_name(&s3.bucket).with_region(&s3.region);
                if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                    builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose());
                }
                if let Some(endpoint) = &s3.endpoint {
                    builder =
                        builder.with_endpoint(endpoint).with_allow_http(true).with_virtual_hosted_style_request(false);
                }
                Ok(Self {
                    store: Arc::new(builder.build()?),
                    public_base: format!("{}/", s3.public_url),
                    is_local: false,
                })
            }
            None => {
                std::fs::create_dir_all(&config.dir)?;
                let store = LocalFileSystem::new_with_prefix(&config.dir)?;
                Ok(Self { store: Arc::new(store), public_base: format!("{base_url}uploads/"), is_local: true })
            }
        }
    }

    /// Reads a locally stored object (for `/uploads/…`); `None` if absent or not local.
    pub async fn read_local(&self, key: &str) -> Option<Vec<u8>> {
        if !self.is_local {
            return None;
        }
        let path = Path::parse(key).ok()?;
        let result = self.store.get(&path).await.ok()?;
        result.bytes().await.ok().map(|b| b.to_vec())
    }
}

/// Any failure to reach the storage is an outage for the caller (503).
fn unavailable(err: object_store::Error) -> StoreError {
    tracing::warn!(error = %err, "image storage failed");
    StoreError::Unavailable
}

#[async_trait]
impl Blobs for ObjectBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> StoreResult<String> {
        let path = Path::parse(key).map_err(|e| StoreError::Other(e.into()))?;
        let mut attributes = Attributes::new();
        if !self.is_local {
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        }
        let options = PutOptions { attributes, ..PutOptions::default() };
        self.store.put_opts(&path, PutPayload::from(bytes), options).await.map_err(unavailable)?;
        Ok(format!("{}{key}", self.public_base))
    }

    async fn delete_url(&self, url: &str) -> StoreResult<()> {
        let Some(key) = url.strip_prefix(&self.public_base) else { return Ok(()) };
        let path = Path::parse(key).map_err(|e| StoreError::Other(e.into()))?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
