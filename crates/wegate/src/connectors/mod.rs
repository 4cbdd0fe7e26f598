//! Connectors: one module per connection kind, behind one seam — this file. A kind says
//! - which of the admin's fields are its own, and checks them ([`fields_of`], [`validate`]);
//! - where a browser sees it ([`presence`], [`signs_in_silently`]);
//! - how a login starts ([`start`]: a redirect to the upstream, with what the callback will need kept in the
//!   login transaction) and how it ends ([`finish`]: the upstream's answer at the callback → an
//!   [`crate::accounts::UpstreamIdentity`]: the upstream's key, a stable subject, claims, and which of them
//!   the upstream vouches for);
//! - what it optionally offers: the membership re-check of a refresh ([`still_member`]), whether a session
//!   made elsewhere may enter through it ([`admits`]), a native app's code exchanged at `/token`
//!   ([`native_exchange`]), an event URL ([`has_event_url`]).
//!
//! HTTP-free adapters: no handler, no page, no cookie; errors are values ([`ConnectorError`]). The kind is
//! the variant of the connection's typed settings ([`KindSettings`]), so dispatch is a `match` here and a
//! kind's code only ever sees its own settings. Everything else — login flow, sessions, accounts, codes,
//! tokens, audit — is the same for every kind and never asks which one it runs.

pub mod advice;
pub mod corp_ids;
pub mod corp_member;
pub mod dingtalk;
pub mod error;
pub mod feishu;
pub mod fields;
pub mod ldap;
pub mod oauth;
pub mod oauth2;
pub mod oidc;
pub mod seam;
pub mod wecom_delegated;
pub mod wecom_mobile;
pub mod wecom_provider;
pub mod wecom_qrcode;
pub mod wecom_web;

use serde_json::{Map, Value};

pub use error::{ConnectorError, SetupStep};
pub use seam::{Answer, Standing, Start, StartRequest};

use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::{Connection, DOMAIN_VERIFICATION, DomainFile, EMAIL_VERIFIED, KindSettings};

pub const KINDS: &[&str] = &[
    "wecom_qrcode",
    "wecom_web",
    "wecom_mobile",
    "wecom_delegated",
    "wecom_provider",
    "dingtalk_qrcode",
    "dingtalk_web",
    "dingtalk_mobile",
    "feishu",
    "feishu_marketplace",
    "ldap",
    "oidc",
    "oauth2",
];

/// The kind-specific fields of the admin API for `kind`; any other is refused, so that a field meant for
/// another kind is not silently dropped.
pub fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "wecom_qrcode" => Some(wecom_qrcode::FIELDS),
        "wecom_web" => Some(wecom_web::FIELDS),
        "wecom_mobile" => Some(wecom_mobile::FIELDS),
        "wecom_delegated" => Some(wecom_delegated::FIELDS),
        "wecom_provider" => Some(wecom_provider::FIELDS),
        "oidc" => Some(oidc::FIELDS),
        "oauth2" => Some(oauth2::FIELDS),
        "dingtalk_qrcode" | "dingtalk_web" | "dingtalk_mobile" => Some(dingtalk::FIELDS),
        "feishu" => Some(feishu::FIELDS),
        "feishu_marketplace" => Some(feishu::MARKETPLACE_FIELDS),
        "ldap" => Some(ldap::FIELDS),
        _ => None,
    }
}

/// Whether a browser can sign in through it (a button on the login page). `wecom_mobile` and
/// `dingtalk_mobile` cannot.
pub fn has_browser_login(settings: &KindSettings) -> bool {
    !matches!(settings, KindSettings::Mobile(_) | KindSettings::DingTalkMobile(_))
}

/// How a connection shows on the login page of a browser with this User-Agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// A button.
    Button,
    /// No button here: it works only inside its workplace app's own browser (`wecom_web` outside WeCom,
    /// `dingtalk_web` outside DingTalk).
    InsideItsClientOnly,
    /// Never in a browser (native apps only).
    Never,
}

/// Whether the browser is WeCom's in-app browser (its User-Agent says `wxwork`).
fn in_wecom(user_agent: &str) -> bool {
    user_agent.to_ascii_lowercase().contains("wxwork")
}

/// Whether the browser is DingTalk's (its User-Agent says `DingTalk`, CONTRACT.md), where the JSAPI answers.
fn in_dingtalk(user_agent: &str) -> bool {
    user_agent.contains("DingTalk")
}

