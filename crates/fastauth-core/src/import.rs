//! Importing a FastAuthCore database: its users keep their ids (the 24-hex `uuid`), bcrypt
//! hashes (upgraded at first sign-in), roles with their ids and department fields, and role
//! assignments. Re-running is harmless: what exists already is matched, not duplicated.

use std::collections::{BTreeMap, HashSet};

use time::OffsetDateTime;

use crate::email::Email;
use crate::error::{Error, StoreError};
use crate::ids::{RoleId, UserId};
use crate::model::{NewRole, NewUser, RoleChange, RoleSpec, UserStatus};
use crate::password::is_importable_hash;
use crate::phone::PhoneNumber;
use crate::service::Core;

/// A FastAuthCore `users` row.
#[derive(Debug, Clone)]
pub struct LegacyUser {
    pub id: i64,
    pub uuid: String,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub hashed_password: Option<String>,
    pub source_profile: Option<String>,
    pub status: Option<i64>,
}

/// A FastAuthCore `roles` row; `permissions` is its JSON as text (or null).
#[derive(Debug, Clone)]
pub struct LegacyRole {
    pub id: i64,
    pub role_name: String,
    pub permissions: Option<String>,
    pub department_name: Option<String>,
    pub department_id: Option<String>,
    pub is_active: bool,
}

/// Everything read from FastAuthCore; `assignments` are `user_roles` as (users.id, roles.id).
#[derive(Debug, Default)]
pub struct LegacyData {
    pub users: Vec<LegacyUser>,
    pub roles: Vec<LegacyRole>,
    pub assignments: Vec<(i64, i64)>,
}

/// What an import did, and what it could not do and why.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub users_imported: usize,
    pub users_already_present: usize,
    pub roles_created: usize,
    pub roles_matched: usize,
    pub problems: Vec<String>,
}

