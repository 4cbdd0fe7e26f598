//! The simulator over real HTTP on an ephemeral port: one test per strict rule (upstreams.md §2.7).

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes::Aes256;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use feishu_sim::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CB: &str = "http://127.0.0.1:9/cb";
const TOKEN: &str = "/open/open-apis/authen/v2/oauth/token";
const SCOPES: &str = "contact:user.employee_id:readonly contact:user.email:readonly offline_access";

struct T {
    base: String,
    http: reqwest::Client,
    sim: Simulator,
}

fn quick() -> SimConfig {
    SimConfig { ticket_interval_secs: 0, retry_delays_ms: vec![100, 100], duplicate_pushes: false }
}

async fn start_with(seed: Seed, config: SimConfig) -> T {
    let (addr, sim, _task) = Simulator::spawn(seed, config).await.unwrap();
    for app in [CUSTOM_APP_ID, STORE_APP_ID] {
        sim.set_redirect_uris(app, vec![CB.into()]);
    }
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    T { base: format!("http://{addr}"), http, sim }
}

async fn start() -> T {
    start_with(Seed::demo(), quick()).await
}

fn secret(app: &str) -> &'static str {
    if app == STORE_APP_ID { STORE_APP_SECRET } else { CUSTOM_APP_SECRET }
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }
    async fn read(resp: reqwest::Response) -> (u16, Value) {
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        Self::read(self.http.post(self.url(path)).json(&body).send().await.unwrap()).await
    }
    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        Self::read(self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()).await
    }
    async fn authorize(&self, query: &str) -> reqwest::Response {
        self.http.get(self.url(&format!("/accounts/open-apis/authen/v1/authorize?{query}"))).send().await.unwrap()
    }
    /// `user` consents to `app`: the code from the redirect.
    async fn code(&self, app: &str, user: &str, extra: &str) -> String {
        let q = format!("client_id={app}&response_type=code&redirect_uri={CB}&state=s1&sim_user={user}{extra}");
        let resp = self.authorize(&q).await;
        assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
        let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        loc.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
    }
    async fn redeem(&self, app: &str, code: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({"grant_type": "authorization_code", "client_id": app, "client_secret": secret(app),
            "code": code, "redirect_uri": CB});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.post(TOKEN, body).await
    }
    /// A successful login of `user` to `app` with `scope`: the token response.
    async fn login(&self, app: &str, user: &str, scope: &str) -> Value {
        let code = self.code(app, user, &format!("&scope={scope}")).await;
        let (s, v) = self.redeem(app, &code, json!({})).await;
        assert_eq!(s, 200, "{v}");
        v
    }
    async fn user_info(&self, token: &str) -> Value {
        let (s, v) = self.get("/open/open-apis/authen/v1/user_info", token).await;
        assert_eq!(s, 200, "{v}");
        v
    }
    async fn v3(&self, endpoint: &str, body: Value) -> Value {
        let (s, v) = self.post(&format!("/open/open-apis/auth/v3/{endpoint}"), body).await;
        assert_eq!(s, 200, "{v}");
        v
    }
    async fn custom_tenant_token(&self) -> Value {
        self.v3("tenant_access_token/internal", json!({"app_id": CUSTOM_APP_ID, "app_secret": CUSTOM_APP_SECRET})).await
    }
    async fn stats(&self) -> Value {
        self.http.get(self.url("/_sim/stats")).send().await.unwrap().json().await.unwrap()
    }
}

/// The v2 token endpoint's error shape: HTTP status, Feishu code, RFC 6749 error.
fn oauth_err(r: &(u16, Value), status: u16, code: i64, error: &str) {
    let (s, v) = r;
    assert_eq!((*s, v["code"].as_i64(), v["error"].as_str()), (status, Some(code), Some(error)), "{v}");
    assert!(v["error_description"].is_string() && v.get("access_token").is_none(), "{v}");
}

fn code_of(v: &Value) -> i64 {
    v["code"].as_i64().unwrap()
}

#[tokio::test]
async fn wrong_host_is_404() {
    let t = start().await;
    let body = json!({"grant_type": "authorization_code"});
    assert_eq!(t.post("/accounts/open-apis/authen/v2/oauth/token", body).await.0, 404);
    let resp = t.http.get(t.url(&format!("/open/open-apis/authen/v1/authorize?client_id={CUSTOM_APP_ID}")));
    assert_eq!(resp.send().await.unwrap().status(), 404);
    assert_eq!(t.get("/open/open-apis/nothing", "x").await.0, 404);
    assert_eq!(t.get("/open-apis/authen/v1/user_info", "x").await.0, 404);
}

