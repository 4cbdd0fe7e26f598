//! What a connection is configured with, typed: the kind-specific settings ([`KindSettings`], a variant
//! per kind), the account association, and the optional domain-verification file. Parsed once when the
//! connection is read from the store; bad stored data is an error, never a silent default.
//!
//! Stored as two JSON objects (columns): the non-secret fields, and the secret ones (sealed at rest). A
//! field's name says which it is ([`SECRET_FIELDS`]), so the split needs no per-kind code.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The fields that are secrets, in any kind. Never returned by the admin API.
pub const SECRET_FIELDS: &[&str] = &[
    "secret",
    "token",
    "encoding_aes_key",
    "template_secret",
    "suite_secret",
    "provider_secret",
    "client_secret",
    "app_secret",
    "encrypt_key",
    "verification_token",
    "bind_password",
];

/// `wecom_qrcode`: a self-built app's PC QR login.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct QrCodeSettings {
    pub corp_id: String,
    pub agent_id: String,
    pub secret: String,
    /// The app's callback Token (接收消息 → API 接收): with `encoding_aes_key`, WeCom's address-book events
    /// reach the connection's event URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
}

/// `wecom_web`: a page inside the WeCom client, through WeCom's OAuth.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSettings {
    pub corp_id: String,
    pub agent_id: String,
    pub secret: String,
    pub scope: WebScope,
    /// The app's callback Token (接收消息 → API 接收): with `encoding_aes_key`, WeCom's address-book events
    /// reach the connection's event URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebScope {
    /// Silent: the userid only.
    SnsapiBase,
    /// With the person's consent: mobile, email and avatar too.
    SnsapiPrivateinfo,
}

/// `wecom_mobile`: a native app with the WeCom SDK.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct MobileSettings {
    pub corp_id: String,
    pub agent_id: String,
    pub secret: String,
    /// The SDK schema WeCom shows for the app (`wwauth…`).
    pub schema: String,
    /// The app's callback Token (接收消息 → API 接收): with `encoding_aes_key`, WeCom's address-book events
    /// reach the connection's event URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
}

/// `wecom_delegated`: a self-built app in delegated-development mode. The template's id and secret come
/// after WeCom verified the event URL; the corp and agent id are learned from the authorization unless set.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DelegatedSettings {
    pub token: String,
    pub encoding_aes_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_corp_id: Option<String>,
    /// The provider secret: converts a plain `corp_id` into the encrypted one WeCom uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_secret: Option<String>,
    /// The authorizing corp: its encrypted id, or the plain enterprise id (converted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// `wecom_provider`: a service provider's app, through a login-authorization suite (`suite_id` with its
/// secret and event URL credentials) or the provider secret alone.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderSettings {
    /// The provider's own corp id.
    pub corp_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_secret: Option<String>,
    /// Corps allowed to sign in, by encrypted or plain (converted) id; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_corps: Option<Vec<String>>,
}

/// `dingtalk_qrcode`, `dingtalk_web`, `dingtalk_mobile`: an internal DingTalk app (企业内部应用) of one
/// organisation — its Client ID (AppKey), Client Secret (AppSecret) and the organisation's CorpId.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DingTalkSettings {
    pub client_id: String,
    pub client_secret: String,
    pub corp_id: String,
}

/// `feishu`: a Feishu/Lark custom app (企业自建应用): its App ID (`cli_…`) and App Secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct FeishuSettings {
    pub app_id: String,
    pub app_secret: String,
    /// Scopes asked for at the authorize page (enabled for the app first): without them `user_info` names
    /// the person only (no email, mobile or user_id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// `feishu_marketplace`: a Feishu marketplace app (应用商店应用), its event URL's Encrypt Key and Verification
/// Token (the hourly `app_ticket` arrives there), and the tenants allowed to sign in.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct FeishuMarketplaceSettings {
    pub app_id: String,
    pub app_secret: String,
    pub encrypt_key: String,
    pub verification_token: String,
    #[serde(default)]
    pub allowed_tenants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// `ldap`: an LDAP directory or Active Directory, signed in to with wegate's own form: search with the search
