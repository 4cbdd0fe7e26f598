//! One table for every way a sign-in through a connection can fail: each [`Outcome`] maps once to the
//! page's HTTP status, the OAuth error on the way back to the app, the token endpoint's OAuth error, the
//! metric label, and the message and hint of the catalogue. The browser pages and the native token
//! exchange both read it, so the two never disagree.

use axum::http::StatusCode;

use crate::accounts::Refusal;
use crate::connectors::{ConnectorError, SetupStep};
use crate::oidc::error::OAuthError;
use crate::web::error::PageError;
use crate::web::i18n::{Lang, Msg};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The person declined at WeCom.
    Cancelled,
    /// Outside the app's visible scope.
    NotAllowed,
    /// Deleted from the corp, disabled, or left.
    Departed,
    /// Someone WeCom knows, but not a member of the corp.
    NotMember,
    /// A member of a linked corp (企业互联 / 上下游), not of this one.
    LinkedCorpMember,
    /// The corp's authorization was cancelled, or it is not allowed on the connection.
    CorpNotAllowed,
    /// The connection's set-up is not finished (the step is named).
    NotReady,
    /// WeCom refused the code: invalid, expired or already used (errcodes 40029, 42022).
    CodeInvalid,
    /// WeCom timed out, or answered something that is not its protocol.
    UpstreamUnavailable,
    /// WeCom answered another errcode.
    UpstreamError,
    /// The stored settings are unusable, or the store failed.
    Misconfigured,
    /// Login-only mode and no account for this identity.
    NoAccount,
    /// Field matching found more than one user.
    Ambiguous,
    /// The account is disabled by an admin.
    AccountDisabled,
    /// The provider's answer broke a rule it must keep (an ID token that does not verify, a missing id).
    Unverified,
    /// The provider sent the person back with an error other than `access_denied`.
    ProviderDenied,
}

/// What an [`Outcome`] means for each audience.
pub struct Row {
    pub page_status: StatusCode,
    /// The error of the redirect back to the app (RFC 6749 §4.1.2.1 codes only).
    pub redirect_error: &'static str,
    /// The error of the token endpoint (RFC 6749 §5.2, RFC 8693 §2.2.2).
    pub token_error: &'static str,
    /// The `outcome` label of `wegate_logins_total`, also the audit reason's prefix.
    pub metric: &'static str,
    pub message: Msg,
    pub hint: Msg,
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Cancelled,
        Outcome::NotAllowed,
        Outcome::Departed,
        Outcome::NotMember,
        Outcome::LinkedCorpMember,
        Outcome::CorpNotAllowed,
        Outcome::NotReady,
        Outcome::CodeInvalid,
        Outcome::UpstreamUnavailable,
        Outcome::UpstreamError,
        Outcome::Misconfigured,
        Outcome::NoAccount,
        Outcome::Ambiguous,
        Outcome::AccountDisabled,
        Outcome::Unverified,
        Outcome::ProviderDenied,
    ];

    pub fn row(self) -> Row {
        use Outcome::*;
        let (page_status, redirect_error, token_error, metric, message, hint) = match self {
            Cancelled => (403, "access_denied", "access_denied", "cancelled", Msg::Cancelled, Msg::CancelledHint),
            NotAllowed => (403, "access_denied", "access_denied", "not_allowed", Msg::NotAllowed, Msg::NotAllowedHint),
            Departed => (403, "access_denied", "access_denied", "departed", Msg::Departed, Msg::DepartedHint),
            NotMember => (403, "access_denied", "access_denied", "not_member", Msg::NotMember, Msg::NotMemberHint),
            LinkedCorpMember => {
                (403, "access_denied", "access_denied", "linked_corp_member", Msg::LinkedCorp, Msg::LinkedCorpHint)
            }
            CorpNotAllowed => (
                403,
                "access_denied",
                "access_denied",
                "corp_not_allowed",
                Msg::CorpNotAllowed,
                Msg::CorpNotAllowedHint,
            ),
            NotReady => (
                503,
                "temporarily_unavailable",
                "temporarily_unavailable",
                "not_ready",
                Msg::NotReady,
                Msg::NotReadyHint,
            ),
            // In a browser it is WeCom's answer to a code WeCom itself just gave: an upstream error.
            CodeInvalid => (502, "server_error", "invalid_grant", "code_invalid", Msg::CodeInvalid, Msg::SignInAgain),
            UpstreamUnavailable => (
                502,
                "temporarily_unavailable",
                "temporarily_unavailable",
                "upstream_unavailable",
                Msg::UpstreamFailed,
                Msg::RetryHint,
            ),
            UpstreamError => {
                (502, "server_error", "server_error", "upstream_error", Msg::UpstreamFailed, Msg::RetryHint)
            }
            Misconfigured => {
                (500, "server_error", "server_error", "server_error", Msg::Misconfigured, Msg::GiveReference)
            }
            NoAccount => (403, "access_denied", "access_denied", "no_account", Msg::NoAccount, Msg::NoAccountHint),
            Ambiguous => (403, "access_denied", "access_denied", "ambiguous_match", Msg::Ambiguous, Msg::AmbiguousHint),
            AccountDisabled => (
                403,
                "access_denied",
                "invalid_grant",
                "account_disabled",
                Msg::AccountDisabled,
                Msg::AccountDisabledHint,
            ),
            Unverified => (502, "server_error", "server_error", "unverified", Msg::Unverified, Msg::GiveReference),
            ProviderDenied => {
                (403, "access_denied", "access_denied", "provider_denied", Msg::ProviderDenied, Msg::ProviderDeniedHint)
            }
        };
        Row {
            page_status: StatusCode::from_u16(page_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            redirect_error,
            token_error,
            metric,
            message,
            hint,
        }
    }
}