#[tokio::test]
async fn token_endpoint_is_json_and_rfc6749_shaped() {
    let t = start().await;
    let form = [("grant_type", "authorization_code"), ("client_id", CUSTOM_APP_ID)];
    let resp = t.http.post(t.url(TOKEN)).form(&form).send().await.unwrap();
    oauth_err(&T::read(resp).await, 400, 20001, "invalid_request");
    let body = json!({"grant_type": "authorization_code", "client_id": CUSTOM_APP_ID, "client_secret": CUSTOM_APP_SECRET, "code": "x"});
    let both = t.http.post(t.url(TOKEN)).basic_auth(CUSTOM_APP_ID, Some(CUSTOM_APP_SECRET)).json(&body);
    oauth_err(&T::read(both.send().await.unwrap()).await, 400, 20070, "invalid_request");
    let mut b = body.clone();
    b["grant_type"] = json!("client_credentials");
    oauth_err(&t.post(TOKEN, b).await, 400, 20036, "unsupported_grant_type");
    let mut b = body.clone();
    b["client_secret"] = json!("wrong");
    oauth_err(&t.post(TOKEN, b).await, 400, 20002, "invalid_client");
    let mut b = body.clone();
    b["client_id"] = json!("cli_nobody");
    oauth_err(&t.post(TOKEN, b).await, 400, 20048, "invalid_client");
    oauth_err(&t.post(TOKEN, body).await, 400, 20003, "invalid_grant");
}

#[tokio::test]
async fn authorize_checks_every_parameter_and_never_redirects_on_error() {
    let t = start().await;
    let ok = format!("client_id={CUSTOM_APP_ID}&response_type=code&redirect_uri={CB}");
    for (q, needle) in [
        (format!("client_id=cli_nobody&response_type=code&redirect_uri={CB}"), "client_id"),
        (ok.replace("response_type=code", "response_type=token"), "response_type"),
        (ok.replace("/cb", "/evil"), "20029"),
        (format!("{ok}&scope=contact:contact:readonly"), "20027"),
        (format!("{ok}&code_challenge=abc&code_challenge_method=S512"), "S256"),
        (format!("{ok}&code_challenge_method=S256"), "code_challenge"),
        (format!("{ok}&sim_user=u-sunqi"), "20009"),
    ] {
        let resp = t.authorize(&q).await;
        assert_eq!(resp.status(), 400, "{q}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains(needle), "{q}");
    }
    // The picker: users of installed tenants only, everything escaped.
    let page = t.authorize(&format!("{ok}&state=%3Cscript%3E")).await.text().await.unwrap();
    assert!(page.contains("u-zhangsan") && page.contains("sim_deny") && !page.contains("u-sunqi"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    let page = t.authorize(&ok.replace(CUSTOM_APP_ID, STORE_APP_ID)).await.text().await.unwrap();
    assert!(page.contains("u-sunqi"));
    let deny = t.authorize(&format!("{ok}&state=s9&sim_deny=1")).await;
    assert_eq!(deny.headers()["location"], format!("{CB}?error=access_denied&state=s9"));
}

#[tokio::test]
async fn redirect_uri_allow_list_ignores_suffixes_and_the_code_binds_it_exactly() {
    let t = &start().await;
    t.sim.set_redirect_uris(CUSTOM_APP_ID, vec![CB.into(), "http://www.example.com".into()]);
    // [FS-faq] the doc's own example, and a #fragment moved after code and state [FS-authz].
    let q = format!("client_id={CUSTOM_APP_ID}&response_type=code&redirect_uri=http://www.example.com/%23/index");
    let loc = t.authorize(&format!("{q}&state=st&sim_user=u-lisi")).await.headers()["location"].clone();
    let loc = loc.to_str().unwrap();
    assert!(loc.starts_with("http://www.example.com/?code=") && loc.ends_with("&state=st#/index"), "{loc}");
    let at = |redirect: &'static str| async move {
        let q = format!("client_id={CUSTOM_APP_ID}&response_type=code&redirect_uri={redirect}&sim_user=u-lisi");
        let loc = t.authorize(&q).await.headers()["location"].to_str().unwrap().to_owned();
        url::Url::parse(&loc).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
    };
    let code = at("http://127.0.0.1:9/cb%3Ffrom%3Dx").await;
    assert!(code.len() >= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // Bound to the authorize request's redirect_uri byte for byte (20071), also when omitted.
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({})).await, 400, 20071, "invalid_grant");
    let code = at("http://127.0.0.1:9/cb%3Ffrom%3Dx").await;
    let (s, v) = t.redeem(CUSTOM_APP_ID, &code, json!({"redirect_uri": "http://127.0.0.1:9/cb?from=x"})).await;
    assert_eq!(s, 200, "{v}");
    let code = t.code(CUSTOM_APP_ID, "u-lisi", "").await;
    let body = json!({"grant_type": "authorization_code", "client_id": CUSTOM_APP_ID, "client_secret": CUSTOM_APP_SECRET, "code": code});
    oauth_err(&t.post(TOKEN, body).await, 400, 20071, "invalid_grant");
}

#[tokio::test]
async fn codes_are_single_use_bound_to_the_client_and_expire() {
    let t = start().await;
    let code = t.code(CUSTOM_APP_ID, "u-zhangsan", "").await;
    // Another app's code: 20024, and the rightful client can still redeem it.
    oauth_err(&t.redeem(STORE_APP_ID, &code, json!({})).await, 400, 20024, "invalid_grant");
    let (s, v) = t.redeem(CUSTOM_APP_ID, &code, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let token = v["access_token"].as_str().unwrap();
    assert!(token.starts_with("u-") && token.len() > 1000 && v["token_type"] == "Bearer" && v["expires_in"] == 7200);
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({})).await, 400, 20065, "invalid_grant");
    oauth_err(&t.redeem(CUSTOM_APP_ID, "never-issued", json!({})).await, 400, 20003, "invalid_grant");
    let code = t.code(CUSTOM_APP_ID, "u-zhangsan", "").await;
    t.sim.advance(300);
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({})).await, 400, 20004, "invalid_grant");
}

