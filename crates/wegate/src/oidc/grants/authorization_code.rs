//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5). A code is good once: a replay is
//! refused and revokes every token already issued from it (RFC 6749 §4.1.2).

use axum::http::HeaderMap;

use crate::app::App;
use crate::audit::Audit;
use crate::oidc::client_auth::{FormParams, authenticate};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens::{Issue, TokenResponse, grant_horizon, issue, pkce_matches};
use crate::store::Consumed;
use crate::util::sha256_hex;

pub async fn grant(app: &App, headers: &HeaderMap, form: &FormParams) -> Result<TokenResponse, OAuthError> {
    let client = authenticate(app, headers, form).await?;
    let code = form.require("code")?;
    let now = app.now();
    // The code and its user in one call: the user is read even if a check below refuses the code.
    let redeemed = app.store.redeem_auth_code(&sha256_hex(code), &client.client_id, now).await?;
    let record = match redeemed.consumed {
        Consumed::Fresh(record) => record,
        Consumed::Replayed(record) => {
            app.store.revoke_grant(&record.grant_id, now, grant_horizon(app, now)).await?;
            tracing::warn!(client_id = %record.client_id, "authorization code replayed; its tokens are revoked");
            Audit::new("token.code_replay")
                .client(&record.client_id)
                .user(&record.user_id)
                .reason("authorization code used twice; tokens revoked")
                .write(app)
                .await;
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; tokens issued from it are revoked",
            ));
        }
        // Unknown, expired, or its grant revoked (the person was signed out everywhere after it was issued).
        Consumed::NotFound => return Err(OAuthError::invalid_grant("the authorization code is invalid or expired")),
    };
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&record.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !pkce_matches(verifier, challenge) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required (PKCE)")),
        // A verifier without a challenge is a PKCE downgrade attempt.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant("code_verifier sent but the request had no code_challenge"));
        }
        (None, None) => {}
    }
    let Some(user) = redeemed.user else {
        return Err(OAuthError::invalid_grant("the user no longer exists"));
    };
    issue(
        app,
        Issue {
            client_id: &client.client_id,
            user: &user,
            scope: &record.scope,
            nonce: record.nonce.as_deref(),
            auth_time: record.auth_time,
            amr: &record.amr,
            session_id: record.session_id.as_deref(),
            grant_id: &record.grant_id,
            first: true,
        },
    )
    .await
}
