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
    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_string()
    }
    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default()).expect("png")
    }
}

#[tokio::test]
async fn demo_click_through_in_headless_chromium() {
    let driver = std::env::var("WEGATE_TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("WEGATE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&driver).exists() || !std::path::Path::new(&chromium).exists() {
        eprintln!(
            "browser test skipped: install chromium and chromium-driver (or set WEGATE_TEST_CHROMEDRIVER / WEGATE_TEST_CHROMIUM)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = wegate::demo::start(dir.path().join("demo.db"), "127.0.0.1:0").await.expect("demo");
    let base = demo.server.state.settings.issuer.clone();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut chromedriver = tokio::process::Command::new(&driver)
        .arg(format!("--port={port}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver");
    let http = reqwest::Client::new();
    let driver_base = format!("http://127.0.0.1:{port}");
    let mut session = Value::Null;
    for _ in 0..100 {
        if let Ok(r) = http
            .post(format!("{driver_base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--window-size=1000,900", format!("--user-data-dir={}", dir.path().join("chrome").display())]
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
    let wd = WebDriver { http, session: session_id, base: driver_base };

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
