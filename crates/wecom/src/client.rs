//! The WeCom server API client (reqwest + rustls). Typed requests and responses for the calls a sign-in
//! needs; unknown JSON fields are ignored; a non-zero `errcode` becomes [`Error::Api`]. Calls that need an
//! access token take it from the shared cache and, on a token errcode, refresh it once and retry once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wecom::Error> {
//! use std::sync::Arc;
//! let client = wecom::Client::new(wecom::ClientConfig::default(), Arc::new(wecom::MemoryTokenStore::default()))?;
//! let app = wecom::CorpApp { corp_id: "ww1234".into(), secret: "app-secret".into() };
//! let who = client.get_user_info(&app, "CODE-FROM-THE-REDIRECT").await?;
//! if let Some(userid) = who.userid {
//!     let member = client.get_user(&app, &userid).await?; // 60011 = outside the app's visible scope
//!     println!("{} is {:?}", userid, member.name);
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::errcode::{self, Explanation};
use token_cache::{TokenCache, TokenStore};

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://qyapi.weixin.qq.com` or a stand-in.
    pub api_base: String,
    /// Bound of one HTTP call.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig { api_base: "https://qyapi.weixin.qq.com".into(), timeout: Duration::from_secs(5) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{api}: errcode {errcode}: {errmsg}")]
    Api { api: &'static str, errcode: i64, errmsg: String },
    #[error("{api}: timed out")]
    Timeout { api: &'static str },
    #[error("{api}: {message}")]
    Http { api: &'static str, message: String },
    #[error("{api}: undecodable answer: {message}")]
    Decode { api: &'static str, message: String },
    #[error("token cache: {0}")]
    Cache(String),
}

impl From<token_cache::WaitedTooLong> for Error {
    fn from(e: token_cache::WaitedTooLong) -> Self {
        Error::Cache(e.to_string())
    }
}

impl Error {
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Error::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
    /// The catalogue's explanation of the errcode, if any.
    pub fn explanation(&self) -> Option<&'static Explanation> {
        self.errcode().and_then(errcode::explain)
    }
}

/// A corp app's credential for `gettoken`: a self-built app's secret, or for a delegated app the
/// authorizing corp's id and the permanent code.
#[derive(Clone)]
pub struct CorpApp {
    pub corp_id: String,
    pub secret: String,
}

#[derive(Clone)]
pub struct SuiteCredential {
    pub suite_id: String,
    pub suite_secret: String,
    pub suite_ticket: String,
}

#[derive(Clone)]
pub struct ProviderCredential {
    pub corp_id: String,
    pub provider_secret: String,
}

macro_rules! redacted_debug {
    ($ty:ty, $id:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).field(stringify!($id), &self.$id).finish_non_exhaustive()
            }
        }
    };
}
redacted_debug!(CorpApp, corp_id);
redacted_debug!(SuiteCredential, suite_id);
redacted_debug!(ProviderCredential, corp_id);

// ---------------------------------------------------------------- responses

#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// `auth/getuserinfo`: a member (`userid`) or someone outside the corp (`openid`). Legacy capitalised keys
/// of `user/getuserinfo` are accepted too.
#[derive(Clone, Default, Deserialize)]
pub struct UserInfo {
    #[serde(default, alias = "UserId")]
    pub userid: Option<String>,
    #[serde(default, alias = "OpenId")]
    pub openid: Option<String>,
    #[serde(default)]
    pub user_ticket: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub external_userid: Option<String>,
}