#[tokio::test]
async fn pkce_defaults_to_plain_and_checks_s256() {
    let t = start().await;
    let verifier = "a".repeat(43);
    let s256 = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    // No method: plain, so the S256 transform of the verifier does not match.
    let code = t.code(CUSTOM_APP_ID, "u-lisi", &format!("&code_challenge={s256}")).await;
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({"code_verifier": verifier})).await, 400, 20049, "invalid_grant");
    let code = t.code(CUSTOM_APP_ID, "u-lisi", &format!("&code_challenge={verifier}")).await;
    assert_eq!(t.redeem(CUSTOM_APP_ID, &code, json!({"code_verifier": verifier})).await.0, 200);
    let s256q = format!("&code_challenge={s256}&code_challenge_method=S256");
    let code = t.code(CUSTOM_APP_ID, "u-lisi", &s256q).await;
    assert_eq!(t.redeem(CUSTOM_APP_ID, &code, json!({"code_verifier": verifier})).await.0, 200);
    for extra in [json!({}), json!({"code_verifier": "b".repeat(43)}), json!({"code_verifier": s256})] {
        let code = t.code(CUSTOM_APP_ID, "u-lisi", &s256q).await;
        oauth_err(&t.redeem(CUSTOM_APP_ID, &code, extra).await, 400, 20049, "invalid_grant");
    }
    let code = t.code(CUSTOM_APP_ID, "u-lisi", "").await;
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({"code_verifier": verifier})).await, 400, 20049, "invalid_grant");
}

#[tokio::test]
async fn scope_narrowing_and_cumulative_grants() {
    let t = start().await;
    let code = t.code(CUSTOM_APP_ID, "u-lisi", &format!("&scope={SCOPES}")).await;
    let dup = json!({"scope": "offline_access offline_access"});
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, dup).await, 400, 20067, "invalid_scope");
    let code = t.code(CUSTOM_APP_ID, "u-lisi", &format!("&scope={SCOPES}")).await;
    let more = json!({"scope": "contact:user.phone:readonly"});
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, more).await, 400, 20068, "invalid_scope");
    let code = t.code(CUSTOM_APP_ID, "u-lisi", &format!("&scope={SCOPES}")).await;
    let (_, v) = t.redeem(CUSTOM_APP_ID, &code, json!({"scope": "contact:user.email:readonly"})).await;
    assert_eq!(v["scope"], "contact:user.email:readonly");
    assert!(v.get("refresh_token").is_none() && v.get("refresh_token_expires_in").is_none(), "{v}");
    // [FS-authz] grants are cumulative: a later login without scope still carries the earlier ones.
    let v = t.login(CUSTOM_APP_ID, "u-lisi", "").await;
    assert_eq!(v["scope"], SCOPES);
    let v = t.login(CUSTOM_APP_ID, "u-zhangsan", "").await;
    assert_eq!((v["scope"].as_str(), v.get("refresh_token")), (Some(""), None));
}

