//! Starting and stopping a server: connect the store (migrations run), load or create the signing key,
//! build the WeCom client over the shared token cache, bind, serve until told to stop, then drain.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, AppState};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::oidc::keys::KeyRing;
use crate::passwords::PasswordWorkers;
use crate::store::sql::{PoolSettings, SqlStore};
use crate::store::{CachedToken, Store};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {message}")]
    Database { url: String, message: String },
    #[error("signing keys: {0}")]
    Keys(#[from] crate::oidc::keys::KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("upstream client: {0}")]
    Wecom(String),
}

/// The upstream token cache (WeCom, DingTalk, Feishu) backed by the store: one token per app for all instances.
pub struct StoreTokenCache(pub Arc<dyn Store>);

#[async_trait]
impl wecom::TokenStore for StoreTokenCache {
    async fn get(&self, key: &str) -> Result<Option<wecom::CachedToken>, String> {
        let token = self.0.get_upstream_token(key).await.map_err(|e| e.to_string())?;
        Ok(token.map(|t| wecom::CachedToken { token: t.token, expires_at: t.expires_at }))
    }
    async fn put(&self, key: &str, token: &wecom::CachedToken) -> Result<(), String> {
        let token = CachedToken { token: token.token.clone(), expires_at: token.expires_at };
        self.0.put_upstream_token(key, &token).await.map_err(|e| e.to_string())
    }
    async fn invalidate(&self, key: &str, token: &str) -> Result<(), String> {
        self.0.invalidate_upstream_token(key, token).await.map_err(|e| e.to_string())
    }
    async fn try_lease(&self, key: &str, owner: &str, now: i64, until: i64) -> Result<bool, String> {
        self.0.try_lease(key, owner, now, until).await.map_err(|e| e.to_string())
    }
    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), String> {
        self.0.release_lease(key, owner).await.map_err(|e| e.to_string())
    }
}

/// Builds the shared state from settings (store connected and migrated, keys loaded), on the wall clock.
pub async fn build(settings: Settings) -> Result<AppState, StartError> {
    build_with_clock(settings, Arc::new(SystemClock)).await
}

/// [`build`] with another clock (tests shift time).
pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    let pool = PoolSettings {
        max_connections: settings.db_max_connections,
        acquire_timeout: settings.db_acquire_timeout,
        sqlite_locking: settings.sqlite_locking,
        ..PoolSettings::default()
    };
    let redacted = crate::config::redact_url_password(&settings.database_url);
    crate::api::backup::sweep_leftovers(&settings.database_url);
    let mut sql = SqlStore::connect(&settings.database_url, &pool)
        .await
        .map_err(|e| StartError::Database { url: redacted.clone(), message: e.to_string() })?;
    match &settings.encryption_key {
        Some(key) => {
            sql = sql.with_encryption_key(key);
            // What was stored before the key (or before values were bound to their rows) is sealed now: from
            // here on the store opens nothing else.
            sql.seal_legacy_values()
                .await
                .map_err(|e| StartError::Database { url: redacted.clone(), message: e.to_string() })?;
        }
        None => tracing::warn!(
            "WEGATE_ENCRYPTION_KEY is not set: connection secrets, permanent codes and the signing key are stored unencrypted"
        ),
    }
    let metrics = Metrics::default();
    metrics.register_store_counters(sql.statements(), sql.calls());
    let store: Arc<dyn Store> = Arc::new(sql);
    let keys =
        KeyRing::load_or_create(store.as_ref(), clock.now(), settings.key_retire_after(), &settings.access_token_alg)
            .await?;
    let wecom = wecom::Client::observed(
        wecom::ClientConfig { api_base: settings.wecom_api_base.clone(), timeout: settings.wecom_timeout },
        Arc::new(StoreTokenCache(store.clone())),
        Arc::new(metrics.upstream()),
    )
    .map_err(|e| StartError::Wecom(e.to_string()))?;
    let dingtalk = dingtalk::Client::observed(
        dingtalk::ClientConfig {
            api_base: settings.dingtalk_api_base.clone(),
            oapi_base: settings.dingtalk_oapi_base.clone(),
            timeout: settings.upstream_timeout,
        },
        Arc::new(StoreTokenCache(store.clone())),
        Arc::new(metrics.upstream()),
    )
    .map_err(|e| StartError::Wecom(e.to_string()))?;
    let feishu = feishu::Client::observed(
        feishu::ClientConfig { api_base: settings.feishu_api_base.clone(), timeout: settings.upstream_timeout },
        Arc::new(StoreTokenCache(store.clone())),
        Arc::new(metrics.upstream()),
    )
    .map_err(|e| StartError::Wecom(e.to_string()))?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let passwords = PasswordWorkers::new(cores, std::time::Duration::from_millis(200));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(crate::oidc::backchannel::DELIVERY_TIMEOUT)
        .build()
        .map_err(|e| StartError::Wecom(e.to_string()))?;
    let providers = oidc_rp::Providers::new(
        oidc_rp::Http::observed(settings.upstream_timeout, Arc::new(metrics.upstream()))
            .map_err(|e| StartError::Wecom(e.to_string()))?,
    );
    let app = Arc::new(App {
        settings,
        store,
        keys,
        wecom,
        dingtalk,
        feishu,
        metrics,
        clock,
        passwords,
        http,
        providers,
        deliveries: Default::default(),
    });
    log_connection_warnings(&app).await;
    crate::console::ensure_console_app(&app).await;
    Ok(app)
}

