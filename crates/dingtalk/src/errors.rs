//! What goes wrong talking to DingTalk, as one error type over both API families, and what each error asks of
//! whom ([`Advice`]): which permission to apply for, which setting is wrong, what the person should do
//! (reference §1.4, [DT-err][DT-rate][DT-faq]).

/// A failed DingTalk call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `api.dingtalk.com` answered an HTTP error with its `{"code","message"}` body.
    #[error("{api}: HTTP {status} {code}: {message}")]
    Api { api: &'static str, status: u16, code: String, message: String, required_scopes: Vec<String> },
    /// `oapi.dingtalk.com` answered `errcode` ≠ 0 (with HTTP 200).
    #[error("{api}: errcode {errcode}{}: {errmsg}", sub_code.as_deref().map(|s| format!(" (sub_code {s})")).unwrap_or_default())]
    Oapi { api: &'static str, errcode: i64, errmsg: String, sub_code: Option<String> },
    /// The answer of DingTalk's per-IP throttle (an HTML page or `{"status":1111,…}`), not the API's [DT-rate].
    #[error("{api}: DingTalk throttled this server (its IP-wide limit)")]
    Throttled { api: &'static str },
    #[error("{api}: timed out")]
    Timeout { api: &'static str },
    #[error("{api}: {message}")]
    Http { api: &'static str, message: String },
    #[error("{api}: undecodable answer: {message}")]
    Decode { api: &'static str, message: String },
    #[error("token cache: {0}")]
    Cache(String),
}

impl From<token_cache::WaitedTooLong> for Error {
    fn from(e: token_cache::WaitedTooLong) -> Self {
        Error::Cache(e.to_string())
    }
}

/// Who can fix a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The person signing in (sign in again, with the right account).
    Person,
    /// The DingTalk or wegate administrator: a setting or a permission.
    Admin,
    /// Operations: the egress IP, the call volume.
    Ops,
}

/// What a failure asks of whom, in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub audience: Audience,
    pub en: String,
    pub zh: String,
}

fn advice(audience: Audience, en: &str, zh: &str) -> Option<Advice> {
    Some(Advice { audience, en: en.to_string(), zh: zh.to_string() })
}

impl Error {
    /// A short code for metric labels and logs: the errcode, the `code`, or the kind of transport failure.
    pub fn failure_code(&self) -> String {
        match self {
            // DingTalk's codes are dotted names; anything else would let an answer mint label values.
            Error::Api { code, .. } => {
                let plain =
                    code.len() <= 80 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
                if plain { code.clone() } else { "other".into() }
            }
            Error::Oapi { errcode, .. } => errcode.to_string(),
            Error::Throttled { .. } => "throttled".into(),
            Error::Timeout { .. } => "timeout".into(),
            Error::Http { .. } => "http".into(),
            Error::Decode { .. } => "decode".into(),
            Error::Cache(_) => "token_cache".into(),
        }
    }

    /// The code was unknown, expired (5 min), already used, or of another kind or organisation: 40078 for 免登
    /// codes [DT-faq], `invalidCode` for the login page's authCode [DT-err].
    pub fn is_code_invalid(&self) -> bool {
        match self {
            Error::Oapi { errcode, .. } => *errcode == 40078,
            Error::Api { code, .. } => code == "invalidCode",
            _ => false,
        }
    }

    /// 60121: no employee of the calling app's organisation (another organisation's person, someone who
    /// left or has not joined yet) [DT-byunion][DT-cfaq].
    pub fn is_not_an_employee(&self) -> bool {
        matches!(self, Error::Oapi { errcode: 60121, .. })
    }

    /// The app does not run in the organisation its token was asked for: DingTalk's 401 `unauthorized.client`
    /// [DT-corptok]. `client_id`/`client_secret` and `corp_id` are not one internal app's: an admin's fix, not
    /// an outage. (A corpId DingTalk does not know was seen to answer HTTP 500 `unknownError`, but that is
    /// also DingTalk's generic failure: it stays "unavailable", with advice that names corp_id.)
    pub fn is_wrong_organisation(&self) -> bool {
        matches!(self, Error::Api { api, code, .. } if *api == crate::client::CORP_TOKEN_API && code == "unauthorized.client")
    }

    /// The cached app token is no longer good: drop it, fetch once, retry once (40014 invalid, 42001 expired).
    pub(crate) fn is_token_invalid(&self) -> bool {
        matches!(self, Error::Oapi { errcode: 40014 | 42001, .. })
            || matches!(self, Error::Api { code, .. } if code == "InvalidAuthentication")
    }

    /// DingTalk could not answer now (down, busy, throttled, garbled): try later, nothing to configure.
    pub fn is_unavailable(&self) -> bool {
        match self {
            _ if self.is_wrong_organisation() => false,
            Error::Throttled { .. } | Error::Timeout { .. } | Error::Http { .. } | Error::Decode { .. } => true,
            Error::Cache(_) => true,
            Error::Oapi { errcode, .. } => matches!(errcode, -1 | 90002),
            Error::Api { status, code, .. } => *status >= 500 || code.contains(".Qps") || code.contains(".Qpm"),
        }
    }

    /// What the failure asks of whom, when the catalogue knows it.
    pub fn advice(&self) -> Option<Advice> {
        use Audience::*;
        match self {
            Error::Api { code, required_scopes, .. }
                if code.starts_with("Forbidden.AccessDenied.AccessTokenPermissionDenied") =>
            {
                let scopes = if required_scopes.is_empty() {
                    "Contact.User.Read".to_string()
                } else {
                    required_scopes.join(", ")
                };
                Some(Advice {
                    audience: Admin,
                    en: format!(
                        "The DingTalk app lacks the permission {scopes}: apply for it in the DingTalk developer console (应用开发 → the app → 权限管理), then publish a new version of the app."
                    ),
                    zh: format!(
                        "钉钉应用缺少权限 {scopes}：请在钉钉开发者后台（应用开发 → 该应用 → 权限管理）申请该权限，并发布新版本。"
                    ),
                })
            }
            _ if self.is_wrong_organisation() => advice(
                Admin,
                "The DingTalk app (client_id) does not run in the organisation corp_id — client_id, client_secret and corp_id must be one internal app's: copy the CorpId from the home page of the organisation's DingTalk developer console, and the Client ID and Client Secret of that organisation's internal app (应用开发 → the app → 凭证与基础信息).",
                "钉钉应用（client_id）不在组织 corp_id 中运行——client_id、client_secret 与 corp_id 必须属于同一个企业内部应用：请从该组织的钉钉开发者后台首页复制 CorpId，并复制该组织企业内部应用的 Client ID 与 Client Secret（应用开发 → 该应用 → 凭证与基础信息）。",
            ),
            Error::Api { api, code, .. } if *api == crate::client::CORP_TOKEN_API && code == "unknownError" => advice(
                Admin,
                "DingTalk failed to give the app token for the organisation corp_id (unknownError): check that corp_id is the CorpId on the home page of the organisation's DingTalk developer console; if it is, DingTalk is failing — try again later.",
                "钉钉未能为组织 corp_id 发放应用 token（unknownError）：请核对 corp_id 是否为该组织钉钉开发者后台首页上的 CorpId；若无误，则是钉钉暂时故障，请稍后重试。",
            ),
            // `invalid.client`: the app token's own wording [DT-corptok]; `invalidClientIdOrSecret`: the user
            // token's (and the older app-token endpoint's) [DT-atok].
            Error::Api { code, .. } if code == "invalidClientIdOrSecret" || code == "invalid.client" => advice(
                Admin,
                "DingTalk refused the connection's client_id (AppKey) or client_secret (AppSecret): copy both again from the DingTalk developer console (应用开发 → the app → 凭证与基础信息). A new app works only once published.",
                "钉钉拒绝了该登录方式的 client_id（AppKey）或 client_secret（AppSecret）：请从钉钉开发者后台（应用开发 → 该应用 → 凭证与基础信息）重新复制。新建的应用需发布后才能使用。",
            ),
            Error::Oapi { errcode: 40089 | 40001, .. } => advice(
                Admin,
                "DingTalk refused the connection's client_id (AppKey) or client_secret (AppSecret): copy both again from the DingTalk developer console (应用开发 → the app → 凭证与基础信息).",
                "钉钉拒绝了该登录方式的 client_id（AppKey）或 client_secret（AppSecret）：请从钉钉开发者后台（应用开发 → 该应用 → 凭证与基础信息）重新复制。",
            ),
            Error::Oapi { errcode: 88, sub_code, .. } if sub_code.as_deref() == Some("60011") => advice(
                Admin,
                "The DingTalk app lacks the permission to read members (qyapi_get_member, 成员信息读权限): apply for it in the DingTalk developer console (应用开发 → the app → 权限管理), then publish a new version of the app.",
                "钉钉应用缺少成员信息读权限（qyapi_get_member）：请在钉钉开发者后台（应用开发 → 该应用 → 权限管理）申请该权限，并发布新版本。",
            ),
            Error::Oapi { errcode: 88, .. } => advice(
                Admin,
                "DingTalk refused the app's call (errcode 88): check the app's permissions in the DingTalk developer console (权限管理).",
                "钉钉拒绝了应用的调用（错误码 88）：请在钉钉开发者后台（权限管理）检查该应用的权限。",
            ),
            Error::Oapi { errcode: 40013, .. } => advice(
                Admin,
                "DingTalk does not know the connection's corp_id: copy the organisation's CorpId from the DingTalk developer console's home page.",
                "钉钉不认识该登录方式的 corp_id：请从钉钉开发者后台首页复制组织的 CorpId。",
            ),
            Error::Oapi { errcode: 60020, .. } => advice(
                Ops,
                "DingTalk refused the call because this server's egress IP is not in the app's server IP whitelist (开发管理 → 服务器出口IP).",
                "钉钉拒绝了调用：本服务器的出口 IP 不在应用的服务器出口 IP 白名单中（开发管理 → 服务器出口IP）。",
            ),
            Error::Api { code, .. } if code.contains("IpNotInWhiteList") => advice(
                Ops,
                "DingTalk refused the call because this server's egress IP is not in the app's server IP whitelist (开发管理 → 服务器出口IP).",
                "钉钉拒绝了调用：本服务器的出口 IP 不在应用的服务器出口 IP 白名单中（开发管理 → 服务器出口IP）。",
            ),
            Error::Throttled { .. } | Error::Oapi { errcode: 90002, .. } => advice(
                Ops,
                "DingTalk is throttling this server's calls; it lifts the block after a few minutes.",
                "钉钉正在限制本服务器的调用频率，几分钟后会自动解除。",
            ),
            Error::Api { code, .. } if code.contains(".Qps") || code.contains(".Qpm") => advice(
                Ops,
                "DingTalk is throttling this server's calls; it lifts the block after a few minutes.",
                "钉钉正在限制本服务器的调用频率，几分钟后会自动解除。",
            ),
            _ if self.is_code_invalid() => advice(
                Person,
                "The sign-in code from DingTalk is invalid, has expired, or was already used.",
                "钉钉返回的登录凭证无效、已过期或已被使用。",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_permission_is_named() {
        let e = Error::Api {
            api: "contact/users/me",
            status: 403,
            code: "Forbidden.AccessDenied.AccessTokenPermissionDenied".into(),
            message: "没有调用该接口的权限".into(),
            required_scopes: vec!["Contact.User.Read".into()],
        };
        let a = e.advice().unwrap();
        assert_eq!(a.audience, Audience::Admin);
        assert!(a.en.contains("Contact.User.Read") && a.zh.contains("Contact.User.Read"));
        let member = Error::Oapi {
            api: "topapi/user/getbyunionid",
            errcode: 88,
            errmsg: "鉴权异常".into(),
            sub_code: Some("60011".into()),
        };
        assert!(member.advice().unwrap().en.contains("qyapi_get_member"));
    }

    #[test]
    fn another_organisations_app_is_the_admins_to_fix_not_an_outage() {
        let api = crate::client::CORP_TOKEN_API;
        let e = Error::Api {
            api,
            status: 401,
            code: "unauthorized.client".into(),
            message: String::new(),
            required_scopes: vec![],
        };
        assert!(e.is_wrong_organisation() && !e.is_unavailable());
        let a = e.advice().unwrap();
        assert_eq!(a.audience, Audience::Admin);
        assert!(a.en.contains("does not run in the organisation corp_id"), "{}", a.en);
        assert!(a.zh.contains("corp_id"), "{}", a.zh);
        // A 500 unknownError of the same call may be an unknown corp id or DingTalk failing: unavailable, with
        // advice that names corp_id.
        let e = Error::Api {
            api,
            status: 500,
            code: "unknownError".into(),
            message: String::new(),
            required_scopes: vec![],
        };
        assert!(!e.is_wrong_organisation() && e.is_unavailable());
        assert!(e.advice().unwrap().en.contains("check that corp_id"));
        // The same 500 from another call is DingTalk failing, not a setting.
        let other = Error::Api {
            api: "contact/users/me",
            status: 500,
            code: "unknownError".into(),
            message: String::new(),
            required_scopes: vec![],
        };
        assert!(!other.is_wrong_organisation() && other.is_unavailable());
        let bad = Error::Api {
            api,
            status: 400,
            code: "invalid.client".into(),
            message: String::new(),
            required_scopes: vec![],
        };
        assert!(bad.advice().unwrap().en.contains("client_secret (AppSecret)"));
    }

    #[test]
    fn codes_members_and_outages_are_told_apart() {
        let used =
            Error::Oapi { api: "topapi/v2/user/getuserinfo", errcode: 40078, errmsg: String::new(), sub_code: None };
        assert!(used.is_code_invalid() && !used.is_unavailable());
        assert!(Error::Oapi { api: "x", errcode: 60121, errmsg: String::new(), sub_code: None }.is_not_an_employee());
        assert!(Error::Throttled { api: "x" }.is_unavailable());
        assert!(Error::Oapi { api: "x", errcode: -1, errmsg: String::new(), sub_code: None }.is_unavailable());
    }
}
