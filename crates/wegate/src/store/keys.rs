//! Signing keys: the keys ID tokens and access tokens are signed with, one active key per algorithm,
//! shared by every instance.

use async_trait::async_trait;
use serde_json::Value;

use super::common::{StoreResult, Timestamp};

/// An RSA signing key. `private_pem` is PKCS#8 PEM; `public_jwk` the JWK (with `kid`, `alg`, `use`).
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_pem: String,
    pub public_jwk: Value,
    pub created_at: Timestamp,
    /// Set when a newer key took over; the key stays published until `retired_at` + max token lifetime.
    pub retired_at: Option<Timestamp>,
    /// When it starts signing (a rotation publishes a key first); `None`: since `created_at`.
    pub activates_at: Option<Timestamp>,
}

impl SigningKey {
    /// When it signs from.
    pub fn signs_from(&self) -> Timestamp {
        self.activates_at.unwrap_or(self.created_at)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

/// Signing keys: created once, atomically across instances, and published while they may still verify.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts `candidate` only if no active (unretired) key exists, atomically across instances, and
    /// returns the active key (the candidate or the one another instance stored first).
    async fn ensure_active_signing_key(&self, candidate: SigningKey) -> StoreResult<SigningKey>;
    /// All keys, active first, then retired ones newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Stores `candidate` (with its `activates_at`) as its algorithm's next key, unless one is already waiting
    /// to sign at `now`: then `None`, and nothing changes. A key that has started signing no longer counts as
    /// waiting.
    async fn add_next_signing_key(&self, candidate: SigningKey, now: Timestamp) -> StoreResult<Option<SigningKey>>;
    /// Makes a key that waits to sign sign from `now`. False when there is no such key.
    async fn activate_signing_key(&self, kid: &str, now: Timestamp) -> StoreResult<bool>;
}
