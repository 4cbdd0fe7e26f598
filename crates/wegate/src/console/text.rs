//! The console's strings, English and Chinese side by side (a string cannot exist in one language only).

use std::collections::BTreeMap;

use crate::web::i18n::Lang;

const STRINGS: &[(&str, &str, &str)] = &[
    ("console", "Admin console", "管理控制台"),
    ("dashboard", "Overview", "概览"),
    ("apps", "Apps", "应用"),
    ("connections", "Connections", "身份源连接"),
    ("users", "Users", "用户"),
    ("audit", "Audit log", "审计日志"),
    ("sign_out", "Sign out", "退出登录"),
    ("sign_in", "Sign in with wegate", "使用 wegate 登录"),
    (
        "sign_in_hint",
        "Admins sign in like everyone else: with a password or any connection enabled for the app “console”.",
        "管理员与其他人一样登录：使用密码，或为“console”应用启用的任一身份源。",
    ),
    ("admin_token", "Admin token", "管理令牌"),
    (
        "use_token",
        "Or open the console with the admin token (WEGATE_ADMIN_TOKEN)",
        "或使用管理令牌（WEGATE_ADMIN_TOKEN）进入控制台",
    ),
    ("open", "Open", "进入"),
    ("login_error_expired", "The sign-in expired; start again.", "登录已过期，请重新开始。"),
    ("login_error_unverified", "The sign-in could not be verified; start again.", "无法验证此次登录，请重新开始。"),
    ("login_error_refused", "The sign-in did not succeed; start again.", "登录未成功，请重新开始。"),
    ("login_error_wrong_token", "Wrong admin token.", "管理令牌错误。"),
    ("login_error_no_token", "No admin token is set (WEGATE_ADMIN_TOKEN).", "未设置管理令牌（WEGATE_ADMIN_TOKEN）。"),
    ("denied", "This account may not use the admin console.", "此账号无权使用管理控制台。"),
    ("denied_hint", "An admin can grant it (user → admin).", "可由管理员在“用户 → 管理员”中授权。"),
    ("signed_in_as", "Signed in as", "当前登录"),
    ("signins_per_day", "Sign-ins per day (14 days)", "每日登录次数（14 天）"),
    ("failures", "Failed sign-ins by cause (14 days)", "登录失败原因（14 天）"),
    ("none_yet", "Nothing yet.", "暂无数据。"),
    ("name", "Name", "名称"),
    ("kind", "Kind", "类型"),
    ("client_id", "Client ID", "Client ID"),
    ("client_secret", "Client secret", "Client Secret"),
    ("secret_once", "Shown once: copy it now.", "仅显示一次，请立即复制。"),
    ("redirect_uris", "Redirect URIs (one per line)", "回调地址（每行一个）"),
    ("post_logout_redirect_uris", "Post-logout redirect URIs (one per line)", "退出后跳转地址（每行一个）"),
    ("backchannel_logout_uri", "Back-channel logout URI", "后端通道登出地址"),
    ("create", "Create", "创建"),
    ("save", "Save", "保存"),
    (
        "test_connection",
        "Test connection (bind the search account, count the people it finds)",
        "测试连接（以搜索账号绑定并统计找到的人员）",
    ),
    ("delete", "Delete", "删除"),
    ("confirm_delete", "Type the identifier to confirm", "输入标识以确认删除"),
    ("rotate", "Rotate the client secret", "重置 Client Secret"),
    ("enable", "Enable", "启用"),
    ("disable", "Disable", "停用"),
    ("enabled", "Enabled", "已启用"),
    ("order", "Order", "顺序"),
    ("identifier", "Identifier", "标识"),
    (
        "identifier_hint",
        "Lowercase letters, digits and -, under 32 characters; never changes.",
        "小写字母、数字和 -，少于 32 个字符；创建后不可更改。",
    ),
    ("display_name", "Display name (the login button)", "显示名称（登录按钮）"),
    ("login_only", "Login-only mode (existing accounts only)", "仅登录模式（只允许已有账号）"),
    ("trust_email", "Trust this connection's emails as verified", "将此身份源的邮箱视为已验证"),
    ("association", "Account identity association", "账号身份关联"),
    ("association_none", "None: a new user per new identity", "不关联：新身份创建新用户"),
    ("association_match", "Field matching", "字段匹配"),
    ("association_ask", "Ask to bind", "询问绑定"),
    ("icon_url", "Button icon (https URL or data:image/…)", "按钮图标（https 地址或 data:image/…）"),
    ("new_connection", "New connection", "新建身份源连接"),
    ("copy", "Copy", "复制"),
    ("paste_into_wecom", "Paste into WeCom", "填写到企业微信"),
    ("paste_into_provider", "Register at the provider (redirect URI)", "在提供方登记（回调地址）"),
    ("status", "Status", "状态"),
    ("url_verified", "Event URL verified", "回调 URL 已验证"),
    ("ticket_age", "Last suite_ticket (seconds ago)", "最近 suite_ticket（秒前）"),
    ("authorized_corps", "Authorized corps", "已授权企业"),
    ("token_cache", "WeCom access token cached", "企业微信 access_token 缓存"),
    ("recent_errors", "Recent WeCom errors", "近期企业微信错误"),
    ("warnings", "Settings that cannot work", "无法生效的设置"),
    ("secrets_set", "Secrets set (never shown)", "已设置的密钥（不显示）"),
    ("keep_empty", "Leave a secret empty to keep it.", "密钥留空则保持不变。"),
    ("search", "Search", "搜索"),
    ("next_page", "Next page", "下一页"),
    ("username", "Username", "用户名"),
    ("email", "Email", "邮箱"),
    ("phone", "Phone", "手机"),
    ("password", "Password", "密码"),
    ("set_password", "Set password", "设置密码"),
    ("admin", "Admin (may use this console)", "管理员（可使用控制台）"),
    ("grant_admin", "Make admin", "设为管理员"),
    ("revoke_admin", "Remove admin", "取消管理员"),
    ("disabled", "Disabled", "已停用"),
    ("identities", "WeCom identities", "企业微信身份"),
    ("sessions", "Sessions", "会话"),
    ("new_user", "New user", "新建用户"),
    ("event", "Event", "事件"),
    ("user", "User", "用户"),
    ("app", "App", "应用"),
    ("connection", "Connection", "身份源"),
    ("since", "Since (days)", "最近（天）"),
    ("filter", "Filter", "筛选"),
    ("time", "Time", "时间"),
    ("reason", "Reason", "原因"),
    ("saved", "Saved.", "已保存。"),
    ("created", "Created.", "已创建。"),
    ("deleted", "Deleted.", "已删除。"),
    ("browser_sessions", "Browser sessions", "浏览器会话"),
    ("signed_in_at", "Signed in", "登录时间"),
    ("apps_entered", "Apps entered (grants)", "已进入的应用（授权）"),
    ("guide", "Where to find each value in WeCom", "各字段在企业微信中的位置"),
];

/// All console strings of `lang` by key, for templates (`{{ c.apps }}`).
pub fn strings(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    STRINGS.iter().map(|(key, en, zh)| (*key, if lang == Lang::Zh { *zh } else { *en })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_exists_in_both_languages_once() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, en, zh) in STRINGS {
            assert!(keys.insert(*key), "{key} twice");
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
        }
    }
}
