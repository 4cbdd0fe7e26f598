//! Starting a server + simulator, and driving them like a browser and an app would.

use std::sync::Arc;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wegate::config::Settings;
use wegate::server::Running;

pub type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

pub const ADMIN: &str = "test-admin-token-0123456789";

pub struct Sim {
    pub base: String,
    _task: tokio::task::JoinHandle<()>,
}

pub async fn simulator() -> Sim {
    simulator_with(wecom_sim::SimConfig { push_retry_delay_ms: 50, ticket_interval_secs: 0, ..Default::default() })
        .await
}

pub async fn simulator_with(config: wecom_sim::SimConfig) -> Sim {
    simulator_seeded(wecom_sim::Seed::demo(), config).await
}

pub async fn simulator_seeded(seed: wecom_sim::Seed, config: wecom_sim::SimConfig) -> Sim {
    let (addr, task) = wecom_sim::Simulator::spawn(seed, config).await.expect("simulator");
    Sim { base: format!("http://{addr}"), _task: task }
}

pub struct Env {
    pub server: Option<Running>,
    /// The server's clock: `env.clock.advance(secs)` expires codes, sessions and tokens without waiting.
    pub clock: Arc<wegate::clock::ShiftedClock>,
    pub base: String,
    pub sim: Arc<Sim>,
    pub http: reqwest::Client,
    pub _dir: Arc<tempfile::TempDir>,
}

/// Settings for a test server on `addr` against `sim`, database file in `dir`.
pub fn settings(addr: std::net::SocketAddr, sim: &Sim, database_url: String) -> Settings {
    Settings {
        listen: addr.to_string(),
        issuer: format!("http://{addr}"),
        database_url,
        admin_token: Some(ADMIN.to_string()),
        wecom_api_base: sim.base.clone(),
        wecom_login_base: sim.base.clone(),
        wecom_open_base: sim.base.clone(),
        wecom_oauth_base: sim.base.clone(),
        wecom_timeout: std::time::Duration::from_millis(1500),
        ..Settings::default()
    }
}

pub async fn start() -> Env {
    start_with(Arc::new(simulator().await), |_| {}).await
}

pub async fn start_with(sim: Arc<Sim>, tweak: impl FnOnce(&mut Settings)) -> Env {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let url = format!("sqlite://{}", dir.path().join("wegate.db").display());
    serve_on(sim, dir, url, tweak).await
}

/// A server whose SQLite file other instances (or the test itself) may open while it runs.
pub async fn start_shared() -> Env {
    start_with(Arc::new(simulator().await), share_the_file).await
}

/// SQLite locking that lets several processes and stores use one file (the default holds it exclusively).
pub fn share_the_file(settings: &mut Settings) {
    settings.sqlite_locking = wegate::store::sql::SqliteLocking::Normal;
}

/// A second instance on the database of a first one started with [`start_shared`].
pub async fn start_on_db(
    sim: Arc<Sim>,
    dir: Arc<tempfile::TempDir>,
    database_url: String,
    tweak: impl FnOnce(&mut Settings),
) -> Env {
    serve_on(sim, dir, database_url, |s| {
        share_the_file(s);
        tweak(s)
    })
    .await
}

async fn serve_on(
    sim: Arc<Sim>,
    dir: Arc<tempfile::TempDir>,
    database_url: String,
    tweak: impl FnOnce(&mut Settings),
) -> Env {
    // Server logs in test output (shown for failing tests): WEGATE_TEST_LOG=debug for more.
    let level = std::env::var("WEGATE_TEST_LOG").unwrap_or_else(|_| "error".into());
    let _ = tracing_subscriber::fmt().with_env_filter(level).with_test_writer().try_init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut settings = settings(addr, &sim, database_url);
    tweak(&mut settings);
    let clock = Arc::new(wegate::clock::ShiftedClock::new());
    set_trusted_domain(&sim, &settings.issuer).await;
    let state = wegate::server::build_with_clock(settings, clock.clone()).await.expect("server state");
    let server = wegate::server::start_on(listener, state, None).expect("serve");
    Env { server: Some(server), clock, base: format!("http://{addr}"), sim, http: reqwest::Client::new(), _dir: dir }
}

/// Points every simulated app's and suite's trusted domain at `issuer`'s host and port, as an admin does in
/// WeCom's console (WeCom admits redirects on exactly that domain, port included). Instances sharing a
/// database share one issuer, as behind a load balancer.
pub async fn set_trusted_domain(sim: &Sim, issuer: &str) {
    let url = url::Url::parse(issuer).expect("issuer URL");
    let host = url.host_str().expect("issuer host");
    let domain = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/trusted_domain", sim.base))
        .json(&json!({ "domain": domain }))
        .send()
        .await
        .expect("set trusted domain");
    assert!(response.status().is_success(), "trusted domain refused: {}", response.text().await.unwrap_or_default());
}