/// Whether the browser is the Feishu / Lark client's (its User-Agent names `Lark` or `Feishu`), where Feishu's
/// authorize page confirms by itself [FS-authz].
fn in_feishu(user_agent: &str) -> bool {
    user_agent.contains("Lark") || user_agent.contains("Feishu")
}

pub fn presence(settings: &KindSettings, user_agent: &str) -> Presence {
    match settings {
        KindSettings::Mobile(_) | KindSettings::DingTalkMobile(_) => Presence::Never,
        // WeCom's in-app OAuth page refuses other browsers.
        KindSettings::Web(_) if !in_wecom(user_agent) => Presence::InsideItsClientOnly,
        // Only DingTalk's browser has the JSAPI that gives a 免登 code.
        KindSettings::DingTalkWeb(_) if !in_dingtalk(user_agent) => Presence::InsideItsClientOnly,
        _ => Presence::Button,
    }
}

/// Whether a browser with this User-Agent goes to the connection without a click (the app's first such
/// connection): `wecom_web` inside WeCom, `dingtalk_web` inside DingTalk, whose sign-ins are silent there.
pub fn signs_in_silently(settings: &KindSettings, user_agent: &str) -> bool {
    match settings {
        KindSettings::Web(_) => in_wecom(user_agent),
        KindSettings::DingTalkWeb(_) => in_dingtalk(user_agent),
        KindSettings::Feishu(_) | KindSettings::FeishuMarketplace(_) => in_feishu(user_agent),
        _ => false,
    }
}

/// The `subject_token_type` a native app presents an upstream code with at `/token` (RFC 8693), for the
/// kinds that take one.
pub fn native_token_type(settings: &KindSettings) -> Option<&'static str> {
    match settings {
        KindSettings::Mobile(_) => Some(wecom_mobile::SUBJECT_TOKEN_TYPE),
        KindSettings::DingTalkMobile(_) => Some(dingtalk::SUBJECT_TOKEN_TYPE),
        _ => None,
    }
}

/// Whether native apps exchange an upstream code for tokens through it (RFC 8693 at `/token`).
pub fn native_exchange_kind(settings: &KindSettings) -> bool {
    native_token_type(settings).is_some()
}

/// The name pages give the upstream of a failed sign-in: None for WeCom's kinds, whose messages name
/// WeCom; otherwise the connection's display name.
pub fn provider_name(connection: &Connection) -> Option<&str> {
    match connection.settings {
        KindSettings::Oidc(_)
        | KindSettings::OAuth2(_)
        | KindSettings::DingTalkQrCode(_)
        | KindSettings::DingTalkWeb(_)
        | KindSettings::DingTalkMobile(_)
        | KindSettings::Feishu(_)
        | KindSettings::FeishuMarketplace(_)
        | KindSettings::Ldap(_) => Some(&connection.display_name),
        _ => None,
    }
}

/// Whether the kind's calls are made with a WeCom service provider's credentials.
pub fn provider_calls(settings: &KindSettings) -> bool {
    matches!(settings, KindSettings::Delegated(_) | KindSettings::Provider(_))
}

/// Whether WeCom pushes events to the connection's event URL: delegated and provider connections always,
/// self-built ones once given the app's callback Token and EncodingAESKey.
pub fn has_event_url(settings: &KindSettings) -> bool {
    matches!(settings, KindSettings::Delegated(_) | KindSettings::Provider(_) | KindSettings::FeishuMarketplace(_))
        || settings.event_secrets().is_some()
}

