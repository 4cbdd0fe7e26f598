//! What every admin API handler shares: the error answer `{"error", "message"}`, list pages and their
//! query, and reading a JSON body.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::StoreError;

/// An admin API error: `{"error": "<code>", "message": "<sentence>"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// Machine-readable code: `invalid_request`, `unauthorized`, `not_found`, `conflict`, `payload_too_large`,
    /// `busy`, `internal`.
    pub error: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, error: "invalid_request", message: message.into() }
    }
    pub fn not_found(what: &str) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, error: "not_found", message: format!("{what} not found") }
    }
    /// Too much password hashing in flight; the client may retry shortly.
    pub fn busy() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "busy",
            message: "too many password operations at once; try again in a moment".into(),
        }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::CONFLICT, error: "conflict", message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.error, "message": self.message}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("object"),
            StoreError::Conflict(field) => ApiError::conflict(format!("{field} is already taken")),
            StoreError::Backend(detail) => {
                let reference = crate::util::random_alnum(10);
                tracing::error!(reference = %reference, error = %detail, "admin API store failure");
                ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    error: "internal",
                    message: format!("the database failed; reference {reference}"),
                }
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                error: "payload_too_large",
                message: "the body is larger than the API accepts (256 KiB)".into(),
            };
        }
        ApiError::invalid(format!("the body is not acceptable JSON: {}", rejection.body_text()))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Who makes an admin change, for the audit trail (as Keycloak's admin events and Authing's audit record
/// it): `api` for the admin API's bearer token, `console:token` or `console:user:<id>` for the console's
/// visitor. `require_admin` puts it in every API request; the console names its visitor itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn api() -> Actor {
        Actor("api".into())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only `require_admin` lets a request this far, and it names the actor: none means a route escaped it.
        parts.extensions.get::<Actor>().cloned().ok_or_else(|| ApiError {
            status: StatusCode::UNAUTHORIZED,
            error: "unauthorized",
            message: "missing admin credentials".into(),
        })
    }
}

/// What an admin change touched, for its audit entry.
pub enum Changed<'a> {
    App(&'a str),
    Connection(&'a str),
    User(&'a str),
    /// An app and a connection (an association).
    Association(&'a str, &'a str),
}

/// The audit entry of an admin change: who (`actor`), what (`event` on the object) and the names of the
/// fields it set — never their values, so no secret reaches the audit.
pub async fn audit_change(
    app: &crate::app::App,
    actor: &Actor,
    event: &str,
    object: Changed<'_>,
    fields: &[impl AsRef<str>],
) {
    let mut entry = crate::audit::Audit::new(event).actor(&actor.0);
    entry = match object {
        Changed::App(client_id) => entry.client(client_id),
        Changed::Connection(identifier) => entry.connection(identifier),
        Changed::User(id) => entry.user(id),
        Changed::Association(client_id, identifier) => entry.client(client_id).connection(identifier),
    };
    if !fields.is_empty() {
        let names: Vec<&str> = fields.iter().map(AsRef::as_ref).collect();
        entry = entry.reason(&format!("fields: {}", names.join(", ")));
    }
    entry.write(app).await;
}

/// An admin change that sets no field (a deletion, an association).
pub const NO_FIELDS: &[&str] = &[];

/// The names of the fields a request sets, from (name, whether it is set) pairs.
pub fn named<'a>(fields: &[(&'a str, bool)]) -> Vec<&'a str> {
    fields.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect()
}

/// `?limit=N&cursor=C` of every list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn limit(&self) -> ApiResult<u32> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=500).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid("limit must be between 1 and 500")),
        }
    }
}

/// `{"items": [...], "next": cursor-or-null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Parses a JSON body, turning every rejection into our error shape.
pub fn body<T>(payload: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    payload.map(|Json(v)| v).map_err(ApiError::from)
}
