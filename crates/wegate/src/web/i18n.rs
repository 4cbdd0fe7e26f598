//! English and Chinese text of the hosted pages, picked by `ui_locales` or `Accept-Language`.

use std::collections::BTreeMap;

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// First of `ui_locales` (OIDC, space-separated) or `Accept-Language` (by q-weight) that we speak.
    pub fn pick(ui_locales: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(locales) = ui_locales {
            for tag in locales.split_whitespace() {
                if let Some(lang) = Lang::from_tag(tag) {
                    return lang;
                }
            }
        }
        let header = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut ranked: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let q =
                    pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        ranked.iter().find_map(|(_, tag)| Lang::from_tag(tag)).unwrap_or(Lang::En)
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// One string.
    pub fn t(self, key: &str) -> &'static str {
        STRINGS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, en, zh)| if self == Lang::Zh { *zh } else { *en })
            .unwrap_or("")
    }

    /// All strings of the language, for templates (`{{ t.sign_in }}`).
    pub fn strings(self) -> BTreeMap<&'static str, &'static str> {
        STRINGS.iter().map(|(k, en, zh)| (*k, if self == Lang::Zh { *zh } else { *en })).collect()
    }
}

/// (key, English, Chinese)
const STRINGS: &[(&str, &str, &str)] = &[
    ("sign_in_to", "Sign in to", "登录到"),
    ("sign_in", "Sign in", "登录"),
    ("continue_with", "Continue with", "使用以下方式继续"),
    ("or_password", "or with your account", "或使用账号密码"),
    ("login", "Username, email or phone", "用户名、邮箱或手机号"),
    ("password", "Password", "密码"),
    (
        "no_connections",
        "No sign-in method is set up for this app yet. Ask your administrator.",
        "此应用尚未配置登录方式，请联系管理员。",
    ),
    ("bad_password", "Wrong account or password.", "账号或密码错误。"),
    (
        "locked_out",
        "Too many failed attempts for this account. Wait {minutes} minutes, or sign in another way.",
        "此账号密码错误次数过多，请 {minutes} 分钟后再试，或使用其他方式登录。",
    ),
    ("error_title", "Sign-in failed", "登录失败"),
    ("what_to_do", "What to do", "怎么办"),
    ("back_to_app", "Back to the app", "返回应用"),
    ("start_over", "Start over", "重新开始"),
    ("reference", "Reference", "参考编号"),
    ("signed_out", "You are signed out.", "您已退出登录。"),
    ("bind_title", "Link your WeCom account", "关联您的企业微信账号"),
    (
        "bind_intro",
        "Sign in once with your existing account to link it to this WeCom identity. Next time WeCom alone signs you in.",
        "请使用已有账号登录一次，以关联此企业微信身份。以后仅用企业微信即可登录。",
    ),
    ("bind_submit", "Sign in and link", "登录并关联"),
    ("bind_create", "Create a new account instead", "改为创建新账号"),
    ("or", "or", "或"),
    ("wecom_member", "WeCom member", "企业微信成员"),
    (
        "home_intro",
        "wegate signs your company's apps in with WeCom, through plain OpenID Connect.",
        "wegate 通过标准 OpenID Connect，让企业的各个应用使用企业微信登录。",
    ),
    ("discovery", "OpenID Connect discovery", "OpenID Connect 发现文档"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_weights_are_respected() {
        let mut headers = HeaderMap::new();
        headers.insert("accept-language", "en;q=0.5, zh-CN;q=0.9".parse().unwrap());
        assert_eq!(Lang::pick(None, &headers), Lang::Zh);
        headers.insert("accept-language", "fr, en-GB;q=0.8, zh;q=0.1".parse().unwrap());
        assert_eq!(Lang::pick(None, &headers), Lang::En);
        assert_eq!(Lang::pick(Some("zh-Hans en"), &headers), Lang::Zh);
        assert_eq!(Lang::pick(None, &HeaderMap::new()), Lang::En);
    }

    #[test]
    fn every_string_has_both_languages() {
        for (key, en, zh) in STRINGS {
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
        }
    }
}
