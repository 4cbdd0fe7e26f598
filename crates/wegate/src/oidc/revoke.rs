//! `/revoke` (RFC 7009). Revoking a refresh token revokes its whole grant, access tokens included;
//! revoking an access token revokes that token. Unknown tokens answer 200 as the RFC requires.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::{FormParams, authenticate};
use super::error::OAuthError;
use super::tokens::{AccessClaims, grant_horizon};
use crate::app::{App, AppState};
use crate::util::sha256_hex;

pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match run(&app, &headers, pairs).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(app: &App, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Result<(), OAuthError> {
    let form = FormParams::parse(pairs)?;
    let client = authenticate(app, headers, &form).await?;
    let token = form.require("token")?;
    if let Some(hint) = form.get("token_type_hint")
        && hint != "access_token"
        && hint != "refresh_token"
    {
        return Err(OAuthError::unsupported_token_type(format!("token_type_hint {hint} is not supported")));
    }
    let now = app.now();
    if token.matches('.').count() == 2 {
        // Expired tokens need no revocation; verify with expiry so we only store what matters.
        if let Some(claims) = app
            .keys
            .verify_fresh::<AccessClaims>(
                app.store.as_ref(),
                now,
                token,
                &app.settings.issuer,
                Some("at+jwt"),
                Some(now),
            )
            .await
            && claims.client_id == client.client_id
        {
            app.store.revoke_access_token(&claims.jti, claims.exp).await?;
        }
        return Ok(());
    }
    if let Some(record) = app.store.get_refresh_token(&sha256_hex(token), now).await?
        && record.client_id == client.client_id
    {
        app.store.revoke_grant(&record.grant_id, now, grant_horizon(app, now)).await?;
    }
    Ok(())
}