#[tokio::test]
async fn users_outside_availability_or_inactive_get_no_token() {
    let t = start().await;
    let code = t.code(CUSTOM_APP_ID, "u-wangwu", "").await;
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({})).await, 400, 20010, "invalid_grant");
    // The marketplace app is available to everyone of an installed tenant.
    let v = t.login(STORE_APP_ID, "u-wangwu", "").await;
    assert!(v["access_token"].is_string());
    let code = t.code(CUSTOM_APP_ID, "u-zhaoliu", "").await;
    oauth_err(&t.redeem(CUSTOM_APP_ID, &code, json!({})).await, 400, 20066, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let t = start().await;
    let v = t.login(CUSTOM_APP_ID, "u-zhangsan", SCOPES).await;
    let rt = v["refresh_token"].as_str().unwrap().to_owned();
    assert!(rt.starts_with("ur-") && v["refresh_token_expires_in"] == 604800, "{v}");
    let body = |app: &str, rt: &str| json!({"grant_type": "refresh_token", "client_id": app, "client_secret": secret(app), "refresh_token": rt});
    oauth_err(&t.post(TOKEN, body(STORE_APP_ID, &rt)).await, 400, 20024, "invalid_grant");
    let (s, v2) = t.post(TOKEN, body(CUSTOM_APP_ID, &rt)).await;
    assert_eq!(s, 200, "{v2}");
    let rt2 = v2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt);
    assert_eq!(code_of(&t.user_info(v2["access_token"].as_str().unwrap()).await), 0);
    oauth_err(&t.post(TOKEN, body(CUSTOM_APP_ID, &rt)).await, 400, 20073, "invalid_grant");
    oauth_err(&t.post(TOKEN, body(CUSTOM_APP_ID, "ur-unknown")).await, 400, 20026, "invalid_grant");
    // Status is re-checked at a refresh.
    let frozen = json!({"status": "frozen"});
    t.http.post(t.url("/_sim/users/u-zhangsan/status")).json(&frozen).send().await.unwrap();
    let (_, v3) = t.post(TOKEN, body(CUSTOM_APP_ID, &rt2)).await;
    assert_eq!(v3["code"], 20066);
    let rt = t.login(CUSTOM_APP_ID, "u-lisi", SCOPES).await["refresh_token"].as_str().unwrap().to_owned();
    t.sim.advance(604_800);
    oauth_err(&t.post(TOKEN, body(CUSTOM_APP_ID, &rt)).await, 400, 20037, "invalid_grant");
}

#[tokio::test]
async fn user_info_fields_follow_the_token_scope() {
    let t = start().await;
    let full = "contact:user.employee_id:readonly contact:user.email:readonly contact:user.phone:readonly contact:user.employee:readonly";
    let token = t.login(CUSTOM_APP_ID, "u-zhangsan", full).await["access_token"].as_str().unwrap().to_owned();
    let v = t.user_info(&token).await;
    let d = &v["data"];
    assert_eq!((v["code"].as_i64(), v["msg"].as_str()), (Some(0), Some("success")));
    assert_eq!((d["user_id"].as_str(), d["email"].as_str()), (Some("zhangsan"), Some("zhangsan@acme.example")));
    assert_eq!(
        (d["mobile"].as_str(), d["enterprise_email"].as_str()),
        (Some("+8613800000001"), Some("zhangsan@acme-corp.example"))
    );
    assert_eq!((d["tenant_key"].as_str(), d["employee_no"].as_str()), (Some(DEMO_TENANT), Some("A001")));
    assert_eq!(d["avatar_thumb"], "https://sim.feishu.example/avatar/zhangsan.png?size=72x72");
    let token = t.login(CUSTOM_APP_ID, "u-lisi", "contact:user.email:readonly").await["access_token"].clone();
    let d = t.user_info(token.as_str().unwrap()).await["data"].clone();
    assert_eq!(d["email"], "lisi@acme.example");
    for absent in ["user_id", "mobile", "enterprise_email", "employee_no"] {
        assert!(d.get(absent).is_none(), "{absent}: {d}");
    }
    assert_eq!(
        (d["name"].as_str(), d["open_id"].as_str()),
        (Some("李四"), Some(open_id(CUSTOM_APP_ID, "u-lisi").as_str()))
    );
}

#[tokio::test]
async fn user_info_errors_are_http_200_with_a_code() {
    let t = start().await;
    let token = t.login(CUSTOM_APP_ID, "u-lisi", "").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(code_of(&t.user_info("u-unknown").await), 20005);
    let tenant = t.custom_tenant_token().await["tenant_access_token"].as_str().unwrap().to_owned();
    assert_eq!(code_of(&t.user_info(&tenant).await), 99991668);
    let resp = t.http.get(t.url("/open/open-apis/authen/v1/user_info")).send().await.unwrap();
    assert_eq!(code_of(&T::read(resp).await.1), 99991661);
    for (status, code) in [("resigned", 20021), ("frozen", 20022), ("active", 0)] {
        let body = json!({"status": status});
        t.http.post(t.url("/_sim/users/u-lisi/status")).json(&body).send().await.unwrap();
        assert_eq!(code_of(&t.user_info(&token).await), code);
    }
    t.sim.advance(7200);
    assert_eq!(code_of(&t.user_info(&token).await), 20005);
}

