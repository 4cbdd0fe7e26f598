//! Who may enter which app (CONTRACT.md, "Sessions: who may enter which app"): a browser session enters an
//! app without asking only through a connection that admits the person now; otherwise they sign in again
//! (`login_required` with `prompt=none`). Each test here was written to fail on the code before sessions
//! remembered their connection.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/callback";

/// An app enabling exactly `connections`.
pub(crate) async fn app_with(env: &Env, connections: &[&str]) -> (Client, reqwest::Client) {
    let (client_id, secret) = env.app("web", REDIRECT).await;
    for c in connections {
        env.associate(&client_id, c).await;
    }
    env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await
}

/// The demo corp's second app (visible to everyone) as a QR connection `legacy`; the first app (visible to
/// departments 2 and 3 only: not to ZhaoLiu) as `demo`.
pub(crate) async fn two_apps_of_one_corp(env: &Env) {
    let seed = wecom_sim::Seed::demo();
    let corp = &seed.corps[0];
    let legacy = &corp.apps[1];
    env.post(
        "/connections",
        json!({"identifier": "legacy", "display_name": "Legacy", "kind": "wecom_qrcode", "corp_id": corp.corp_id,
               "agent_id": legacy.agent_id.to_string(), "secret": legacy.secret}),
    )
    .await;
    env.corp_connection("demo", "wecom_qrcode", json!({})).await;
}

/// Signs `userid` in at `client` through `connection` in `browser`; returns the ID token's claims.
pub(crate) async fn sign_in(
    env: &Env,
    browser: &reqwest::Client,
    client: &Client,
    http: &reqwest::Client,
    connection: &str,
    userid: &str,
) -> Value {
    let req = auth_request(client, &["profile"], &[("connection", connection)]);
    let back = wecom_login(browser, &req.url, userid).await;
    let code = code_from_redirect(&back, &req, &env.base);
    id_claims(client, http, code, req).await
}

pub(crate) async fn id_claims(client: &Client, http: &reqwest::Client, code: String, req: AuthRequest) -> Value {
    use openidconnect::TokenResponse;
    let tokens = exchange(client, http, code, req.verifier).await;
    let id_token = tokens.id_token().expect("id token").to_string();
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `prompt=none` at `client`: Ok(code) or Err(OAuth error).
pub(crate) async fn silent(
    browser: &reqwest::Client,
    client: &Client,
    extra: &[(&str, &str)],
) -> (Result<String, String>, AuthRequest) {
    let mut params = vec![("prompt", "none")];
    params.extend_from_slice(extra);
    let req = auth_request(client, &["profile"], &params);
    let response = browser.get(&req.url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    let result = match query_param(&to, "code") {
        Some(code) => Ok(code),
        None => Err(query_param(&to, "error").unwrap_or_default()),
    };
    (result, req)
}

#[tokio::test]
async fn a_session_enters_an_app_through_its_own_connection_without_asking_wecom() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    let (a, a_http) = app_with(&env, &["legacy"]).await;
    let (b, b_http) = app_with(&env, &["legacy"]).await;
    let browser = browser();
    let first = sign_in(&env, &browser, &a, &a_http, "legacy", "ZhangSan").await;
    let before = env.sim_calls("/cgi-bin/user/get").await;
    let (code, req) = silent(&browser, &b, &[]).await;
    let second = id_claims(&b, &b_http, code.expect("single sign-on"), req).await;
    assert_eq!(second["sub"], first["sub"]);
    assert_eq!(env.sim_calls("/cgi-bin/user/get").await, before, "the session's own connection asks WeCom nothing");
    let sid = first["sid"].as_str().expect("ID tokens carry sid");
    assert_eq!(second["sid"].as_str(), Some(sid), "one browser session, one sid");
}

#[tokio::test]
async fn another_connection_of_the_same_corp_rechecks_the_visible_scope_now() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    let (a, a_http) = app_with(&env, &["legacy"]).await;
    let (b, b_http) = app_with(&env, &["demo"]).await;

    // ZhaoLiu is in the legacy app's scope, not in the demo app's: signed in at A, she does not enter B.
    let zhao = browser();
    sign_in(&env, &zhao, &a, &a_http, "legacy", "ZhaoLiu").await;
    let (result, _) = silent(&zhao, &b, &[]).await;
    assert_eq!(result.unwrap_err(), "login_required");
    // A direct sign-in at B refuses her as well: the session gave nothing a sign-in would not.
    let req = auth_request(&b, &["profile"], &[("connection", "demo")]);
    let page = wecom_login(&zhao, &req.url, "ZhaoLiu").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);

    // ZhangSan is in both scopes: his session enters B, checked with B's own credentials.
    let zhang = browser();
    let first = sign_in(&env, &zhang, &a, &a_http, "legacy", "ZhangSan").await;
    let before = env.sim_calls("/cgi-bin/user/get").await;
    let (code, req) = silent(&zhang, &b, &[]).await;
    let second = id_claims(&b, &b_http, code.expect("same corp, in scope"), req).await;
    assert_eq!(second["sub"], first["sub"]);
    assert_eq!(env.sim_calls("/cgi-bin/user/get").await, before + 1, "the scope was checked now");
}

