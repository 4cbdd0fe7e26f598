//! Prometheus metrics (served at `/metrics` by `ops`): requests by route and status, request latency, and logins by app,
//! connection and outcome.

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

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    logins: Family<LoginLabels, Counter>,
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
        Metrics { registry: Mutex::new(registry), requests, latency, logins }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_string(), route: route.to_string(), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_string() }).observe(elapsed.as_secs_f64());
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