/// account, then bind as the one entry found.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct LdapSettings {
    /// `ldaps://host[:port]` or `ldap://host[:port]` (with `start_tls`, or on this machine only).
    pub url: String,
    #[serde(default)]
    pub start_tls: bool,
    /// The CA (PEM) the directory's certificate must chain to; absent: the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    pub bind_dn: String,
    pub bind_password: String,
    pub user_base_dn: String,
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    #[serde(default = "default_login_attributes")]
    pub login_attributes: Vec<String>,
    #[serde(default = "default_id_attribute")]
    pub id_attribute: String,
    #[serde(default = "default_name_attribute")]
    pub name_attribute: String,
    #[serde(default = "default_email_attribute")]
    pub email_attribute: String,
    #[serde(default = "default_phone_attribute")]
    pub phone_attribute: String,
}

fn default_user_filter() -> String {
    "(objectClass=person)".into()
}
fn default_login_attributes() -> Vec<String> {
    vec!["uid".into()]
}
fn default_id_attribute() -> String {
    "entryUUID".into()
}
fn default_name_attribute() -> String {
    "cn".into()
}
fn default_email_attribute() -> String {
    "mail".into()
}
fn default_phone_attribute() -> String {
    "telephoneNumber".into()
}

/// How a client authenticates at an upstream's token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

/// Which upstream claim (a dotted path) fills each standard claim: `name`, `email`, `phone_number`,
/// `preferred_username`, `picture`. A claim not named comes from the upstream claim of the same name.
pub type ClaimMap = std::collections::BTreeMap<String, String>;

/// `oidc`: any OpenID Connect provider, by its issuer (discovery and keys come from there).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub client_auth_method: ClientAuthMethod,
    #[serde(default, skip_serializing_if = "ClaimMap::is_empty")]
    pub claims: ClaimMap,
    #[serde(default = "yes")]
    pub use_userinfo: bool,
    /// Claims the verified ID token must carry with exactly these values (Google's `hd`, Entra's `tid`);
    /// anyone else is refused. Empty: no such rule.
    #[serde(default, skip_serializing_if = "ClaimMap::is_empty")]
    pub required_claims: ClaimMap,
}

/// `oauth2`: a plain OAuth 2.0 provider with a userinfo endpoint, configured endpoint by endpoint.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2Settings {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub client_auth_method: ClientAuthMethod,
    /// The dotted path of the person's stable id in the userinfo JSON (`id`, `data.user_id`).
    pub user_id_field: String,
    #[serde(default, skip_serializing_if = "ClaimMap::is_empty")]
    pub claims: ClaimMap,
}

pub fn default_oidc_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn yes() -> bool {
    true
}

/// The kind-specific settings of a connection. `Debug` shows the non-secret fields only.
#[derive(Clone, PartialEq)]
pub enum KindSettings {
    QrCode(QrCodeSettings),
    Web(WebSettings),
    Mobile(MobileSettings),
    Delegated(DelegatedSettings),
    Provider(ProviderSettings),
    Oidc(OidcSettings),
    OAuth2(OAuth2Settings),
    DingTalkQrCode(DingTalkSettings),
    DingTalkWeb(DingTalkSettings),
    DingTalkMobile(DingTalkSettings),
    Feishu(FeishuSettings),
    FeishuMarketplace(FeishuMarketplaceSettings),
    Ldap(LdapSettings),
}

impl std::fmt::Debug for KindSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.kind()).field("settings", &self.split().0).field("secrets", &"<redacted>").finish()
    }
}

/// The `WW_verify_*.txt` file WeCom's trusted-domain check downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainFile {
    pub filename: String,
    pub content: String,
}

pub const DOMAIN_VERIFICATION: &str = "domain_verification";
/// Stored with the settings: whether the connection's WeCom emails count as verified.
pub const TRUST_EMAIL: &str = "trust_email";
/// Stored with the settings: the login button's icon.
pub const ICON_URL: &str = "icon_url";