/// A browser: keeps cookies, does not follow redirects (tests look at each hop).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("browser")
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location in {} answer", response.status()))
        .to_string()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Env {
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin request");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.admin(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {value}");
        value
    }

    pub async fn associate(&self, client_id: &str, identifier: &str) {
        let (status, value) =
            self.admin(reqwest::Method::PUT, &format!("/apps/{client_id}/connections/{identifier}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{value}");
    }

    /// A registered app: (client_id, client_secret for web apps).
    pub async fn app(&self, kind: &str, redirect: &str) -> (String, Option<String>) {
        let created = self
            .post("/apps", json!({"name": format!("{kind} app"), "kind": kind, "redirect_uris": [redirect], "post_logout_redirect_uris": [format!("{redirect}/bye")]}))
            .await;
        (
            created["client_id"].as_str().expect("client_id").to_string(),
            created["client_secret"].as_str().map(String::from),
        )
    }

    /// A self-built-app connection of the demo corp with the given kind and extra fields.
    pub async fn corp_connection(&self, identifier: &str, kind: &str, extra: Value) -> Value {
        let seed = wecom_sim::Seed::demo();
        let corp = &seed.corps[0];
        let app = &corp.apps[0];
        let mut body = json!({
            "identifier": identifier, "display_name": format!("{kind} {identifier}"), "kind": kind,
            "corp_id": corp.corp_id, "agent_id": app.agent_id.to_string(), "secret": app.secret,
        });
        if kind == "wecom_mobile" {
            body["schema"] = json!(app.schema.clone().unwrap_or_else(|| "wwauthdemo".into()));
        }
        if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
            map.extend(extra);
        }
        self.post("/connections", body).await
    }

    pub async fn sim_stats(&self) -> Value {
        self.http
            .get(format!("{}/_sim/stats", self.sim.base))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    /// Calls to a simulator API path so far.
    pub async fn sim_calls(&self, path: &str) -> u64 {
        self.sim_stats().await["calls"][path]["total"].as_u64().unwrap_or(0)
    }

    pub async fn sim_fault(&self, fault: Value) {
        let response =
            self.http.post(format!("{}/_sim/faults", self.sim.base)).json(&fault).send().await.expect("fault");
        assert!(response.status().is_success(), "fault not accepted: {}", response.text().await.unwrap_or_default());
    }

    pub async fn user_count(&self) -> usize {
        let (_, users) = self.admin(reqwest::Method::GET, "/users?limit=500", None).await;
        users["items"].as_array().map(Vec::len).unwrap_or(0)
    }

    pub async fn oidc_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
        redirect: &str,
    ) -> (Client, reqwest::Client) {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http");
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(self.base.clone()).expect("issuer"), &http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.into()),
            secret.map(|s| ClientSecret::new(s.into())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect.into()).expect("redirect"));
        (client, http)
    }
}

/// One authorization request as an app makes it.
pub struct AuthRequest {
    pub url: String,
    pub csrf: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

pub fn auth_request(client: &Client, scopes: &[&str], extra: &[(&str, &str)]) -> AuthRequest {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for s in scopes {
        request = request.add_scope(Scope::new((*s).to_string()));
    }
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, csrf, nonce) = request.url();
    AuthRequest { url: url.to_string(), csrf, nonce, verifier }
}

