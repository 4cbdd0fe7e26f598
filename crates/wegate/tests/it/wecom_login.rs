//! WeCom sign-in end to end against the simulator: wecom_qrcode, wecom_web, wecom_mobile; login-only
//! mode; account identity association; errors from WeCom; single sign-on; the shared token cache.

use openidconnect::TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/cb";

/// A web app with one connection of `kind`; returns the OIDC client.
async fn setup(env: &Env, kind: &str, extra: Value) -> (Client, reqwest::Client, String) {
    env.corp_connection("wecom", kind, extra).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "wecom").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    (client, http, client_id)
}

/// Signs `userid` in through the connection; returns the ID token claims as JSON.
async fn sign_in(env: &Env, client: &Client, http: &reqwest::Client, userid: &str) -> Value {
    let req = auth_request(client, &["profile", "email", "phone"], &[("connection", "wecom")]);
    let back = wecom_login(&browser(), &req.url, userid).await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    let id_token = tokens.id_token().expect("id token");
    id_token.claims(&client.id_token_verifier(), &req.nonce).expect("valid id token");
    let payload = id_token.to_string().split('.').nth(1).map(String::from).unwrap();
    use base64::Engine;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The page a refused sign-in ends on: status and text.
async fn refused(env: &Env, client: &Client, userid: &str) -> (StatusCode, String) {
    let req = auth_request(client, &["profile"], &[("connection", "wecom")]);
    let last = wecom_login(&browser(), &req.url, userid).await;
    let status = last.status();
    let _ = env;
    (status, last.text().await.unwrap())
}

#[tokio::test]
async fn qrcode_login_creates_the_user_with_wecom_claims_and_refreshes_the_profile() {
    let env = start().await;
    let (client, http, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let claims = sign_in(&env, &client, &http, "ZhangSan").await;
    assert_eq!(claims["name"], "张三");
    assert_eq!(claims["wecom_userid"], "ZhangSan");
    assert_eq!(claims["wecom_corp_id"], wecom_sim::Seed::demo().corps[0].corp_id);
    assert_eq!(claims["wecom_department"], json!([2]));
    assert!(claims.get("email").is_none(), "user/get gives no email since 2022; snsapi_base/QR gives none");
    // The same member again (different case, as WeCom treats userids) is the same user.
    let again = sign_in(&env, &client, &http, "zhangsan").await;
    assert_eq!(again["sub"], claims["sub"]);
    assert_eq!(env.user_count().await, 1);
    let (_, user) = env.admin(Method::GET, &format!("/users/{}", claims["sub"].as_str().unwrap()), None).await;
    assert_eq!(user["identities"][0]["upstream"], format!("wecom:{}", claims["wecom_corp_id"].as_str().unwrap()));
    assert_eq!(user["identities"][0]["subject"], "zhangsan");
}

#[tokio::test]
async fn members_outside_the_visible_scope_and_outsiders_are_refused() {
    let env = start().await;
    let (client, _, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let (status, page) = refused(&env, &client, "ZhaoLiu").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("not allowed to use this app") && page.contains("visible scope"), "{page}");
    let (status, page) = refused(&env, &client, "someone-not-in-the-corp").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("not a member"), "{page}");
    assert_eq!(env.user_count().await, 0, "no user created");
    let (_, audit) = env.admin(Method::GET, "/audit", None).await;
    let reasons: Vec<String> =
        audit["items"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap_or("").to_string()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("not_allowed")), "{reasons:?}");
    assert!(!audit.to_string().contains("code="), "codes never reach the audit log");
}

#[tokio::test]
async fn login_only_refuses_unknown_people_and_creates_no_user() {
    let env = start().await;
    let (client, http, _) = setup(
        &env,
        "wecom_qrcode",
        json!({"login_only": true, "association": {"mode": "match", "fields": ["username"]}}),
    )
    .await;
    let (status, page) = refused(&env, &client, "WangFang").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("no account for you here"), "{page}");
    assert_eq!(env.user_count().await, 0);
    // An existing account (username = userid) gets in and is linked.
    let user = env.post("/users", json!({"username": "wangfang"})).await;
    let claims = sign_in(&env, &client, &http, "WangFang").await;
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(env.user_count().await, 1);
}

