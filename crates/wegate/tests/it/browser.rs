//! The demo clicked through in a real headless Chromium, driven over the W3C WebDriver protocol by
//! chromedriver (Debian's `chromium` and `chromium-driver`, installed by `.ci/run`). Saves a screenshot of
//! the claims page to `ci-artifacts/demo-signed-in.png`. Skipped (with a line saying so) when chromedriver
//! is not installed.

use std::time::Duration;

use serde_json::{Value, json};

struct WebDriver {
    http: reqwest::Client,
    session: String,
    base: String,
}

impl WebDriver {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("webdriver").json().await.expect("webdriver json");
        answer["value"].clone()
    }
    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }
    async fn click(&self, css: &str) {
        let mut element = Value::Null;
        for _ in 0..50 {
            element = self
                .call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
                .await;
            if element.get("error").is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let id = element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {element}"));
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await;
    }
    async fn wait_for_url(&self, part: &str) -> String {
        for _ in 0..100 {
            let url = self.call(reqwest::Method::GET, "/url", None).await;
            if url.as_str().is_some_and(|u| u.contains(part)) {
                return url.as_str().unwrap_or_default().to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never reached a URL containing {part}");
    }
    /// The page's source once it contains `needle` (a form's answer may still be loading).
    async fn wait_for_source(&self, needle: &str) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.source().await;
            if page.contains(needle) {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {needle:?}: {page}");
    }
    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_string()
    }
    async fn element(&self, css: &str) -> String {
        let mut element = Value::Null;
        for _ in 0..50 {
            element = self
                .call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
                .await;
            if element.get("error").is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_string()
    }
    async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }
    async fn script(&self, js: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": js, "args": []}))).await
    }
    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).expect("png")
    }
}

/// A headless Chromium under chromedriver, with `user_agent` when given; None (and a line saying so) when
/// they are not installed.
async fn chromium(dir: &std::path::Path, user_agent: Option<&str>) -> Option<(WebDriver, tokio::process::Child)> {
    let driver = std::env::var("WEGATE_TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("WEGATE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&driver).exists() || !std::path::Path::new(&chromium).exists() {
        eprintln!(
            "browser test skipped: install chromium and chromium-driver (or set WEGATE_TEST_CHROMEDRIVER / WEGATE_TEST_CHROMIUM)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let chromedriver = tokio::process::Command::new(&driver)
        .arg(format!("--port={port}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver");
    let http = reqwest::Client::new();
    let driver_base = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1000,900".into(),
        format!("--user-data-dir={}", dir.join("chrome").display()),
    ];
    if let Some(ua) = user_agent {
        args.push(format!("--user-agent={ua}"));
    }
    let mut session = Value::Null;
    for _ in 0..100 {
        if let Ok(r) = http
            .post(format!("{driver_base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium, "args": args
            }}}}))
            .send()
            .await
        {
            session = r.json().await.unwrap_or(Value::Null);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session_id =
        session["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {session}")).to_string();
    Some((WebDriver { http, session: session_id, base: driver_base }, chromedriver))
}

#[tokio::test]
async fn demo_click_through_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let Some((wd, mut chromedriver)) = chromium(dir.path(), None).await else { return };
    let demo = wegate::demo::start(dir.path().join("demo.db"), "127.0.0.1:0").await.expect("demo");
    let base = demo.server.state.settings.issuer.clone();

    wd.go(&format!("{base}/demo")).await;
    wd.click("a.button").await; // Sign in with wegate
    wd.wait_for_url("/authorize").await;
    wd.click("a.button.wecom").await; // the first connection: WeCom QR code
    wd.wait_for_url("/wwlogin/sso/login").await;
    wd.click("a.member[data-userid=\"ZhangSan\"]").await; // 张三 "scans"
    wd.wait_for_url("/demo/callback").await;
    let page = wd.source().await;
    assert!(page.contains("Signed in as 张三"), "{page}");
    assert!(page.contains("wecom_userid"));

    let png = wd.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("demo-signed-in.png"), png).unwrap();

    wd.call(reqwest::Method::DELETE, "", None).await;
    let _ = chromedriver.kill().await;
    demo.server.shutdown().await.unwrap();
}