/// Whether the person `subject` (as the connection's identities name them) may still use the connection's
/// app: `user/get` with the app's credentials (deleted, disabled, left or out of the visible scope = no). A
/// corp that cancelled a delegated authorization keeps nobody. Provider connections have no address-book
/// access in their login suites, so they answer yes (stated in CONTRACT-facing docs).
///
/// `upstream` is the identity space the grant was made in: when the connection now serves another corp (its
/// `corp_id` changed, a delegated connection was rebound), asking that corp would wrongly answer "gone", so
/// the answer is an error (the caller treats it as "cannot tell").
pub async fn still_member(
    app: &App,
    connection: &Connection,
    upstream: &str,
    subject: &str,
) -> Result<Standing, ConnectorError> {
    let corp = match &connection.settings {
        // No address book to ask: the grant stands while the connection still serves its identity space
        // (an issuer changed, an OAuth 2.0 connection re-pointed elsewhere: not admitted any more).
        KindSettings::Oidc(_) | KindSettings::OAuth2(_) => {
            let same = own_space(connection).as_deref() == Some(upstream);
            return Ok(if same { Standing::Member } else { Standing::NotAdmitted });
        }
        KindSettings::Delegated(s) => match wecom_delegated::authorized_app(app, connection, s).await {
            Ok((corp, _)) => corp,
            Err(ConnectorError::CorpNotAllowed(_)) => return Ok(Standing::NotAdmitted),
            Err(e) => return Err(e),
        },
        KindSettings::Provider(_) => return Ok(Standing::Member),
        KindSettings::DingTalkQrCode(s) | KindSettings::DingTalkWeb(s) | KindSettings::DingTalkMobile(s) => {
            let present = dingtalk::still_member(app, s, upstream, subject).await?;
            return Ok(if present { Standing::Member } else { Standing::Departed });
        }
        KindSettings::Feishu(_) | KindSettings::FeishuMarketplace(_) => {
            return feishu::still_member(app, connection, upstream, subject).await;
        }
        // Asked of the directory: the entry of the id, still under the base and the filter.
        KindSettings::Ldap(s) => {
            if upstream != ldap::space(connection, s) {
                return Ok(Standing::NotAdmitted);
            }
            return match ldap::still_there(s, subject).await {
                Ok(true) => Ok(Standing::Member),
                Ok(false) => Ok(Standing::Departed),
                Err(e) => Err(ConnectorError::Config(e.to_string())),
            };
        }
        other => match other.corp_app() {
            Some((corp_id, secret)) => wecom_qrcode::corp_app(corp_id, secret),
            None => return Ok(Standing::Member),
        },
    };
    if upstream != format!("wecom:{}", corp.corp_id) {
        return Err(ConnectorError::Config(format!(
            "the grant was made in {upstream}, but the connection now serves wecom:{}",
            corp.corp_id
        )));
    }
    match corp_member::check_member(app, &corp, subject).await {
        Ok(_) => Ok(Standing::Member),
        Err(ConnectorError::NotAllowed(_)) => Ok(Standing::NotAdmitted),
        Err(ConnectorError::Departed(_)) => Ok(Standing::Departed),
        Err(e) => Err(e),
    }
}

/// The one identity space of a connection whose space its settings alone say (`oidc`, `oauth2`).
fn own_space(connection: &Connection) -> Option<String> {
    match &connection.settings {
        KindSettings::Oidc(s) => Some(oidc::upstream(&s.issuer)),
        KindSettings::OAuth2(s) => Some(oauth2::upstream(&connection.identifier, s)),
        _ => None,
    }
}

/// The kind's own checks of settings that parsed.
pub fn validate(settings: &KindSettings) -> Result<(), String> {
    match settings {
        KindSettings::QrCode(s) => wecom_qrcode::validate(s),
        KindSettings::Web(s) => wecom_web::validate(s),
        KindSettings::Mobile(s) => wecom_mobile::validate(s),
        KindSettings::Delegated(s) => wecom_delegated::validate(s),
        KindSettings::Provider(s) => wecom_provider::validate(s),
        KindSettings::Oidc(s) => oidc::validate(s),
        KindSettings::OAuth2(s) => oauth2::validate(s),
        KindSettings::DingTalkQrCode(s) | KindSettings::DingTalkWeb(s) | KindSettings::DingTalkMobile(s) => {
            dingtalk::validate(s)
        }
        KindSettings::Feishu(s) => feishu::validate(s),
        KindSettings::FeishuMarketplace(s) => feishu::validate_marketplace(s),
        KindSettings::Ldap(s) => ldap::validate(s),
    }
}

