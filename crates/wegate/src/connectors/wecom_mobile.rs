//! `wecom_mobile`: a native iOS/Android app signs in with the WeCom SDK, which hands the app a code
//! (reference §5); the app exchanges it at our token endpoint with the RFC 8693 token-exchange grant
//! (`login::native`). No browser button; `inbound::mobile_config` tells the app what the SDK needs.

use super::error::ConnectorError;
use super::wecom_qrcode::{corp_app, validate_corp_app};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::MobileSettings;

pub const FIELDS: &[&str] = &["corp_id", "agent_id", "secret", "schema", "token", "encoding_aes_key"];

/// The `subject_token_type` of a WeCom SDK code at the token endpoint.
pub const SUBJECT_TOKEN_TYPE: &str = "urn:wegate:params:oauth:token-type:wecom-code";

pub fn validate(s: &MobileSettings) -> Result<(), String> {
    validate_corp_app(&s.corp_id, &s.agent_id, &s.secret, (s.token.as_deref(), s.encoding_aes_key.as_deref()))?;
    if s.schema.is_empty() || !s.schema.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("schema must be the SDK schema WeCom shows (letters and digits, e.g. wwauth…)".into());
    }
    Ok(())
}

pub async fn exchange(app: &App, s: &MobileSettings, code: &str) -> Result<UpstreamIdentity, ConnectorError> {
    super::corp_member::identify(app, &corp_app(&s.corp_id, &s.secret), code, true).await
}