/// The login page as the contract says (CONTRACT.md, "Login page and set-up aids"), in a real browser: an
/// ordinary browser sees the buttons in the app's order, with their icons loaded under the strict CSP, and no
/// in-WeCom button; WeCom's in-app browser (User-Agent `wxwork`) goes straight to the app's first in-WeCom
/// connection without a page.
#[tokio::test]
async fn the_login_page_in_an_ordinary_browser_and_inside_wecom_in_headless_chromium() {
    use crate::harness::*;
    const ICON: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let dir = tempfile::tempdir().unwrap();
    let Some((wd, mut chromedriver)) = chromium(dir.path(), None).await else { return };
    let env = start().await;
    env.corp_connection("qr-first", "wecom_qrcode", json!({"display_name": "Second by order"})).await;
    env.corp_connection("qr-second", "wecom_qrcode", json!({"display_name": "First by order", "icon_url": ICON})).await;
    env.corp_connection("inside", "wecom_web", json!({"display_name": "Inside WeCom"})).await;
    let (client_id, secret) = env.app("web", "https://app.example.com/cb").await;
    for (identifier, order) in [("qr-first", 2), ("qr-second", 1), ("inside", 3)] {
        let path = format!("/apps/{client_id}/connections/{identifier}");
        let (status, body) = env.admin(reqwest::Method::PUT, &path, Some(json!({"order": order}))).await;
        assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "{body}");
    }
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), "https://app.example.com/cb").await;

    let req = auth_request(&client, &["profile"], &[]);
    wd.go(&req.url).await;
    wd.wait_for_url("/authorize").await;
    let names =
        wd.script("return [...document.querySelectorAll('a.button.wecom')].map(a => a.textContent.trim())").await;
    assert_eq!(names, json!(["First by order", "Second by order"]), "the app's order, no in-WeCom button");
    let loaded = wd
        .script("const i = document.querySelector('a.button img.icon'); return i && i.complete && i.naturalWidth > 0")
        .await;
    assert_eq!(loaded, json!(true), "the icon is shown (the CSP allows data: images)");
    wd.call(reqwest::Method::DELETE, "", None).await;
    let _ = chromedriver.kill().await;

    let inside_dir = tempfile::tempdir().unwrap();
    let ua = "Mozilla/5.0 (Linux; Android 14; Pixel) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Mobile Safari/537.36 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh";
    let Some((wd, mut chromedriver)) = chromium(inside_dir.path(), Some(ua)).await else { return };
    let req = auth_request(&client, &["profile"], &[]);
    wd.go(&req.url).await;
    let at = wd.wait_for_url("/connect/oauth2/authorize").await;
    assert!(at.contains("connections%2Finside%2Fcallback"), "the in-WeCom connection, silently: {at}");
    wd.call(reqwest::Method::DELETE, "", None).await;
    let _ = chromedriver.kill().await;
}

