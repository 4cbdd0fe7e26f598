//! A browser's way through sign-in: the login transaction while it is under way, and the single sign-on
//! session once it succeeded.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{StoreResult, Timestamp};

/// A login in progress: everything the authorization request said, kept until the login completes.
/// `id` is random and unguessable; it is also the `state` sent upstream (WeCom allows `[a-zA-Z0-9]{1,128}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginTx {
    pub id: String,
    /// SHA-256 (hex) of the browser-binding cookie of the browser that started the login.
    pub browser_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub response_mode: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub ui_locales: Option<String>,
    /// The connection chosen (set when the person clicks a button or the app passed `connection=`).
    pub connection: Option<String>,
    /// Opaque data of the connector or of a pending step (e.g. the upstream identity waiting to be bound).
    pub data: Value,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A browser sign-in session (single sign-on across apps). Stored by the hash of the cookie value. It
/// remembers how it was made — connection, upstream identity, time — so that the login flow can decide,
/// per app, whether it may answer from it without asking.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id_hash: String,
    /// The public session id: `sid` in ID tokens (never the cookie or its hash). Empty for sessions made
    /// before sessions had one.
    pub sid: String,
    pub user_id: String,
    pub auth_time: Timestamp,
    pub amr: String,
    /// The connection that signed the person in; None for a password sign-in.
    pub connection: Option<String>,
    /// The upstream identity (`wecom:<corp>`, subject) that signed in through `connection`.
    pub upstream: Option<String>,
    pub subject: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Login transactions (single use, taken atomically) and browser sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    // --- login transactions
    async fn put_login_tx(&self, tx: LoginTx) -> StoreResult<()>;
    /// Reads without consuming; expired ones (expires_at <= now) are None.
    async fn get_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>>;
    /// Atomically removes and returns it: a second take, on any instance, gets None. Expired → None.
    async fn take_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>>;
    /// Like `take_login_tx`, but only the transaction of that browser (`browser_hash`) that went to that
    /// connection: a callback takes it in one statement, and a mismatch leaves it where it was.
    async fn take_login_tx_for(
        &self,
        id: &str,
        now: Timestamp,
        browser_hash: &str,
        connection: &str,
    ) -> StoreResult<Option<LoginTx>>;
    /// Replaces the transaction's `connection`, `data` and `expires_at`. Err(NotFound) when gone.
    async fn update_login_tx(&self, tx: &LoginTx) -> StoreResult<()>;
    /// Deletes the oldest of a browser's transactions so that at most `keep` remain. Returns how many went.
    async fn trim_login_txs(&self, browser_hash: &str, keep: u32) -> StoreResult<u64>;

    // --- sessions
    async fn put_session(&self, session: Session) -> StoreResult<()>;
    /// None when absent or expired.
    async fn get_session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// A user's live sessions, newest first (the console shows them).
    async fn user_sessions(&self, user_id: &str, now: Timestamp) -> StoreResult<Vec<Session>>;
    /// Ends every session of a user; returns the ended ones (their `sid`s go into logout tokens).
    async fn delete_user_sessions(&self, user_id: &str) -> StoreResult<Vec<Session>>;
}
