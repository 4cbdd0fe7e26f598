//! `wecom_delegated`: QR code sign-in for a self-built app built by a service provider in delegated
//! development mode (代开发, reference §7). The admin enters the template's Token and EncodingAESKey, and
//! its id and secret once the template is online; WeCom pushes suite tickets and the authorization
//! (`create_auth`) to the connection's event URL (see `events`), from which wegate learns the authorizing
//! corp, its agent id and the permanent code — the delegated app's secret. Sign-in itself is the self-built
//! QR flow with that corp's token.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::adapter::{Connector, ConnectorError, Input, SetupStep};
use super::fields::{check_agent_id, check_corp_id, field, optional_str, secret};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::AuthorizedCorp;
use crate::store::Connection;

pub struct Delegated;

/// Token and EncodingAESKey of an event URL; shared with `wecom_provider`.
pub fn validate_callback_secrets(
    input: &Input,
    existing: Option<&Connection>,
    secrets: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let token = secret(input, "token", existing, true)?.unwrap_or_default();
    if token.len() > 32 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("token must be the callback Token from WeCom: up to 32 letters and digits".into());
    }
    let key = secret(input, "encoding_aes_key", existing, true)?.unwrap_or_default();
    wecom::crypto::validate_encoding_aes_key(&key).map_err(|_| {
        "encoding_aes_key must be the 43 characters of base64 that WeCom generates (EncodingAESKey)".to_string()
    })?;
    secrets.insert("token".into(), json!(token));
    secrets.insert("encoding_aes_key".into(), json!(key));
    Ok(())
}

fn keep_or(input: &Input, existing: Option<&Connection>, name: &str) -> Result<Option<String>, String> {
    match input.get(name) {
        Some(_) => optional_str(input, name),
        None => Ok(existing.and_then(|c| field(&c.settings, name)).map(String::from)),
    }
}

#[async_trait]
impl Connector for Delegated {
    fn kind(&self) -> &'static str {
        "wecom_delegated"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["token", "encoding_aes_key", "template_id", "template_secret", "provider_corp_id", "corp_id", "agent_id"]
    }

    fn validate(&self, input: &Input, existing: Option<&Connection>) -> Result<(Value, Value), String> {
        let mut secrets = serde_json::Map::new();
        validate_callback_secrets(input, existing, &mut secrets)?;
        // Template id and secret may come later: WeCom shows them only once the template is online, which
        // comes after it verified the event URL (so the connection must exist with Token and key first).
        let mut settings = serde_json::Map::new();
        if let Some(template_id) = keep_or(input, existing, "template_id")? {
            if !template_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(
                    "template_id must be the template's id from WeCom (letters and digits, starts with dk)".into()
                );
            }
            settings.insert("template_id".into(), json!(template_id));
        }
        if let Some(template_secret) = secret(input, "template_secret", existing, false)? {
            secrets.insert("template_secret".into(), json!(template_secret));
        }
        if let Some(corp_id) = keep_or(input, existing, "corp_id")? {
            check_corp_id("corp_id", &corp_id)?;
            settings.insert("corp_id".into(), json!(corp_id));
        }
        if let Some(agent_id) = keep_or(input, existing, "agent_id")? {
            check_agent_id(&agent_id)?;
            settings.insert("agent_id".into(), json!(agent_id));
        }
        if let Some(provider) = keep_or(input, existing, "provider_corp_id")? {
            check_corp_id("provider_corp_id", &provider)?;
            settings.insert("provider_corp_id".into(), json!(provider));
        }
        Ok((Value::Object(settings), Value::Object(secrets)))
    }

    async fn login_url(
        &self,
        app: &App,
        connection: &Connection,
        state: &str,
        callback: &str,
    ) -> Result<String, ConnectorError> {
        let (corp, agent_id) = authorized_app(app, connection).await?;
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
        let (corp, _) = authorized_app(app, connection).await?;
        super::corp_member::identify(app, &corp, code).await
    }
}

/// The authorized corp's app: (corp id + permanent code as the secret, agent id). Says exactly which
/// set-up step is missing when it cannot be used yet.
async fn authorized_app(app: &App, connection: &Connection) -> Result<(wecom::CorpApp, String), ConnectorError> {
    let corps = app.store.list_authorized_corps(&connection.identifier).await?;
    let chosen: Option<&AuthorizedCorp> = match field(&connection.settings, "corp_id") {
        Some(corp_id) => corps.iter().find(|c| c.corp_id == corp_id),
        None => {
            let active: Vec<&AuthorizedCorp> = corps.iter().filter(|c| c.status == "active").collect();
            if active.len() > 1 {
                return Err(ConnectorError::Config(
                    "several corps authorized the template; set corp_id on the connection".into(),
                ));
            }
            active.first().copied().or(corps.first())
        }
    };
    let Some(corp) = chosen else {
        let template_id = field(&connection.settings, "template_id");
        let step = if connection.state.get("url_verified_at").is_none_or(Value::is_null) {
            SetupStep::UrlNotVerified
        } else if template_id.is_none() || field(&connection.secrets, "template_secret").is_none() {
            SetupStep::TemplateNotSet
        } else if app.store.get_suite_ticket(template_id.unwrap_or_default()).await?.is_none() {
            SetupStep::NoTemplateTicket
        } else {
            SetupStep::NoCorpAuthorized
        };
        return Err(ConnectorError::NotReady(step));
    };
    if corp.status != "active" {
        return Err(ConnectorError::CorpNotAllowed(format!("corp {} cancelled the authorization", corp.corp_id)));
    }
    let Some(permanent_code) = corp.permanent_code.clone() else {
        return Err(ConnectorError::NotReady(SetupStep::PermanentCodePending));
    };
    let agent_id = field(&connection.settings, "agent_id")
        .map(String::from)
        .or_else(|| corp.agent_id.map(|a| a.to_string()))
        .ok_or(ConnectorError::NotReady(SetupStep::NoAgentId))?;
    Ok((wecom::CorpApp { corp_id: corp.corp_id.clone(), secret: permanent_code }, agent_id))
}