/// Once at start: each existing connection's settings that cannot work (`connectors::advice::warnings`).
async fn log_connection_warnings(app: &App) {
    let connections = match crate::store::all_connections(app.store.as_ref()).await {
        Ok(all) => all,
        Err(e) => return tracing::warn!(error = %e, "could not list connections to check their settings"),
    };
    for connection in &connections {
        for warning in crate::connectors::advice::warnings(connection) {
            tracing::warn!(connection = %connection.identifier, "{warning}");
        }
    }
}

/// A server running in this process.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and returns.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Serves until the task ends (after `shutdown` or a fatal error).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// A handle to ask for a graceful stop from elsewhere (signal handler).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Binds `settings.listen` and serves. The sweeper of expired state runs in the background.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let listener = TcpListener::bind(&settings.listen)
        .await
        .map_err(|source| StartError::Bind { addr: settings.listen.clone(), source })?;
    let state = build(settings).await?;
    start_on(listener, state, None)
}

/// Serves `state` on an already bound listener (tests bind 127.0.0.1:0 first to learn the issuer).
/// `extra` routes are merged in (the demo's relying party).
pub fn start_on(listener: TcpListener, state: AppState, extra: Option<axum::Router>) -> Result<Running, StartError> {
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: "?".into(), source })?;
    let (stop, mut stopped) = watch::channel(false);
    spawn_sweeper(state.clone(), stop.subscribe());
    spawn_key_reader(state.clone(), stop.subscribe());
    let mut router = crate::router::router(state.clone());
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    // Said before the first request can be answered: whoever sees /readyz answer has this line in the log.
    tracing::info!(%addr, issuer = %state.settings.issuer, "wegate is serving");
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(Running { addr, state, stop, task })
}

/// Reads the signing keys again every [`KeyRing::RELOAD_EVERY`] seconds: a rotation another process stored is
/// published here within that time (its key signs from a later second, which every instance honours itself).
fn spawn_key_reader(state: AppState, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(KeyRing::RELOAD_EVERY));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = state.keys.reload(state.store.as_ref(), state.now()).await {
                        tracing::warn!(error = %e, "reading the signing keys again failed");
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}

/// Deletes expired transactions, codes, tokens and leases every minute. Safe on every instance at once.
fn spawn_sweeper(state: AppState, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    match state.store.sweep_expired(state.now()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(rows = n, "swept expired state"),
                        Err(e) => tracing::warn!(error = %e, "sweeping expired state failed"),
                    }
                    let retention = state.settings.audit_retention_days;
                    if retention > 0 {
                        match state.store.prune_audit(state.now() - retention * 24 * 3600).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(rows = n, days = retention, "pruned audit events past their retention"),
                            Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
                        }
                    }
                }
                _ = stop.changed() => break,
            }
        }
    });
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
