//! The relying-party side of OpenID Connect and OAuth 2.0, for a broker that signs people in through
//! another provider: discovery and signing keys cached per issuer ([`Providers`]), the authorization
//! request with state, nonce and PKCE S256 ([`flow`]), the code exchange and userinfo ([`flow`]), and the
//! ID token's verification ([`verify`]). Knows no server and no database; times come from the caller.
//!
//! Why not the `openidconnect` crate: its verifier keeps the keys it was built with forever
//! (openidconnect-rs#232), has no clock-skew setting, and accepts HS256 keyed with the client secret for
//! confidential clients unless told otherwise — the three things this crate exists to get right. It
//! verifies with `jsonwebtoken` against an allow-list of asymmetric algorithms instead.

pub mod error;
pub mod flow;
pub mod http;
pub mod path;
pub mod provider;
pub mod verify;

pub use error::Error;
pub use flow::{ClientAuth, ClientCredentials, Pkce, TokenResponse};
pub use http::{Http, Observer};
pub use provider::{Metadata, Providers};
pub use verify::{Expected, IdClaims};

/// Whether `url` may be called on a back channel or sent a browser to: `https`, or `http` on a loopback
/// host (`localhost`, `127.0.0.0/8`, `::1`) for providers running beside the broker.
pub fn check_url(what: &str, url: &str) -> Result<url::Url, Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Config(format!("{what} {url:?} is not a URL: {e}")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(Error::Config(format!("{what} {url:?} has no host"))),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(Error::Config(format!("{what} must be an https URL (http only on a loopback host): {url}"))),
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::Config(format!("{what} must have no fragment and no user name: {url}")));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("issuer", "https://login.example.com/tenant/v2.0").is_ok());
        assert!(check_url("issuer", "http://127.0.0.1:8080").is_ok());
        assert!(check_url("issuer", "http://127.8.9.1").is_ok());
        assert!(check_url("issuer", "http://localhost:9000").is_ok());
        assert!(check_url("issuer", "http://[::1]:9000").is_ok());
        assert!(check_url("issuer", "http://idp.example.com").is_err());
        assert!(check_url("issuer", "http://10.0.0.1").is_err());
        assert!(check_url("issuer", "ftp://idp.example.com").is_err());
        assert!(check_url("issuer", "https://user:pw@idp.example.com").is_err());
        assert!(check_url("issuer", "https://idp.example.com/#x").is_err());
        assert!(check_url("issuer", "not a url").is_err());
    }
}
