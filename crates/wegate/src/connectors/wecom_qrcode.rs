//! `wecom_qrcode`: PC website sign-in by scanning a QR code with WeCom, for a self-built app
//! (`/wwlogin/sso/login?login_type=CorpApp`, reference §2).

use super::error::ConnectorError;
use super::fields::{check_agent_id, check_corp_id, validate_callback_secrets};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::QrCodeSettings;

pub const FIELDS: &[&str] = &["corp_id", "agent_id", "secret", "token", "encoding_aes_key"];

/// The self-built app credentials shared by `wecom_qrcode`, `wecom_web` and `wecom_mobile`, and the
/// optional callback Token and EncodingAESKey of its event URL (both or neither).
pub fn validate_corp_app(
    corp_id: &str,
    agent_id: &str,
    secret: &str,
    callback: (Option<&str>, Option<&str>),
) -> Result<(), String> {
    check_corp_id("corp_id", corp_id)?;
    check_agent_id(agent_id)?;
    if secret.is_empty() {
        return Err("secret is required".into());
    }
    match callback {
        (Some(token), Some(key)) => validate_callback_secrets(token, key),
        (None, None) => Ok(()),
        _ => Err("token and encoding_aes_key go together (the app's 接收消息 API settings)".into()),
    }
}

pub fn validate(s: &QrCodeSettings) -> Result<(), String> {
    validate_corp_app(&s.corp_id, &s.agent_id, &s.secret, (s.token.as_deref(), s.encoding_aes_key.as_deref()))
}

pub fn corp_app(corp_id: &str, secret: &str) -> wecom::CorpApp {
    wecom::CorpApp { corp_id: corp_id.to_string(), secret: secret.to_string() }
}

pub fn login_url(app: &App, s: &QrCodeSettings, state: &str, callback: &str, lang: Option<&str>) -> String {
    wecom::url::qr_login_url(
        &app.settings.wecom_login_base,
        wecom::url::LoginType::CorpApp { corp_id: &s.corp_id, agent_id: &s.agent_id },
        callback,
        state,
        lang,
    )
}

pub async fn exchange(app: &App, s: &QrCodeSettings, code: &str) -> Result<UpstreamIdentity, ConnectorError> {
    super::corp_member::identify(app, &corp_app(&s.corp_id, &s.secret), code, true).await
}
