//! User administration: read, list, change, create, import and delete accounts. Every call
//! checks the caller's permission first, and role changes follow the no-escalation rule.

use crate::auth::{Caller, Identifier};
use crate::email::Email;
use crate::error::Error;
use crate::ids::{RoleId, UserId};
use crate::model::{NewUser, Role, User, UserChanges, UserFilter, UserStatus};
use crate::password::{Password, is_importable_hash};
use crate::permission::{ALL, Permission};
use crate::phone::PhoneNumber;
use crate::service::{Core, RequestMeta};

/// A user with every role it holds.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: User,
    pub roles: Vec<Role>,
}

/// A page of users and the total number of matches.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub count: i64,
    pub next_cursor: Option<UserId>,
}

/// A change asked for through `/update/{id}`.
#[derive(Debug, Default)]
pub struct UserUpdate {
    pub changes: UserChanges,
    /// Proof for a user changing its own email or phone.
    pub current_password: Option<Password>,
}

/// The outcome of `/update`: the user, and an email or phone waiting for its code.
#[derive(Debug)]
pub struct UserUpdated {
    pub view: UserView,
    pub pending: Option<Identifier>,
}

/// An account an admin creates (`/create-user`) or imports (`/add_user`).
#[derive(Debug, Clone)]
pub struct AdminNewUser {
    pub firstname: String,
    pub lastname: String,
    pub email: Option<Email>,
    pub phone_number: Option<PhoneNumber>,
    /// A new password (checked against the policy) ...
    pub password: Option<Password>,
    /// ... or an imported bcrypt/Argon2 hash.
    pub password_hash: Option<String>,
    pub source_profile: Option<String>,
    pub role_ids: Option<Vec<RoleId>>,
}

/// Which user `/delete-user` names.
#[derive(Debug, Clone)]
pub enum UserRef {
    Id(UserId),
    Phone(PhoneNumber),
}

impl Core {
    async fn view(&self, user: User) -> Result<UserView, Error> {
        let roles = self.store.roles_of_users(std::slice::from_ref(&user.id)).await?;
        Ok(UserView { user, roles: roles.into_iter().map(|(_, r)| r).collect() })
    }

    /// Self, or users:read.
    pub async fn get_user(&self, caller: &Caller, id: &UserId, meta: &RequestMeta) -> Result<UserView, Error> {
        if !caller.is(id) {
            self.require(caller, Permission::UsersRead, meta).await?;
        }
        let user = self.store.find_user(id).await?.ok_or(Error::NotFound)?;
        self.view(user).await
    }

    /// users:read. Cursor pagination by id: each existing user appears exactly once even while
    /// users are added.
    pub async fn list_users(
        &self,
        caller: &Caller,
        filter: &UserFilter,
        cursor: Option<&UserId>,
        limit: u32,
        meta: &RequestMeta,
    ) -> Result<UserPage, Error> {
        self.require(caller, Permission::UsersRead, meta).await?;
        let limit = limit.clamp(1, 200);
        let users = self.store.list_users(filter, cursor, limit).await?;
        let count = self.store.count_users(filter).await?;
        let next_cursor = (users.len() == limit as usize).then(|| users.last().map(|u| u.id.clone())).flatten();
        let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
        let mut pairs = self.store.roles_of_users(&ids).await?;
        let users = users
            .into_iter()
            .map(|user| {
                let roles = pairs.extract_if(.., |(id, _)| *id == user.id).map(|(_, r)| r).collect();
                UserView { user, roles }
            })
            .collect();
        Ok(UserPage { users, count, next_cursor })
    }

    /// users:read.
    pub async fn user_by_phone(
        &self,
        caller: &Caller,
        phone: &PhoneNumber,
        meta: &RequestMeta,
    ) -> Result<UserView, Error> {
        self.require(caller, Permission::UsersRead, meta).await?;
        let user = self.store.find_user_by_phone(phone).await?.ok_or(Error::NotFound)?;
        self.view(user).await
    }

    /// users:read.
    pub async fn users_with_role(
        &self,
        caller: &Caller,
        role: RoleId,
        meta: &RequestMeta,
    ) -> Result<Vec<UserId>, Error> {
        self.require(caller, Permission::UsersRead, meta).await?;
        Ok(self.store.user_ids_with_role(role).await?)
    }

    /// Checks that the caller may give `role_ids` to `target` and that they exist.
    async fn check_role_grant(
        &self,
        caller: &Caller,
        target: Option<&UserId>,
        role_ids: &[RoleId],
        meta: &RequestMeta,
    ) -> Result<(), Error> {
        let roles = self.store.find_roles(role_ids).await?;
        if roles.len() != role_ids.iter().collect::<std::collections::BTreeSet<_>>().len() {
            return Err(Error::invalid("role_ids", "names a role that does not exist"));
        }
        let own = target.is_some_and(|t| caller.is(t)) && !caller.permissions.grants(ALL);
        if own || !caller.may_grant(roles.iter().flat_map(|r| &r.permissions)) {
            return Err(self.deny(caller, meta, "grant roles").await);
        }
        Ok(())
    }

