//! Client authentication at the token, introspection and revocation endpoints: `client_secret_basic`,
//! `client_secret_post`, and `none` for public (`spa`, `native`) apps (RFC 6749 §2.3, OIDC Core §9).

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::OAuthError;
use crate::app::App;
use crate::store::App as Client;
use crate::util::{secure_eq, sha256_hex};

/// Form parameters of a token-endpoint style request; each at most once.
pub struct FormParams(pub std::collections::HashMap<String, String>);

impl FormParams {
    pub fn parse(pairs: Vec<(String, String)>) -> Result<FormParams, OAuthError> {
        let mut map = std::collections::HashMap::new();
        for (k, v) in pairs {
            if map.insert(k.clone(), v).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter {k} appears more than once")));
            }
        }
        Ok(FormParams(map))
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key).ok_or_else(|| OAuthError::invalid_request(format!("{key} is required")))
    }
}

/// Who is calling. Exactly one method may be used.
pub async fn authenticate(app: &App, headers: &HeaderMap, form: &FormParams) -> Result<Client, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")));
    let (client_id, secret) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("use one client authentication method, not two")),
        (Some(encoded), None) => {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) =
                decoded.split_once(':').ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded inside the Basic header.
            let id = form_decode(id);
            let secret = form_decode(secret);
            if let Some(form_id) = form.get("client_id")
                && form_id != id
            {
                return Err(OAuthError::invalid_client("client_id differs from the authenticated client"));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id =
                form.get("client_id").ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            (id.to_string(), secret.map(String::from))
        }
    };
    let Some(client) = app.store.get_app(&client_id).await? else {
        return Err(OAuthError::invalid_client("unknown client"));
    };
    match (&client.client_secret_hash, secret) {
        (Some(hash), Some(secret)) if secure_eq(hash, &sha256_hex(&secret)) => Ok(client),
        (Some(_), _) => Err(OAuthError::invalid_client("client authentication failed")),
        (None, None) => Ok(client),
        (None, Some(_)) => Err(OAuthError::invalid_client("this app is a public client and has no secret")),
    }
}

fn form_decode(s: &str) -> String {
    let replaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&replaced).decode_utf8_lossy().into_owned()
}
