//! The authorization-code flow as a client runs it: the authorization request (state, nonce, PKCE S256 —
//! RFC 7636), the code exchange at the token endpoint with the client's secret (RFC 6749 §2.3.1, §4.1.3),
//! and the userinfo request (Core §5.3).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{Error, Http, check_url};

/// A random value for `state`, `nonce` or a PKCE verifier: 32 bytes, base64url (43 characters).
pub fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A PKCE pair: the verifier stays with the broker, the S256 challenge goes to the provider.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce { verifier, challenge }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// The authorization request: `endpoint` with the flow's parameters added to any query it has.
pub fn authorize_url(endpoint: &str, params: &[(&str, &str)]) -> Result<String, Error> {
    let mut url = check_url("authorization_endpoint", endpoint)?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.to_string())
}

/// How the client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the form.
    Post,
}

pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub auth: ClientAuth,
}

/// The token endpoint's answer.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: Option<String>,
}

/// Redeems `code` (with its PKCE verifier and the `redirect_uri` it was sent with) at `token_endpoint`.
pub async fn exchange_code(
    http: &Http,
    token_endpoint: &str,
    client: &ClientCredentials<'_>,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenResponse, Error> {
    check_url("token_endpoint", token_endpoint)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let mut request = http.client().post(token_endpoint).header("accept", "application/json");
    match client.auth {
        ClientAuth::Basic => {
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(client.client_id), encode(client.client_secret));
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header("authorization", format!("Basic {basic}"));
        }
        ClientAuth::Post => {
            form.push(("client_id", client.client_id));
            form.push(("client_secret", client.client_secret));
        }
    }
    let answer = http.send("token", request.form(&form)).await?;
    if (400..500).contains(&answer.status) {
        // RFC 6749 §5.2: a JSON error object; anything else is a broken answer.
        let body = answer.json_object("token").ok();
        let error = body.as_ref().and_then(|b| b.get("error")).and_then(Value::as_str);
        return match error {
            Some(error) => Err(Error::Refused {
                what: "token",
                error: short(error),
                description: body.as_ref().and_then(|b| b.get("error_description")).and_then(Value::as_str).map(short),
            }),
            None => Err(Error::unavailable("token", format!("HTTP {}", answer.status))),
        };
    }
    if answer.status != 200 {
        return Err(Error::unavailable("token", format!("HTTP {}", answer.status)));
    }
    let body = answer.json_object("token")?;
    let token_type = body.get("token_type").and_then(Value::as_str).unwrap_or_default();
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::Invalid(format!("the token endpoint issued a {token_type:?} token, not a Bearer token")));
    }
    let access_token = match body.get("access_token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => return Err(Error::Invalid("the token endpoint's answer has no access_token".into())),
    };
    let id_token = body.get("id_token").and_then(Value::as_str).map(str::to_string);
    Ok(TokenResponse { access_token, id_token })
}

/// The userinfo endpoint's JSON object for `access_token` (signed userinfo answers are refused).
pub async fn userinfo(http: &Http, endpoint: &str, access_token: &str) -> Result<Map<String, Value>, Error> {
    check_url("userinfo_endpoint", endpoint)?;
    let request = http.client().get(endpoint).bearer_auth(access_token).header("accept", "application/json");
    let answer = http.send("userinfo", request).await?;
    if answer.status == 401 || answer.status == 403 {
        return Err(Error::Refused { what: "userinfo", error: format!("HTTP {}", answer.status), description: None });
    }
    if answer.status != 200 {
        return Err(Error::unavailable("userinfo", format!("HTTP {}", answer.status)));
    }
    if answer.content_type.starts_with("application/jwt") {
        return Err(Error::Config("the provider signs its userinfo answers, which is not supported".into()));
    }
    answer.json_object("userinfo")
}

/// A provider's error code or text, bounded and stripped of control characters, for logs and pages.
pub fn short(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new();
        assert_eq!(fresh.verifier.len(), 43);
        assert_ne!(fresh.verifier, Pkce::new().verifier);
    }

    #[test]
    fn the_authorize_url_keeps_the_endpoints_own_query() {
        let url = authorize_url("https://idp.example.com/auth?tenant=a", &[("state", "s t")]).unwrap();
        assert_eq!(url, "https://idp.example.com/auth?tenant=a&state=s+t");
        assert!(authorize_url("http://idp.example.com/auth", &[]).is_err());
    }
}
