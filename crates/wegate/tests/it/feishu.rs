//! Feishu / Lark end to end: the real server against the strict Feishu simulator (`feishu-sim`): a custom app
//! and a marketplace app, the availability scope, allowed tenants, both error shapes, the in-Feishu browser,
//! the marketplace event URL with its app_ticket (forged and replayed pushes change nothing), the refresh
//! re-check, and two instances sharing the ticket and the tokens.

use std::sync::Arc;

use feishu_sim::{
    CUSTOM_APP_ID, CUSTOM_APP_SECRET, DEMO_TENANT, OTHER_TENANT, STORE_APP_ID, STORE_APP_SECRET, STORE_ENCRYPT_KEY,
    STORE_VERIFICATION_TOKEN, Seed, SimConfig, Simulator,
};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

const REDIRECT: &str = "https://app.example/cb";

struct Fs {
    base: String,
    sim: Simulator,
    _task: tokio::task::JoinHandle<()>,
}

async fn fs() -> Fs {
    let config = SimConfig { ticket_interval_secs: 0, retry_delays_ms: vec![50, 50], duplicate_pushes: false };
    let (addr, sim, task) = Simulator::spawn(Seed::demo(), config).await.expect("Feishu simulator");
    Fs { base: format!("http://{addr}"), sim, _task: task }
}

fn point(s: &mut wegate::config::Settings, base: &str) {
    s.feishu_api_base = format!("{base}/open");
    s.feishu_accounts_base = format!("{base}/accounts");
}

async fn start_fs() -> (Env, Fs) {
    let f = fs().await;
    let base = f.base.clone();
    let env = start_with(Arc::new(simulator().await), move |s| point(s, &base)).await;
    (env, f)
}

