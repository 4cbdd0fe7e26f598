//! `/api/v1/users`: local accounts, with their linked upstream identities.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{Actor, ApiError, ApiResult, Changed, List, ListQuery, NO_FIELDS, audit_change, body, named};
use crate::app::AppState;
use crate::store::{EMAIL_VERIFIED, Identity, NewUser, User};
use crate::util::time_ordered_id;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    /// Enables local password sign-in (and "ask to bind"). At least 8 characters.
    pub password: Option<String>,
    /// Whether the email was proven (the admin vouches for it); `email_verified` in tokens. Default false.
    #[serde(default)]
    pub email_verified: bool,
    /// May sign in to the admin console (`/console`). Default false.
    #[serde(default)]
    pub admin: bool,
}

/// What `PATCH /users/{id}` may change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub admin: Option<bool>,
    /// A new password (at least 8 characters).
    pub password: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IdentityView {
    /// The identity space: `wecom:<corp_id>`, `wecom-open:<corp_id>`, `oidc:<issuer>`, `oauth2:<connection>`.
    pub upstream: String,
    /// Its kind: `wecom` (a corp's member), `wecom_open` (a service provider's open_userid), `oidc` (an
    /// issuer's `sub`), `oauth2` (a provider's id).
    pub kind: String,
    /// The WeCom userid (lowercased) or open_userid, the issuer's `sub`, the OAuth 2.0 provider's id.
    pub subject: String,
    /// The connection of the last sign-in.
    pub connection: String,
    #[schema(value_type = Object)]
    pub profile: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Also the `sub` of the user's tokens.
    pub id: String,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub has_password: bool,
    /// May sign in to the admin console.
    pub admin: bool,
    /// Disabled by an admin (`/disable`): no sign-in by any connection or password, no refresh.
    pub disabled: bool,
    #[schema(value_type = Object)]
    pub claims: Value,
    pub identities: Vec<IdentityView>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn view(user: User, identities: Vec<Identity>) -> UserView {
    UserView {
        id: user.id,
        username: user.username,
        email: user.email,
        phone: user.phone,
        name: user.name,
        picture: user.picture,
        has_password: user.password_hash.is_some(),
        admin: user.admin,
        disabled: user.disabled,
        claims: user.claims,
        identities: identities
            .into_iter()
            .map(|i| IdentityView {
                kind: i.upstream.split(':').next().unwrap_or_default().replace('-', "_"),
                upstream: i.upstream,
                subject: i.subject,
                connection: i.connection,
                profile: i.profile,
                created_at: i.created_at,
                updated_at: i.updated_at,
            })
            .collect(),
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

fn clean(field: &str, value: Option<String>, max: usize) -> ApiResult<Option<String>> {
    match value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max => {
            Err(ApiError::invalid(format!("{field} is longer than {max} characters")))
        }
        other => Ok(other),
    }
}

#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserBody, responses((status = 201, body = UserView), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_user(
    State(app): State<AppState>,
    actor: Actor,
    payload: Result<Json<NewUserBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let input = body(payload)?;
    let fields = named(&[
        ("username", input.username.is_some()),
        ("email", input.email.is_some()),
        ("phone", input.phone.is_some()),
        ("name", input.name.is_some()),
        ("password", input.password.is_some()),
        ("email_verified", input.email_verified),
        ("admin", input.admin),
    ]);
    let username = clean("username", input.username, 64)?;
    let email = clean("email", input.email, 254)?;
    let phone = clean("phone", input.phone, 32)?;
    let name = clean("name", input.name, 100)?;
    if username.is_none() && email.is_none() && phone.is_none() {
        return Err(ApiError::invalid("give at least one of username, email or phone"));
    }
    if let Some(u) = &username
        && (u.contains('@') || u.chars().any(char::is_whitespace))
    {
        return Err(ApiError::invalid("username must not contain @ or spaces"));
    }
    if let Some(e) = &email
        && (!e.contains('@') || e.starts_with('@') || e.ends_with('@'))
    {
        return Err(ApiError::invalid("email is not an email address"));
    }
    if let Some(p) = &phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        if digits < 5 || p.chars().any(|c| !(c.is_ascii_digit() || " +-()".contains(c))) {
            return Err(ApiError::invalid("phone must be digits, optionally with +, spaces and dashes"));
        }
    }
    let password_hash = match input.password {
        Some(pw) => Some(hash(&app, pw).await?),
        None => None,
    };
    let claims = serde_json::json!({ EMAIL_VERIFIED: input.email_verified && email.is_some() });
    let user = app
        .store
        .create_user(NewUser {
            id: time_ordered_id(""),
            username,
            email,
            phone,
            name,
            picture: None,
            password_hash,
            claims,
            created_at: app.now(),
        })
        .await?;
    let user = if input.admin { app.store.set_user_access(&user.id, Some(true), None, app.now()).await? } else { user };
    audit_change(&app, &actor, "user.created", Changed::User(&user.id), &fields).await;
    Ok((StatusCode::CREATED, Json(view(user, Vec::new()))))
}

