//! State shared with WeCom: the upstream access-token cache and its refresh leases, suite tickets, the
//! corps that authorized a template or suite, and the keys of callbacks already handled.

use async_trait::async_trait;
use serde::Serialize;

use super::common::{StoreResult, Timestamp};

/// A cached upstream access token (WeCom corp, suite or provider token), shared by all instances.
#[derive(Clone, PartialEq)]
pub struct CachedToken {
    pub token: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq)]
pub struct SuiteTicket {
    pub suite_id: String,
    pub ticket: String,
    pub received_at: Timestamp,
}

impl std::fmt::Debug for SuiteTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuiteTicket")
            .field("suite_id", &self.suite_id)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

/// A corp that authorized a delegated-development template or a service-provider suite.
#[derive(Clone, PartialEq, Serialize)]
pub struct AuthorizedCorp {
    pub connection: String,
    pub corp_id: String,
    pub corp_name: Option<String>,
    pub agent_id: Option<i64>,
    /// The permanent code (for delegated apps: the app's secret). Never serialised.
    #[serde(skip)]
    pub permanent_code: Option<String>,
    /// `active` or `cancelled`.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for AuthorizedCorp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedCorp")
            .field("connection", &self.connection)
            .field("corp_id", &self.corp_id)
            .field("agent_id", &self.agent_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Upstream tokens and the other WeCom state every instance must see alike.
#[async_trait]
pub trait UpstreamStore: Send + Sync {
    // --- shared upstream token cache (see `wecom::cache::TokenStore`)
    async fn get_upstream_token(&self, key: &str) -> StoreResult<Option<CachedToken>>;
    async fn put_upstream_token(&self, key: &str, token: &CachedToken) -> StoreResult<()>;
    /// Deletes the cached token only if it is still `token` (another instance may have refreshed it).
    async fn invalidate_upstream_token(&self, key: &str, token: &str) -> StoreResult<()>;
    /// Cross-instance refresh lease: true if `owner` now holds the lease on `key` until `until`
    /// (free, expired, or already held by `owner`); false if another owner holds an unexpired lease.
    async fn try_lease(&self, key: &str, owner: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool>;
    async fn release_lease(&self, key: &str, owner: &str) -> StoreResult<()>;

    // --- delegated development / service provider
    /// Stores the ticket; an older ticket (by `received_at`) never overwrites a newer one.
    async fn put_suite_ticket(&self, ticket: SuiteTicket) -> StoreResult<()>;
    async fn get_suite_ticket(&self, suite_id: &str) -> StoreResult<Option<SuiteTicket>>;
    /// Insert or update by (connection, corp_id).
    async fn upsert_authorized_corp(&self, corp: AuthorizedCorp) -> StoreResult<()>;
    async fn get_authorized_corp(&self, connection: &str, corp_id: &str) -> StoreResult<Option<AuthorizedCorp>>;
    async fn list_authorized_corps(&self, connection: &str) -> StoreResult<Vec<AuthorizedCorp>>;
    /// Records a callback's (timestamp, nonce, signature) key; true if it was new, false if seen before.
    async fn remember_callback(&self, key: &str, expires_at: Timestamp) -> StoreResult<bool>;
    /// Forgets a callback key (its handling failed: WeCom's retry must be handled, not skipped).
    async fn forget_callback(&self, key: &str) -> StoreResult<()>;
}
