//! Endpoints for the orchestrator: `/metrics` (Prometheus), `/healthz` (alive), `/readyz` (database
//! reachable).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// `/metrics`; with `WEGATE_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &app.settings.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !crate::util::secure_eq(presented.trim(), expected) {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")], "")
                .into_response();
        }
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.metrics.encode())
        .into_response()
}

/// Alive: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the database answers. Recovers by itself when the database comes back.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable".to_string())
        }
    }
}
