//! `wegate demo`: one process, no set-up. Starts the WeCom simulator (with DingTalk's and Feishu's beside it)
//! and the server (on a fresh SQLite
//! file), configures through the real admin API a demo app and one connection of each kind with the
//! simulator's demo credentials, lets the simulator verify the event URLs, push suite tickets and
//! authorize the delegated template, and serves a tiny relying party at `/demo` that shows the claims of
//! whoever signs in — and takes OIDC Back-Channel Logout tokens, so deleting a member in the simulator's
//! console signs them out of the demo app within seconds.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::config::Settings;

/// What the demo relying party needs.
struct DemoRp {
    app: AppState,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    /// The simulator's base URL (its console is linked from the demo app).
    sim: String,
    /// The relying party's own sessions, by its cookie: what a real app keeps.
    sessions: std::sync::Mutex<std::collections::HashMap<String, RpSession>>,
}

/// A session of the demo app: the ID token's claims, and whether wegate ended it (back-channel logout).
struct RpSession {
    claims: Value,
    ended: Option<String>,
}

impl DemoRp {
    fn sessions(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, RpSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything a started demo is made of (tests drive it over HTTP).
pub struct Demo {
    pub server: crate::server::Running,
    pub simulator_addr: std::net::SocketAddr,
    pub admin_token: String,
    pub client_id: String,
}

pub async fn run(database: PathBuf) -> Result<(), String> {
    crate::cli::init_logging(crate::config::LogFormat::Human, "info,wecom_sim=warn");
    let listen = std::env::var("WEGATE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let demo = start(database, &listen).await?;
    let issuer = demo.server.state.settings.issuer.clone();
    println!();
    println!("  wegate demo is running.");
    println!();
    println!("  Open          {issuer}/demo");
    println!("  Click         \"Sign in with wegate\", then \"WeCom QR code\", then pick a member (e.g. 张三).");
    println!("                You come back to the demo app, which shows the ID token's claims.");
    println!(
        "  Also try      赵六 (outside the app's visible scope: refused), the password form (demo / demo-password),"
    );
    println!("                and the other buttons (in-WeCom OAuth, delegated development, service provider).");
    println!(
        "  DingTalk      \"DingTalk 钉钉\" → 张三 or 李四 get in; 王五 (an external contact), 赵六 (another organisation) and"
    );
    println!("                独行侠 (no organisation) can scan but are refused.");
    println!(
        "  Feishu        \"Feishu 飞书\" → 张三 gets in; 王五 is outside the app's availability, 赵六 resigned: refused."
    );
    println!("  Then          delete or disable 张三 in the simulator's console (link below) and reload the demo app:");
    println!("                wegate signs them out of it at once (address-book event → back-channel logout).");
    println!();
    println!("  WeCom simulator  http://{}/_sim/", demo.simulator_addr);
    println!("  DingTalk sim.    http://{}/dingtalk/_sim/", demo.simulator_addr);
    println!("  Feishu sim.      http://{}/feishu/_sim/", demo.simulator_addr);
    println!("  Admin console    {issuer}/console  (choose \"Admin token\" and paste: {})", demo.admin_token);
    println!("  Admin API        {issuer}/api/v1  (Authorization: Bearer {})", demo.admin_token);
    println!("  Discovery        {issuer}/.well-known/openid-configuration");
    println!();
    println!("  Ctrl-C stops it.");
    let stopper = demo.server.stopper();
    tokio::spawn(async move {
        crate::server::shutdown_signal().await;
        let _ = stopper.send(true);
    });
    demo.server.wait().await.map_err(|e| e.to_string())
}

/// Starts the simulator and the server and configures the demo. `listen` may be `127.0.0.1:0`.
pub async fn start(database: PathBuf, listen: &str) -> Result<Demo, String> {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(path));
    }
    let seed = wecom_sim::Seed::demo();
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // WeCom admits redirects only on the app's trusted domain, port included: the demo's is where it listens.
    let sim_config = wecom_sim::SimConfig { push_retry_delay_ms: 200, ..wecom_sim::SimConfig::default() };
    let simulator = wecom_sim::Simulator::new(seed.clone(), sim_config);
    simulator.set_trusted_domain(&addr.to_string());
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot start the WeCom simulator: {e}"))?;
    let sim_addr = sim_listener.local_addr().map_err(|e| e.to_string())?;
    // DingTalk's stand-in on the same port, under /dingtalk.
    let dingtalk = dingtalk_sim::Simulator::new(dingtalk_sim::Seed::demo());
    let feishu = feishu_sim::Simulator::new(feishu_sim::Seed::demo(), feishu_sim::SimConfig::default());
    let beside = Router::new().nest("/dingtalk", dingtalk.router()).nest("/feishu", feishu.router());
    tokio::spawn(async move {
        if let Err(e) = simulator.serve_with(sim_listener, beside).await {
            tracing::error!(error = %e, "the demo's WeCom simulator stopped");
        }
    });
    let sim = format!("http://{sim_addr}");

    let admin_token = crate::util::random_token();
    let settings = Settings {
        listen: addr.to_string(),
        issuer: format!("http://{addr}"),
        database_url: format!("sqlite://{}", database.display()),
        admin_token: Some(admin_token.clone()),
        wecom_api_base: sim.clone(),
        wecom_login_base: sim.clone(),
        wecom_open_base: sim.clone(),
        wecom_oauth_base: sim.clone(),
        dingtalk_api_base: format!("{sim}/dingtalk/api"),
        dingtalk_oapi_base: format!("{sim}/dingtalk/oapi"),
        dingtalk_login_base: format!("{sim}/dingtalk/login"),
        dingtalk_jsapi_url: format!("{sim}/dingtalk/jsapi/dingtalk.open.js"),
        feishu_api_base: format!("{sim}/feishu/open"),
        feishu_accounts_base: format!("{sim}/feishu/accounts"),
        ..Settings::default()
    };
    let state = crate::server::build(settings).await.map_err(|e| e.to_string())?;
    let issuer = state.settings.issuer.clone();
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().map_err(|e| e.to_string())?;

    // The relying party's routes need its client credentials, which the admin API gives once the server
    // runs; they are filled in through this cell.
    let rp_cell: Arc<tokio::sync::OnceCell<Arc<DemoRp>>> = Arc::new(tokio::sync::OnceCell::new());
    let rp_router = Router::new()
        .route("/demo", get(rp_home))
        .route("/demo/callback", get(rp_callback))
        .route("/demo/backchannel", axum::routing::post(rp_backchannel))
        .route("/demo/simulator", get(rp_simulator))
        .with_state(rp_cell.clone());
    let server = crate::server::start_on(listener, state.clone(), Some(rp_router)).map_err(|e| e.to_string())?;

    let api = Api { http: http.clone(), base: format!("{issuer}/api/v1"), token: admin_token.clone() };
    let corp = seed.corps.first().ok_or("demo seed has no corp")?;
    let corp_app = corp.apps.first().ok_or("demo seed has no app")?;
    let customer = seed.corps.get(1).ok_or("demo seed has no customer corp")?;
    let template = seed.templates.first().ok_or("demo seed has no template")?;
    let provider = seed.providers.first().ok_or("demo seed has no provider")?;
    let suite = provider.suites.first().ok_or("demo seed has no suite")?;

    let connections = [
        json!({"identifier": "wecom-qr", "display_name": "WeCom QR code 企业微信扫码", "kind": "wecom_qrcode",
               "corp_id": corp.corp_id, "agent_id": corp_app.agent_id.to_string(), "secret": corp_app.secret,
               "token": DEMO_CALLBACK_TOKEN, "encoding_aes_key": DEMO_CALLBACK_KEY,
               "association": {"mode": "match", "fields": ["email", "phone", "username"]}}),
        json!({"identifier": "wecom-web", "display_name": "Inside WeCom 企业微信内打开", "kind": "wecom_web",
               "corp_id": corp.corp_id, "agent_id": corp_app.agent_id.to_string(), "secret": corp_app.secret,
               "scope": "snsapi_privateinfo"}),
        json!({"identifier": "wecom-mobile", "display_name": "WeCom mobile app", "kind": "wecom_mobile",
               "corp_id": corp.corp_id, "agent_id": corp_app.agent_id.to_string(), "secret": corp_app.secret,
               "schema": corp_app.schema.clone().unwrap_or_else(|| "wwauthdemo".into())}),
        json!({"identifier": "wecom-delegated", "display_name": "Delegated app 代开发应用扫码", "kind": "wecom_delegated",
               "token": template.token, "encoding_aes_key": template.encoding_aes_key,
               "template_id": template.template_id, "template_secret": template.template_secret,
               "provider_corp_id": template.provider_corp_id,
               "domain_verification": {"filename": "WW_verify_wegateDemo0001.txt", "content": "wegateDemo0001"}}),
        json!({"identifier": "wecom-provider", "display_name": "Service provider app 服务商应用扫码", "kind": "wecom_provider",
               "corp_id": provider.corp_id, "suite_id": suite.suite_id, "suite_secret": suite.suite_secret,
               "token": suite.token, "encoding_aes_key": suite.encoding_aes_key, "provider_secret": provider.provider_secret}),
        json!({"identifier": "dingtalk", "display_name": "DingTalk 钉钉", "kind": "dingtalk_qrcode",
               "client_id": dingtalk_sim::DEMO_CLIENT_ID, "client_secret": dingtalk_sim::DEMO_CLIENT_SECRET,
               "corp_id": dingtalk_sim::DEMO_CORP_ID}),
        json!({"identifier": "dingtalk-web", "display_name": "Inside DingTalk 钉钉内打开", "kind": "dingtalk_web",
               "client_id": dingtalk_sim::DEMO_CLIENT_ID, "client_secret": dingtalk_sim::DEMO_CLIENT_SECRET,
               "corp_id": dingtalk_sim::DEMO_CORP_ID}),
        json!({"identifier": "feishu", "display_name": "Feishu 飞书", "kind": "feishu",
               "app_id": feishu_sim::CUSTOM_APP_ID, "app_secret": feishu_sim::CUSTOM_APP_SECRET,
               "scopes": ["contact:user.email:readonly", "contact:user.employee_id:readonly"]}),
        json!({"identifier": "feishu-store", "display_name": "Feishu marketplace app 飞书应用商店应用",
               "kind": "feishu_marketplace", "app_id": feishu_sim::STORE_APP_ID,
               "app_secret": feishu_sim::STORE_APP_SECRET, "encrypt_key": feishu_sim::STORE_ENCRYPT_KEY,
               "verification_token": feishu_sim::STORE_VERIFICATION_TOKEN, "allowed_tenants": [feishu_sim::DEMO_TENANT]}),
    ];
    // What the Feishu admin registers in 安全设置 → 重定向 URL.
    for (app_id, identifier) in [(feishu_sim::CUSTOM_APP_ID, "feishu"), (feishu_sim::STORE_APP_ID, "feishu-store")] {
        feishu.set_redirect_uris(app_id, vec![format!("{issuer}/connections/{identifier}/callback")]);
    }
    // What the DingTalk admin registers in 登录与分享: the connection's callback URL.
    dingtalk.set_redirect_uris(dingtalk_sim::DEMO_CLIENT_ID, vec![format!("{issuer}/connections/dingtalk/callback")]);
    for connection in &connections {
        api.post("/connections", connection).await?;
    }
    let created = api
        .post(
            "/apps",
            &json!({"name": "wegate demo app", "kind": "web",
                    "redirect_uris": [format!("{issuer}/demo/callback")],
                    "post_logout_redirect_uris": [format!("{issuer}/demo")],
                    "backchannel_logout_uri": format!("{issuer}/demo/backchannel")}),
        )
        .await?;
    let client_id = created["client_id"].as_str().ok_or("no client_id")?.to_string();
    let client_secret = created["client_secret"].as_str().ok_or("no client_secret")?.to_string();
    for connection in &connections {
        let identifier = connection["identifier"].as_str().unwrap_or_default();
        api.put(&format!("/apps/{client_id}/connections/{identifier}")).await?;
    }
    api.post("/users", &json!({"username": "demo", "name": "Demo Local User", "password": "demo-password"})).await?;

    // What the WeCom admin would do in the consoles: save the event URLs (WeCom verifies them and starts
    // pushing tickets) and authorize the delegated template in the customer corp.
    let simulate = |path: String, body: Value| {
        let http = http.clone();
        let sim = sim.clone();
        async move {
            let response = http.post(format!("{sim}{path}")).json(&body).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                return Err(format!("simulator {path}: {status} {answer}"));
            }
            Ok::<Value, String>(answer)
        }
    };
    for (suite_id, identifier) in [(&template.template_id, "wecom-delegated"), (&suite.suite_id, "wecom-provider")] {
        let url = format!("{issuer}/connections/{identifier}/events");
        let verified = simulate(format!("/_sim/suites/{suite_id}/callback_url"), json!({"url": url})).await?;
        if verified["verified"] != json!(true) {
            return Err(format!("the simulator could not verify {url}: {verified}"));
        }
        simulate(format!("/_sim/suites/{suite_id}/push_ticket"), json!({})).await?;
    }
    simulate(format!("/_sim/suites/{}/authorize", template.template_id), json!({"corp_id": customer.corp_id})).await?;
    // The demo app's 接收消息 API settings point at the QR connection: address-book changes reach wegate.
    let url = format!("{issuer}/connections/wecom-qr/events");
    let verified = simulate(
        format!("/_sim/apps/{}/{}/callback", corp.corp_id, corp_app.agent_id),
        json!({"url": url, "token": DEMO_CALLBACK_TOKEN, "encoding_aes_key": DEMO_CALLBACK_KEY}),
    )
    .await?;
    if verified["verified"] != json!(true) {
        return Err(format!("the simulator could not verify {url}: {verified}"));
    }
    // The marketplace app's event URL saved in Feishu's console (verified at once), and its first app_ticket.
    let url = format!("{issuer}/connections/feishu-store/events");
    feishu.set_event_url(feishu_sim::STORE_APP_ID, &url).await.map_err(|e| format!("Feishu event URL {url}: {e}"))?;
    feishu.push_app_ticket(feishu_sim::STORE_APP_ID).await.map_err(|e| format!("Feishu app_ticket: {e}"))?;

