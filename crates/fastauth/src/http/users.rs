//! User administration endpoints, with FastAuthCore's paths and field names.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fastauth_core::Error;
use fastauth_core::auth::Caller;
use fastauth_core::auth::Identifier;
use fastauth_core::email::Email;
use fastauth_core::error::FieldErrors;
use fastauth_core::ids::{RoleId, UserId};
use fastauth_core::model::{UserChanges, UserFilter, UserStatus};
use fastauth_core::password::Password;
use fastauth_core::phone::PhoneNumber;
use fastauth_core::secret::Secret;
use fastauth_core::service::RequestMeta;
use fastauth_core::users::{AdminNewUser, UserRef, UserUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AppJson, AppPath, AppQuery, Authenticated, Meta, OptionalJson, page_limit};
use super::problem::{ApiError, Problem};
use super::views::{Envelope, RoleView, UserView};
use crate::app::App;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_user, get_user_post))
        .routes(routes!(list_users, list_users_post))
        .routes(routes!(update_user))
        .routes(routes!(create_user))
        .routes(routes!(add_user))
        .routes(routes!(delete_user))
        .routes(routes!(users_by_role, users_by_role_post))
        .routes(routes!(user_by_phone, user_by_phone_post))
        .routes(routes!(end_user_sessions))
}

/// Reads a user's profile. Self, or users:read.
#[utoipa::path(get, path = "/get-userbyid/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)), responses((status = 200, body = Envelope<Vec<UserView>>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_user(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<String>,
) -> Result<Json<Envelope<Vec<UserView>>>, ApiError> {
    let view = app.core.get_user(&caller, &UserId::parse(&id)?, &meta).await?;
    Ok(Json(Envelope::ok("User fetched successfully", vec![UserView::from(&view)])))
}

/// Reads a user's profile (POST form). Self, or users:read.
#[utoipa::path(post, path = "/get-userbyid/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)), responses((status = 200, body = Envelope<Vec<UserView>>), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_user_post(
    state: State<App>,
    meta: Meta,
    caller: Authenticated,
    id: AppPath<String>,
) -> Result<Json<Envelope<Vec<UserView>>>, ApiError> {
    get_user(state, meta, caller, id).await
}

#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
pub struct ListUsersParams {
    /// At most 200; 50 by default.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    role_id: Option<RoleId>,
    /// 1 active, 0 disabled.
    status: Option<i64>,
    /// A prefix of the name, email or phone number.
    q: Option<String>,
}

impl ListUsersParams {
    /// Body fields win over query fields.
    fn merge(self, body: Option<Self>) -> Self {
        let Some(b) = body else { return self };
        Self {
            limit: b.limit.or(self.limit),
            cursor: b.cursor.or(self.cursor),
            role_id: b.role_id.or(self.role_id),
            status: b.status.or(self.status),
            q: b.q.or(self.q),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    message: String,
    results: Vec<UserView>,
    status: u16,
    #[schema(value_type = Option<String>)]
    errors: Option<()>,
    /// How many users match, on all pages.
    count: i64,
    next_cursor: Option<String>,
}

/// Lists users, page by page. Requires: users:read.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), params(ListUsersParams),
    responses((status = 200, body = UserList), (status = 403, body = Problem)))]
async fn list_users(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(q): AppQuery<ListUsersParams>,
) -> Result<Json<UserList>, ApiError> {
    list(&app, &caller, q, &meta).await
}

/// Lists users, page by page (parameters in the JSON body). Requires: users:read.
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), params(ListUsersParams), request_body(content = Option<ListUsersParams>),
    responses((status = 200, body = UserList), (status = 403, body = Problem)))]
async fn list_users_post(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(q): AppQuery<ListUsersParams>,
    OptionalJson(body): OptionalJson<ListUsersParams>,
) -> Result<Json<UserList>, ApiError> {
    list(&app, &caller, q.merge(body), &meta).await
}

