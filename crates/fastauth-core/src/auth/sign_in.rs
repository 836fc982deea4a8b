//! Password sign-in.

use crate::email::Email;
use crate::error::Error;
use crate::ids::ClientId;
use crate::model::UserStatus;
use crate::password::Password;
use crate::phone::PhoneNumber;
use crate::service::{Core, RequestMeta};

use super::{IssuedTokens, Opening};

/// Who is signing in.
#[derive(Debug, Clone)]
pub enum Identifier {
    Email(Email),
    Phone(PhoneNumber),
}

/// A sign-in request, parsed.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub identifier: Identifier,
    pub password: Password,
    pub client: ClientId,
}

impl Core {
    /// Checks the password and opens a session. Unknown accounts, passwordless and disabled ones
    /// get the same `InvalidCredentials` after the same hashing work as a wrong password.
    pub async fn sign_in(&self, req: SignIn, meta: &RequestMeta) -> Result<IssuedTokens, Error> {
        self.hasher.admit()?;
        self.application(&req.client).await?;
        // Counted before the look-up, so that refusals are alike for every identifier.
        self.begin_attempt(&req.identifier, meta).await?;
        let user = match &req.identifier {
            Identifier::Email(email) => self.store.find_user_by_email(email).await?,
            Identifier::Phone(phone) => self.store.find_user_by_phone(phone).await?,
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verification = self.hasher.verify(&req.password, stored).await?;
        let user = match user {
            Some(user) if verification.ok && user.status == UserStatus::Active => user,
            other => {
                let subject = other.as_ref().map(|u| &u.id);
                self.audit("signin.failed", meta, None, subject, serde_json::json!({ "client_id": req.client })).await;
                return Err(Error::InvalidCredentials);
            }
        };
        self.secret_accepted(&req.identifier).await?;
        if verification.needs_rehash {
            // bcrypt or outdated costs: store a fresh Argon2id hash of the same password.
            let hash = self.hasher.hash(&req.password).await?;
            self.store.set_password_hash(&user.id, &hash, meta.now).await?;
        }
        self.open_session(&user, &req.client, meta, Opening::SignIn("password")).await
    }
}
