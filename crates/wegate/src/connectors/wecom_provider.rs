//! `wecom_provider`: service-provider (third-party) app QR code sign-in (reference §8), two ways:
//! - with a login-authorization suite (`suite_id`): `login_type=ServiceApp`; the code is exchanged with
//!   `service/auth/getuserinfo3rd` and the suite's access token, which needs the suite_ticket WeCom pushes to
//!   this connection's event URL;
//! - with only the `provider_secret`: the provider login (`3rd_qrConnect`); the `auth_code` is exchanged with
//!   `service/get_login_info` and the provider access token. No event URL is needed.
//!
//! One connection serves members of many corps: the identity key is (corp_id, open_userid).

use async_trait::async_trait;
use serde_json::{Value, json};

use super::adapter::{Connector, ConnectorError, Input, SetupStep};
use super::fields::{check_corp_id, field, required_str, secret};
use super::wecom_delegated::validate_callback_secrets;
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::Connection;

pub struct Provider;

/// The suite credential with the latest pushed ticket.
pub async fn suite_credential(
    app: &App,
    connection: &Connection,
    suite_id: &str,
    secret_field: &str,
) -> Result<wecom::SuiteCredential, ConnectorError> {
    let suite_secret = field(&connection.secrets, secret_field)
        .ok_or_else(|| ConnectorError::Config(format!("{secret_field} missing")))?;
    let Some(ticket) = app.store.get_suite_ticket(suite_id).await? else {
        return Err(ConnectorError::NotReady(SetupStep::NoSuiteTicket));
    };
    Ok(wecom::SuiteCredential {
        suite_id: suite_id.to_string(),
        suite_secret: suite_secret.to_string(),
        suite_ticket: ticket.ticket,
    })
}

#[async_trait]
impl Connector for Provider {
    fn kind(&self) -> &'static str {
        "wecom_provider"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["corp_id", "suite_id", "suite_secret", "token", "encoding_aes_key", "provider_secret", "allowed_corps"]
    }

    fn validate(&self, input: &Input, existing: Option<&Connection>) -> Result<(Value, Value), String> {
        let mut secrets = serde_json::Map::new();
        let keep = |name: &str| -> Result<String, String> {
            required_str(input, name)
                .or_else(|e| existing.and_then(|c| field(&c.settings, name).map(String::from)).ok_or(e))
        };
        let corp_id = keep("corp_id")?;
        check_corp_id("corp_id", &corp_id)?;
        let provider_secret = secret(input, "provider_secret", existing, false)?;
        let suite_id = keep("suite_id").ok();
        match &suite_id {
            Some(suite_id) => {
                if !suite_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err("suite_id must be the login-authorization suite's id (letters and digits)".into());
                }
                validate_callback_secrets(input, existing, &mut secrets)?;
                secrets.insert("suite_secret".into(), json!(secret(input, "suite_secret", existing, true)?));
            }
            None if provider_secret.is_none() => {
                return Err("give suite_id, suite_secret, token and encoding_aes_key (login-authorization suite, \
                            ServiceApp QR login), or provider_secret alone (provider login through get_login_info)"
                    .into());
            }
            None => {}
        }
        if let Some(provider_secret) = provider_secret {
            secrets.insert("provider_secret".into(), json!(provider_secret));
        }
        let allowed = match input.get("allowed_corps") {
            Some(Value::Array(list)) => {
                let mut corps = Vec::new();
                for v in list {
                    let id = v.as_str().ok_or("allowed_corps must be a list of corp ids")?;
                    check_corp_id("allowed_corps", id)?;
                    corps.push(json!(id));
                }
                Some(Value::Array(corps))
            }
            Some(Value::Null) => None,
            Some(_) => return Err("allowed_corps must be a list of corp ids".into()),
            None => existing.and_then(|c| c.settings.get("allowed_corps").cloned()),
        };
        let mut settings = serde_json::Map::new();
        settings.insert("corp_id".into(), json!(corp_id));
        if let Some(suite_id) = suite_id {
            settings.insert("suite_id".into(), json!(suite_id));
        }
        if let Some(allowed) = allowed {
            settings.insert("allowed_corps".into(), allowed);
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
        let login_base = &app.settings.wecom_login_base;
        match field(&connection.settings, "suite_id") {
            Some(suite_id) => {
                // Fail early, before the person scans, if the code could not be exchanged afterwards.
                suite_credential(app, connection, suite_id, "suite_secret").await?;
                Ok(wecom::url::qr_login_url(
                    login_base,
                    wecom::url::LoginType::ServiceApp { suite_id },
                    callback,
                    state,
                    None,
                ))
            }
            None => {
                let provider = provider_credential(connection)?;
                Ok(wecom::url::provider_login_url(login_base, &provider.corp_id, callback, state))
            }
        }
    }

    async fn exchange(
        &self,
        app: &App,
        connection: &Connection,
        code: &str,
    ) -> Result<UpstreamIdentity, ConnectorError> {
        let Some(suite_id) = field(&connection.settings, "suite_id") else {
            let info = app.wecom.get_login_info(&provider_credential(connection)?, code).await?;
            let person = info.user_info;
            let corp_id = info.corp_info.and_then(|c| c.corpid).unwrap_or_default();
            return identity(app, connection, corp_id, person.open_userid, person.userid, person.avatar).await;
        };
        let suite = suite_credential(app, connection, suite_id, "suite_secret").await?;
        let info = app.wecom.get_user_info_3rd(&suite, code).await?;
        // Third-party apps get no name, email or mobile (reference §8: name = userid since 2020).
        let picture = match info.user_ticket.as_deref() {
            Some(ticket) if !ticket.is_empty() => {
                app.wecom.get_user_detail_3rd(&suite, ticket).await.ok().and_then(|d| d.avatar)
            }
            _ => None,
        };
        let corp_id = info.corpid.clone().unwrap_or_default();
        identity(app, connection, corp_id, info.open_userid.clone(), info.userid.clone(), picture).await
    }
}

