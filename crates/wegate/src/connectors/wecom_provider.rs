//! `wecom_provider`: service-provider (third-party) app QR code sign-in (reference §8), two ways:
//! - with a login-authorization suite (`suite_id`): `login_type=ServiceApp`; the code is exchanged with
//!   `service/auth/getuserinfo3rd` and the suite's access token, which needs the suite_ticket WeCom pushes to
//!   this connection's event URL;
//! - with only the `provider_secret`: the provider login (`3rd_qrConnect`); the `auth_code` is exchanged with
//!   `service/get_login_info` and the provider access token. No event URL is needed.
//!
//! One connection serves members of many corps: the identity key is (corp_id, open_userid).

use serde_json::json;

use super::corp_ids;
use super::error::{ConnectorError, SetupStep};
use super::fields::{check_corp_id, validate_callback_secrets};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::{Connection, ProviderSettings};

pub const FIELDS: &[&str] =
    &["corp_id", "suite_id", "suite_secret", "token", "encoding_aes_key", "provider_secret", "allowed_corps"];

pub fn validate(s: &ProviderSettings) -> Result<(), String> {
    check_corp_id("corp_id", &s.corp_id)?;
    match &s.suite_id {
        Some(suite_id) => {
            if !suite_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err("suite_id must be the login-authorization suite's id (letters and digits)".into());
            }
            validate_callback_secrets(
                s.token.as_deref().ok_or("token is required with suite_id")?,
                s.encoding_aes_key.as_deref().ok_or("encoding_aes_key is required with suite_id")?,
            )?;
            if s.suite_secret.as_deref().is_none_or(str::is_empty) {
                return Err("suite_secret is required with suite_id".into());
            }
        }
        None if s.provider_secret.is_none() => {
            return Err("give suite_id, suite_secret, token and encoding_aes_key (login-authorization suite, \
                        ServiceApp QR login), or provider_secret alone (provider login through get_login_info)"
                .into());
        }
        None => {}
    }
    for corp in s.allowed_corps.iter().flatten() {
        check_corp_id("allowed_corps", corp)?;
    }
    Ok(())
}

/// A suite's (or delegated template's) credential with the latest pushed ticket.
pub async fn suite_credential(
    app: &App,
    suite_id: &str,
    suite_secret: Option<&str>,
) -> Result<wecom::SuiteCredential, ConnectorError> {
    let suite_secret = suite_secret.ok_or_else(|| ConnectorError::Config(format!("no secret for suite {suite_id}")))?;
    let Some(ticket) = app.store.get_suite_ticket(suite_id).await? else {
        return Err(ConnectorError::NotReady(SetupStep::NoSuiteTicket));
    };
    Ok(wecom::SuiteCredential {
        suite_id: suite_id.to_string(),
        suite_secret: suite_secret.to_string(),
        suite_ticket: ticket.ticket,
    })
}

pub async fn login_url(
    app: &App,
    s: &ProviderSettings,
    state: &str,
    callback: &str,
    lang: Option<&str>,
) -> Result<String, ConnectorError> {
    let login_base = &app.settings.wecom_login_base;
    match &s.suite_id {
        Some(suite_id) => {
            // Fail early, before the person scans, if the code could not be exchanged afterwards.
            suite_credential(app, suite_id, s.suite_secret.as_deref()).await?;
            Ok(wecom::url::qr_login_url(
                login_base,
                wecom::url::LoginType::ServiceApp { suite_id },
                callback,
                state,
                lang,
            ))
        }
        None => {
            let provider = provider_credential(s)?;
            // 3rd_qrConnect lives on WeCom's open platform host, not the login host (CONTRACT.md).
            Ok(wecom::url::provider_login_url(&app.settings.wecom_open_base, &provider.corp_id, callback, state))
        }
    }
}

pub async fn exchange(
    app: &App,
    connection: &Connection,
    s: &ProviderSettings,
    code: &str,
) -> Result<UpstreamIdentity, ConnectorError> {
    let Some(suite_id) = &s.suite_id else {
        let info = app.wecom.get_login_info(&provider_credential(s)?, code).await?;
        let person = info.user_info;
        let corp_id = info.corp_info.and_then(|c| c.corpid).unwrap_or_default();
        return identity(app, connection, s, corp_id, person.open_userid, person.userid, person.avatar).await;
    };
    let suite = suite_credential(app, suite_id, s.suite_secret.as_deref()).await?;
    let info = app.wecom.get_user_info_3rd(&suite, code).await?;
    // Third-party apps get no name, email or mobile (reference §8: name = userid since 2020).
    let picture = match info.user_ticket.as_deref() {
        Some(ticket) if !ticket.is_empty() => {
            app.wecom.get_user_detail_3rd(&suite, ticket).await.ok().and_then(|d| d.avatar)
        }
        _ => None,
    };
    let corp_id = info.corpid.clone().unwrap_or_default();
    identity(app, connection, s, corp_id, info.open_userid.clone(), info.userid.clone(), picture).await
}

fn provider_credential(s: &ProviderSettings) -> Result<wecom::ProviderCredential, ConnectorError> {
    let provider_secret = s
        .provider_secret
        .as_deref()
        .ok_or_else(|| ConnectorError::Config("neither suite_id nor provider_secret is set".into()))?;
    Ok(wecom::ProviderCredential { corp_id: s.corp_id.clone(), provider_secret: provider_secret.to_string() })
}

/// Whether the corp WeCom calls `seen` is on the allow-list, whose entries are encrypted ids or plain ones
/// (converted with the provider secret). A failed conversion only matters when no other entry matches.
pub async fn on_allow_list(
    app: &App,
    connection: &Connection,
    s: &ProviderSettings,
    allowed: &[String],
    seen: &str,
) -> Result<bool, ConnectorError> {
    let provider = corp_ids::provider_credential(Some(&s.corp_id), s.provider_secret.as_deref());
    let mut failure = None;
    for typed in allowed {
        match corp_ids::names(app, connection, provider.as_ref(), typed, seen).await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => failure = Some(e),
        }
    }
    failure.map_or(Ok(false), Err)
}

/// The person as (corp, open_userid), once the corp passes the allow-list and has not cancelled.
async fn identity(
    app: &App,
    connection: &Connection,
    s: &ProviderSettings,
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
    if let Some(allowed) = &s.allowed_corps
        && !on_allow_list(app, connection, s, allowed, &corp_id).await?
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
        vouched: crate::accounts::Vouched::DIRECTORY,
    })
}
