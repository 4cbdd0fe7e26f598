//! Trusted-domain (可信域名) matching of redirect URIs, shared by the login pages and the code
//! exchange (which answers `50001` when the code's redirect host is not the app's domain).
//!
//! WeCom compares the domain exactly, port included (reference §2.3, §7.6; path/91335 开始开发, 关于网页授权
//! 的可信域名: a domain configured as `mail.qq.com` does not admit `mail.qq.com:8080` — 配置域名必须与访问域名
//! 完全一致，包括端口号): no sub-domains, and a domain without a port admits only the scheme's default port.

use url::Url;

/// A parsed trusted domain: a host and, optionally, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustedDomain {
    host: String,
    port: Option<u16>,
}

impl TrustedDomain {
    /// Parses `host` or `host:port`; `None` when it is neither (e.g. carries a scheme or a path).
    pub(crate) fn parse(domain: &str) -> Option<TrustedDomain> {
        let domain = domain.trim();
        if domain.is_empty() || domain.contains('/') || domain.contains('@') {
            return None;
        }
        // Split the port off by hand: `Url::port` hides a port equal to the scheme's default.
        let (host_part, port) = match domain.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, Some(p.parse().ok()?)),
            _ => (domain, None),
        };
        let url = Url::parse(&format!("http://{host_part}/")).ok()?;
        let host = url.host_str()?.to_owned();
        Some(TrustedDomain { host, port })
    }

    /// Whether `redirect` (an http(s) URL) is inside this domain.
    pub(crate) fn admits(&self, redirect: &Url) -> bool {
        let Some(host) = redirect.host_str() else {
            return false;
        };
        if !host.eq_ignore_ascii_case(&self.host) {
            return false;
        }
        match self.port {
            // `Url::port` is `None` exactly when the URL uses its scheme's default port.
            None => redirect.port().is_none(),
            Some(p) => redirect.port_or_known_default() == Some(p),
        }
    }
}

/// Whether `redirect` is inside `domain` (a seed string); an unparseable domain admits nothing.
pub(crate) fn admits(domain: &str, redirect: &Url) -> bool {
    TrustedDomain::parse(domain).is_some_and(|d| d.admits(redirect))
}

/// Parses a redirect_uri as WeCom accepts it: an absolute http or https URL with a host.
pub(crate) fn parse_redirect(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        parse_redirect(s).unwrap()
    }

    #[test]
    fn host_only_domain_admits_only_the_default_port() {
        let d = TrustedDomain::parse("127.0.0.1").unwrap();
        assert!(!d.admits(&url("http://127.0.0.1:8080/cb")));
        assert!(d.admits(&url("https://127.0.0.1/cb")));
        assert!(d.admits(&url("http://127.0.0.1:80/cb")));
        assert!(!d.admits(&url("http://127.0.0.2/cb")));
    }

    #[test]
    fn domain_with_port_requires_that_port() {
        let d = TrustedDomain::parse("sso.example.com:8443").unwrap();
        assert!(d.admits(&url("https://sso.example.com:8443/cb")));
        assert!(!d.admits(&url("https://sso.example.com/cb")));
        assert!(!d.admits(&url("https://a.sso.example.com:8443/cb")));
        let d = TrustedDomain::parse("sso.example.com:443").unwrap();
        assert!(d.admits(&url("https://sso.example.com/cb")));
        let d = TrustedDomain::parse("sso.example.com:80").unwrap();
        assert!(d.admits(&url("http://sso.example.com/cb")));
        assert!(!d.admits(&url("http://sso.example.com:8080/cb")));
    }

    #[test]
    fn rejects_non_domains() {
        assert!(TrustedDomain::parse("https://x.com").is_none());
        assert!(TrustedDomain::parse("x.com/path").is_none());
        assert!(TrustedDomain::parse("").is_none());
        assert!(parse_redirect("javascript:alert(1)").is_none());
        assert!(parse_redirect("/relative").is_none());
    }
}
