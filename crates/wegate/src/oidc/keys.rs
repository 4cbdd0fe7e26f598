//! Signing keys: an RS256 key generated on first start and kept in the store, so every instance signs
//! with the same key and publishes the same JWKS. A rotation (`wegate keys rotate`) stores the next key,
//! published at once and signing from a later second (or at once); the key it supersedes stays published
//! until every token it signed has expired, then leaves. Each instance holds a [`KeyRing`]: its reading of
//! the store, refreshed every [`KeyRing::RELOAD_EVERY`] seconds.
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

/// The keys in use at one reading of the store: per algorithm the signing key and any key waiting to sign
/// (chosen by the time of each signature, so every instance switches at the same second), and every
/// published key to verify with.
pub struct KeySet {
    id_tokens: Vec<(i64, Signer)>,
    access_tokens: Option<Vec<(i64, Signer)>>,
    verifying: Vec<LoadedKey>,
    jwks: Value,
    /// What the set was built from: (kid, signs from) of the published keys.
    built_from: Vec<(String, i64)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("keys", &self.built_from).finish_non_exhaustive()
    }
}

/// Where a key is in its life (CONTRACT.md, "Operations": `wegate keys list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signs its algorithm's tokens.
    Signing,
    /// Superseded; published while tokens it signed may still be valid.
    Retiring,
    /// Superseded long enough ago that nothing it signed is valid: no longer published.
    Retired,
}

/// A key, its state at `now` and the time that state ends (a next key's start, a retiring key's end).
#[derive(Debug, Clone)]
pub struct KeyStatus {
    pub key: SigningKey,
    pub state: KeyState,
    pub until: Option<i64>,
}

/// Every key's state at `now`: per algorithm the newest key that signs from `now` or before signs; later
/// ones are next; earlier ones retire `retire_after` seconds after their successor started signing (the
/// longest a token they signed lives), then leave the JWKS.
pub fn key_states(all: &[SigningKey], now: i64, retire_after: i64) -> Vec<KeyStatus> {
    let mut out = Vec::new();
    let mut algs: Vec<&str> = all.iter().map(|k| k.alg.as_str()).collect();
    // RS256 (ID tokens) first, as the JWKS has always listed it.
    algs.sort_unstable_by(|a, b| b.cmp(a));
    algs.dedup();
    for alg in algs {
        let mut keys: Vec<&SigningKey> = all.iter().filter(|k| k.alg == alg).collect();
        keys.sort_by(|a, b| (a.signs_from(), a.created_at, &a.kid).cmp(&(b.signs_from(), b.created_at, &b.kid)));
        let signing = keys.iter().rposition(|k| k.signs_from() <= now);
        for (i, key) in keys.iter().enumerate() {
            let (state, until) = match signing {
                Some(s) if i == s => (KeyState::Signing, None),
                Some(s) if i < s => {
                    let superseded = keys[i + 1].signs_from();
                    let superseded = key.retired_at.map_or(superseded, |r| r.min(superseded));
                    let end = superseded + retire_after;
                    if end > now { (KeyState::Retiring, Some(end)) } else { (KeyState::Retired, Some(end)) }
                }
                _ => (KeyState::Next, Some(key.signs_from())),
            };
            out.push(KeyStatus { key: (*key).clone(), state, until });
        }
    }
    out
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
    Ok(SigningKey {
        kid,
        alg: "ES256".into(),
        private_pem: pem,
        public_jwk: jwk,
        created_at: now,
        retired_at: None,
        activates_at: None,
    })
}

fn algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

/// A stored key's public half, to verify with (its algorithm fixed by the key, never by a token's header).
fn verifying_key(key: &SigningKey) -> Result<LoadedKey, KeyError> {
    let corrupt = |message: String| KeyError::Corrupt { kid: key.kid.clone(), message };
    let text = |name: &str| key.public_jwk.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let alg = algorithm(&key.alg).ok_or_else(|| corrupt(format!("unknown algorithm {}", key.alg)))?;
    let decoding = match alg {
        Algorithm::ES256 => DecodingKey::from_ec_components(&text("x"), &text("y")),
        _ => DecodingKey::from_rsa_components(&text("n"), &text("e")),
    }
    .map_err(|e| corrupt(e.to_string()))?;
    Ok(LoadedKey { kid: key.kid.clone(), alg, decoding })
}

/// Whether a stored key's private half opens and parses (`wegate check-config`).
pub fn usable(key: &SigningKey) -> Result<(), KeyError> {
    signer(key).map(|_| ())
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
        activates_at: None,
    })
}