/// Where to send the browser, and what to keep until it comes back.
pub async fn start(app: &App, connection: &Connection, request: StartRequest<'_>) -> Result<Start, ConnectorError> {
    let StartRequest { state, callback, lang } = request;
    let redirect = |url: String| Start::Redirect { url, carry: None };
    match &connection.settings {
        KindSettings::QrCode(s) => Ok(redirect(wecom_qrcode::login_url(app, s, state, callback, lang))),
        KindSettings::Web(s) => Ok(redirect(wecom_web::login_url(app, s, state, callback))),
        KindSettings::Mobile(_) | KindSettings::DingTalkMobile(_) => Err(no_browser_login(&connection.settings)),
        KindSettings::Delegated(s) => {
            wecom_delegated::login_url(app, connection, s, state, callback, lang).await.map(redirect)
        }
        KindSettings::Provider(s) => wecom_provider::login_url(app, s, state, callback, lang).await.map(redirect),
        KindSettings::Oidc(s) => oidc::start(app, s, request).await,
        KindSettings::OAuth2(s) => oauth2::start(s, request),
        KindSettings::DingTalkQrCode(s) => Ok(dingtalk::start_login_page(app, s, request)),
        KindSettings::DingTalkWeb(s) => Ok(dingtalk::start_in_client(app, s)),
        KindSettings::Feishu(s) => Ok(feishu::start(app, &s.app_id, &s.scopes, request)),
        KindSettings::FeishuMarketplace(s) => Ok(feishu::start(app, &s.app_id, &s.scopes, request)),
        KindSettings::Ldap(_) => Ok(Start::Form),
    }
}

fn no_browser_login(settings: &KindSettings) -> ConnectorError {
    ConnectorError::Config(format!(
        "{} has no browser login; its native app presents a code at /token",
        settings.kind()
    ))
}

/// Turns the upstream's answer into the person.
pub async fn finish(
    app: &App,
    connection: &Connection,
    answer: &Answer<'_>,
) -> Result<UpstreamIdentity, ConnectorError> {
    let identity = match &connection.settings {
        KindSettings::QrCode(s) => wecom_qrcode::exchange(app, s, answer.wecom_code("code")?).await,
        KindSettings::Web(s) => wecom_web::exchange(app, s, answer.wecom_code("code")?).await,
        KindSettings::Mobile(_) | KindSettings::DingTalkMobile(_) => Err(no_browser_login(&connection.settings)),
        KindSettings::Delegated(s) => wecom_delegated::exchange(app, connection, s, answer.wecom_code("code")?).await,
        // The provider login (`3rd_qrConnect`) names its code `auth_code`.
        KindSettings::Provider(s) => {
            let code = answer.wecom_code("auth_code").or_else(|_| answer.wecom_code("code"))?;
            wecom_provider::exchange(app, connection, s, code).await
        }
        KindSettings::Oidc(s) => oidc::finish(app, s, answer).await,
        KindSettings::OAuth2(s) => oauth2::finish(app, connection, s, answer).await,
        KindSettings::DingTalkQrCode(s) => dingtalk::finish_login_page(app, s, answer).await,
        KindSettings::DingTalkWeb(s) => dingtalk::finish_in_client(app, s, answer).await,
        KindSettings::Feishu(s) => feishu::finish(app, connection, s, answer).await,
        KindSettings::FeishuMarketplace(s) => feishu::finish_marketplace(app, s, answer).await,
        // A directory answers at wegate's own form (`login::directory`), never at the callback.
        KindSettings::Ldap(_) => Err(ConnectorError::Config("an ldap connection has no callback".into())),
    }?;
    Ok(with_trust(connection, identity))
}

/// A native app's upstream code (the WeCom SDK's) → the person.
pub async fn native_exchange(
    app: &App,
    connection: &Connection,
    code: &str,
) -> Result<UpstreamIdentity, ConnectorError> {
    let identity = match &connection.settings {
        KindSettings::Mobile(s) => wecom_mobile::exchange(app, s, code).await?,
        KindSettings::DingTalkMobile(s) => dingtalk::exchange_code(app, s, code).await?,
        _ => return Err(ConnectorError::Config(format!("{} takes no native code", connection.kind()))),
    };
    Ok(with_trust(connection, identity))
}

/// `email_verified` as the upstream states it, or as the connection's admin vouches (`trust_email`): a
/// corp admin sets members' emails freely, and so may anyone on a provider that does not verify them.
pub fn with_trust(connection: &Connection, mut identity: UpstreamIdentity) -> UpstreamIdentity {
    let stated = identity.claims.get(EMAIL_VERIFIED).and_then(Value::as_bool).unwrap_or(false);
    let verified = identity.email.is_some() && (connection.trust_email || stated);
    if connection.trust_email && identity.email.is_some() {
        identity.vouched.email = true;
    }
    if let Some(claims) = identity.claims.as_object_mut() {
        claims.insert(EMAIL_VERIFIED.into(), Value::Bool(verified));
    }
    identity
}