    let rp = Arc::new(DemoRp {
        app: state,
        client_id: client_id.clone(),
        client_secret,
        http,
        sim: sim.clone(),
        sessions: std::sync::Mutex::default(),
    });
    let _ = rp_cell.set(rp);
    Ok(Demo { server, simulator_addr: sim_addr, admin_token, client_id })
}

/// The demo app's callback Token and EncodingAESKey (as WeCom's console would generate them).
const DEMO_CALLBACK_TOKEN: &str = "wegateDemoCallback";
const DEMO_CALLBACK_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let response = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().await;
        Self::answer(path, response).await
    }
    async fn put(&self, path: &str) -> Result<Value, String> {
        let response = self.http.put(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await;
        Self::answer(path, response).await
    }
    async fn answer(path: &str, response: reqwest::Result<reqwest::Response>) -> Result<Value, String> {
        let response = response.map_err(|e| format!("admin API {path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("admin API {path}: {status} {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

type RpState = Arc<tokio::sync::OnceCell<Arc<DemoRp>>>;

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/static/wegate.css\"></head><body><main class=\"card\">{body}</main>\
         <footer>wegate demo relying party</footer></body></html>"
    ))
    .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn rp_home(State(cell): State<RpState>, headers: HeaderMap) -> Response {
    let Some(rp) = cell.get() else {
        return page("Starting", "<p>The demo is still starting; reload in a second.</p>");
    };
    if let Some(id) = crate::web::cookies::get(&headers, "demo_session") {
        let shown = rp.sessions().get(id).map(|s| (s.claims.clone(), s.ended.clone()));
        match shown {
            Some((claims, None)) => return signed_in_page(rp, &claims),
            Some((claims, Some(why))) => {
                return page(
                    "Signed out",
                    &format!(
                        "<h1 id=\"signed-out\">Signed out by wegate</h1><p>{} was signed out of this app: wegate sent a \
                         back-channel logout token ({}).</p><p><a href=\"/demo\">Start again</a></p>",
                        escape(claims["name"].as_str().unwrap_or("The member")),
                        escape(&why)
                    ),
                );
            }
            None => {}
        }
    }
    let state = crate::util::random_alnum(24);
    let issuer = &rp.app.settings.issuer;
    let authorize = crate::oidc::redirect::with_params(
        &format!("{issuer}/authorize"),
        &[
            ("client_id", rp.client_id.as_str()),
            ("redirect_uri", &format!("{issuer}/demo/callback")),
            ("response_type", "code"),
            ("scope", "openid profile email phone"),
            ("state", &state),
            ("nonce", &crate::util::random_alnum(16)),
        ],
    );
    let mut response = page(
        "wegate demo app",
        &format!(
            "<h1>wegate demo app</h1><p>A relying party like any of yours: it sends you to wegate with plain OpenID Connect \
             and shows what comes back.</p><p><a class=\"button\" href=\"{}\">Sign in with wegate</a></p>",
            escape(&authorize)
        ),
    );
    if let Ok(cookie) =
        header::HeaderValue::from_str(&format!("demo_state={state}; Path=/demo; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The simulator's console is on another port; this link finds it.
async fn rp_simulator(State(cell): State<RpState>) -> Response {
    match cell.get() {
        Some(rp) => axum::response::Redirect::to(&format!("{}/_sim/", rp.sim)).into_response(),
        None => page("Starting", "<p>The demo is still starting.</p>"),
    }
}

#[derive(Deserialize)]
struct RpCallback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn rp_callback(State(cell): State<RpState>, headers: HeaderMap, Query(q): Query<RpCallback>) -> Response {
    let Some(rp) = cell.get() else {
        return page("Starting", "<p>The demo is still starting.</p>");
    };
    if let Some(error) = q.error {
        return page(
            "Not signed in",
            &format!(
                "<h1>Not signed in</h1><p>wegate answered <code>{}</code>: {}</p><p><a href=\"/demo\">Try again</a></p>",
                escape(&error),
                escape(q.error_description.as_deref().unwrap_or(""))
            ),
        );
    }
    let expected = crate::web::cookies::get(&headers, "demo_state");
    if q.state.is_none() || q.state.as_deref() != expected {
        return page(
            "State mismatch",
            "<h1>State mismatch</h1><p>Start again from <a href=\"/demo\">the demo</a>.</p>",
        );
    }
    let issuer = &rp.app.settings.issuer;
    let response = rp
        .http
        .post(format!("{issuer}/token"))
        .basic_auth(&rp.client_id, Some(&rp.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q.code.as_deref().unwrap_or("")),
            ("redirect_uri", &format!("{issuer}/demo/callback")),
        ])
        .send()
        .await;
    let tokens: Value = match response {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => return page("Token error", &format!("<p>{}</p>", escape(&e.to_string()))),
    };
    let Some(id_token) = tokens["id_token"].as_str() else {
        return page("Token error", &format!("<h1>Token error</h1><pre>{}</pre>", escape(&tokens.to_string())));
    };
    let mut claims: Value = rp.app.keys.verify(id_token, issuer, None, Some(rp.app.now())).unwrap_or(Value::Null);
    if let Some(map) = claims.as_object_mut() {
        map.insert("_id_token".into(), json!(id_token));
    }
    let session = crate::util::random_alnum(24);
    rp.sessions().insert(session.clone(), RpSession { claims: claims.clone(), ended: None });
    let mut response = signed_in_page(rp, &claims);
    if let Ok(cookie) =
        header::HeaderValue::from_str(&format!("demo_session={session}; Path=/demo; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn signed_in_page(rp: &DemoRp, claims: &Value) -> Response {
    let issuer = &rp.app.settings.issuer;
    let mut shown = claims.clone();
    let id_token = shown.as_object_mut().and_then(|m| m.remove("_id_token")).unwrap_or_default();
    let pretty = serde_json::to_string_pretty(&shown).unwrap_or_default();
    let logout = crate::oidc::redirect::with_params(
        &format!("{issuer}/logout"),
        &[
            ("id_token_hint", id_token.as_str().unwrap_or_default()),
            ("post_logout_redirect_uri", &format!("{issuer}/demo")),
        ],
    );
    page(
        "Signed in",
        &format!(
            "<h1>Signed in as {}</h1><p>The ID token's claims, verified against wegate's JWKS:</p><pre id=\"claims\">{}</pre>\
             <p><a class=\"button\" href=\"{}\">Sign out</a></p><p>Delete or disable this member in the \
             <a href=\"/demo/simulator\">WeCom simulator's console</a> and reload this page: wegate signs them out of \
             this app at once (OIDC Back-Channel Logout).</p>",
            escape(shown["name"].as_str().or(shown["preferred_username"].as_str()).unwrap_or("someone")),
            escape(&pretty),
            escape(&logout)
        ),
    )
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// The demo app's back-channel logout endpoint (OIDC Back-Channel Logout 1.0 §2.6): verifies the logout
/// token — wegate's signature, `typ`, issuer, audience, the event, no nonce — and ends the app's sessions
/// of that `sid` (or, without one, of that `sub`).
async fn rp_backchannel(State(cell): State<RpState>, axum::Form(form): axum::Form<LogoutForm>) -> Response {
    let Some(rp) = cell.get() else {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "starting").into_response();
    };
    let issuer = &rp.app.settings.issuer;
    let Some(claims) = rp.app.keys.verify::<Value>(&form.logout_token, issuer, Some("logout+jwt"), Some(rp.app.now()))
    else {
        return (axum::http::StatusCode::BAD_REQUEST, "invalid logout token").into_response();
    };
    let valid = claims["aud"] == json!(rp.client_id)
        && claims["events"].get("http://schemas.openid.net/event/backchannel-logout").is_some()
        && claims.get("nonce").is_none();
    if !valid {
        return (axum::http::StatusCode::BAD_REQUEST, "not a logout token for this app").into_response();
    }
    let (sid, sub) = (claims["sid"].as_str(), claims["sub"].as_str());
    let mut ended = 0;
    for session in rp.sessions().values_mut() {
        let same = match sid {
            Some(sid) => session.claims["sid"].as_str() == Some(sid),
            None => session.claims["sub"].as_str() == sub,
        };
        if same && session.ended.is_none() {
            session.ended = Some(format!("at {}", rp.app.now()));
            ended += 1;
        }
    }
    tracing::info!(ended, "demo app: back-channel logout");
    axum::http::StatusCode::OK.into_response()
}