/// The store's first key of `alg`, made by `generate` when there is none (instances racing agree on one).
async fn first_or_create(
    store: &dyn Store,
    existing: &[SigningKey],
    alg: &str,
    generate: impl FnOnce() -> Result<SigningKey, KeyError> + Send + 'static,
) -> Result<(), KeyError> {
    if existing.iter().any(|k| k.alg == alg) {
        return Ok(());
    }
    let candidate = tokio::task::spawn_blocking(generate).await.map_err(|e| KeyError::Generate(e.to_string()))??;
    store.ensure_active_signing_key(candidate).await?;
    Ok(())
}

impl KeySet {
    /// Builds the set from the store's keys at `now`: `access_alg` is `RS256` or `ES256`.
    pub fn build(all: &[SigningKey], now: i64, retire_after: i64, access_alg: &str) -> Result<KeySet, KeyError> {
        let states = key_states(all, now, retire_after);
        let published: Vec<&KeyStatus> = states.iter().filter(|s| s.state != KeyState::Retired).collect();
        let signers = |alg: &str| -> Result<Vec<(i64, Signer)>, KeyError> {
            let mut out = Vec::new();
            for status in published.iter().filter(|s| s.key.alg == alg) {
                if matches!(status.state, KeyState::Signing | KeyState::Next) {
                    out.push((status.key.signs_from(), signer(&status.key)?));
                }
            }
            out.sort_by_key(|(from, _)| *from);
            match out.is_empty() {
                true => Err(KeyError::Corrupt { kid: alg.to_string(), message: "no key signs this algorithm".into() }),
                false => Ok(out),
            }
        };
        let mut verifying = Vec::new();
        let mut jwks = Vec::new();
        for status in &published {
            verifying.push(verifying_key(&status.key)?);
            jwks.push(status.key.public_jwk.clone());
        }
        Ok(KeySet {
            id_tokens: signers("RS256")?,
            access_tokens: if access_alg == "ES256" { Some(signers("ES256")?) } else { None },
            verifying,
            jwks: json!({ "keys": jwks }),
            built_from: published.iter().map(|s| (s.key.kid.clone(), s.key.signs_from())).collect(),
        })
    }

    /// A set that verifies with `key` alone (and signs nothing).
    fn verifier_of(key: &SigningKey) -> Result<KeySet, KeyError> {
        Ok(KeySet {
            id_tokens: Vec::new(),
            access_tokens: None,
            verifying: vec![verifying_key(key)?],
            jwks: json!({ "keys": [] }),
            built_from: Vec::new(),
        })
    }

