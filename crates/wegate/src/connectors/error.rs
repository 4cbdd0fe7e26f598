//! The ways an upstream sign-in fails, as values ([`ConnectorError`]), and the set-up steps a connection
//! may still wait for ([`SetupStep`]). No HTTP here: the browser login (`login`) and the token
//! exchange turn these into pages and OAuth errors through one table (`login::outcome`).

use crate::store::StoreError;

/// Why an upstream sign-in failed. Turned into a page (browser) or an OAuth error (token exchange).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// WeCom answered an errcode, timed out, or answered garbage.
    #[error("WeCom: {0}")]
    Wecom(#[from] wecom::Error),
    /// DingTalk answered an error in either API family, timed out, throttled, or answered garbage.
    #[error("DingTalk: {0}")]
    DingTalk(#[from] dingtalk::Error),
    /// Feishu answered an error in either shape, timed out, or answered garbage.
    #[error("Feishu: {0}")]
    Feishu(#[from] feishu::Error),
    /// An OpenID Connect or OAuth 2.0 provider failed, refused, or answered something that does not verify.
    #[error("provider: {0}")]
    Upstream(#[from] oidc_rp::Error),
    /// The provider sent the person back with `error=` (RFC 6749 §4.1.2.1), other than `access_denied`.
    #[error("the provider answered error={error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied { error: String, description: Option<String> },
    /// The member is outside the app's visible scope (errcode 60011 and friends).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The member no longer exists, or is disabled or has left: gone from the corp, not just from one app.
    #[error("departed: {0}")]
    Departed(String),
    /// WeCom identified someone who is not a member of the corp (`openid` only).
    #[error("not a member of the corp")]
    NotMember,
    /// The upstream's organisation does not count the person as its employee: another organisation's
    /// person, someone in none, or an external contact (DingTalk). The detail is for the log.
    #[error("not an employee: {0}")]
    NotEmployee(String),
    /// A member of a linked corp (企业互联 / 上下游), named `CorpId/userid`: not this corp's member.
    #[error("member {0} of a linked corp")]
    LinkedCorpMember(String),
    /// The person declined at WeCom (the callback had a state but no code).
    #[error("the person cancelled at WeCom")]
    Cancelled,
    /// Set-up incomplete (e.g. delegated template not authorized yet, no suite ticket yet).
    #[error("not ready: {0}")]
    NotReady(SetupStep),
    /// The corp's authorization was cancelled, or it is not on the connection's allow-list.
    #[error("corp not allowed: {0}")]
    CorpNotAllowed(String),
    /// The stored settings are unusable (should have been caught when saved).
    #[error("misconfigured: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The set-up step a connection still waits for, named on the page so the admin knows what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupStep {
    /// Delegated: WeCom has not verified the event URL.
    UrlNotVerified,
    /// Delegated: the template id and secret are not entered.
    TemplateNotSet,
    /// Delegated: no suite_ticket pushed for the template yet.
    NoTemplateTicket,
    /// Delegated: no corp has authorized the template.
    NoCorpAuthorized,
    /// Delegated: the permanent code of the authorization is not fetched yet.
    PermanentCodePending,
    /// Delegated: the authorization carried no agent id and none is set.
    NoAgentId,
    /// Provider suite: no suite_ticket pushed yet.
    NoSuiteTicket,
    /// Feishu marketplace app: no app_ticket pushed to the event URL yet.
    NoAppTicket,
}

impl std::fmt::Display for SetupStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SetupStep::UrlNotVerified => "event URL not verified by WeCom",
            SetupStep::TemplateNotSet => "template id and secret not set",
            SetupStep::NoTemplateTicket => "no suite_ticket for the template yet",
            SetupStep::NoCorpAuthorized => "no corp has authorized the template",
            SetupStep::PermanentCodePending => "permanent code not fetched yet",
            SetupStep::NoAgentId => "no agent id",
            SetupStep::NoSuiteTicket => "no suite_ticket for the suite yet",
            SetupStep::NoAppTicket => "no app_ticket from Feishu yet",
        })
    }
}
