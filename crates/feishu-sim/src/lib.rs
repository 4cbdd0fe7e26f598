//! feishu-sim: a STRICT Feishu / Lark (飞书) server stand-in for wegate's end-to-end tests.
//!
//! It follows the Feishu protocol brief (`/work/shared/upstreams.md` §2; source keys such as `[FS-tok]` in
//! comments refer to its §7) and is strict where §2.7 says so. Two hosts on separate prefixes, so a call sent
//! to the wrong host gets 404: `/accounts` = accounts.feishu.cn (`accounts.rs`, the authorize page) and
//! `/open` = open.feishu.cn (`oauth.rs` for the RFC 6749-shaped v2 token endpoint, `open.rs` for the rest);
//! event pushes (url_verification, app_ticket) in `events.rs`; `/_sim` control in `control.rs`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use feishu_sim::{Seed, SimConfig, Simulator};
//! let (addr, sim, _task) = Simulator::spawn(Seed::demo(), SimConfig::default()).await?;
//! sim.set_redirect_uris(feishu_sim::CUSTOM_APP_ID, vec!["http://127.0.0.1:8080/cb".into()]);
//! println!("accounts: http://{addr}/accounts, open: http://{addr}/open, console: http://{addr}/_sim/");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

mod accounts;
mod clock;
mod control;
mod events;
mod oauth;
mod open;
mod seed;
mod state;

pub use seed::{
    App, AppKind, CUSTOM_APP_ID, CUSTOM_APP_SECRET, CUSTOM_ENCRYPT_KEY, CUSTOM_VERIFICATION_TOKEN, DEMO_SCOPES,
    DEMO_TENANT, ISV_TENANT, OTHER_TENANT, STORE_APP_ID, STORE_APP_SECRET, STORE_ENCRYPT_KEY, STORE_VERIFICATION_TOKEN,
    Seed, Tenant, User, UserStatus, open_id, union_id,
};

use state::{Inner, World};

pub(crate) type Shared = Arc<Inner>;

/// Event delivery settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seconds between the periodic app_ticket pushes (hourly in Feishu [FS-ticket]); 0 = off.
    pub ticket_interval_secs: u64,
    /// Waits before each retry of a failed push [FS-evt]: 15 s, 5 min, 1 h, 6 h.
    pub retry_delays_ms: Vec<u64>,
    /// Deliver every push twice: delivery is at-least-once [FS-evt].
    pub duplicate_pushes: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            ticket_interval_secs: 3600,
            retry_delays_ms: vec![15_000, 300_000, 3_600_000, 21_600_000],
            duplicate_pushes: false,
        }
    }
}

/// A Feishu simulator. Cheap to clone; clones share all state.
#[derive(Clone)]
pub struct Simulator {
    inner: Shared,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.inner.world();
        f.debug_struct("Simulator")
            .field("tenants", &w.seed.tenants.len())
            .field("apps", &w.seed.apps.len())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator of `seed` (check a hand-built seed with [`Seed::validate`] first).
    pub fn new(seed: Seed, config: SimConfig) -> Simulator {
        // [FS-evt] Feishu gives a receiver 2 s to accept the connection. Receivers are local: no proxy.
        let http =
            reqwest::Client::builder().connect_timeout(Duration::from_secs(2)).no_proxy().build().unwrap_or_default();
        let inner = Inner { clock: clock::Clock::default(), config, http, world: Mutex::new(World::new(seed)) };
        Simulator { inner: Arc::new(inner) }
    }

    /// All routes, state applied.
    pub fn router(&self) -> Router {
        Router::new()
            .nest("/accounts", accounts::router())
            .nest("/open", open::router())
            .nest("/_sim", control::router())
            // A nested "/" matches only `/_sim`, so the console also gets `/_sim/` explicitly.
            .route("/_sim/", get(control::console))
            .route("/", get(|| async { Redirect::to("/_sim/") }))
            .layer(axum::middleware::from_fn_with_state(self.inner.clone(), control::middleware))
            .with_state(self.inner.clone())
    }

    /// Binds `127.0.0.1:0`, serves, and runs the periodic app_ticket push, both in the returned task.
    pub async fn spawn(
        seed: Seed,
        config: SimConfig,
    ) -> std::io::Result<(SocketAddr, Simulator, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sim = Simulator::new(seed, config);
        let (app, inner) = (sim.router(), sim.inner.clone());
        let task = tokio::spawn(async move {
            tokio::select! {
                r = axum::serve(listener, app) => if let Err(e) = r {
                    tracing::error!(error = %e, "feishu-sim server stopped");
                },
                () = events::ticket_timer(inner) => {}
            }
        });
        Ok((addr, sim, task))
    }

    /// Replaces the app's redirect URL list (安全设置 → 重定向 URL); unknown app: ignored.
    pub fn set_redirect_uris(&self, app_id: &str, uris: Vec<String>) {
        match self.inner.world().app_mut(app_id) {
            Some(app) => app.redirect_uris = uris,
            None => tracing::warn!(app_id, "feishu-sim: set_redirect_uris for an unknown app"),
        }
    }

    /// Moves the simulated clock by `secs`.
    pub fn advance(&self, secs: i64) {
        self.inner.clock.advance(secs);
    }

    /// Saves the app's event request URL as Feishu's console does: sends url_verification and keeps the URL
    /// only if the receiver echoed the challenge within 1 s [FS-evt-srv].
    pub async fn set_event_url(&self, app_id: &str, url: &str) -> Result<(), String> {
        events::set_event_url(&self.inner, app_id, url).await
    }

    /// Mints a new app_ticket for a marketplace app and pushes it (encrypted, signed): Ok(ticket) when the
    /// receiver answered HTTP 200 in time; a failed delivery is retried per [`SimConfig::retry_delays_ms`].
    pub async fn push_app_ticket(&self, app_id: &str) -> Result<String, String> {
        match events::push_ticket(&self.inner, app_id).await? {
            (ticket, true) => Ok(ticket),
            (ticket, false) => Err(format!("app_ticket {ticket} not accepted by the receiver; retrying")),
        }
    }
}

/// Query parameters; the first of repeated names wins.
pub(crate) fn query(raw: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_insert(v.into_owned());
    }
    out
}

/// A JSON content type (`application/json`, any parameters).
pub(crate) fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    ct.and_then(|v| v.split(';').next()).is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The HTML escape for every text the pages show.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page around already-escaped HTML.
pub(crate) fn page(status: axum::http::StatusCode, title: &str, body: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    (status, axum::response::Html(html)).into_response()
}
