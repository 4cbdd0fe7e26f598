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
/// Everything after `script-src`.
const CSP_TAIL: &str =
    "; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `url` may be a script source of a page: https (or http on loopback: a local simulator), one file
/// (a path ending in `/` would allow every script under it, CSP3 §6.7.2.10), and nothing that could end,
/// split or widen a CSP source list (whitespace or control characters, which URL parsers drop silently, `;`,
/// `,`, `*`, quotes).
pub fn is_plain_script_url(url: &str) -> bool {
    let plain = url.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'*' | b'\'' | b'"' | b'#'));
    let Ok(parsed) = url::Url::parse(url) else { return false };
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let one_file = !parsed.path().ends_with('/');
    plain
        && one_file
        && (parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback))
        && parsed.query().is_none()
}

/// The same policy, allowing one more script by its exact URL (a workplace app's JSAPI on the in-client page).
/// None when the URL could break out of the policy (the settings refuse such URLs).
pub fn csp_with_script(url: &str) -> Option<HeaderValue> {
    if !is_plain_script_url(url) {
        return None;
    }
    HeaderValue::from_str(&CSP.replace("script-src 'self';", &format!("script-src 'self' {url};"))).ok()
}

/// Strict headers for every page: no inline script or style, no framing, no referrer leaks. A page that set
/// its own (stricter-or-equal) policy keeps it.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // A page's own policy stays only when it is the base one with sources added to script-src (the in-client
    // page); anything else is replaced.
    let own = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok());
    if !own.is_some_and(|p| p.starts_with("default-src 'none'; script-src 'self'") && p.ends_with(CSP_TAIL)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_url_cannot_widen_the_policy() {
        assert!(csp_with_script("https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js").is_some());
        assert!(csp_with_script("http://127.0.0.1:9000/dingtalk/jsapi/dingtalk.open.js").is_some());
        for bad in [
            "https://g.alicdn.com/x.js\thttps:",
            "https://g.alicdn.com/x.js https:",
            "https://g.alicdn.com/x.js; script-src *",
            "https://*.alicdn.com/x.js",
            "https://g.alicdn.com/x.js,https:",
            "http://cdn.example.com/x.js",
            "https://g.alicdn.com/x.js?v=1",
            "javascript:alert(1)",
            // A directory (or a bare host) would allow every script under it.
            "https://g.alicdn.com/",
            "https://g.alicdn.com/dingding/",
            "https://g.alicdn.com",
            "https://g.alicdn.com/x.js#frag",
        ] {
            assert!(csp_with_script(bad).is_none(), "{bad:?}");
        }
        let csp = csp_with_script("https://g.alicdn.com/x.js").unwrap();
        assert!(csp.to_str().unwrap().ends_with(CSP_TAIL));
    }

    #[tokio::test]
    async fn only_the_base_policy_plus_script_sources_survives_the_headers_layer() {
        let with = |csp: &'static str| {
            let mut r = Response::new(axum::body::Body::empty());
            r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
            r
        };
        let widened = security_headers(with("default-src *; script-src * 'unsafe-inline'")).await;
        assert_eq!(widened.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        let own = csp_with_script("https://g.alicdn.com/x.js").unwrap();
        let mut r = Response::new(axum::body::Body::empty());
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, own.clone());
        assert_eq!(security_headers(r).await.headers()[header::CONTENT_SECURITY_POLICY], own);
    }
}
