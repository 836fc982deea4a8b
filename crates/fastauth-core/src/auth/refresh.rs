//! Refresh-token rotation with theft detection.

use crate::error::Error;
use crate::model::{Rotation, SessionWithUser, UserStatus};
use crate::service::{Core, RequestMeta};
use crate::tokens::opaque;

use super::IssuedTokens;

impl Core {
    /// Trades a refresh token for new tokens. The store settles races: of several requests with
    /// one token exactly one rotates it. A rotated token presented again within the grace is
    /// refused and the session lives on (the winner holds its tokens); after the grace it is
    /// taken as stolen and the whole session ends.
    pub async fn refresh(&self, token: &str, meta: &RequestMeta) -> Result<IssuedTokens, Error> {
        let (new_token, new_hash) = opaque::generate();
        let idle = meta.now + self.settings.refresh_idle_ttl;
        match self.store.rotate_refresh_token(&opaque::hash(token), &new_hash, meta.now, idle).await? {
            Rotation::Rotated(session) => {
                let found = self.store.find_session_with_user(&session.id).await?;
                let Some(SessionWithUser { user, roles, .. }) = found.filter(|f| f.user.status == UserStatus::Active)
                else {
                    return Err(Error::InvalidRefreshToken);
                };
                let roles = self.visible_roles(roles, &session);
                self.mint(&user, &session, &roles, new_token, meta.now)
            }
            Rotation::Reused { session_id, user_id, rotated_at } => {
                if meta.now - rotated_at > self.settings.refresh_grace
                    && self.store.revoke_reused_session(&user_id, &session_id, meta.now).await?
                {
                    let details = serde_json::json!({ "session_id": session_id, "reason": "refresh_token_reused" });
                    self.audit("session.reuse_detected", meta, None, Some(&user_id), details).await;
                    tracing::warn!(session = %session_id, "refresh token reused after rotation; session revoked");
                }
                Err(Error::RefreshTokenReused)
            }
            Rotation::Invalid => Err(Error::InvalidRefreshToken),
        }
    }
}