impl KindSettings {
    /// The Token and EncodingAESKey of the connection's event URL, when it has one.
    pub fn event_secrets(&self) -> Option<(&str, &str)> {
        let (token, key) = match self {
            KindSettings::QrCode(s) => (s.token.as_deref(), s.encoding_aes_key.as_deref()),
            KindSettings::Web(s) => (s.token.as_deref(), s.encoding_aes_key.as_deref()),
            KindSettings::Mobile(s) => (s.token.as_deref(), s.encoding_aes_key.as_deref()),
            KindSettings::Delegated(s) => (Some(s.token.as_str()), Some(s.encoding_aes_key.as_str())),
            KindSettings::Provider(s) => (s.token.as_deref(), s.encoding_aes_key.as_deref()),
            KindSettings::Oidc(_)
            | KindSettings::OAuth2(_)
            | KindSettings::DingTalkQrCode(_)
            | KindSettings::DingTalkWeb(_)
            | KindSettings::DingTalkMobile(_)
            | KindSettings::Feishu(_)
            | KindSettings::FeishuMarketplace(_)
            | KindSettings::Ldap(_) => (None, None),
        };
        token.zip(key)
    }

    /// A self-built app's corp id and secret (`wecom_qrcode`, `wecom_web`, `wecom_mobile`).
    /// A DingTalk connection's app, whichever of the three kinds.
    pub fn dingtalk(&self) -> Option<&DingTalkSettings> {
        match self {
            KindSettings::DingTalkQrCode(s) | KindSettings::DingTalkWeb(s) | KindSettings::DingTalkMobile(s) => Some(s),
            _ => None,
        }
    }

    pub fn corp_app(&self) -> Option<(&str, &str)> {
        match self {
            KindSettings::QrCode(s) => Some((&s.corp_id, &s.secret)),
            KindSettings::Web(s) => Some((&s.corp_id, &s.secret)),
            KindSettings::Mobile(s) => Some((&s.corp_id, &s.secret)),
            _ => None,
        }
    }

    /// The `kind` string of the admin API.
    pub fn kind(&self) -> &'static str {
        match self {
            KindSettings::QrCode(_) => "wecom_qrcode",
            KindSettings::Web(_) => "wecom_web",
            KindSettings::Mobile(_) => "wecom_mobile",
            KindSettings::Delegated(_) => "wecom_delegated",
            KindSettings::Provider(_) => "wecom_provider",
            KindSettings::Oidc(_) => "oidc",
            KindSettings::OAuth2(_) => "oauth2",
            KindSettings::DingTalkQrCode(_) => "dingtalk_qrcode",
            KindSettings::DingTalkWeb(_) => "dingtalk_web",
            KindSettings::DingTalkMobile(_) => "dingtalk_mobile",
            KindSettings::Feishu(_) => "feishu",
            KindSettings::FeishuMarketplace(_) => "feishu_marketplace",
            KindSettings::Ldap(_) => "ldap",
        }
    }

    /// Parses one flat object of fields (non-secret and secret together) as the settings of `kind`.
    pub fn parse(kind: &str, fields: &Map<String, Value>) -> Result<KindSettings, String> {
        let mut fields = fields.clone();
        fields.remove(DOMAIN_VERIFICATION);
        fields.remove(TRUST_EMAIL);
        fields.remove(ICON_URL);
        let value = Value::Object(fields);
        let parsed = match kind {
            "wecom_qrcode" => serde_json::from_value(value).map(KindSettings::QrCode),
            "wecom_web" => serde_json::from_value(value).map(KindSettings::Web),
            "wecom_mobile" => serde_json::from_value(value).map(KindSettings::Mobile),
            "wecom_delegated" => serde_json::from_value(value).map(KindSettings::Delegated),
            "wecom_provider" => serde_json::from_value(value).map(KindSettings::Provider),
            "oidc" => serde_json::from_value(value).map(KindSettings::Oidc),
            "oauth2" => serde_json::from_value(value).map(KindSettings::OAuth2),
            "dingtalk_qrcode" => serde_json::from_value(value).map(KindSettings::DingTalkQrCode),
            "dingtalk_web" => serde_json::from_value(value).map(KindSettings::DingTalkWeb),
            "dingtalk_mobile" => serde_json::from_value(value).map(KindSettings::DingTalkMobile),
            "feishu" => serde_json::from_value(value).map(KindSettings::Feishu),
            "feishu_marketplace" => serde_json::from_value(value).map(KindSettings::FeishuMarketplace),
            "ldap" => serde_json::from_value(value).map(KindSettings::Ldap),
            other => return Err(format!("unknown connection kind {other}")),
        };
        parsed.map_err(|e| format!("{kind} settings: {e}"))
    }

    /// All fields as one flat object (the inverse of [`KindSettings::parse`]).
    pub fn fields(&self) -> Map<String, Value> {
        let value = match self {
            KindSettings::QrCode(s) => serde_json::to_value(s),
            KindSettings::Web(s) => serde_json::to_value(s),
            KindSettings::Mobile(s) => serde_json::to_value(s),
            KindSettings::Delegated(s) => serde_json::to_value(s),
            KindSettings::Provider(s) => serde_json::to_value(s),
            KindSettings::Oidc(s) => serde_json::to_value(s),
            KindSettings::OAuth2(s) => serde_json::to_value(s),
            KindSettings::DingTalkQrCode(s) | KindSettings::DingTalkWeb(s) | KindSettings::DingTalkMobile(s) => {
                serde_json::to_value(s)
            }
            KindSettings::Feishu(s) => serde_json::to_value(s),
            KindSettings::FeishuMarketplace(s) => serde_json::to_value(s),
            KindSettings::Ldap(s) => serde_json::to_value(s),
        };
        match value {
            Ok(Value::Object(map)) => map,
            // Plain structs serialise to objects; nothing else can come out.
            _ => Map::new(),
        }
    }

    /// (non-secret fields, secret fields), as stored.
    pub fn split(&self) -> (Map<String, Value>, Map<String, Value>) {
        self.fields().into_iter().partition(|(k, _)| !SECRET_FIELDS.contains(&k.as_str()))
    }
}

