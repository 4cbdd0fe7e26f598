//! What goes wrong talking to Feishu, in both of its error shapes, and what each error asks of whom
//! ([FS-tok][FS-refresh][FS-uinfo][FS-err]).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The v2 OAuth token endpoint's RFC 6749-shaped refusal (HTTP 400/500/503).
    #[error("{api}: HTTP {status} {error} (code {code}): {description}")]
    OAuth { api: &'static str, status: u16, code: i64, error: String, description: String },
    /// Any other API's HTTP 200 with `code` ≠ 0.
    #[error("{api}: code {code}: {msg}")]
    Api { api: &'static str, code: i64, msg: String },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Person,
    Admin,
    Ops,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub audience: Audience,
    pub en: &'static str,
    pub zh: &'static str,
}

const fn advice(audience: Audience, en: &'static str, zh: &'static str) -> Option<Advice> {
    Some(Advice { audience, en, zh })
}

/// The codes the catalogue names ([FS-tok][FS-refresh][FS-uinfo][FS-err]).
const KNOWN: &[i64] = &[
    10003, 10012, 10013, 10014, 10016, 20001, 20002, 20003, 20004, 20005, 20008, 20009, 20010, 20021, 20022, 20023,
    20024, 20026, 20027, 20036, 20037, 20048, 20049, 20050, 20063, 20064, 20065, 20066, 20067, 20068, 20069, 20070,
    20071, 20072, 20073, 20074, 41012, 41050, 99991400, 99991661, 99991663, 99991664, 99991668, 99991672,
];

impl Error {
    /// Feishu's numeric code, in either shape.
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::OAuth { code, .. } | Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A short code for metric labels: Feishu's number, or the kind of transport failure.
    pub fn failure_code(&self) -> String {
        match self {
            // Codes this crate knows by name; any other is `other`, so answers cannot mint label values.
            Error::OAuth { code, .. } | Error::Api { code, .. } if KNOWN.contains(code) => code.to_string(),
            Error::OAuth { .. } | Error::Api { .. } => "other".into(),
            Error::Timeout { .. } => "timeout".into(),
            Error::Http { .. } => "http".into(),
            Error::Decode { .. } => "decode".into(),
            Error::Cache(_) => "token_cache".into(),
        }
    }

    /// The code was not found, expired (5 min), already used, or is another app's or redirect's.
    pub fn is_code_invalid(&self) -> bool {
        matches!(self.code(), Some(20003 | 20004 | 20065 | 20024 | 20071 | 20049))
    }

    /// 20010: the person is outside the app's availability (可用范围).
    pub fn is_not_available_to_user(&self) -> bool {
        self.code() == Some(20010)
    }

    /// The person's account is resigned, frozen, missing or in an invalid state.
    pub fn is_account_gone(&self) -> bool {
        matches!(self.code(), Some(20008 | 20066 | 20021 | 20022 | 20023))
    }

    /// The cached app or tenant token is no longer good: drop it, fetch once, retry once.
    pub(crate) fn is_token_invalid(&self) -> bool {
        matches!(self, Error::Api { code: 99991663 | 99991664 | 99991661, .. })
    }

    /// Feishu could not answer now: try later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Http { .. } | Error::Decode { .. } | Error::Cache(_) => true,
            Error::OAuth { status, code, .. } => *status >= 500 || matches!(code, 20050 | 20072),
            Error::Api { code, .. } => matches!(code, 20050 | 99991400),
        }
    }

    pub fn advice(&self) -> Option<Advice> {
        use Audience::*;
        match self.code()? {
            20002 | 10014 | 10003 => advice(
                Admin,
                "Feishu refused the connection's app_id or app_secret: copy both again from the Feishu developer console (开发者后台 → the app → 凭证与基础信息).",
                "飞书拒绝了该登录方式的 app_id 或 app_secret：请从飞书开发者后台（应用 → 凭证与基础信息）重新复制。",
            ),
            20009 | 20048 | 20069 => advice(
                Admin,
                "The Feishu app is not installed, missing or disabled in this tenant: publish the app (版本管理与发布) and have the tenant's admin enable it.",
                "该飞书应用在此企业中未安装、不存在或已停用：请发布应用（版本管理与发布）并由企业管理员启用。",
            ),
            20027 | 20067 | 20068 => advice(
                Admin,
                "The Feishu app has not enabled a scope wegate asks for: enable it under 权限管理 and publish a new version.",
                "飞书应用未开通 wegate 请求的权限：请在权限管理中开通并发布新版本。",
            ),
            99991672 => advice(
                Admin,
                "The Feishu app lacks the API scope of this call: enable it under 权限管理 (e.g. contact:user.base:readonly for the membership re-check) and publish a new version.",
                "飞书应用缺少此接口的权限：请在权限管理中开通（如成员状态复查所需的 contact:user.base:readonly）并发布新版本。",
            ),
            20074 | 20036 | 20070 | 20001 | 20063 => advice(
                Admin,
                "Feishu refused wegate's token request as misconfigured; check the connection against the Feishu app.",
                "飞书认为 wegate 的令牌请求配置有误；请核对该登录方式与飞书应用的设置。",
            ),
            20010 => advice(
                Person,
                "Your Feishu account is outside this app's availability: ask your Feishu administrator to add you to the app's 可用范围.",
                "您的飞书账号不在此应用的可用范围内：请联系飞书管理员把您加入应用的可用范围。",
            ),
            20021 | 20022 | 20023 | 20008 | 20066 => advice(
                Person,
                "Feishu says your account is resigned, frozen or not activated.",
                "飞书显示您的账号已离职、被冻结或未激活。",
            ),
            10012 | 10016 => advice(
                Admin,
                "Feishu has not delivered the marketplace app's app_ticket to wegate yet: check the event URL in the developer console (事件与回调); wegate asks Feishu to resend it.",
                "飞书尚未把商店应用的 app_ticket 推送给 wegate：请检查开发者后台的事件与回调地址；wegate 会请求飞书重新推送。",
            ),
            99991400 => advice(
                Ops,
                "Feishu is rate-limiting this server's calls; try again shortly.",
                "飞书正在限制本服务器的调用频率，请稍后再试。",
            ),
            _ if self.is_code_invalid() => advice(
                Person,
                "The sign-in code from Feishu is invalid, has expired, or was already used.",
                "飞书返回的登录凭证无效、已过期或已被使用。",
            ),
            _ => None,
        }
    }
}