/// The console in a real browser (CONTRACT.md, "Console"; issue 16): sign in through wegate's login page,
/// create an app and a connection of each kind, enable one, find and disable a user, read the audit log,
/// switch language, sign out — with screenshots in ci-artifacts and no CSP violation or script error on any
/// page.
#[tokio::test]
async fn the_console_click_through_in_headless_chromium() {
    use crate::harness::*;
    let dir = tempfile::tempdir().unwrap();
    let Some((wd, mut chromedriver)) = chromium(dir.path(), None).await else { return };
    let env = start().await;
    env.post("/users", json!({"username": "root", "name": "Root Admin", "password": "root-password", "admin": true}))
        .await;
    env.post("/users", json!({"username": "zoe", "email": "zoe@example.com", "password": "zoe-password"})).await;
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ci-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let clean = |page: &'static str| {
        let wd = &wd;
        async move {
            let violations = wd.script("return document.documentElement.dataset.violations").await;
            assert_eq!(violations, json!("0"), "CSP violations or script errors on {page}");
        }
    };

    wd.go(&format!("{}/console", env.base)).await;
    wd.wait_for_url("/console/login").await;
    wd.click("#console-sign-in").await;
    wd.wait_for_url("/authorize").await;
    wd.fill("input[name=login]", "root").await;
    wd.fill("input[name=password]", "root-password").await;
    wd.click("form.stack button[type=submit]").await;
    let mut overview = String::new();
    for _ in 0..100 {
        overview = wd.source().await;
        if overview.contains("class=\"counts\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(overview.contains("class=\"counts\""), "the console's overview after signing in: {overview}");
    clean("the overview").await;
    std::fs::write(artifacts.join("console-overview.png"), wd.screenshot().await).unwrap();

    wd.go(&format!("{}/console/apps", env.base)).await;
    wd.fill("#app-name", "Intranet").await;
    wd.fill("#app-redirects", "https://intranet.example.com/cb").await;
    wd.click("#create-app button[type=submit]").await;
    let page = wd.wait_for_source("id=\"client-secret\"").await;
    let client_id = page.split("<code id=\"client-id\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    clean("the new app").await;
    std::fs::write(artifacts.join("console-app.png"), wd.screenshot().await).unwrap();

    let seed = wecom_sim::Seed::demo();
    let (corp, app) = (&seed.corps[0], &seed.corps[0].apps[0]);
    let (t, p) = (&seed.templates[0], &seed.providers[0]);
    let agent = app.agent_id.to_string();
    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let kinds: Vec<(&str, &str, Fields)> = vec![
        ("wecom_qrcode", "qr", vec![("corp_id", &corp.corp_id), ("agent_id", &agent), ("secret", &app.secret)]),
        (
            "wecom_web",
            "web",
            vec![("corp_id", &corp.corp_id), ("agent_id", &agent), ("secret", &app.secret), ("scope", "snsapi_base")],
        ),
        (
            "wecom_mobile",
            "mobile",
            vec![("corp_id", &corp.corp_id), ("agent_id", &agent), ("secret", &app.secret), ("schema", "wwauthdemo")],
        ),
        ("wecom_delegated", "delegated", vec![("token", &t.token), ("encoding_aes_key", &t.encoding_aes_key)]),
        ("wecom_provider", "provider", vec![("corp_id", &p.corp_id), ("provider_secret", &p.provider_secret)]),
    ];
    for (kind, identifier, fields) in &kinds {
        wd.go(&format!("{}/console/connections?kind={kind}", env.base)).await;
        wd.fill("#identifier", identifier).await;
        wd.fill("#display_name", &format!("{kind} button")).await;
        for (name, value) in fields {
            wd.fill(&format!("#f-{name}"), value).await;
        }
        wd.click("#create-connection button[type=submit]").await;
        let at = wd.wait_for_url(&format!("/console/connections/{identifier}")).await;
        assert!(at.contains("ok=created"), "{kind}: {at}");
        clean("a connection").await;
    }
    std::fs::write(artifacts.join("console-connection.png"), wd.screenshot().await).unwrap();
    let (_, listed) = env.admin(reqwest::Method::GET, "/connections", None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(5), "every kind created: {listed}");

    wd.go(&format!("{}/console/apps/{client_id}", env.base)).await;
    wd.click("button[data-connection=qr]").await;
    wd.wait_for_url("ok=").await;
    let (_, app) = env.admin(reqwest::Method::GET, &format!("/apps/{client_id}"), None).await;
    assert_eq!(app["connections"], json!(["qr"]));

    wd.go(&format!("{}/console/users", env.base)).await;
    wd.fill("#q", "zoe@").await;
    wd.click("form[role=search] button").await;
    wd.wait_for_url("q=zoe").await;
    wd.click("table a[href^='/console/users/']").await;
    wd.wait_for_url("/console/users/").await;
    wd.click("#toggle-disabled").await;
    wd.wait_for_source("id=\"user-disabled\"").await;
    clean("a user").await;
    std::fs::write(artifacts.join("console-user.png"), wd.screenshot().await).unwrap();

    wd.go(&format!("{}/console/audit?event=user.", env.base)).await;
    wd.wait_for_source("user.disabled").await;
    clean("the audit log").await;
    wd.click("#switch-language").await;
    let zh = wd.wait_for_source("退出登录").await;
    assert!(zh.contains("审计日志"), "switched to Chinese");
    std::fs::write(artifacts.join("console-audit-zh.png"), wd.screenshot().await).unwrap();
    // A phone's width: nothing wider than the screen.
    wd.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844}))).await;
    for path in ["/console", "/console/apps", "/console/connections/delegated", "/console/users", "/console/audit"] {
        wd.go(&format!("{}{path}", env.base)).await;
        let fits = wd.script("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
        assert_eq!(fits, json!(true), "{path} fits a phone's width");
    }
    std::fs::write(artifacts.join("console-mobile.png"), wd.screenshot().await).unwrap();
    wd.click("#sign-out").await;
    wd.wait_for_url("/console/login").await;
    wd.go(&format!("{}/console", env.base)).await;
    wd.wait_for_url("/console/login").await;

    wd.call(reqwest::Method::DELETE, "", None).await;
    let _ = chromedriver.kill().await;
}

/// `dingtalk_web` in a real browser that says it is DingTalk's: the demo's sign-in goes straight to wegate's
/// in-client page, whose strict CSP lets exactly the JSAPI (the simulator's stand-in) and our script run; the
/// JSAPI's code reaches the callback and the demo app shows who signed in. Nothing is clicked.
#[tokio::test]
async fn inside_dingtalk_the_jsapi_signs_in_without_a_click_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let ua = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 AliApp(DingTalk/7.6.0) DingTalkSimPerson/p-zhangsan";
    let Some((wd, mut chromedriver)) = chromium(dir.path(), Some(ua)).await else { return };
    let demo = wegate::demo::start(dir.path().join("demo.db"), "127.0.0.1:0").await.expect("demo");
    let base = demo.server.state.settings.issuer.clone();

    wd.go(&format!("{base}/demo")).await;
    wd.click("a.button").await; // Sign in with wegate: inside DingTalk, no page to click through
    wd.wait_for_url("/demo/callback").await;
    let page = wd.wait_for_source("Signed in as 张三").await;
    assert!(page.contains("dingtalk_web") && page.contains("dingtalk_userid"), "{page}");

    wd.call(reqwest::Method::DELETE, "", None).await;
    let _ = chromedriver.kill().await;
    demo.server.shutdown().await.unwrap();
}
