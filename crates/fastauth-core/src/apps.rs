//! Client applications (apps:write).

use crate::auth::Caller;
use crate::error::Error;
use crate::model::Application;
use crate::permission::Permission;
use crate::service::{Core, RequestMeta};

impl Core {
    pub async fn create_application(
        &self,
        caller: &Caller,
        app: Application,
        meta: &RequestMeta,
    ) -> Result<Application, Error> {
        self.require(caller, Permission::AppsWrite, meta).await?;
        self.store.create_application(&app).await?;
        Ok(app)
    }

    pub async fn list_applications(&self, caller: &Caller, meta: &RequestMeta) -> Result<Vec<Application>, Error> {
        self.require(caller, Permission::AppsWrite, meta).await?;
        Ok(self.store.list_applications().await?)
    }
}