impl std::fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfo").field("userid", &self.userid).field("openid", &self.openid).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserDetail {
    #[serde(default)]
    pub userid: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub qr_code: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub biz_mail: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// `user/get`. Since 2022 mobile, email, avatar and gender are absent for new apps (reference §3.2).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Member {
    #[serde(default)]
    pub userid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub biz_mail: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub thumb_avatar: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub open_userid: Option<String>,
    #[serde(default)]
    pub department: Vec<i64>,
    #[serde(default)]
    pub main_department: Option<i64>,
    /// 1 active, 2 disabled, 4 not activated, 5 left (UNCONFIRMED values).
    #[serde(default)]
    pub status: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthCorpInfo {
    pub corpid: String,
    #[serde(default)]
    pub corp_name: Option<String>,
    #[serde(default)]
    pub corp_full_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthAgent {
    pub agentid: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub auth_mode: Option<i64>,
    #[serde(default)]
    pub is_customized_app: Option<bool>,
    #[serde(default)]
    pub privilege: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthInfo {
    #[serde(default)]
    pub agent: Vec<AuthAgent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthUserInfo {
    #[serde(default)]
    pub userid: Option<String>,
    #[serde(default)]
    pub open_userid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
}

/// `service/get_auth_info`: the authorized corp and agent, no secret.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthInfoResponse {
    pub auth_corp_info: AuthCorpInfo,
    #[serde(default)]
    pub auth_info: Option<AuthInfo>,
}

/// `service/get_permanent_code`. For a delegated app, `permanent_code` is the app's secret.
#[derive(Clone, Deserialize)]
pub struct PermanentCodeResponse {
    pub permanent_code: String,
    pub auth_corp_info: AuthCorpInfo,
    #[serde(default)]
    pub auth_info: Option<AuthInfo>,
    #[serde(default)]
    pub auth_user_info: Option<AuthUserInfo>,
    #[serde(default)]
    pub state: Option<String>,
}

impl std::fmt::Debug for PermanentCodeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermanentCodeResponse")
            .field("auth_corp_info", &self.auth_corp_info)
            .field("auth_info", &self.auth_info)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoginUserInfo {
    #[serde(default)]
    pub userid: Option<String>,
    #[serde(default)]
    pub open_userid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoginCorpInfo {
    #[serde(default)]
    pub corpid: Option<String>,
}

/// `service/get_login_info` (legacy third-party QR login, reference §8).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoginInfo {
    #[serde(default)]
    pub usertype: Option<i64>,
    #[serde(default)]
    pub user_info: LoginUserInfo,
    #[serde(default)]
    pub corp_info: Option<LoginCorpInfo>,
    #[serde(default)]
    pub agent: Vec<Value>,
    #[serde(default)]
    pub auth_info: Option<Value>,
}

/// `service/corpid_to_opencorpid` (path/95604, path/97105): a plain corp id as the provider's apps see it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpenCorpId {
    #[serde(default)]
    pub open_corpid: String,
}

/// `service/auth/getuserinfo3rd`: `corpid` + `userid` + `open_userid` for a member, `openid` otherwise.
#[derive(Clone, Default, Deserialize)]
pub struct UserInfo3rd {
    #[serde(default, alias = "CorpId")]
    pub corpid: Option<String>,
    #[serde(default, alias = "UserId")]
    pub userid: Option<String>,
    #[serde(default)]
    pub open_userid: Option<String>,
    #[serde(default, alias = "OpenId")]
    pub openid: Option<String>,
    #[serde(default)]
    pub user_ticket: Option<String>,
}

impl std::fmt::Debug for UserInfo3rd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInfo3rd")
            .field("corpid", &self.corpid)
            .field("userid", &self.userid)
            .field("open_userid", &self.open_userid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserDetail3rd {
    #[serde(default)]
    pub corpid: Option<String>,
    #[serde(default)]
    pub userid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub qr_code: Option<String>,
}

#[derive(Deserialize)]
struct SuiteTokenResponse {
    suite_access_token: String,
    expires_in: i64,
}

#[derive(Deserialize)]
struct ProviderTokenResponse {
    provider_access_token: String,
    expires_in: i64,
}

// ---------------------------------------------------------------- client

struct Inner {
    http: reqwest::Client,
    api_base: String,
    cache: TokenCache,
    observer: Arc<dyn crate::observe::Observer>,
}

/// The API client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("api_base", &self.inner.api_base).finish_non_exhaustive()
    }
}

