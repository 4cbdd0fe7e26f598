//! Prometheus metrics (served at `/metrics` by `ops`): requests by route and status, request latency, logins by app,
//! connection and outcome, and the upstream providers' calls (`wegate_upstream_*`: calls, failures by code,
//! latency, and where access tokens came from), fed by the protocol crates' observers.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    app: String,
    connection: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    /// `wecom`, or an OpenID Connect / OAuth 2.0 provider's host.
    provider: String,
    /// WeCom's API path (`user/get`), or `discovery`, `jwks`, `token`, `userinfo`.
    api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamFailureLabels {
    provider: String,
    api: String,
    /// WeCom's errcode, the provider's OAuth error, `timeout`, `http`, `decode`, …
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    /// `local` (this process's memory), `shared` (the database: another instance fetched it).
    source: String,
}

/// The upstream series, handed to the protocol crates as their observer. Families are shared handles: this is
/// a view of the registry's series, not a copy.
#[derive(Clone)]
pub struct Upstream {
    calls: Family<UpstreamLabels, Counter>,
    failures: Family<UpstreamFailureLabels, Counter>,
    latency: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    token_fetches: Family<ProviderLabels, Counter>,
    token_hits: Family<TokenLabels, Counter>,
}

impl Upstream {
    fn observe(&self, provider: &str, api: &str, failure: Option<&str>, elapsed: Duration) {
        let labels = UpstreamLabels { provider: provider.to_string(), api: api.to_string() };
        self.calls.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(code) = failure {
            let labels = UpstreamFailureLabels { provider: labels.provider, api: labels.api, code: code.to_string() };
            self.failures.get_or_create(&labels).inc();
        }
    }
}

impl Upstream {
    fn token_from(&self, provider: &str, source: token_cache::TokenSource) {
        let provider = provider.to_string();
        match source {
            token_cache::TokenSource::Fetched => self.token_fetches.get_or_create(&ProviderLabels { provider }).inc(),
            token_cache::TokenSource::Local => {
                self.token_hits.get_or_create(&TokenLabels { provider, source: "local".into() }).inc()
            }
            token_cache::TokenSource::Shared => {
                self.token_hits.get_or_create(&TokenLabels { provider, source: "shared".into() }).inc()
            }
        };
    }
}

impl wecom::Observer for Upstream {
    fn call(&self, api: &'static str, failure: Option<&wecom::Error>, elapsed: Duration) {
        let code = failure.map(wecom::observe::failure_code);
        self.observe("wecom", api, code.as_deref(), elapsed);
    }

    fn token(&self, source: wecom::TokenSource) {
        self.token_from("wecom", source);
    }
}

impl dingtalk::Observer for Upstream {
    fn call(&self, api: &'static str, failure: Option<&dingtalk::Error>, elapsed: Duration) {
        let code = failure.map(dingtalk::Error::failure_code);
        self.observe("dingtalk", api, code.as_deref(), elapsed);
    }

    fn token(&self, source: dingtalk::TokenSource) {
        self.token_from("dingtalk", source);
    }
}

impl feishu::Observer for Upstream {
    fn call(&self, api: &'static str, failure: Option<&feishu::Error>, elapsed: Duration) {
        let code = failure.map(feishu::Error::failure_code);
        self.observe("feishu", api, code.as_deref(), elapsed);
    }

    fn token(&self, source: feishu::TokenSource) {
        self.token_from("feishu", source);
    }
}

impl oidc_rp::Observer for Upstream {
    fn call(&self, host: &str, what: &'static str, failure: Option<&str>, elapsed: Duration) {
        self.observe(host, what, failure, elapsed);
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    logins: Family<LoginLabels, Counter>,
    upstream: Upstream,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wegate");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        registry.register("logins", "Completed sign-ins by app, connection and outcome", logins.clone());
        let upstream = Upstream {
            calls: Family::default(),
            failures: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            token_fetches: Family::default(),
            token_hits: Family::default(),
        };
        registry.register("upstream_calls", "Calls to upstream providers by provider and API", upstream.calls.clone());
        registry.register(
            "upstream_failures",
            "Failed upstream calls by provider, API and code (WeCom errcode, OAuth error, timeout, http, decode)",
            upstream.failures.clone(),
        );
        registry.register(
            "upstream_call_duration_seconds",
            "Upstream call latency by provider and API",
            upstream.latency.clone(),
        );
        registry.register(
            "upstream_token_fetches",
            "Access tokens fetched from the provider (gettoken and the like), by provider",
            upstream.token_fetches.clone(),
        );
        registry.register(
            "upstream_token_hits",
            "Access tokens served from a cache, by provider and source (local memory, shared database)",
            upstream.token_hits.clone(),
        );
        Metrics { registry: Mutex::new(registry), requests, latency, logins, upstream }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_string(), route: route.to_string(), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_string() }).observe(elapsed.as_secs_f64());
    }

    /// The upstream series, as the protocol crates' observer.
    pub fn upstream(&self) -> Upstream {
        self.upstream.clone()
    }

    /// `outcome` is `success` or a short failure reason (`not_allowed`, `no_account`, `upstream_error` ...).
    pub fn login(&self, app: &str, connection: &str, outcome: &str) {
        self.logins
            .get_or_create(&LoginLabels {
                app: app.to_string(),
                connection: connection.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts the store's statements and calls under `wegate_store_statements` and `wegate_store_calls`
    /// (the benchmark reads them per login).
    pub fn register_store_counters(&self, statements: Counter, calls: Counter) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.register(
            "store_statements",
            "SQL statements run by the store (not counting BEGIN and COMMIT)",
            statements,
        );
        registry.register(
            "store_calls",
            "Calls to the database: one statement, one transaction of several, or a write and the reads after it (on SQLite, one hop to its thread)",
            calls,
        );
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
