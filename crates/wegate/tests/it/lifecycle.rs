//! Member lifecycle (CONTRACT.md, "Member lifecycle"), end to end: WeCom's address-book events reach the
//! connection's event URL, a departed member is signed out of every app within seconds (an OIDC
//! Back-Channel Logout token, verified here by a test receiver), refreshes re-check membership, and an admin
//! can disable and enable a user.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openidconnect::{OAuth2TokenResponse, RefreshToken, TokenResponse};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

pub(crate) const REDIRECT: &str = "https://app.example.com/cb";
/// The callback Token and EncodingAESKey of the demo app's 接收消息 API settings in these tests.
const TOKEN: &str = "lifecycleToken1";
const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// An app's back-channel logout endpoint: keeps every `logout_token` it receives.
pub(crate) struct Receiver {
    pub(crate) url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

pub(crate) async fn receiver() -> Receiver {
    use axum::extract::{Form, State};
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/backchannel",
            axum::routing::post(
                |State(seen): State<Arc<Mutex<Vec<String>>>>, Form(form): Form<Vec<(String, String)>>| async move {
                    let token = form.into_iter().find(|(k, _)| k == "logout_token").map(|(_, v)| v);
                    match token {
                        Some(token) => {
                            seen.lock().unwrap().push(token);
                            StatusCode::OK
                        }
                        None => StatusCode::BAD_REQUEST,
                    }
                },
            ),
        )
        .with_state(tokens.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url: format!("http://{addr}/backchannel"), tokens }
}

