//! WeCom errcodes a sign-in can meet, each with what the admin or the person must do, in English and
//! Chinese (reference §1, §4, §9). Servers show these on error pages and in logs.
//!
//! ```
//! let x = wecom::errcode::explain(60020).unwrap();
//! assert_eq!(x.category, wecom::errcode::Category::Network);
//! assert!(x.en.contains("trusted IP"));
//! ```

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The person signing in can fix it (try again, scan with the right account).
    Person,
    /// The WeCom or wegate administrator must change a setting.
    Admin,
    /// Operations: network, egress IP, capacity.
    Ops,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    InvalidCode,
    NotInScope,
    UserNotFound,
    Config,
    /// The caller's IP is not trusted by WeCom.
    Network,
    RateLimited,
    Unavailable,
    TokenInvalid,
    /// Authorization revoked, permanent code or suite ticket problems.
    Authorization,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    pub code: i64,
    pub category: Category,
    pub audience: Audience,
    pub en: &'static str,
    pub zh: &'static str,
}

use Audience::*;
use Category::*;

const fn x(code: i64, category: Category, audience: Audience, en: &'static str, zh: &'static str) -> Explanation {
    Explanation { code, category, audience, en, zh }
}

static CATALOGUE: &[Explanation] = &[
    x(
        -1,
        Unavailable,
        Person,
        "WeCom is busy right now. Wait a moment and sign in again.",
        "企业微信系统繁忙，请稍后重新登录。",
    ),
    x(
        40001,
        Config,
        Admin,
        "WeCom rejected the app's Secret (or an access token). The administrator must check the Secret of the WeCom app in wegate.",
        "企业微信拒绝了应用的 Secret（或访问令牌）。请管理员检查 wegate 中配置的应用 Secret。",
    ),
    x(
        40013,
        Config,
        Admin,
        "WeCom does not know this corp ID. The administrator must check the Corp ID configured in wegate.",
        "企业微信不认识此企业 ID。请管理员检查 wegate 中配置的企业 ID。",
    ),
    x(
        40014,
        TokenInvalid,
        Ops,
        "WeCom rejected the access token. wegate fetches a new one automatically; if this persists, check the app's Secret.",
        "企业微信拒绝了访问令牌。wegate 会自动重新获取；若持续出现，请检查应用 Secret。",
    ),
    x(
        40029,
        InvalidCode,
        Person,
        "The sign-in code from WeCom is invalid, expired or already used. Start the sign-in again.",
        "企业微信登录码无效、已过期或已被使用。请重新登录。",
    ),
    x(
        40056,
        Config,
        Admin,
        "WeCom does not know this AgentID. The administrator must check the AgentID configured in wegate.",
        "企业微信不认识此 AgentID。请管理员检查 wegate 中配置的 AgentID。",
    ),
    x(
        40078,
        InvalidCode,
        Admin,
        "The authorization code from WeCom is invalid or expired. Authorize the app again in WeCom.",
        "企业微信临时授权码无效或已过期。请在企业微信中重新授权应用。",
    ),
    x(
        40080,
        Config,
        Admin,
        "WeCom rejected the suite (template) secret. The administrator must check it in wegate.",
        "企业微信拒绝了套件（模版）Secret。请管理员在 wegate 中检查。",
    ),
    x(
        40082,
        TokenInvalid,
        Ops,
        "WeCom rejected the suite access token. wegate fetches a new one automatically.",
        "企业微信拒绝了套件访问令牌。wegate 会自动重新获取。",
    ),
    x(
        40083,
        Config,
        Admin,
        "WeCom does not know this suite or template id. The administrator must check it in wegate.",
        "企业微信不认识此套件或模版 ID。请管理员在 wegate 中检查。",
    ),
    x(
        40084,
        Authorization,
        Admin,
        "WeCom rejected the permanent code. The corp may have to authorize the app again.",
        "企业微信拒绝了永久授权码。企业可能需要重新授权应用。",
    ),
    x(
        40085,
        Authorization,
        Admin,
        "WeCom rejected the suite ticket. Wait for the next ticket push (every 10 minutes) or push it by hand in the service-provider console.",
        "企业微信拒绝了 suite_ticket。请等待下一次推送（每 10 分钟）或在服务商后台手动推送。",
    ),
    x(
        40091,
        Config,
        Admin,
        "WeCom rejected the app's Secret. The administrator must check the Secret configured in wegate.",
        "企业微信拒绝了应用 Secret。请管理员检查 wegate 中配置的 Secret。",
    ),
    x(
        41001,
        TokenInvalid,
        Ops,
        "The access token was missing from a call to WeCom. wegate fetches a new one automatically.",
        "调用企业微信时缺少访问令牌。wegate 会自动重新获取。",
    ),
    x(
        41002,
        Config,
        Admin,
        "The corp ID is missing. The administrator must set the Corp ID in wegate.",
        "缺少企业 ID。请管理员在 wegate 中填写企业 ID。",
    ),
    x(
        41004,
        Config,
        Admin,
        "The app's Secret is missing. The administrator must set it in wegate.",
        "缺少应用 Secret。请管理员在 wegate 中填写。",
    ),
    x(
        41025,
        Authorization,
        Admin,
        "The permanent code is missing. The corp must authorize the app first.",
        "缺少永久授权码。企业需要先授权应用。",
    ),
    x(
        42001,
        TokenInvalid,
        Ops,
        "The access token expired. wegate fetches a new one automatically.",
        "访问令牌已过期。wegate 会自动重新获取。",
    ),
    x(
        42009,
        TokenInvalid,
        Ops,
        "The suite access token expired. wegate fetches a new one automatically.",
        "套件访问令牌已过期。wegate 会自动重新获取。",
    ),
    x(
        42022,
        InvalidCode,
        Person,
        "The sign-in code from WeCom was already used. Start the sign-in again.",
        "企业微信登录码已被使用。请重新登录。",
    ),
    x(
        45009,
        RateLimited,
        Ops,
        "WeCom is limiting how often this server may call it. Wait a minute and try again; if it persists, check for a loop calling WeCom.",
        "企业微信限制了调用频率。请稍等一分钟再试；若持续出现，请检查是否有循环调用。",
    ),
    x(
        45033,
        RateLimited,
        Ops,
        "Too many calls to WeCom at once. Try again in a moment.",
        "同时调用企业微信的请求过多。请稍后再试。",
    ),
    x(
        46004,
        UserNotFound,
        Person,
        "This member does not exist in the corp. Ask your administrator.",
        "企业中不存在此成员。请联系管理员。",
    ),
    x(
        48002,
        Config,
        Admin,
        "The WeCom app is not allowed to call this API. The administrator must grant the permission in the WeCom admin console.",
        "企业微信应用无权调用此接口。请管理员在企业微信管理后台开通权限。",
    ),
    x(
        48004,
        Authorization,
        Admin,
        "The corp's authorization of the app is gone. The corp must authorize it again.",
        "企业对应用的授权已失效。企业需要重新授权。",
    ),
    x(
        48006,
        Authorization,
        Admin,
        "The app's authorization was revoked (for example after long disuse). The corp must authorize it again.",
        "应用授权已被撤销（例如长期未使用）。企业需要重新授权。",
    ),
    x(
        50001,
        Config,
        Admin,
        "The sign-in address is not a trusted domain of the WeCom app. The administrator must set wegate's host as the app's trusted domain (OAuth / Web 网页授权回调域名).",
        "登录回调地址不是企业微信应用的可信域名。请管理员把 wegate 的域名设置为应用的可信域名（授权回调域）。",
    ),
    x(
        50002,
        NotInScope,
        Person,
        "Your WeCom account is outside this app's visible scope. Ask the administrator to add you to the app's visible scope.",
        "您的企业微信账号不在此应用的可见范围内。请联系管理员把您加入应用可见范围。",
    ),
    x(
        50003,
        Config,
        Admin,
        "The WeCom app is disabled. The administrator must enable it in the WeCom admin console.",
        "企业微信应用已停用。请管理员在企业微信管理后台启用。",
    ),
    x(
        60011,
        NotInScope,
        Person,
        "Your WeCom account is outside this app's visible scope. Ask the administrator to add you to the app's visible scope.",
        "您的企业微信账号不在此应用的可见范围内。请联系管理员把您加入应用可见范围。",
    ),
    x(
        60020,
        Network,
        Ops,
        "WeCom refused the call because this server's IP is not in the app's trusted IP list (企业可信IP). The administrator must add wegate's egress IP.",
        "企业微信拒绝了调用：本服务器 IP 不在应用的企业可信 IP 列表中。请管理员添加 wegate 的出口 IP。",
    ),
    x(
        60021,
        NotInScope,
        Person,
        "Your WeCom account is outside this app's visible scope. Ask the administrator to add you to the app's visible scope.",
        "您的企业微信账号不在此应用的可见范围内。请联系管理员把您加入应用可见范围。",
    ),
    x(
        60111,
        UserNotFound,
        Person,
        "This member does not exist in the corp. Ask your administrator.",
        "企业中不存在此成员。请联系管理员。",
    ),
];

