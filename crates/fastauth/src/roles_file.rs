//! Roles as code: a TOML file declares applications and roles; `roles plan` shows what applying
//! it would change, `roles apply` makes it so in one transaction.
//!
//! ```toml
//! [[applications]]
//! id = "mobile"
//! name = "Mobile app"
//! allowed_origins = ["https://m.example.com"]
//!
//! [[roles]]
//! name = "Support"
//! application = "mobile"        # absent: a global role
//! permissions = ["users:read"]
//! department_name = "Care"      # optional
//! active = true                 # optional, true by default
//! ```

use std::path::Path;

use anyhow::{Context, bail};
use fastauth_core::ids::ClientId;
use fastauth_core::model::{Application, RoleChange, RoleSpec};
use fastauth_core::roles::{parse_permissions, parse_role_name};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    applications: Vec<AppEntry>,
    #[serde(default)]
    roles: Vec<RoleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    id: String,
    name: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    name: String,
    application: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
    department_name: Option<String>,
    department_id: Option<String>,
    active: Option<bool>,
}

/// Reads and checks a roles file.
pub fn read(path: &Path) -> anyhow::Result<(Vec<Application>, Vec<RoleSpec>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: File = toml::from_str(&text).with_context(|| format!("{} is not a valid roles file", path.display()))?;
    let mut apps = Vec::new();
    for a in file.applications {
        let id = ClientId::parse(&a.id)
            .map_err(|_| anyhow::anyhow!("application {:?}: id must be a lowercase slug", a.id))?;
        apps.push(Application { id, name: a.name, allowed_origins: a.allowed_origins });
    }
    let mut roles: Vec<RoleSpec> = Vec::new();
    for r in file.roles {
        let spec = RoleSpec {
            role_name: parse_role_name(&r.name)
                .map_err(|_| anyhow::anyhow!("role {:?}: name must be 1 to 100 characters", r.name))?,
            application: r
                .application
                .map(|a| ClientId::parse(&a))
                .transpose()
                .map_err(|_| anyhow::anyhow!("role {:?}: bad application", r.name))?,
            permissions: parse_permissions(&r.permissions)
                .map_err(|_| anyhow::anyhow!("role {:?}: invalid permission name", r.name))?,
            department_name: r.department_name,
            department_id: r.department_id,
            is_active: r.active.unwrap_or(true),
        };
        if roles.iter().any(|o| o.role_name == spec.role_name && o.application == spec.application) {
            bail!("role {:?} is declared twice", spec.role_name);
        }
        roles.push(spec);
    }
    Ok((apps, roles))
}

/// One line per change; "no changes" when there are none.
pub fn describe(plan: &[RoleChange]) -> String {
    if plan.is_empty() {
        return "no changes".to_owned();
    }
    let scope = |app: &Option<ClientId>| app.as_ref().map_or_else(|| "global".to_owned(), |a| format!("app {a}"));
    plan.iter()
        .map(|change| match change {
            RoleChange::CreateApplication(a) => format!("+ application {} ({:?})", a.id, a.name),
            RoleChange::UpdateApplication(a) => {
                format!("~ application {}: name {:?}, allowed_origins {:?}", a.id, a.name, a.allowed_origins)
            }
            RoleChange::CreateRole(r) => {
                format!("+ role {:?} ({}) permissions {:?}", r.role_name, scope(&r.application), r.permissions)
            }
            RoleChange::UpdateRole { spec, fields, .. } => {
                format!("~ role {:?} ({}): {}", spec.role_name, scope(&spec.application), fields.join("; "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
