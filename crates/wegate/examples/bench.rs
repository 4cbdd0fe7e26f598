//! Benchmark: full WeCom logins per second, refreshes per second and memory, against a real `wegate serve`
//! process (release build) on a fresh SQLite file, with the WeCom simulator and the load generator in this
//! process. A "full login" is what a browser and an app do: `/authorize?connection=` → WeCom QR page
//! (simulator) → our callback (`auth/getuserinfo` + `user/get` at the simulator) → `/token` (code, PKCE,
//! client secret; ID + access + refresh token: two RSA signatures).
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench -- [seconds=10] [concurrency=32]
//! ```
//! Everything shares the machine's cores, so compare figures from one session only.

// A benchmark driver, not shipped code: a failed step aborts the run with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const REDIRECT: &str = "https://app.example.com/cb";
const ADMIN: &str = "bench-admin-token-0123456789";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(String::from))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers().get("location").and_then(|v| v.to_str().ok()).map(String::from)
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// One full login; returns the refresh token.
async fn login(base: &str, client_id: &str, secret: &str, member: &str) -> Option<String> {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().ok()?;
    let verifier = wegate::util::random_token();
    let challenge = wegate::util::sha256_b64url(verifier.as_bytes());
    let authorize = format!(
        "{base}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20profile%20offline_access&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256&connection=wecom",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let to_wecom = location(&browser.get(authorize).send().await.ok()?)?;
    let callback = location(&browser.get(format!("{to_wecom}&sim_user={member}")).send().await.ok()?)?;
    let back = location(&browser.get(callback).send().await.ok()?)?;
    let code = param(&back, "code")?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    token_call(&browser, base, client_id, secret, &form).await
}

/// `POST /token` with client_secret_basic; returns the new refresh token.
async fn token_call(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> Option<String> {
    let tokens: Value = http
        .post(format!("{base}/token"))
        .basic_auth(client_id, Some(secret))
        .form(form)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    tokens["refresh_token"].as_str().map(String::from)
}

async fn refresh(http: &reqwest::Client, base: &str, client_id: &str, secret: &str, token: &str) -> Option<String> {
    token_call(http, base, client_id, secret, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let binary = std::env::var("WEGATE_BIN").unwrap_or_else(|_| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/wegate").display().to_string()
    });

    let (sim_addr, _sim) = wecom_sim::Simulator::spawn(
        wecom_sim::Seed::demo(),
        wecom_sim::SimConfig { ticket_interval_secs: 0, ..Default::default() },
    )
    .await
    .expect("simulator");
    let sim = format!("http://{sim_addr}");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(&binary)
        .arg("serve")
        .env("WEGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("WEGATE_DATABASE_URL", format!("sqlite://{}", dir.path().join("bench.db").display()))
        .env("WEGATE_ADMIN_TOKEN", ADMIN)
        .env("WEGATE_WECOM_API_BASE", &sim)
        .env("WEGATE_WECOM_LOGIN_BASE", &sim)
        .env("WEGATE_WECOM_OPEN_BASE", &sim)
        .env("WEGATE_WECOM_OAUTH_BASE", &sim)
        .env("WEGATE_LOG_LEVEL", std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()))
        .env("WEGATE_ACCESS_TOKEN_ALG", std::env::var("WEGATE_ACCESS_TOKEN_ALG").unwrap_or_else(|_| "RS256".into()))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e} (cargo build --release first)"));
    let pid = child.id().unwrap_or(0);
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kib = rss_kib(pid);

    let seed = wecom_sim::Seed::demo();
    let corp = &seed.corps[0];
    let app = &corp.apps[0];
    let admin = |path: &str, body: Value| {
        let request = http.post(format!("{base}/api/v1{path}")).bearer_auth(ADMIN).json(&body);
        async move { request.send().await.expect("admin").json::<Value>().await.unwrap_or(Value::Null) }
    };
    admin(
        "/connections",
        json!({"identifier": "wecom", "display_name": "WeCom", "kind": "wecom_qrcode",
        "corp_id": corp.corp_id, "agent_id": app.agent_id.to_string(), "secret": app.secret}),
    )
    .await;
    let created = admin("/apps", json!({"name": "bench", "kind": "web", "redirect_uris": [REDIRECT]})).await;
    let client_id = created["client_id"].as_str().expect("client_id").to_string();
    let secret = created["client_secret"].as_str().expect("secret").to_string();
    http.put(format!("{base}/api/v1/apps/{client_id}/connections/wecom"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("associate");

    let members = ["ZhangSan", "WangFang", "alice", "bob"];
    // Warm up: users exist, the WeCom token is cached, connections are pooled.
    for m in members {
        login(&base, &client_id, &secret, m).await.expect("warm-up login");
    }

    let run = |kind: &'static str| {
        let (base, client_id, secret) = (base.clone(), client_id.clone(), secret.clone());
        async move {
            let done = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let workers = (0..concurrency).map(|w| {
                let (base, client_id, secret, done, failed) =
                    (base.clone(), client_id.clone(), secret.clone(), done.clone(), failed.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let member = members[w % members.len()];
                    let mut token = login(&base, &client_id, &secret, member).await;
                    while Instant::now() < deadline {
                        let ok = if kind == "login" {
                            login(&base, &client_id, &secret, member).await.is_some()
                        } else {
                            token = match &token {
                                Some(t) => refresh(&http, &base, &client_id, &secret, t).await,
                                None => login(&base, &client_id, &secret, member).await,
                            };
                            token.is_some()
                        };
                        if ok {
                            done.fetch_add(1, Ordering::Relaxed)
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed)
                        };
                    }
                })
            });
            let started = Instant::now();
            futures::future::join_all(workers).await;
            let elapsed = started.elapsed().as_secs_f64();
            (done.load(Ordering::Relaxed) as f64 / elapsed, failed.load(Ordering::Relaxed))
        }
    };

    let (logins, login_failures) = run("login").await;
    let peak_kib = rss_kib(pid);
    let (refreshes, refresh_failures) = run("refresh").await;
    let gettoken =
        http.get(format!("{sim}/_sim/stats")).send().await.expect("stats").json::<Value>().await.unwrap_or(Value::Null)
            ["calls"]["/cgi-bin/gettoken"]["total"]
            .as_u64()
            .unwrap_or(0);
    let report = json!({
        "seconds": seconds, "concurrency": concurrency,
        "access_token_alg": std::env::var("WEGATE_ACCESS_TOKEN_ALG").unwrap_or_else(|_| "RS256".into()),
        "full_logins_per_second": (logins * 10.0).round() / 10.0, "login_failures": login_failures,
        "refreshes_per_second": (refreshes * 10.0).round() / 10.0, "refresh_failures": refresh_failures,
        "rss_idle_mib": (idle_kib as f64 / 1024.0 * 10.0).round() / 10.0,
        "rss_after_logins_mib": (peak_kib as f64 / 1024.0 * 10.0).round() / 10.0,
        "wecom_gettoken_calls": gettoken,
        "yardstick_node_oidc_provider": {"full_logins_per_second": 435, "refreshes_per_second": 1300, "rss_idle_mib": 75},
        "ratios_to_yardstick": {
            "logins": (logins / 435.0 * 100.0).round() / 100.0,
            "refreshes": (refreshes / 1300.0 * 100.0).round() / 100.0,
            "idle_memory": (idle_kib as f64 / 1024.0 / 75.0 * 100.0).round() / 100.0,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    let _ = child.kill().await;
}
