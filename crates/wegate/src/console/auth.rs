//! Signing in to the console: through wegate's own login page as the built-in app `console` (PKCE, the code
//! redeemed here), or with the admin token; and signing out (the console's session is wegate's).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{CONSOLE_CLIENT_ID, TOKEN_COOKIE, admin, check_csrf, page};
use crate::app::AppState;
use crate::store::Consumed;
use crate::util::{random_alnum, random_token, secure_eq, sha256_b64url, sha256_hex};
use crate::web::cookies;
use crate::web::i18n::Lang;

/// The PKCE verifier and state of a console sign-in under way.
const PENDING: &str = "wegate_console_pending";

pub async fn login_page(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    if admin(&app, &headers).await.is_ok() {
        return Redirect::to("/console").into_response();
    }
    let lang = Lang::pick(None, &headers);
    page(
        lang,
        StatusCode::OK,
        "console/login.html",
        minijinja::context! { here => "/console/login", error => q.error, token_enabled => app.settings.admin_token.is_some() },
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
    let fail = |why: &str| Redirect::to(&format!("/console/login?error={}", urlencode(why))).into_response();
    if let Some(error) = q.error {
        return fail(&error);
    }
    let Some((state, verifier)) = cookies::get(&headers, PENDING).and_then(|p| p.split_once('.')) else {
        return fail("the sign-in expired; start again");
    };
    if !q.state.as_deref().is_some_and(|s| secure_eq(s, state)) {
        return fail("state mismatch; start again");
    }
    let code = q.code.unwrap_or_default();
    let record = match app.store.consume_auth_code(&sha256_hex(&code), CONSOLE_CLIENT_ID, app.now()).await {
        Ok(Consumed::Fresh(record)) => record,
        Ok(_) => return fail("the code was invalid or already used; start again"),
        Err(e) => return crate::web::error::PageError::internal(lang, &e).into_response(),
    };
    let pkce = record.code_challenge.as_deref().is_some_and(|c| crate::oidc::tokens::pkce_matches(verifier, c));
    if !pkce || record.redirect_uri != app.url("/console/callback") {
        return fail("the sign-in could not be verified; start again");
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

/// The admin token opens the console too (for the first admin, before any user has `admin`).
pub async fn token_login(State(app): State<AppState>, Form(form): Form<TokenForm>) -> Response {
    let Some(expected) = app.settings.admin_token.as_deref() else {
        return Redirect::to("/console/login?error=no%20admin%20token%20is%20set").into_response();
    };
    if !secure_eq(form.token.trim(), expected) {
        crate::audit::Audit::new("console.token_refused").write(&app).await;
        return Redirect::to("/console/login?error=wrong%20admin%20token").into_response();
    }
    let mut response = Redirect::to("/console").into_response();
    let value = sha256_hex(expected);
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
    if let Some(cookie) = cookies::get(&headers, cookies::SESSION)
        && let Err(e) = app.store.delete_session(&sha256_hex(cookie)).await
    {
        tracing::warn!(error = %e, "console sign-out: could not delete the session");
    }
    let secure = app.settings.secure_cookies();
    let mut response = Redirect::to("/console/login").into_response();
    for name in [cookies::SESSION, TOKEN_COOKIE] {
        response.headers_mut().append(header::SET_COOKIE, cookies::set(name, "", Some(0), secure));
    }
    response
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
