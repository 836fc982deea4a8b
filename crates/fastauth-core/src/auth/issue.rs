//! Opening a session and minting its tokens.

use time::OffsetDateTime;

use crate::error::Error;
use crate::ids::{ClientId, RoleId, SessionId, UserId};
use crate::model::{NewSession, Role, Session, User};
use crate::secret::Secret;
use crate::service::{Core, RequestMeta};
use crate::tokens::{AccessClaims, opaque};

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Secret,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user_id: UserId,
    pub role_ids: Vec<RoleId>,
    pub session_id: SessionId,
}

/// Why a session opens: that decides its audit row and what its tokens may carry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Opening {
    /// A sign-in by password or code, audited as `signin.succeeded` in the session's transaction.
    SignIn(&'static str),
    /// A new account's first session (opened with the account; its `user.created` row says
    /// enough).
    SignUp,
    /// A test identity's session, which grants no more than DEFAULT_ROLE; its use is audited
    /// when the code is checked.
    TestIdentity,
}

impl Core {
    /// Opens a session for `user` in `client` and mints its first tokens.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        client: &ClientId,
        meta: &RequestMeta,
        opening: Opening,
    ) -> Result<IssuedTokens, Error> {
        let (session, refresh_token) = self.new_session(&user.id, client, meta, opening);
        let event = match opening {
            Opening::SignIn(via) => {
                let details = serde_json::json!({ "via": via, "client_id": client, "session_id": session.id });
                Some(self.audit_event("signin.succeeded", meta, Some(&user.id), Some(&user.id), details))
            }
            Opening::SignUp | Opening::TestIdentity => None,
        };
        let max = self.settings.max_sessions_per_user;
        let (session, roles) = self.store.create_session(&session, max, event.as_ref()).await?;
        self.first_tokens(user, &session, roles, refresh_token, meta.now)
    }

    /// A session for `user` in `client` starting now, and its first refresh token.
    pub(crate) fn new_session(
        &self,
        user: &UserId,
        client: &ClientId,
        meta: &RequestMeta,
        opening: Opening,
    ) -> (NewSession, Secret) {
        let (refresh_token, refresh_hash) = opaque::generate();
        let s = &self.settings;
        let absolute = meta.now + s.session_max_age;
        let session = NewSession {
            id: SessionId::generate(),
            user_id: user.clone(),
            client_id: client.clone(),
            refresh_hash,
            created_at: meta.now,
            idle_expires_at: (meta.now + s.refresh_idle_ttl).min(absolute),
            absolute_expires_at: absolute,
            user_agent: meta.user_agent.as_ref().map(|ua| ua.chars().take(256).collect()),
            ip: meta.ip.clone(),
            test_identity: matches!(opening, Opening::TestIdentity),
        };
        (session, refresh_token)
    }

    /// The tokens of a session just opened, carrying the user's `roles` it may show.
    pub(crate) fn first_tokens(
        &self,
        user: &User,
        session: &Session,
        roles: Vec<Role>,
        refresh_token: Secret,
        now: OffsetDateTime,
    ) -> Result<IssuedTokens, Error> {
        let roles = self.visible_roles(roles, session);
        self.mint(user, session, &roles, refresh_token, now)
    }

    /// Signs an access token carrying `roles`, the user's live roles in the session's app.
    pub(crate) fn mint(
        &self,
        user: &User,
        session: &Session,
        roles: &[Role],
        refresh_token: Secret,
        now: OffsetDateTime,
    ) -> Result<IssuedTokens, Error> {
        let mut claims = self.claims(user, &session.client_id, &session.id, roles, now);
        claims.test = session.test_identity;
        Ok(IssuedTokens {
            access_token: self.keys.sign(&claims)?,
            refresh_token,
            expires_in: self.settings.access_ttl.whole_seconds(),
            user_id: user.id.clone(),
            role_ids: claims.role_ids,
            session_id: session.id.clone(),
        })
    }

    /// Of the user's `roles` in the session's app, those its tokens carry.
    pub(crate) fn visible_roles(&self, mut roles: Vec<Role>, session: &Session) -> Vec<Role> {
        if session.test_identity {
            roles.retain(|r| r.application.is_none() && r.role_name == self.settings.default_role);
        }
        roles
    }

    fn claims(
        &self,
        user: &User,
        client: &ClientId,
        session: &SessionId,
        roles: &[Role],
        now: OffsetDateTime,
    ) -> AccessClaims {
        let mut permissions: Vec<String> = roles.iter().flat_map(|r| r.permissions.iter().cloned()).collect();
        permissions.sort();
        permissions.dedup();
        AccessClaims {
            iss: self.keys.issuer().to_owned(),
            sub: user.id.to_string(),
            user_id: user.id.to_string(),
            aud: client.to_string(),
            iat: now.unix_timestamp(),
            exp: (now + self.settings.access_ttl).unix_timestamp(),
            jti: opaque::random_id(12),
            sid: session.to_string(),
            email: user.email.as_ref().map(|e| e.to_string()),
            phone_number: user.phone_number.as_ref().map(|p| p.to_string()),
            role_ids: roles.iter().map(|r| r.id).collect(),
            roles: roles.iter().map(|r| r.role_name.clone()).collect(),
            permissions,
            test: false,
        }
    }
}
