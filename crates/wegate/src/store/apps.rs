//! Apps (the OIDC clients) and their associations with connections.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::common::{Page, StoreResult, Timestamp};
use super::connections::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// Confidential server-side app with a client secret.
    Web,
    /// Single-page app: public client, PKCE required.
    Spa,
    /// Native (mobile/desktop) app: public client, PKCE required.
    Native,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Web => "web",
            AppKind::Spa => "spa",
            AppKind::Native => "native",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(AppKind::Web),
            "spa" => Some(AppKind::Spa),
            "native" => Some(AppKind::Native),
            _ => None,
        }
    }
    pub fn is_public(self) -> bool {
        !matches!(self, AppKind::Web)
    }
}

#[derive(Clone, PartialEq)]
pub struct App {
    pub client_id: String,
    pub name: String,
    pub kind: AppKind,
    /// SHA-256 (hex) of the client secret, for `web` apps.
    pub client_secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// OIDC Back-Channel Logout 1.0: where logout tokens are POSTed when a person's sessions end.
    pub backchannel_logout_uri: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_secret_hash", &self.client_secret_hash.as_ref().map(|_| "<redacted>"))
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// Fields of an app an admin may change. `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct AppUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub client_secret_hash: Option<String>,
    /// `Some(None)` removes it.
    pub backchannel_logout_uri: Option<Option<String>>,
}

/// Apps, and which connections each app offers (its associations, in the order they were made).
#[async_trait]
pub trait AppStore: Send + Sync {
    async fn create_app(&self, app: App) -> StoreResult<App>;
    async fn get_app(&self, client_id: &str) -> StoreResult<Option<App>>;
    /// Ordered by creation (client ids are time-ordered); `cursor` is the last client_id of the previous page.
    async fn list_apps(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<App>>;
    async fn update_app(&self, client_id: &str, update: AppUpdate, now: Timestamp) -> StoreResult<App>;
    /// Also removes its connection associations. Err(NotFound) when absent.
    async fn delete_app(&self, client_id: &str) -> StoreResult<()>;
    /// Idempotent; `order` (when given) sets the button's position, else a new association gets 0 and an
    /// existing one keeps its own. Err(NotFound) if the app or the connection does not exist.
    async fn associate(&self, client_id: &str, identifier: &str, order: Option<i64>) -> StoreResult<()>;
    /// Err(NotFound) if there was no such association.
    async fn dissociate(&self, client_id: &str, identifier: &str) -> StoreResult<()>;
    /// Connections associated with the app: by `order` ascending, then in association order.
    async fn app_connections(&self, client_id: &str) -> StoreResult<Vec<Connection>>;
    /// Client ids of the apps associated with a connection.
    async fn connection_apps(&self, identifier: &str) -> StoreResult<Vec<String>>;
}