/// FastAuthCore's permission list to strings: each object becomes its `permission_name`, `*`
/// for `all_permissions`, else its single key; null is no permissions.
pub fn legacy_permissions(json: Option<&str>) -> Result<Vec<String>, String> {
    let Some(json) = json else { return Ok(vec![]) };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("permissions are not JSON: {e}"))?;
    let items = match value {
        serde_json::Value::Null => return Ok(vec![]),
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = match &item {
            serde_json::Value::Object(map) => match map.get("permission_name").and_then(|v| v.as_str()) {
                Some(name) => name.to_owned(),
                None if map.contains_key("all_permissions") => "*".to_owned(),
                None if map.len() == 1 => map.keys().next().cloned().unwrap_or_default(),
                None => return Err(format!("cannot read permission {item}")),
            },
            serde_json::Value::String(s) => s.clone(),
            other => return Err(format!("cannot read permission {other}")),
        };
        let name =
            crate::permission::parse_name(name.trim()).map_err(|_| format!("invalid permission name {name:?}"))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

impl Core {
    /// Imports `data`; `progress(done, total)` is called as users are imported.
    pub async fn import_legacy(
        &self,
        data: LegacyData,
        now: OffsetDateTime,
        progress: impl Fn(usize, usize),
    ) -> Result<ImportReport, Error> {
        let mut report = ImportReport::default();
        let role_map = self.import_roles(&data.roles, now, &mut report).await?;
        let mut roles_of: BTreeMap<i64, Vec<RoleId>> = BTreeMap::new();
        for (user, role) in &data.assignments {
            match role_map.get(role) {
                Some(id) => roles_of.entry(*user).or_default().push(*id),
                None => report.problems.push(format!("user_roles ({user}, {role}): role {role} was not imported")),
            }
        }
        let (mut emails, mut phones) = (HashSet::new(), HashSet::new());
        let total = data.users.len();
        for (n, legacy) in data.users.iter().enumerate() {
            let roles = roles_of.get(&legacy.id).cloned().unwrap_or_default();
            self.import_user(legacy, roles, now, &mut emails, &mut phones, &mut report).await?;
            if (n + 1) % 500 == 0 || n + 1 == total {
                progress(n + 1, total);
            }
        }
        Ok(report)
    }

    /// Matches roles by name (global), else creates them with their FastAuthCore id when free.
    /// Returns FastAuthCore role id -> fastauth role id.
    async fn import_roles(
        &self,
        roles: &[LegacyRole],
        now: OffsetDateTime,
        report: &mut ImportReport,
    ) -> Result<BTreeMap<i64, RoleId>, Error> {
        let mut map = BTreeMap::new();
        let existing = self.store.all_roles().await?;
        let mut taken: HashSet<RoleId> = existing.iter().map(|r| r.id).collect();
        let mut updates = Vec::new();
        for legacy in roles {
            let name = legacy.role_name.trim();
            let permissions = match legacy_permissions(legacy.permissions.as_deref()) {
                Ok(p) => p,
                Err(why) => {
                    report.problems.push(format!("role {} ({name:?}): {why}; skipped", legacy.id));
                    continue;
                }
            };
            if name.is_empty() {
                report.problems.push(format!("role {}: empty name; skipped", legacy.id));
                continue;
            }
            let spec = RoleSpec {
                role_name: name.to_owned(),
                application: None,
                permissions,
                department_name: legacy.department_name.clone(),
                department_id: legacy.department_id.clone(),
                is_active: legacy.is_active,
            };
            if let Some(current) = existing.iter().find(|r| r.role_name == name && r.application.is_none()) {
                map.insert(legacy.id, current.id);
                report.roles_matched += 1;
                let same = current.permissions == spec.permissions
                    && current.department_name == spec.department_name
                    && current.department_id == spec.department_id
                    && current.is_active == spec.is_active;
                if !same {
                    updates.push(RoleChange::UpdateRole { id: current.id, spec, fields: vec![] });
                }
                continue;
            }
            let id = (legacy.id > 0 && !taken.contains(&legacy.id)).then_some(legacy.id);
            let new = NewRole {
                id,
                role_name: spec.role_name,
                permissions: spec.permissions,
                department_name: spec.department_name,
                department_id: spec.department_id,
                application: None,
            };
            let created = self.store.create_roles(&[new], now).await?.remove(0);
            if !legacy.is_active {
                self.store.set_role_active(created.id, false, now).await?;
            }
            if id.is_none() {
                report.problems.push(format!("role {} ({name:?}): id taken, imported as {}", legacy.id, created.id));
            }
            taken.insert(created.id);
            map.insert(legacy.id, created.id);
            report.roles_created += 1;
        }
        self.store.apply_role_changes(&updates, now).await?;
        Ok(map)
    }

    async fn import_user(
        &self,
        legacy: &LegacyUser,
        role_ids: Vec<RoleId>,
        now: OffsetDateTime,
        emails: &mut HashSet<Email>,
        phones: &mut HashSet<PhoneNumber>,
        report: &mut ImportReport,
    ) -> Result<(), Error> {
        let who = format!("user {} ({})", legacy.id, legacy.uuid);
        let Ok(id) = UserId::parse(&legacy.uuid) else {
            report.problems.push(format!("{who}: uuid is not a usable id; skipped"));
            return Ok(());
        };
        if self.store.find_user(&id).await?.is_some() {
            for role in &role_ids {
                self.store.grant_role(&id, *role).await?;
            }
            report.users_already_present += 1;
            return Ok(());
        }
        let email = match legacy.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(raw) => match Email::parse(raw) {
                Ok(e) if !emails.insert(e.clone()) => {
                    report
                        .problems
                        .push(format!("{who}: email {e} belongs to an earlier user too; skipped, not merged"));
                    return Ok(());
                }
                Ok(e) => Some(e),
                Err(_) => {
                    report.problems.push(format!("{who}: email is invalid; imported without it"));
                    None
                }
            },
        };
        let phone = match legacy.phone_number.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(raw) => match PhoneNumber::parse(raw, self.settings.phone_region) {
                Ok(p) if !phones.insert(p.clone()) => {
                    report
                        .problems
                        .push(format!("{who}: phone {p} belongs to an earlier user too; skipped, not merged"));
                    return Ok(());
                }
                Ok(p) => Some(p),
                Err(_) => {
                    report.problems.push(format!("{who}: phone number is invalid; imported without it"));
                    None
                }
            },
        };
        if email.is_none() && phone.is_none() {
            report.problems.push(format!("{who}: neither a usable email nor phone; skipped"));
            return Ok(());
        }
        let password_hash = legacy.hashed_password.clone().filter(|h| is_importable_hash(h));
        if legacy.hashed_password.is_some() && password_hash.is_none() {
            report.problems.push(format!("{who}: password hash is not bcrypt or Argon2; the user must reset it"));
        }
        let user = NewUser {
            id,
            firstname: legacy.firstname.clone().unwrap_or_default(),
            lastname: legacy.lastname.clone().unwrap_or_default(),
            email,
            phone_number: phone,
            password_hash,
            source_profile: legacy.source_profile.clone().filter(|s| !s.is_empty()),
            email_verified_at: None,
            phone_verified_at: None,
            role_ids,
        };
        match self.store.create_user_with_roles(&user, now, None).await {
            Ok(created) => {
                if legacy.status == Some(0) {
                    self.store.set_user_status(&created.id, UserStatus::Disabled, now).await?;
                }
                report.users_imported += 1;
            }
            Err(StoreError::Conflict(c)) => {
                report.problems.push(format!("{who}: {} already belongs to another fastauth user; skipped", c.field()))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastauthcore_permission_objects_become_strings() {
        assert_eq!(legacy_permissions(None), Ok(vec![]));
        assert_eq!(legacy_permissions(Some("null")), Ok(vec![]));
        assert_eq!(legacy_permissions(Some(r#"[{"all_permissions": 0}]"#)), Ok(vec!["*".to_owned()]));
        assert_eq!(
            legacy_permissions(Some(
                r#"[{"permission_name": "reports:read", "permission_id": 3}, {"users:write": true}]"#
            )),
            Ok(vec!["reports:read".to_owned(), "users:write".to_owned()])
        );
        assert!(legacy_permissions(Some(r#"[{"a": 1, "b": 2}]"#)).is_err());
        assert!(legacy_permissions(Some("not json")).is_err());
    }
}