#[tokio::test]
async fn a_session_never_enters_an_app_of_another_corp() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    env.post(
        "/connections",
        json!({"identifier": "other-corp", "display_name": "Other corp", "kind": "wecom_qrcode",
               "corp_id": "ww0000000000000099", "agent_id": "1000002", "secret": "unused"}),
    )
    .await;
    let (a, a_http) = app_with(&env, &["legacy"]).await;
    let (c, _) = app_with(&env, &["other-corp"]).await;
    let browser = browser();
    sign_in(&env, &browser, &a, &a_http, "legacy", "ZhangSan").await;
    let (result, _) = silent(&browser, &c, &[]).await;
    assert_eq!(result.unwrap_err(), "login_required");
}

#[tokio::test]
async fn a_connection_hint_is_honoured_over_the_session() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    env.post("/users", json!({"username": "alice", "password": "correct horse"})).await;
    let (a, a_http) = app_with(&env, &["legacy", "demo"]).await;
    let pwd_browser = browser();
    // A password session enters any app, but not when the app asks for a connection.
    let req = auth_request(&a, &[], &[]);
    let back = password_login(&pwd_browser, &req.url, "alice", "correct horse").await;
    code_from_redirect(&back, &req, &env.base);
    let (result, _) = silent(&pwd_browser, &a, &[]).await;
    assert!(result.is_ok(), "a password session enters an app that shows the password form");
    let (result, _) = silent(&pwd_browser, &a, &[("connection", "demo")]).await;
    assert_eq!(result.unwrap_err(), "login_required", "the app asked for WeCom");

    // A WeCom session with a hint naming a connection it passes enters; without prompt=none and a hint the
    // session cannot pass, the person goes to that connection.
    let wecom = browser();
    sign_in(&env, &wecom, &a, &a_http, "legacy", "ZhaoLiu").await;
    let (result, _) = silent(&wecom, &a, &[("connection", "legacy")]).await;
    assert!(result.is_ok());
    let req = auth_request(&a, &["profile"], &[("connection", "demo")]);
    let to = wecom.get(&req.url).send().await.unwrap();
    assert_eq!(to.status(), StatusCode::SEE_OTHER);
    assert!(location(&to).starts_with(&env.sim.base), "sent to WeCom to sign in through the hinted connection");
}

#[tokio::test]
async fn prompt_login_and_max_age_sign_in_again() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    let (a, a_http) = app_with(&env, &["legacy"]).await;
    let browser = browser();
    sign_in(&env, &browser, &a, &a_http, "legacy", "ZhangSan").await;
    let req = auth_request(&a, &["profile"], &[("prompt", "login")]);
    let page = browser.get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the login page again");
    env.clock.advance(120);
    let (result, _) = silent(&browser, &a, &[("max_age", "60")]).await;
    assert_eq!(result.unwrap_err(), "login_required");
    let (result, _) = silent(&browser, &a, &[("max_age", "600")]).await;
    assert!(result.is_ok());
    let discovery: Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", env.base)).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["prompt_values_supported"], json!(["none", "login"]));
}

#[tokio::test]
async fn logout_without_an_id_token_hint_asks_first() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    let (a, a_http) = app_with(&env, &["legacy"]).await;
    let browser = browser();
    sign_in(&env, &browser, &a, &a_http, "legacy", "ZhangSan").await;
    // A link or an image on another site: a GET without a hint ends nothing.
    let page = browser.get(format!("{}/logout", env.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("method=\"post\""), "{html}");
    let (result, _) = silent(&browser, &a, &[]).await;
    assert!(result.is_ok(), "still signed in");
    // A forged POST without the page's token ends nothing either.
    let forged = browser.post(format!("{}/logout", env.base)).form(&[("confirm", "guess")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::OK);
    let (result, _) = silent(&browser, &a, &[]).await;
    assert!(result.is_ok(), "still signed in");
    // The person confirms on the page.
    let token = extract_attr(&html, "name=\"confirm\" value=\"").expect("confirmation token");
    let done = browser.post(format!("{}/logout", env.base)).form(&[("confirm", token.as_str())]).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let (result, _) = silent(&browser, &a, &[]).await;
    assert_eq!(result.unwrap_err(), "login_required");
}

#[tokio::test]
async fn oversized_authorization_requests_are_refused() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    let (a, _) = app_with(&env, &["legacy"]).await;
    let huge_state = "s".repeat(3000);
    let req = auth_request(&a, &["profile"], &[("state", &huge_state)]);
    let response = browser().get(&req.url).send().await.unwrap();
    let to = location(&response);
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&to, "state"), None, "an oversized state is not echoed");
    let many: Vec<(String, String)> = (0..5).map(|i| (format!("x{i}"), "v".repeat(1900))).collect();
    let extra: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let req = auth_request(&a, &["profile"], &extra);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/authorize", env.base))
        .form(&url::Url::parse(&req.url).unwrap().query_pairs().into_owned().collect::<Vec<_>>())
        .send()
        .await
        .unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn a_browser_keeps_only_its_newest_login_transactions() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    let (a, _) = app_with(&env, &["legacy"]).await;
    let browser = browser();
    let first = browser.get(&auth_request(&a, &[], &[]).url).send().await.unwrap();
    let first_page = first.text().await.unwrap();
    let tx = extract_attr(&first_page, "action=\"/login/").unwrap();
    let tx = tx.split('/').next().unwrap().to_string();
    assert_eq!(browser.get(format!("{}/login/{tx}", env.base)).send().await.unwrap().status(), StatusCode::OK);
    for _ in 0..20 {
        env.clock.advance(1); // transactions are ordered by their creation second
        browser.get(&auth_request(&a, &[], &[]).url).send().await.unwrap();
    }
    let gone = browser.get(format!("{}/login/{tx}", env.base)).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::BAD_REQUEST, "the oldest transaction was dropped");
}