/// Fields whose `null` in a PATCH removes them; any other `null` means "not given".
pub const CLEARABLE: &[&str] =
    &[DOMAIN_VERIFICATION, "allowed_corps", "allowed_tenants", "scopes", "claims", "required_claims", "ca_pem"];

/// Fields given as lists: a string is split on spaces and commas (forms send one line).
const LIST_FIELDS: &[&str] = &["scopes", "allowed_corps", "allowed_tenants", "login_attributes"];
/// Fields given as objects: a string is read as `name=value` pairs, one per line or comma-separated.
const MAP_FIELDS: &[&str] = &["claims", "required_claims"];
/// Boolean fields: a string `true`/`false` (forms) is taken as the boolean.
const BOOL_FIELDS: &[&str] = &["use_userinfo", "start_tls"];

/// A field as the typed settings read it, from the forms' plain strings.
fn typed_input(name: &str, text: &str) -> Result<Value, String> {
    if LIST_FIELDS.contains(&name) {
        let items = text.split([' ', ',', '\n', '\r', '\t']).filter(|s| !s.is_empty());
        return Ok(Value::Array(items.map(|s| Value::String(s.to_string())).collect()));
    }
    if MAP_FIELDS.contains(&name) {
        let mut map = Map::new();
        for pair in text.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(format!("{name} must be name=value pairs (e.g. email=upn), not {pair:?}"));
            };
            map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
        }
        return Ok(Value::Object(map));
    }
    if BOOL_FIELDS.contains(&name) {
        return match text {
            "true" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("{name} must be true or false")),
        };
    }
    Ok(Value::String(text.to_string()))
}

/// The admin's kind-specific `input` (flat, as in the API body) applied to the stored connection, if any:
/// merged (given fields replace, `null` removes, absent and empty ones are kept — secrets included), then parsed,
/// then validated. Fields of another kind are refused.
pub fn settings_from_input(
    kind: &str,
    input: &Map<String, Value>,
    existing: Option<&Connection>,
) -> Result<(KindSettings, Option<DomainFile>), String> {
    let own = fields_of(kind).ok_or_else(|| format!("kind must be one of {}", KINDS.join(", ")))?;
    if let Some(foreign) = input.keys().find(|k| k.as_str() != DOMAIN_VERIFICATION && !own.contains(&k.as_str())) {
        return Err(format!("{foreign} does not apply to a {kind} connection (its fields: {})", own.join(", ")));
    }
    let mut merged = existing.map(|c| c.settings.fields()).unwrap_or_default();
    if let Some(file) = existing.and_then(|c| c.domain_verification.as_ref()) {
        merged.insert(DOMAIN_VERIFICATION.into(), serde_json::json!(file));
    }
    for (name, value) in input {
        match value {
            Value::Null => {
                merged.remove(name);
            }
            // An empty field is "not given" (forms send them): the stored value, a secret say, is kept.
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => {
                merged.insert(name.clone(), typed_input(name, s.trim())?);
            }
            // The AgentID is a number in WeCom's console; we keep it as the string the URLs carry.
            Value::Number(n) if name == "agent_id" => {
                merged.insert(name.clone(), Value::String(n.to_string()));
            }
            other => {
                merged.insert(name.clone(), other.clone());
            }
        }
    }
    if kind == "wecom_web" {
        match merged.get("scope").and_then(Value::as_str) {
            None => {
                merged.insert("scope".into(), Value::String("snsapi_base".into()));
            }
            Some("snsapi_base" | "snsapi_privateinfo") => {}
            Some(_) => return Err("scope must be snsapi_base or snsapi_privateinfo".into()),
        }
    }
    if let Some(existing) = existing {
        kept_secret_goes_where_it_went(kind, input, &existing.settings.fields(), &merged)?;
    }
    let domain_file = match merged.remove(DOMAIN_VERIFICATION) {
        None => None,
        Some(v) => {
            let file: DomainFile = serde_json::from_value(v).map_err(|_| {
                "domain_verification must be {\"filename\": \"WW_verify_….txt\", \"content\": \"…\"}".to_string()
            })?;
            fields::validate_domain_file(&file)?;
            Some(file)
        }
    };
    let settings = KindSettings::parse(kind, &merged)?;
    validate(&settings)?;
    Ok((settings, domain_file))
}