#[tokio::test]
async fn open_id_is_per_app_and_union_id_per_developer() {
    let mut seed = Seed::demo();
    let mut second = seed.apps[0].clone();
    second.app_id = "cli_acmecustom0002".into();
    seed.apps.push(second);
    let t = start_with(seed, quick()).await;
    t.sim.set_redirect_uris("cli_acmecustom0002", vec![CB.into()]);
    let mut ids = vec![];
    for app in [CUSTOM_APP_ID, "cli_acmecustom0002", STORE_APP_ID] {
        let token = t.login(app, "u-lisi", "").await["access_token"].as_str().unwrap().to_owned();
        let d = t.user_info(&token).await["data"].clone();
        assert!(
            d["open_id"].as_str().unwrap().starts_with("ou_") && d["union_id"].as_str().unwrap().starts_with("on_")
        );
        ids.push((d["open_id"].clone(), d["union_id"].clone()));
    }
    assert!(ids[0].0 != ids[1].0 && ids[1].0 != ids[2].0 && ids[0].0 != ids[2].0);
    assert!(ids[0].1 == ids[1].1 && ids[0].1 != ids[2].1);
    assert_eq!(ids[2].1, union_id(ISV_TENANT, "u-lisi"));
}

/// A stand-in for the broker's event endpoint: checks the signature, decrypts, records, answers per plan.
struct Rx {
    key: String,
    plan: Mutex<VecDeque<(u16, u64)>>,
    got: Mutex<Vec<(Value, Option<bool>)>>,
}

/// The receiver's own AES-256-CBC (key = SHA-256(Encrypt Key), `base64(iv || ct)`); None if it does not decrypt.
fn decrypt(key: &str, b64: &str) -> Option<Value> {
    let raw = STANDARD.decode(b64).ok().filter(|r| r.len() >= 32)?;
    let (iv, ct) = raw.split_at(16);
    let mut buf = ct.to_vec();
    let key = Sha256::digest(key.as_bytes());
    let plain = cbc::Decryptor::<Aes256>::new(&key, iv.into()).decrypt_padded_mut::<Pkcs7>(&mut buf).ok()?;
    serde_json::from_slice(plain).ok()
}

