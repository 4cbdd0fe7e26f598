//! The Feishu API client (reqwest + rustls): the v2 OAuth code exchange (with PKCE), `user_info`, the
//! contact API's user status for the membership re-check, and the app and tenant tokens — a custom app's
//! `…/internal` ones, a marketplace app's from its pushed `app_ticket` — cached in the shared store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use token_cache::{TokenCache, TokenSource, TokenStore};

use crate::errors::Error;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://open.feishu.cn` (Lark: `https://open.larksuite.com`) or a stand-in.
    pub api_base: String,
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig { api_base: "https://open.feishu.cn".into(), timeout: Duration::from_secs(5) }
    }
}

/// An app's App ID (`cli_…`) and App Secret.
#[derive(Clone)]
pub struct AppCredential {
    pub app_id: String,
    pub app_secret: String,
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredential").field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

/// Whose tenant token a contact call uses.
#[derive(Debug, Clone, Copy)]
pub enum Tenant<'a> {
    /// A custom app's own tenant (`tenant_access_token/internal`).
    Custom(&'a AppCredential),
    /// A marketplace app in one installing tenant, through the latest pushed `app_ticket`.
    Store { app: &'a AppCredential, ticket: &'a str, tenant_key: &'a str },
}

pub trait Observer: Send + Sync {
    fn call(&self, api: &'static str, failure: Option<&Error>, elapsed: Duration) {
        let _ = (api, failure, elapsed);
    }
    fn token(&self, source: TokenSource) {
        let _ = source;
    }
}

struct Unobserved;
impl Observer for Unobserved {}

/// The person's token from the v2 token endpoint.
#[derive(Clone, Deserialize)]
pub struct UserToken {
    pub access_token: String,
    #[serde(default)]
    pub scope: Option<String>,
}

impl std::fmt::Debug for UserToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserToken").field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// `authen/v1/user_info` [FS-uinfo]. `open_id` is per app, `union_id` per developer, `user_id` per tenant and
/// changeable by its admins; `email` and `mobile` are admin-imported, verified by nobody.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserInfo {
    pub open_id: String,
    pub tenant_key: String,
    #[serde(default)]
    pub union_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub en_name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub enterprise_email: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub employee_no: Option<String>,
}

/// `contact/v3/users/:open_id`'s status of a user.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContactUser {
    pub open_id: String,
    /// Required: an answer without it (a field the app may not read) says nothing about the person.
    pub status: ContactStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContactStatus {
    #[serde(default)]
    pub is_frozen: bool,
    #[serde(default)]
    pub is_resigned: bool,
    #[serde(default)]
    pub is_exited: bool,
}

impl ContactUser {
    /// Whether the user still works there: not resigned, frozen or exited.
    pub fn is_active(&self) -> bool {
        !(self.status.is_frozen || self.status.is_resigned || self.status.is_exited)
    }
}

struct Inner {
    http: reqwest::Client,
    api_base: String,
    cache: TokenCache,
    observer: Arc<dyn Observer>,
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("api_base", &self.inner.api_base).finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig, store: Arc<dyn TokenStore>) -> Result<Self, Error> {
        Client::observed(config, store, Arc::new(Unobserved))
    }

