//! The storage core's costs, as the benchmark sees them: statements and database calls (on SQLite, hops to
//! its thread) per login and per refresh (read from `/metrics`), and SQLite's file held by one process.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/cb";

/// The store's counters: (statements, calls).
async fn counters(env: &Env) -> (u64, u64) {
    let text = env.http.get(format!("{}/metrics", env.base)).send().await.unwrap().text().await.unwrap();
    let read = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
    };
    (read("wegate_store_statements_total"), read("wegate_store_calls_total"))
}

fn since(before: (u64, u64), after: (u64, u64)) -> (u64, u64) {
    (after.0 - before.0, after.1 - before.1)
}

/// A full WeCom login of a returning member (new browser, code redeemed with offline_access); the refresh
/// token.
async fn login(env: &Env, client_id: &str, secret: &str) -> String {
    let verifier = "v".repeat(50);
    let challenge = wegate::util::sha256_b64url(verifier.as_bytes());
    let url = format!(
        "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid%20offline_access\
         &state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256&connection=wecom",
        env.base,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let back = wecom_login(&browser(), &url, "ZhangSan").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let code = query_param(&location(&back), "code").expect("code");
    let (status, tokens) = token_call(
        &env.base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some((client_id, secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens["refresh_token"].as_str().expect("refresh token").to_string()
}

/// What a steady-state login and refresh cost in statements. The figures are the benchmark's; a change that
/// adds a statement to the hot path must say so here. (Before the storage core: 17 and 5, the app and
/// connection rows read again at every step.)
#[tokio::test]
async fn a_login_and_a_refresh_run_few_statements() {
    let env = start().await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let secret = secret.expect("a web app has a secret");
    env.associate(&client_id, "wecom").await;
    // The first login creates the account and fetches WeCom's token: not the steady state.
    let mut refresh_token = login(&env, &client_id, &secret).await;

    let before = counters(&env).await;
    refresh_token = {
        let _ = refresh_token;
        login(&env, &client_id, &secret).await
    };
    let (per_login, login_calls) = since(before, counters(&env).await);

    let before = counters(&env).await;
    let (status, tokens) = token_call(
        &env.base,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)],
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (per_refresh, refresh_calls) = since(before, counters(&env).await);

    eprintln!("statements: {per_login} per login, {per_refresh} per refresh");
    eprintln!("calls: {login_calls} per login, {refresh_calls} per refresh");
    assert!(per_login <= LOGIN_STATEMENTS, "a login ran {per_login} statements (at most {LOGIN_STATEMENTS})");
    assert!(per_refresh <= REFRESH_STATEMENTS, "a refresh ran {per_refresh} statements (at most {REFRESH_STATEMENTS})");
    assert!(login_calls <= LOGIN_CALLS, "a login made {login_calls} database calls (at most {LOGIN_CALLS})");
    assert!(refresh_calls <= REFRESH_CALLS, "a refresh made {refresh_calls} database calls (at most {REFRESH_CALLS})");
}

/// authorize: the login transaction, stored with its connection; callback: take the transaction (checked in
/// the statement), identity, user, then session, grant origin, code and audit in one transaction; token:
/// consume the code, user, then the first refresh token and its grant origin kept as long as the grant (one
/// transaction: the origin starts as long as a code and a browser session only, so an authorization that is
/// never redeemed leaves nothing for 30 days). Apps and connections come from the store's cache. (Before:
/// 13 — the connection recorded by a second write, the transaction read before it was taken, and the session,
/// grant and audit written in three calls; 11 before the origin's extension.)
const LOGIN_STATEMENTS: u64 = 12;
/// The same in calls: the callback's identity and user are one (`get_identity_with_user`), its last four
/// statements are one, and so are the token step's code and user (`redeem_auth_code`). (Before: 8.)
const LOGIN_CALLS: u64 = 6;
/// Consume the refresh token, user, grant origin (membership re-check due?), new refresh token.
const REFRESH_STATEMENTS: u64 = 4;
/// The first three are one call (`redeem_refresh_token`). (Before: 4.)
const REFRESH_CALLS: u64 = 2;