/// One API call that needs a token: `api` is also the path under `/cgi-bin/`.
struct TokenCall<'a> {
    api: &'static str,
    token_param: &'static str,
    query: &'a [(&'a str, &'a str)],
    body: Option<Value>,
}

enum Method {
    Get,
    Post(Value),
}

impl Client {
    pub fn new(config: ClientConfig, cache: Arc<dyn TokenStore>) -> Result<Self, Error> {
        Client::observed(config, cache, Arc::new(crate::observe::Unobserved))
    }

    /// A client that tells `observer` of every call and every token it uses.
    pub fn observed(
        config: ClientConfig,
        cache: Arc<dyn TokenStore>,
        observer: Arc<dyn crate::observe::Observer>,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Http { api: "client", message: e.to_string() })?;
        let watcher = observer.clone();
        let cache = TokenCache::new(cache, config.timeout * 2, Arc::new(move |source| watcher.token(source)));
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_base: config.api_base.trim_end_matches('/').to_string(),
                cache,
                observer,
            }),
        })
    }

    /// One HTTP call; maps transport failures, non-JSON answers and non-zero errcodes to [`Error`].
    async fn call<T: DeserializeOwned>(
        &self,
        api: &'static str,
        path: &str,
        query: &[(&str, &str)],
        method: Method,
    ) -> Result<T, Error> {
        let started = std::time::Instant::now();
        let result = self.call_once(api, path, query, method).await;
        self.inner.observer.call(api, result.as_ref().err(), started.elapsed());
        result
    }

    async fn call_once<T: DeserializeOwned>(
        &self,
        api: &'static str,
        path: &str,
        query: &[(&str, &str)],
        method: Method,
    ) -> Result<T, Error> {
        let url = format!("{}/cgi-bin/{path}", self.inner.api_base);
        let request = match method {
            Method::Get => self.inner.http.get(&url).query(query),
            Method::Post(body) => self.inner.http.post(&url).query(query).json(&body),
        };
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
        if !status.is_success() {
            return Err(Error::Http { api, message: format!("HTTP {status}") });
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Decode { api, message: e.to_string() })?;
        // Legacy provider endpoints omit errcode on success (reference §0): absent counts as 0.
        let code = value.get("errcode").and_then(Value::as_i64).unwrap_or(0);
        if code != 0 {
            let errmsg = value.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_string();
            tracing::warn!(api, errcode = code, errmsg = %errmsg, "WeCom answered an error");
            return Err(Error::Api { api, errcode: code, errmsg });
        }
        serde_json::from_value(value).map_err(|e| Error::Decode { api, message: e.to_string() })
    }

    /// Calls `req` with the token of `key`; on a token errcode, refreshes once and retries once.
    async fn with_token<T, F, Fut>(&self, key: &str, fetch: F, req: TokenCall<'_>) -> Result<T, Error>
    where
        T: DeserializeOwned,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(String, i64), Error>>,
    {
        let mut retried = false;
        loop {
            let token = self.inner.cache.token(key, &fetch).await?;
            let mut query: Vec<(&str, &str)> = vec![(req.token_param, token.as_str())];
            query.extend_from_slice(req.query);
            let method = match &req.body {
                Some(b) => Method::Post(b.clone()),
                None => Method::Get,
            };
            match self.call::<T>(req.api, req.api, &query, method).await {
                Err(Error::Api { errcode, .. }) if !retried && errcode::is_token_invalid(errcode) => {
                    tracing::info!(api = req.api, errcode, "WeCom rejected the cached token; refreshing once");
                    self.inner.cache.invalidate(key, &token).await;
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// `gettoken`, uncached.
    pub async fn get_token(&self, corp_id: &str, secret: &str) -> Result<TokenResponse, Error> {
        self.call("gettoken", "gettoken", &[("corpid", corp_id), ("corpsecret", secret)], Method::Get).await
    }

    fn corp_key(app: &CorpApp) -> String {
        format!("corp:{}:{}", app.corp_id, token_cache::secret_fingerprint(&app.secret))
    }

    /// When the shared cache's access token of `app` expires (Unix seconds), if one is cached; nothing is
    /// fetched.
    pub async fn cached_token_expiry(&self, app: &CorpApp) -> Option<i64> {
        self.inner.cache.expiry(&Self::corp_key(app)).await
    }

    /// The cached corp access token.
    pub async fn access_token(&self, app: &CorpApp) -> Result<String, Error> {
        self.inner.cache.token(&Self::corp_key(app), || self.fetch_corp_token(app)).await
    }

    async fn fetch_corp_token(&self, app: &CorpApp) -> Result<(String, i64), Error> {
        self.get_token(&app.corp_id, &app.secret).await.map(|t| (t.access_token, t.expires_in))
    }

    /// `auth/getuserinfo`: the code of a QR/OAuth/SDK login → who scanned.
    pub async fn get_user_info(&self, app: &CorpApp, code: &str) -> Result<UserInfo, Error> {
        self.with_token(
            &Self::corp_key(app),
            || self.fetch_corp_token(app),
            TokenCall { api: "auth/getuserinfo", token_param: "access_token", query: &[("code", code)], body: None },
        )
        .await
    }

    /// `auth/getuserdetail`: the private fields after `snsapi_privateinfo` consent.
    pub async fn get_user_detail(&self, app: &CorpApp, user_ticket: &str) -> Result<UserDetail, Error> {
        let body = json!({ "user_ticket": user_ticket });
        self.with_token(
            &Self::corp_key(app),
            || self.fetch_corp_token(app),
            TokenCall { api: "auth/getuserdetail", token_param: "access_token", query: &[], body: Some(body) },
        )
        .await
    }

    /// `user/get`: the member, if in the app's visible scope (60011 otherwise).
    pub async fn get_user(&self, app: &CorpApp, userid: &str) -> Result<Member, Error> {
        self.with_token(
            &Self::corp_key(app),
            || self.fetch_corp_token(app),
            TokenCall { api: "user/get", token_param: "access_token", query: &[("userid", userid)], body: None },
        )
        .await
    }

    fn suite_key(suite: &SuiteCredential) -> String {
        format!("suite:{}:{}", suite.suite_id, token_cache::secret_fingerprint(&suite.suite_secret))
    }

    async fn fetch_suite_token(&self, suite: &SuiteCredential) -> Result<(String, i64), Error> {
        let body =
            json!({"suite_id": suite.suite_id, "suite_secret": suite.suite_secret, "suite_ticket": suite.suite_ticket});
        let t: SuiteTokenResponse =
            self.call("service/get_suite_token", "service/get_suite_token", &[], Method::Post(body)).await?;
        Ok((t.suite_access_token, t.expires_in))
    }

    /// The cached suite access token (needs the latest pushed suite_ticket).
    pub async fn suite_access_token(&self, suite: &SuiteCredential) -> Result<String, Error> {
        self.inner.cache.token(&Self::suite_key(suite), || self.fetch_suite_token(suite)).await
    }

    /// `service/get_permanent_code`: the auth code of `create_auth` → the permanent code and the corp.
    pub async fn get_permanent_code(
        &self,
        suite: &SuiteCredential,
        auth_code: &str,
    ) -> Result<PermanentCodeResponse, Error> {
        let body = json!({ "auth_code": auth_code });
        self.with_token(
            &Self::suite_key(suite),
            || self.fetch_suite_token(suite),
            TokenCall {
                api: "service/get_permanent_code",
                token_param: "suite_access_token",
                query: &[],
                body: Some(body),
            },
        )
        .await
    }

    /// `service/get_auth_info` (path/90604): a corp's authorization as it is now — its name and the
    /// authorized agent — with the suite token and the corp's permanent code.
    pub async fn get_auth_info(
        &self,
        suite: &SuiteCredential,
        auth_corpid: &str,
        permanent_code: &str,
    ) -> Result<AuthInfoResponse, Error> {
        let body = json!({ "auth_corpid": auth_corpid, "permanent_code": permanent_code });
        self.with_token(
            &Self::suite_key(suite),
            || self.fetch_suite_token(suite),
            TokenCall { api: "service/get_auth_info", token_param: "suite_access_token", query: &[], body: Some(body) },
        )
        .await
    }

    fn provider_key(provider: &ProviderCredential) -> String {
        format!("provider:{}:{}", provider.corp_id, token_cache::secret_fingerprint(&provider.provider_secret))
    }

    async fn fetch_provider_token(&self, provider: &ProviderCredential) -> Result<(String, i64), Error> {
        let body = json!({"corpid": provider.corp_id, "provider_secret": provider.provider_secret});
        let t: ProviderTokenResponse =
            self.call("service/get_provider_token", "service/get_provider_token", &[], Method::Post(body)).await?;
        Ok((t.provider_access_token, t.expires_in))
    }

    /// The cached provider access token.
    pub async fn provider_access_token(&self, provider: &ProviderCredential) -> Result<String, Error> {
        self.inner.cache.token(&Self::provider_key(provider), || self.fetch_provider_token(provider)).await
    }

    /// `service/get_login_info` (legacy third-party QR login).
    pub async fn get_login_info(&self, provider: &ProviderCredential, auth_code: &str) -> Result<LoginInfo, Error> {
        let body = json!({ "auth_code": auth_code });
        self.with_token(
            &Self::provider_key(provider),
            || self.fetch_provider_token(provider),
            TokenCall { api: "service/get_login_info", token_param: "access_token", query: &[], body: Some(body) },
        )
        .await
    }

    /// `service/corpid_to_opencorpid` (path/95604): the provider's encrypted id of a corp, from its plain
    /// enterprise id. WeCom converts only corps that authorized one of the provider's apps.
    pub async fn corpid_to_opencorpid(&self, provider: &ProviderCredential, corpid: &str) -> Result<String, Error> {
        let body = json!({ "corpid": corpid });
        let answer: OpenCorpId = self
            .with_token(
                &Self::provider_key(provider),
                || self.fetch_provider_token(provider),
                TokenCall {
                    api: "service/corpid_to_opencorpid",
                    token_param: "provider_access_token",
                    query: &[],
                    body: Some(body),
                },
            )
            .await?;
        Ok(answer.open_corpid)
    }

    /// `service/auth/getuserinfo3rd`: a ServiceApp QR or third-party OAuth code → corp + member.
    pub async fn get_user_info_3rd(&self, suite: &SuiteCredential, code: &str) -> Result<UserInfo3rd, Error> {
        self.with_token(
            &Self::suite_key(suite),
            || self.fetch_suite_token(suite),
            TokenCall {
                api: "service/auth/getuserinfo3rd",
                token_param: "suite_access_token",
                query: &[("code", code)],
                body: None,
            },
        )
        .await
    }

    /// `service/auth/getuserdetail3rd`.
    pub async fn get_user_detail_3rd(
        &self,
        suite: &SuiteCredential,
        user_ticket: &str,
    ) -> Result<UserDetail3rd, Error> {
        let body = json!({ "user_ticket": user_ticket });
        self.with_token(
            &Self::suite_key(suite),
            || self.fetch_suite_token(suite),
            TokenCall {
                api: "service/auth/getuserdetail3rd",
                token_param: "suite_access_token",
                query: &[],
                body: Some(body),
            },
        )
        .await
    }
}

/// Upstream answers are JSON documents of bounded size: a larger one is refused rather than read into memory.
/// WeCom's are the largest wegate reads — a delegated app's authorization lists every member, department and
/// tag a corp granted (`auth_info.agent[].privilege`) — so the bound is generous.
const MAX_ANSWER: usize = 4 * 1024 * 1024;