/// What an errcode means and who must act, if we know it.
pub fn explain(errcode: i64) -> Option<&'static Explanation> {
    CATALOGUE.iter().find(|e| e.code == errcode)
}

/// The errcodes after which a fresh access token (corp, suite or provider) and one retry may succeed.
/// 40001 means "invalid secret" at gettoken but "invalid credential" for a bad token elsewhere, so it is
/// treated as a token error on every call but gettoken itself (as WxJava does).
pub fn is_token_invalid(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40014 | 42001 | 41001 | 40082 | 42009)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_reference_is_explained_in_both_languages() {
        let codes = [
            -1, 40001, 40013, 40014, 40029, 40056, 40078, 40080, 40082, 40083, 40084, 40085, 40091, 41001, 41002,
            41004, 41025, 42001, 42009, 42022, 45009, 45033, 46004, 48002, 48004, 48006, 50001, 50002, 50003, 60011,
            60020, 60021, 60111,
        ];
        for code in codes {
            let e = explain(code).unwrap_or_else(|| panic!("{code} missing"));
            assert!(!e.en.is_empty() && !e.zh.is_empty());
        }
        assert!(explain(12345).is_none());
        assert_eq!(explain(60011).map(|e| e.category), Some(Category::NotInScope));
        assert!(is_token_invalid(42001) && !is_token_invalid(40029));
    }
}