/// Per kind, the fields that say where a stored secret is sent, and that secret.
const SECRET_DESTINATIONS: &[(&str, &[&str], &str)] = &[
    // The CA and StartTLS say which server may answer for that address: a CA of one's own is another server.
    ("ldap", &["url", "ca_pem", "start_tls"], "bind_password"),
    ("oidc", &["issuer"], "client_secret"),
    ("oauth2", &["token_endpoint"], "client_secret"),
];

/// A stored secret is kept across an update only while it would be sent where it was sent before: an update
/// that points the connection elsewhere (and the console's "test connection" would at once connect there)
/// must give the secret again, or whoever may edit connections could have it sent to a host of theirs —
/// secrets go in, never out (keycloak/keycloak#47295 and PR #51748: the LDAP bind credential sent to a
/// changed connection URL).
fn kept_secret_goes_where_it_went(
    kind: &str,
    input: &Map<String, Value>,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), String> {
    for (k, destinations, secret) in SECRET_DESTINATIONS {
        let given = input.get(*secret).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
        if *k != kind || given || !before.contains_key(*secret) {
            continue;
        }
        if let Some(moved) = destinations.iter().find(|d| before.get(**d) != after.get(**d)) {
            return Err(format!(
                "{secret} must be given again when {moved} changes: a stored secret is only sent where it was sent before"
            ));
        }
    }
    Ok(())
}