    /// The set of one RS256 key (and an ES256 one), for tests.
    #[cfg(test)]
    fn from_keys(rsa: &SigningKey, ec: Option<&SigningKey>, _all: &[SigningKey]) -> Result<KeySet, KeyError> {
        let all: Vec<SigningKey> = std::iter::once(rsa.clone()).chain(ec.cloned()).collect();
        KeySet::build(&all, 0, 3600, if ec.is_some() { "ES256" } else { "RS256" })
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs claims with the active key. `typ` is `JWT` for ID tokens and `at+jwt` for access tokens
    /// (RFC 9068 §2.1), which use the ES256 key when one is configured. An RSA signature is the costliest
    /// step of a login, so callers sign only what they send.
    pub fn sign<T: Serialize>(&self, now: i64, typ: &str, claims: &T) -> Result<String, KeyError> {
        let signers = match &self.access_tokens {
            Some(access) if typ == "at+jwt" => access,
            _ => &self.id_tokens,
        };
        // The newest key that signs from `now` or before (the next key takes over at its second, everywhere).
        let signer = signers
            .iter()
            .rev()
            .find(|(from, _)| *from <= now)
            .or_else(|| signers.first())
            .map(|(_, signer)| signer)
            .ok_or_else(|| KeyError::Sign("no signing key".into()))?;
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

/// Rotates every algorithm in use (RS256, and ES256 where access tokens use it): a new key each, published
/// at once and signing from `now + delay`, or from `now` when `immediately`. Where a key already waits to
/// sign, no other is made: `immediately` makes that one sign now. Returns every key's state after.
pub async fn rotate(
    store: &dyn Store,
    now: i64,
    delay: i64,
    immediately: bool,
    retire_after: i64,
) -> Result<Vec<KeyStatus>, KeyError> {
    let existing = store.list_signing_keys().await?;
    let mut algs: Vec<String> = existing.iter().map(|k| k.alg.clone()).collect();
    algs.sort_unstable();
    algs.dedup();
    for alg in algs {
        // Strictly after every key of the algorithm, so that the newest key is the one that signs even when a
        // rotation comes within the second of the last one.
        let latest = existing.iter().filter(|k| k.alg == alg).map(SigningKey::signs_from).max().unwrap_or(now);
        let signs_from = if immediately { now } else { now + delay.max(0) }.max(latest + 1);
        let generate = {
            let alg = alg.clone();
            move || if alg == "ES256" { generate_ec_key(now) } else { generate_key(now) }
        };
        let mut candidate =
            tokio::task::spawn_blocking(generate).await.map_err(|e| KeyError::Generate(e.to_string()))??;
        candidate.activates_at = Some(signs_from);
        if store.add_next_signing_key(candidate, now).await?.is_none() {
            // Another rotation may have stored the waiting key since the list above: read again.
            let existing = store.list_signing_keys().await?;
            let waiting = key_states(&existing, now, retire_after)
                .into_iter()
                .find(|s| s.key.alg == alg && s.state == KeyState::Next);
            match waiting {
                Some(next) if immediately => {
                    let signing = existing
                        .iter()
                        .filter(|k| k.alg == alg && k.kid != next.key.kid)
                        .map(SigningKey::signs_from)
                        .max()
                        .unwrap_or(now);
                    store.activate_signing_key(&next.key.kid, now.max(signing + 1)).await?;
                }
                Some(next) => tracing::info!(alg, kid = %next.key.kid, "a key already waits to sign: none added"),
                None => {}
            }
        }
    }
    Ok(key_states(&store.list_signing_keys().await?, now, retire_after))
}

/// The keys every handler signs and verifies with, read again from the store every
/// [`KeyRing::RELOAD_EVERY`] seconds (a rotation made by another process is published here within that
/// time), when a token names a key this instance does not know yet (at most every 5 s), and at once after a
/// rotation through this instance. The store is the truth; this is its reading.
pub struct KeyRing {
    set: std::sync::RwLock<std::sync::Arc<KeySet>>,
    /// One reading at a time: an older reading never replaces a newer one.
    reading: tokio::sync::Mutex<()>,
    last_read: std::sync::atomic::AtomicI64,
    retire_after: i64,
    access_alg: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("set", &self.current()).finish_non_exhaustive()
    }
}

impl KeyRing {
    pub const RELOAD_EVERY: u64 = 20;

    /// Loads the keys, creating the first ones if there are none (several instances starting at once agree
    /// on one). `retire_after`: the longest a signed token lives (a superseded key stays published that
    /// long); `access_alg`: `RS256` or `ES256`.
    pub async fn load_or_create(
        store: &dyn Store,
        now: i64,
        retire_after: i64,
        access_alg: &str,
    ) -> Result<KeyRing, KeyError> {
        let existing = store.list_signing_keys().await?;
        first_or_create(store, &existing, "RS256", move || generate_key(now)).await?;
        if access_alg == "ES256" {
            first_or_create(store, &existing, "ES256", move || generate_ec_key(now)).await?;
        }
        let all = store.list_signing_keys().await?;
        let set = KeySet::build(&all, now, retire_after, access_alg)?;
        Ok(KeyRing {
            set: std::sync::RwLock::new(std::sync::Arc::new(set)),
            reading: tokio::sync::Mutex::new(()),
            last_read: std::sync::atomic::AtomicI64::new(now),
            retire_after,
            access_alg: access_alg.to_string(),
        })
    }

    pub fn current(&self) -> std::sync::Arc<KeySet> {
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the store's keys again; the set is rebuilt (private keys parsed) only when they changed.
    pub async fn reload(&self, store: &dyn Store, now: i64) -> Result<(), KeyError> {
        let _turn = self.reading.lock().await;
        self.last_read.store(now, std::sync::atomic::Ordering::Relaxed);
        let all = store.list_signing_keys().await?;
        let published: Vec<(String, i64)> = key_states(&all, now, self.retire_after)
            .into_iter()
            .filter(|s| s.state != KeyState::Retired)
            .map(|s| (s.key.kid.clone(), s.key.signs_from()))
            .collect();
        if published == self.current().built_from {
            return Ok(());
        }
        let set = KeySet::build(&all, now, self.retire_after, &self.access_alg)?;
        tracing::info!(keys = ?set.built_from, "signing keys changed: new set in use");
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(set);
        Ok(())
    }

    pub fn sign<T: Serialize>(&self, now: i64, typ: &str, claims: &T) -> Result<String, KeyError> {
        self.current().sign(now, typ, claims)
    }

    pub fn jwks(&self) -> Value {
        self.current().jwks().clone()
    }

    /// [`KeySet::verify`] with the keys in use.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        typ: Option<&str>,
        now: Option<i64>,
    ) -> Option<T> {
        self.current().verify(token, issuer, typ, now)
    }

    /// An ID token hint at logout: signed by any key this server ever stored, retired ones too (a person signs
    /// out hours after signing in, past the key's retirement). `exp` is not checked: hints are usually expired.
    pub async fn verify_hint<T: DeserializeOwned>(&self, store: &dyn Store, token: &str, issuer: &str) -> Option<T> {
        if let Some(claims) = self.verify(token, issuer, Some("JWT"), None) {
            return Some(claims);
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid?;
        let all = store.list_signing_keys().await.ok()?;
        let key = all.into_iter().find(|k| k.kid == kid)?;
        let set = KeySet::verifier_of(&key).ok()?;
        set.verify(token, issuer, Some("JWT"), None)
    }

    /// [`KeyRing::verify`], reading the store again first when the token names a key this instance does not
    /// know (another instance may have started signing with a key rotated `--now`), at most every 5 s.
    pub async fn verify_fresh<T: DeserializeOwned>(
        &self,
        store: &dyn Store,
        clock: i64,
        token: &str,
        issuer: &str,
        typ: Option<&str>,
        now: Option<i64>,
    ) -> Option<T> {
        if let Some(claims) = self.verify(token, issuer, typ, now) {
            return Some(claims);
        }
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let known = self.current().verifying.iter().any(|k| k.kid == kid);
        if known {
            return None;
        }
        // One reading per 5 s, however many requests name unknown keys meanwhile.
        let last = self.last_read.load(std::sync::atomic::Ordering::Relaxed);
        let due = clock - last >= 5
            && self
                .last_read
                .compare_exchange(
                    last,
                    clock,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok();
        if !due {
            return None;
        }
        if let Err(e) = self.reload(store, clock).await {
            tracing::warn!(error = %e, "reading the signing keys again failed");
        }
        self.verify(token, issuer, typ, now)
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
        let token = set.sign(0, "JWT", &claims).unwrap();
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
mod rotation_tests {
    use super::*;

    #[test]
    fn a_rotated_key_is_published_first_signs_at_its_second_and_the_old_one_leaves_after_its_tokens() {
        let old = generate_ec_key(0).unwrap();
        let mut new = generate_ec_key(100).unwrap();
        new.activates_at = Some(1_000);
        let keys = [old.clone(), new.clone()];
        let state_of = |now: i64, kid: &str| {
            key_states(&keys, now, 500).into_iter().find(|s| s.key.kid == kid).map(|s| (s.state, s.until)).unwrap()
        };
        assert_eq!(state_of(500, &new.kid), (KeyState::Next, Some(1_000)));
        assert_eq!(state_of(500, &old.kid), (KeyState::Signing, None));
        assert_eq!(state_of(1_000, &new.kid), (KeyState::Signing, None));
        assert_eq!(state_of(1_000, &old.kid), (KeyState::Retiring, Some(1_500)));
        assert_eq!(state_of(1_500, &old.kid), (KeyState::Retired, Some(1_500)));

        // Built at 500: both published, the old one signs until 1000, the new one from then on.
        let set = KeySet::build(&keys, 500, 500, "RS256");
        assert!(set.is_err(), "no RS256 key: ID tokens could not be signed");
        let rsa = generate_key(0).unwrap();
        let all = [rsa.clone(), old.clone(), new.clone()];
        let set = KeySet::build(&all, 500, 500, "ES256").unwrap();
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 3);
        let kid_at = |now: i64| {
            let token = set.sign(now, "at+jwt", &json!({"iss": "i", "exp": now + 60})).unwrap();
            jsonwebtoken::decode_header(&token).unwrap().kid.unwrap()
        };
        assert_eq!(kid_at(999), old.kid);
        assert_eq!(kid_at(1_000), new.kid);
        let before = set.sign(999, "at+jwt", &json!({"iss": "i", "exp": 2_000})).unwrap();
        // Built after the old key's tokens expired: it is gone from the JWKS and verifies nothing.
        let later = KeySet::build(&all, 1_600, 500, "ES256").unwrap();
        assert_eq!(later.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(later.verify::<Value>(&before, "i", None, None).is_none());
        assert!(set.verify::<Value>(&before, "i", None, None).is_some());
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
        let token = set.sign(0, "JWT", &json!({"iss": "https://id.example", "exp": now + 60})).unwrap();
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
        let access = set.sign(0, "at+jwt", &claims).unwrap();
        let id = set.sign(0, "JWT", &claims).unwrap();
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