    /// Self: names and source_profile; email and phone with proof. users:write: everything, and
    /// roles and status under the no-escalation rule.
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: &UserId,
        update: UserUpdate,
        meta: &RequestMeta,
    ) -> Result<UserUpdated, Error> {
        let admin = caller.permissions.has(Permission::UsersWrite);
        let c = &update.changes;
        if !caller.is(id) && !admin {
            return Err(self.deny(caller, meta, "update another user").await);
        }
        if (c.role_ids.is_some() || c.status.is_some() || c.password_hash.is_some()) && !admin {
            return Err(self.deny(caller, meta, "change roles or status").await);
        }
        let before = self.store.find_user(id).await?.ok_or(Error::NotFound)?;
        let email_changes = c.email.as_ref().is_some_and(|e| Some(e) != before.email.as_ref());
        let phone_changes = c.phone_number.as_ref().is_some_and(|p| Some(p) != before.phone_number.as_ref());
        // Changing one's own email or phone needs proof now and a code to the new one later.
        let mut c = update.changes;
        let pending = if caller.is(id) && (email_changes || phone_changes) {
            self.prove_identity(&before, update.current_password.as_ref(), meta).await?;
            if email_changes && phone_changes {
                return Err(Error::invalid("email", "change the email and the phone one at a time"));
            }
            match (c.email.take(), c.phone_number.take()) {
                (Some(email), _) if email_changes => Some(Identifier::Email(email)),
                (_, Some(phone)) => Some(Identifier::Phone(phone)),
                _ => None,
            }
        } else {
            None
        };
        let c = &c;
        if let Some(role_ids) = &c.role_ids {
            self.check_role_grant(caller, Some(id), role_ids, meta).await?;
        }
        if c.status.is_some() && caller.is(id) && !caller.permissions.grants(ALL) {
            return Err(self.deny(caller, meta, "change own status").await);
        }
        let user = self.store.update_user(id, c, meta.now).await?;
        if admin && !caller.is(id) {
            // An admin's change is one way out of a sign-in lock.
            self.unlock(&user).await?;
        }
        let mut changed: Vec<&str> = Vec::new();
        for (name, set) in [
            ("firstname", c.firstname.is_some()),
            ("lastname", c.lastname.is_some()),
            ("source_profile", c.source_profile.is_some()),
            ("role_ids", c.role_ids.is_some()),
            ("status", c.status.is_some()),
        ] {
            if set {
                changed.push(name);
            }
        }
        let actor = Some(&caller.user.id);
        if email_changes && pending.is_none() {
            self.audit("email.changed", meta, actor, Some(id), serde_json::json!({ "by": "admin" })).await;
        }
        if phone_changes && pending.is_none() {
            self.audit("phone.changed", meta, actor, Some(id), serde_json::json!({ "by": "admin" })).await;
        }
        self.audit("user.updated", meta, actor, Some(id), serde_json::json!({ "fields": changed })).await;
        if let Some(identifier) = &pending {
            self.start_identifier_change(caller, identifier, meta).await?;
        }
        Ok(UserUpdated { view: self.view(user).await?, pending })
    }

    /// Proof that the caller is the account's owner: its current password.
    async fn prove_identity(&self, user: &User, password: Option<&Password>, meta: &RequestMeta) -> Result<(), Error> {
        let password = password.ok_or(Error::ReauthenticationRequired)?;
        if self.check_current_password(user, password, meta).await? {
            Ok(())
        } else {
            Err(Error::ReauthenticationRequired)
        }
    }

    async fn new_user_record(&self, caller: &Caller, req: AdminNewUser, meta: &RequestMeta) -> Result<NewUser, Error> {
        let role_ids = match req.role_ids.filter(|r| !r.is_empty()) {
            Some(ids) => {
                self.check_role_grant(caller, None, &ids, meta).await?;
                ids
            }
            None => vec![self.default_role_id().await?],
        };
        let password_hash = match (req.password, req.password_hash) {
            (Some(p), _) => {
                let email = req.email.as_ref().map_or("", Email::as_str);
                p.check_policy("password", &[email, &req.firstname, &req.lastname])?;
                Some(self.hasher.hash(&p).await?)
            }
            (None, Some(h)) if is_importable_hash(&h) => Some(h),
            (None, Some(_)) => return Err(Error::invalid("hashed_password", "must be a bcrypt or Argon2 PHC hash")),
            (None, None) => None,
        };
        Ok(NewUser {
            id: UserId::generate(),
            firstname: req.firstname,
            lastname: req.lastname,
            email: req.email,
            phone_number: req.phone_number,
            password_hash,
            source_profile: req.source_profile,
            email_verified_at: None,
            phone_verified_at: None,
            role_ids,
        })
    }

    /// users:write.
    pub async fn create_user(&self, caller: &Caller, req: AdminNewUser, meta: &RequestMeta) -> Result<User, Error> {
        self.require(caller, Permission::UsersWrite, meta).await?;
        let new = self.new_user_record(caller, req, meta).await?;
        let details = serde_json::json!({ "via": "create-user" });
        let event = self.audit_event("user.created", meta, Some(&caller.user.id), Some(&new.id), details);
        let user = self.store.create_user_with_roles(&new, meta.now, Some(&event)).await?;
        Ok(user)
    }

    /// users:write. Upsert by phone number (FastAuthCore's `/add_user`); returns the user and
    /// whether it is new.
    pub async fn add_user(
        &self,
        caller: &Caller,
        req: AdminNewUser,
        meta: &RequestMeta,
    ) -> Result<(UserView, bool), Error> {
        self.require(caller, Permission::UsersWrite, meta).await?;
        let phone = req.phone_number.clone().ok_or_else(|| Error::invalid("phone_number", "is required"))?;
        let Some(existing) = self.store.find_user_by_phone(&phone).await? else {
            let new = self.new_user_record(caller, req, meta).await?;
            let details = serde_json::json!({ "via": "add_user" });
            let event = self.audit_event("user.created", meta, Some(&caller.user.id), Some(&new.id), details);
            let user = self.store.create_user_with_roles(&new, meta.now, Some(&event)).await?;
            return Ok((self.view(user).await?, true));
        };
        let record =
            self.new_user_record(caller, AdminNewUser { role_ids: req.role_ids.clone(), ..req.clone() }, meta).await?;
        let changes = UserChanges {
            firstname: Some(record.firstname),
            lastname: Some(record.lastname),
            email: record.email,
            source_profile: record.source_profile,
            role_ids: req.role_ids.filter(|r| !r.is_empty()),
            password_hash: record.password_hash,
            ..UserChanges::default()
        };
        let user = self.store.update_user(&existing.id, &changes, meta.now).await?;
        self.audit(
            "user.updated",
            meta,
            Some(&caller.user.id),
            Some(&user.id),
            serde_json::json!({ "via": "add_user" }),
        )
        .await;
        Ok((self.view(user).await?, false))
    }

    /// users:delete, or the user itself with its current password.
    pub async fn delete_user(
        &self,
        caller: &Caller,
        target: &UserRef,
        current_password: Option<&Password>,
        meta: &RequestMeta,
    ) -> Result<User, Error> {
        let admin = caller.permissions.has(Permission::UsersDelete);
        let user = match target {
            UserRef::Id(id) if !admin && !caller.is(id) => {
                return Err(self.deny(caller, meta, "delete another user").await);
            }
            UserRef::Id(id) => self.store.find_user(id).await?,
            UserRef::Phone(_)
                if !admin
                    && caller
                        .user
                        .phone_number
                        .as_ref()
                        .is_none_or(|p| !matches!(target, UserRef::Phone(t) if t == p)) =>
            {
                return Err(self.deny(caller, meta, "delete another user").await);
            }
            UserRef::Phone(phone) => self.store.find_user_by_phone(phone).await?,
        };
        let user = user.ok_or(Error::NotFound)?;
        if caller.is(&user.id) && !admin {
            self.prove_identity(&user, current_password, meta).await?;
        }
        let deleted = self.store.delete_user(&user.id).await?.ok_or(Error::NotFound)?;
        self.forget_image(deleted.source_profile.as_deref()).await;
        self.audit("user.deleted", meta, Some(&caller.user.id), Some(&deleted.id), serde_json::json!({})).await;
        Ok(deleted)
    }

    /// users:write: ends all of a user's sessions.
    pub async fn end_user_sessions(&self, caller: &Caller, id: &UserId, meta: &RequestMeta) -> Result<u64, Error> {
        self.require(caller, Permission::UsersWrite, meta).await?;
        self.store.find_user(id).await?.ok_or(Error::NotFound)?;
        let ended = self.store.revoke_user_sessions(id, None, meta.now).await?;
        let details = serde_json::json!({ "count": ended, "reason": "ended_by_admin" });
        self.audit("session.revoked", meta, Some(&caller.user.id), Some(id), details).await;
        Ok(ended)
    }

    /// The live permission decision for another service (authz:check). Unknown and disabled
    /// users hold nothing.
    pub async fn authorize(
        &self,
        caller: &Caller,
        user: &UserId,
        permission: &str,
        app: &crate::ids::ClientId,
        meta: &RequestMeta,
    ) -> Result<bool, Error> {
        self.require(caller, Permission::AuthzCheck, meta).await?;
        let Some(user) = self.store.find_user(user).await?.filter(|u| u.status == UserStatus::Active) else {
            return Ok(false);
        };
        let roles = self.store.roles_of_user(&user.id, app).await?;
        let held: crate::permission::Permissions =
            roles.iter().flat_map(|r| r.permissions.iter().map(String::as_str)).collect();
        Ok(held.grants(permission))
    }
}