async fn list(app: &App, caller: &Caller, p: ListUsersParams, meta: &RequestMeta) -> Result<Json<UserList>, ApiError> {
    let status = match p.status {
        None => None,
        Some(0) => Some(UserStatus::Disabled),
        Some(1) => Some(UserStatus::Active),
        Some(_) => return Err(Error::invalid("status", "must be 0 or 1").into()),
    };
    let limit = page_limit(p.limit)?;
    let cursor = p
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| UserId::parse(&c).map_err(|_| Error::invalid("cursor", "is not a cursor from this API")))
        .transpose()?;
    let q = p.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        return Err(Error::invalid("q", "must be at most 100 characters").into());
    }
    let filter = UserFilter { role_id: p.role_id, status, q };
    let page = app.core.list_users(caller, &filter, cursor.as_ref(), limit, meta).await?;
    Ok(Json(UserList {
        message: "Users fetched successfully".into(),
        results: page.users.iter().map(UserView::from).collect(),
        status: 200,
        errors: None,
        count: page.count,
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    firstname: Option<String>,
    lastname: Option<String>,
    email: Option<String>,
    phone_number: Option<String>,
    source_profile: Option<String>,
    /// users:write, and the caller must hold every permission of these roles.
    role_ids: Option<Vec<RoleId>>,
    /// users:write. 1 active, 0 disabled (ends every session).
    status: Option<i64>,
    /// Proof for changing one's own email or phone.
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<Secret>,
}

/// Changes a user. Self: names and source_profile; its own email or phone with
/// `current_password`, active once the new address confirms a code (202). users:write: everything.
#[utoipa::path(post, path = "/update/{user_id}", tag = "users", security(("bearer" = [])), params(("user_id" = String, Path)),
    request_body = UpdateUserRequest, responses((status = 200, body = UserView), (status = 202, description = "a code was sent to the new email or phone"), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_user(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<String>,
    AppJson(req): AppJson<UpdateUserRequest>,
) -> Result<Response, ApiError> {
    let id = UserId::parse(&id)?;
    let mut errors = FieldErrors::default();
    let firstname = req.firstname.and_then(|v| errors.take(super::auth::name("firstname", &v)));
    let lastname = req.lastname.and_then(|v| errors.take(super::auth::name("lastname", &v)));
    let email = req.email.and_then(|v| errors.take(Email::parse(&v)));
    let phone_number = req.phone_number.and_then(|v| errors.take(PhoneNumber::parse(&v, app.config.phone_region)));
    let source_profile = req.source_profile.and_then(|v| errors.take(super::auth::source_profile(&v)));
    let status = match req.status {
        None => None,
        Some(0) => Some(UserStatus::Disabled),
        Some(1) => Some(UserStatus::Active),
        Some(_) => {
            errors.push("status", "must be 0 or 1");
            None
        }
    };
    errors.finish()?;
    let changes = UserChanges {
        firstname,
        lastname,
        email,
        phone_number,
        source_profile,
        status,
        role_ids: req.role_ids,
        password_hash: None,
    };
    let update = UserUpdate { changes, current_password: req.current_password.map(|p| Password::new(p.expose())) };
    let updated = app.core.update_user(&caller, &id, update, &meta).await?;
    let view = UserView::from(&updated.view);
    Ok(match updated.pending {
        None => Json(view).into_response(),
        Some(pending) => {
            let (field, value) = match pending {
                Identifier::Email(e) => ("email", e.to_string()),
                Identifier::Phone(p) => ("phone_number", p.to_string()),
            };
            let message = format!(
                "confirm the code sent to the new {field} (/verify-otp or /verify-otp-phone) to make it active"
            );
            let body = serde_json::json!({ "message": message, "results": view, "pending": { field: value } });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
    })
}

#[derive(Deserialize, ToSchema)]
pub struct NewUserRequest {
    firstname: String,
    lastname: String,
    email: Option<String>,
    phone_number: Option<String>,
    /// A new password; absent makes a passwordless account.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Secret>,
    /// `/add_user` only: an imported bcrypt or Argon2 PHC hash.
    hashed_password: Option<String>,
    source_profile: Option<String>,
    role_ids: Option<Vec<RoleId>>,
}

impl NewUserRequest {
    fn parse(self, app: &App) -> Result<AdminNewUser, Error> {
        let mut errors = FieldErrors::default();
        let firstname = errors.take(super::auth::name("firstname", &self.firstname));
        let lastname = errors.take(super::auth::name("lastname", &self.lastname));
        let email = self.email.filter(|e| !e.trim().is_empty()).and_then(|v| errors.take(Email::parse(&v)));
        let phone_number = self
            .phone_number
            .filter(|p| !p.trim().is_empty())
            .and_then(|v| errors.take(PhoneNumber::parse(&v, app.config.phone_region)));
        let source_profile =
            self.source_profile.filter(|s| !s.is_empty()).and_then(|v| errors.take(super::auth::source_profile(&v)));
        errors.finish()?;
        let (Some(firstname), Some(lastname)) = (firstname, lastname) else {
            return Err(Error::invalid("firstname", "is required"));
        };
        if email.is_none() && phone_number.is_none() {
            return Err(Error::invalid("email", "email or phone_number is required"));
        }
        Ok(AdminNewUser {
            firstname,
            lastname,
            email,
            phone_number,
            password: self.password.map(|p| Password::new(p.expose())),
            password_hash: self.hashed_password,
            source_profile,
            role_ids: self.role_ids,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    msg: &'static str,
    user_id: String,
}

/// Creates an account. Requires: users:write.
#[utoipa::path(post, path = "/create-user", tag = "users", security(("bearer" = [])), request_body = NewUserRequest,
    responses((status = 201, body = CreatedUser), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<NewUserRequest>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    if req.hashed_password.is_some() {
        return Err(Error::invalid("hashed_password", "is accepted by /add_user only").into());
    }
    let user = app.core.create_user(&caller, req.parse(&app)?, &meta).await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { msg: "User created successfully", user_id: user.id.to_string() })))
}

#[derive(Serialize, ToSchema)]
pub struct AddedUser {
    message: &'static str,
    roles: Vec<RoleView>,
    /// The email, as in FastAuthCore.
    user_id: Option<String>,
    uuid: String,
}

/// Creates or updates the account with this phone number (imports). Requires: users:write.
///
/// `hashed_password` must be a bcrypt or Argon2 PHC hash, so imported users keep their password.
#[utoipa::path(post, path = "/add_user", tag = "users", security(("bearer" = [])), request_body = NewUserRequest,
    responses((status = 201, body = AddedUser), (status = 200, body = AddedUser), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn add_user(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppJson(req): AppJson<NewUserRequest>,
) -> Result<(StatusCode, Json<AddedUser>), ApiError> {
    let (view, created) = app.core.add_user(&caller, req.parse(&app)?, &meta).await?;
    let body = AddedUser {
        message: if created { "User created successfully" } else { "User updated successfully" },
        roles: view.roles.iter().map(RoleView::from).collect(),
        user_id: view.user.email.as_ref().map(ToString::to_string),
        uuid: view.user.id.to_string(),
    };
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(body)))
}

#[derive(Deserialize, IntoParams)]
pub struct DeleteUserParams {
    uuid: Option<String>,
    mobile_number: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteUserRequest {
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<Secret>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    message: &'static str,
    status: u16,
}

/// Deletes an account with its sessions. Requires: users:delete, or self with `current_password`.
#[utoipa::path(delete, path = "/delete-user", tag = "users", security(("bearer" = [])), params(DeleteUserParams), request_body(content = Option<DeleteUserRequest>),
    responses((status = 200, body = Deleted), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_user(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(p): AppQuery<DeleteUserParams>,
    OptionalJson(body): OptionalJson<DeleteUserRequest>,
) -> Result<Json<Deleted>, ApiError> {
    let target = match (p.uuid.filter(|u| !u.is_empty()), p.mobile_number.filter(|m| !m.is_empty())) {
        (Some(id), None) => UserRef::Id(UserId::parse(&id)?),
        (None, Some(phone)) => UserRef::Phone(PhoneNumber::parse(&phone, app.config.phone_region)?),
        _ => return Err(Error::invalid("uuid", "give exactly one of uuid or mobile_number").into()),
    };
    let password = body.and_then(|b| b.current_password).map(|p| Password::new(p.expose()));
    app.core.delete_user(&caller, &target, password.as_ref(), &meta).await?;
    Ok(Json(Deleted { message: "User deleted successfully", status: 200 }))
}

#[derive(Deserialize, ToSchema, IntoParams)]
pub struct RoleParam {
    role_id: Option<RoleId>,
}

#[derive(Serialize, ToSchema)]
pub struct UserIds {
    user_ids: Vec<String>,
}

/// Ids of the users holding a role. Requires: users:read.
#[utoipa::path(get, path = "/users/by-role", tag = "users", security(("bearer" = [])), params(RoleParam),
    responses((status = 200, body = Envelope<UserIds>), (status = 403, body = Problem)))]
async fn users_by_role(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(q): AppQuery<RoleParam>,
) -> Result<Json<Envelope<UserIds>>, ApiError> {
    by_role(&app, &caller, q.role_id, &meta).await
}

/// Ids of the users holding a role (`role_id` in the body or query). Requires: users:read.
#[utoipa::path(post, path = "/users/by-role", tag = "users", security(("bearer" = [])), params(RoleParam), request_body(content = Option<RoleParam>),
    responses((status = 200, body = Envelope<UserIds>), (status = 403, body = Problem)))]
async fn users_by_role_post(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppQuery(q): AppQuery<RoleParam>,
    OptionalJson(body): OptionalJson<RoleParam>,
) -> Result<Json<Envelope<UserIds>>, ApiError> {
    by_role(&app, &caller, body.and_then(|b| b.role_id).or(q.role_id), &meta).await
}

async fn by_role(
    app: &App,
    caller: &Caller,
    role: Option<RoleId>,
    meta: &RequestMeta,
) -> Result<Json<Envelope<UserIds>>, ApiError> {
    let role = role.ok_or_else(|| Error::invalid("role_id", "is required"))?;
    let ids = app.core.users_with_role(caller, role, meta).await?;
    Ok(Json(Envelope::ok(
        "Users fetched successfully",
        UserIds { user_ids: ids.iter().map(ToString::to_string).collect() },
    )))
}

#[derive(Serialize, ToSchema)]
pub struct PhoneUser {
    uuid: String,
    firstname: String,
    lastname: String,
    email: Option<String>,
    phone_number: Option<String>,
    roles: Vec<RoleView>,
}

/// Finds a user by phone number. Requires: users:read.
#[utoipa::path(get, path = "/get_user/{phone_number}", tag = "users", security(("bearer" = [])), params(("phone_number" = String, Path)),
    responses((status = 200, body = PhoneUser), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn user_by_phone(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppPath(phone): AppPath<String>,
) -> Result<Json<PhoneUser>, ApiError> {
    let phone = PhoneNumber::parse(&phone, app.config.phone_region)?;
    let v = app.core.user_by_phone(&caller, &phone, &meta).await?;
    let u = &v.user;
    Ok(Json(PhoneUser {
        uuid: u.id.to_string(),
        firstname: u.firstname.clone(),
        lastname: u.lastname.clone(),
        email: u.email.as_ref().map(ToString::to_string),
        phone_number: u.phone_number.as_ref().map(ToString::to_string),
        roles: v.roles.iter().map(RoleView::from).collect(),
    }))
}

/// Finds a user by phone number (POST form). Requires: users:read.
#[utoipa::path(post, path = "/get_user/{phone_number}", tag = "users", security(("bearer" = [])), params(("phone_number" = String, Path)),
    responses((status = 200, body = PhoneUser), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn user_by_phone_post(
    state: State<App>,
    meta: Meta,
    caller: Authenticated,
    phone: AppPath<String>,
) -> Result<Json<PhoneUser>, ApiError> {
    user_by_phone(state, meta, caller, phone).await
}

/// Ends every session of a user. Requires: users:write.
#[utoipa::path(delete, path = "/users/{user_id}/sessions", tag = "users", security(("bearer" = [])), params(("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn end_user_sessions(
    State(app): State<App>,
    Meta(meta): Meta,
    Authenticated(caller): Authenticated,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    app.core.end_user_sessions(&caller, &UserId::parse(&id)?, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