/// A failed sign-in: its outcome and what the person and the admin are told about it.
#[derive(Debug)]
pub struct Failure {
    pub outcome: Outcome,
    /// For the log and the audit trail (never shown on a page).
    pub detail: String,
    step: Option<SetupStep>,
    wecom: Option<WecomDetail>,
    /// The call was made with a service provider's credentials (delegated or provider connection).
    provider_call: bool,
    /// The upstream's name for the page, when it is not WeCom (whose messages name it).
    provider: Option<String>,
    /// The provider's `error=` code.
    denied: Option<String>,
    /// What DingTalk's or Feishu's error asks of whom (en, zh), and its code (for the hint).
    upstream_advice: Option<(Option<(String, String)>, String)>,
}

#[derive(Debug)]
struct WecomDetail {
    errcode: Option<i64>,
    timeout: bool,
    explanation: Option<&'static wecom::errcode::Explanation>,
}

impl Failure {
    pub fn from_connector(error: &ConnectorError) -> Failure {
        let mut step = None;
        let mut wecom = None;
        let mut denied = None;
        let mut timeout = false;
        let mut upstream_advice = None;
        let outcome = match error {
            ConnectorError::Cancelled => Outcome::Cancelled,
            ConnectorError::NotAllowed(_) => Outcome::NotAllowed,
            ConnectorError::Departed(_) => Outcome::Departed,
            ConnectorError::NotMember | ConnectorError::NotEmployee(_) => Outcome::NotMember,
            ConnectorError::LinkedCorpMember(_) => Outcome::LinkedCorpMember,
            ConnectorError::CorpNotAllowed(_) => Outcome::CorpNotAllowed,
            ConnectorError::NotReady(s) => {
                step = Some(*s);
                Outcome::NotReady
            }
            ConnectorError::Wecom(e) => {
                wecom = Some(WecomDetail {
                    errcode: e.errcode(),
                    timeout: matches!(e, wecom::Error::Timeout { .. }),
                    explanation: e.explanation(),
                });
                match e {
                    _ if e.errcode().is_some_and(|c| c == 40029 || c == 42022) => Outcome::CodeInvalid,
                    wecom::Error::Timeout { .. } | wecom::Error::Http { .. } | wecom::Error::Decode { .. } => {
                        Outcome::UpstreamUnavailable
                    }
                    _ => Outcome::UpstreamError,
                }
            }
            ConnectorError::DingTalk(e) => {
                timeout = matches!(e, dingtalk::Error::Timeout { .. });
                upstream_advice = Some((e.advice().map(|a| (a.en, a.zh)), e.failure_code()));
                upstream_outcome(e.is_code_invalid(), e.is_unavailable())
            }
            ConnectorError::Feishu(e) => {
                timeout = matches!(e, feishu::Error::Timeout { .. });
                upstream_advice = Some((e.advice().map(|a| (a.en.to_string(), a.zh.to_string())), e.failure_code()));
                upstream_outcome(e.is_code_invalid(), e.is_unavailable())
            }
            ConnectorError::Upstream(e) => match e {
                oidc_rp::Error::Unavailable { timeout: t, .. } => {
                    timeout = *t;
                    Outcome::UpstreamUnavailable
                }
                oidc_rp::Error::Refused { error, .. } if error == "invalid_grant" => Outcome::CodeInvalid,
                oidc_rp::Error::Refused { .. } => Outcome::UpstreamError,
                oidc_rp::Error::Invalid(_) => Outcome::Unverified,
                oidc_rp::Error::Config(_) => Outcome::Misconfigured,
            },
            ConnectorError::Denied { error, .. } => {
                denied = Some(error.clone());
                match error.as_str() {
                    "temporarily_unavailable" | "server_error" => Outcome::UpstreamUnavailable,
                    _ => Outcome::ProviderDenied,
                }
            }
            ConnectorError::Config(_) | ConnectorError::Store(_) => Outcome::Misconfigured,
        };
        if timeout {
            wecom = Some(WecomDetail { errcode: None, timeout: true, explanation: None });
        }
        // WeCom's errmsg and ids, a provider's error text: escaped in the log and the audit trail.
        Failure {
            outcome,
            detail: crate::util::loggable(&error.to_string()),
            step,
            wecom,
            provider_call: false,
            provider: None,
            denied,
            upstream_advice,
        }
    }

