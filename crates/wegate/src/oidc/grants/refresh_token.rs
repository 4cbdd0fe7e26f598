//! `grant_type=refresh_token` (RFC 6749 §6). Tokens rotate on every use; presenting a used one means it
//! leaked, so the whole family (grant) is revoked (OAuth 2.0 Security BCP §4.14.2). A grant made through a
//! connection re-checks the person's membership upstream once `WEGATE_MEMBERSHIP_RECHECK` seconds have
//! passed since the last check: a departed member is signed out everywhere and refused; an upstream that
//! cannot be asked is forgiven for [`RECHECK_GRACE`] seconds past the due check, then refused too.

use axum::http::HeaderMap;

use crate::app::AppState;
use crate::audit::Audit;
use crate::oidc::client_auth::{FormParams, authenticate};
use crate::oidc::error::OAuthError;
use crate::oidc::token::{Membership, MembershipCheck};
use crate::oidc::tokens::{Issue, TokenResponse, grant_horizon, has_scope, issue};
use crate::store::{Consumed, GrantOrigin};
use crate::util::sha256_hex;

/// How long past a due re-check a refresh still succeeds while the upstream cannot be asked (a WeCom
/// outage must not sign a whole company out at once, but nor may it keep a departed member in for ever).
pub const RECHECK_GRACE: i64 = 24 * 3600;

pub async fn grant<M: MembershipCheck>(
    app: &AppState,
    headers: &HeaderMap,
    form: &FormParams,
) -> Result<TokenResponse, OAuthError> {
    let client = authenticate(app, headers, form).await?;
    let presented = form.require("refresh_token")?;
    let now = app.now();
    // The token, its user and its grant's origin in one call (read even if a check below refuses the token).
    let redeemed = app.store.redeem_refresh_token(&sha256_hex(presented), now).await?;
    let record = match redeemed.consumed {
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
    let Some(user) = redeemed.user else {
        return Err(OAuthError::invalid_grant("the user no longer exists"));
    };
    recheck_membership::<M>(app, redeemed.origin, &record.grant_id, &user.id, &record.amr).await?;
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
            first: false,
        },
    )
    .await
}

/// The membership re-check of a grant made through a connection (`origin`, read with the token), when one
/// is due.
async fn recheck_membership<M: MembershipCheck>(
    app: &AppState,
    origin: Option<GrantOrigin>,
    grant_id: &str,
    user_id: &str,
    amr: &str,
) -> Result<(), OAuthError> {
    let now = app.now();
    // A grant made through a connection always has its origin, naming the connection, while a token of it
    // lives: none means it was swept or never written (a version before origins), and a refresh without its
    // re-check would keep a departed member in for ever. Only a password grant has nothing to re-check.
    if amr != "pwd" && origin.as_ref().is_none_or(|o| o.connection.is_none()) {
        tracing::warn!(user_id, grant_id, "refresh refused: the grant's membership cannot be re-checked");
        return Err(OAuthError::invalid_grant(
            "this sign-in can no longer be confirmed with the organisation; sign in again",
        ));
    }
    let Some(origin) = origin else { return Ok(()) };
    // The rotated refresh token lives on: so must the origin (else the re-check would stop once it is swept).
    // Moved a day at a time, not on every refresh, and a day past the newest token, so that it always
    // outlives every token of the grant.
    let horizon = crate::oidc::tokens::grant_horizon(app, now);
    if origin.expires_at < horizon {
        app.store.extend_grant_origin(grant_id, horizon + 86_400).await?;
    }
    if origin.connection.is_none() || now - origin.checked_at < app.settings.membership_recheck {
        return Ok(());
    }
    match M::still_member(app, &origin).await {
        Membership::Present => {
            app.store.set_grant_checked(grant_id, now).await?;
            Ok(())
        }
        Membership::Gone(why) => {
            tracing::info!(user_id, why, "refresh refused: the member is gone upstream");
            crate::oidc::backchannel::departed(app, user_id, &format!("refresh re-check: {why}")).await?;
            Err(OAuthError::invalid_grant("the person is no longer a member of the organisation; sign in again"))
        }
        Membership::NotAdmitted(why) => {
            // Out of one app's visible scope is not a departure from the corp: signed out everywhere (as the
            // contract treats it), but the account stays enabled for what still admits the person.
            tracing::info!(user_id, why, "refresh refused: the connection no longer admits the member");
            crate::oidc::backchannel::end_user(app, user_id, &format!("refresh re-check: {why}")).await?;
            Err(OAuthError::invalid_grant("the organisation no longer lets this person use this app; sign in again"))
        }
        Membership::Unknown(why) if now - origin.checked_at < app.settings.membership_recheck + RECHECK_GRACE => {
            tracing::warn!(user_id, why, "membership re-check failed; refresh allowed within the grace period");
            Ok(())
        }
        Membership::Unknown(why) => {
            tracing::warn!(user_id, why, "membership could not be confirmed past the grace period; refresh refused");
            Err(OAuthError::invalid_grant("membership could not be confirmed with the organisation; sign in again"))
        }
    }
}
