//! What the `oidc` and `oauth2` kinds share: the settings checks, the callback's answer (the provider's
//! `error=`, the code), the per-sign-in secrets kept in the login transaction, and the mapping of the
//! provider's claims to the standard ones.

use serde_json::{Map, Value, json};

use super::error::ConnectorError;
use super::seam::{Answer, Start};
use crate::store::{ClaimMap, EMAIL_VERIFIED};

/// The standard claims an admin may map from a provider's claims.
pub const MAPPED: &[&str] = &["name", "email", "phone_number", "preferred_username", "picture"];

/// A client id and secret as providers issue them.
pub fn check_client(client_id: &str, client_secret: &str) -> Result<(), String> {
    if client_id.is_empty() || client_id.len() > 255 || client_id.chars().any(char::is_control) {
        return Err("client_id is required (the id the provider gave this client, at most 255 characters)".into());
    }
    if client_secret.is_empty() {
        return Err("client_secret is required".into());
    }
    Ok(())
}

pub fn check_url(field: &str, url: &str) -> Result<(), String> {
    oidc_rp::check_url(field, url).map(|_| ()).map_err(|e| e.to_string())
}

/// Scope tokens (RFC 6749 §3.3): printable ASCII without space, `"` or `\`.
pub fn check_scopes(scopes: &[String]) -> Result<(), String> {
    let token = |s: &String| {
        !s.is_empty() && s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    };
    if scopes.len() > 32 || !scopes.iter().all(token) {
        return Err("scopes must be scope names (letters, digits and punctuation, no spaces or quotes)".into());
    }
    Ok(())
}

/// `claims`: standard claim → the provider's claim, as a dotted path.
pub fn check_claims(field: &str, claims: &ClaimMap, only_standard: bool) -> Result<(), String> {
    for (ours, theirs) in claims {
        if only_standard && !MAPPED.contains(&ours.as_str()) {
            return Err(format!("{field} may map only {}: not {ours}", MAPPED.join(", ")));
        }
        if !oidc_rp::path::valid(theirs) || (!only_standard && !oidc_rp::path::valid(ours)) {
            return Err(format!("{field}.{ours} must be a claim name or a dotted path (data.user_id)"));
        }
    }
    Ok(())
}

/// The provider's answer at the callback: its `error=` (RFC 6749 §4.1.2.1), or the code.
pub fn code<'a>(answer: &'a Answer<'_>) -> Result<&'a str, ConnectorError> {
    if let Some(error) = answer.param("error") {
        let error = oidc_rp::flow::short(error);
        let description = answer.param("error_description").map(oidc_rp::flow::short);
        return Err(if error == "access_denied" {
            ConnectorError::Cancelled
        } else {
            ConnectorError::Denied { error, description }
        });
    }
    answer.param("code").filter(|c| !c.is_empty()).ok_or(ConnectorError::Cancelled)
}

/// The PKCE verifier (and nonce) of this sign-in, kept in its login transaction until the callback.
pub struct Secrets {
    pub verifier: String,
    pub nonce: Option<String>,
}

impl Secrets {
    pub fn start(url: String, pkce: &oidc_rp::Pkce, nonce: Option<&str>) -> Start {
        Start::Redirect { url, carry: Some(json!({"verifier": pkce.verifier, "nonce": nonce})) }
    }

    pub fn of(answer: &Answer<'_>) -> Result<Secrets, ConnectorError> {
        let verifier = answer.carry.get("verifier").and_then(Value::as_str).filter(|v| !v.is_empty());
        let Some(verifier) = verifier else {
            return Err(ConnectorError::Config("the login transaction holds no PKCE verifier".into()));
        };
        let nonce = answer.carry.get("nonce").and_then(Value::as_str).map(str::to_string);
        Ok(Secrets { verifier: verifier.to_string(), nonce })
    }
}

/// The standard claims from the provider's, each by the admin's path or its own name.
pub struct Mapped {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub preferred_username: Option<String>,
    pub picture: Option<String>,
}

pub fn map_claims(claims: &Value, mapping: &ClaimMap) -> Mapped {
    let get = |ours: &str| {
        let path = mapping.get(ours).map(String::as_str).unwrap_or(ours);
        oidc_rp::path::string_at(claims, path).map(|v| v.trim().chars().take(512).collect::<String>())
    };
    Mapped {
        name: get("name"),
        email: get("email").filter(|e| e.contains('@')),
        phone: get("phone_number"),
        preferred_username: get("preferred_username"),
        picture: get("picture").filter(|p| p.starts_with("https://") || p.starts_with("http://")),
    }
}

/// Claims stored on the user: the provider's `email_verified` as it states it (a boolean, or the string
/// `"true"` some send — coder/coder#3954), which `connectors::finish` combines with `trust_email`, and the
/// preferred username.
pub fn user_claims(mapped: &Mapped, email_verified: bool) -> Value {
    let mut claims = Map::new();
    claims.insert(EMAIL_VERIFIED.into(), Value::Bool(email_verified && mapped.email.is_some()));
    if let Some(u) = &mapped.preferred_username {
        claims.insert("preferred_username".into(), Value::String(u.clone()));
    }
    Value::Object(claims)
}

/// A boolean claim as providers send it: `true`, or the string `"true"`.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The client an upstream registered for wegate.
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: &'a str,
    pub method: crate::store::ClientAuthMethod,
}

/// The answer's code redeemed at `token_endpoint` with the PKCE verifier kept at the start (and what else
/// was kept: the nonce).
pub async fn redeem(
    app: &crate::app::App,
    token_endpoint: &str,
    client: Client<'_>,
    answer: &Answer<'_>,
) -> Result<(oidc_rp::TokenResponse, Secrets), ConnectorError> {
    let code = code(answer)?;
    let secrets = Secrets::of(answer)?;
    let credentials = oidc_rp::ClientCredentials {
        client_id: client.id,
        client_secret: client.secret,
        auth: client_auth(client.method),
    };
    let http = app.providers.http();
    let tokens =
        oidc_rp::flow::exchange_code(http, token_endpoint, &credentials, code, answer.callback, &secrets.verifier)
            .await?;
    Ok((tokens, secrets))
}

fn client_auth(method: crate::store::ClientAuthMethod) -> oidc_rp::ClientAuth {
    match method {
        crate::store::ClientAuthMethod::ClientSecretBasic => oidc_rp::ClientAuth::Basic,
        crate::store::ClientAuthMethod::ClientSecretPost => oidc_rp::ClientAuth::Post,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_by_path_or_own_name() {
        let claims =
            json!({"name": "Ann", "mail": "ann@example.com", "email": "not-an-email", "picture": "javascript:x"});
        let mapping: ClaimMap = [("email".to_string(), "mail".to_string())].into();
        let m = map_claims(&claims, &mapping);
        assert_eq!(m.name.as_deref(), Some("Ann"));
        assert_eq!(m.email.as_deref(), Some("ann@example.com"));
        assert_eq!(m.picture, None, "only http(s) pictures");
        assert!(truthy(Some(&json!("TRUE"))) && truthy(Some(&json!(true))));
        assert!(!truthy(Some(&json!("yes"))) && !truthy(None) && !truthy(Some(&json!(1))));
    }
}
