//! `wecom_delegated`: QR code sign-in for a self-built app built by a service provider in delegated
//! development mode (代开发, reference §7). The admin enters the template's Token and EncodingAESKey, and
//! its id and secret once the template is online; WeCom pushes suite tickets and the authorization
//! (`create_auth`) to the connection's event URL (see `events`), from which wegate learns the authorizing
//! corp, its agent id and the permanent code — the delegated app's secret. Sign-in itself is the self-built
//! QR flow with that corp's token.

use serde_json::Value;

use super::corp_ids;
use super::error::{ConnectorError, SetupStep};
use super::fields::{check_agent_id, check_corp_id, validate_callback_secrets};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::{AuthorizedCorp, Connection, DelegatedSettings};

/// The key of a delegated connection's run-time state naming the corp it is bound to.
pub const BOUND_CORP_ID: &str = "bound_corp_id";

pub const FIELDS: &[&str] = &[
    "token",
    "encoding_aes_key",
    "template_id",
    "template_secret",
    "provider_corp_id",
    "provider_secret",
    "corp_id",
    "agent_id",
];

/// Template id and secret may come later: WeCom shows them only once the template is online, which comes
/// after it verified the event URL (so the connection must exist with Token and key first).
pub fn validate(s: &DelegatedSettings) -> Result<(), String> {
    validate_callback_secrets(&s.token, &s.encoding_aes_key)?;
    if let Some(template_id) = &s.template_id
        && !template_id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err("template_id must be the template's id from WeCom (letters and digits, starts with dk)".into());
    }
    if let Some(corp_id) = &s.corp_id {
        check_corp_id("corp_id", corp_id)?;
    }
    if let Some(agent_id) = &s.agent_id {
        check_agent_id(agent_id)?;
    }
    if let Some(provider) = &s.provider_corp_id {
        check_corp_id("provider_corp_id", provider)?;
    }
    Ok(())
}

pub async fn login_url(
    app: &App,
    connection: &Connection,
    s: &DelegatedSettings,
    state: &str,
    callback: &str,
    lang: Option<&str>,
) -> Result<String, ConnectorError> {
    let (corp, agent_id) = authorized_app(app, connection, s).await?;
    Ok(wecom::url::qr_login_url(
        &app.settings.wecom_login_base,
        wecom::url::LoginType::CorpApp { corp_id: &corp.corp_id, agent_id: &agent_id },
        callback,
        state,
        lang,
    ))
}

pub async fn exchange(
    app: &App,
    connection: &Connection,
    s: &DelegatedSettings,
    code: &str,
) -> Result<UpstreamIdentity, ConnectorError> {
    let (corp, _) = authorized_app(app, connection, s).await?;
    let plain = super::corp_member::delegated_ids_are_plain(&corp.corp_id);
    super::corp_member::identify(app, &corp, code, plain).await
}

/// The authorized corp's app: (corp id + permanent code as the secret, agent id). Says exactly which
/// set-up step is missing when it cannot be used yet.
pub(super) async fn authorized_app(
    app: &App,
    connection: &Connection,
    s: &DelegatedSettings,
) -> Result<(wecom::CorpApp, String), ConnectorError> {
    let corps = app.store.list_authorized_corps(&connection.identifier).await?;
    // The corp this connection signs in: the admin's `corp_id` (encrypted, or plain and converted), else the
    // first corp that authorized the template (bound then, see `inbound::events`). Never whichever corp
    // happens to be active: when the bound corp cancels, its members are refused, and another corp's
    // authorization does not take over.
    let chosen: Option<&AuthorizedCorp> =
        match (&s.corp_id, connection.state.get(BOUND_CORP_ID).and_then(Value::as_str)) {
            (Some(typed), _) => {
                corp_ids::find(app, connection, provider_credential(connection, s).as_ref(), typed, &corps).await?
            }
            (None, Some(bound)) => corps.iter().find(|c| c.corp_id == bound),
            // Authorized before connections were bound: one corp is unambiguous, several are not.
            (None, None) if corps.len() > 1 => {
                return Err(ConnectorError::Config(
                    "several corps authorized the template; set corp_id on the connection".into(),
                ));
            }
            (None, None) => corps.first(),
        };
    let Some(corp) = chosen else {
        if let (Some(typed), false) = (&s.corp_id, corps.is_empty()) {
            let seen: Vec<&str> = corps.iter().map(|c| c.corp_id.as_str()).collect();
            return Err(ConnectorError::Config(format!(
                "corp_id {typed} names none of the corps that authorized the template ({}); correct corp_id",
                seen.join(", ")
            )));
        }
        let template_id = s.template_id.as_deref();
        let step = if connection.state.get("url_verified_at").is_none_or(Value::is_null) {
            SetupStep::UrlNotVerified
        } else if template_id.is_none() || s.template_secret.is_none() {
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
    let agent_id = s
        .agent_id
        .clone()
        .or_else(|| corp.agent_id.map(|a| a.to_string()))
        .ok_or(ConnectorError::NotReady(SetupStep::NoAgentId))?;
    Ok((wecom::CorpApp { corp_id: corp.corp_id.clone(), secret: permanent_code }, agent_id))
}

/// The provider credentials of a delegated connection: `provider_corp_id` (set, or learned from WeCom's URL
/// verification) and `provider_secret`.
pub fn provider_credential(connection: &Connection, s: &DelegatedSettings) -> Option<wecom::ProviderCredential> {
    let learned = connection.state.get("provider_corp_id").and_then(Value::as_str);
    corp_ids::provider_credential(s.provider_corp_id.as_deref().or(learned), s.provider_secret.as_deref())
}
