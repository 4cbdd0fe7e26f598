//! `/console`: the admin console (CONTRACT.md, "Console"), server-rendered, in Chinese and English.
//!
//! Who enters: a user with `admin: true` whose wegate session enters the built-in app `console` under the
//! session rules (`login::sso`: a password session, or one that a connection `console` enables admits),
//! or whoever holds `WEGATE_ADMIN_TOKEN`. The console's session is wegate's own sign-in session; signing
//! out ends it.
//!
//! Every change goes through the admin API's own handlers (`crate::api`), so the console validates and
//! stores exactly as the API does, and each shows what the other changed. Forms post with a CSRF token
//! bound to the session cookie; pages carry no inline script or style (the CSP stays strict); the only
//! script is `/static/console.js` (copy buttons).

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::app::{App, AppState};
use crate::store::{App as Client, AppKind};
use crate::util::{secure_eq, sha256_hex};
use crate::web::cookies;
use crate::web::i18n::Lang;

mod auth;
mod pages;
mod text;

/// The built-in app the console signs in through.
pub const CONSOLE_CLIENT_ID: &str = "console";
/// The cookie of a console session opened with the admin token: a random value, stored hashed as a
/// session of [`TOKEN_SESSION_USER`] (no user has that id: ids are never made with `@`).
const TOKEN_COOKIE: &str = "wegate_console_token";
const TOKEN_SESSION_USER: &str = "@admin-token";
const TOKEN_SESSION_AMR: &str = "admin_token";

/// What a token session remembers of the admin token, so that changing the token ends it.
fn token_fingerprint(token: &str) -> String {
    sha256_hex(&format!("wegate console admin token|{token}"))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::dashboard))
        .route("/console/login", get(auth::login_page))
        .route("/console/signin", get(auth::signin))
        .route("/console/callback", get(auth::callback))
        .route("/console/token", post(auth::token_login))
        .route("/console/logout", post(auth::logout))
        .route("/console/apps", get(pages::apps).post(pages::create_app))
        .route("/console/apps/{client_id}", get(pages::app_detail).post(pages::update_app))
        .route("/console/apps/{client_id}/rotate", post(pages::rotate_secret))
        .route("/console/apps/{client_id}/delete", post(pages::delete_app))
        .route("/console/apps/{client_id}/connections", post(pages::app_connection))
        .route("/console/connections", get(pages::connections).post(pages::create_connection))
        .route("/console/connections/{identifier}", get(pages::connection_detail).post(pages::update_connection))
        .route("/console/connections/{identifier}/delete", post(pages::delete_connection))
        .route("/console/connections/{identifier}/test", post(pages::test_connection))
        .route("/console/users", get(pages::users).post(pages::create_user))
        .route("/console/users/{id}", get(pages::user_detail))
        .route("/console/users/{id}/{action}", post(pages::user_action))
        .route("/console/audit", get(pages::audit))
        .route("/static/console.js", get(script))
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/console.js"),
    )
        .into_response()
}

/// Creates the built-in console app once (any instance may; a second create finds it).
pub async fn ensure_console_app(app: &App) {
    if let Ok(Some(_)) = app.store.get_app(CONSOLE_CLIENT_ID).await {
        return;
    }
    let now = app.now();
    let console = Client {
        client_id: CONSOLE_CLIENT_ID.into(),
        name: "wegate console".into(),
        kind: AppKind::Spa,
        client_secret_hash: None,
        redirect_uris: vec![app.url("/console/callback")],
        post_logout_redirect_uris: vec![app.url("/console/login")],
        backchannel_logout_uri: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = app.store.create_app(console).await
        && !matches!(e, crate::store::StoreError::Conflict(_))
    {
        tracing::warn!(error = %e, "could not create the console's app");
    }
}

/// Who is using the console.
pub struct Admin {
    /// The user's id, or `admin token`.
    pub who: String,
    /// Bound to the cookie that proved it: every form carries it.
    pub csrf: String,
    pub lang: Lang,
    /// Who the audit names for the changes this visitor makes.
    pub actor: crate::api::Actor,
}

/// The console's visitor, or the answer for one who may not enter: the login page, or 403 for a signed-in
/// user who is not an admin.
pub async fn admin(app: &App, headers: &HeaderMap) -> Result<Admin, Response> {
    let lang = Lang::pick(None, headers);
    if let (Some(expected), Some(given)) = (app.settings.admin_token.as_deref(), cookies::get(headers, TOKEN_COOKIE))
        && let Ok(Some(session)) = app.store.get_session(&sha256_hex(given), app.now()).await
        && session.user_id == TOKEN_SESSION_USER
        && session.subject.as_deref().is_some_and(|s| secure_eq(s, &token_fingerprint(expected)))
    {
        let actor = crate::api::Actor("console:token".into());
        return Ok(Admin { who: "admin token".into(), csrf: csrf_of(given), lang, actor });
    }
    if let Some(cookie) = cookies::get(headers, cookies::SESSION)
        && let Ok(Some(session)) = app.store.get_session(&sha256_hex(cookie), app.now()).await
        && let Ok(Some(user)) = app.store.get_user(&session.user_id).await
    {
        // The console is the app `console`: a session enters it only as `/authorize` would let it enter
        // that app (a password session, or one a connection `console` enables admits now) — never merely
        // because it is a wegate session of someone with `admin`.
        let connections = match app.store.app_connections(CONSOLE_CLIENT_ID).await {
            Ok(connections) => connections,
            Err(e) => return Err(crate::web::error::PageError::internal(lang, &e).into_response()),
        };
        match crate::login::sso::admits(app, &session, &connections, None, lang).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Redirect::to("/console/login").into_response()),
            Err(e) => return Err(e.into_response()),
        }
        if user.admin && !user.disabled {
            let actor = crate::api::Actor(format!("console:user:{}", user.id));
            return Ok(Admin { who: user.id, csrf: csrf_of(cookie), lang, actor });
        }
        return Err(page(
            lang,
            StatusCode::FORBIDDEN,
            "console/denied.html",
            minijinja::context! { user => user.name.or(user.username).unwrap_or(user.id) },
            None,
        ));
    }
    Err(Redirect::to("/console/login").into_response())
}

