//! The DingTalk API client (reqwest + rustls) for an internal app's sign-ins: the app token (cached, shared),
//! the login page's code → user token → `contact/users/me` (the new family), and the organisation's own answer
//! about a person — `topapi/user/getbyunionid`, `topapi/v2/user/get`, and the 免登 code's
//! `topapi/v2/user/getuserinfo` (the legacy family, with the app token in the query). Unknown JSON fields are
//! ignored; every failure is an [`Error`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use token_cache::{TokenCache, TokenSource, TokenStore};

use crate::errors::Error;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://api.dingtalk.com` or a stand-in.
    pub api_base: String,
    /// `https://oapi.dingtalk.com` or a stand-in.
    pub oapi_base: String,
    /// Bound of one HTTP call.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_base: "https://api.dingtalk.com".into(),
            oapi_base: "https://oapi.dingtalk.com".into(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// An internal app's credentials — Client ID (AppKey) and Client Secret (AppSecret) — and the organisation
/// (CorpId) it runs in, for which its token is asked: DingTalk refuses the token when the app is not that
/// organisation's [DT-corptok], so every call with it answers for `corp_id` and no other.
#[derive(Clone)]
pub struct AppCredential {
    pub client_id: String,
    pub client_secret: String,
    pub corp_id: String,
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredential")
            .field("client_id", &self.client_id)
            .field("corp_id", &self.corp_id)
            .finish_non_exhaustive()
    }
}

/// Told of every call and every app token handed out (wegate's metrics). The default ignores all.
pub trait Observer: Send + Sync {
    /// One HTTP call to `api`, failed or not, and how long it took.
    fn call(&self, api: &'static str, failure: Option<&Error>, elapsed: Duration) {
        let _ = (api, failure, elapsed);
    }
    fn token(&self, source: TokenSource) {
        let _ = source;
    }
}

struct Unobserved;
impl Observer for Unobserved {}

/// The person's token from the login page's code (`userAccessToken`).
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserToken {
    pub access_token: String,
    /// The organisation the person picked on the login page (only with scope `openid corpid`) [DT-utok].
    #[serde(default)]
    pub corp_id: Option<String>,
}

impl std::fmt::Debug for UserToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserToken").field("corp_id", &self.corp_id).finish_non_exhaustive()
    }
}

/// `contact/users/me`: the DingTalk *account*, across organisations — never proof of membership, and its
/// email and mobile are the person's own, vouched for by nobody [DT-me].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub union_id: String,
    #[serde(default)]
    pub open_id: Option<String>,
    #[serde(default)]
    pub nick: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub state_code: Option<String>,
}

/// `topapi/user/getbyunionid`: the person in the calling app's organisation.
#[derive(Debug, Clone, Deserialize)]
pub struct UnionIdMember {
    pub userid: String,
    /// 0 = 企业内部员工, 1 = 企业外部联系人 (an external contact) [DT-byunion]. Required: an answer without it
    /// does not say who this is.
    pub contact_type: i64,
}

/// `topapi/v2/user/get`: a member as the organisation's directory knows them. Fields the app has no
/// permission for are absent [DT-uget].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Member {
    pub userid: String,
    #[serde(default)]
    pub unionid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub state_code: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub org_email: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub job_number: Option<String>,
    #[serde(default)]
    pub dept_id_list: Vec<i64>,
    /// Whether the member activated DingTalk; absent counts as active.
    #[serde(default)]
    pub active: Option<bool>,
}

