//! `wecom_web`: a page opened inside the WeCom client signs in through WeCom's OAuth
//! (`/connect/oauth2/authorize`, reference §3): silently with `snsapi_base`, or with the person's consent
//! for private fields with `snsapi_privateinfo` (then `auth/getuserdetail` gives mobile, email, avatar).

use super::error::ConnectorError;
use super::wecom_qrcode::{corp_app, validate_corp_app};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::{WebScope, WebSettings};

pub const FIELDS: &[&str] = &["corp_id", "agent_id", "secret", "scope", "token", "encoding_aes_key"];

pub fn validate(s: &WebSettings) -> Result<(), String> {
    validate_corp_app(&s.corp_id, &s.agent_id, &s.secret, (s.token.as_deref(), s.encoding_aes_key.as_deref()))
}

pub fn login_url(app: &App, s: &WebSettings, state: &str, callback: &str) -> String {
    let scope = match s.scope {
        WebScope::SnsapiPrivateinfo => wecom::url::OAuthScope::PrivateInfo,
        WebScope::SnsapiBase => wecom::url::OAuthScope::Base,
    };
    // agentid is mandatory with snsapi_privateinfo and recommended otherwise (reference §3).
    wecom::url::oauth_url(&app.settings.wecom_oauth_base, &s.corp_id, callback, scope, state, Some(&s.agent_id))
}

pub async fn exchange(app: &App, s: &WebSettings, code: &str) -> Result<UpstreamIdentity, ConnectorError> {
    super::corp_member::identify(app, &corp_app(&s.corp_id, &s.secret), code, true).await
}
