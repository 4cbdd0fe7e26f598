//! The admin API (`/api/v1`, CONTRACT.md): apps, connections, users, their associations and the audit
//! log, behind `Authorization: Bearer $WEGATE_ADMIN_TOKEN`. Input is validated before it reaches the store;
//! every error is `{"error", "message"}` with a 4xx; secrets are never returned. The OpenAPI document at
//! `/api/v1/openapi.json` is generated from these handlers and types, so it cannot drift.

pub(crate) mod apps;
pub(crate) mod backup;
mod common;
pub(crate) mod connections;
pub(crate) mod keys;
pub(crate) mod users;

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::app::AppState;
use crate::store::AuditEvent;
pub use common::{Actor, ApiError, ApiResult, Changed, List, ListQuery, audit_change, body};

#[derive(OpenApi)]
#[openapi(
    info(title = "wegate admin API", description = "Apps, WeCom connections, users and audit log of a wegate server."),
    paths(
        apps::create_app, apps::list_apps, apps::get_app, apps::update_app, apps::delete_app,
        apps::associate, apps::dissociate,
        connections::create_connection, connections::list_connections, connections::get_connection,
        connections::update_connection, connections::delete_connection,
        users::create_user, users::list_users, users::get_user, users::update_user, users::delete_user, users::disable_user,
        users::enable_user,
        list_audit, backup::backup, keys::list_keys, keys::rotate_keys,
    ),
    components(schemas(ApiError, AuditEvent)),
    modifiers(&BearerAuth),
    security(("admin_token" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn routes() -> Router<AppState> {
    let protected = Router::new()
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route("/apps/{client_id}", get(apps::get_app).patch(apps::update_app).delete(apps::delete_app))
        .route("/apps/{client_id}/connections/{identifier}", put(apps::associate).delete(apps::dissociate))
        .route("/connections", get(connections::list_connections).post(connections::create_connection))
        .route(
            "/connections/{identifier}",
            get(connections::get_connection)
                .patch(connections::update_connection)
                .delete(connections::delete_connection),
        )
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/{id}", get(users::get_user).patch(users::update_user).delete(users::delete_user))
        .route("/users/{id}/disable", post(users::disable_user))
        .route("/users/{id}/enable", post(users::enable_user))
        .route("/audit", get(list_audit))
        .route("/backup", get(backup::backup))
        .route("/keys", get(keys::list_keys))
        .route("/keys/rotate", post(keys::rotate_keys))
        .fallback(|| async { ApiError::not_found("endpoint") });
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) })).merge(protected)
}

/// `Authorization: Bearer <WEGATE_ADMIN_TOKEN>` on everything under `/api/v1` but the OpenAPI document.
/// Applied to the whole router (it looks at the path) so that it also covers the API's 404s.
pub async fn require_admin(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
        return next.run(request).await;
    }
    let Some(expected) = app.settings.admin_token.as_deref() else {
        return ApiError {
            status: StatusCode::UNAUTHORIZED,
            error: "unauthorized",
            message: "the admin API is disabled: set WEGATE_ADMIN_TOKEN".into(),
        }
        .into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::util::secure_eq(presented.trim(), expected) {
        let mut response = ApiError {
            status: StatusCode::UNAUTHORIZED,
            error: "unauthorized",
            message: "missing or wrong admin token (Authorization: Bearer $WEGATE_ADMIN_TOKEN)".into(),
        }
        .into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        return response;
    }
    request.extensions_mut().insert(Actor::api());
    next.run(request).await
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(ListQuery), responses((status = 200, description = "Sign-in and admin events, newest first", body = List<AuditEvent>)))]
pub async fn list_audit(State(app): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<List<AuditEvent>>> {
    let page = app.store.list_audit(q.limit()?, q.cursor.as_deref()).await?;
    Ok(Json(List { items: page.items, next: page.next }))
}