#[tokio::test]
async fn match_on_email_needs_privateinfo() {
    let env = start().await;
    let existing =
        env.post("/users", json!({"email": "ZhangSan@demo-tech.example.com", "name": "Existing Zhang"})).await;
    // wecom_web with snsapi_privateinfo: getuserdetail gives the email, which matches (case-insensitively).
    let (client, http, _) = setup(
        &env,
        "wecom_web",
        json!({"scope": "snsapi_privateinfo", "association": {"mode": "match", "fields": ["email"]}}),
    )
    .await;
    let claims = sign_in(&env, &client, &http, "ZhangSan").await;
    assert_eq!(claims["sub"], existing["id"]);
    assert_eq!(claims["phone_number"], "+86 13800138000", "mobile comes from getuserdetail");
    // snsapi_base: no email from WeCom, so no match: a new user is created instead.
    let env2 = start().await;
    let existing2 = env2.post("/users", json!({"email": "zhangsan@demo-tech.example.com"})).await;
    let (client2, http2, _) = setup(
        &env2,
        "wecom_web",
        json!({"scope": "snsapi_base", "association": {"mode": "match", "fields": ["email"]}}),
    )
    .await;
    let claims2 = sign_in(&env2, &client2, &http2, "ZhangSan").await;
    assert_ne!(claims2["sub"], existing2["id"]);
    assert_eq!(env2.user_count().await, 2);
}

#[tokio::test]
async fn match_on_phone_is_normalised_and_ambiguity_is_refused() {
    let env = start().await;
    let (client, http, _) = setup(
        &env,
        "wecom_web",
        json!({"scope": "snsapi_privateinfo", "association": {"mode": "match", "fields": ["email", "phone"]}}),
    )
    .await;
    let by_phone = env.post("/users", json!({"phone": "13800138000"})).await;
    let claims = sign_in(&env, &client, &http, "ZhangSan").await;
    assert_eq!(claims["sub"], by_phone["id"], "+86 13800138000 matches 13800138000");
    // WangFang's email belongs to one user and her phone to another: ambiguous, never linked at random.
    env.post("/users", json!({"email": "wangfang@demo-tech.example.com"})).await;
    env.post("/users", json!({"phone": "139 0013 9000"})).await;
    let before = env.user_count().await;
    let (status, page) = refused(&env, &client, "WangFang").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("more than one account"), "{page}");
    assert_eq!(env.user_count().await, before);
}

