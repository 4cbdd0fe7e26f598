//! Signing keys: an RS256 key generated on first start and kept in the store, so every instance signs
//! with the same key and publishes the same JWKS. Retired keys stay published (room for rotation) until
//! the tokens they signed have expired. Keys are loaded once at start and held in memory; the store is the
//! source of truth.
//!
//! ID tokens are always RS256. Access tokens are RS256 too unless `access_token_alg = "ES256"`: then a P-256
//! key (one per deployment, also in the store and the JWKS) signs them — an ECDSA signature costs a small
//! fraction of an RSA-2048 one, which is most of the CPU of a login or a refresh.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
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
    alg: Algorithm,
    decoding: DecodingKey,
}

/// A private key parsed once (jsonwebtoken's `EncodingKey` keeps the DER and parses it again at every
/// signature), held by AWS-LC: its RSA-2048 signature uses AVX-512 IFMA where the CPU has it, about twice as
/// fast as ring's — and an RSA signature is the largest single cost of a login and of a refresh.
struct Signer {
    kid: String,
    alg: Algorithm,
    key: PrivateKey,
    rng: SystemRandom,
}

enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// The keys in use: one for ID tokens, one for access tokens (the same unless ES256), all to verify with.
pub struct KeySet {
    id_tokens: Signer,
    access_tokens: Option<Signer>,
    verifying: Vec<LoadedKey>,
    jwks: Value,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("id_token_kid", &self.id_tokens.kid).finish_non_exhaustive()
    }
}

/// Generates a fresh P-256 key (ES256) with its JWK and RFC 7638 thumbprint as `kid`.
pub fn generate_ec_key(now: i64) -> Result<SigningKey, KeyError> {
    use aws_lc_rs::signature::KeyPair;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = pair.public_key().as_ref();
    if point.len() != 65 {
        return Err(KeyError::Generate("unexpected P-256 public key length".into()));
    }
    let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..65]));
    let kid = crate::util::sha256_b64url(format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#).as_bytes());
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
    let jwk = json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid, "x": x, "y": y});
    Ok(SigningKey { kid, alg: "ES256".into(), private_pem: pem, public_jwk: jwk, created_at: now, retired_at: None })
}

fn algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

fn signer(key: &SigningKey) -> Result<Signer, KeyError> {
    let corrupt = |message: String| KeyError::Corrupt { kid: key.kid.clone(), message };
    let alg = algorithm(&key.alg).ok_or_else(|| corrupt(format!("unknown algorithm {}", key.alg)))?;
    let (label, der) = pem_der(&key.private_pem).ok_or_else(|| corrupt("the private key is not PEM".into()))?;
    let rng = SystemRandom::new();
    let private = match (alg, label) {
        (Algorithm::ES256, "PRIVATE KEY") => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map(PrivateKey::Ec)
            .map_err(|e| corrupt(e.to_string()))?,
        (Algorithm::RS256, "PRIVATE KEY") => {
            RsaKeyPair::from_pkcs8(&der).map(PrivateKey::Rsa).map_err(|e| corrupt(e.to_string()))?
        }
        (Algorithm::RS256, "RSA PRIVATE KEY") => {
            RsaKeyPair::from_der(&der).map(PrivateKey::Rsa).map_err(|e| corrupt(e.to_string()))?
        }
        (_, label) => return Err(corrupt(format!("a {label} PEM is not a {} key", key.alg))),
    };
    Ok(Signer { kid: key.kid.clone(), alg, key: private, rng })
}

