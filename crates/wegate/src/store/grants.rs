//! What an app's sign-in grants: authorization codes, refresh tokens, and the revocations of grants and
//! access tokens.

use async_trait::async_trait;

use super::audit::AuditEvent;
use super::common::{StoreResult, Timestamp};
use super::sessions::Session;
use super::users::User;

/// An authorization code (stored by hash). `grant_id` names the family of tokens that will be issued from
/// it, so a replayed code can revoke them.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthCode {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Timestamp,
    /// Authentication method reference, e.g. `wecom_qrcode` or `pwd`.
    pub amr: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What the end of a browser login writes, all or nothing (one transaction; on SQLite one hop to the
/// connection thread): the grant's origin and first code, the browser session of a fresh sign-in, and the
/// login's audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantStart {
    pub origin: GrantOrigin,
    pub code: AuthCode,
    /// None when an existing session answered (single sign-on).
    pub session: Option<Session>,
    pub audit: Option<AuditEvent>,
}

/// What the token step finds when it redeems a code or a refresh token, in one call to the store: the
/// consume's outcome and, for a fresh one, what issuing needs next.
#[derive(Debug, Clone, PartialEq)]
pub struct Redeemed<T> {
    pub consumed: Consumed<T>,
    /// The user of a fresh code or token as stored now; None otherwise, or when the user is gone.
    pub user: Option<User>,
    /// The origin of a fresh refresh token's grant (None for codes, and for grants without one).
    pub origin: Option<GrantOrigin>,
}

/// Result of an atomic consume of a code or refresh token.
#[derive(Debug, Clone, PartialEq)]
pub enum Consumed<T> {
    /// First use: the caller may issue tokens.
    Fresh(T),
    /// Already used before: the caller must revoke the family (`grant_id` of the item).
    Replayed(T),
    NotFound,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub session_id: Option<String>,
    pub auth_time: Timestamp,
    pub amr: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Where a grant's sign-in came from, and when WeCom last confirmed the member (CONTRACT.md, "Member
/// lifecycle"): written when its first code is issued, kept as long as a token of the grant may live.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantOrigin {
    pub grant_id: String,
    pub user_id: String,
    pub client_id: String,
    /// The session's public id (`sid`), for back-channel logout tokens.
    pub sid: Option<String>,
    /// The connection and upstream identity that signed the person in; None for a password sign-in.
    pub connection: Option<String>,
    pub upstream: Option<String>,
    pub subject: Option<String>,
    /// When the upstream last confirmed the person (the sign-in, or a re-check since).
    pub checked_at: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Codes and refresh tokens (stored by hash, consumed atomically) and revocations.
#[async_trait]
pub trait GrantStore: Send + Sync {
    async fn put_auth_code(&self, code: AuthCode) -> StoreResult<()>;
    /// A grant is born, with what else its login writes ([`GrantStart`]): together or not at all.
    async fn start_grant(&self, start: GrantStart) -> StoreResult<()>;
    /// Atomically marks the code used, for the client it was issued to only. Fresh on that client's first
    /// call (if not expired), Replayed afterwards (even if expired since), NotFound for unknown or
    /// expired-and-unused codes, codes of a revoked grant — and for another client's code, which stays unused for
    /// its own client.
    async fn consume_auth_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: Timestamp,
    ) -> StoreResult<Consumed<AuthCode>>;
    /// `consume_auth_code`, and the fresh code's user read in the same call (one hop on SQLite). The read
    /// runs whatever the outcome, so a database error in it fails the call even where the consume alone
    /// would have answered (a replay, a code of another client).
    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: Timestamp,
    ) -> StoreResult<Redeemed<AuthCode>>;
    async fn put_refresh_token(&self, token: RefreshToken) -> StoreResult<()>;
    /// The first refresh token of a grant, and its origin kept until `origin_until` (an origin starts as
    /// long as its code and the tokens of the code may live): together or not at all.
    async fn start_refresh_family(&self, token: RefreshToken, origin_until: Timestamp) -> StoreResult<()>;
    /// Same contract as `consume_auth_code`; a token of a revoked grant is NotFound.
    async fn consume_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Consumed<RefreshToken>>;
    /// `consume_refresh_token`, and the fresh token's user and grant origin read in the same call.
    async fn redeem_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Redeemed<RefreshToken>>;
    /// Reads a refresh token without consuming it (introspection). None when used, expired or revoked.
    async fn get_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RefreshToken>>;
    /// Revokes a grant: its refresh tokens and its origin are deleted and `is_grant_revoked` answers true
    /// until `expires_at` (the longest lifetime of a token of the grant). Idempotent.
    async fn revoke_grant(&self, grant_id: &str, now: Timestamp, expires_at: Timestamp) -> StoreResult<()>;
    async fn is_grant_revoked(&self, grant_id: &str) -> StoreResult<bool>;
    /// Revokes one access token by `jti`, remembered until `expires_at`. Idempotent.
    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;

    // --- grant origins
    async fn put_grant_origin(&self, origin: GrantOrigin) -> StoreResult<()>;
    async fn get_grant_origin(&self, grant_id: &str) -> StoreResult<Option<GrantOrigin>>;
    /// Records a successful membership re-check. Idempotent.
    async fn set_grant_checked(&self, grant_id: &str, checked_at: Timestamp) -> StoreResult<()>;
    /// Keeps an origin as long as its grant's newest token may live (a rotated refresh token extends it).
    async fn extend_grant_origin(&self, grant_id: &str, expires_at: Timestamp) -> StoreResult<()>;
    /// The user's grants that may still have live tokens (expires_at > now).
    async fn user_grant_origins(&self, user_id: &str, now: Timestamp) -> StoreResult<Vec<GrantOrigin>>;
    /// The grants of the user's live refresh tokens (also those made before grants had an origin).
    async fn user_refresh_grants(&self, user_id: &str, now: Timestamp) -> StoreResult<Vec<String>>;
}
