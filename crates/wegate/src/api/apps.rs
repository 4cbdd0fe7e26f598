//! `/api/v1/apps`: OIDC clients and their connections.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::common::{Actor, ApiError, ApiResult, Changed, List, ListQuery, NO_FIELDS, audit_change, body, named};
use crate::app::{App, AppState};
use crate::store::{App as Client, AppKind, AppUpdate};
use crate::util::{random_token, sha256_hex, time_ordered_id};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    pub name: String,
    pub kind: AppKind,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// OIDC Back-Channel Logout 1.0: an http(s) URL that receives a logout token when the person's sessions
    /// end (a member left WeCom, an admin disabled the user).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `null` removes it.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "present")]
    pub backchannel_logout_uri: Option<Option<String>>,
    /// `true` issues a new client secret (web apps), shown once in the answer.
    #[serde(default)]
    pub rotate_secret: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppView {
    pub client_id: String,
    /// Only in the answer that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub name: String,
    pub kind: AppKind,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Identifiers of the associated connections, in the login page's button order.
    pub connections: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

async fn view(app: &App, stored: Client, client_secret: Option<String>) -> ApiResult<AppView> {
    let connections = app.store.app_connections(&stored.client_id).await?.into_iter().map(|c| c.identifier).collect();
    Ok(AppView {
        client_id: stored.client_id,
        client_secret,
        name: stored.name,
        kind: stored.kind,
        redirect_uris: stored.redirect_uris,
        post_logout_redirect_uris: stored.post_logout_redirect_uris,
        backchannel_logout_uri: stored.backchannel_logout_uri,
        connections,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    })
}

/// Schemes a browser handles itself (WHATWG Fetch's local and fetch schemes, and script).
const BROWSER_SCHEMES: &[&str] =
    &["javascript", "data", "vbscript", "file", "blob", "about", "filesystem", "view-source"];

/// Absolute URIs without fragment; `web`/`spa` apps use http(s), `native` apps may use a private scheme
/// (RFC 8252 §7.1), never one of [`BROWSER_SCHEMES`].
fn check_uris(field: &str, uris: &[String], kind: AppKind) -> ApiResult<()> {
    for uri in uris {
        let parsed =
            url::Url::parse(uri).map_err(|_| ApiError::invalid(format!("{field}: {uri:?} is not an absolute URI")))?;
        if parsed.fragment().is_some() {
            return Err(ApiError::invalid(format!("{field}: {uri:?} must not have a fragment")));
        }
        let web_scheme = parsed.scheme() == "https" || parsed.scheme() == "http";
        // A native app's own scheme (RFC 8252 §7.1) — never one a browser runs or reads itself: a code sent
        // to `javascript:` or `data:` would run in, or leak from, wegate's own page.
        if BROWSER_SCHEMES.contains(&parsed.scheme()) {
            return Err(ApiError::invalid(format!("{field}: {uri:?} uses a scheme that is not a redirect target")));
        }
        if !web_scheme && kind != AppKind::Native {
            return Err(ApiError::invalid(format!("{field}: {uri:?} must be http(s) for a {} app", kind.as_str())));
        }
        if web_scheme && parsed.host().is_none() {
            return Err(ApiError::invalid(format!("{field}: {uri:?} has no host")));
        }
    }
    Ok(())
}

/// A field present with `null` is `Some(None)`; absent is `None`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An absolute http(s) URL without fragment (OIDC Back-Channel Logout 1.0 §2.2).
fn check_backchannel(uri: &str) -> ApiResult<()> {
    let parsed = url::Url::parse(uri)
        .map_err(|_| ApiError::invalid(format!("backchannel_logout_uri: {uri:?} is not an absolute URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() || parsed.fragment().is_some() {
        return Err(ApiError::invalid("backchannel_logout_uri must be an http(s) URL with a host and no fragment"));
    }
    Ok(())
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    Ok(name.to_string())
}

/// Registers an app. A `web` app gets a client secret, shown only in this answer.
#[utoipa::path(post, path = "/api/v1/apps", request_body = NewApp, responses((status = 201, body = AppView), (status = 400, body = ApiError)))]
pub async fn create_app(
    State(app): State<AppState>,
    actor: Actor,
    payload: Result<Json<NewApp>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let input = body(payload)?;
    let fields = named(&[
        ("name", true),
        ("kind", true),
        ("redirect_uris", true),
        ("post_logout_redirect_uris", !input.post_logout_redirect_uris.is_empty()),
        ("backchannel_logout_uri", input.backchannel_logout_uri.is_some()),
    ]);
    let name = check_name(&input.name)?;
    if input.redirect_uris.is_empty() {
        return Err(ApiError::invalid("redirect_uris must list at least one URI"));
    }
    check_uris("redirect_uris", &input.redirect_uris, input.kind)?;
    check_uris("post_logout_redirect_uris", &input.post_logout_redirect_uris, input.kind)?;
    if let Some(uri) = &input.backchannel_logout_uri {
        check_backchannel(uri)?;
    }
    let secret = (input.kind == AppKind::Web).then(random_token);
    let now = app.now();
    let stored = app
        .store
        .create_app(Client {
            client_id: time_ordered_id("app_"),
            name,
            kind: input.kind,
            client_secret_hash: secret.as_deref().map(sha256_hex),
            redirect_uris: input.redirect_uris,
            post_logout_redirect_uris: input.post_logout_redirect_uris,
            backchannel_logout_uri: input.backchannel_logout_uri,
            created_at: now,
            updated_at: now,
        })
        .await?;
    tracing::info!(client_id = %stored.client_id, "app registered");
    audit_change(&app, &actor, "app.created", Changed::App(&stored.client_id), &fields).await;
    Ok((StatusCode::CREATED, Json(view(&app, stored, secret).await?)))
}

#[utoipa::path(get, path = "/api/v1/apps", params(ListQuery), responses((status = 200, body = List<AppView>)))]
pub async fn list_apps(State(app): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<List<AppView>>> {
    let page = app.store.list_apps(q.limit()?, q.cursor.as_deref()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for stored in page.items {
        items.push(view(&app, stored, None).await?);
    }
    Ok(Json(List { items, next: page.next }))
}

#[utoipa::path(get, path = "/api/v1/apps/{client_id}", responses((status = 200, body = AppView), (status = 404, body = ApiError)))]
pub async fn get_app(State(app): State<AppState>, Path(client_id): Path<String>) -> ApiResult<Json<AppView>> {
    let stored = app.store.get_app(&client_id).await?.ok_or_else(|| ApiError::not_found("app"))?;
    Ok(Json(view(&app, stored, None).await?))
}

#[utoipa::path(patch, path = "/api/v1/apps/{client_id}", request_body = AppPatch, responses((status = 200, body = AppView), (status = 404, body = ApiError)))]
pub async fn update_app(
    State(app): State<AppState>,
    actor: Actor,
    Path(client_id): Path<String>,
    payload: Result<Json<AppPatch>, JsonRejection>,
) -> ApiResult<Json<AppView>> {
    let patch = body(payload)?;
    let stored = app.store.get_app(&client_id).await?.ok_or_else(|| ApiError::not_found("app"))?;
    let name = patch.name.as_deref().map(check_name).transpose()?;
    if let Some(uris) = &patch.redirect_uris {
        if uris.is_empty() {
            return Err(ApiError::invalid("redirect_uris must list at least one URI"));
        }
        check_uris("redirect_uris", uris, stored.kind)?;
    }
    if let Some(uris) = &patch.post_logout_redirect_uris {
        check_uris("post_logout_redirect_uris", uris, stored.kind)?;
    }
    if let Some(Some(uri)) = &patch.backchannel_logout_uri {
        check_backchannel(uri)?;
    }
    if patch.rotate_secret && stored.kind != AppKind::Web {
        return Err(ApiError::invalid("only web apps have a client secret"));
    }
    let secret = patch.rotate_secret.then(random_token);
    let fields = named(&[
        ("name", patch.name.is_some()),
        ("redirect_uris", patch.redirect_uris.is_some()),
        ("post_logout_redirect_uris", patch.post_logout_redirect_uris.is_some()),
        ("backchannel_logout_uri", patch.backchannel_logout_uri.is_some()),
        ("client_secret", patch.rotate_secret),
    ]);
    let update = AppUpdate {
        name,
        redirect_uris: patch.redirect_uris,
        post_logout_redirect_uris: patch.post_logout_redirect_uris,
        client_secret_hash: secret.as_deref().map(sha256_hex),
        backchannel_logout_uri: patch.backchannel_logout_uri,
    };
    let updated = app.store.update_app(&client_id, update, app.now()).await?;
    let event = if patch.rotate_secret { "app.secret_rotated" } else { "app.updated" };
    audit_change(&app, &actor, event, Changed::App(&client_id), &fields).await;
    Ok(Json(view(&app, updated, secret).await?))
}

#[utoipa::path(delete, path = "/api/v1/apps/{client_id}", responses((status = 204), (status = 404, body = ApiError)))]
pub async fn delete_app(
    State(app): State<AppState>,
    actor: Actor,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store.delete_app(&client_id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::not_found("app"),
        other => other.into(),
    })?;
    audit_change(&app, &actor, "app.deleted", Changed::App(&client_id), NO_FIELDS).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The optional body of an association: the button's place on the login page.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssociationBody {
    /// Buttons are shown by ascending `order`, then in association order. Default 0; absent on a repeated
    /// PUT keeps the current order.
    pub order: Option<i64>,
}

/// Enables a connection for an app (idempotent), optionally at a place in the app's button order.
#[utoipa::path(put, path = "/api/v1/apps/{client_id}/connections/{identifier}", request_body(content = Option<AssociationBody>), responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn associate(
    State(app): State<AppState>,
    actor: Actor,
    Path((client_id, identifier)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let input: AssociationBody = if raw.iter().all(u8::is_ascii_whitespace) {
        AssociationBody::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::invalid(format!("the body must be {{\"order\": <integer>}} or empty: {e}")))?
    };
    app.store.associate(&client_id, &identifier, input.order).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::not_found("app or connection"),
        other => other.into(),
    })?;
    let fields = named(&[("order", input.order.is_some())]);
    audit_change(&app, &actor, "app.connection_enabled", Changed::Association(&client_id, &identifier), &fields).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/apps/{client_id}/connections/{identifier}", responses((status = 204), (status = 404, body = ApiError)))]
pub async fn dissociate(
    State(app): State<AppState>,
    actor: Actor,
    Path((client_id, identifier)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.store.dissociate(&client_id, &identifier).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::not_found("association"),
        other => other.into(),
    })?;
    audit_change(&app, &actor, "app.connection_disabled", Changed::Association(&client_id, &identifier), NO_FIELDS)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
