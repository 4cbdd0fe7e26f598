//! The application state every handler shares, and the router that assembles the endpoints.

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::oidc::keys::KeySet;
use crate::store::Store;

/// Everything a request may need. Cheap to clone (`AppState` wraps it in an `Arc`).
pub struct App {
    /// The settings the server started with.
    pub settings: Settings,
    /// All shared state: nothing a second instance needs lives only here.
    pub store: Arc<dyn Store>,
    /// Signing keys, loaded from the store at start.
    pub keys: KeySet,
    /// WeCom API client; its token cache is backed by the store (shared by all instances).
    pub wecom: wecom::Client,
    /// Prometheus metrics.
    pub metrics: Metrics,
}

impl App {
    /// Current Unix time. The single clock of the server.
    pub fn now(&self) -> i64 {
        crate::util::unix_now()
    }

    /// `{issuer}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.settings.issuer, path)
    }
}

pub type AppState = Arc<App>;

/// All routes of the server.
pub fn router(app: AppState) -> Router {
    Router::new()
        .merge(crate::oidc::routes())
        .merge(crate::web::routes())
        .merge(crate::connectors::routes())
        .nest("/api/v1", crate::api::routes())
        .merge(crate::metrics::routes())
        .layer(axum::middleware::from_fn_with_state(app.clone(), crate::api::require_admin))
        .layer(axum::middleware::map_response(crate::web::security_headers))
        .layer(axum::middleware::from_fn_with_state(app.clone(), track_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(app)
}

/// Counts requests by route template and status, and times them.
async fn track_request(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    app.metrics.observe_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
