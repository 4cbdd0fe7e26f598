//! Password sign-in under attack (CONTRACT.md, "Password sign-in"): the lockout counts per account however
//! its identifier is spelled, attempts in parallel never exceed it, and a flood of attempts keeps the
//! server's memory bounded. Each test was written to fail on the code before these rules.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/callback";

/// A browser on the login page of a fresh transaction: (browser, the password form's URL).
async fn login_form(env: &Env, client: &Client) -> (reqwest::Client, String) {
    let b = browser();
    let req = auth_request(client, &[], &[]);
    let html = b.get(&req.url).send().await.unwrap().text().await.unwrap();
    let action = extract_attr(&html, "action=\"/login/").expect("password form");
    (b, format!("{}/login/{action}", env.base))
}

async fn post(b: &reqwest::Client, url: &str, login: &str, password: &str) -> StatusCode {
    b.post(url).form(&[("login", login), ("password", password)]).send().await.unwrap().status()
}

#[tokio::test]
async fn every_spelling_of_a_phone_counts_against_one_account() {
    let env = start_with(Arc::new(simulator().await), |s| s.lockout_failures = 4).await;
    env.post("/users", json!({"username": "zhang", "phone": "13800138000", "password": "correct horse"})).await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("x"), REDIRECT).await;
    let (b, url) = login_form(&env, &client).await;
    for spelling in ["13800138000", "138 0013 8000", "+86 13800138000", "138-0013-8000"] {
        assert_eq!(post(&b, &url, spelling, "wrong").await, StatusCode::UNAUTHORIZED, "{spelling}");
    }
    // The account is locked, whichever identifier is typed — the username too.
    assert_eq!(post(&b, &url, "+86 138 0013 8000", "correct horse").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(post(&b, &url, "zhang", "correct horse").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn parallel_wrong_passwords_never_exceed_the_limit() {
    let env = start_with(Arc::new(simulator().await), |s| s.lockout_failures = 5).await;
    env.post("/users", json!({"username": "alice", "password": "correct horse"})).await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("x"), REDIRECT).await;
    let (b, url) = login_form(&env, &client).await;
    let attempts = (0..20).map(|_| {
        let (b, url) = (b.clone(), url.clone());
        async move { post(&b, &url, "alice", "wrong").await }
    });
    let statuses = futures::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(checked <= 5, "{checked} of 20 parallel attempts had their password checked: {statuses:?}");
    assert_eq!(post(&b, &url, "alice", "correct horse").await, StatusCode::TOO_MANY_REQUESTS, "locked");
}

/// A process's resident memory high-water mark, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_flood_of_password_attempts_keeps_memory_bounded_and_the_server_answering() {
    // A server process of its own, so that its memory is measured alone.
    let sim = Arc::new(simulator().await);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("wegate.db").display());
    let server = spawn_process(&sim, &db).await;
    let pid = server.child.id().expect("pid");
    let env = Env::remote(&server.base, sim.clone());
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("x"), REDIRECT).await;
    let (b, url) = login_form(&env, &client).await;
    // 100 unknown logins at once: each would run Argon2 (19 MiB) were the work not bounded.
    let attempts = (0..100).map(|i| {
        let (b, url) = (b.clone(), url.clone());
        async move { post(&b, &url, &format!("nobody{i}"), "guess").await }
    });
    let flood = tokio::spawn(futures::future::join_all(attempts));
    let health = reqwest::get(format!("{}/healthz", env.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the server answers during the flood");
    let statuses = flood.await.unwrap();
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "beyond the bound, a quick 429");
    let peak = peak_rss_mib(pid);
    assert!(peak > 0 && peak < 256, "peak RSS of the server {peak} MiB");
    eprintln!("peak RSS of the server under 100 parallel password attempts: {peak} MiB");
}
