//! Connectors: one module per connection kind behind one trait, [`Connector`]: validate the admin's
//! settings, give the login URL for a transaction, and turn what WeCom hands back (a code) into an
//! [`UpstreamIdentity`]. Everything after that — accounts, codes, tokens — is the same for every kind.
//!
//! This module also owns the browser's way back: `/connections/{identifier}/callback`, and the
//! "ask to bind" pages that may follow it.

pub mod callback;
pub mod corp_member;
pub mod events;
pub mod wecom_delegated;
pub mod wecom_mobile;
pub mod wecom_provider;
pub mod wecom_qrcode;
pub mod wecom_web;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::oidc::finalize::redirect;
use crate::store::{Connection, LoginTx, StoreError};
use crate::web::error::PageError;
use crate::web::i18n::Lang;

/// A person as the upstream knows them, with the profile mapped to standard claims.
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    /// Identity space: `wecom:<corp_id>` for a corp member (same member, same user across connections of
    /// the corp), `wecom-open:<corp_id>` for a service provider's open_userid.
    pub upstream: String,
    /// The member in that space, normalised (WeCom userids are case-insensitive: lowercased).
    pub subject: String,
    /// The userid as WeCom spells it (matched against usernames).
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub picture: Option<String>,
    /// Namespaced claims (`wecom_corp_id`, `wecom_userid`, `wecom_department`, `wecom_open_userid`).
    pub claims: Value,
    /// The upstream profile as stored on the identity.
    pub profile: Value,
}

impl UpstreamIdentity {
    /// `upstream/subject`, for logs and the audit trail (never a secret).
    pub fn reference(&self) -> String {
        format!("{}/{}", self.upstream, self.subject)
    }
}

/// Why an upstream sign-in failed. Turned into a page (browser) or an OAuth error (token exchange).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// WeCom answered an errcode, timed out, or answered garbage.
    #[error("WeCom: {0}")]
    Wecom(#[from] wecom::Error),
    /// The member is outside the app's visible scope (errcode 60011 and friends) or no longer exists.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// WeCom identified someone who is not a member of the corp (`openid` only).
    #[error("not a member of the corp")]
    NotMember,
    /// The person declined at WeCom (the callback had a state but no code).
    #[error("the person cancelled at WeCom")]
    Cancelled,
    /// Set-up incomplete (e.g. delegated template not authorized yet, no suite ticket yet).
    #[error("not ready: {0}")]
    NotReady(String),
    /// The corp's authorization was cancelled, or it is not on the connection's allow-list.
    #[error("corp not allowed: {0}")]
    CorpNotAllowed(String),
    /// The stored settings are unusable (should have been caught when saved).
    #[error("misconfigured: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The admin's input for a connection: the JSON body of the admin API minus the common fields.
pub type Input = Map<String, Value>;

#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The `kind` string of the admin API.
    fn kind(&self) -> &'static str;

    /// Validates the kind-specific fields and splits them into (settings, secrets). On update,
    /// `existing` holds the stored connection: secrets not given are kept.
    fn validate(&self, input: &Input, existing: Option<&Connection>) -> Result<(Value, Value), String>;

    /// The kind-specific fields of the admin API this kind reads; any other is refused, so that a field
    /// meant for another kind is not silently dropped.
    fn fields(&self) -> &'static [&'static str];

    /// Whether a browser can sign in through it (a button on the login page). `wecom_mobile` cannot.
    fn browser_login(&self) -> bool {
        true
    }

    /// Where to send the browser. `state` is the transaction id (random, single-use, `[a-zA-Z0-9]`),
    /// `callback` our `/connections/{identifier}/callback`.
    async fn login_url(
        &self,
        app: &AppState,
        connection: &Connection,
        state: &str,
        callback: &str,
    ) -> Result<String, ConnectorError>;

    /// Turns the code WeCom handed back into the person.
    async fn exchange(
        &self,
        app: &AppState,
        connection: &Connection,
        code: &str,
    ) -> Result<UpstreamIdentity, ConnectorError>;
}

static QRCODE: wecom_qrcode::QrCode = wecom_qrcode::QrCode;
static WEB: wecom_web::Web = wecom_web::Web;
static MOBILE: wecom_mobile::Mobile = wecom_mobile::Mobile;
static DELEGATED: wecom_delegated::Delegated = wecom_delegated::Delegated;
static PROVIDER: wecom_provider::Provider = wecom_provider::Provider;

/// The connector of a kind.
pub fn connector(kind: &str) -> Option<&'static dyn Connector> {
    match kind {
        "wecom_qrcode" => Some(&QRCODE),
        "wecom_web" => Some(&WEB),
        "wecom_mobile" => Some(&MOBILE),
        "wecom_delegated" => Some(&DELEGATED),
        "wecom_provider" => Some(&PROVIDER),
        _ => None,
    }
}

pub const KINDS: &[&str] = &["wecom_qrcode", "wecom_web", "wecom_mobile", "wecom_delegated", "wecom_provider"];

pub fn has_browser_login(kind: &str) -> bool {
    connector(kind).is_some_and(|c| c.browser_login())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections/{identifier}/callback", get(callback::callback))
        .route("/connections/{identifier}/events", get(events::verify_url).post(events::receive))
        .route("/connections/{identifier}/config", get(wecom_mobile::public_config))
        .route("/login/{tx}/bind", post(callback::bind))
        .route("/login/{tx}/create", post(callback::create_instead))
        .route("/{filename}", get(domain_verification_file))
}

