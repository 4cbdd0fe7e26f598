//! `wecom_mobile`: a native iOS/Android app signs in with the WeCom SDK, which hands the app a code
//! (reference §5); the app exchanges it at our token endpoint with the RFC 8693 token-exchange grant.
//! No browser button; `inbound::mobile_config` tells the app what the SDK needs.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::adapter::{Connector, ConnectorError, Input};
use super::fields::{field, required_str};
use super::wecom_qrcode::{corp_app, validate_corp_app};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::Connection;

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
        _app: &App,
        _connection: &Connection,
        _state: &str,
        _callback: &str,
    ) -> Result<String, ConnectorError> {
        Err(ConnectorError::Config("wecom_mobile has no browser login; the app uses the WeCom SDK".into()))
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
