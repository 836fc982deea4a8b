//! Profile images: stored under a random key, the URL optionally saved as `source_profile`.

use crate::auth::Caller;
use crate::error::Error;
use crate::image::ImageType;
use crate::model::UserChanges;
use crate::service::{Core, RequestMeta};

impl Core {
    /// Stores an image the caller uploaded and returns its URL. With `set_profile`, the URL
    /// becomes the caller's `source_profile`; if that fails the object is removed again, so no
    /// profile points at a missing image and no image is left behind unreferenced.
    pub async fn upload_image(
        &self,
        caller: &Caller,
        bytes: Vec<u8>,
        set_profile: bool,
        meta: &RequestMeta,
    ) -> Result<String, Error> {
        let kind = ImageType::detect(&bytes).ok_or(Error::UnsupportedMediaType)?;
        let key = format!("profiles/{}.{}", uuid::Uuid::new_v4().simple(), kind.extension());
        let url = self.blobs.put(&key, bytes, kind.mime()).await?;
        if set_profile {
            let changes = UserChanges { source_profile: Some(url.clone()), ..UserChanges::default() };
            if let Err(e) = self.store.update_user(&caller.user.id, &changes, meta.now).await {
                if let Err(cleanup) = self.blobs.delete_url(&url).await {
                    tracing::warn!(error = %cleanup, "could not remove an image whose profile update failed");
                }
                return Err(e.into());
            }
            let details = serde_json::json!({ "fields": ["source_profile"] });
            self.audit("user.updated", meta, Some(&caller.user.id), Some(&caller.user.id), details).await;
        }
        Ok(url)
    }

    /// Removes a deleted user's image if fastauth stored it. Best effort: a failure is logged.
    pub(crate) async fn forget_image(&self, url: Option<&str>) {
        if let Some(url) = url
            && let Err(e) = self.blobs.delete_url(url).await
        {
            tracing::warn!(error = %e, "could not delete a deleted user's profile image");
        }
    }
}
