//! A signed-in user's own sessions: list, end one, end all others, log out.

use crate::error::Error;
use crate::ids::SessionId;
use crate::model::Session;
use crate::service::{Core, RequestMeta};

use super::Caller;

impl Core {
    pub async fn list_sessions(&self, caller: &Caller, meta: &RequestMeta) -> Result<Vec<Session>, Error> {
        Ok(self.store.list_live_sessions(&caller.user.id, meta.now).await?)
    }

    /// Ends one of the caller's sessions; another user's id is `NotFound`.
    pub async fn end_session(&self, caller: &Caller, id: &SessionId, meta: &RequestMeta) -> Result<(), Error> {
        if !self.store.revoke_session(&caller.user.id, id, meta.now).await? {
            return Err(Error::NotFound);
        }
        let details = serde_json::json!({ "session_id": id, "reason": "ended_by_user" });
        self.audit("session.revoked", meta, Some(&caller.user.id), Some(&caller.user.id), details).await;
        Ok(())
    }

    /// Ends the session the caller's token belongs to.
    pub async fn logout(&self, caller: &Caller, meta: &RequestMeta) -> Result<(), Error> {
        self.end_session(caller, &caller.session_id, meta).await
    }

    /// Ends every session of the caller but the current one.
    pub async fn end_other_sessions(&self, caller: &Caller, meta: &RequestMeta) -> Result<u64, Error> {
        let ended = self.store.revoke_user_sessions(&caller.user.id, Some(&caller.session_id), meta.now).await?;
        let details = serde_json::json!({ "count": ended, "reason": "ended_by_user" });
        self.audit("session.revoked", meta, Some(&caller.user.id), Some(&caller.user.id), details).await;
        Ok(ended)
    }
}
