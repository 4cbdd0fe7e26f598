//! What every hosted page shares: templates, the message catalogue and language choice, cookies, the
//! error page, security headers, the stylesheet and the home page. Knows nothing of logins or OAuth.

pub mod cookies;
pub mod error;
pub mod i18n;
pub mod templates;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use error::PageError;
use i18n::Lang;

/// The policy of every page: no inline script or style, scripts from wegate only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The same policy, allowing one more script by its exact URL (a workplace app's JSAPI on the in-client page).
/// None when the URL could break out of the policy (the settings refuse such URLs).
pub fn csp_with_script(url: &str) -> Option<HeaderValue> {
    if url.contains([';', ',', ' ', '\'', '"']) || !url.is_ascii() {
        return None;
    }
    HeaderValue::from_str(&CSP.replace("script-src 'self';", &format!("script-src 'self' {url};"))).ok()
}

/// Strict headers for every page: no inline script or style, no framing, no referrer leaks. A page that set
/// its own (stricter-or-equal) policy keeps it.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

pub async fn home(headers: HeaderMap) -> Response {
    let lang = Lang::pick(None, &headers);
    match templates::render("home.html", lang, minijinja::context! { here => "/" }) {
        Ok(body) => Html(body).into_response(),
        Err(e) => PageError::internal(lang, &e).into_response(),
    }
}

/// The in-client sign-in page's script (`templates/client_code.html`).
pub async fn client_code_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/client-code.js"),
    )
        .into_response()
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/wegate.css"),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct LanguageChoice {
    lang: String,
    /// The page to go back to: a path on this server only.
    #[serde(default, rename = "return")]
    return_to: Option<String>,
}

/// `GET /language?lang=zh&return=/login/…`: remembers the language in a cookie and goes back.
pub async fn switch_language(State(app): State<AppState>, Query(choice): Query<LanguageChoice>) -> Response {
    let Some(lang) = Lang::from_tag(&choice.lang) else {
        return (StatusCode::BAD_REQUEST, "lang must be en or zh").into_response();
    };
    // Only a local path: never an open redirect.
    let back = choice.return_to.as_deref().and_then(crate::util::local_path).unwrap_or("/");
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(back) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    let tag = lang.short();
    let cookie = cookies::set(cookies::LANGUAGE, tag, Some(365 * 24 * 3600), app.settings.secure_cookies());
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}
