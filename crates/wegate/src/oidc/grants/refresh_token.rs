//! `grant_type=refresh_token` (RFC 6749 §6). Tokens rotate on every use; presenting a used one means it
//! leaked, so the whole family (grant) is revoked (OAuth 2.0 Security BCP §4.14.2).

use axum::http::HeaderMap;

use crate::app::App;
use crate::audit::Audit;
use crate::oidc::client_auth::{FormParams, authenticate};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens::{Issue, TokenResponse, grant_horizon, has_scope, issue};
use crate::store::Consumed;
use crate::util::sha256_hex;

pub async fn grant(app: &App, headers: &HeaderMap, form: &FormParams) -> Result<TokenResponse, OAuthError> {
    let client = authenticate(app, headers, form).await?;
    let presented = form.require("refresh_token")?;
    let now = app.now();
    let record = match app.store.consume_refresh_token(&sha256_hex(presented), now).await? {
        Consumed::Fresh(record) => record,
        Consumed::Replayed(record) => {
            app.store.revoke_grant(&record.grant_id, now, grant_horizon(app, now)).await?;
            tracing::warn!(client_id = %record.client_id, "refresh token reused; the token family is revoked");
            Audit::new("token.refresh_reuse")
                .client(&record.client_id)
                .user(&record.user_id)
                .reason("refresh token used twice; family revoked")
                .write(app)
                .await;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; all tokens of this sign-in are revoked",
            ));
        }
        Consumed::NotFound => {
            return Err(OAuthError::invalid_grant("the refresh token is invalid, expired or revoked"));
        }
    };
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    // A narrower scope may be asked for (RFC 6749 §6); never a wider one.
    let scope = match form.get("scope") {
        None => record.scope.clone(),
        Some(requested) => {
            if let Some(extra) = requested.split_whitespace().find(|s| !has_scope(&record.scope, s)) {
                return Err(OAuthError::invalid_scope(format!("scope {extra} was not granted")));
            }
            let mut narrowed: Vec<&str> = requested.split_whitespace().collect();
            // Keep the family alive: a rotated token must still be able to refresh.
            if !narrowed.contains(&"offline_access") {
                narrowed.push("offline_access");
            }
            narrowed.join(" ")
        }
    };
    let Some(user) = app.store.get_user(&record.user_id).await? else {
        return Err(OAuthError::invalid_grant("the user no longer exists"));
    };
    issue(
        app,
        Issue {
            client_id: &client.client_id,
            user: &user,
            scope: &scope,
            nonce: None,
            auth_time: record.auth_time,
            amr: &record.amr,
            session_id: record.session_id.as_deref(),
            grant_id: &record.grant_id,
        },
    )
    .await
}