async fn hash(app: &AppState, password: String) -> ApiResult<String> {
    if password.chars().count() < 8 {
        return Err(ApiError::invalid("password must be at least 8 characters"));
    }
    crate::accounts::hash_password(app, password).await.map_err(|e| {
        if e == "busy" {
            return ApiError::busy();
        }
        tracing::error!(error = %e, "password hashing failed");
        ApiError::invalid("password could not be hashed")
    })
}

/// Changes a user's console flag, password or name.
#[utoipa::path(patch, path = "/api/v1/users/{id}", request_body = UserPatch, responses((status = 200, body = UserView), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update_user(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    payload: Result<Json<UserPatch>, JsonRejection>,
) -> ApiResult<Json<UserView>> {
    let input = body(payload)?;
    app.store.get_user(&id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let fields = named(&[
        ("name", input.name.is_some()),
        ("password", input.password.is_some()),
        ("admin", input.admin.is_some()),
    ]);
    let password_hash = match input.password {
        Some(pw) => Some(Some(hash(&app, pw).await?)),
        None => None,
    };
    let now = app.now();
    if let Some(name) = clean("name", input.name, 100)? {
        let update = crate::store::ProfileUpdate { name: Some(name), ..Default::default() };
        app.store.update_user_profile(&id, update, now).await?;
    }
    let user = app.store.set_user_access(&id, input.admin, password_hash, now).await?;
    audit_change(&app, &actor, "user.updated", Changed::User(&id), &fields).await;
    if let Some(admin) = input.admin {
        let event = if admin { "user.admin_granted" } else { "user.admin_revoked" };
        audit_change(&app, &actor, event, Changed::User(&id), NO_FIELDS).await;
    }
    let identities = app.store.user_identities(&id).await?;
    Ok(Json(view(user, identities)))
}

#[utoipa::path(get, path = "/api/v1/users", params(ListQuery), responses((status = 200, body = List<UserView>)))]
pub async fn list_users(State(app): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<List<UserView>>> {
    let page = app.store.list_users(q.limit()?, q.cursor.as_deref()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for user in page.items {
        let identities = app.store.user_identities(&user.id).await?;
        items.push(view(user, identities));
    }
    Ok(Json(List { items, next: page.next }))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", responses((status = 200, body = UserView), (status = 404, body = ApiError)))]
pub async fn get_user(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<UserView>> {
    let user = app.store.get_user(&id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let identities = app.store.user_identities(&user.id).await?;
    Ok(Json(view(user, identities)))
}

/// Deletes a user after doing all that `/disable` does: sessions and grants end (access tokens turn
/// inactive), apps with a back-channel logout URI are told, and the audit says so.
#[utoipa::path(delete, path = "/api/v1/users/{id}", responses((status = 204), (status = 404, body = ApiError)))]
pub async fn delete_user(State(app): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store.get_user(&id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    // Disabled first: a sign-in finishing meanwhile issues nothing, and a failure below leaves the account
    // disabled, never half deleted and still usable.
    set_disabled(&app, &actor, &id, true).await?;
    crate::oidc::backchannel::end_user(&app, &id, "deleted by an administrator").await?;
    app.store.delete_user(&id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::not_found("user"),
        other => other.into(),
    })?;
    audit_change(&app, &actor, "user.deleted", Changed::User(&id), NO_FIELDS).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user: every session ends, every grant is revoked, apps with a back-channel logout URI are
/// told, and no sign-in succeeds until `/enable`. Idempotent.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", responses((status = 200, body = UserView), (status = 404, body = ApiError)))]
pub async fn disable_user(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = set_disabled(&app, &actor, &id, true).await?;
    crate::oidc::backchannel::end_user(&app, &id, "disabled by an administrator").await?;
    let identities = app.store.user_identities(&id).await?;
    Ok(Json(view(user, identities)))
}

/// Enables a disabled user again (sign-ins start afresh; nothing revoked comes back). Idempotent.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", responses((status = 200, body = UserView), (status = 404, body = ApiError)))]
pub async fn enable_user(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = set_disabled(&app, &actor, &id, false).await?;
    let identities = app.store.user_identities(&id).await?;
    Ok(Json(view(user, identities)))
}

async fn set_disabled(app: &AppState, actor: &Actor, id: &str, disabled: bool) -> ApiResult<User> {
    let user = app.store.set_user_disabled(id, disabled, app.now()).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::not_found("user"),
        other => other.into(),
    })?;
    let event = if disabled { "user.disabled" } else { "user.enabled" };
    audit_change(app, actor, event, Changed::User(id), NO_FIELDS).await;
    Ok(user)
}