    pub fn from_refusal(refusal: Refusal) -> Failure {
        let outcome = match refusal {
            Refusal::NoAccount => Outcome::NoAccount,
            Refusal::Ambiguous => Outcome::Ambiguous,
            Refusal::Disabled => Outcome::AccountDisabled,
        };
        Failure {
            outcome,
            detail: refusal.code().to_string(),
            step: None,
            wecom: None,
            provider_call: false,
            provider: None,
            denied: None,
            upstream_advice: None,
        }
    }

    /// The connection the failure happened on: some errcodes mean another fix for a service provider's
    /// calls (60020: the provider console's IP whitelist, not the app's trusted IPs), and a provider other
    /// than WeCom is named by the connection's display name.
    pub fn on(mut self, connection: &crate::store::Connection) -> Failure {
        self.provider_call = crate::connectors::provider_calls(&connection.settings);
        self.provider = crate::connectors::provider_name(connection).map(str::to_string);
        self
    }

    /// `metric: detail`, for the audit trail.
    pub fn audit_reason(&self) -> String {
        let metric = self.outcome.row().metric;
        if self.detail == metric { metric.to_string() } else { format!("{metric}: {}", self.detail) }
    }

    /// The sentence for the person: the errcode's own explanation when WeCom gave a known one.
    pub fn message(&self, lang: Lang) -> String {
        let row = self.outcome.row();
        if let Some(provider) = &self.provider {
            return self.provider_message(provider, lang);
        }
        if let Some(w) = &self.wecom {
            if w.errcode == Some(60020) && self.provider_call {
                return lang.t(Msg::ProviderIpWhitelist).to_string();
            }
            if let Some(x) = w.explanation {
                return (if lang == Lang::Zh { x.zh } else { x.en }).to_string();
            }
            if w.timeout {
                return lang.t(Msg::UpstreamTimeout).to_string();
            }
        }
        match self.step {
            Some(step) => lang.fmt(row.message, &[("step", lang.t(step_message(step)))]),
            None => lang.t(row.message).to_string(),
        }
    }

    /// The sentence for a provider other than WeCom, named.
    fn provider_message(&self, provider: &str, lang: Lang) -> String {
        let timeout = self.wecom.as_ref().is_some_and(|w| w.timeout);
        if let Some((Some((en, zh)), _)) = &self.upstream_advice {
            return (if lang == Lang::Zh { zh } else { en }).clone();
        }
        let msg = match self.outcome {
            Outcome::NotMember => Msg::ProviderNotMember,
            Outcome::Cancelled => Msg::ProviderCancelled,
            Outcome::NotAllowed => Msg::ProviderNotAllowed,
            Outcome::CodeInvalid => Msg::ProviderCodeInvalid,
            Outcome::UpstreamUnavailable if timeout => Msg::ProviderTimeout,
            Outcome::UpstreamUnavailable | Outcome::UpstreamError => Msg::ProviderFailed,
            Outcome::ProviderDenied => {
                let error = self.denied.as_deref().unwrap_or_default();
                return lang.fmt(Msg::ProviderDenied, &[("provider", provider), ("error", error)]);
            }
            other => return lang.t(other.row().message).to_string(),
        };
        lang.fmt(msg, &[("provider", provider)])
    }

