//! Hosted pages: the login page (a button per connection, and local password sign-in), the pages of a
//! login in progress (`/login/{tx}/...`), static assets, and the security headers of every page.

pub mod cookies;
pub mod error;
pub mod i18n;
pub mod templates;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::accounts::PasswordCheck;
use crate::app::AppState;
use crate::oidc::finalize::complete_login;
use crate::store::{App, Connection, LoginTx};
use crate::util::sha256_hex;
use error::PageError;
use i18n::Lang;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/wegate.css", get(stylesheet))
        .route("/login/{tx}", get(show_login))
        .route("/login/{tx}/password", post(password_login))
        .route("/login/{tx}/connection/{identifier}", get(start_connection))
}

/// Strict headers for every page: no inline script or style, no framing, no referrer leaks.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn home(headers: HeaderMap) -> Response {
    let lang = Lang::pick(None, &headers);
    match templates::render("home.html", lang, minijinja::context! {}) {
        Ok(body) => Html(body).into_response(),
        Err(e) => PageError::internal(lang, &e).into_response(),
    }
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/wegate.css"),
    )
        .into_response()
}

/// The hosted login page of a transaction.
pub fn login_page(
    app: &AppState,
    tx: &LoginTx,
    client: &App,
    connections: &[Connection],
    lang: Lang,
    error: Option<&str>,
    login: &str,
) -> Result<Response, PageError> {
    let buttons: Vec<_> = connections
        .iter()
        .filter(|c| crate::connectors::has_browser_login(&c.kind))
        .map(|c| {
            minijinja::context! {
                display_name => c.display_name.clone(),
                href => format!("/login/{}/connection/{}", tx.id, c.identifier),
            }
        })
        .collect();
    let ctx = minijinja::context! {
        app_name => client.name.clone(),
        connections => buttons,
        show_password => true,
        password_action => format!("/login/{}/password", tx.id),
        error => error,
        login => login,
    };
    let body = templates::render("login.html", lang, ctx).map_err(|e| PageError::internal(lang, &e))?;
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let _ = app;
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Loads a transaction for a browser step, refusing expired ones and ones started in another browser.
pub async fn load_tx(app: &AppState, headers: &HeaderMap, tx_id: &str, lang: Lang) -> Result<LoginTx, PageError> {
    let zh = lang == Lang::Zh;
    let expired = || {
        PageError::bad_request(
            lang,
            if zh { "此登录已过期或已完成。" } else { "This sign-in has expired or was already completed." },
        )
        .with_hint(if zh { "请回到应用重新登录。" } else { "Go back to the app and sign in again." })
    };
    let tx = app.store.get_login_tx(tx_id, app.now()).await?.ok_or_else(expired)?;
    check_browser(headers, &tx, lang)?;
    Ok(tx)
}

/// The browser finishing a login must be the one that started it (login CSRF protection).
pub fn check_browser(headers: &HeaderMap, tx: &LoginTx, lang: Lang) -> Result<(), PageError> {
    let ok = cookies::get(headers, cookies::BROWSER)
        .is_some_and(|value| crate::util::secure_eq(&sha256_hex(value), &tx.browser_hash));
    if ok {
        return Ok(());
    }
    tracing::warn!(client_id = %tx.client_id, "login step from a browser other than the one that started it");
    let zh = lang == Lang::Zh;
    Err(PageError::bad_request(
        lang,
        if zh {
            "此登录是在另一个浏览器中开始的。"
        } else {
            "This sign-in was started in a different browser (or its cookies were cleared)."
        },
    )
    .with_hint(if zh {
        "请在同一个浏览器中从应用重新开始登录，并允许 Cookie。"
    } else {
        "Start the sign-in again from the app in this browser, with cookies allowed."
    }))
}

async fn show_login(State(app): State<AppState>, headers: HeaderMap, Path(tx_id): Path<String>) -> Response {
    let lang = Lang::pick(None, &headers);
    let result = async {
        let tx = load_tx(&app, &headers, &tx_id, lang).await?;
        let lang = Lang::pick(tx.ui_locales.as_deref(), &headers);
        let client = app
            .store
            .get_app(&tx.client_id)
            .await?
            .ok_or_else(|| PageError::bad_request(lang, "The app was removed."))?;
        let connections = app.store.app_connections(&client.client_id).await?;
        login_page(&app, &tx, &client, &connections, lang, None, "")
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub login: String,
    pub password: String,
}

async fn password_login(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(tx_id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let lang = Lang::pick(None, &headers);
    let result = async {
        let tx = load_tx(&app, &headers, &tx_id, lang).await?;
        let lang = Lang::pick(tx.ui_locales.as_deref(), &headers);
        let client = app
            .store
            .get_app(&tx.client_id)
            .await?
            .ok_or_else(|| PageError::bad_request(lang, "The app was removed."))?;
        let (reason, message) = match crate::accounts::verify_password(&app, &form.login, &form.password).await? {
            PasswordCheck::Valid(user) => {
                let tx = app
                    .store
                    .take_login_tx(&tx.id, app.now())
                    .await?
                    .ok_or_else(|| PageError::bad_request(lang, "This sign-in was already completed."))?;
                return complete_login(&app, tx, &user.id, "pwd", None, lang).await;
            }
            PasswordCheck::Invalid => ("bad_password", lang.t("bad_password").to_string()),
            PasswordCheck::LockedOut { retry_after } => ("locked_out", locked_out_message(lang, retry_after)),
        };
        let locked_out = reason == "locked_out";
        app.metrics.login(&tx.client_id, "password", reason);
        crate::oidc::finalize::audit(
            &app,
            "login.failure",
            Some(&tx.client_id),
            Some("password"),
            None,
            None,
            Some(if locked_out { "too many failed attempts" } else { "wrong account or password" }),
        )
        .await;
        let connections = app.store.app_connections(&client.client_id).await?;
        let mut page = login_page(&app, &tx, &client, &connections, lang, Some(&message), &form.login)?;
        if locked_out {
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        }
        Ok(page)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// "Too many failed attempts ... wait N minutes", N rounded up.
pub fn locked_out_message(lang: Lang, retry_after: i64) -> String {
    let minutes = (retry_after.max(1) + 59) / 60;
    lang.t("locked_out").replace("{minutes}", &minutes.to_string())
}

async fn start_connection(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((tx_id, identifier)): Path<(String, String)>,
) -> Response {
    let lang = Lang::pick(None, &headers);
    let result = async {
        let mut tx = load_tx(&app, &headers, &tx_id, lang).await?;
        let lang = Lang::pick(tx.ui_locales.as_deref(), &headers);
        let connections = app.store.app_connections(&tx.client_id).await?;
        let Some(connection) = connections.into_iter().find(|c| c.identifier == identifier) else {
            return Err(PageError::bad_request(
                lang,
                if lang == Lang::Zh {
                    "此登录方式未对该应用启用。"
                } else {
                    "This sign-in method is not enabled for this app."
                },
            ));
        };
        tx.connection = Some(connection.identifier.clone());
        app.store.update_login_tx(&tx).await?;
        crate::connectors::start_login(&app, &tx, &connection, lang).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
