//! The end of every browser login, whatever signed the person in (WeCom, password, single sign-on):
//! a browser session, an authorization code, and the redirect back to the app with `code`, `state` and
//! `iss` (RFC 9207). Also the way back to the app for a login that failed.

use axum::http::header;
use axum::response::Response;

use super::outcome::Failure;
use super::sso::Admission;
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::audit::Audit;
use crate::oidc::redirect::{error_redirect, redirect, with_params};
use crate::oidc::tokens::origin_horizon;
use crate::store::{AuthCode, Connection, GrantOrigin, GrantStart, LoginTx, Session};
use crate::util::{random_alnum, random_token, sha256_hex};
use crate::web::cookies;
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::Lang;

/// The URL a failed login's page links back to: an OAuth error for the app.
pub fn back_to_app(app: &App, tx: &LoginTx, error: &str, description: &str) -> String {
    error_redirect(app, &tx.redirect_uri, tx.state.as_deref(), error, description).location
}

/// Who signed in, and how: what a new browser session remembers.
pub struct SignedIn<'a> {
    pub user_id: &'a str,
    /// `pwd` or the connection's kind.
    pub amr: &'a str,
    /// The connection and the upstream identity; None for a password sign-in.
    pub via: Option<(&'a Connection, &'a UpstreamIdentity)>,
}

impl<'a> SignedIn<'a> {
    pub fn password(user_id: &'a str) -> SignedIn<'a> {
        SignedIn { user_id, amr: "pwd", via: None }
    }

    pub fn upstream(user_id: &'a str, connection: &'a Connection, identity: &'a UpstreamIdentity) -> SignedIn<'a> {
        SignedIn { user_id, amr: connection.kind(), via: Some((connection, identity)) }
    }
}

/// Finishes a fresh sign-in: a new browser session (cookie), the code, the redirect to the app.
pub async fn complete_login(
    app: &App,
    tx: LoginTx,
    signed_in: SignedIn<'_>,
    lang: Lang,
) -> Result<Response, PageError> {
    let now = app.now();
    let cookie_value = random_token();
    let session = Session {
        id_hash: sha256_hex(&cookie_value),
        sid: random_alnum(22),
        user_id: signed_in.user_id.to_string(),
        auth_time: now,
        amr: signed_in.amr.to_string(),
        connection: signed_in.via.map(|(c, _)| c.identifier.clone()),
        upstream: signed_in.via.map(|(_, i)| i.upstream.clone()),
        subject: signed_in.via.map(|(_, i)| i.subject.clone()),
        created_at: now,
        expires_at: now + app.settings.session_ttl,
    };
    let cookie =
        cookies::set(cookies::SESSION, &cookie_value, Some(app.settings.session_ttl), app.settings.secure_cookies());
    let admitted_by = signed_in.via.map(|(c, _)| c.identifier.clone());
    let mut response = code_and_redirect(app, tx, &session, admitted_by, Fresh::Yes, signed_in.amr, lang).await?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Finishes a login from the browser's existing session (single sign-on, decided by `login::sso`). The
/// grant records the connection that admitted the person into this app, which may not be the session's:
/// its refresh re-check asks that connection's WeCom app (whose visible scope is the app's own).
pub async fn complete_from_session(
    app: &App,
    tx: LoginTx,
    session: &Session,
    admission: &Admission,
    lang: Lang,
) -> Result<Response, PageError> {
    let admitted_by = admission.connection().map(String::from);
    code_and_redirect(app, tx, session, admitted_by, Fresh::No, "sso", lang).await
}

/// Whether the session was made by this login (and is written with its grant) or existed already.
#[derive(PartialEq)]
enum Fresh {
    Yes,
    No,
}

/// The authorization code of `session` for the transaction's app, and the redirect carrying it. The
/// grant, a fresh session and the audit entry are one store call (`GrantStart`).
async fn code_and_redirect(
    app: &App,
    tx: LoginTx,
    session: &Session,
    admitted_by: Option<String>,
    fresh: Fresh,
    how: &str,
    lang: Lang,
) -> Result<Response, PageError> {
    let now = app.now();
    let user_id = session.user_id.as_str();
    let code = random_token();
    let grant_id = random_alnum(24);
    // Where this grant came from: a refresh re-checks the member there, a departure finds the grant here.
    let origin = GrantOrigin {
        grant_id: grant_id.clone(),
        user_id: user_id.to_string(),
        client_id: tx.client_id.clone(),
        sid: Some(session.sid.clone()).filter(|sid| !sid.is_empty()),
        upstream: admitted_by.as_ref().and(session.upstream.clone()),
        subject: admitted_by.as_ref().and(session.subject.clone()),
        connection: admitted_by,
        checked_at: session.auth_time,
        created_at: now,
        expires_at: origin_horizon(app, now),
    };
    let first_code = AuthCode {
        code_hash: sha256_hex(&code),
        grant_id,
        client_id: tx.client_id.clone(),
        user_id: user_id.to_string(),
        redirect_uri: tx.redirect_uri.clone(),
        scope: tx.scope.clone(),
        nonce: tx.nonce.clone(),
        code_challenge: tx.code_challenge.clone(),
        code_challenge_method: tx.code_challenge_method.clone(),
        session_id: Some(session.sid.clone()).filter(|sid| !sid.is_empty()),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        created_at: now,
        expires_at: now + app.settings.code_ttl,
    };
    let connection = tx.connection.clone().unwrap_or_else(|| how.to_string());
    let audit = Audit::new("login.success").client(&tx.client_id).connection(&connection).user(user_id).at(now);
    let session = (fresh == Fresh::Yes).then(|| session.clone());
    app.store.start_grant(GrantStart { origin, code: first_code, session, audit: Some(audit) }).await.or_page(lang)?;
    app.metrics.login(&tx.client_id, &connection, "success");

    let mut params = vec![("code", code.as_str())];
    if let Some(state) = tx.state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", &app.settings.issuer));
    Ok(redirect(&with_params(&tx.redirect_uri, &params)))
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
