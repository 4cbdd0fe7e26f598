//! Signing keys: an RS256 key generated on first start and kept in the store, so every instance signs
//! with the same key and publishes the same JWKS. Retired keys stay published (room for rotation) until
//! the tokens they signed have expired. Keys are loaded once at start and held in memory; the store is the
//! source of truth.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::store::{SigningKey, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored key {kid} is unusable: {message}")]
    Corrupt { kid: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing failed: {0}")]
    Sign(String),
}

struct LoadedKey {
    kid: String,
    decoding: DecodingKey,
}

/// The keys in use: one to sign with, all to verify with.
pub struct KeySet {
    signing_kid: String,
    encoding: EncodingKey,
    verifying: Vec<LoadedKey>,
    jwks: Value,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("signing_kid", &self.signing_kid).finish_non_exhaustive()
    }
}

/// Generates a fresh RSA-2048 key with its JWK and RFC 7638 thumbprint as `kid`.
pub fn generate_key(now: i64) -> Result<SigningKey, KeyError> {
    let private =
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| KeyError::Generate(e.to_string()))?;
    let pem = private.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Generate(e.to_string()))?;
    let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
    // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = crate::util::sha256_b64url(thumbprint_input.as_bytes());
    let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
    Ok(SigningKey {
        kid,
        alg: "RS256".into(),
        private_pem: pem.to_string(),
        public_jwk: jwk,
        created_at: now,
        retired_at: None,
    })
}

impl KeySet {
    /// Loads the keys from the store, creating the first one if there is none. Several instances
    /// starting at once agree on one key (the store keeps whichever was inserted first).
    pub async fn load_or_create(store: &dyn Store, now: i64) -> Result<KeySet, KeyError> {
        let existing = store.list_signing_keys().await?;
        let active = match existing.iter().find(|k| k.retired_at.is_none()) {
            Some(key) => key.clone(),
            None => {
                let candidate = tokio::task::spawn_blocking(move || generate_key(now))
                    .await
                    .map_err(|e| KeyError::Generate(e.to_string()))??;
                store.ensure_active_signing_key(candidate).await?
            }
        };
        let all = store.list_signing_keys().await?;
        KeySet::from_keys(&active, &all)
    }

    fn from_keys(active: &SigningKey, all: &[SigningKey]) -> Result<KeySet, KeyError> {
        let encoding = EncodingKey::from_rsa_pem(active.private_pem.as_bytes())
            .map_err(|e| KeyError::Corrupt { kid: active.kid.clone(), message: e.to_string() })?;
        let mut verifying = Vec::new();
        let mut jwks = Vec::new();
        for key in all {
            let n = key.public_jwk.get("n").and_then(Value::as_str).unwrap_or_default();
            let e = key.public_jwk.get("e").and_then(Value::as_str).unwrap_or_default();
            let decoding = DecodingKey::from_rsa_components(n, e)
                .map_err(|err| KeyError::Corrupt { kid: key.kid.clone(), message: err.to_string() })?;
            verifying.push(LoadedKey { kid: key.kid.clone(), decoding });
            jwks.push(key.public_jwk.clone());
        }
        Ok(KeySet { signing_kid: active.kid.clone(), encoding, verifying, jwks: json!({ "keys": jwks }) })
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs claims with the active key. `typ` is `JWT` for ID tokens and `at+jwt` for access tokens
    /// (RFC 9068 §2.1). One RSA signature: the costliest step of a login, so callers sign only what they send.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.signing_kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Verifies a token we issued: signature by one of our keys, `iss`, and — unless `allow_expired` —
    /// `exp`. `typ` must match when given. Audience is checked by the caller.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        typ: Option<&str>,
        allow_expired: bool,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 {
            return None;
        }
        if let Some(expected) = typ
            && !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(expected))
        {
            return None;
        }
        let kid = header.kid?;
        let key = self.verifying.iter().find(|k| k.kid == kid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.validate_exp = !allow_expired;
        if allow_expired {
            validation.required_spec_claims.remove("exp");
        }
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation).ok().map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let key = generate_key(0).unwrap();
        let set = KeySet::from_keys(&key, std::slice::from_ref(&key)).unwrap();
        let claims = json!({"iss": "https://id.example", "sub": "u1", "exp": crate::util::unix_now() + 60});
        let token = set.sign("JWT", &claims).unwrap();
        let back: Value = set.verify(&token, "https://id.example", Some("JWT"), false).unwrap();
        assert_eq!(back["sub"], "u1");
        assert!(set.verify::<Value>(&token, "https://other", None, false).is_none());
        assert!(set.verify::<Value>(&token, "https://id.example", Some("at+jwt"), false).is_none());
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://id.example","sub":"admin","exp":9999999999}"#);
        assert!(set.verify::<Value>(&parts.join("."), "https://id.example", None, false).is_none());
        assert_eq!(set.jwks()["keys"][0]["kid"], key.kid);
    }
}