    /// What to do; names WeCom's errcode when there is one.
    pub fn hint(&self, lang: Lang) -> String {
        if let Some(provider) = &self.provider {
            match self.outcome {
                Outcome::NotAllowed => return lang.t(Msg::ProviderNotAllowedHint).to_string(),
                Outcome::NotMember => return lang.fmt(Msg::ProviderNotMemberHint, &[("provider", provider)]),
                _ => {}
            }
            if let Some((_, code)) = &self.upstream_advice
                && !matches!(self.outcome, Outcome::CodeInvalid)
            {
                return lang.fmt(Msg::ProviderErrcodeHint, &[("provider", provider), ("code", code)]);
            }
        }
        match self.wecom.as_ref().and_then(|w| w.errcode) {
            Some(code) => lang.fmt(Msg::ErrcodeHint, &[("code", &code.to_string())]),
            _ => lang.t(self.outcome.row().hint).to_string(),
        }
    }

    /// The page, with a link back to the app carrying `back_href`'s OAuth error.
    pub fn page(&self, lang: Lang, back_href: String, reference: Option<String>) -> PageError {
        let mut page = PageError::new(self.outcome.row().page_status, lang, self.message(lang))
            .hint_text(self.hint(lang))
            .back(Some(back_href));
        page.reference = reference;
        page
    }

    /// The token endpoint's answer (the native-app token exchange).
    pub fn oauth_error(&self) -> OAuthError {
        let row = self.outcome.row();
        let description = self.message(Lang::En);
        match row.token_error {
            "invalid_grant" => OAuthError::invalid_grant(description),
            "access_denied" => OAuthError::access_denied(description),
            "temporarily_unavailable" => OAuthError::temporarily_unavailable(description),
            // DingTalk's or Feishu's error with a sentence for the admin (a setting, a permission): the page
            // shows it, so the native app's error says it too.
            _ => match &self.upstream_advice {
                Some((Some((en, _)), _)) => OAuthError::server_error_told(&self.detail, en.clone()),
                _ => OAuthError::server_error(&self.detail),
            },
        }
    }
}

/// A workplace upstream's error (DingTalk, Feishu) as an outcome: its code refused, the upstream unable to
/// answer now, or another error.
fn upstream_outcome(code_invalid: bool, unavailable: bool) -> Outcome {
    if code_invalid {
        Outcome::CodeInvalid
    } else if unavailable {
        Outcome::UpstreamUnavailable
    } else {
        Outcome::UpstreamError
    }
}

