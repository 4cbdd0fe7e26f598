//! Redirects of the protocol: the `303` itself, parameters appended to a redirect_uri, and the error
//! redirect of RFC 6749 §4.1.2.1 (with `iss`, RFC 9207) — only ever to a redirect_uri already verified.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::App;

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
    // Nothing to add: the registered URI exactly (not with an empty `?`).
    if params.is_empty() {
        return redirect_uri.to_string();
    }
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
    app: &App,
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
