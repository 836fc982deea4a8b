//! Checking a bearer access token against the live state: the session must not have ended and
//! the user must be active, whatever the token's own expiry says.

use time::OffsetDateTime;

use crate::error::Error;
use crate::ids::{ClientId, SessionId, UserId};
use crate::model::{Role, SessionWithUser, User, UserStatus};
use crate::permission::{Permission, Permissions};
use crate::service::Core;
use crate::tokens::AccessClaims;

/// The holder of a valid access token, with its live roles and permissions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub session_id: SessionId,
    pub client_id: ClientId,
    pub roles: Vec<Role>,
    pub permissions: Permissions,
    pub claims: AccessClaims,
}

impl Caller {
    /// `Forbidden` unless the caller holds `permission` (or `*`).
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.permissions.has(permission) { Ok(()) } else { Err(Error::Forbidden) }
    }

    pub fn is(&self, user: &UserId) -> bool {
        &self.user.id == user
    }

    /// The no-escalation rule: a caller may hand out a permission (by a role given to a user or
    /// added to a role) only if it holds it itself; `*` only if it holds `*`.
    pub fn may_grant<'a>(&self, permissions: impl IntoIterator<Item = &'a String>) -> bool {
        permissions.into_iter().all(|p| self.permissions.grants(p))
    }
}

impl Core {
    /// Validates an access token and loads its holder. With `expected_client`, a token issued to
    /// another application is refused.
    pub async fn authenticate(
        &self,
        token: &str,
        expected_client: Option<&ClientId>,
        now: OffsetDateTime,
    ) -> Result<Caller, Error> {
        let claims = self.keys.verify(token)?;
        if expected_client.is_some_and(|c| c.as_str() != claims.aud) {
            return Err(Error::InvalidToken);
        }
        let session_id = SessionId::from_trusted(claims.sid.clone());
        let found = self.store.find_session_with_user(&session_id).await?.ok_or(Error::InvalidToken)?;
        let SessionWithUser { session, user, roles } = found;
        if !session.is_live(now) || session.user_id.as_str() != claims.sub || user.status != UserStatus::Active {
            return Err(Error::InvalidToken);
        }
        let roles = self.visible_roles(roles, &session);
        let permissions = roles.iter().flat_map(|r| r.permissions.iter().map(String::as_str)).collect();
        Ok(Caller { user, session_id, client_id: session.client_id, roles, permissions, claims })
    }
}