/// How a connection links upstream identities to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Association {
    pub mode: AssociationMode,
    #[serde(default)]
    pub fields: Vec<MatchField>,
}

impl Default for Association {
    fn default() -> Self {
        Association { mode: AssociationMode::None, fields: Vec::new() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssociationMode {
    /// A new user per new upstream identity.
    None,
    /// Link to the existing user whose chosen fields equal the upstream profile's.
    Match,
    /// The person signs in to the existing account once to link it.
    AskToBind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    Email,
    Phone,
    /// The user's username against the WeCom userid.
    Username,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn settings_round_trip_through_their_two_columns() {
        let fields =
            object(json!({"corp_id": "ww1", "agent_id": "1000002", "secret": "s", "scope": "snsapi_privateinfo"}));
        let parsed = KindSettings::parse("wecom_web", &fields).unwrap();
        let (settings, secrets) = parsed.split();
        assert_eq!(Value::Object(secrets), json!({"secret": "s"}));
        assert!(!settings.contains_key("secret"));
        let mut joined = settings;
        joined.insert("secret".into(), json!("s"));
        assert_eq!(KindSettings::parse("wecom_web", &joined).unwrap(), parsed);
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let fields = object(json!({"corp_id": "ww1", "agent_id": "1", "secret": "hunter2hunter2"}));
        let parsed = KindSettings::parse("wecom_qrcode", &fields).unwrap();
        assert!(!format!("{parsed:?}").contains("hunter2"));
    }

    #[test]
    fn bad_stored_data_is_an_error_not_a_default() {
        let missing = object(json!({"corp_id": "ww1", "agent_id": "1000002"}));
        assert!(KindSettings::parse("wecom_qrcode", &missing).unwrap_err().contains("secret"));
        let bad_scope = object(json!({"corp_id": "ww1", "agent_id": "1", "secret": "s", "scope": "snsapi_all"}));
        assert!(KindSettings::parse("wecom_web", &bad_scope).is_err());
        assert!(KindSettings::parse("wecom_other", &Map::new()).is_err());
    }
}