/// Whether `connection` may let in, now, the person a session signed in as (`upstream` space, `subject`,
/// and `userid` as WeCom spells it), without asking them again. `same_connection` is true when the session
/// was made through this connection: its rules kept in the store (cancelled authorizations, allowed corps)
/// are checked again, but the visible scope only for another connection of the same corp (`user/get` with
/// that connection's own credentials — WeCom does not check it at sign-in, and an app's scope is its own).
/// A provider's open_userid belongs to its provider, so a provider connection only ever admits its own
/// sessions.
pub async fn admits(
    app: &App,
    connection: &Connection,
    upstream: &str,
    userid: &str,
    same_connection: bool,
) -> Result<(), ConnectorError> {
    let corp_app = |corp_id: &str, secret: &str| (format!("wecom:{corp_id}"), wecom_qrcode::corp_app(corp_id, secret));
    let (space, corp) = match &connection.settings {
        KindSettings::QrCode(s) => corp_app(&s.corp_id, &s.secret),
        KindSettings::Web(s) => corp_app(&s.corp_id, &s.secret),
        KindSettings::Mobile(s) => corp_app(&s.corp_id, &s.secret),
        KindSettings::Delegated(s) => {
            let (corp, _) = wecom_delegated::authorized_app(app, connection, s).await?;
            (format!("wecom:{}", corp.corp_id), corp)
        }
        // Another client registration at the same provider may be assigned to other people (Entra's "user
        // assignment required"): only the connection's own sessions enter through it.
        KindSettings::Oidc(_) | KindSettings::OAuth2(_) => {
            if !same_connection || own_space(connection).as_deref() != Some(upstream) {
                return Err(ConnectorError::NotAllowed(format!(
                    "{} admits only its own sessions",
                    connection.identifier
                )));
            }
            return Ok(());
        }
        // Feishu's open_ids are each app's own: a session of another connection names the person in another
        // app's ids. A marketplace connection's allow-list is asked again (a tenant may have been removed).
        KindSettings::Feishu(_) | KindSettings::FeishuMarketplace(_) => {
            let tenant = upstream.strip_prefix("feishu:");
            let bound = connection.state.get(feishu::BOUND_TENANT).and_then(Value::as_str);
            let allowed = match &connection.settings {
                KindSettings::FeishuMarketplace(s) => tenant.is_some_and(|t| s.allowed_tenants.iter().any(|a| a == t)),
                _ => tenant.is_some() && (bound.is_none() || bound == tenant),
            };
            if !same_connection || !allowed {
                return Err(ConnectorError::NotAllowed(format!(
                    "{} admits only its own sessions",
                    connection.identifier
                )));
            }
            return Ok(());
        }
        // A directory's sessions enter through its own connection only.
        KindSettings::Ldap(s) => {
            if !same_connection || upstream != ldap::space(connection, s) {
                return Err(ConnectorError::NotAllowed(format!(
                    "{} admits only its own sessions",
                    connection.identifier
                )));
            }
            return Ok(());
        }
        // Another DingTalk connection of the same organisation: its own app asks the directory again.
        KindSettings::DingTalkQrCode(s) | KindSettings::DingTalkWeb(s) | KindSettings::DingTalkMobile(s) => {
            if upstream != dingtalk::upstream(&s.corp_id) {
                return Err(ConnectorError::NotAllowed(format!(
                    "{upstream} is not the organisation of this connection"
                )));
            }
            if !same_connection && !dingtalk::still_member(app, s, upstream, userid).await? {
                return Err(ConnectorError::Departed(format!("{userid} left {}", s.corp_id)));
            }
            return Ok(());
        }
        KindSettings::Provider(s) => {
            if !same_connection {
                return Err(ConnectorError::NotAllowed("a provider connection admits only its own sessions".into()));
            }
            let corp_id = upstream.strip_prefix("wecom-open:").unwrap_or_default();
            // The same allow-list rule as at sign-in: encrypted ids exactly, plain ones converted.
            if let Some(allowed) = &s.allowed_corps
                && !wecom_provider::on_allow_list(app, connection, s, allowed, corp_id).await?
            {
                return Err(ConnectorError::CorpNotAllowed(format!("corp {corp_id} is not on the allow-list")));
            }
            if let Some(corp) = app.store.get_authorized_corp(&connection.identifier, corp_id).await?
                && corp.status != "active"
            {
                return Err(ConnectorError::CorpNotAllowed(format!("corp {corp_id} cancelled the authorization")));
            }
            return Ok(());
        }
    };
    if space != upstream {
        return Err(ConnectorError::NotAllowed(format!("{upstream} is not a member space of this connection")));
    }
    if !same_connection {
        corp_member::check_member(app, &corp, userid).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{Association, QrCodeSettings};

    fn input(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn stored(settings: KindSettings) -> Connection {
        Connection {
            identifier: "c".into(),
            display_name: "C".into(),
            login_only: false,
            association: Association::default(),
            settings,
            domain_verification: None,
            trust_email: false,
            icon_url: None,
            state: json!({}),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_patch_merges_then_parses_then_validates() {
        let existing = stored(KindSettings::QrCode(QrCodeSettings {
            corp_id: "ww1".into(),
            agent_id: "1000002".into(),
            secret: "kept".into(),
            token: None,
            encoding_aes_key: None,
        }));
        // Absent and empty fields keep the stored value, secrets included; a number AgentID becomes a string.
        let (settings, _) =
            settings_from_input("wecom_qrcode", &input(json!({"agent_id": 1000003, "secret": ""})), Some(&existing))
                .unwrap();
        let KindSettings::QrCode(s) = settings else { panic!("kind kept") };
        assert_eq!((s.agent_id.as_str(), s.secret.as_str()), ("1000003", "kept"));
        // Validated after the merge: a bad corp id is refused even when only it changes.
        let err =
            settings_from_input("wecom_qrcode", &input(json!({"corp_id": "no pe!"})), Some(&existing)).unwrap_err();
        assert!(err.contains("corp_id"), "{err}");
        // A field of another kind is named.
        let err = settings_from_input("wecom_qrcode", &input(json!({"schema": "x"})), Some(&existing)).unwrap_err();
        assert!(err.starts_with("schema does not apply"), "{err}");
    }

    #[test]
    fn null_removes_what_may_be_removed_and_web_scope_defaults_to_base() {
        let created = settings_from_input(
            "wecom_provider",
            &input(json!({"corp_id": "wwp", "provider_secret": "p", "allowed_corps": ["ww1"]})),
            None,
        )
        .unwrap();
        let existing = stored(created.0);
        let (settings, _) =
            settings_from_input("wecom_provider", &input(json!({"allowed_corps": null})), Some(&existing)).unwrap();
        let KindSettings::Provider(p) = settings else { panic!("provider") };
        assert_eq!(p.allowed_corps, None);
        assert_eq!(p.provider_secret.as_deref(), Some("p"), "secret kept");

        let (web, _) =
            settings_from_input("wecom_web", &input(json!({"corp_id": "ww1", "agent_id": "1", "secret": "s"})), None)
                .unwrap();
        assert!(matches!(web, KindSettings::Web(w) if w.scope == crate::store::WebScope::SnsapiBase));
    }
}
