//! JSON shapes of users and roles, with FastAuthCore's field names.

use fastauth_core::model::{Role, User};
use serde::Serialize;
use utoipa::ToSchema;

/// A role as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub id: i64,
    pub role_name: String,
    pub permissions: Vec<String>,
    pub department_name: Option<String>,
    pub department_id: Option<String>,
    pub is_active: bool,
    /// The application the role belongs to; null for a global role.
    pub application: Option<String>,
}

impl From<&Role> for RoleView {
    fn from(r: &Role) -> Self {
        Self {
            id: r.id,
            role_name: r.role_name.clone(),
            permissions: r.permissions.clone(),
            department_name: r.department_name.clone(),
            department_id: r.department_id.clone(),
            is_active: r.is_active,
            application: r.application.as_ref().map(ToString::to_string),
        }
    }
}

/// The signed-in user, as `/token` and `/me` answer it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenUserView {
    pub uuid: String,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub roles: Vec<RoleView>,
    /// 1 active, 0 disabled.
    pub status: i64,
}

impl TokenUserView {
    pub fn new(user: &User, roles: &[Role]) -> Self {
        Self {
            uuid: user.id.to_string(),
            firstname: user.firstname.clone(),
            lastname: user.lastname.clone(),
            email: user.email.as_ref().map(ToString::to_string),
            phone_number: user.phone_number.as_ref().map(ToString::to_string),
            roles: roles.iter().map(RoleView::from).collect(),
            status: user.status.code(),
        }
    }
}

/// `{results: …}`, FastAuthCore's envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Results<T> {
    pub results: T,
}
