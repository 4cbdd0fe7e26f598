//! `wecom_qrcode`: PC website sign-in by scanning a QR code with WeCom, for a self-built app
//! (`/wwlogin/sso/login?login_type=CorpApp`, reference §2). Settings: corp_id, agent_id; secret: secret.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::adapter::{Connector, ConnectorError, Input};
use super::fields::{check_agent_id, check_corp_id, field, required_str, secret};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::Connection;

pub struct QrCode;

/// Validates the self-built app credentials shared by `wecom_qrcode`, `wecom_web` and `wecom_mobile`.
pub fn validate_corp_app(
    input: &Input,
    existing: Option<&Connection>,
) -> Result<(serde_json::Map<String, Value>, Value), String> {
    let corp_id = required_str(input, "corp_id")
        .or_else(|e| existing.and_then(|c| field(&c.settings, "corp_id").map(String::from)).ok_or(e))?;
    check_corp_id("corp_id", &corp_id)?;
    let agent_id = required_str(input, "agent_id")
        .or_else(|e| existing.and_then(|c| field(&c.settings, "agent_id").map(String::from)).ok_or(e))?;
    check_agent_id(&agent_id)?;
    let secret = secret(input, "secret", existing, true)?;
    let mut settings = serde_json::Map::new();
    settings.insert("corp_id".into(), json!(corp_id));
    settings.insert("agent_id".into(), json!(agent_id));
    Ok((settings, json!({ "secret": secret })))
}

/// The app credential (corp id + secret) of a self-built app connection.
pub fn corp_app(connection: &Connection) -> Result<(wecom::CorpApp, String), ConnectorError> {
    let corp_id =
        field(&connection.settings, "corp_id").ok_or_else(|| ConnectorError::Config("corp_id missing".into()))?;
    let agent_id =
        field(&connection.settings, "agent_id").ok_or_else(|| ConnectorError::Config("agent_id missing".into()))?;
    let secret = field(&connection.secrets, "secret").ok_or_else(|| ConnectorError::Config("secret missing".into()))?;
    Ok((wecom::CorpApp { corp_id: corp_id.to_string(), secret: secret.to_string() }, agent_id.to_string()))
}

#[async_trait]
impl Connector for QrCode {
    fn kind(&self) -> &'static str {
        "wecom_qrcode"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["corp_id", "agent_id", "secret"]
    }

    fn validate(&self, input: &Input, existing: Option<&Connection>) -> Result<(Value, Value), String> {
        let (settings, secrets) = validate_corp_app(input, existing)?;
        Ok((Value::Object(settings), secrets))
    }

    async fn login_url(
        &self,
        app: &App,
        connection: &Connection,
        state: &str,
        callback: &str,
    ) -> Result<String, ConnectorError> {
        let (corp, agent_id) = corp_app(connection)?;
        Ok(wecom::url::qr_login_url(
            &app.settings.wecom_login_base,
            wecom::url::LoginType::CorpApp { corp_id: &corp.corp_id, agent_id: &agent_id },
            callback,
            state,
            None,
        ))
    }

    async fn exchange(
        &self,
        app: &App,
        connection: &Connection,
        code: &str,
    ) -> Result<UpstreamIdentity, ConnectorError> {
        let (corp, _) = corp_app(connection)?;
        super::corp_member::identify(app, &corp, code).await
    }
}