/// A PEM block's label and DER bytes.
fn pem_der(pem: &str) -> Option<(&str, Vec<u8>)> {
    let label = pem.trim_start().strip_prefix("-----BEGIN ")?.split_once("-----")?.0;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|line| !line.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END "))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    Some((label, der))
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

/// The store's active key of `alg`, or a new one made by `generate` (instances racing agree on one).
async fn active_or_create(
    store: &dyn Store,
    existing: &[SigningKey],
    alg: &str,
    generate: impl FnOnce() -> Result<SigningKey, KeyError> + Send + 'static,
) -> Result<SigningKey, KeyError> {
    if let Some(key) = existing.iter().find(|k| k.retired_at.is_none() && k.alg == alg) {
        return Ok(key.clone());
    }
    let candidate = tokio::task::spawn_blocking(generate).await.map_err(|e| KeyError::Generate(e.to_string()))??;
    Ok(store.ensure_active_signing_key(candidate).await?)
}

impl KeySet {
    /// Loads the keys from the store, creating the first one if there is none. Several instances
    /// starting at once agree on one key (the store keeps whichever was inserted first).
    /// `access_token_alg` is `RS256` or `ES256` (settings are validated before).
    pub async fn load_or_create(store: &dyn Store, now: i64, access_token_alg: &str) -> Result<KeySet, KeyError> {
        let existing = store.list_signing_keys().await?;
        let rsa = active_or_create(store, &existing, "RS256", move || generate_key(now)).await?;
        let ec = match access_token_alg {
            "ES256" => Some(active_or_create(store, &existing, "ES256", move || generate_ec_key(now)).await?),
            _ => None,
        };
        let all = store.list_signing_keys().await?;
        KeySet::from_keys(&rsa, ec.as_ref(), &all)
    }

    fn from_keys(rsa: &SigningKey, ec: Option<&SigningKey>, all: &[SigningKey]) -> Result<KeySet, KeyError> {
        let mut verifying = Vec::new();
        let mut jwks = Vec::new();
        for key in all {
            let corrupt = |message: String| KeyError::Corrupt { kid: key.kid.clone(), message };
            let text = |name: &str| key.public_jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
            let alg = algorithm(&key.alg).ok_or_else(|| corrupt(format!("unknown algorithm {}", key.alg)))?;
            let decoding = match alg {
                Algorithm::ES256 => DecodingKey::from_ec_components(&text("x"), &text("y")),
                _ => DecodingKey::from_rsa_components(&text("n"), &text("e")),
            }
            .map_err(|e| corrupt(e.to_string()))?;
            verifying.push(LoadedKey { kid: key.kid.clone(), alg, decoding });
            jwks.push(key.public_jwk.clone());
        }
        Ok(KeySet {
            id_tokens: signer(rsa)?,
            access_tokens: ec.map(signer).transpose()?,
            verifying,
            jwks: json!({ "keys": jwks }),
        })
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs claims with the active key. `typ` is `JWT` for ID tokens and `at+jwt` for access tokens
    /// (RFC 9068 §2.1), which use the ES256 key when one is configured. An RSA signature is the costliest
    /// step of a login, so callers sign only what they send.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let signer = match &self.access_tokens {
            Some(access) if typ == "at+jwt" => access,
            _ => &self.id_tokens,
        };
        let mut header = Header::new(signer.alg);
        header.kid = Some(signer.kid.clone());
        header.typ = Some(typ.to_string());
        let to_json = |e: serde_json::Error| KeyError::Sign(e.to_string());
        let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(to_json)?);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(to_json)?));
        let failed = |_| KeyError::Sign(format!("{:?} signature failed", signer.alg));
        let signature = match &signer.key {
            PrivateKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &signer.rng, token.as_bytes(), &mut signature).map_err(failed)?;
                signature
            }
            PrivateKey::Ec(pair) => pair.sign(&signer.rng, token.as_bytes()).map_err(failed)?.as_ref().to_vec(),
        };
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }

    /// Verifies a token we issued: signature by one of our keys, `iss`, and — given the server's `now` —
    /// `exp` (`None` accepts an expired token, e.g. a logout's `id_token_hint`). `typ` must match when
    /// given. Audience is checked by the caller.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        typ: Option<&str>,
        now: Option<i64>,
    ) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if let Some(expected) = typ
            && !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(expected))
        {
            return None;
        }
        let kid = header.kid?;
        // The key decides the algorithm; a header naming another one is refused (no algorithm confusion).
        let key = self.verifying.iter().find(|k| k.kid == kid && k.alg == header.alg)?;
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.leeway = 0;
        // Expiry is checked against the server's clock (`now`), not the library's reading of the wall.
        validation.validate_exp = false;
        validation.required_spec_claims.remove("exp");
        let claims = jsonwebtoken::decode::<Value>(token, &key.decoding, &validation).ok()?.claims;
        if let Some(now) = now {
            let exp = claims.get("exp").and_then(Value::as_i64)?;
            if exp < now {
                return None;
            }
        }
        serde_json::from_value(claims).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let key = generate_key(0).unwrap();
        let set = KeySet::from_keys(&key, None, std::slice::from_ref(&key)).unwrap();
        let claims = json!({"iss": "https://id.example", "sub": "u1", "exp": crate::util::unix_now() + 60});
        let token = set.sign("JWT", &claims).unwrap();
        let back: Value = set.verify(&token, "https://id.example", Some("JWT"), Some(crate::util::unix_now())).unwrap();
        assert_eq!(back["sub"], "u1");
        assert!(set.verify::<Value>(&token, "https://other", None, Some(crate::util::unix_now())).is_none());
        assert!(
            set.verify::<Value>(&token, "https://id.example", Some("at+jwt"), Some(crate::util::unix_now())).is_none()
        );
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://id.example","sub":"admin","exp":9999999999}"#);
        assert!(
            set.verify::<Value>(&parts.join("."), "https://id.example", None, Some(crate::util::unix_now())).is_none()
        );
        assert_eq!(set.jwks()["keys"][0]["kid"], key.kid);
    }
}

