//! Signing in to the console: through wegate's own login page as the built-in app `console` (PKCE, the code
//! redeemed here), or with the admin token; and signing out (the console's session is wegate's).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    CONSOLE_CLIENT_ID, TOKEN_COOKIE, TOKEN_SESSION_AMR, TOKEN_SESSION_USER, admin, check_csrf, page, token_fingerprint,
};
use crate::app::AppState;
use crate::store::Consumed;
use crate::util::{random_alnum, random_token, secure_eq, sha256_b64url, sha256_hex};
use crate::web::cookies;
use crate::web::i18n::Lang;

/// The failure count of wrong admin tokens at the console, its window, and how many a window audits.
const TOKEN_FAILURES: &str = "console:admin-token";
const TOKEN_FAILURE_WINDOW: i64 = 900;
const AUDITED_TOKEN_FAILURES: u32 = 10;

/// The PKCE verifier and state of a console sign-in under way.
const PENDING: &str = "wegate_console_pending";

pub async fn login_page(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    if admin(&app, &headers).await.is_ok() {
        return Redirect::to("/console").into_response();
    }
    let lang = Lang::pick(None, &headers);
    // A link decides which of our sentences is shown, never its text: `error` is a code of ours.
    let error = q.error.map(|code| {
        let strings = super::text::strings(lang);
        let key = format!("login_error_{code}");
        strings.get(key.as_str()).or_else(|| strings.get("login_error_refused")).copied().unwrap_or_default()
    });
    page(
        lang,
        StatusCode::OK,
        "console/login.html",
        minijinja::context! { here => "/console/login", error, token_enabled => app.settings.admin_token.is_some() },
        None,
    )
}

#[derive(Deserialize, Default)]
pub struct Notice {
    pub error: Option<String>,
}

/// Off to wegate's login page as the console app.
pub async fn signin(State(app): State<AppState>) -> Response {
    super::ensure_console_app(&app).await;
    let (verifier, state) = (random_token(), random_alnum(24));
    let authorize = crate::oidc::redirect::with_params(
        &app.url("/authorize"),
        &[
            ("client_id", CONSOLE_CLIENT_ID),
            ("redirect_uri", &app.url("/console/callback")),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", &state),
            ("code_challenge", &sha256_b64url(verifier.as_bytes())),
            ("code_challenge_method", "S256"),
        ],
    );
    let mut response = Redirect::to(&authorize).into_response();
    let pending = cookies::set(PENDING, &format!("{state}.{verifier}"), Some(600), app.settings.secure_cookies());
    response.headers_mut().append(header::SET_COOKIE, pending);
    response
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back from wegate's login page: the code is redeemed here (no token is needed), PKCE checked, and only an
/// admin goes on.
pub async fn callback(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Callback>) -> Response {
    let lang = Lang::pick(None, &headers);
    let fail = |code: &str| Redirect::to(&format!("/console/login?error={code}")).into_response();
    if let Some(error) = q.error {
        tracing::info!(error = %crate::util::loggable(&error), "console sign-in refused by the login");
        return fail("refused");
    }
    let Some((state, verifier)) = cookies::get(&headers, PENDING).and_then(|p| p.split_once('.')) else {
        return fail("expired");
    };
    if !q.state.as_deref().is_some_and(|s| secure_eq(s, state)) {
        return fail("unverified");
    }
    let code = q.code.unwrap_or_default();
    let record = match app.store.consume_auth_code(&sha256_hex(&code), CONSOLE_CLIENT_ID, app.now()).await {
        Ok(Consumed::Fresh(record)) => record,
        Ok(_) => return fail("expired"),
        Err(e) => return crate::web::error::PageError::internal(lang, &e).into_response(),
    };
    let pkce = record.code_challenge.as_deref().is_some_and(|c| crate::oidc::tokens::pkce_matches(verifier, c));
    if !pkce || record.redirect_uri != app.url("/console/callback") {
        return fail("unverified");
    }
    let mut response = Redirect::to("/console").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::set(PENDING, "", Some(0), app.settings.secure_cookies()));
    // A non-admin lands on /console, which answers 403 for them.
    crate::audit::Audit::new("console.signin").user(&record.user_id).write(&app).await;
    response
}

#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

/// The admin token opens the console too (for the first admin, before any user has `admin`). The cookie is
/// a random value naming a stored session (never derived from the token): signing out ends it, it expires
/// like any session, and a changed admin token ends it too.
pub async fn token_login(State(app): State<AppState>, Form(form): Form<TokenForm>) -> Response {
    let Some(expected) = app.settings.admin_token.as_deref() else {
        return Redirect::to("/console/login?error=no_token").into_response();
    };
    if !secure_eq(form.token.trim(), expected) {
        // Counted like wrong passwords (shared by all instances); only the first few of a window are audited,
        // so a flood of guesses cannot fill the audit log. (No lockout: the token is long and random, and a
        // lockout would let anyone keep the admins out.)
        let failures = app.store.record_login_failure(TOKEN_FAILURES, app.now(), TOKEN_FAILURE_WINDOW).await;
        if failures.is_ok_and(|f| f.failures <= AUDITED_TOKEN_FAILURES) {
            crate::audit::Audit::new("console.token_refused").write(&app).await;
        }
        return Redirect::to("/console/login?error=wrong_token").into_response();
    }
    let now = app.now();
    let value = random_token();
    let session = crate::store::Session {
        id_hash: sha256_hex(&value),
        sid: String::new(),
        user_id: TOKEN_SESSION_USER.into(),
        auth_time: now,
        amr: TOKEN_SESSION_AMR.into(),
        connection: None,
        upstream: None,
        subject: Some(token_fingerprint(expected)),
        created_at: now,
        expires_at: now + app.settings.session_ttl,
    };
    if let Err(e) = app.store.put_session(session).await {
        return crate::web::error::PageError::internal(Lang::En, &e).into_response();
    }
    crate::audit::Audit::new("console.signin").reason("admin token").write(&app).await;
    let mut response = Redirect::to("/console").into_response();
    let mut cookie = format!("{TOKEN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    if app.settings.secure_cookies() {
        cookie.push_str("; Secure");
    }
    if let Ok(cookie) = axum::http::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Ends the console's session and wegate's own sign-in session.
pub async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let visitor = match admin(&app, &headers).await {
        Ok(a) => a,
        Err(_) => return Redirect::to("/console/login").into_response(),
    };
    if let Err(refused) = check_csrf(&visitor, &form) {
        return refused;
    }
    for name in [cookies::SESSION, TOKEN_COOKIE] {
        if let Some(cookie) = cookies::get(&headers, name)
            && let Err(e) = app.store.delete_session(&sha256_hex(cookie)).await
        {
            tracing::warn!(error = %e, "console sign-out: could not delete the session");
        }
    }
    let secure = app.settings.secure_cookies();
    let mut response = Redirect::to("/console/login").into_response();
    for name in [cookies::SESSION, TOKEN_COOKIE] {
        response.headers_mut().append(header::SET_COOKIE, cookies::set(name, "", Some(0), secure));
    }
    response
}