/// Sends the browser to the connection's upstream login for this transaction.
pub async fn start_login(
    app: &AppState,
    tx: &LoginTx,
    connection: &Connection,
    lang: Lang,
) -> Result<Response, PageError> {
    let Some(connector) = connector(&connection.kind) else {
        return Err(PageError::internal(lang, &format!("unknown connection kind {}", connection.kind)));
    };
    if !connector.browser_login() {
        return Err(PageError::bad_request(
            lang,
            if lang == Lang::Zh {
                "此登录方式仅供移动应用使用。"
            } else {
                "This sign-in method is for the mobile app only."
            },
        ));
    }
    let callback = app.url(&format!("/connections/{}/callback", connection.identifier));
    match connector.login_url(app, connection, &tx.id, &callback).await {
        Ok(url) => Ok(redirect(&url)),
        Err(e) => Err(callback::failure_page(app, tx, connection, &e, lang).await),
    }
}

// ---------------------------------------------------------------- helpers for the kinds' `validate`

/// `WW_verify_<letters and digits>.txt`, nothing else: this serves a file at the domain root.
pub fn is_verification_filename(name: &str) -> bool {
    name.strip_prefix("WW_verify_")
        .and_then(|rest| rest.strip_suffix(".txt"))
        .is_some_and(|id| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The optional `domain_verification {filename, content}` any connection may carry (WeCom's trusted-domain
/// check): given now, kept from the stored connection, or removed with `null`.
pub fn validate_domain_verification(input: &Input, existing: Option<&Connection>) -> Result<Option<Value>, String> {
    let verification = match input.get("domain_verification") {
        Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
        None => existing.and_then(|c| c.settings.get("domain_verification").cloned()),
    };
    let Some(v) = verification else { return Ok(None) };
    let filename = v.get("filename").and_then(Value::as_str).unwrap_or_default();
    let content = v.get("content").and_then(Value::as_str).unwrap_or_default();
    if !is_verification_filename(filename) {
        return Err("domain_verification.filename must be the WW_verify_….txt name WeCom gives".into());
    }
    if content.is_empty() || content.len() > 1024 {
        return Err("domain_verification.content must be the file's content (1 to 1024 characters)".into());
    }
    Ok(Some(serde_json::json!({"filename": filename, "content": content})))
}

/// `GET /WW_verify_*.txt`: the trusted-domain verification file of whichever connection carries it.
pub async fn domain_verification_file(State(app): State<AppState>, Path(filename): Path<String>) -> Response {
    if !is_verification_filename(&filename) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut cursor: Option<String> = None;
    loop {
        let page = match app.store.list_connections(200, cursor.as_deref()).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, "cannot list connections for the verification file");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        for c in &page.items {
            if let Some(v) = c.settings.get("domain_verification")
                && v.get("filename").and_then(Value::as_str) == Some(filename.as_str())
            {
                let content = v.get("content").and_then(Value::as_str).unwrap_or_default().to_string();
                return ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], content).into_response();
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    }
}

/// A required non-empty string field.
pub fn required_str(input: &Input, field: &str) -> Result<String, String> {
    match input.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) if field == "agent_id" => Ok(n.to_string()),
        Some(_) => Err(format!("{field} must be a non-empty string")),
        None => Err(format!("{field} is required")),
    }
}

pub fn optional_str(input: &Input, field: &str) -> Result<Option<String>, String> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) if field == "agent_id" => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

/// A secret: given now, or kept from the stored connection on update.
pub fn secret(
    input: &Input,
    field: &str,
    existing: Option<&Connection>,
    required: bool,
) -> Result<Option<String>, String> {
    if let Some(value) = optional_str(input, field)? {
        return Ok(Some(value));
    }
    let kept = existing.and_then(|c| c.secrets.get(field)).and_then(Value::as_str).map(String::from);
    match (kept, required) {
        (Some(v), _) => Ok(Some(v)),
        (None, true) => Err(format!("{field} is required")),
        (None, false) => Ok(None),
    }
}

/// A WeCom corp id: `ww…`/`wx…`, letters and digits.
pub fn check_corp_id(field: &str, value: &str) -> Result<(), String> {
    let ok = (value.starts_with("ww") || value.starts_with("wx"))
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(format!("{field} must be a WeCom corp id (starts with ww or wx, letters and digits)")) }
}

/// A WeCom AgentID: a positive integer.
pub fn check_agent_id(value: &str) -> Result<(), String> {
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Ok(()),
        _ => Err("agent_id must be a positive integer (the app's AgentID)".to_string()),
    }
}

/// A string field of the stored settings or secrets.
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wecom_verification_names_are_served() {
        assert!(is_verification_filename("WW_verify_YnFHxjvF3Gtkueuq.txt"));
        assert!(!is_verification_filename("WW_verify_.txt"));
        assert!(!is_verification_filename("WW_verify_../../etc.txt"));
        assert!(!is_verification_filename("index.html"));
        assert!(!is_verification_filename("WW_verify_abc.txt.exe"));
    }
}
