//! `wecom_mobile`: a native iOS/Android app signs in with the WeCom SDK, which hands the app a code
//! (reference §5); the app exchanges it at our token endpoint with the RFC 8693 token-exchange grant.
//! No browser button. `GET /connections/{identifier}/config` tells the app what the SDK needs.

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::wecom_qrcode::{corp_app, validate_corp_app};
use super::{Connection, Connector, ConnectorError, Input, UpstreamIdentity, field, required_str};
use crate::app::AppState;

pub struct Mobile;

pub const SUBJECT_TOKEN_TYPE: &str = "urn:wegate:params:oauth:token-type:wecom-code";

#[async_trait]
impl Connector for Mobile {
    fn kind(&self) -> &'static str {
        "wecom_mobile"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["corp_id", "agent_id", "secret", "schema"]
    }

    fn validate(&self, input: &Input, existing: Option<&Connection>) -> Result<(Value, Value), String> {
        let (mut settings, secrets) = validate_corp_app(input, existing)?;
        let schema = required_str(input, "schema")
            .or_else(|e| existing.and_then(|c| field(&c.settings, "schema").map(String::from)).ok_or(e))?;
        if !schema.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("schema must be the SDK schema WeCom shows (letters and digits, e.g. wwauth…)".into());
        }
        settings.insert("schema".into(), json!(schema));
        Ok((Value::Object(settings), secrets))
    }

    fn browser_login(&self) -> bool {
        false
    }

    async fn login_url(
        &self,
        _app: &AppState,
        _connection: &Connection,
        _state: &str,
        _callback: &str,
    ) -> Result<String, ConnectorError> {
        Err(ConnectorError::Config("wecom_mobile has no browser login; the app uses the WeCom SDK".into()))
    }

    async fn exchange(
        &self,
        app: &AppState,
        connection: &Connection,
        code: &str,
    ) -> Result<UpstreamIdentity, ConnectorError> {
        let (corp, _) = corp_app(connection)?;
        super::corp_member::identify(app, &corp, code).await
    }
}

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
