//! `/userinfo` (OIDC Core §5.3): the standard claims of the user for the access token's scope.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use super::tokens::{AccessClaims, user_claims};
use crate::app::{App, AppState};
use crate::store::User;

pub async fn userinfo_get(State(app): State<AppState>, headers: HeaderMap) -> Response {
    respond(userinfo(&app, &headers, None).await)
}

pub async fn userinfo_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let body_token = form.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v);
    respond(userinfo(&app, &headers, body_token).await)
}

fn respond(result: Result<serde_json::Value, OAuthError>) -> Response {
    match result {
        Ok(claims) => Json(claims).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Verifies a bearer access token we issued, that it is not revoked, and that its user still exists and is
/// not disabled (a deleted or disabled person's tokens are inactive whatever else was revoked).
pub async fn verify_access_token(app: &App, token: &str) -> Result<(AccessClaims, User), OAuthError> {
    let now = app.now();
    let claims: AccessClaims = app
        .keys
        .verify_fresh(app.store.as_ref(), now, token, &app.settings.issuer, Some("at+jwt"), Some(now))
        .await
        .ok_or_else(|| OAuthError::invalid_token("the access token is invalid or expired"))?;
    if app.store.is_access_token_revoked(&claims.jti).await? || app.store.is_grant_revoked(&claims.gid).await? {
        return Err(OAuthError::invalid_token("the access token was revoked"));
    }
    match app.store.get_user(&claims.sub).await? {
        Some(user) if !user.disabled => Ok((claims, user)),
        Some(_) => Err(OAuthError::invalid_token("the account is disabled")),
        None => Err(OAuthError::invalid_token("the user no longer exists")),
    }
}

async fn userinfo(app: &App, headers: &HeaderMap, body_token: Option<String>) -> Result<serde_json::Value, OAuthError> {
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    let token = match (header_token, body_token) {
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("send the access token once")),
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(OAuthError::invalid_token("an access token is required")),
    };
    let (claims, user) = verify_access_token(app, &token).await?;
    if !super::tokens::has_scope(&claims.scope, "openid") {
        return Err(OAuthError::invalid_token("the access token lacks the openid scope"));
    }
    Ok(serde_json::Value::Object(user_claims(&user, &claims.scope)))
}