/// Signs in with the password form: authorize → login page → POST → redirect with the code.
pub async fn password_login(
    browser: &reqwest::Client,
    auth_url: &str,
    login: &str,
    password: &str,
) -> reqwest::Response {
    let page = browser.get(auth_url).send().await.expect("authorize");
    assert_eq!(page.status(), StatusCode::OK, "login page expected");
    let base = {
        let u = url::Url::parse(auth_url).expect("url");
        format!("{}://{}", u.scheme(), u.authority())
    };
    let html = page.text().await.expect("html");
    let action = extract_attr(&html, "action=\"/login/").map(|rest| format!("/login/{rest}")).expect("password form");
    browser
        .post(format!("{base}{action}"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .expect("post")
}

/// The value after `prefix` up to the closing quote, HTML entities decoded (templates escape `/` too).
pub fn extract_attr(html: &str, prefix: &str) -> Option<String> {
    let html = unescape(html);
    let start = html.find(prefix)? + prefix.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// From the app's redirect (303 to redirect_uri?code&state&iss) to the code, checking state and iss.
pub fn code_from_redirect(response: &reqwest::Response, req: &AuthRequest, issuer: &str) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "expected the redirect back to the app");
    let to = location(response);
    assert_eq!(query_param(&to, "state").as_deref(), Some(req.csrf.secret().as_str()), "state echoed");
    assert_eq!(query_param(&to, "iss").as_deref(), Some(issuer), "RFC 9207 iss");
    query_param(&to, "code").unwrap_or_else(|| panic!("no code in {to}"))
}

/// The WeCom flow as a browser does it: authorize?connection= → simulator page (sim_user picks the member)
/// → our callback → the app's redirect. Returns the last response (the redirect to the app, or a page).
pub async fn wecom_login(browser: &reqwest::Client, auth_url: &str, userid: &str) -> reqwest::Response {
    let to_wecom = browser.get(auth_url).send().await.expect("authorize");
    assert_eq!(
        to_wecom.status(),
        StatusCode::SEE_OTHER,
        "authorize should send the browser to WeCom: {}",
        to_wecom.text().await.unwrap_or_default()
    );
    let wecom_url = with_sim_user(&location(&to_wecom), userid);
    let picked = browser.get(wecom_url).send().await.expect("simulator page");
    assert!(
        picked.status().is_redirection(),
        "simulator should redirect back: {}",
        picked.text().await.unwrap_or_default()
    );
    let callback = location(&picked);
    browser.get(callback).send().await.expect("callback")
}

pub async fn exchange(
    client: &Client,
    http: &reqwest::Client,
    code: String,
    verifier: PkceCodeVerifier,
) -> openidconnect::core::CoreTokenResponse {
    client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .expect("token exchange")
}

/// Raw token endpoint call with form fields; returns (status, JSON).
pub async fn token_call(base: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (StatusCode, Value) {
    let http = reqwest::Client::new();
    let mut request = http.post(format!("{base}/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token call");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn form_call(
    base: &str,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let http = reqwest::Client::new();
    let mut request = http.post(format!("{base}{path}")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("call");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Adds `sim_user=<userid>` to a WeCom page URL (before any `#wechat_redirect` fragment, which browsers
/// never send).
pub fn with_sim_user(url: &str, userid: &str) -> String {
    let (base, _fragment) = url.split_once('#').unwrap_or((url, ""));
    format!("{base}&sim_user={userid}")
}

impl Env {
    /// An `Env` for a server running in another process.
    pub fn remote(base: &str, sim: Arc<Sim>) -> Env {
        Env {
            server: None,
            // Another process keeps its own clock: advancing this one changes nothing there.
            clock: Arc::new(wegate::clock::ShiftedClock::new()),
            base: base.to_string(),
            sim,
            http: reqwest::Client::new(),
            _dir: Arc::new(tempfile::tempdir().expect("tempdir")),
        }
    }
}

/// Like [`wecom_login`], but a transport failure (a killed instance) is `None` instead of a panic.
pub async fn try_wecom_login(browser: &reqwest::Client, auth_url: &str, userid: &str) -> Option<reqwest::Response> {
    let to_wecom = browser.get(auth_url).send().await.ok()?;
    if to_wecom.status() != StatusCode::SEE_OTHER {
        return Some(to_wecom);
    }
    let wecom_url = with_sim_user(to_wecom.headers().get("location")?.to_str().ok()?, userid);
    let picked = browser.get(wecom_url).send().await.ok()?;
    let callback = picked.headers().get("location")?.to_str().ok()?.to_string();
    browser.get(callback).send().await.ok()
}

/// A `wegate serve` process of its own (its memory and its failures are its own).
pub struct Process {
    pub base: String,
    pub child: tokio::process::Child,
}

pub async fn spawn_process(sim: &Sim, db_url: &str) -> Process {
    spawn_process_with(sim, db_url, &[]).await
}

pub async fn spawn_process_with(sim: &Sim, db_url: &str, extra_env: &[(&str, &str)]) -> Process {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let issuer = extra_env.iter().find(|(k, _)| *k == "WEGATE_ISSUER").map_or(base.clone(), |(_, v)| v.to_string());
    set_trusted_domain(sim, &issuer).await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wegate"))
        .arg("serve")
        .env("WEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("WEGATE_DATABASE_URL", db_url)
        .env("WEGATE_ADMIN_TOKEN", ADMIN)
        .env("WEGATE_WECOM_API_BASE", &sim.base)
        .env("WEGATE_WECOM_LOGIN_BASE", &sim.base)
        .env("WEGATE_WECOM_OPEN_BASE", &sim.base)
        .env("WEGATE_WECOM_OAUTH_BASE", &sim.base)
        .env("WEGATE_LOG_LEVEL", "warn")
        .envs(extra_env.iter().copied())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn wegate");
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status().is_success()
        {
            return Process { base, child };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("wegate did not become ready on {base}");
}