impl Fs {
    fn register(&self, issuer: &str, app_id: &str, identifiers: &[&str]) {
        let uris = identifiers.iter().map(|i| format!("{issuer}/connections/{i}/callback")).collect();
        self.sim.set_redirect_uris(app_id, uris);
    }
    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/_sim/stats", self.base)).await.unwrap().json().await.unwrap()
    }
    async fn fault(&self, fault: Value) {
        let r = reqwest::Client::new().post(format!("{}/_sim/faults", self.base)).json(&fault).send().await.unwrap();
        assert!(r.status().is_success(), "fault refused: {}", r.text().await.unwrap_or_default());
    }
    async fn status(&self, user: &str, status: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/_sim/users/{user}/status", self.base))
            .json(&json!({"status": status}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

async fn custom_connection(env: &Env, identifier: &str, extra: Value) {
    let mut body = json!({"identifier": identifier, "display_name": "飞书", "kind": "feishu",
                          "app_id": CUSTOM_APP_ID, "app_secret": CUSTOM_APP_SECRET});
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    env.post("/connections", body).await;
}

async fn store_connection(env: &Env, identifier: &str, allowed: &[&str]) {
    env.post(
        "/connections",
        json!({"identifier": identifier, "display_name": "飞书应用商店", "kind": "feishu_marketplace",
               "app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET, "encrypt_key": STORE_ENCRYPT_KEY,
               "verification_token": STORE_VERIFICATION_TOKEN, "allowed_tenants": allowed}),
    )
    .await;
}

/// The authorize page as a browser does it: authorize → Feishu's page (`sim_user` picks who) → our callback.
async fn fs_login(browser: &reqwest::Client, auth_url: &str, user: &str) -> reqwest::Response {
    let to_feishu = browser.get(auth_url).send().await.expect("authorize");
    assert_eq!(to_feishu.status(), StatusCode::SEE_OTHER, "{}", to_feishu.text().await.unwrap_or_default());
    let page = location(&to_feishu);
    assert!(page.contains("code_challenge_method=S256"), "{page}");
    let picked = browser.get(format!("{page}&sim_user={user}")).send().await.expect("Feishu page");
    assert!(picked.status().is_redirection(), "{}", picked.text().await.unwrap_or_default());
    browser.get(location(&picked)).send().await.expect("callback")
}

async fn web_app(env: &Env, connections: &[&str]) -> (Client, reqwest::Client) {
    let (client_id, secret) = env.app("web", REDIRECT).await;
    for c in connections {
        env.associate(&client_id, c).await;
    }
    env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await
}

async fn page_text(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, unescape(&response.text().await.unwrap()))
}

/// Signs `user` in through `connection`; the ID token's sub and the refresh token (asked with offline_access).
async fn sign_in(env: &Env, client: &Client, http: &reqwest::Client, connection: &str, user: &str) -> (String, String) {
    let req = auth_request(client, &["profile", "email", "offline_access"], &[("connection", connection)]);
    let done = fs_login(&browser(), &req.url, user).await;
    let code = code_from_redirect(&done, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    (claims.subject().to_string(), tokens.refresh_token().map(|t| t.secret().clone()).unwrap_or_default())
}

#[tokio::test]
async fn a_custom_app_signs_in_its_tenant_within_the_availability_scope() {
    let (env, f) = start_fs().await;
    f.register(&env.base, CUSTOM_APP_ID, &["feishu"]);
    let scopes = json!({"scopes": ["contact:user.email:readonly", "contact:user.employee_id:readonly"]});
    custom_connection(&env, "feishu", scopes).await;
    let (client, http) = web_app(&env, &["feishu"]).await;

    let (sub, _) = sign_in(&env, &client, &http, "feishu", "u-zhangsan").await;
    assert_eq!(sign_in(&env, &client, &http, "feishu", "u-zhangsan").await.0, sub, "same person, same sub");
    let (_, user) = env.admin(reqwest::Method::GET, &format!("/users/{sub}"), None).await;
    let identity = &user["identities"][0];
    assert_eq!(identity["upstream"], format!("feishu:{DEMO_TENANT}"));
    assert_eq!(identity["subject"], feishu_sim::open_id(CUSTOM_APP_ID, "u-zhangsan"));
    assert_eq!(user["claims"]["feishu_union_id"], feishu_sim::union_id(DEMO_TENANT, "u-zhangsan"), "{user}");
    assert_eq!(user["claims"]["feishu_user_id"], "zhangsan", "{user}");
    // Feishu's email is admin-imported: not on the account, never verified, unless the admin trusts it.
    assert!(user["email"].is_null(), "{user}");

    // Outside the app's availability (20010), resigned, declining: a page each, nobody created.
    for (who, status, sentence) in [
        ("u-wangwu", StatusCode::FORBIDDEN, "Your 飞书 account is not allowed to use this app"),
        ("u-zhaoliu", StatusCode::FORBIDDEN, "disabled, or no longer in"),
    ] {
        let req = auth_request(&client, &["profile"], &[("connection", "feishu")]);
        let (got, page) = page_text(fs_login(&browser(), &req.url, who).await).await;
        assert_eq!(got, status, "{who}: {page}");
        assert!(page.contains(sentence), "{who}: {page}");
    }
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "feishu")]);
    let to_feishu = b.get(&req.url).send().await.unwrap();
    let declined = b.get(format!("{}&sim_deny=1", location(&to_feishu))).send().await.unwrap();
    let (status, page) = page_text(b.get(location(&declined)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("You cancelled the sign-in at 飞书"), "{page}");
    assert_eq!(env.user_count().await, 1);

    // A code brought back twice (to a new login): Feishu refuses it, so does wegate.
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "feishu")]);
    let to_feishu = b.get(&req.url).send().await.unwrap();
    let picked = b.get(format!("{}&sim_user=u-lisi", location(&to_feishu))).send().await.unwrap();
    let callback = location(&picked);
    code_from_redirect(&b.get(&callback).send().await.unwrap(), &req, &env.base);
    let code = query_param(&callback, "code").unwrap();
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "feishu")]);
    let state = query_param(&location(&b.get(&req.url).send().await.unwrap()), "state").unwrap();
    let replay =
        b.get(format!("{}/connections/feishu/callback?code={code}&state={state}", env.base)).send().await.unwrap();
    let (status, page) = page_text(replay).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("invalid, has expired, or was already used"), "{page}");
    assert_eq!(env.user_count().await, 2);

    // trust_email: the admin vouches for the tenant's emails.
    let (status, _) =
        env.admin(reqwest::Method::PATCH, "/connections/feishu", Some(json!({"trust_email": true}))).await;
    assert_eq!(status, StatusCode::OK);
    let req = auth_request(&client, &["profile", "email"], &[("connection", "feishu")]);
    let code = code_from_redirect(&fs_login(&browser(), &req.url, "u-zhangsan").await, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    assert_eq!(claims.email_verified(), Some(true));
    assert!(claims.email().is_some());
}

