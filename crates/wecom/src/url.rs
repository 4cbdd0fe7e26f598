//! Login URL builders: the PC QR code page (`/wwlogin/sso/login`, reference §2.1) and the in-WeCom OAuth
//! page (`/connect/oauth2/authorize`, §3). Bases are configurable so a simulator can stand in for WeCom.
//!
//! ```
//! use wecom::url::{LoginType, qr_login_url};
//! let url = qr_login_url("https://login.work.weixin.qq.com", LoginType::CorpApp { corp_id: "ww1", agent_id: "1000002" },
//!                        "https://sso.example.com/cb?x=1", "abc", None);
//! assert_eq!(url, "https://login.work.weixin.qq.com/wwlogin/sso/login?login_type=CorpApp&appid=ww1&agentid=1000002\
//!                  &redirect_uri=https%3A%2F%2Fsso.example.com%2Fcb%3Fx%3D1&state=abc");
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn enc(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// `{base}/wwopen/sso/3rd_qrConnect?appid=<provider corp id>&redirect_uri=…&state=…&usertype=member`: the
/// service-provider login (reference §8). WeCom hands back `auth_code` (the query name is UNCONFIRMED in the
/// reference; readers should accept `code` as well) for `service/get_login_info`.
///
/// ```
/// let url = wecom::url::provider_login_url("https://login.work.weixin.qq.com", "wwprovider", "https://sso.example.com/cb", "abc");
/// assert_eq!(url, "https://login.work.weixin.qq.com/wwopen/sso/3rd_qrConnect?appid=wwprovider\
///                  &redirect_uri=https%3A%2F%2Fsso.example.com%2Fcb&state=abc&usertype=member");
/// ```
pub fn provider_login_url(login_base: &str, provider_corp_id: &str, redirect_uri: &str, state: &str) -> String {
    format!(
        "{}/wwopen/sso/3rd_qrConnect?appid={}&redirect_uri={}&state={}&usertype=member",
        login_base.trim_end_matches('/'),
        enc(provider_corp_id),
        enc(redirect_uri),
        enc(state)
    )
}

#[derive(Debug, Clone, Copy)]
pub enum LoginType<'a> {
    /// Self-built or delegated-development app: appid = the corp id.
    CorpApp { corp_id: &'a str, agent_id: &'a str },
    /// Service-provider login: appid = the login-authorization suite id.
    ServiceApp { suite_id: &'a str },
}

/// `{base}/wwlogin/sso/login?login_type=…&appid=…[&agentid=…]&redirect_uri=…&state=…[&lang=…]`
pub fn qr_login_url(
    login_base: &str,
    login_type: LoginType<'_>,
    redirect_uri: &str,
    state: &str,
    lang: Option<&str>,
) -> String {
    let base = login_base.trim_end_matches('/');
    let mut url = match login_type {
        LoginType::CorpApp { corp_id, agent_id } => {
            format!("{base}/wwlogin/sso/login?login_type=CorpApp&appid={}&agentid={}", enc(corp_id), enc(agent_id))
        }
        LoginType::ServiceApp { suite_id } => {
            format!("{base}/wwlogin/sso/login?login_type=ServiceApp&appid={}", enc(suite_id))
        }
    };
    url.push_str(&format!("&redirect_uri={}&state={}", enc(redirect_uri), enc(state)));
    if let Some(lang) = lang {
        url.push_str(&format!("&lang={}", enc(lang)));
    }
    url
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthScope {
    /// Silent: identity only.
    Base,
    /// With consent: a `user_ticket` for mobile, email, avatar (`auth/getuserdetail`).
    PrivateInfo,
}

impl OAuthScope {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthScope::Base => "snsapi_base",
            OAuthScope::PrivateInfo => "snsapi_privateinfo",
        }
    }
}

/// `{base}/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code&scope=…&state=…[&agentid=…]#wechat_redirect`
/// (`agentid` is mandatory with `snsapi_privateinfo`; the fragment is required by WeCom).
pub fn oauth_url(
    oauth_base: &str,
    appid: &str,
    redirect_uri: &str,
    scope: OAuthScope,
    state: &str,
    agent_id: Option<&str>,
) -> String {
    let base = oauth_base.trim_end_matches('/');
    let mut url = format!(
        "{base}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope={}&state={}",
        enc(appid),
        enc(redirect_uri),
        scope.as_str(),
        enc(state)
    );
    if let Some(agent_id) = agent_id {
        url.push_str(&format!("&agentid={}", enc(agent_id)));
    }
    url.push_str("#wechat_redirect");
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_app_and_lang() {
        let url = qr_login_url(
            "http://127.0.0.1:9000/",
            LoginType::ServiceApp { suite_id: "ww5" },
            "https://a/b",
            "s",
            Some("en"),
        );
        assert_eq!(
            url,
            "http://127.0.0.1:9000/wwlogin/sso/login?login_type=ServiceApp&appid=ww5&redirect_uri=https%3A%2F%2Fa%2Fb&state=s&lang=en"
        );
    }

    #[test]
    fn oauth_url_encodes_unicode_and_keeps_the_fragment() {
        let url = oauth_url(
            "https://open.weixin.qq.com",
            "ww1",
            "https://sso.example.com/回调?a=b&c=d",
            OAuthScope::PrivateInfo,
            "x1",
            Some("1000002"),
        );
        assert_eq!(
            url,
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=ww1&redirect_uri=https%3A%2F%2Fsso.example.com%2F%E5%9B%9E%E8%B0%83%3Fa%3Db%26c%3Dd&response_type=code&scope=snsapi_privateinfo&state=x1&agentid=1000002#wechat_redirect"
        );
        assert!(
            oauth_url("https://o", "ww1", "https://r", OAuthScope::Base, "s", None)
                .ends_with("scope=snsapi_base&state=s#wechat_redirect")
        );
    }
}
