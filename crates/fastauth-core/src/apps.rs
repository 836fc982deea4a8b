//! Client applications (apps:write).

use std::collections::HashMap;
use std::sync::RwLock;

use crate::auth::Caller;
use crate::error::Error;
use crate::ids::ClientId;
use crate::model::Application;
use crate::permission::Permission;
use crate::service::{Core, RequestMeta};

/// Applications the store has shown to exist. No application is ever changed or deleted, so a
/// sign-in in one of them need not ask the database again; unknown ids are asked every time.
#[derive(Debug, Default)]
pub struct KnownApps(RwLock<HashMap<ClientId, Application>>);

impl Core {
    /// The application `id`, or `UnknownClient`.
    pub(crate) async fn application(&self, id: &ClientId) -> Result<Application, Error> {
        if let Some(app) = self.apps.0.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(app.clone());
        }
        let app = self.store.find_application(id).await?.ok_or(Error::UnknownClient)?;
        self.apps.0.write().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), app.clone());
        Ok(app)
    }

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