#[tokio::test]
async fn ask_to_bind_links_after_password_or_creates_on_request() {
    let env = start().await;
    let (client, http, _) = setup(&env, "wecom_qrcode", json!({"association": {"mode": "ask_to_bind"}})).await;
    let owner = env.post("/users", json!({"username": "alice.local", "password": "alice-password"})).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let bind_page = wecom_login(&b, &req.url, "alice").await;
    assert_eq!(bind_page.status(), StatusCode::OK);
    let html = unescape(&bind_page.text().await.unwrap());
    assert!(html.contains("Link your WeCom account"));
    let bind_action = extract_attr(&html, "action=\"/login/").map(|a| format!("{}/login/{a}", env.base)).unwrap();
    assert!(bind_action.ends_with("/bind"));
    // A wrong password links nothing.
    let wrong = b.post(&bind_action).form(&[("login", "alice.local"), ("password", "nope")]).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let linked =
        b.post(&bind_action).form(&[("login", "alice.local"), ("password", "alice-password")]).send().await.unwrap();
    let code = code_from_redirect(&linked, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    assert_eq!(claims.subject().as_str(), owner["id"].as_str().unwrap());
    // From now on WeCom alone signs alice in as that account.
    let again = sign_in(&env, &client, &http, "alice").await;
    assert_eq!(again["sub"], owner["id"]);
    // Someone else chooses "create a new account".
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let b2 = browser();
    let html = unescape(&wecom_login(&b2, &req.url, "bob").await.text().await.unwrap());
    let create = extract_attr(&html, "action=\"/login/").map(|_| ()).and_then(|_| {
        html.match_indices("action=\"/login/").nth(1).map(|(i, _)| extract_attr(&html[i..], "action=\"").unwrap())
    });
    let create = format!("{}{}", env.base, create.expect("create form"));
    assert!(create.ends_with("/create"));
    let created = b2.post(&create).send().await.unwrap();
    code_from_redirect(&created, &req, &env.base);
    assert_eq!(env.user_count().await, 2);
}

#[tokio::test]
async fn ask_to_bind_in_login_only_mode_offers_no_new_account() {
    let env = start().await;
    let (client, _, _) =
        setup(&env, "wecom_qrcode", json!({"login_only": true, "association": {"mode": "ask_to_bind"}})).await;
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let html = unescape(&wecom_login(&browser(), &req.url, "bob").await.text().await.unwrap());
    assert!(html.contains("/bind"));
    assert!(!html.contains("/create"), "login-only: no create button");
}

#[tokio::test]
async fn callback_state_must_be_fresh_single_use_and_from_this_browser() {
    let env = start().await;
    let (client, _, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let to_wecom = b.get(&req.url).send().await.unwrap();
    let picked = b.get(with_sim_user(&location(&to_wecom), "ZhangSan")).send().await.unwrap();
    let callback = location(&picked);
    // Another browser (login CSRF) cannot use it, and it stays usable for the right one: neither one
    // without a binding cookie nor one with its own (from a login it started itself).
    let foreign = browser().get(&callback).send().await.unwrap();
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    let attacker = browser();
    attacker.get(&auth_request(&client, &["profile"], &[("connection", "wecom")]).url).send().await.unwrap();
    let foreign = attacker.get(&callback).send().await.unwrap();
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert!(foreign.text().await.unwrap().contains("started in a different browser"), "the page says why");
    let ok = b.get(&callback).send().await.unwrap();
    code_from_redirect(&ok, &req, &env.base);
    // Reused: refused, nothing changes.
    let reused = b.get(&callback).send().await.unwrap();
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert!(reused.text().await.unwrap().contains("invalid, has expired, or was already used"));
    // Missing and made-up states.
    for url in [
        format!("{}/connections/wecom/callback?code=abc", env.base),
        format!("{}/connections/wecom/callback?code=abc&state=madeup", env.base),
    ] {
        assert_eq!(b.get(url).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(env.user_count().await, 1);
}

#[tokio::test]
async fn cancelling_at_wecom_returns_to_the_app_with_access_denied() {
    let env = start().await;
    let (client, _, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let to_wecom = b.get(&req.url).send().await.unwrap();
    let state = query_param(&location(&to_wecom), "state").unwrap();
    let page = b.get(format!("{}/connections/wecom/callback?state={state}", env.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let html = page.text().await.unwrap();
    let back = extract_attr(&html, "class=\"button\" href=\"").unwrap();
    assert!(back.starts_with(REDIRECT));
    assert_eq!(query_param(&back, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn wecom_errors_show_the_catalogue_explanation_and_create_no_user() {
    let env = start().await;
    let (client, _, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let cases = [
        (
            json!({"path": "/cgi-bin/auth/getuserinfo", "kind": "errcode", "errcode": 40029, "count": 1}),
            StatusCode::BAD_GATEWAY,
            "40029",
        ),
        (
            json!({"path": "/cgi-bin/auth/getuserinfo", "kind": "errcode", "errcode": 60020, "count": 1}),
            StatusCode::BAD_GATEWAY,
            "60020",
        ),
        (json!({"path": "/cgi-bin/user/get", "kind": "http_500", "count": 1}), StatusCode::BAD_GATEWAY, "Try again"),
        (
            json!({"path": "/cgi-bin/auth/getuserinfo", "kind": "malformed", "count": 1}),
            StatusCode::BAD_GATEWAY,
            "Try again",
        ),
        (
            json!({"path": "/cgi-bin/auth/getuserinfo", "kind": "delay", "delay_ms": 4000, "count": 1}),
            StatusCode::BAD_GATEWAY,
            "did not answer in time",
        ),
    ];
    for (fault, status, mentions) in cases {
        env.sim_fault(fault.clone()).await;
        let started = std::time::Instant::now();
        let (got, page) = refused(&env, &client, "ZhangSan").await;
        assert_eq!(got, status, "{fault}: {page}");
        assert!(page.contains(mentions), "{fault}: page should mention {mentions}: {page}");
        assert!(
            page.contains("error=server_error") || page.contains("error=temporarily_unavailable"),
            "a way back to the app: {page}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(4), "bounded by the WeCom timeout");
    }
    assert_eq!(env.user_count().await, 0);
    // After the faults the same flow works.
    let (client2, http2) =
        (client.clone(), reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap());
    sign_in(&env, &client2, &http2, "ZhangSan").await;
}

#[tokio::test]
async fn expired_access_token_at_wecom_is_refreshed_once_and_retried() {
    let env = start().await;
    let (client, http, _) = setup(&env, "wecom_qrcode", json!({})).await;
    sign_in(&env, &client, &http, "ZhangSan").await;
    let before = env.sim_calls("/cgi-bin/gettoken").await;
    env.sim_fault(json!({"path": "/cgi-bin/auth/getuserinfo", "kind": "errcode", "errcode": 42001, "count": 1})).await;
    sign_in(&env, &client, &http, "WangFang").await;
    assert_eq!(env.sim_calls("/cgi-bin/gettoken").await, before + 1, "one forced refresh");
}

#[tokio::test]
async fn single_sign_on_across_two_apps_needs_no_second_wecom_round_trip() {
    let env = start().await;
    let (client_a, http_a, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let (b_id, b_secret) = env.app("web", "https://second.example.com/cb").await;
    env.associate(&b_id, "wecom").await;
    let (client_b, http_b) = env.oidc_client(&b_id, b_secret.as_deref(), "https://second.example.com/cb").await;
    let browser = browser();
    let req = auth_request(&client_a, &["profile"], &[("connection", "wecom")]);
    let back = wecom_login(&browser, &req.url, "ZhangSan").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let a = exchange(&client_a, &http_a, code, req.verifier).await;
    let sub_a = a.id_token().unwrap().claims(&client_a.id_token_verifier(), &req.nonce).unwrap().subject().clone();
    let userinfo_calls = env.sim_calls("/cgi-bin/auth/getuserinfo").await;
    let req = auth_request(&client_b, &["profile"], &[]);
    let direct = browser.get(&req.url).send().await.unwrap();
    let code = code_from_redirect(&direct, &req, &env.base);
    let b = exchange(&client_b, &http_b, code, req.verifier).await;
    let sub_b = b.id_token().unwrap().claims(&client_b.id_token_verifier(), &req.nonce).unwrap().subject().clone();
    assert_eq!(sub_a, sub_b);
    assert_eq!(env.sim_calls("/cgi-bin/auth/getuserinfo").await, userinfo_calls, "no WeCom call for the second app");
}

#[tokio::test]
async fn the_login_page_lists_associated_browser_connections() {
    let env = start().await;
    let (client, _, client_id) = setup(&env, "wecom_qrcode", json!({})).await;
    env.corp_connection("mobile", "wecom_mobile", json!({})).await;
    env.associate(&client_id, "mobile").await;
    let req = auth_request(&client, &["profile"], &[]);
    let page = browser().get(&req.url).header("accept-language", "zh-CN,zh;q=0.9").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("wecom_qrcode wecom"), "the connection's display_name is a button");
    assert!(!html.contains("wecom_mobile mobile"), "the mobile connection has no browser button");
    assert!(html.contains("登录到"), "Chinese by Accept-Language");
}

// ---------------------------------------------------------------- wecom_mobile (RFC 8693)

async fn sdk_code(env: &Env, userid: &str) -> String {
    let seed = wecom_sim::Seed::demo();
    let body = json!({"corp_id": seed.corps[0].corp_id, "agent_id": seed.corps[0].apps[0].agent_id, "userid": userid});
    let answer: Value = env
        .http
        .post(format!("{}/_sim/sdk/code", env.sim.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["code"].as_str().expect("sdk code").to_string()
}

#[tokio::test]
async fn mobile_token_exchange_gives_id_access_and_refresh_tokens() {
    let env = start().await;
    env.corp_connection("mobile", "wecom_mobile", json!({})).await;
    let (client_id, _) = env.app("native", "com.example.app:/cb").await;
    env.associate(&client_id, "mobile").await;
    let config: Value =
        env.http.get(format!("{}/connections/mobile/config", env.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["schema"], wecom_sim::Seed::demo().corps[0].apps[0].schema.clone().unwrap());
    assert!(config.get("secret").is_none());

    let code = sdk_code(&env, "ZhangSan").await;
    let exchange = |code: String, subject_type: &'static str, connection: &'static str, client: String| {
        let base = env.base.clone();
        async move {
            token_call(
                &base,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                    ("subject_token", &code),
                    ("subject_token_type", subject_type),
                    ("connection", connection),
                    ("client_id", &client),
                    ("scope", "openid profile offline_access"),
                ],
                None,
            )
            .await
        }
    };
    const TYPE: &str = "urn:wegate:params:oauth:token-type:wecom-code";
    let (status, tokens) = exchange(code.clone(), TYPE, "mobile", client_id.clone()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        tokens["id_token"].is_string() && tokens["access_token"].is_string() && tokens["refresh_token"].is_string()
    );
    assert_eq!(tokens["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
    // The same code again: WeCom says 40029 → invalid_grant.
    let (status, body) = exchange(code, TYPE, "mobile", client_id.clone()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    // Wrong subject_token_type, unknown connection, unknown client.
    let (_, body) = exchange(
        sdk_code(&env, "ZhangSan").await,
        "urn:ietf:params:oauth:token-type:access_token",
        "mobile",
        client_id.clone(),
    )
    .await;
    assert_eq!(body["error"], "invalid_request");
    let (_, body) = exchange(sdk_code(&env, "ZhangSan").await, TYPE, "nope", client_id.clone()).await;
    assert_eq!(body["error"], "invalid_request");
    let (status, body) = exchange(sdk_code(&env, "ZhangSan").await, TYPE, "mobile", "no-such-client".into()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    // Outside the visible scope: access_denied.
    let (_, body) = exchange(sdk_code(&env, "ZhaoLiu").await, TYPE, "mobile", client_id.clone()).await;
    assert_eq!(body["error"], "access_denied");
    assert_eq!(env.user_count().await, 1);
}

/// Every browser kind × association mode × login-only, for a member with no account yet and a matching
/// local user (username = userid): who gets in, who is refused, who is asked to bind, and what is created.
#[tokio::test]
async fn kinds_by_association_by_login_only_matrix() {
    let sim = std::sync::Arc::new(simulator().await);
    for kind in ["wecom_qrcode", "wecom_web", "wecom_mobile"] {
        for mode in ["none", "match", "ask_to_bind"] {
            for login_only in [false, true] {
                let env = start_with(sim.clone(), |_| {}).await;
                let case = format!("{kind}/{mode}/login_only={login_only}");
                let association = if mode == "match" {
                    json!({"mode": "match", "fields": ["username"]})
                } else {
                    json!({"mode": mode})
                };
                env.corp_connection("wecom", kind, json!({"login_only": login_only, "association": association})).await;
                let existing = env.post("/users", json!({"username": "wangfang", "password": "wang-password"})).await;
                // WangFang has a local account with her userid as username; bob has none.
                for (member, has_account) in [("WangFang", true), ("bob", false)] {
                    let outcome = attempt(&env, kind, member).await;
                    let expected = match (mode, login_only, has_account) {
                        ("ask_to_bind", _, _) if kind != "wecom_mobile" => {
                            Outcome::AskedToBind { may_create: !login_only }
                        }
                        ("ask_to_bind", _, _) => Outcome::Refused,
                        ("match", _, true) => Outcome::SignedIn(Some(existing["id"].as_str().unwrap().to_string())),
                        (_, true, _) => Outcome::Refused,
                        _ => Outcome::SignedIn(None),
                    };
                    match (&expected, &outcome) {
                        (Outcome::SignedIn(Some(id)), Outcome::SignedIn(Some(got))) => {
                            assert_eq!(id, got, "{case} {member}")
                        }
                        (Outcome::SignedIn(None), Outcome::SignedIn(Some(got))) => {
                            assert_ne!(
                                got,
                                existing["id"].as_str().unwrap(),
                                "{case} {member}: a new user, not the local one"
                            )
                        }
                        _ => assert_eq!(expected, outcome, "{case} {member}"),
                    }
                }
                let created = env.user_count().await - 1;
                let expected_created = match (mode, login_only) {
                    ("none", false) => 2,
                    ("match", false) => 1,
                    _ => 0,
                };
                assert_eq!(created, expected_created, "{case}: users created");
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    SignedIn(Option<String>),
    AskedToBind { may_create: bool },
    Refused,
}

/// One sign-in attempt through the connection `wecom` of a fresh web (or native) app.
async fn attempt(env: &Env, kind: &str, member: &str) -> Outcome {
    if kind == "wecom_mobile" {
        let (client_id, _) = env.app("native", "com.example.app:/cb").await;
        env.associate(&client_id, "wecom").await;
        let (status, tokens) = token_call(
            &env.base,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                ("subject_token", &sdk_code(env, member).await),
                ("subject_token_type", "urn:wegate:params:oauth:token-type:wecom-code"),
                ("connection", "wecom"),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
        if status != StatusCode::OK {
            assert_eq!(tokens["error"], "access_denied", "{tokens}");
            return Outcome::Refused;
        }
        let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
        use base64::Engine;
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        return Outcome::SignedIn(claims["sub"].as_str().map(String::from));
    }
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "wecom").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let last = wecom_login(&browser(), &req.url, member).await;
    match last.status() {
        StatusCode::SEE_OTHER => {
            let code = code_from_redirect(&last, &req, &env.base);
            let tokens = exchange(&client, &http, code, req.verifier).await;
            let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
            Outcome::SignedIn(Some(claims.subject().as_str().to_string()))
        }
        StatusCode::OK => {
            let html = unescape(&last.text().await.unwrap());
            assert!(html.contains("/bind"), "{html}");
            Outcome::AskedToBind { may_create: html.contains("/create") }
        }
        StatusCode::FORBIDDEN => Outcome::Refused,
        other => panic!("unexpected {other}: {}", last.text().await.unwrap_or_default()),
    }
}

/// A member of a linked corp (企业互联 / 上下游) is named `CorpId/userid` by WeCom: refused by name, with a page
/// that says why, and no account is made for them.
#[tokio::test]
async fn a_linked_corps_member_is_refused_with_a_clear_page() {
    let env = start().await;
    let (client, _, _) = setup(&env, "wecom_qrcode", json!({})).await;
    let (status, page) = refused(&env, &client, "LiuYang").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("linked to this one"), "{page}");
    assert_eq!(env.user_count().await, 0);
}

/// `email_verified` is true for a WeCom email only when the connection says `trust_email` (a corp admin can
/// set any email on a member); for a local account only when the admin says so.
#[tokio::test]
async fn wecom_emails_are_verified_only_with_trust_email() {
    let env = start().await;
    let (client, http, _) = setup(&env, "wecom_web", json!({"scope": "snsapi_privateinfo"})).await;
    let claims = sign_in(&env, &client, &http, "ZhangSan").await;
    assert!(claims["email"].is_string(), "{claims}");
    assert_eq!(claims["email_verified"], false, "not trusted by default");

    let (status, body) = env.admin(Method::PATCH, "/connections/wecom", Some(json!({"trust_email": true}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["trust_email"], true);
    let claims = sign_in(&env, &client, &http, "ZhangSan").await;
    assert_eq!(claims["email_verified"], true, "the connection vouches for its emails");

    let vouched = env.post("/users", json!({"username": "v", "email": "v@example.com", "email_verified": true})).await;
    let unvouched = env.post("/users", json!({"username": "u", "email": "u@example.com"})).await;
    assert_eq!(vouched["claims"]["email_verified"], true);
    assert_eq!(unvouched["claims"]["email_verified"], false);
}

/// WeCom's QR page speaks the app's language when the app asked for one (`ui_locales` → `lang`).
#[tokio::test]
async fn the_wecom_qr_page_gets_the_apps_language() {
    let env = start().await;
    let (client, _, _) = setup(&env, "wecom_qrcode", json!({})).await;
    for (ui_locales, lang) in [(Some("zh-CN"), Some("zh")), (Some("en"), Some("en")), (None, None)] {
        let mut extra = vec![("connection", "wecom")];
        if let Some(l) = ui_locales {
            extra.push(("ui_locales", l));
        }
        let req = auth_request(&client, &["profile"], &extra);
        let to = browser().get(&req.url).send().await.unwrap();
        assert_eq!(query_param(&location(&to), "lang").as_deref(), lang, "ui_locales={ui_locales:?}");
    }
}
