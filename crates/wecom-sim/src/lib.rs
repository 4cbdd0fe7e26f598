//! wecom-sim: a faithful WeCom (企业微信) stand-in for wegate's end-to-end tests,
//! `wegate simulator` and `wegate demo`.
//!
//! It speaks WeCom's wire protocol as written down in the project's WeCom reference: the server
//! API under `/cgi-bin` ([`api`]), the PC login and in-app OAuth pages ([`pages`]), the encrypted
//! command callbacks a provider receives and the address-book events (`change_contact`) apps receive
//! ([`push`]), plus its own `/_sim` endpoints for tests and operators ([`control`]). What exists —
//! corps, members, apps, templates, suites — comes from a [`Seed`] (members can then be deleted or
//! updated at run time); lifetimes from a [`SimConfig`]; time from one clock that tests can move.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use wecom_sim::{Seed, SimConfig, Simulator};
//! let (addr, _task) = Simulator::spawn(Seed::demo(), SimConfig::default()).await?;
//! println!("WeCom simulator on http://{addr}/_sim/");
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

mod api;
mod clock;
mod config;
mod control;
mod domain;
mod errcode;
mod ids;
mod pages;
mod push;
mod seed;
mod state;

pub use config::SimConfig;

/// The encrypted corp id a service provider's apps see for `corp_id` (unless the seed keeps legacy ids):
/// what wegate stores for delegated and provider sign-ins, for tests and the demo to expect.
pub fn encrypted_corp_id(provider_corp_id: &str, corp_id: &str) -> String {
    ids::open_corpid(provider_corp_id, corp_id)
}
pub use seed::{
    App, CUSTOMER_CORP_ID, Corp, DEMO_CORP_ID, DEMO_TRUSTED_DOMAIN, Department, Member, PROVIDER_CORP_ID, Provider,
    Seed, SeedError, Suite, Template,
};

use state::{Inner, World};

/// What every handler shares.
pub(crate) type Shared = Arc<Inner>;

/// A running-or-ready WeCom simulator. Cheap to clone; clones share all state.
#[derive(Clone)]
pub struct Simulator {
    inner: Shared,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("corps", &self.inner.seed.corps.len())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator of `seed` (validate it first with [`Seed::validate`] if it is hand-built).
    pub fn new(seed: Seed, config: SimConfig) -> Simulator {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "wecom-sim: falling back to a default HTTP client");
                reqwest::Client::new()
            });
        let world = World::from_seed(&seed);
        Simulator {
            inner: Arc::new(Inner {
                seed,
                config,
                clock: clock::Clock::default(),
                world: Mutex::new(world),
                stats: Mutex::new(control::stats::Stats::default()),
                faults: Mutex::new(control::faults::Faults::default()),
                trusted_domain: Mutex::new(None),
                http,
                pages: pages::environment(),
            }),
        }
    }

    /// All routes: `/cgi-bin/...`, the login pages, `/_sim/...`.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(api::router())
            .route("/wwlogin/sso/login", get(pages::login::wwlogin))
            .route("/wwopen/sso/qrConnect", get(pages::login::qr_connect))
            .route("/wwopen/sso/3rd_qrConnect", get(pages::login::third_qr_connect))
            .route("/connect/oauth2/authorize", get(pages::oauth::authorize))
            .route("/", get(|| async { Redirect::to("/_sim/") }))
            .merge(control::router())
            .layer(axum::middleware::from_fn_with_state(self.inner.clone(), control::faults::middleware))
            .with_state(self.inner.clone())
    }

    /// Serves [`Simulator::router`] on `listener` and, unless `ticket_interval_secs` is 0, runs
    /// the suite_ticket timer. Returns when the server stops.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_with(listener, Router::new()).await
    }

    /// [`Simulator::serve`] with `beside` merged in: another simulator's routes on the same port (`wegate
    /// simulator` nests DingTalk's under `/dingtalk`). WeCom's fault injection does not apply to them.
    pub async fn serve_with(self, listener: tokio::net::TcpListener, beside: Router) -> std::io::Result<()> {
        let app = self.router().merge(beside).into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, app);
        if self.inner.config.ticket_interval_secs == 0 {
            return server.await;
        }
        let timer = push::ticket_timer(self.inner.clone());
        tokio::select! {
            result = server => result,
            () = timer => Ok(()),
        }
    }

    /// Binds `127.0.0.1:0` and serves in a background task (for tests).
    pub async fn spawn(seed: Seed, config: SimConfig) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sim = Simulator::new(seed, config);
        let task = tokio::spawn(async move {
            if let Err(e) = sim.serve(listener).await {
                tracing::error!(error = %e, "wecom-sim server stopped");
            }
        });
        Ok((addr, task))
    }

    /// Sets one trusted domain (`host` or `host:port`) for every app, template and suite, as an admin would
    /// in each console; what `POST /_sim/trusted_domain` does. `false` if it is not a domain.
    pub fn set_trusted_domain(&self, domain: &str) -> bool {
        control::set_trusted_domain(&self.inner, domain)
    }

    /// The seed this simulator runs on.
    pub fn seed(&self) -> &Seed {
        &self.inner.seed
    }

    /// Current simulated time, unix seconds.
    pub fn now(&self) -> i64 {
        self.inner.now()
    }

    /// Moves the simulated clock forward by `secs` (also `POST /_sim/clock`).
    pub fn advance_clock(&self, secs: i64) {
        self.inner.clock.advance(secs);
    }
}