/// `topapi/v2/user/getuserinfo`: who a 免登 code names.
#[derive(Debug, Clone, Deserialize)]
pub struct CodeUser {
    pub userid: String,
    #[serde(default)]
    pub unionid: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `oauth2/{corpId}/token`'s answer, snake_case unlike the rest of the family [DT-corptok].
#[derive(Deserialize)]
struct AppToken {
    access_token: String,
    #[serde(deserialize_with = "lifetime")]
    expires_in: i64,
}

/// The longest app-token lifetime believed (DingTalk's is 7200 s): anything longer, or none, is a garbled
/// answer (a decode error), not a token to keep for days or to overflow the cache's arithmetic.
const MAX_TOKEN_LIFETIME: i64 = 86_400;

fn lifetime<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let secs = i64::deserialize(d)?;
    if (1..=MAX_TOKEN_LIFETIME).contains(&secs) {
        Ok(secs)
    } else {
        Err(serde::de::Error::custom(format!("expires_in {secs} is not a lifetime (1..={MAX_TOKEN_LIFETIME} s)")))
    }
}

/// The metric and log name (`Error`'s `api`) of the app-token call.
pub const CORP_TOKEN_API: &str = "oauth2/{corpId}/token";

struct Inner {
    http: reqwest::Client,
    api_base: String,
    oapi_base: String,
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
        f.debug_struct("Client")
            .field("api_base", &self.inner.api_base)
            .field("oapi_base", &self.inner.oapi_base)
            .finish_non_exhaustive()
    }
}

/// Which family a call goes to, and how.
enum Call<'a> {
    /// `api.dingtalk.com`: a JSON body (DingTalk refuses anything else, [DT-err]) or none, the user token in
    /// the header.
    Api { path: &'a str, body: Option<Value>, user_token: Option<&'a str> },
    /// `oapi.dingtalk.com`: the token in the query [DT-err 40014], a form body (the documented encoding).
    Oapi { path: &'a str, token: &'a str, form: &'a [(&'a str, &'a str)] },
}

impl Client {
    pub fn new(config: ClientConfig, store: Arc<dyn TokenStore>) -> Result<Self, Error> {
        Client::observed(config, store, Arc::new(Unobserved))
    }