fn step_message(step: SetupStep) -> Msg {
    match step {
        SetupStep::UrlNotVerified => Msg::StepUrlNotVerified,
        SetupStep::TemplateNotSet => Msg::StepTemplateNotSet,
        SetupStep::NoTemplateTicket => Msg::StepNoTemplateTicket,
        SetupStep::NoCorpAuthorized => Msg::StepNoCorpAuthorized,
        SetupStep::PermanentCodePending => Msg::StepPermanentCodePending,
        SetupStep::NoAgentId => Msg::StepNoAgentId,
        SetupStep::NoSuiteTicket => Msg::StepNoSuiteTicket,
        SetupStep::NoAppTicket => Msg::StepNoAppTicket,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_code_is_invalid_grant_at_the_token_endpoint_and_a_page_in_the_browser() {
        let error = ConnectorError::Wecom(wecom::Error::Api {
            api: "auth/getuserinfo",
            errcode: 40029,
            errmsg: "invalid code".into(),
        });
        let failure = Failure::from_connector(&error);
        assert_eq!(failure.outcome, Outcome::CodeInvalid);
        assert_eq!(failure.oauth_error().error, "invalid_grant");
        assert_eq!(failure.outcome.row().redirect_error, "server_error");
    }

    #[test]
    fn an_undecodable_answer_is_unavailable_everywhere() {
        let error = ConnectorError::Wecom(wecom::Error::Decode { api: "user/get", message: "eof".into() });
        let failure = Failure::from_connector(&error);
        assert_eq!(failure.outcome, Outcome::UpstreamUnavailable);
        assert_eq!(failure.oauth_error().error, "temporarily_unavailable");
        assert_eq!(failure.outcome.row().redirect_error, "temporarily_unavailable");
    }

    #[test]
    fn errcode_60020_names_the_provider_whitelist_on_provider_calls() {
        let error = ConnectorError::Wecom(wecom::Error::Api {
            api: "service/get_suite_token",
            errcode: 60020,
            errmsg: "".into(),
        });
        assert!(Failure::from_connector(&error).message(Lang::En).contains("trusted IP"));
        let delegated = connection("wecom_delegated", serde_json::json!({"token": "t", "encoding_aes_key": "k"}));
        let provider = Failure::from_connector(&error).on(&delegated);
        assert!(provider.message(Lang::En).contains("IP whitelist"));
        assert!(provider.message(Lang::Zh).contains("IP 白名单"));
    }

    fn connection(kind: &str, fields: serde_json::Value) -> crate::store::Connection {
        crate::store::Connection {
            identifier: "c".into(),
            display_name: "Okta".into(),
            login_only: false,
            association: Default::default(),
            settings: crate::store::KindSettings::parse(kind, fields.as_object().unwrap()).unwrap(),
            domain_verification: None,
            trust_email: false,
            icon_url: None,
            state: serde_json::json!({}),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn another_provider_is_named_and_its_error_code_shown() {
        let okta = connection(
            "oidc",
            serde_json::json!({"issuer": "https://o.example.com", "client_id": "c", "client_secret": "s"}),
        );
        let denied = ConnectorError::Denied { error: "login_required".into(), description: None };
        let failure = Failure::from_connector(&denied).on(&okta);
        assert_eq!(failure.outcome, Outcome::ProviderDenied);
        let message = failure.message(Lang::En);
        assert!(message.contains("Okta") && message.contains("login_required"), "{message}");
        let cancelled = Failure::from_connector(&ConnectorError::Cancelled).on(&okta).message(Lang::Zh);
        assert!(cancelled.contains("Okta") && !cancelled.contains("企业微信"), "{cancelled}");
        let forged = ConnectorError::Upstream(oidc_rp::Error::Invalid("bad signature".into()));
        assert_eq!(Failure::from_connector(&forged).outcome, Outcome::Unverified);
    }

    #[test]
    fn an_upstream_sentence_for_the_admin_is_the_token_endpoints_description_too() {
        let wrong_org = ConnectorError::DingTalk(dingtalk::Error::Api {
            api: dingtalk::client::CORP_TOKEN_API,
            status: 401,
            code: "unauthorized.client".into(),
            message: String::new(),
            required_scopes: vec![],
        });
        let failure = Failure::from_connector(&wrong_org);
        assert_eq!(failure.outcome, Outcome::UpstreamError);
        let error = failure.oauth_error();
        assert_eq!(error.error, "server_error");
        assert!(error.description.contains("does not run in the organisation corp_id"), "{}", error.description);
        // Without a sentence, nothing of the detail leaves the log.
        let store = ConnectorError::Config("secret detail".into());
        assert!(!Failure::from_connector(&store).oauth_error().description.contains("secret detail"));
    }

    #[test]
    fn a_missing_setup_step_is_named_in_both_languages() {
        let failure = Failure::from_connector(&ConnectorError::NotReady(SetupStep::UrlNotVerified));
        assert!(failure.message(Lang::En).contains("event URL"));
        assert!(failure.message(Lang::Zh).contains("事件"));
    }

    #[test]
    fn every_outcome_has_an_authorization_endpoint_error_code() {
        // RFC 6749 §4.1.2.1: the only codes a redirect to the app may carry.
        const ALLOWED: &[&str] = &["access_denied", "server_error", "temporarily_unavailable"];
        for &outcome in Outcome::ALL {
            assert!(ALLOWED.contains(&outcome.row().redirect_error), "{outcome:?}");
        }
    }
}
