//! `wecom_web`: a page opened inside the WeCom client signs in through WeCom's OAuth
//! (`/connect/oauth2/authorize`, reference §3): silently with `snsapi_base`, or with the person's consent
//! for private fields with `snsapi_privateinfo` (then `auth/getuserdetail` gives mobile, email, avatar).

use async_trait::async_trait;
use serde_json::{Value, json};

use super::adapter::{Connector, ConnectorError, Input};
use super::fields::{field, optional_str};
use super::wecom_qrcode::{corp_app, validate_corp_app};
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::Connection;

pub struct Web;

#[async_trait]
impl Connector for Web {
    fn kind(&self) -> &'static str {
        "wecom_web"
    }

    fn fields(&self) -> &'static [&'static str] {
        &["corp_id", "agent_id", "secret", "scope"]
    }

    fn validate(&self, input: &Input, existing: Option<&Connection>) -> Result<(Value, Value), String> {
        let (mut settings, secrets) = validate_corp_app(input, existing)?;
        let scope = optional_str(input, "scope")?
            .or_else(|| existing.and_then(|c| field(&c.settings, "scope").map(String::from)))
            .unwrap_or_else(|| "snsapi_base".into());
        if scope != "snsapi_base" && scope != "snsapi_privateinfo" {
            return Err("scope must be snsapi_base or snsapi_privateinfo".into());
        }
        settings.insert("scope".into(), json!(scope));
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
        let scope = match field(&connection.settings, "scope") {
            Some("snsapi_privateinfo") => wecom::url::OAuthScope::PrivateInfo,
            _ => wecom::url::OAuthScope::Base,
        };
        // agentid is mandatory with snsapi_privateinfo and recommended otherwise (reference §3).
        Ok(wecom::url::oauth_url(
            &app.settings.wecom_oauth_base,
            &corp.corp_id,
            callback,
            scope,
            state,
            Some(&agent_id),
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
