//! Role administration. Adding a permission to a role, or activating a role, is handing that
//! permission out: the no-escalation rule applies.

use crate::auth::Caller;
use crate::error::Error;
use crate::ids::{ClientId, RoleId};
use crate::model::{Application, NewRole, Role, RoleChange, RoleChanges, RoleSpec};
use crate::permission::{Permission, parse_name};
use crate::service::{Core, RequestMeta};

/// A role name: trimmed, 1 to 100 characters.
pub fn parse_role_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid("role_name", "must be 1 to 100 characters"))
    }
}

/// Checks permission names and removes duplicates, keeping the order.
pub fn parse_permissions(raw: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for p in raw {
        let p = parse_name(p.trim())?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

impl Core {
    /// roles:read. Active roles, all or one application's.
    pub async fn list_roles(
        &self,
        caller: &Caller,
        app: Option<&ClientId>,
        meta: &RequestMeta,
    ) -> Result<Vec<Role>, Error> {
        self.require(caller, Permission::RolesRead, meta).await?;
        Ok(self.store.list_roles(app).await?)
    }

    /// roles:write. All or nothing.
    pub async fn create_roles(
        &self,
        caller: &Caller,
        roles: Vec<NewRole>,
        meta: &RequestMeta,
    ) -> Result<Vec<Role>, Error> {
        self.require(caller, Permission::RolesWrite, meta).await?;
        for role in &roles {
            if let Some(app) = &role.application
                && self.store.find_application(app).await?.is_none()
            {
                return Err(Error::invalid("application", "names an application that does not exist"));
            }
        }
        if !caller.may_grant(roles.iter().flat_map(|r| &r.permissions)) {
            return Err(self.deny(caller, meta, "create roles with permissions the caller lacks").await);
        }
        let created = self.store.create_roles(&roles, meta.now).await?;
        for role in &created {
            let details =
                serde_json::json!({ "role_id": role.id, "role_name": role.role_name, "permissions": role.permissions });
            self.audit("role.created", meta, Some(&caller.user.id), None, details).await;
        }
        Ok(created)
    }

    /// roles:write. Name and department fields.
    pub async fn update_role(
        &self,
        caller: &Caller,
        id: RoleId,
        changes: &RoleChanges,
        meta: &RequestMeta,
    ) -> Result<Role, Error> {
        self.require(caller, Permission::RolesWrite, meta).await?;
        let role = self.store.update_role(id, changes, meta.now).await?;
        self.audit("role.updated", meta, Some(&caller.user.id), None, serde_json::json!({ "role_id": id })).await;
        Ok(role)
    }

    /// roles:write. Replaces the permissions of every listed role, all or nothing.
    pub async fn update_role_permissions(
        &self,
        caller: &Caller,
        changes: Vec<(RoleId, Vec<String>)>,
        meta: &RequestMeta,
    ) -> Result<Vec<Role>, Error> {
        self.require(caller, Permission::RolesWrite, meta).await?;
        if !caller.may_grant(changes.iter().flat_map(|(_, p)| p)) {
            return Err(self.deny(caller, meta, "add permissions the caller lacks").await);
        }
        let roles = self.store.replace_role_permissions(&changes, meta.now).await?;
        for role in &roles {
            let details = serde_json::json!({ "role_id": role.id, "permissions": role.permissions });
            self.audit("role.permissions_changed", meta, Some(&caller.user.id), None, details).await;
        }
        Ok(roles)
    }

    /// roles:write. Activating hands the role's permissions out again.
    pub async fn set_role_status(
        &self,
        caller: &Caller,
        id: RoleId,
        active: bool,
        meta: &RequestMeta,
    ) -> Result<Role, Error> {
        self.require(caller, Permission::RolesWrite, meta).await?;
        let role = self.store.find_roles(&[id]).await?.pop().ok_or(Error::NotFound)?;
        if active && !caller.may_grant(&role.permissions) {
            return Err(self.deny(caller, meta, "activate a role with permissions the caller lacks").await);
        }
        let role = self.store.set_role_active(id, active, meta.now).await?;
        let details = serde_json::json!({ "role_id": id, "is_active": active });
        self.audit("role.updated", meta, Some(&caller.user.id), None, details).await;
        Ok(role)
    }
}

impl Core {
    /// What applying the declared applications and roles would change. Roles and applications
    /// the file does not name are left alone.
    pub async fn plan_roles(&self, apps: &[Application], roles: &[RoleSpec]) -> Result<Vec<RoleChange>, Error> {
        let mut plan = Vec::new();
        let existing_apps = self.store.list_applications().await?;
        for app in apps {
            match existing_apps.iter().find(|a| a.id == app.id) {
                None => plan.push(RoleChange::CreateApplication(app.clone())),
                Some(current) if current != app => plan.push(RoleChange::UpdateApplication(app.clone())),
                Some(_) => {}
            }
        }
        let existing = self.store.all_roles().await?;
        for spec in roles {
            let current = existing.iter().find(|r| r.role_name == spec.role_name && r.application == spec.application);
            let Some(current) = current else {
                plan.push(RoleChange::CreateRole(spec.clone()));
                continue;
            };
            let mut fields = Vec::new();
            if current.permissions != spec.permissions {
                fields.push(format!("permissions {:?} -> {:?}", current.permissions, spec.permissions));
            }
            if current.department_name != spec.department_name {
                fields.push(format!("department_name {:?} -> {:?}", current.department_name, spec.department_name));
            }
            if current.department_id != spec.department_id {
                fields.push(format!("department_id {:?} -> {:?}", current.department_id, spec.department_id));
            }
            if current.is_active != spec.is_active {
                fields.push(format!("is_active {} -> {}", current.is_active, spec.is_active));
            }
            if !fields.is_empty() {
                plan.push(RoleChange::UpdateRole { id: current.id, spec: spec.clone(), fields });
            }
        }
        Ok(plan)
    }

    /// Applies a plan in one transaction (the CLI's `roles apply`, exempt from the escalation
    /// rule: whoever runs it holds the database).
    pub async fn apply_roles(&self, plan: &[RoleChange], now: time::OffsetDateTime) -> Result<(), Error> {
        if plan.is_empty() {
            return Ok(());
        }
        self.store.apply_role_changes(plan, now).await?;
        let details = serde_json::json!({ "changes": plan.len(), "via": "roles apply" });
        self.audit("role.updated", &RequestMeta::at(now), None, None, details).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_lists_are_checked_and_deduplicated() {
        let raw = vec!["a:read".to_owned(), " a:read ".to_owned(), "b:write".to_owned()];
        assert_eq!(parse_permissions(&raw).expect("valid"), vec!["a:read", "b:write"]);
        assert!(parse_permissions(&["bad name".to_owned()]).is_err());
        assert!(parse_role_name("  ").is_err());
    }
}
