//! Permission names and the set a caller holds; `*` grants everything.

use std::collections::BTreeSet;

use crate::error::Error;

/// The permissions fastauth itself checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    UsersRead,
    UsersWrite,
    UsersDelete,
    RolesRead,
    RolesWrite,
    AppsWrite,
    AuditRead,
    AuthzCheck,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::UsersDelete => "users:delete",
            Permission::RolesRead => "roles:read",
            Permission::RolesWrite => "roles:write",
            Permission::AppsWrite => "apps:write",
            Permission::AuditRead => "audit:read",
            Permission::AuthzCheck => "authz:check",
        }
    }
}

/// The wildcard held by `Super Admin`.
pub const ALL: &str = "*";

/// Checks a permission name given by an admin: 1 to 100 characters of `a-z A-Z 0-9 : . _ - *`.
pub fn parse_name(raw: &str) -> Result<String, Error> {
    let ok =
        !raw.is_empty() && raw.len() <= 100 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b":._-*".contains(&b));
    if ok { Ok(raw.to_owned()) } else { Err(Error::invalid("permissions", "contains an invalid permission name")) }
}

/// The union of the permissions of a caller's active roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeSet<String>);

impl Permissions {
    pub fn grants(&self, name: &str) -> bool {
        self.0.contains(ALL) || self.0.contains(name)
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.grants(permission.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }
}

impl<S: Into<String>> FromIterator<S> for Permissions {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self(iter.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_grants_everything_and_names_are_exact() {
        let admin: Permissions = ["*"].into_iter().collect();
        assert!(admin.has(Permission::UsersDelete));
        let reader: Permissions = ["users:read"].into_iter().collect();
        assert!(reader.has(Permission::UsersRead));
        assert!(!reader.has(Permission::UsersWrite));
        assert!(!reader.grants("users:read:all"));
    }

    #[test]
    fn permission_names_are_checked() {
        assert!(parse_name("reports:read").is_ok());
        assert!(parse_name("").is_err());
        assert!(parse_name("a b").is_err());
    }
}