fn provider_credential(connection: &Connection) -> Result<wecom::ProviderCredential, ConnectorError> {
    let corp_id =
        field(&connection.settings, "corp_id").ok_or_else(|| ConnectorError::Config("corp_id missing".into()))?;
    let provider_secret = field(&connection.secrets, "provider_secret")
        .ok_or_else(|| ConnectorError::Config("neither suite_id nor provider_secret is set".into()))?;
    Ok(wecom::ProviderCredential { corp_id: corp_id.to_string(), provider_secret: provider_secret.to_string() })
}

/// The person as (corp, open_userid), once the corp passes the allow-list and has not cancelled.
async fn identity(
    app: &App,
    connection: &Connection,
    corp_id: String,
    open_userid: Option<String>,
    userid: Option<String>,
    picture: Option<String>,
) -> Result<UpstreamIdentity, ConnectorError> {
    let Some(open_userid) = open_userid.filter(|o| !o.is_empty()) else {
        return Err(ConnectorError::NotMember);
    };
    if corp_id.is_empty() {
        return Err(ConnectorError::NotMember);
    }
    if let Some(Value::Array(allowed)) = connection.settings.get("allowed_corps")
        && !allowed.iter().any(|v| v.as_str() == Some(corp_id.as_str()))
    {
        return Err(ConnectorError::CorpNotAllowed(format!("corp {corp_id} is not on the connection's allow-list")));
    }
    if let Some(corp) = app.store.get_authorized_corp(&connection.identifier, &corp_id).await?
        && corp.status != "active"
    {
        return Err(ConnectorError::CorpNotAllowed(format!("corp {corp_id} cancelled the authorization")));
    }
    // userid is a cipher id when the corp has not authorized the provider's app; kept for reference only.
    let userid = userid.unwrap_or_default();
    let mut claims = super::corp_member::wecom_claims(&corp_id, &userid, Some(&open_userid), &[]);
    if let Some(map) = claims.as_object_mut() {
        map.remove("wecom_department");
    }
    Ok(UpstreamIdentity {
        upstream: format!("wecom-open:{corp_id}"),
        subject: open_userid.clone(),
        username: None,
        name: None,
        email: None,
        phone: None,
        picture: picture.filter(|a| !a.is_empty()),
        claims,
        profile: json!({"corp_id": corp_id, "userid": userid, "open_userid": open_userid}),
    })
}
