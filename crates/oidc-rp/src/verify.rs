//! The ID token's verification (OpenID Connect Core §3.1.3.7), every rule of it: the signature by one of
//! the issuer's published keys under an allow-list of asymmetric algorithms (never `none`, never a MAC —
//! a MAC would be keyed with the client secret, which the broker shares with whoever it is), `iss` exactly
//! the issuer, `aud` naming the client, `azp` the client whenever it is present or there are several
//! audiences, `exp` and `iat` within [`SKEW`] of now, and `nonce` the one sent with this sign-in.

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::Error;

/// The most clocks may disagree, in seconds.
pub const SKEW: i64 = 60;

/// Asymmetric signatures only.
pub const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What this sign-in expects of its ID token.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
}

/// The verified claims. `sub` is checked to be a non-empty string.
#[derive(Debug, Clone)]
pub struct IdClaims {
    pub sub: String,
    pub claims: Map<String, Value>,
}

/// The header's `kid`, read before the keys are chosen (the signature is not checked here).
pub fn key_id(token: &str) -> Result<Option<String>, Error> {
    header(token).map(|h| h.kid)
}

fn header(token: &str) -> Result<jsonwebtoken::Header, Error> {
    // `alg: none` and unknown algorithms fail here: jsonwebtoken's Algorithm has no such member.
    jsonwebtoken::decode_header(token).map_err(|e| Error::Invalid(format!("the ID token's header is not usable: {e}")))
}

/// Verifies `token` with `keys` and returns its claims.
pub fn verify(token: &str, keys: &JwkSet, expected: &Expected<'_>) -> Result<IdClaims, Error> {
    let header = header(token)?;
    if !ALLOWED.contains(&header.alg) {
        return Err(Error::Invalid(format!("the ID token is signed with {:?}, which is not allowed", header.alg)));
    }
    let jwk = choose_key(keys, header.kid.as_deref(), header.alg)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| Error::Invalid(format!("the provider's key is unusable: {e}")))?;

    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.leeway = SKEW as u64;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Times are checked below against the caller's clock, not the system's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind::*;
        let why = match e.kind() {
            InvalidSignature => "its signature does not verify".to_string(),
            InvalidIssuer => format!("its iss is not {}", expected.issuer),
            InvalidAudience => "its aud does not name this client".to_string(),
            MissingRequiredClaim(c) => format!("it has no {c}"),
            other => format!("{other:?}"),
        };
        Error::Invalid(format!("the ID token is refused: {why}"))
    })?;
    let claims = data.claims;
    // jsonwebtoken accepts an `iss` array that contains the issuer: one issuer, as a string, only.
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(Error::Invalid(format!("the ID token is refused: its iss is not {}", expected.issuer)));
    }
    check_times(&claims, expected.now)?;
    check_azp(&claims, expected.client_id)?;
    match claims.get("nonce").and_then(Value::as_str) {
        Some(n) if n == expected.nonce => {}
        Some(_) => return Err(Error::Invalid("the ID token's nonce is not the one of this sign-in".into())),
        None => return Err(Error::Invalid("the ID token has no nonce".into())),
    }
    let sub = match claims.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() && s.len() <= 255 => s.to_string(),
        _ => return Err(Error::Invalid("the ID token's sub is not a string of 1 to 255 characters".into())),
    };
    Ok(IdClaims { sub, claims })
}

/// The key named by `kid`; without a `kid`, the one signing key of the algorithm's type.
fn choose_key<'a>(keys: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Result<&'a Jwk, Error> {
    let signing = |k: &&Jwk| !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption));
    let fits = |k: &&Jwk| {
        // A key that names its algorithm is used for that one only.
        let named = k.common.key_algorithm.map(|a| format!("{a:?}"));
        named.is_none_or(|a| a == format!("{alg:?}"))
    };
    match kid {
        Some(kid) => {
            keys.keys.iter().filter(signing).find(|k| k.common.key_id.as_deref() == Some(kid)).filter(fits).ok_or_else(
                || Error::Invalid(format!("the ID token names the key {kid:?}, which the provider does not publish")),
            )
        }
        None => {
            let family = |k: &&Jwk| {
                use jsonwebtoken::jwk::AlgorithmParameters::*;
                matches!(
                    (&k.algorithm, alg),
                    (RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
                        | (RSA(_), Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512)
                        | (EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
                        | (OctetKeyPair(_), Algorithm::EdDSA)
                )
            };
            let mut candidates = keys.keys.iter().filter(signing).filter(fits).filter(family);
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => Ok(k),
                (None, _) => Err(Error::Invalid("the provider publishes no key for the ID token".into())),
                (Some(_), Some(_)) => {
                    Err(Error::Invalid("the ID token names no key and the provider has several".into()))
                }
            }
        }
    }
}

fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), Error> {
    let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
        return Err(Error::Invalid("the ID token has no iat".into()));
    };
    if iat > now.saturating_add(SKEW) {
        return Err(Error::Invalid("the ID token was issued in the future (iat)".into()));
    }
    match claims.get("exp").and_then(Value::as_i64) {
        None => return Err(Error::Invalid("the ID token's exp is not a number".into())),
        Some(exp) if exp.saturating_add(SKEW) <= now => return Err(Error::Invalid("the ID token has expired".into())),
        Some(_) => {}
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now.saturating_add(SKEW)) {
        return Err(Error::Invalid("the ID token is not valid yet (nbf)".into()));
    }
    Ok(())
}

/// `azp` (Core §2): when present it must be this client; with several audiences it must be present.
fn check_azp(claims: &Map<String, Value>, client_id: &str) -> Result<(), Error> {
    let several = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(_) => Err(Error::Invalid("the ID token's azp is another client".into())),
        None if several => Err(Error::Invalid("the ID token has several audiences and no azp".into())),
        None => Ok(()),
    }
}
