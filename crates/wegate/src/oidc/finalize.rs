//! The end of every browser login, whatever signed the person in (WeCom, password, single sign-on):
//! a browser session, an authorization code, and the redirect back to the app with `code`, `state` and
//! `iss` (RFC 9207). Also the error redirect to an already verified redirect_uri.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::store::{AuditEvent, AuthCode, LoginTx, Session};
use crate::util::{random_alnum, random_token, sha256_hex};
use crate::web::cookies;
use crate::web::error::PageError;
use crate::web::i18n::Lang;

/// A 303 redirect to the app carrying an OAuth error.
pub struct ErrorRedirect {
    pub location: String,
}

impl IntoResponse for ErrorRedirect {
    fn into_response(self) -> Response {
        redirect(&self.location)
    }
}

/// `303 See Other` to `location`, uncacheable.
pub fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `redirect_uri` with the given parameters appended to its query.
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in params {
                    query.append_pair(k, v);
                }
            }
            url.to_string()
        }
        // Registered redirect URIs are validated as absolute URLs when the app is saved.
        Err(_) => redirect_uri.to_string(),
    }
}

/// The error redirect of RFC 6749 §4.1.2.1 (with `iss`, RFC 9207). Only for a verified redirect_uri.
pub fn error_redirect(
    app: &AppState,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> ErrorRedirect {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", &app.settings.issuer));
    ErrorRedirect { location: with_params(redirect_uri, &params) }
}

/// The URL a failed login's page links back to: an OAuth error for the app.
pub fn back_to_app(app: &AppState, tx: &LoginTx, error: &str, description: &str) -> String {
    error_redirect(app, &tx.redirect_uri, tx.state.as_deref(), error, description).location
}

/// Finishes a login for `user_id`: starts (or reuses) the browser session, issues the code, redirects.
/// `amr` names how the person authenticated (`pwd`, a connection kind, or `sso` for an existing session).
pub async fn complete_login(
    app: &AppState,
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
            app.store.put_session(session.clone()).await.map_err(|e| PageError::internal(lang, &e))?;
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
        .map_err(|e| PageError::internal(lang, &e))?;

    let connection = tx.connection.clone().unwrap_or_else(|| amr.to_string());
    app.metrics.login(&tx.client_id, &connection, "success");
    audit(app, "login.success", Some(&tx.client_id), Some(&connection), Some(user_id), None, None).await;

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

/// Appends to the audit log; a failure to audit is logged, never fatal to the sign-in.
pub async fn audit(
    app: &AppState,
    event: &str,
    client_id: Option<&str>,
    connection: Option<&str>,
    user_id: Option<&str>,
    upstream_subject: Option<&str>,
    reason: Option<&str>,
) {
    let entry = AuditEvent {
        id: 0,
        at: app.now(),
        event: event.to_string(),
        client_id: client_id.map(String::from),
        connection: connection.map(String::from),
        user_id: user_id.map(String::from),
        upstream_subject: upstream_subject.map(String::from),
        reason: reason.map(String::from),
    };
    if let Err(e) = app.store.append_audit(entry).await {
        tracing::error!(error = %e, event, "could not write the audit log");
    }
}