/// A marketplace app's credentials in a `feishu` (custom app) connection would let any tenant that installs the
/// app in: the connection checks that its app is a custom one, and refuses everyone otherwise.
#[tokio::test]
async fn a_marketplace_app_in_a_custom_app_connection_lets_nobody_in() {
    let (env, f) = start_fs().await;
    f.register(&env.base, STORE_APP_ID, &["feishu"]);
    env.post(
        "/connections",
        json!({"identifier": "feishu", "display_name": "飞书", "kind": "feishu",
               "app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET}),
    )
    .await;
    let (client, _) = web_app(&env, &["feishu"]).await;
    for user in ["u-sunqi", "u-lisi"] {
        let req = auth_request(&client, &["profile"], &[("connection", "feishu")]);
        let (status, page) = page_text(fs_login(&browser(), &req.url, user).await).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{user}: {page}");
        assert!(page.contains("misconfigured"), "{page}");
    }
    assert_eq!(env.user_count().await, 0);
}

#[tokio::test]
async fn inside_the_feishu_client_the_authorize_page_opens_without_a_click() {
    let (env, f) = start_fs().await;
    f.register(&env.base, CUSTOM_APP_ID, &["feishu"]);
    custom_connection(&env, "feishu", json!({})).await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client, _) = web_app(&env, &["wecom", "feishu"]).await;
    let lark = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (Macintosh) AppleWebKit/537.36 Lark/7.20.5 LarkLocale/zh_CN ttnet SDK-Version/7.20.5")
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let req = auth_request(&client, &["profile"], &[]);
    let silent = lark.get(&req.url).send().await.unwrap();
    assert_eq!(silent.status(), StatusCode::SEE_OTHER);
    assert!(location(&silent).contains("/accounts/open-apis/authen/v1/authorize?"), "{}", location(&silent));
    // An ordinary browser sees the page with both buttons.
    let page = unescape(&browser().get(&req.url).send().await.unwrap().text().await.unwrap());
    assert!(page.contains("/connection/feishu") && page.contains("/connection/wecom"), "{page}");
}

#[tokio::test]
async fn a_marketplace_app_admits_only_allowed_tenants_and_keeps_its_app_ticket() {
    let (env, f) = start_fs().await;
    f.register(&env.base, STORE_APP_ID, &["feishu-store"]);
    store_connection(&env, "feishu-store", &[DEMO_TENANT]).await;
    let (client, http) = web_app(&env, &["feishu-store"]).await;

    let (sub, _) = sign_in(&env, &client, &http, "feishu-store", "u-lisi").await;
    assert!(!sub.is_empty());
    // Another tenant that installed the app: refused, nothing created.
    let req = auth_request(&client, &["profile"], &[("connection", "feishu-store")]);
    let (status, page) = page_text(fs_login(&browser(), &req.url, "u-sunqi").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("Your company is not allowed to sign in this way"), "{page}");
    assert_eq!(env.user_count().await, 1);

    // The event URL: Feishu verifies it (encrypted challenge, answered within 1 s), then pushes the ticket.
    let url = format!("{}/connections/feishu-store/events", env.base);
    f.sim.set_event_url(STORE_APP_ID, &url).await.expect("verified");
    let ticket = f.sim.push_app_ticket(STORE_APP_ID).await.expect("delivered");
    let (_, view) = env.admin(reqwest::Method::GET, "/connections/feishu-store", None).await;
    assert_eq!(view["event_url"], url);
    assert_eq!(view["status"]["url_verified"], true, "{view}");
    let age = |v: &Value| v["status"]["suite_ticket_age_seconds"].as_i64();
    assert!(age(&view).is_some_and(|a| a < 60), "{view}");

    // A forged push (not signed with the Encrypt Key), and an older ticket replayed: nothing changes.
    let push = |inner: Value, key: &str| {
        let body = json!({"encrypt": encrypt(key, &inner.to_string())}).to_string();
        let (ts, nonce) = ("1700000000".to_string(), "n0nce".to_string());
        let signature = feishu::event::signature(&ts, &nonce, key, body.as_bytes());
        (body, ts, nonce, signature)
    };
    let send = |(body, ts, nonce, signature): (String, String, String, String)| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("x-lark-request-timestamp", ts)
                .header("x-lark-request-nonce", nonce)
                .header("x-lark-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let ticket_event = |uuid: &str, ticket: &str, ts: i64| {
        json!({"ts": format!("{ts}.0"), "uuid": uuid, "token": STORE_VERIFICATION_TOKEN, "type": "event_callback",
               "event": {"app_id": STORE_APP_ID, "app_ticket": ticket, "type": "app_ticket"}})
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let forged = push(ticket_event("u-forged", "forged-ticket", now + 10), "not-the-encrypt-key");
    assert_eq!(send(forged).await, StatusCode::UNAUTHORIZED);
    // Encrypted with the right key but signed without it (the body's key alone is not enough).
    let (body, ts, nonce, _) = push(ticket_event("u-unsigned", "unsigned-ticket", now + 10), STORE_ENCRYPT_KEY);
    let wrong = feishu::event::signature(&ts, &nonce, "not-the-encrypt-key", body.as_bytes());
    assert_eq!(send((body.clone(), ts.clone(), nonce.clone(), wrong)).await, StatusCode::UNAUTHORIZED);
    let old = push(ticket_event("u-old", "old-ticket", now - 3 * 3600), STORE_ENCRYPT_KEY);
    assert_eq!(send(old.clone()).await, StatusCode::OK, "acknowledged");
    assert_eq!(send(old).await, StatusCode::OK, "a duplicate delivery, acknowledged");
    let (_, view) = env.admin(reqwest::Method::GET, "/connections/feishu-store", None).await;
    assert!(age(&view).is_some_and(|a| a < 60), "the newer ticket stays: {view}");

    // The ticket kept is the one Feishu pushed: the refresh re-check of a marketplace member uses it.
    let (_, refresh) = sign_in(&env, &client, &http, "feishu-store", "u-zhangsan").await;
    f.status("u-zhangsan", "resigned").await;
    env.clock.advance(3700);
    let refused =
        client.exchange_refresh_token(&openidconnect::RefreshToken::new(refresh)).unwrap().request_async(&http).await;
    assert!(refused.is_err(), "a resigned member's refresh is refused");
    let calls = f.stats().await;
    assert!(calls["calls"]["/open/open-apis/auth/v3/app_access_token"].as_u64().unwrap_or(0) >= 1, "{calls}");
    assert!(!ticket.is_empty());
}

/// Two instances on one database: a ticket pushed to one is the other's, and both share one tenant token.
#[tokio::test]
async fn two_instances_share_the_app_ticket_and_the_tokens() {
    let f = fs().await;
    let base = f.base.clone();
    let sim = Arc::new(simulator().await);
    let a = start_with(sim.clone(), {
        let base = base.clone();
        move |s| {
            share_the_file(s);
            point(s, &base)
        }
    })
    .await;
    let url = format!("sqlite://{}", a._dir.path().join("wegate.db").display());
    let issuer = a.base.clone();
    let b = start_on_db(sim, a._dir.clone(), url, move |s| {
        point(s, &base);
        s.issuer = issuer;
    })
    .await;
    f.register(&a.base, STORE_APP_ID, &["feishu-store"]);
    store_connection(&a, "feishu-store", &[DEMO_TENANT, OTHER_TENANT]).await;
    let (client_id, secret) = a.app("web", REDIRECT).await;
    a.associate(&client_id, "feishu-store").await;
    let secret = secret.unwrap();
    let (client, http) = a.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    f.sim.set_event_url(STORE_APP_ID, &format!("{}/connections/feishu-store/events", a.base)).await.unwrap();
    f.sim.push_app_ticket(STORE_APP_ID).await.unwrap();
    let (_, refresh_1) = sign_in(&a, &client, &http, "feishu-store", "u-lisi").await;
    let (_, refresh_2) = sign_in(&a, &client, &http, "feishu-store", "u-sunqi").await;
    a.clock.advance(3700);
    b.clock.advance(3700);
    // Each refresh re-checks its member (the ticket the first instance received, on both): one on each.
    for (env, refresh) in [(&a, refresh_1), (&b, refresh_2)] {
        let (status, body) = token_call(
            &env.base,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&client_id, &secret)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let stats = f.stats().await;
    assert_eq!(stats["app_token_fetches"], 1, "one app token for both instances: {stats}");
    assert_eq!(stats["tenant_token_fetches"], 2, "one tenant token per tenant for both instances: {stats}");
}

#[tokio::test]
async fn feishu_faults_of_either_shape_give_a_clear_page() {
    let (env, f) = start_fs().await;
    f.register(&env.base, CUSTOM_APP_ID, &["feishu"]);
    custom_connection(&env, "feishu", json!({})).await;
    let (client, _) = web_app(&env, &["feishu"]).await;
    let attempt = || {
        let req = auth_request(&client, &["profile"], &[("connection", "feishu")]);
        async move { page_text(fs_login(&browser(), &req.url, "u-zhangsan").await).await }
    };
    // The v2 token endpoint's own shape: HTTP 503 with {code, error}.
    f.fault(json!({"path": "/open/open-apis/authen/v2/oauth/token", "times": 1, "status": 503, "code": 20050,
                   "error": "server_error"}))
        .await;
    let (status, page) = attempt().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(
        page.contains("飞书 could not complete the sign-in right now") && page.contains("error code 20050"),
        "{page}"
    );
    // Every other API's shape: HTTP 200 with code ≠ 0.
    f.fault(json!({"path": "/open/open-apis/authen/v1/user_info", "times": 1, "code": 99991672})).await;
    let (status, page) = attempt().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("lacks the API scope"), "{page}");
    // A bad secret names the setting.
    let (status, _) =
        env.admin(reqwest::Method::PATCH, "/connections/feishu", Some(json!({"app_secret": "wrong"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = attempt().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("app_id or app_secret"), "{page}");
    assert_eq!(env.user_count().await, 0);
}

fn encrypt(key: &str, plain: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    use base64::Engine;
    use sha2::Digest;
    let key = sha2::Sha256::digest(key.as_bytes());
    let iv = [9u8; 16];
    let mut buf = plain.as_bytes().to_vec();
    let len = buf.len();
    buf.resize(len + 16, 0);
    let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv)
        .unwrap()
        .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
        .unwrap()
        .to_vec();
    base64::engine::general_purpose::STANDARD.encode([iv.as_slice(), &ct].concat())
}