async fn rx_handler(State(rx): State<Arc<Rx>>, headers: HeaderMap, body: Bytes) -> Response {
    let outer: Value = serde_json::from_slice(&body).unwrap();
    let Some(payload) = decrypt(&rx.key, outer["encrypt"].as_str().unwrap()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    let signature_ok = h("x-lark-signature").map(|sig| {
        let (ts, nonce) = (h("x-lark-request-timestamp").unwrap(), h("x-lark-request-nonce").unwrap());
        let mut d = Sha256::new();
        d.update(format!("{ts}{nonce}{}", rx.key).as_bytes());
        d.update(&body);
        hex::encode(d.finalize()) == sig
    });
    rx.got.lock().unwrap().push((payload.clone(), signature_ok));
    let (status, delay) = rx.plan.lock().unwrap().pop_front().unwrap_or((200, 0));
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let status = StatusCode::from_u16(status).unwrap();
    (status, axum::Json(json!({"challenge": payload["challenge"]}))).into_response()
}

async fn receiver(key: &str, plan: &[(u16, u64)]) -> (String, Arc<Rx>) {
    let rx = Arc::new(Rx { key: key.into(), plan: Mutex::new(plan.iter().copied().collect()), got: Mutex::default() });
    let app = axum::Router::new().route("/events", axum::routing::post(rx_handler)).with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

impl Rx {
    fn got(&self) -> Vec<(Value, Option<bool>)> {
        self.got.lock().unwrap().clone()
    }
    async fn wait_for(&self, n: usize) -> Vec<(Value, Option<bool>)> {
        for _ in 0..100 {
            if self.got().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.got()
    }
}

#[tokio::test]
async fn url_verification_is_encrypted_unsigned_and_needs_an_answer_within_1s() {
    let t = start().await;
    let (url, rx) = receiver(STORE_ENCRYPT_KEY, &[(200, 1200), (500, 0)]).await;
    assert!(t.sim.set_event_url(STORE_APP_ID, &url).await.unwrap_err().contains("1 s"));
    assert!(t.sim.set_event_url(STORE_APP_ID, &url).await.is_err());
    // Not saved: nothing to push to.
    assert!(t.sim.push_app_ticket(STORE_APP_ID).await.unwrap_err().contains("no event URL"));
    let resp = t.http.put(t.url(&format!("/_sim/apps/{STORE_APP_ID}/event_url"))).json(&json!({"url": url})).send();
    assert_eq!(T::read(resp.await.unwrap()).await.1["verified"], true);
    let got = rx.got();
    assert_eq!(got.len(), 3);
    let (payload, signature) = &got[2];
    assert_eq!(
        (payload["type"].as_str(), payload["token"].as_str()),
        (Some("url_verification"), Some(STORE_VERIFICATION_TOKEN))
    );
    assert_eq!(*signature, None, "url_verification carries no X-Lark-Signature");
}

#[tokio::test]
async fn app_ticket_pushes_are_encrypted_signed_retried_and_duplicated() {
    let config = SimConfig { duplicate_pushes: true, ..quick() };
    let t = start_with(Seed::demo(), config).await;
    // Answers: verification, then the push and its duplicate fail, then the first retry succeeds.
    let (url, rx) = receiver(STORE_ENCRYPT_KEY, &[(200, 0), (500, 0), (200, 0)]).await;
    t.sim.set_event_url(STORE_APP_ID, &url).await.unwrap();
    assert!(t.sim.set_event_url(CUSTOM_APP_ID, &url).await.is_err(), "another key: the receiver cannot decrypt");
    let err = t.sim.push_app_ticket(STORE_APP_ID).await.unwrap_err();
    let got = rx.wait_for(5).await;
    assert_eq!(got.len(), 5, "verification, push ×2, retry ×2");
    let ticket = got[1].0["event"]["app_ticket"].as_str().unwrap().to_owned();
    assert!(err.contains(&ticket));
    for (payload, signature) in &got[1..] {
        assert_eq!(*signature, Some(true));
        assert_eq!(
            (payload["type"].as_str(), payload["token"].as_str()),
            (Some("event_callback"), Some(STORE_VERIFICATION_TOKEN))
        );
        assert_eq!(payload["event"], json!({"app_id": STORE_APP_ID, "app_ticket": ticket, "type": "app_ticket"}));
        assert_eq!(payload["uuid"], got[1].0["uuid"], "one event, one uuid");
        assert!(payload["ts"].as_str().unwrap().contains('.'));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got().len(), 5, "no retry after a success");
    assert_eq!(t.stats().await["tickets_pushed"], 4);
    assert!(t.sim.push_app_ticket(CUSTOM_APP_ID).await.is_err(), "custom apps get no app_ticket");
}

#[tokio::test]
async fn slow_receivers_count_as_failures_and_the_timer_pushes() {
    let config = SimConfig { ticket_interval_secs: 1, retry_delays_ms: vec![], ..quick() };
    let t = start_with(Seed::demo(), config).await;
    let (url, rx) = receiver(STORE_ENCRYPT_KEY, &[(200, 0), (200, 3200)]).await;
    t.sim.set_event_url(STORE_APP_ID, &url).await.unwrap();
    let resp = t.http.post(t.url(&format!("/_sim/apps/{STORE_APP_ID}/push_ticket"))).send().await.unwrap();
    let v = T::read(resp).await.1;
    assert_eq!(v["delivered"], false, "{v}");
    // The periodic pushes (every 1 s here) come on their own, each with a new ticket.
    let got = rx.wait_for(3).await;
    let tickets: std::collections::HashSet<String> =
        got[1..].iter().map(|g| g.0["event"]["app_ticket"].to_string()).collect();
    assert!(got.len() >= 3 && tickets.len() == got.len() - 1, "{got:?}");
}

/// Saves an event URL for the store app and pushes a ticket; the ticket.
async fn store_ticket(t: &T) -> (String, Arc<Rx>) {
    let (url, rx) = receiver(STORE_ENCRYPT_KEY, &[]).await;
    t.sim.set_event_url(STORE_APP_ID, &url).await.unwrap();
    (t.sim.push_app_ticket(STORE_APP_ID).await.unwrap(), rx)
}

#[tokio::test]
async fn marketplace_tokens_need_the_latest_ticket_and_an_installed_tenant() {
    let t = start().await;
    let (old, _rx) = store_ticket(&t).await;
    let latest = t.sim.push_app_ticket(STORE_APP_ID).await.unwrap();
    let body = |ticket: &str| json!({"app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET, "app_ticket": ticket});
    assert_eq!(code_of(&t.v3("app_access_token", body(&old)).await), 10012);
    assert_eq!(code_of(&t.v3("app_access_token", body("made-up")).await), 10012);
    let v = t.v3("app_access_token", body(&latest)).await;
    assert_eq!((code_of(&v), v["expire"].as_i64()), (0, Some(7200)), "{v}");
    let app_token = v["app_access_token"].as_str().unwrap();
    let tenant = |key: &str| json!({"app_access_token": app_token, "tenant_key": key});
    let a = t.v3("tenant_access_token", tenant(DEMO_TENANT)).await;
    let b = t.v3("tenant_access_token", tenant(OTHER_TENANT)).await;
    assert_eq!((code_of(&a), code_of(&b)), (0, 0));
    assert_ne!(a["tenant_access_token"], b["tenant_access_token"]);
    assert_eq!(code_of(&t.v3("tenant_access_token", tenant(ISV_TENANT)).await), 11210);
    let bad = json!({"app_access_token": "a-nope", "tenant_key": DEMO_TENANT});
    assert_eq!(code_of(&t.v3("tenant_access_token", bad).await), 99991664);
    // Each kind of app on its own endpoints only; a wrong secret.
    let store = json!({"app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET});
    assert_eq!(code_of(&t.v3("app_access_token/internal", store.clone()).await), 10012);
    assert_eq!(code_of(&t.v3("tenant_access_token/internal", store).await), 10013);
    let custom = json!({"app_id": CUSTOM_APP_ID, "app_secret": CUSTOM_APP_SECRET, "app_ticket": latest});
    assert_eq!(code_of(&t.v3("app_access_token", custom).await), 10012);
    let wrong = json!({"app_id": CUSTOM_APP_ID, "app_secret": "nope"});
    assert_eq!(code_of(&t.v3("tenant_access_token/internal", wrong).await), 10014);
    let s = t.stats().await;
    assert_eq!((s["app_token_fetches"].as_u64(), s["tenant_token_fetches"].as_u64()), (Some(1), Some(2)), "{s}");
}

#[tokio::test]
async fn resend_pushes_a_ticket_for_marketplace_apps_only() {
    let t = start().await;
    let (first, rx) = store_ticket(&t).await;
    let v = t.v3("app_ticket/resend", json!({"app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET})).await;
    assert_eq!(code_of(&v), 0);
    let got = rx.wait_for(3).await;
    let resent = got[2].0["event"]["app_ticket"].as_str().unwrap();
    assert_ne!(resent, first);
    let body = json!({"app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET, "app_ticket": resent});
    assert_eq!(code_of(&t.v3("app_access_token", body).await), 0);
    let v = t.v3("app_ticket/resend", json!({"app_id": CUSTOM_APP_ID, "app_secret": CUSTOM_APP_SECRET})).await;
    assert_eq!(code_of(&v), 10016);
}

#[tokio::test]
async fn app_level_tokens_renew_below_30_minutes_and_the_old_stays_valid() {
    let t = start().await;
    let contact = format!("/open/open-apis/contact/v3/users/{}?user_id_type=open_id", open_id(CUSTOM_APP_ID, "u-lisi"));
    let v1 = t.custom_tenant_token().await;
    let t1 = v1["tenant_access_token"].as_str().unwrap().to_owned();
    assert!(t1.starts_with("t-") && v1["expire"] == 7200 && v1["msg"] == "ok", "{v1}");
    t.sim.advance(5400);
    let v2 = t.custom_tenant_token().await;
    assert_eq!((v2["tenant_access_token"].as_str(), v2["expire"].as_i64()), (Some(t1.as_str()), Some(1800)));
    t.sim.advance(1);
    let v3 = t.custom_tenant_token().await;
    let t2 = v3["tenant_access_token"].as_str().unwrap();
    assert!(t2 != t1 && v3["expire"] == 7200);
    assert_eq!(code_of(&t.get(&contact, &t1).await.1), 0, "the old token is still valid");
    t.sim.advance(1800);
    assert_eq!(code_of(&t.get(&contact, &t1).await.1), 99991663);
    assert_eq!(code_of(&t.get(&contact, t2).await.1), 0);
    let app =
        t.v3("app_access_token/internal", json!({"app_id": CUSTOM_APP_ID, "app_secret": CUSTOM_APP_SECRET})).await;
    assert_eq!(app["tenant_access_token"], t2);
    assert!(app["app_access_token"].as_str().unwrap().starts_with("a-"));
    let s = t.stats().await;
    assert_eq!((s["tenant_token_fetches"].as_u64(), s["tokens_issued"].as_u64()), (Some(3), Some(3)), "{s}");
}

#[tokio::test]
async fn contact_lookup_is_per_app_and_tenant() {
    let t = start().await;
    let path = |id: &str| format!("/open/open-apis/contact/v3/users/{id}?user_id_type=open_id");
    let custom = t.custom_tenant_token().await["tenant_access_token"].as_str().unwrap().to_owned();
    let v = t.get(&path(&open_id(CUSTOM_APP_ID, "u-zhaoliu")), &custom).await.1;
    let user = &v["data"]["user"];
    assert_eq!(
        (user["user_id"].as_str(), user["union_id"].as_str()),
        (Some("zhaoliu"), Some(union_id(DEMO_TENANT, "u-zhaoliu").as_str()))
    );
    assert_eq!(
        user["status"],
        json!({"is_frozen": false, "is_resigned": true, "is_activated": true, "is_exited": false, "is_unjoin": false})
    );
    assert_eq!(code_of(&t.get(&path(&open_id(STORE_APP_ID, "u-lisi")), &custom).await.1), 41012);
    assert_eq!(code_of(&t.get(&path(&open_id(CUSTOM_APP_ID, "u-wangwu")), &custom).await.1), 41050);
    let by_user_id = "/open/open-apis/contact/v3/users/lisi?user_id_type=user_id";
    assert_eq!(t.get(by_user_id, &custom).await.1["data"]["user"]["name"], "李四");
    let user_token = t.login(CUSTOM_APP_ID, "u-lisi", "").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(code_of(&t.get(&path(&open_id(CUSTOM_APP_ID, "u-lisi")), &user_token).await.1), 99991663);
    // The marketplace app: a tenant token sees its own tenant's users only.
    let (ticket, _rx) = store_ticket(&t).await;
    let body = json!({"app_id": STORE_APP_ID, "app_secret": STORE_APP_SECRET, "app_ticket": ticket});
    let app_token = t.v3("app_access_token", body).await["app_access_token"].clone();
    let other = json!({"app_access_token": app_token, "tenant_key": OTHER_TENANT});
    let other = t.v3("tenant_access_token", other).await["tenant_access_token"].as_str().unwrap().to_owned();
    assert_eq!(code_of(&t.get(&path(&open_id(STORE_APP_ID, "u-sunqi")), &other).await.1), 0);
    assert_eq!(code_of(&t.get(&path(&open_id(STORE_APP_ID, "u-lisi")), &other).await.1), 41050);
}

#[tokio::test]
async fn faults_of_each_shape() {
    let t = start().await;
    let t = &t;
    let fault = |f: Value| async move { t.post("/_sim/faults", f).await.0 };
    let path = "/open/open-apis/auth/v3/tenant_access_token/internal";
    assert_eq!(fault(json!({"path": path, "code": 99991400})).await, 200);
    assert_eq!(code_of(&t.custom_tenant_token().await), 99991400);
    assert_eq!(
        fault(json!({"path": TOKEN, "status": 503, "code": 20072, "error": "temporarily_unavailable"})).await,
        200
    );
    oauth_err(&t.post(TOKEN, json!({})).await, 503, 20072, "temporarily_unavailable");
    assert_eq!(fault(json!({"path": path, "html": true, "times": 2})).await, 200);
    for _ in 0..2 {
        let resp = t.http.post(t.url(path)).json(&json!({})).send().await.unwrap();
        assert!(resp.text().await.unwrap().starts_with("<!DOCTYPE html>"));
    }
    assert_eq!(fault(json!({"path": path, "delay_ms": 300})).await, 200);
    let started = std::time::Instant::now();
    assert_eq!(code_of(&t.custom_tenant_token().await), 0);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fault(json!({"path": path, "status": 503})).await, 400);
    assert_eq!(fault(json!({"path": "/_sim/stats", "code": 1})).await, 400);
    assert_eq!(fault(json!({"path": path, "code": 1, "times": 5})).await, 200);
    t.http.delete(t.url("/_sim/faults")).send().await.unwrap();
    assert_eq!(code_of(&t.custom_tenant_token().await), 0);
    assert_eq!(t.stats().await["calls"][path], 5);
}

#[tokio::test]
async fn control_endpoints_and_console() {
    let t = start().await;
    let put = t.http.put(t.url(&format!("/_sim/apps/{CUSTOM_APP_ID}/redirect_uris")));
    assert_eq!(put.json(&json!({"redirect_uris": ["http://x.example/cb"]})).send().await.unwrap().status(), 204);
    let resp = t.authorize(&format!("client_id={CUSTOM_APP_ID}&response_type=code&redirect_uri={CB}")).await;
    assert_eq!(resp.status(), 400);
    let (s, v) = t.post("/_sim/clock", json!({"advance_secs": 10})).await;
    assert!(s == 200 && v["now"].is_i64());
    let missing = t.http.post(t.url("/_sim/users/u-nobody/status")).json(&json!({"status": "frozen"}));
    assert_eq!(missing.send().await.unwrap().status(), 404);
    assert_eq!(t.post(&format!("/_sim/apps/{CUSTOM_APP_ID}/push_ticket"), json!({})).await.0, 409);
    let page = t.http.get(t.url("/_sim/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Acme 示例科技") && page.contains(STORE_APP_ID) && page.contains("Resigned"));
    assert_eq!(t.http.delete(t.url("/_sim/stats")).send().await.unwrap().status(), 204);
}

#[test]
fn seeds() {
    Seed::demo().validate().unwrap();
    let mut bad = Seed::demo();
    bad.apps[0].installed_in.push(OTHER_TENANT.into());
    assert!(bad.validate().is_err(), "a custom app lives in its owner tenant only");
    let mut bad = Seed::demo();
    bad.apps[0].available_to = Some(vec!["u-sunqi".into()]);
    assert!(bad.validate().is_err());
    let json = json!({"tenants": [{"tenant_key": "t1", "name": "T", "users": [{"id": "u1", "user_id": "a", "name": "A", "status": "frozen"}]}],
        "apps": [{"app_id": "cli_x", "app_secret": "s", "kind": "marketplace", "owner_tenant": "t1", "verification_token": "v", "installed_in": ["t1"]}]});
    let seed: Seed = serde_json::from_value(json).unwrap();
    seed.validate().unwrap();
    assert_eq!(seed.tenants[0].users[0].status, UserStatus::Frozen);
    assert_ne!(open_id(CUSTOM_APP_ID, "u-lisi"), open_id(STORE_APP_ID, "u-lisi"));
}
