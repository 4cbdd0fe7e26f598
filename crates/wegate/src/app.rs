//! The application state every handler shares. State only: the routes are assembled in `router`.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::oidc::keys::KeyRing;
use crate::passwords::PasswordWorkers;
use crate::store::Store;

/// Everything a request may need. Shared behind an `Arc` ([`AppState`]).
pub struct App {
    /// The settings the server started with.
    pub settings: Settings,
    /// All shared state: nothing a second instance needs lives only here.
    pub store: Arc<dyn Store>,
    /// Signing keys, loaded from the store at start.
    pub keys: KeyRing,
    /// WeCom API client; its token cache is backed by the store (shared by all instances).
    pub wecom: wecom::Client,
    /// DingTalk API client; its app-token cache is backed by the store too.
    pub dingtalk: dingtalk::Client,
    /// Feishu/Lark API client; its app and tenant tokens are cached in the store too.
    pub feishu: feishu::Client,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The one clock of the server (tests shift it).
    pub clock: Arc<dyn Clock>,
    /// The Argon2 workers (one per core): all password hashing and checking runs there.
    pub passwords: PasswordWorkers,
    /// Outbound HTTP to apps (back-channel logout tokens); no redirects followed.
    pub http: reqwest::Client,
    /// OpenID Connect providers' discovery documents and keys, cached per issuer, and the back channel to
    /// them and to OAuth 2.0 providers (no redirects, timeouts, bounded answers).
    pub providers: oidc_rp::Providers,
    /// The bound on back-channel logout deliveries under way.
    pub deliveries: Deliveries,
}

/// The bound on this instance's back-channel logout deliveries (`oidc::backchannel`): at most
/// [`Deliveries::IN_FLIGHT`] at once, [`Deliveries::QUEUED`] waiting for their turn.
pub struct Deliveries {
    pub running: tokio::sync::Semaphore,
    pub waiting: std::sync::atomic::AtomicUsize,
}

impl Deliveries {
    pub const IN_FLIGHT: usize = 16;
    pub const QUEUED: usize = 1024;
}

impl Default for Deliveries {
    fn default() -> Self {
        Deliveries { running: tokio::sync::Semaphore::new(Self::IN_FLIGHT), waiting: Default::default() }
    }
}

impl App {
    /// Current Unix time, from the state's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `{issuer}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.settings.issuer, path)
    }
}

pub type AppState = Arc<App>;
