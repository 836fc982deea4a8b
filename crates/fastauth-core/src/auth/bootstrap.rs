//! What must exist before the first request: the default application, the seeded roles, a
//! signing key, and optionally a super admin. Also the key and admin CLI commands.

use time::OffsetDateTime;

use crate::email::Email;
use crate::error::Error;
use crate::ids::{ClientId, UserId};
use crate::model::{Application, NewRole, NewUser};
use crate::password::Password;
use crate::permission::ALL;
use crate::service::{Core, RequestMeta};

/// The built-in role holding `*`.
pub const SUPER_ADMIN: &str = "Super Admin";

/// Start-up seeds, from ROLES and ADMIN_EMAIL/ADMIN_PASSWORD.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub roles: Vec<String>,
    pub admin: Option<(Email, Password)>,
}

impl Core {
    /// Seeds what is missing; never changes what exists. Safe to run on every start and on
    /// several instances at once.
    pub async fn bootstrap(&self, seeds: &Bootstrap, now: OffsetDateTime) -> Result<(), Error> {
        let default_app = Application { id: ClientId::default_app(), name: "Default".into(), allowed_origins: vec![] };
        self.store.ensure_application(&default_app).await?;
        // Super Admin is id 0 and ROLES follow from 1, as FastAuthCore lays them out, so that
        // imported role ids keep meaning the same roles.
        let mut roles = vec![NewRole { id: Some(0), ..global_role(SUPER_ADMIN, vec![ALL.to_owned()]) }];
        roles.extend(seeds.roles.iter().map(|name| global_role(name, vec![])));
        self.store.ensure_global_roles(&roles).await?;
        self.ensure_signing_key(now).await?;
        if let Some((email, password)) = &seeds.admin
            && self.store.find_user_by_email(email).await?.is_none()
        {
            self.create_admin(email, Some(password), now).await?;
        }
        Ok(())
    }

    /// Generates a signing key if none of the configured algorithm is active, then loads keys.
    pub async fn ensure_signing_key(&self, now: OffsetDateTime) -> Result<(), Error> {
        let records = self.store.list_signing_keys().await?;
        if self.keys.needs_new_key(&records) {
            self.store.rotate_signing_key(&self.keys.generate_key(now)?, now).await?;
        }
        self.reload_keys(now).await
    }

    /// Re-reads the keys from the store (rotations and revocations by other instances).
    pub async fn reload_keys(&self, now: OffsetDateTime) -> Result<(), Error> {
        let records = self.store.list_signing_keys().await?;
        self.keys.load(&records, now)?;
        Ok(())
    }

    /// Adds a new signing key; older ones stay published until their tokens expire.
    pub async fn rotate_signing_key(&self, now: OffsetDateTime) -> Result<String, Error> {
        let key = self.keys.generate_key(now)?;
        self.store.rotate_signing_key(&key, now).await?;
        let details = serde_json::json!({ "kid": key.kid, "algorithm": key.algorithm });
        self.audit("key.rotated", &RequestMeta::at(now), None, None, details).await;
        self.reload_keys(now).await?;
        Ok(key.kid)
    }

    /// Withdraws a key at once; its tokens stop validating.
    pub async fn revoke_signing_key(&self, kid: &str, now: OffsetDateTime) -> Result<(), Error> {
        if !self.store.revoke_signing_key(kid, now).await? {
            return Err(Error::NotFound);
        }
        self.audit("key.revoked", &RequestMeta::at(now), None, None, serde_json::json!({ "kid": kid })).await;
        // Keep a key to sign with if the revoked one was signing.
        self.ensure_signing_key(now).await
    }

    /// Creates a super admin, or promotes the existing account with that email. Returns the id
    /// and whether the account is new.
    pub async fn create_admin(
        &self,
        email: &Email,
        password: Option<&Password>,
        now: OffsetDateTime,
    ) -> Result<(UserId, bool), Error> {
        let role = self.store.find_role_by_name(SUPER_ADMIN, None).await?;
        let role = role.ok_or_else(|| Error::Internal(anyhow::anyhow!("the Super Admin role is missing")))?;
        if let Some(user) = self.store.find_user_by_email(email).await? {
            self.store.grant_role(&user.id, role.id).await?;
            return Ok((user.id, false));
        }
        let password = password.ok_or_else(|| Error::invalid("password", "a new admin needs a password"))?;
        password.check_policy("password", &[email.as_str(), email.local_part()])?;
        let user = NewUser {
            id: UserId::generate(),
            firstname: "Admin".into(),
            lastname: String::new(),
            email: Some(email.clone()),
            phone_number: None,
            password_hash: Some(self.hasher.hash(password).await?),
            source_profile: None,
            email_verified_at: Some(now),
            phone_verified_at: None,
            role_ids: vec![role.id],
        };
        let details = serde_json::json!({ "via": "create-admin" });
        let event = self.audit_event("user.created", &RequestMeta::at(now), None, Some(&user.id), details);
        let user = self.store.create_user_with_roles(&user, now, Some(&event)).await?;
        Ok((user.id, true))
    }
}

fn global_role(name: &str, permissions: Vec<String>) -> NewRole {
    NewRole {
        id: None,
        role_name: name.to_owned(),
        permissions,
        department_name: None,
        department_id: None,
        application: None,
    }
}
