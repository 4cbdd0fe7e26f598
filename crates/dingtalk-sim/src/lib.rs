//! dingtalk-sim: a STRICT DingTalk (钉钉) server stand-in for wegate's end-to-end tests.
//!
//! It follows the DingTalk protocol brief (`/work/shared/upstreams.md` §1; source keys such as
//! `[DT-free]` in comments refer to its §7) and is strict where §1.8 says so. Three families on
//! separate prefixes, so a call sent to the wrong family gets 404:
//! `/api` = api.dingtalk.com (`api.rs`), `/oapi` = oapi.dingtalk.com (`oapi.rs`),
//! `/login` = login.dingtalk.com (`login.rs`); plus `/jsapi/dingtalk.open.js` and `/_sim` (`control.rs`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use dingtalk_sim::{Seed, Simulator};
//! let (addr, sim, _task) = Simulator::spawn(Seed::demo()).await?;
//! sim.set_redirect_uris(dingtalk_sim::DEMO_CLIENT_ID, vec!["http://127.0.0.1:8080/cb".into()]);
//! println!("api base: http://{addr}/api, console: http://{addr}/_sim/");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

mod api;
mod clock;
mod control;
mod login;
mod oapi;
mod seed;
mod state;

pub use seed::{
    ALL_PERMISSIONS, App, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CORP_ID, Member, OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET, OTHER_CORP_ID, Org, Person, Seed,
};

use state::{Inner, World};

pub(crate) type Shared = Arc<Inner>;

/// A DingTalk simulator. Cheap to clone; clones share all state.
#[derive(Clone)]
pub struct Simulator {
    inner: Shared,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.inner.world();
        f.debug_struct("Simulator")
            .field("orgs", &w.seed.orgs.len())
            .field("apps", &w.seed.apps.len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator of `seed` (check a hand-built seed with [`Seed::validate`] first).
    pub fn new(seed: Seed) -> Simulator {
        let inner = Inner { clock: clock::Clock::default(), world: Mutex::new(World::new(seed)) };
        Simulator { inner: Arc::new(inner) }
    }

    /// All routes, state applied.
    pub fn router(&self) -> Router {
        Router::new()
            .nest("/api", api::router())
            .nest("/oapi", oapi::router())
            .nest("/login", login::router())
            .route("/jsapi/dingtalk.open.js", get(login::jsapi))
            .nest("/_sim", control::router())
            // A nested "/" matches only `/_sim`, so the console also gets `/_sim/` explicitly.
            .route("/_sim/", get(control::console))
            .route("/", get(|| async { Redirect::to("/_sim/") }))
            .layer(axum::middleware::from_fn_with_state(self.inner.clone(), control::middleware))
            .with_state(self.inner.clone())
    }

    /// Binds `127.0.0.1:0` and serves in a background task.
    pub async fn spawn(seed: Seed) -> std::io::Result<(SocketAddr, Simulator, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sim = Simulator::new(seed);
        let app = sim.router();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "dingtalk-sim server stopped");
            }
        });
        Ok((addr, sim, task))
    }

    /// Replaces the app's registered redirect URLs (unknown client_id: ignored).
    pub fn set_redirect_uris(&self, client_id: &str, uris: Vec<String>) {
        if !set_redirect_uris(&self.inner, client_id, uris) {
            tracing::warn!(client_id, "dingtalk-sim: set_redirect_uris for an unknown app");
        }
    }

    /// A 免登 code, as the legacy `dd.runtime.permission.requestAuthCode({corpId})` gives it, for an internal
    /// member of `corp_id` (any app of the corp redeems it).
    pub fn mint_auth_code(&self, person: &str, corp_id: &str) -> Result<String, String> {
        let now = self.inner.now();
        self.inner.world().mint_free_code(person, corp_id, None, now)
    }

    /// A 免登 code requested for one app (`dd.requestAuthCode({corpId, clientId})`, a mini program's
    /// `dd.getAuthCode`): only that app's token redeems it.
    pub fn mint_app_code(&self, person: &str, corp_id: &str, client_id: &str) -> Result<String, String> {
        let now = self.inner.now();
        self.inner.world().mint_free_code(person, corp_id, Some(client_id), now)
    }

    /// Moves the simulated clock by `secs`.
    pub fn advance(&self, secs: i64) {
        self.inner.clock.advance(secs);
    }
}

pub(crate) fn set_redirect_uris(inner: &Inner, client_id: &str, uris: Vec<String>) -> bool {
    let mut w = inner.world();
    match w.seed.apps.iter_mut().find(|a| a.client_id == client_id) {
        Some(app) => {
            app.redirect_uris = uris;
            true
        }
        None => false,
    }
}

/// Query pairs in order, URL-decoded.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

/// Query parameters; the first of repeated names wins.
pub(crate) fn query(raw: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in query_pairs(raw) {
        out.entry(k).or_insert(v);
    }
    out
}
