//! Connections: one configured upstream (a WeCom app of some kind) each, with what wegate learned about it
//! at run time.

use async_trait::async_trait;
use serde_json::Value;

use super::{Page, StoreResult, Timestamp};

/// A connection as stored. `settings` holds the kind-specific non-secret fields (corp_id, agent_id, ...)
/// and `secrets` the secret ones (secret, token, encoding_aes_key, ...); both are JSON objects that the
/// connector of the kind parses. `state` is what wegate learned at run time (event URL verified, ...).
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub identifier: String,
    pub kind: String,
    pub display_name: String,
    pub login_only: bool,
    /// `{"mode": "none" | "match" | "ask_to_bind", "fields": [...]}`
    pub association: Value,
    pub settings: Value,
    pub secrets: Value,
    pub state: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("identifier", &self.identifier)
            .field("kind", &self.kind)
            .field("display_name", &self.display_name)
            .field("login_only", &self.login_only)
            .field("association", &self.association)
            .field("settings", &self.settings)
            .field("secrets", &"<redacted>")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Connections and their run-time state. Associations with apps are in [`super::AppStore`].
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Err(Conflict("identifier")) when taken.
    async fn create_connection(&self, connection: Connection) -> StoreResult<Connection>;
    async fn get_connection(&self, identifier: &str) -> StoreResult<Option<Connection>>;
    /// Ordered by identifier.
    async fn list_connections(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Connection>>;
    /// Replaces everything but `identifier`, `kind`, `created_at` and `state`.
    async fn update_connection(&self, connection: Connection) -> StoreResult<Connection>;
    /// Shallow-merges `patch` (a JSON object) into the connection's `state`, atomically.
    async fn merge_connection_state(&self, identifier: &str, patch: Value, now: Timestamp) -> StoreResult<()>;
    /// Also removes associations and authorized corps. Identities and users stay.
    async fn delete_connection(&self, identifier: &str) -> StoreResult<()>;
}
