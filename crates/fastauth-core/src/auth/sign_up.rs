//! Self sign-up with email and password.

use crate::email::Email;
use crate::error::Error;
use crate::ids::{ClientId, RoleId, UserId};
use crate::model::{NewUser, User};
use crate::password::{PRODUCT_WORDS, Password};
use crate::permission::Permission;
use crate::phone::PhoneNumber;
use crate::service::{Core, RequestMeta};

use super::{Caller, IssuedTokens, Opening};

/// A sign-up request, parsed.
#[derive(Debug, Clone)]
pub struct SignUp {
    pub firstname: String,
    pub lastname: String,
    pub email: Email,
    pub phone_number: Option<PhoneNumber>,
    pub password: Password,
    pub source_profile: Option<String>,
    /// Roles asked for; anything but the default role needs an admin's token.
    pub role_ids: Option<Vec<RoleId>>,
    pub client: ClientId,
}

/// The outcome of a sign-up.
#[derive(Debug)]
pub enum SignedUp {
    Tokens(IssuedTokens, User),
    /// REQUIRE_EMAIL_VERIFICATION: the account exists with these roles; tokens come after the
    /// email is verified.
    VerificationRequired(User, Vec<RoleId>),
}

impl Core {
    pub async fn sign_up(&self, req: SignUp, caller: Option<&Caller>, meta: &RequestMeta) -> Result<SignedUp, Error> {
        self.hasher.admit()?;
        let app = self.application(&req.client).await?;
        let mut context = vec![req.email.as_str(), req.email.local_part(), &req.firstname, &req.lastname, &app.name];
        context.extend(PRODUCT_WORDS);
        req.password.check_policy("password", &context)?;
        let role_ids = self.sign_up_roles(req.role_ids.as_deref(), caller, meta).await?;
        let hash = self.hasher.hash(&req.password).await?;
        let new = NewUser {
            id: UserId::generate(),
            firstname: req.firstname,
            lastname: req.lastname,
            email: Some(req.email),
            phone_number: req.phone_number,
            password_hash: Some(hash),
            source_profile: req.source_profile,
            email_verified_at: None,
            phone_verified_at: None,
            role_ids,
        };
        let actor = caller.map(|c| &c.user.id);
        let event =
            self.audit_event("user.created", meta, actor, Some(&new.id), serde_json::json!({ "via": "signup" }));
        if self.settings.require_email_verification {
            let user = self.store.create_user_with_roles(&new, meta.now, Some(&event)).await?;
            return Ok(SignedUp::VerificationRequired(user, new.role_ids));
        }
        let (session, refresh_token) = self.new_session(&new.id, &req.client, meta, Opening::SignUp);
        let (user, session, roles) =
            self.store.create_user_with_session(&new, meta.now, Some(&event), &session).await?;
        let tokens = self.first_tokens(&user, &session, roles, refresh_token, meta.now)?;
        Ok(SignedUp::Tokens(tokens, user))
    }

    /// The default role, or the roles asked for when an admin who may grant them asks.
    async fn sign_up_roles(
        &self,
        asked: Option<&[RoleId]>,
        caller: Option<&Caller>,
        meta: &RequestMeta,
    ) -> Result<Vec<RoleId>, Error> {
        let default = self.default_role_id().await?;
        let asked = match asked {
            None | Some([]) => return Ok(vec![default]),
            Some(ids) if ids.iter().all(|id| *id == default) => return Ok(vec![default]),
            Some(ids) => ids,
        };
        let roles = self.store.find_roles(asked).await?;
        if roles.len() != asked.iter().collect::<std::collections::BTreeSet<_>>().len() {
            return Err(Error::invalid("role_ids", "names a role that does not exist"));
        }
        // No escalation: the admin must hold users:write and every permission the roles grant.
        let allowed = caller.is_some_and(|c| {
            c.require(Permission::UsersWrite).is_ok()
                && roles.iter().flat_map(|r| &r.permissions).all(|p| c.permissions.grants(p))
        });
        if !allowed {
            let details = serde_json::json!({ "action": "signup.role_ids", "role_ids": asked });
            self.audit("authz.denied", meta, caller.map(|c| &c.user.id), None, details).await;
            return Err(Error::Forbidden);
        }
        Ok(roles.into_iter().map(|r| r.id).collect())
    }

    pub(crate) async fn default_role_id(&self) -> Result<RoleId, Error> {
        let role = self.store.find_role_by_name(&self.settings.default_role, None).await?;
        role.map(|r| r.id).ok_or_else(|| Error::Internal(anyhow::anyhow!("DEFAULT_ROLE is missing from the database")))
    }
}
