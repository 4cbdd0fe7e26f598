//! Connectors: one module per connection kind — validate the admin's settings, give the login URL for a
//! transaction, and turn what WeCom hands back (a code) into an [`crate::accounts::UpstreamIdentity`].
//! HTTP-free adapters: no handler, no page, no cookie; errors are values ([`ConnectorError`]). The kind is
//! the variant of the connection's typed settings ([`KindSettings`]), so dispatch is a `match` and a
//! kind's code only ever sees its own settings. Everything after the identity — accounts, codes, tokens —
//! is the same for every kind.

pub mod advice;
pub mod corp_ids;
pub mod corp_member;
pub mod error;
pub mod fields;
pub mod wecom_delegated;
pub mod wecom_mobile;
pub mod wecom_provider;
pub mod wecom_qrcode;
pub mod wecom_web;

use serde_json::{Map, Value};

pub use error::{ConnectorError, SetupStep};

use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::{Connection, DOMAIN_VERIFICATION, DomainFile, EMAIL_VERIFIED, KindSettings};

pub const KINDS: &[&str] = &["wecom_qrcode", "wecom_web", "wecom_mobile", "wecom_delegated", "wecom_provider"];

/// The kind-specific fields of the admin API for `kind`; any other is refused, so that a field meant for
/// another kind is not silently dropped.
pub fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "wecom_qrcode" => Some(wecom_qrcode::FIELDS),
        "wecom_web" => Some(wecom_web::FIELDS),
        "wecom_mobile" => Some(wecom_mobile::FIELDS),
        "wecom_delegated" => Some(wecom_delegated::FIELDS),
        "wecom_provider" => Some(wecom_provider::FIELDS),
        _ => None,
    }
}

/// Whether a browser can sign in through it (a button on the login page). `wecom_mobile` cannot.
pub fn has_browser_login(settings: &KindSettings) -> bool {
    !matches!(settings, KindSettings::Mobile(_))
}

/// Whether WeCom pushes events to the connection's event URL: delegated and provider connections always,
/// self-built ones once given the app's callback Token and EncodingAESKey.
pub fn has_event_url(settings: &KindSettings) -> bool {
    matches!(settings, KindSettings::Delegated(_) | KindSettings::Provider(_)) || settings.event_secrets().is_some()
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
        KindSettings::Delegated(s) => match wecom_delegated::authorized_app(app, connection, s).await {
            Ok((corp, _)) => corp,
            Err(ConnectorError::CorpNotAllowed(_)) => return Ok(Standing::NotAdmitted),
            Err(e) => return Err(e),
        },
        KindSettings::Provider(_) => return Ok(Standing::Member),
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

/// What the upstream says of a person behind a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Still a member the connection's app may sign in.
    Member,
    /// A member, but not for this app any more: out of its visible scope, or the corp's authorization of a
    /// delegated app cancelled.
    NotAdmitted,
    /// Deleted from the corp, disabled, or left.
    Departed,
}

/// The kind's own checks of settings that parsed.
pub fn validate(settings: &KindSettings) -> Result<(), String> {
    match settings {
        KindSettings::QrCode(s) => wecom_qrcode::validate(s),
        KindSettings::Web(s) => wecom_web::validate(s),
        KindSettings::Mobile(s) => wecom_mobile::validate(s),
        KindSettings::Delegated(s) => wecom_delegated::validate(s),
        KindSettings::Provider(s) => wecom_provider::validate(s),
    }
}

/// What a login URL is made for.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    /// The transaction id (random, single-use, `[a-zA-Z0-9]`), sent to WeCom as `state`.
    pub state: &'a str,
    /// Our `/connections/{identifier}/callback`.
    pub callback: &'a str,
    /// `zh` or `en` for WeCom's QR page, when the app asked for a language (`ui_locales`).
    pub lang: Option<&'a str>,
}

/// Where to send the browser.
pub async fn login_url(
    app: &App,
    connection: &Connection,
    request: LoginRequest<'_>,
) -> Result<String, ConnectorError> {
    let LoginRequest { state, callback, lang } = request;
    match &connection.settings {
        KindSettings::QrCode(s) => Ok(wecom_qrcode::login_url(app, s, state, callback, lang)),
        KindSettings::Web(s) => Ok(wecom_web::login_url(app, s, state, callback)),
        KindSettings::Mobile(_) => {
            Err(ConnectorError::Config("wecom_mobile has no browser login; the app uses the WeCom SDK".into()))
        }
        KindSettings::Delegated(s) => wecom_delegated::login_url(app, connection, s, state, callback, lang).await,
        KindSettings::Provider(s) => wecom_provider::login_url(app, s, state, callback, lang).await,
    }
}

/// Turns the code WeCom handed back into the person.
pub async fn exchange(app: &App, connection: &Connection, code: &str) -> Result<UpstreamIdentity, ConnectorError> {
    let mut identity = exchange_for_kind(app, connection, code).await?;
    // A corp admin sets members' emails freely: proven only if the connection's admin says they are.
    let verified = connection.trust_email && identity.email.is_some();
    if let Some(claims) = identity.claims.as_object_mut() {
        claims.insert(EMAIL_VERIFIED.into(), serde_json::Value::Bool(verified));
    }
    Ok(identity)
}

async fn exchange_for_kind(app: &App, connection: &Connection, code: &str) -> Result<UpstreamIdentity, ConnectorError> {
    match &connection.settings {
        KindSettings::QrCode(s) => wecom_qrcode::exchange(app, s, code).await,
        KindSettings::Web(s) => wecom_web::exchange(app, s, code).await,
        KindSettings::Mobile(s) => wecom_mobile::exchange(app, s, code).await,
        KindSettings::Delegated(s) => wecom_delegated::exchange(app, connection, s, code).await,
        KindSettings::Provider(s) => wecom_provider::exchange(app, connection, s, code).await,
    }
}

/// Fields whose `null` in a PATCH removes them; any other `null` means "not given".
pub const CLEARABLE: &[&str] = &[DOMAIN_VERIFICATION, "allowed_corps"];

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
                merged.insert(name.clone(), Value::String(s.trim().to_string()));
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