#[cfg(test)]
mod pem_tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    #[test]
    fn a_pkcs1_rsa_key_signs_too_and_a_key_of_another_kind_is_refused() {
        let mut key = generate_key(0).unwrap();
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(&key.private_pem).unwrap();
        key.private_pem = private.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
        assert!(key.private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let set = KeySet::from_keys(&key, None, std::slice::from_ref(&key)).unwrap();
        let now = crate::util::unix_now();
        let token = set.sign("JWT", &json!({"iss": "https://id.example", "exp": now + 60})).unwrap();
        assert!(set.verify::<Value>(&token, "https://id.example", Some("JWT"), Some(now)).is_some());

        let mut mislabelled = key.clone();
        mislabelled.private_pem = generate_ec_key(0).unwrap().private_pem;
        assert!(matches!(signer(&mislabelled), Err(KeyError::Corrupt { .. })), "an EC key in an RS256 row");
        let mut indented = key.clone();
        indented.private_pem = format!("  {}\r\n", key.private_pem.replace('\n', "\r\n  "));
        assert!(signer(&indented).is_ok(), "indented lines and CRLF line ends are read");
        mislabelled.private_pem = "not a key".into();
        assert!(matches!(signer(&mislabelled), Err(KeyError::Corrupt { .. })));
    }
}

#[cfg(test)]
mod es256_tests {
    use super::*;

    #[test]
    fn with_an_ec_key_access_tokens_are_es256_and_id_tokens_stay_rs256() {
        let rsa = generate_key(0).unwrap();
        let ec = generate_ec_key(0).unwrap();
        let set = KeySet::from_keys(&rsa, Some(&ec), &[rsa.clone(), ec.clone()]).unwrap();
        let claims = json!({"iss": "https://id.example", "sub": "u1", "exp": crate::util::unix_now() + 60});
        let access = set.sign("at+jwt", &claims).unwrap();
        let id = set.sign("JWT", &claims).unwrap();
        let (access_header, id_header) =
            (jsonwebtoken::decode_header(&access).unwrap(), jsonwebtoken::decode_header(&id).unwrap());
        assert_eq!((access_header.alg, access_header.kid.as_deref()), (Algorithm::ES256, Some(ec.kid.as_str())));
        assert_eq!((id_header.alg, id_header.kid.as_deref()), (Algorithm::RS256, Some(rsa.kid.as_str())));
        let back: Value =
            set.verify(&access, "https://id.example", Some("at+jwt"), Some(crate::util::unix_now())).unwrap();
        assert_eq!(back["sub"], "u1");
        assert!(set.verify::<Value>(&id, "https://id.example", Some("JWT"), Some(crate::util::unix_now())).is_some());
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 2);
        assert_eq!(set.jwks()["keys"][1]["crv"], "P-256");
        // A token whose header names RS256 with the EC key's kid is refused.
        let forged_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"{}","typ":"at+jwt"}}"#, ec.kid));
        let mut parts: Vec<String> = access.split('.').map(String::from).collect();
        parts[0] = forged_header;
        assert!(
            set.verify::<Value>(&parts.join("."), "https://id.example", None, Some(crate::util::unix_now())).is_none()
        );
    }
}