fn csrf_of(cookie: &str) -> String {
    sha256_hex(&format!("console-csrf|{cookie}"))
}

/// A form's CSRF token must be the one of the visitor's cookie.
pub fn check_csrf(admin: &Admin, form: &[(String, String)]) -> Result<(), Response> {
    let given = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    if secure_eq(given, &admin.csrf) {
        Ok(())
    } else {
        Err((StatusCode::FORBIDDEN, "the form expired: reload the page and try again").into_response())
    }
}

/// A console page: the template with the console's strings (`c`), the visitor's CSRF token and the
/// language switch.
pub fn page(lang: Lang, status: StatusCode, template: &str, ctx: minijinja::Value, admin: Option<&Admin>) -> Response {
    let here = ctx.get_attr("here").ok().and_then(|h| h.as_str().map(String::from)).unwrap_or("/console".into());
    let ctx = minijinja::context! {
        c => text::strings(lang),
        csrf => admin.map(|a| a.csrf.clone()),
        who => admin.map(|a| a.who.clone()),
        here => here,
        ..ctx
    };
    match crate::web::templates::render(template, lang, ctx) {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => crate::web::error::PageError::internal(lang, &e).into_response(),
    }
}

/// The form's fields as one flat JSON object, named as in the admin API: empty fields left out (a PATCH
/// keeps them), `true`/`false` checkboxes as booleans, lines of a textarea as a list for list fields.
pub fn form_json(form: &[(String, String)], lists: &[&str], flags: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for flag in flags {
        let on = form.iter().any(|(k, v)| k == flag && (v == "on" || v == "true"));
        map.insert((*flag).into(), Value::Bool(on));
    }
    for (key, value) in form {
        if key == "csrf" || flags.contains(&key.as_str()) {
            continue;
        }
        let value = value.trim();
        if lists.contains(&key.as_str()) {
            let items: Vec<Value> =
                value.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Value::String(l.into())).collect();
            map.insert(key.clone(), Value::Array(items));
        } else if !value.is_empty() {
            map.insert(key.clone(), Value::String(value.into()));
        }
    }
    Value::Object(map)
}

/// Sends the visitor on with a notice (`?ok=` or `?error=`), the API's message shown on the next page.
pub fn back(admin: &Admin, to: &str, outcome: Result<&str, &str>) -> Response {
    let (key, text) = match outcome {
        Ok(t) => ("ok", t),
        Err(t) => ("error", t),
    };
    let sep = if to.contains('?') { '&' } else { '?' };
    let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let sig = notice_sig(admin, key, text);
    // `to` carries ids from the request's path: one that is no header value goes to the overview instead.
    let location = format!("{to}{sep}{key}={encoded}&sig={sig}");
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => Redirect::to("/console").into_response(),
    }
}

/// A notice's signature: bound to the visitor's session (its CSRF secret), so only this console's own
/// redirects show words on its pages — never a link's.
fn notice_sig(admin: &Admin, key: &str, text: &str) -> String {
    sha256_hex(&format!("console-notice|{}|{key}|{text}", admin.csrf))
}

/// Whether `sig` signs this notice for this visitor.
pub fn notice_signed(admin: &Admin, key: &str, text: &str, sig: &str) -> bool {
    secure_eq(sig, &notice_sig(admin, key, text))
}

pub fn state_of(app: &AppState) -> axum::extract::State<AppState> {
    axum::extract::State(app.clone())
}
