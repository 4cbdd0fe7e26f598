//! `GET /connections/{identifier}/config`: what a native app needs to set up the WeCom SDK for a
//! `wecom_mobile` connection. Nothing secret.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::connectors::fields::field;
use crate::connectors::wecom_mobile::SUBJECT_TOKEN_TYPE;

/// Public SDK set-up for a `wecom_mobile` connection: nothing secret.
pub async fn public_config(State(app): State<AppState>, Path(identifier): Path<String>) -> Response {
    match app.store.get_connection(&identifier).await {
        Ok(Some(c)) if c.kind == "wecom_mobile" => Json(json!({
            "identifier": c.identifier,
            "display_name": c.display_name,
            "kind": c.kind,
            "corp_id": field(&c.settings, "corp_id"),
            "agent_id": field(&c.settings, "agent_id"),
            "schema": field(&c.settings, "schema"),
            "token_endpoint": app.url("/token"),
            "grant_type": crate::oidc::token::TOKEN_EXCHANGE,
            "subject_token_type": SUBJECT_TOKEN_TYPE,
        }))
        .into_response(),
        Ok(_) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "message": "no wecom_mobile connection with this identifier"})),
        )
            .into_response(),
        Err(e) => crate::oidc::error::OAuthError::server_error(&e).into_response(),
    }
}
