//! Connections: one configured upstream (a WeCom app of some kind) each, with what wegate learned about it
//! at run time.

use async_trait::async_trait;
use serde_json::Value;

use super::common::{Page, StoreResult, Timestamp};
use super::kinds::{Association, DomainFile, KindSettings};

/// A connection: its kind-specific settings, typed ([`KindSettings`], secrets included — they are
/// sealed at rest and never leave through the admin API), how it links identities to users, and what
/// wegate learned at run time (`state`: event URL verified, provider corp id, ...).
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub identifier: String,
    pub display_name: String,
    pub login_only: bool,
    pub association: Association,
    pub settings: KindSettings,
    /// WeCom's trusted-domain file, served at the domain root; any kind may carry one.
    pub domain_verification: Option<DomainFile>,
    /// Whether the emails WeCom gives through this connection count as verified (`email_verified`).
    pub trust_email: bool,
    /// The button's icon on the login page: an https URL or a `data:image/…` URI.
    pub icon_url: Option<String>,
    pub state: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Connection {
    /// The `kind` string of the admin API (`wecom_qrcode`, ...); it never changes.
    pub fn kind(&self) -> &'static str {
        self.settings.kind()
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("identifier", &self.identifier)
            .field("kind", &self.kind())
            .field("display_name", &self.display_name)
            .field("login_only", &self.login_only)
            .field("association", &self.association)
            .field("settings", &self.settings.split().0)
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
    /// Replaces everything but `identifier`, `created_at` and `state`. Err(Conflict("kind")) when the
    /// settings are of another kind than the stored ones: a kind never changes.
    async fn update_connection(&self, connection: Connection) -> StoreResult<Connection>;
    /// Shallow-merges `patch` (a JSON object) into the connection's `state`, atomically.
    async fn merge_connection_state(&self, identifier: &str, patch: Value, now: Timestamp) -> StoreResult<()>;
    /// Sets `state[key]` to `value` only if it holds nothing yet, atomically (first one wins, on any
    /// instance); returns what `state[key]` holds afterwards — `value`, or the earlier claim.
    async fn claim_connection_state(
        &self,
        identifier: &str,
        key: &str,
        value: Value,
        now: Timestamp,
    ) -> StoreResult<Value>;
    /// Also removes associations and authorized corps. Identities and users stay.
    async fn delete_connection(&self, identifier: &str) -> StoreResult<()>;
}

/// Every connection, page by page (admin-sized: connections number in the tens).
pub async fn all_connections(store: &(impl ConnectionStore + ?Sized)) -> StoreResult<Vec<Connection>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_connections(200, cursor.as_deref()).await?;
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}
