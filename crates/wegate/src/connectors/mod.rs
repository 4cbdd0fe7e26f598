//! Connectors: one module per connection kind behind one trait ([`Connector`], in `adapter`): validate
//! the admin's settings, give the login URL for a transaction, and turn what WeCom hands back (a code)
//! into an [`crate::accounts::UpstreamIdentity`]. HTTP-free adapters: no handler, no page, no cookie —
//! errors are values ([`ConnectorError`]). Everything after the identity — accounts, codes, tokens — is
//! the same for every kind.

pub mod adapter;
pub mod corp_member;
pub mod fields;
pub mod wecom_delegated;
pub mod wecom_mobile;
pub mod wecom_provider;
pub mod wecom_qrcode;
pub mod wecom_web;

pub use adapter::{Connector, ConnectorError, Input, SetupStep};

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
