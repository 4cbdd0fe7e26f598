//! `GET /connections/{identifier}/config`: what a native app needs to set up the WeCom SDK for a
//! `wecom_mobile` connection. Nothing secret.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::connectors::wecom_mobile::SUBJECT_TOKEN_TYPE;
use crate::oidc::error::OAuthError;
use crate::oidc::token::TOKEN_EXCHANGE;
use crate::store::{Connection, KindSettings};

/// Public SDK set-up for a `wecom_mobile` connection: nothing secret.
pub async fn public_config(State(app): State<AppState>, Path(identifier): Path<String>) -> Response {
    match app.store.get_connection(&identifier).await {
        Ok(Some(Connection { settings: KindSettings::Mobile(s), identifier, display_name, .. })) => Json(json!({
            "identifier": identifier,
            "display_name": display_name,
            "kind": "wecom_mobile",
            "corp_id": s.corp_id,
            "agent_id": s.agent_id,
            "schema": s.schema,
            "token_endpoint": app.url("/token"),
            "grant_type": TOKEN_EXCHANGE,
            "subject_token_type": SUBJECT_TOKEN_TYPE,
        }))
        .into_response(),
        Ok(_) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "message": "no wecom_mobile connection with this identifier"})),
        )
            .into_response(),
        Err(e) => OAuthError::server_error(&e).into_response(),
    }
}