impl Receiver {
    /// Waits (a few seconds at most) for the `n`th logout token.
    pub(crate) async fn token(&self, n: usize) -> String {
        for _ in 0..200 {
            if let Some(token) = self.tokens.lock().unwrap().get(n - 1) {
                return token.clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no logout token #{n} arrived");
    }

    pub(crate) fn count(&self) -> usize {
        self.tokens.lock().unwrap().len()
    }
}

/// Verifies a logout token against the server's JWKS and returns its claims and header type.
pub(crate) async fn verify_logout_token(env: &Env, token: &str) -> (Value, Option<String>) {
    let header = jsonwebtoken::decode_header(token).expect("header");
    let jwks: jsonwebtoken::jwk::JwkSet =
        env.http.get(format!("{}/jwks", env.base)).send().await.unwrap().json().await.unwrap();
    let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("key in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[env.base.as_str()]);
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid signature by wegate");
    (data.claims, header.typ)
}

/// A qrcode connection of the demo app with callback secrets, its event URL verified by the simulator, and a
/// web app (with a back-channel logout URI when given) that enables it.
pub(crate) async fn wired(env: &Env, backchannel: Option<&str>) -> (String, Client, reqwest::Client) {
    let created =
        env.corp_connection("wecom", "wecom_qrcode", json!({"token": TOKEN, "encoding_aes_key": AES_KEY})).await;
    let event_url = created["event_url"].as_str().expect("a self-built connection with secrets has an event URL");
    let seed = wecom_sim::Seed::demo();
    let (corp, agent) = (&seed.corps[0].corp_id, seed.corps[0].apps[0].agent_id);
    let verified = sim_post(
        env,
        &format!("/_sim/apps/{corp}/{agent}/callback"),
        json!({"url": event_url, "token": TOKEN, "encoding_aes_key": AES_KEY}),
    )
    .await;
    assert_eq!(verified["verified"], true, "{verified}");
    let mut body = json!({"name": "web", "kind": "web", "redirect_uris": [REDIRECT]});
    if let Some(uri) = backchannel {
        body["backchannel_logout_uri"] = json!(uri);
    }
    let app = env.post("/apps", body).await;
    let client_id = app["client_id"].as_str().unwrap().to_string();
    assert_eq!(app["backchannel_logout_uri"].as_str(), backchannel);
    env.associate(&client_id, "wecom").await;
    let (client, http) = env.oidc_client(&client_id, app["client_secret"].as_str(), REDIRECT).await;
    (client_id, client, http)
}

pub(crate) async fn sim_post(env: &Env, path: &str, body: Value) -> Value {
    let response = env.http.post(format!("{}{path}", env.sim.base)).json(&body).send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

/// Signs `member` in with offline_access: (user id, sid, refresh token).
pub(crate) async fn sign_in(
    env: &Env,
    client: &Client,
    http: &reqwest::Client,
    member: &str,
) -> (String, String, RefreshToken) {
    let req = auth_request(client, &["profile", "offline_access"], &[("connection", "wecom")]);
    let back = wecom_login(&browser(), &req.url, member).await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    let id_token = tokens.id_token().expect("id token");
    let claims = id_token.claims(&client.id_token_verifier(), &req.nonce).expect("claims");
    (
        claims.subject().to_string(),
        sid_of(&id_token.to_string()),
        tokens.refresh_token().expect("refresh token").clone(),
    )
}

/// The `sid` of an ID token (its payload, unverified: the client already verified it).
fn sid_of(id_token: &str) -> String {
    use base64::Engine;
    let payload = id_token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    let claims: Value = serde_json::from_slice(&bytes).expect("json");
    claims["sid"].as_str().expect("sid").to_string()
}

pub(crate) async fn refresh(
    client: &Client,
    http: &reqwest::Client,
    token: &RefreshToken,
) -> Result<RefreshToken, String> {
    match client.exchange_refresh_token(token).expect("token endpoint").request_async(http).await {
        Ok(tokens) => Ok(tokens.refresh_token().expect("rotated").clone()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test]
async fn a_member_deleted_in_wecom_is_signed_out_of_every_app_within_seconds() {
    let env = start().await;
    let bc = receiver().await;
    let (client_id, client, http) = wired(&env, Some(&bc.url)).await;
    let (user_id, sid, refresh_token) = sign_in(&env, &client, &http, "ZhangSan").await;
    let discovery: Value = env
        .http
        .get(format!("{}/.well-known/openid-configuration", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["backchannel_logout_supported"], true, "{discovery}");
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    let pushed = sim_post(&env, &format!("/_sim/corps/{corp}/members/ZhangSan/delete"), json!({})).await;
    assert!(pushed["pushes"].as_array().unwrap().iter().any(|p| p["delivered"] == true), "{pushed}");

    let (claims, typ) = verify_logout_token(&env, &bc.token(1).await).await;
    assert_eq!(typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["iss"], env.base.as_str());
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["sid"], sid.as_str());
    assert!(claims["events"][EVENT].is_object(), "{claims}");
    assert!(claims["jti"].is_string() && claims["iat"].is_i64());
    assert!(claims.get("nonce").is_none(), "a logout token never carries a nonce");

    let refused = refresh(&client, &http, &refresh_token).await.unwrap_err();
    assert!(refused.contains("invalid_grant"), "{refused}");
    // The browser's session is gone too: prompt=none cannot answer from it.
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let again = try_wecom_login(&browser(), &req.url, "ZhangSan").await;
    assert!(again.is_none_or(|r| r.status() != StatusCode::SEE_OTHER || !location(&r).contains("code=")));
    let (_, audit) = env.admin(Method::GET, "/audit?limit=50", None).await;
    let events: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(events.contains(&"member.departed") && events.contains(&"user.signed_out_everywhere"), "{events:?}");
    for _ in 0..100 {
        let (_, audit) = env.admin(Method::GET, "/audit?limit=50", None).await;
        if audit.to_string().contains("backchannel_logout.delivered") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the delivery was never audited");
}

#[tokio::test]
async fn a_member_disabled_in_wecom_is_signed_out_and_an_update_refreshes_the_profile() {
    let env = start().await;
    let bc = receiver().await;
    let (_, client, http) = wired(&env, Some(&bc.url)).await;
    let (user_id, _, refresh_token) = sign_in(&env, &client, &http, "WangFang").await;
    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();

    sim_post(
        &env,
        &format!("/_sim/corps/{corp}/members/WangFang/update"),
        json!({"name": "王芳芳", "position": "CFO"}),
    )
    .await;
    let (_, user) = env.admin(Method::GET, &format!("/users/{user_id}"), None).await;
    assert_eq!(user["name"], "王芳芳", "{user}");
    assert_eq!(user["identities"][0]["profile"]["position"], "CFO");
    assert_eq!(bc.count(), 0, "an update is no departure");
    let refresh_token = refresh(&client, &http, &refresh_token).await.expect("still signed in");

    sim_post(&env, &format!("/_sim/corps/{corp}/members/WangFang/update"), json!({"status": 2})).await;
    let (claims, _) = verify_logout_token(&env, &bc.token(1).await).await;
    assert_eq!(claims["sub"], user_id.as_str());
    assert!(refresh(&client, &http, &refresh_token).await.unwrap_err().contains("invalid_grant"));
}

/// WeCom may not announce a member leaving the app's visible scope (or the app may have no event URL): the
/// refresh re-checks with `user/get` once the last check is older than WEGATE_MEMBERSHIP_RECHECK.
#[tokio::test]
async fn a_refresh_re_checks_membership_when_due_and_forgives_an_outage_for_a_while() {
    let env = start().await;
    let bc = receiver().await;
    let app = env
        .post(
            "/apps",
            json!({"name": "web", "kind": "web", "redirect_uris": [REDIRECT], "backchannel_logout_uri": bc.url}),
        )
        .await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let client_id = app["client_id"].as_str().unwrap();
    env.associate(client_id, "wecom").await;
    let (client, http) = env.oidc_client(client_id, app["client_secret"].as_str(), REDIRECT).await;
    let (_, _, first) = sign_in(&env, &client, &http, "ZhangSan").await;
    let (_, _, other) = sign_in(&env, &client, &http, "alice").await;

    // WeCom unreachable when the check is due: the refresh still succeeds (grace), and is checked next time.
    env.clock.advance(3601);
    env.sim_fault(json!({"path": "/cgi-bin/user/get", "kind": "http_500", "count": 5})).await;
    let first = refresh(&client, &http, &first).await.expect("forgiven within the grace period");
    env.http.delete(format!("{}/_sim/faults", env.sim.base)).send().await.unwrap();
    let calls = env.sim_calls("/cgi-bin/user/get").await;
    let first = refresh(&client, &http, &first).await.expect("member: checked and allowed");
    assert_eq!(env.sim_calls("/cgi-bin/user/get").await, calls + 1, "re-checked");
    let first = refresh(&client, &http, &first).await.expect("not due again yet");
    assert_eq!(env.sim_calls("/cgi-bin/user/get").await, calls + 1, "no check until due again");

    // Deleted without an event (this app has no event URL): found at the next due re-check.
    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    sim_post(&env, &format!("/_sim/corps/{corp}/members/ZhangSan/delete"), json!({})).await;
    let first = refresh(&client, &http, &first).await.expect("not due: still allowed");
    env.clock.advance(3601);
    assert!(refresh(&client, &http, &first).await.unwrap_err().contains("invalid_grant"));
    let (claims, _) = verify_logout_token(&env, &bc.token(1).await).await;
    assert!(claims["sid"].is_string());
    let (_, user) = env.admin(Method::GET, &format!("/users/{}", claims["sub"].as_str().unwrap()), None).await;
    assert_eq!(user["disabled"], true, "a departure found by the re-check disables the account too");

    // A long outage: past the grace period a refresh is refused.
    env.clock.advance(25 * 3600);
    env.sim_fault(json!({"path": "/cgi-bin/user/get", "kind": "http_500", "count": 5})).await;
    assert!(refresh(&client, &http, &other).await.unwrap_err().contains("invalid_grant"));
}

#[tokio::test]
async fn an_admin_disables_and_enables_a_user() {
    let env = start().await;
    let bc = receiver().await;
    let (_, client, http) = wired(&env, Some(&bc.url)).await;
    let (user_id, sid, refresh_token) = sign_in(&env, &client, &http, "ZhangSan").await;
    let (status, _) = env.admin(Method::PATCH, &format!("/users/{user_id}"), None).await;
    assert_ne!(status, StatusCode::OK, "no PATCH needed: disable is its own verb");

    let (status, user) = env.admin(Method::POST, &format!("/users/{user_id}/disable"), None).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["disabled"], true);
    let (claims, _) = verify_logout_token(&env, &bc.token(1).await).await;
    assert_eq!(claims["sid"], sid.as_str());
    assert!(refresh(&client, &http, &refresh_token).await.unwrap_err().contains("invalid_grant"));
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let page = wecom_login(&browser(), &req.url, "ZhangSan").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.unwrap().contains("disabled"));

    let (status, user) = env.admin(Method::POST, &format!("/users/{user_id}/enable"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["disabled"], false);
    sign_in(&env, &client, &http, "ZhangSan").await;
    let (status, _) = env.admin(Method::POST, "/users/nope/disable", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_with_a_password() {
    let env = start().await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let user = env.post("/users", json!({"username": "dora", "password": "dora-password"})).await;
    let id = user["id"].as_str().unwrap();
    env.admin(Method::POST, &format!("/users/{id}/disable"), None).await;
    let req = auth_request(&client, &["profile"], &[]);
    let page = password_login(&browser(), &req.url, "dora", "dora-password").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.unwrap().contains("disabled"));
    // A wrong password says nothing of the account's state.
    let req = auth_request(&client, &["profile"], &[]);
    let page = password_login(&browser(), &req.url, "dora", "wrong-password").await;
    assert!(!page.text().await.unwrap().contains("disabled"));
}

/// Forged, mis-addressed, stale and replayed events change nothing.
#[tokio::test]
async fn forged_or_replayed_address_book_events_change_nothing() {
    let env = start().await;
    let (_, client, http) = wired(&env, None).await;
    let (_, _, refresh_token) = sign_in(&env, &client, &http, "ZhangSan").await;
    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    let right = wecom::MsgCrypt::new(TOKEN, AES_KEY).unwrap();
    let wrong = wecom::MsgCrypt::new("someOtherToken", AES_KEY).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let delete = wecom::Event::ChangeContact {
        suite_id: None,
        auth_corp_id: Some(corp.clone()),
        change_type: "delete_user".into(),
        user_id: Some("zhangsan".into()),
        member: Box::default(),
        timestamp: now.parse().unwrap(),
    };
    let sealed = |crypt: &wecom::MsgCrypt, receive_id: &str, timestamp: &str, nonce: &str| {
        let (body, signature) =
            crypt.encrypt_to_post_body(&delete.to_xml(), receive_id, receive_id, Some("1000002"), timestamp, nonce);
        let url = format!(
            "{}/connections/wecom/events?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}",
            env.base
        );
        (url, body)
    };
    let send = |(url, body): (String, String)| env.http.post(url).body(body).send();
    for (response, why) in [
        (send(sealed(&wrong, &corp, &now, "1")).await.unwrap(), "signature"),
        (send(sealed(&right, "wwsomeothercorp", &now, "2")).await.unwrap(), "receive id"),
        (send(sealed(&right, &corp, "1000000000", "3")).await.unwrap(), "timestamp"),
    ] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
    }
    let refresh_token = refresh(&client, &http, &refresh_token).await.expect("nothing changed");

    // The genuine event acts once; the same message again (a replay, or WeCom's retry) is acknowledged and
    // does nothing more: the session made after it survives.
    let genuine = sealed(&right, &corp, &now, "4");
    assert_eq!(send(genuine.clone()).await.unwrap().text().await.unwrap(), "success");
    assert!(refresh(&client, &http, &refresh_token).await.is_err());
    // The departure disabled the account; an admin lets the person back in, who signs in again.
    let (_, users) = env.admin(Method::GET, "/users", None).await;
    let id = users["items"][0]["id"].as_str().unwrap().to_string();
    let (_, user) = env.admin(Method::POST, &format!("/users/{id}/enable"), None).await;
    assert_eq!(user["disabled"], false);
    let (_, _, after) = sign_in(&env, &client, &http, "ZhangSan").await;
    let replay = send(genuine).await.unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.text().await.unwrap(), "success");
    refresh(&client, &http, &after).await.expect("the replayed deletion did not sign the new session out");
}

/// Two instances on one database: the event arrives at A, the tokens B issued stop working.
#[tokio::test]
async fn an_event_at_one_instance_revokes_what_the_other_issued() {
    let a = start_shared().await;
    let bc = receiver().await;
    let (_, _, _) = wired(&a, Some(&bc.url)).await;
    let db = format!("sqlite://{}", a._dir.path().join("wegate.db").display());
    let b = start_on_db(a.sim.clone(), a._dir.clone(), db, |s| s.issuer = a.base.clone()).await;
    let (_, app) = b.admin(Method::GET, "/apps", None).await;
    let client_id = app["items"][0]["client_id"].as_str().unwrap().to_string();
    let (_, rotated) =
        b.admin(Method::PATCH, &format!("/apps/{client_id}"), Some(json!({"rotate_secret": true}))).await;
    // B's tokens: its discovery names A's issuer (one public URL), its token endpoint is its own.
    let (client, http) = a.oidc_client(&client_id, rotated["client_secret"].as_str(), REDIRECT).await;
    let (_, _, refresh_token) = sign_in(&a, &client, &http, "ZhangSan").await;
    let via_b = token_call(
        &b.base,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret())],
        Some((&client_id, rotated["client_secret"].as_str().unwrap())),
    )
    .await;
    assert_eq!(via_b.0, StatusCode::OK, "B refreshes: {}", via_b.1);
    let issued_by_b = via_b.1["refresh_token"].as_str().unwrap().to_string();

    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    // The simulator pushes to A's event URL (the one it verified).
    sim_post(&a, &format!("/_sim/corps/{corp}/members/ZhangSan/delete"), json!({})).await;
    bc.token(1).await;
    let after = token_call(
        &b.base,
        &[("grant_type", "refresh_token"), ("refresh_token", &issued_by_b)],
        Some((&client_id, rotated["client_secret"].as_str().unwrap())),
    )
    .await;
    assert_eq!(after.0, StatusCode::BAD_REQUEST);
    assert_eq!(after.1["error"], "invalid_grant");
}

/// A delegated connection hears of departures on its event URL too, with WeCom's encrypted ids.
#[tokio::test]
async fn a_delegated_connection_signs_out_a_member_deleted_in_the_authorizing_corp() {
    use crate::delegated::{delegated, wait_for_corp};
    let env = start().await;
    let bc = receiver().await;
    let (client, http, template_id) = delegated(&env, json!({})).await;
    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    let customer = wecom_sim::Seed::demo().corps[1].corp_id.clone();
    sim_post(&env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": customer})).await;
    wait_for_corp(&env, "deleg", "active").await;
    let client_id = client.client_id().to_string();
    let (status, _) =
        env.admin(Method::PATCH, &format!("/apps/{client_id}"), Some(json!({"backchannel_logout_uri": bc.url}))).await;
    assert_eq!(status, StatusCode::OK);

    let req = auth_request(&client, &["profile", "offline_access"], &[("connection", "deleg")]);
    let back = wecom_login(&browser(), &req.url, "LiuYang").await;
    let tokens = exchange(&client, &http, code_from_redirect(&back, &req, &env.base), req.verifier).await;
    let refresh_token = tokens.refresh_token().expect("refresh token").clone();

    let pushed = sim_post(&env, &format!("/_sim/corps/{customer}/members/LiuYang/delete"), json!({})).await;
    assert!(pushed["pushes"].as_array().unwrap().iter().any(|p| p["delivered"] == true), "{pushed}");
    let (claims, _) = verify_logout_token(&env, &bc.token(1).await).await;
    assert_eq!(claims["aud"], client_id.as_str());
    assert!(refresh(&client, &http, &refresh_token).await.unwrap_err().contains("invalid_grant"));
}

/// PostgreSQL: the event arrives at one process, the other's tokens stop working (skipped without a server).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_an_event_at_one_process_revokes_what_the_other_issued() {
    let Some(admin_url) = std::env::var("WEGATE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: WEGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let db_url = crate::scale::create_database(&admin_url).await;
    let sim = Arc::new(simulator().await);
    let first = spawn_process(&sim, &db_url).await;
    let second = spawn_process_with(&sim, &db_url, &[("WEGATE_ISSUER", first.base.as_str())]).await;
    let a = Env::remote(&first.base, sim.clone());
    let bc = receiver().await;
    let (client_id, client, http) = wired(&a, Some(&bc.url)).await;
    let (_, _, refresh_token) = sign_in(&a, &client, &http, "ZhangSan").await;
    let (_, secret) = a.admin(Method::PATCH, &format!("/apps/{client_id}"), Some(json!({"rotate_secret": true}))).await;
    let secret = secret["client_secret"].as_str().unwrap().to_string();
    let via_second = token_call(
        &second.base,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token.secret())],
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(via_second.0, StatusCode::OK, "{}", via_second.1);
    let issued_by_second = via_second.1["refresh_token"].as_str().unwrap().to_string();

    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    sim_post(&a, &format!("/_sim/corps/{corp}/members/ZhangSan/delete"), json!({})).await;
    bc.token(1).await;
    let after = token_call(
        &second.base,
        &[("grant_type", "refresh_token"), ("refresh_token", &issued_by_second)],
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(after.1["error"], "invalid_grant", "{}", after.1);
}

/// A refresh token from before grants recorded their origin (migration 0005) is revoked too when its person
/// is signed out everywhere.
#[tokio::test]
async fn a_grant_without_a_recorded_origin_is_revoked_too() {
    let env = start_shared().await;
    let (_, client, http) = wired(&env, None).await;
    let (user_id, _, refresh_token) = sign_in(&env, &client, &http, "ZhangSan").await;
    let conn = rusqlite::Connection::open(env._dir.path().join("wegate.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    conn.execute("DELETE FROM grant_origins", []).unwrap();
    let (status, _) = env.admin(Method::POST, &format!("/users/{user_id}/disable"), None).await;
    assert_eq!(status, StatusCode::OK);
    let left: i64 = conn.query_row("SELECT COUNT(*) FROM refresh_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "revoked, not just refused");
    let (status, _) = env.admin(Method::POST, &format!("/users/{user_id}/enable"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(refresh(&client, &http, &refresh_token).await.unwrap_err().contains("invalid_grant"));
}

/// The browser's own session ends with the departure: `prompt=none` answered from it before, not after.
#[tokio::test]
async fn a_departed_members_browser_session_ends_and_an_unredeemed_code_yields_nothing() {
    let env = start().await;
    let (_, client, http) = wired(&env, None).await;
    let b = browser();
    let first = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let back = wecom_login(&b, &first.url, "ZhangSan").await;
    let code = code_from_redirect(&back, &first, &env.base);
    let silent = |extra: &'static str| {
        let req = auth_request(&client, &["profile"], &[("prompt", "none")]);
        let b = &b;
        async move {
            let to = location(&b.get(&req.url).send().await.unwrap());
            assert!(to.contains(extra), "{to}");
        }
    };
    silent("code=").await;

    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    sim_post(&env, &format!("/_sim/corps/{corp}/members/ZhangSan/delete"), json!({})).await;
    silent("error=login_required").await;
    // The code WeCom's sign-in produced just before the departure: its grant is revoked with the rest.
    let refused = client
        .exchange_code(openidconnect::AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(first.verifier)
        .request_async(&http)
        .await;
    assert!(format!("{refused:?}").contains("invalid_grant"), "{refused:?}");
}

/// WeCom renamed the member's userid (`update_user` with `NewUserID`): the identity follows, so the next
/// sign-in under the new userid is the same account.
#[tokio::test]
async fn a_renamed_userid_keeps_its_account() {
    let env = start().await;
    let (_, client, http) = wired(&env, None).await;
    let (user_id, _, _) = sign_in(&env, &client, &http, "ZhangSan").await;
    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    let crypt = wecom::MsgCrypt::new(TOKEN, AES_KEY).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let rename = wecom::Event::ChangeContact {
        suite_id: None,
        auth_corp_id: Some(corp.clone()),
        change_type: "update_user".into(),
        user_id: Some("ZhangSan".into()),
        member: Box::new(wecom::ContactMember { new_user_id: Some("ZhangSan2".into()), ..Default::default() }),
        timestamp: now.parse().unwrap(),
    };
    let (body, signature) = crypt.encrypt_to_post_body(&rename.to_xml(), &corp, &corp, Some("1000002"), &now, "r1");
    let url = format!("{}/connections/wecom/events?msg_signature={signature}&timestamp={now}&nonce=r1", env.base);
    assert_eq!(env.http.post(url).body(body).send().await.unwrap().text().await.unwrap(), "success");
    let (_, user) = env.admin(Method::GET, &format!("/users/{user_id}"), None).await;
    assert_eq!(user["identities"][0]["subject"], "zhangsan2", "{user}");
}
