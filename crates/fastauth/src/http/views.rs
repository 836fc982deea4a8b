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

/// A user as admin endpoints answer it: `role_ids` holds role objects, as in FastAuthCore.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub uuid: String,
    pub firstname: String,
    pub lastname: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub role_ids: Vec<RoleView>,
    pub source_profile: Option<String>,
    pub status: i64,
}

impl From<&fastauth_core::users::UserView> for UserView {
    fn from(v: &fastauth_core::users::UserView) -> Self {
        let u = &v.user;
        Self {
            uuid: u.id.to_string(),
            firstname: u.firstname.clone(),
            lastname: u.lastname.clone(),
            email: u.email.as_ref().map(ToString::to_string),
            phone_number: u.phone_number.as_ref().map(ToString::to_string),
            role_ids: v.roles.iter().map(RoleView::from).collect(),
            source_profile: u.source_profile.clone(),
            status: u.status.code(),
        }
    }
}

/// FastAuthCore's envelope: `{message, results, status, errors}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub message: String,
    pub results: T,
    pub status: u16,
    #[schema(value_type = Option<String>)]
    pub errors: Option<()>,
}

impl<T> Envelope<T> {
    pub fn ok(message: &str, results: T) -> Self {
        Self { message: message.to_owned(), results, status: 200, errors: None }
    }
}

/// `{results: …}`, FastAuthCore's envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Results<T> {
    pub results: T,
}