    pub fn observed(
        config: ClientConfig,
        store: Arc<dyn TokenStore>,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Http { api: "client", message: e.to_string() })?;
        let watcher = observer.clone();
        let cache = TokenCache::new(store, config.timeout * 2, Arc::new(move |source| watcher.token(source)));
        let api_base = config.api_base.trim_end_matches('/').to_string();
        Ok(Client { inner: Arc::new(Inner { http, api_base, cache, observer }) })
    }

    /// One call; `bearer` is a user, app or tenant token.
    async fn call<T: DeserializeOwned>(
        &self,
        api: &'static str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let result = self.call_once(api, path, body, bearer).await;
        self.inner.observer.call(api, result.as_ref().err(), started.elapsed());
        result
    }

    async fn call_once<T: DeserializeOwned>(
        &self,
        api: &'static str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Result<T, Error> {
        let url = format!("{}{path}", self.inner.api_base);
        let mut request = match body {
            // JSON bodies with the charset the docs name [FS-tok].
            Some(body) => self
                .inner
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body.to_string()),
            None => self.inner.http.get(url),
        };
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                Error::Timeout { api }
            } else {
                Error::Http { api, message: e.without_url().to_string() }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = upstream_http::read_capped(response, MAX_ANSWER).await.map_err(|e| match e {
            upstream_http::ReadError::Transport(e) => transport(e),
            too_large => Error::Http { api, message: too_large.to_string() },
        })?;
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        let code = value.as_ref().and_then(|v| v.get("code")).and_then(Value::as_i64);
        let text = |value: &Option<Value>, key: &str| {
            value.as_ref().and_then(|v| v.get(key)).and_then(Value::as_str).unwrap_or_default().to_string()
        };
        // The v2 token endpoint's refusal: HTTP 4xx/5xx with `error` [FS-tok].
        if !status.is_success() {
            return match code {
                Some(code) if value.as_ref().is_some_and(|v| v.get("error").is_some()) => {
                    let (error, description) = (text(&value, "error"), text(&value, "error_description"));
                    tracing::warn!(api, status = status.as_u16(), code, error = ?error, "Feishu answered an error");
                    Err(Error::OAuth { api, status: status.as_u16(), code, error, description })
                }
                _ => Err(Error::Http { api, message: format!("HTTP {status}") }),
            };
        }
        let value = value.ok_or_else(|| Error::Decode { api, message: "not JSON".into() })?;
        match code {
            Some(0) => {}
            Some(code) => {
                let msg = value.get("msg").and_then(Value::as_str).unwrap_or_default().to_string();
                tracing::warn!(api, code, msg = ?msg, "Feishu answered an error");
                return Err(Error::Api { api, code, msg });
            }
            // An answer without its code is not Feishu's protocol (Casdoor read such answers as empty
            // identities, §2.6).
            None => return Err(Error::Decode { api, message: "no code in the answer".into() }),
        }
        // Most answers carry their data under `data`; the token endpoints at the top level.
        let data = match value.get("data") {
            Some(data) if !data.is_null() => data.clone(),
            _ => value,
        };
        serde_json::from_value(data).map_err(|e| Error::Decode { api, message: e.to_string() })
    }

    /// The v2 token endpoint: the code (with the PKCE verifier and the redirect URI of the authorize request)
    /// → the person's token [FS-tok].
    pub async fn exchange_code(
        &self,
        app: &AppCredential,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<UserToken, Error> {
        let body = json!({
            "grant_type": "authorization_code",
            "client_id": app.app_id,
            "client_secret": app.app_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        });
        self.call("authen/v2/oauth/token", "/open-apis/authen/v2/oauth/token", Some(body), None).await
    }

    /// Who the person's token names [FS-uinfo].
    pub async fn user_info(&self, user_token: &str) -> Result<UserInfo, Error> {
        self.call("authen/v1/user_info", "/open-apis/authen/v1/user_info", None, Some(user_token)).await
    }

    /// Asks Feishu to push a marketplace app's `app_ticket` again, now [FS-resend].
    pub async fn resend_app_ticket(&self, app: &AppCredential) -> Result<(), Error> {
        let body = json!({"app_id": app.app_id, "app_secret": app.app_secret});
        let _: Value =
            self.call("auth/v3/app_ticket/resend", "/open-apis/auth/v3/app_ticket/resend", Some(body), None).await?;
        Ok(())
    }

    async fn fetch_token(&self, api: &'static str, body: Value, field: &str) -> Result<(String, i64), Error> {
        let path = format!("/open-apis/{api}");
        let answer: Value = self.call(api, &path, Some(body), None).await?;
        let token = answer.get(field).and_then(Value::as_str).filter(|t| !t.is_empty());
        let expire = answer.get("expire").and_then(Value::as_i64).filter(|e| *e > 0);
        match (token, expire) {
            (Some(token), Some(expire)) => Ok((token.to_string(), expire)),
            _ => Err(Error::Decode { api, message: format!("no {field} or expire") }),
        }
    }

    fn app_key(app: &AppCredential) -> String {
        format!("feishu:app:{}:{}", app.app_id, token_cache::secret_fingerprint(&app.app_secret))
    }

    /// A marketplace app's app token, made from the latest pushed ticket [FS-aat].
    async fn store_app_token(&self, app: &AppCredential, ticket: &str) -> Result<String, Error> {
        let key = Self::app_key(app);
        let fetch = || {
            let body = json!({"app_id": app.app_id, "app_secret": app.app_secret, "app_ticket": ticket});
            self.fetch_token("auth/v3/app_access_token", body, "app_access_token")
        };
        self.inner.cache.token(&key, fetch).await
    }

    fn tenant_key(tenant: Tenant<'_>) -> String {
        match tenant {
            Tenant::Custom(app) => {
                format!("feishu:tenant:{}:{}", app.app_id, token_cache::secret_fingerprint(&app.app_secret))
            }
            Tenant::Store { app, tenant_key, .. } => {
                format!(
                    "feishu:tenant:{}:{}:{tenant_key}",
                    app.app_id,
                    token_cache::secret_fingerprint(&app.app_secret)
                )
            }
        }
    }

    async fn fetch_tenant_token(&self, tenant: Tenant<'_>) -> Result<(String, i64), Error> {
        match tenant {
            Tenant::Custom(app) => {
                let body = json!({"app_id": app.app_id, "app_secret": app.app_secret});
                self.fetch_token("auth/v3/tenant_access_token/internal", body, "tenant_access_token").await
            }
            Tenant::Store { app, ticket, tenant_key } => {
                let mut retried = false;
                loop {
                    let app_token = self.store_app_token(app, ticket).await?;
                    let body = json!({"app_access_token": app_token, "tenant_key": tenant_key});
                    match self.fetch_token("auth/v3/tenant_access_token", body, "tenant_access_token").await {
                        // The cached app token went bad: drop it, make one again, once.
                        Err(e) if !retried && e.is_token_invalid() => {
                            self.inner.cache.invalidate(&Self::app_key(app), &app_token).await;
                            retried = true;
                        }
                        other => return other,
                    }
                }
            }
        }
    }

    /// The tenant token from the shared cache: Feishu answers the same token while 30 minutes or more are
    /// left and a second one after [FS-tat-int], so a cluster fetches about once per lifetime.
    pub async fn tenant_token(&self, tenant: Tenant<'_>) -> Result<String, Error> {
        self.inner.cache.token(&Self::tenant_key(tenant), || self.fetch_tenant_token(tenant)).await
    }

    /// When the shared cache's tenant token expires (Unix seconds), if one is cached.
    pub async fn cached_token_expiry(&self, tenant: Tenant<'_>) -> Option<i64> {
        self.inner.cache.expiry(&Self::tenant_key(tenant)).await
    }

    /// A user's status in the tenant, by the open_id the app knows them by (the membership re-check).
    pub async fn contact_user(&self, tenant: Tenant<'_>, open_id: &str) -> Result<ContactUser, Error> {
        let key = Self::tenant_key(tenant);
        let id = percent_encoding::utf8_percent_encode(open_id, percent_encoding::NON_ALPHANUMERIC);
        let path = format!("/open-apis/contact/v3/users/{id}?user_id_type=open_id");
        let mut retried = false;
        loop {
            let token = self.tenant_token(tenant).await?;
            let answer: Result<Value, Error> = self.call("contact/v3/users", &path, None, Some(&token)).await;
            match answer {
                Err(e) if !retried && e.is_token_invalid() => {
                    self.inner.cache.invalidate(&key, &token).await;
                    retried = true;
                }
                Err(e) => return Err(e),
                Ok(data) => {
                    let user = data.get("user").cloned().unwrap_or(Value::Null);
                    return serde_json::from_value(user)
                        .map_err(|e| Error::Decode { api: "contact/v3/users", message: e.to_string() });
                }
            }
        }
    }
}

/// Upstream answers are small JSON documents: a larger one is refused rather than read into memory.
const MAX_ANSWER: usize = 256 * 1024;