    /// A client that tells `observer` of every call and every token it uses.
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
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_base: config.api_base.trim_end_matches('/').to_string(),
                oapi_base: config.oapi_base.trim_end_matches('/').to_string(),
                cache,
                observer,
            }),
        })
    }

    async fn call<T: DeserializeOwned>(&self, api: &'static str, call: Call<'_>) -> Result<T, Error> {
        let started = Instant::now();
        let result = self.call_once(api, call).await;
        self.inner.observer.call(api, result.as_ref().err(), started.elapsed());
        result
    }

    async fn call_once<T: DeserializeOwned>(&self, api: &'static str, call: Call<'_>) -> Result<T, Error> {
        let oapi = matches!(call, Call::Oapi { .. });
        let request = match call {
            Call::Api { path, body, user_token } => {
                let url = format!("{}{path}", self.inner.api_base);
                let mut request = match body {
                    Some(body) => self.inner.http.post(url).json(&body),
                    None => self.inner.http.get(url),
                };
                if let Some(token) = user_token {
                    request = request.header("x-acs-dingtalk-access-token", token);
                }
                request
            }
            Call::Oapi { path, token, form } => {
                let url = format!("{}{path}", self.inner.oapi_base);
                self.inner.http.post(url).query(&[("access_token", token)]).form(form)
            }
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
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        // DingTalk's IP throttle answers in neither family's shape [DT-rate].
        let throttled = match &value {
            Some(v) => v.get("status").and_then(Value::as_i64) == Some(1111) && v.get("punish").is_some(),
            // An HTML page in place of JSON, with HTTP 200: the throttle's other answer (a proxy's error page
            // comes with its own status and is an HTTP failure).
            None => status.is_success() && bytes.trim_ascii_start().starts_with(b"<"),
        };
        if throttled {
            tracing::warn!(api, "DingTalk's IP throttle answered");
            return Err(Error::Throttled { api });
        }
        if oapi {
            if !status.is_success() {
                return Err(Error::Http { api, message: format!("HTTP {status}") });
            }
            let value = value.ok_or_else(|| Error::Decode { api, message: "not JSON".into() })?;
            let errcode = value.get("errcode").and_then(Value::as_i64).unwrap_or(-1);
            if errcode != 0 {
                let text = |v: Option<&Value>| match v {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                let errmsg = text(value.get("errmsg")).unwrap_or_default();
                let sub_code = text(value.get("sub_code"));
                tracing::warn!(api, errcode, errmsg = ?errmsg, sub_code = ?sub_code, "DingTalk answered an error");
                return Err(Error::Oapi { api, errcode, errmsg, sub_code });
            }
            // topapi wraps its data in `result` [DT-free].
            let data = value.get("result").cloned().unwrap_or(value);
            return serde_json::from_value(data).map_err(|e| Error::Decode { api, message: e.to_string() });
        }
        if !status.is_success() {
            let code = value.as_ref().and_then(|v| v.get("code")).and_then(Value::as_str).map(str::to_string);
            let Some(code) = code else {
                return Err(Error::Http { api, message: format!("HTTP {status}") });
            };
            let message =
                value.as_ref().and_then(|v| v.get("message")).and_then(Value::as_str).unwrap_or_default().to_string();
            let required_scopes = value
                .as_ref()
                .and_then(|v| v.pointer("/accessdenieddetail/requiredScopes"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            tracing::warn!(api, status = status.as_u16(), code = ?code, message = ?message, "DingTalk answered an error");
            return Err(Error::Api { api, status: status.as_u16(), code, message, required_scopes });
        }
        let value = value.ok_or_else(|| Error::Decode { api, message: "not JSON".into() })?;
        serde_json::from_value(value).map_err(|e| Error::Decode { api, message: e.to_string() })
    }

    /// The cache key: the organisation, the app and its secret's fingerprint — a token asked for one
    /// organisation is never handed out for another.
    fn app_key(app: &AppCredential) -> String {
        format!(
            "dingtalk:app:{}:{}:{}",
            app.corp_id,
            app.client_id,
            token_cache::secret_fingerprint(&app.client_secret)
        )
    }

    /// The app's access token for its organisation, uncached: `POST /v1.0/oauth2/{corpId}/token` with
    /// `{client_id, client_secret, grant_type: client_credentials}` [DT-corptok] (DingTalk's "获取应用的 Access
    /// Token", https://open.dingtalk.com/document/development/api-gettoken, updated 2026-06-08: "企业内部应用：填写
    /// 本企业 corpId"). Not `oauth2/accessToken` [DT-atok] nor `gettoken` [DT-gettoken]: neither names the
    /// organisation, so another organisation's app paired with `corp_id` would answer for its own. Here DingTalk
    /// refuses it (401 `unauthorized.client`, see [`Error::is_wrong_organisation`]; an unknown corpId was
    /// seen to answer 500 `unknownError`). Both families take the token.
    pub async fn fetch_app_token(&self, app: &AppCredential) -> Result<(String, i64), Error> {
        let path = format!("/v1.0/oauth2/{}/token", crate::url::enc(&app.corp_id));
        let body = json!({
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "client_credentials",
        });
        // `expires_in` outside 1..=86400 s fails to decode (`lifetime`).
        let token: AppToken =
            self.call(CORP_TOKEN_API, Call::Api { path: &path, body: Some(body), user_token: None }).await?;
        Ok((token.access_token, token.expires_in))
    }

    /// The app's access token from the shared cache: DingTalk answers the same token within its 7200 s and
    /// throttles frequent fetches [DT-gettoken], so a cluster fetches once per lifetime.
    pub async fn app_token(&self, app: &AppCredential) -> Result<String, Error> {
        self.inner.cache.token(&Self::app_key(app), || self.fetch_app_token(app)).await
    }

    /// When the shared cache's app token expires (Unix seconds), if one is cached; nothing is fetched.
    pub async fn cached_token_expiry(&self, app: &AppCredential) -> Option<i64> {
        self.inner.cache.expiry(&Self::app_key(app)).await
    }

    /// A `topapi` call with the app token; a token DingTalk calls invalid or expired is dropped and the call
    /// made once more with a fresh one.
    async fn topapi<T: DeserializeOwned>(
        &self,
        app: &AppCredential,
        api: &'static str,
        form: &[(&str, &str)],
    ) -> Result<T, Error> {
        let key = Self::app_key(app);
        let path = format!("/{api}");
        let mut retried = false;
        loop {
            let token = self.inner.cache.token(&key, || self.fetch_app_token(app)).await?;
            match self.call::<T>(api, Call::Oapi { path: &path, token: &token, form }).await {
                Err(e) if !retried && e.is_token_invalid() => {
                    tracing::info!(api, "DingTalk rejected the cached app token; refreshing once");
                    self.inner.cache.invalidate(&key, &token).await;
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// The login page's `authCode` → the person's token (`POST /v1.0/oauth2/userAccessToken`) [DT-utok].
    pub async fn user_access_token(&self, app: &AppCredential, code: &str) -> Result<UserToken, Error> {
        let body = json!({
            "clientId": app.client_id,
            "clientSecret": app.client_secret,
            "code": code,
            "grantType": "authorization_code",
        });
        self.call(
            "oauth2/userAccessToken",
            Call::Api { path: "/v1.0/oauth2/userAccessToken", body: Some(body), user_token: None },
        )
        .await
    }

    /// The account behind a user token (`GET /v1.0/contact/users/me`, permission `Contact.User.Read`) [DT-me].
    pub async fn me(&self, user_token: &str) -> Result<Me, Error> {
        self.call(
            "contact/users/me",
            Call::Api { path: "/v1.0/contact/users/me", body: None, user_token: Some(user_token) },
        )
        .await
    }

    /// The person of `unionid` in the app's own organisation, with the app's token (never the person's):
    /// 60121 = not an employee there [DT-byunion]. Permission `qyapi_get_member`.
    pub async fn user_by_unionid(&self, app: &AppCredential, unionid: &str) -> Result<UnionIdMember, Error> {
        self.topapi(app, "topapi/user/getbyunionid", &[("unionid", unionid)]).await
    }

    /// A member of the app's organisation as its directory has them [DT-uget]. Permission `qyapi_get_member`.
    pub async fn get_user(&self, app: &AppCredential, userid: &str) -> Result<Member, Error> {
        self.topapi(app, "topapi/v2/user/get", &[("userid", userid), ("language", "zh_CN")]).await
    }

    /// Who a 免登 code names (`dd.requestAuthCode` in an H5 micro-app, `dd.getAuthCode` in a mini program):
    /// 5 minutes, single use, of the app's organisation only (40078 otherwise) [DT-free][DT-faq].
    pub async fn user_info_by_code(&self, app: &AppCredential, code: &str) -> Result<CodeUser, Error> {
        self.topapi(app, "topapi/v2/user/getuserinfo", &[("code", code)]).await
    }
}

/// Upstream answers are small JSON documents: a larger one is refused rather than read into memory.
const MAX_ANSWER: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_token_lifetime_outside_a_day_is_a_decode_error() {
        let read = |expires_in: Value| {
            serde_json::from_value::<AppToken>(json!({"access_token": "t", "expires_in": expires_in}))
        };
        assert_eq!(read(json!(7200)).unwrap().expires_in, 7200);
        assert_eq!(read(json!(86_400)).unwrap().expires_in, 86_400);
        for bad in [
            json!(0),
            json!(-1),
            json!(86_401),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1e30),
            json!("7200"),
            Value::Null,
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
        // The family's usual camelCase is not this endpoint's answer.
        assert!(serde_json::from_value::<AppToken>(json!({"accessToken": "t", "expireIn": 7200})).is_err());
    }
}
