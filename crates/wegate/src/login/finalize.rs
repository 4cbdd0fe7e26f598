//! The end of every browser login, whatever signed the person in (WeCom, password, single sign-on):
//! a browser session, an authorization code, and the redirect back to the app with `code`, `state` and
//! `iss` (RFC 9207). Also the way back to the app for a login that failed.

use axum::http::header;
use axum::response::Response;

use super::outcome::Failure;
use crate::app::App;
use crate::audit::Audit;
use crate::oidc::redirect::{error_redirect, redirect, with_params};
use crate::store::{AuthCode, LoginTx, Session};
use crate::util::{random_alnum, random_token, sha256_hex};
use crate::web::cookies;
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::Lang;

/// The URL a failed login's page links back to: an OAuth error for the app.
pub fn back_to_app(app: &App, tx: &LoginTx, error: &str, description: &str) -> String {
    error_redirect(app, &tx.redirect_uri, tx.state.as_deref(), error, description).location
}

/// Finishes a login for `user_id`: starts (or reuses) the browser session, issues the code, redirects.
/// `amr` names how the person authenticated (`pwd`, a connection kind, or `sso` for an existing session).
pub async fn complete_login(
    app: &App,
    tx: LoginTx,
    user_id: &str,
    amr: &str,
    existing_session: Option<Session>,
    lang: Lang,
) -> Result<Response, PageError> {
    let now = app.now();
    let mut set_cookie = None;
    let session = match existing_session {
        Some(session) => session,
        None => {
            let cookie_value = random_token();
            let session = Session {
                id_hash: sha256_hex(&cookie_value),
                user_id: user_id.to_string(),
                auth_time: now,
                amr: amr.to_string(),
                created_at: now,
                expires_at: now + app.settings.session_ttl,
            };
            app.store.put_session(session.clone()).await.or_page(lang)?;
            set_cookie = Some(cookies::set(
                cookies::SESSION,
                &cookie_value,
                Some(app.settings.session_ttl),
                app.settings.secure_cookies(),
            ));
            session
        }
    };

    let code = random_token();
    app.store
        .put_auth_code(AuthCode {
            code_hash: sha256_hex(&code),
            grant_id: random_alnum(24),
            client_id: tx.client_id.clone(),
            user_id: user_id.to_string(),
            redirect_uri: tx.redirect_uri.clone(),
            scope: tx.scope.clone(),
            nonce: tx.nonce.clone(),
            code_challenge: tx.code_challenge.clone(),
            code_challenge_method: tx.code_challenge_method.clone(),
            session_id: Some(session.id_hash.clone()),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            created_at: now,
            expires_at: now + app.settings.code_ttl,
        })
        .await
        .or_page(lang)?;

    let connection = tx.connection.clone().unwrap_or_else(|| amr.to_string());
    app.metrics.login(&tx.client_id, &connection, "success");
    Audit::new("login.success").client(&tx.client_id).connection(&connection).user(user_id).write(app).await;

    let mut params = vec![("code", code.as_str())];
    if let Some(state) = tx.state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", &app.settings.issuer));
    let mut response = redirect(&with_params(&tx.redirect_uri, &params));
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Ends a login that failed: counted, audited, logged with a reference, and shown as a page that says
/// what went wrong and links back to the app with the outcome's OAuth error.
pub async fn fail(
    app: &App,
    tx: &LoginTx,
    connection: &str,
    failure: &Failure,
    upstream: Option<&str>,
    lang: Lang,
) -> PageError {
    let row = failure.outcome.row();
    let reference = random_alnum(10);
    tracing::warn!(
        reference = %reference,
        connection,
        client_id = %tx.client_id,
        upstream,
        outcome = row.metric,
        error = %failure.detail,
        "sign-in failed"
    );
    app.metrics.login(&tx.client_id, connection, row.metric);
    let mut entry = Audit::new("login.failure").client(&tx.client_id).connection(connection);
    if let Some(upstream) = upstream {
        entry = entry.upstream(upstream);
    }
    entry.reason(&failure.audit_reason()).write(app).await;
    failure.page(lang, back_to_app(app, tx, row.redirect_error, row.metric), Some(reference))
}
