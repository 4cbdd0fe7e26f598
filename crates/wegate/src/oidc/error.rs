//! OAuth 2.0 errors of the token, introspection, revocation and userinfo endpoints (RFC 6749 §5.2,
//! RFC 6750 §3): one type, turned into the JSON answer in one place.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC 6749 error code, e.g. `invalid_grant`.
    pub error: &'static str,
    pub description: String,
    pub status: StatusCode,
}

impl OAuthError {
    fn new(error: &'static str, status: StatusCode, description: impl Into<String>) -> Self {
        OAuthError { error, description: description.into(), status }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", StatusCode::BAD_REQUEST, d)
    }
    /// Client authentication failed: 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", StatusCode::UNAUTHORIZED, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", StatusCode::BAD_REQUEST, d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", StatusCode::BAD_REQUEST, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", StatusCode::BAD_REQUEST, d)
    }
    pub fn unsupported_token_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_token_type", StatusCode::BAD_REQUEST, d)
    }
    /// Bearer token problems at userinfo: 401 with `WWW-Authenticate: Bearer error=...` (RFC 6750).
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new("invalid_token", StatusCode::UNAUTHORIZED, d)
    }
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new("access_denied", StatusCode::FORBIDDEN, d)
    }
    pub fn server_error(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "token endpoint failure");
        Self::new("server_error", StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
    }
    /// A failure of the server's own making whose fix can be told (an upstream's sentence naming the setting
    /// to correct, the one its login page shows): that sentence, the detail only in the log.
    pub fn server_error_told(detail: &dyn std::fmt::Display, description: impl Into<String>) -> Self {
        tracing::error!(error = %detail, "token endpoint failure");
        Self::new("server_error", StatusCode::INTERNAL_SERVER_ERROR, description)
    }
    pub fn temporarily_unavailable(d: impl Into<String>) -> Self {
        Self::new("temporarily_unavailable", StatusCode::SERVICE_UNAVAILABLE, d)
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::server_error(&e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.error == "invalid_client" {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"wegate\""));
        } else if self.error == "invalid_token" {
            let value =
                format!("Bearer error=\"invalid_token\", error_description=\"{}\"", self.description.replace('"', "'"));
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}
