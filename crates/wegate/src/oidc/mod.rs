//! The OpenID Connect provider's protocol endpoints: discovery and keys, `/token` and its grants,
//! `/userinfo`, `/introspect`, `/revoke`, `/logout`, and what they share (client authentication, token
//! signing, OAuth errors, redirects). Knows nothing of WeCom or connectors: the browser login (`login`)
//! ends in a code like any other, and the native-app token exchange reaches the login flow through
//! [`token::SubjectTokenExchange`].

pub mod backchannel;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod keys;
pub mod logout;
pub mod redirect;
pub mod revoke;
pub mod token;
pub mod tokens;
pub mod userinfo;

/// Scopes we know; others are ignored as OIDC Core §3.1.2.1 allows.
pub const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "offline_access"];
