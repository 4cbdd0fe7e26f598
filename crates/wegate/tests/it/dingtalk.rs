//! DingTalk end to end: the real server against the strict DingTalk simulator (`dingtalk-sim`): the login page
//! (`dingtalk_qrcode`), the in-DingTalk page (`dingtalk_web`), native 免登 codes (`dingtalk_mobile`); only the
//! organisation's own employees get in, each organisation's userids are its own, DingTalk's faults in either
//! API family give a clear page, and instances share one app token.

use std::sync::Arc;

use dingtalk_sim::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CORP_ID, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_CORP_ID, Seed,
    Simulator,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use openidconnect::{OAuth2TokenResponse, TokenResponse};

use crate::harness::*;

const REDIRECT: &str = "https://app.example/cb";
/// DingTalk's in-app browser, as its User-Agent says (plus the simulator's marker of who is signed in to it).
const IN_DINGTALK: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 AliApp(DingTalk/7.0.50) com.laiwang.DingTalk/33541117 Channel/201200 language/zh-Hans-CN";

pub(crate) struct Ding {
    pub base: String,
    pub sim: Simulator,
    _task: tokio::task::JoinHandle<()>,
}

pub(crate) async fn ding() -> Ding {
    let (addr, sim, task) = Simulator::spawn(Seed::demo()).await.expect("DingTalk simulator");
    Ding { base: format!("http://{addr}"), sim, _task: task }
}

/// The settings pointing wegate at the simulator (its three families and its JSAPI stand-in).
pub(crate) fn ding_env(ding: &Ding) -> Vec<(&'static str, String)> {
    vec![
        ("WEGATE_DINGTALK_API_BASE", format!("{}/api", ding.base)),
        ("WEGATE_DINGTALK_OAPI_BASE", format!("{}/oapi", ding.base)),
        ("WEGATE_DINGTALK_LOGIN_BASE", format!("{}/login", ding.base)),
        ("WEGATE_DINGTALK_JSAPI_URL", format!("{}/jsapi/dingtalk.open.js", ding.base)),
    ]
}

async fn start_ding() -> (Env, Ding) {
    let d = ding().await;
    let base = d.base.clone();
    let env = start_with(Arc::new(simulator().await), move |s| {
        s.dingtalk_api_base = format!("{base}/api");
        s.dingtalk_oapi_base = format!("{base}/oapi");
        s.dingtalk_login_base = format!("{base}/login");
        s.dingtalk_jsapi_url = format!("{base}/jsapi/dingtalk.open.js");
    })
    .await;
    (env, d)
}

impl Ding {
    /// Registers our callback URLs of `identifiers` as the app's redirect URLs, as its admin does (登录与分享).
    pub(crate) fn register(&self, issuer: &str, client_id: &str, identifiers: &[&str]) {
        let uris = identifiers.iter().map(|i| format!("{issuer}/connections/{i}/callback")).collect();
        self.sim.set_redirect_uris(client_id, uris);
    }

    pub(crate) async fn stats(&self) -> Value {
        reqwest::get(format!("{}/_sim/stats", self.base)).await.unwrap().json().await.unwrap()
    }

    async fn fault(&self, fault: Value) {
        let r = reqwest::Client::new().post(format!("{}/_sim/faults", self.base)).json(&fault).send().await.unwrap();
        assert!(r.status().is_success(), "fault refused: {}", r.text().await.unwrap_or_default());
    }
}

/// A DingTalk connection of the demo organisation (or `other`'s).
pub(crate) async fn ding_connection(env: &Env, identifier: &str, kind: &str, other: bool, extra: Value) -> Value {
    let (client_id, secret, corp) = if other {
        (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_CORP_ID)
    } else {
        (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CORP_ID)
    };
    let mut body = json!({
        "identifier": identifier, "display_name": "钉钉", "kind": kind,
        "client_id": client_id, "client_secret": secret, "corp_id": corp,
    });
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    env.post("/connections", body).await
}

/// The login-page flow as a browser does it: authorize → DingTalk's page (the simulator's `sim_person` picks
/// who scans) → our callback with `authCode` → the redirect to the app, or wegate's page.
pub(crate) async fn qr_login(browser: &reqwest::Client, auth_url: &str, person: &str) -> reqwest::Response {
    let to_dingtalk = browser.get(auth_url).send().await.expect("authorize");
    assert_eq!(to_dingtalk.status(), StatusCode::SEE_OTHER, "{}", to_dingtalk.text().await.unwrap_or_default());
    let page = location(&to_dingtalk);
    let picked = browser.get(format!("{page}&sim_person={person}")).send().await.expect("DingTalk page");
    assert!(picked.status().is_redirection(), "{}", picked.text().await.unwrap_or_default());
    let callback = location(&picked);
    assert!(callback.contains("authCode="), "{callback}");
    browser.get(callback).send().await.expect("callback")
}

async fn web_app(env: &Env, connections: &[&str]) -> (Client, reqwest::Client, String) {
    let (client_id, secret) = env.app("web", REDIRECT).await;
    for c in connections {
        env.associate(&client_id, c).await;
    }
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    (client, http, client_id)
}

async fn sub_of(env: &Env, client: &Client, http: &reqwest::Client, browser: &reqwest::Client, person: &str) -> String {
    let req = auth_request(client, &["profile", "email"], &[("connection", "ding")]);
    let done = qr_login(browser, &req.url, person).await;
    let code = code_from_redirect(&done, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    let claims = tokens.id_token().expect("id token").claims(&client.id_token_verifier(), &req.nonce).unwrap();
    claims.subject().to_string()
}

fn claims_of(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn page_text(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, unescape(&response.text().await.unwrap()))
}

#[tokio::test]
async fn qrcode_lets_in_the_organisations_employees_and_nobody_else() {
    let (env, d) = start_ding().await;
    d.register(&env.base, DEMO_CLIENT_ID, &["ding"]);
    ding_connection(&env, "ding", "dingtalk_qrcode", false, json!({})).await;
    let (client, http, _) = web_app(&env, &["ding"]).await;

    // An employee: in, keyed on (corp, userid), profile from the organisation's directory.
    let sub = sub_of(&env, &client, &http, &browser(), "p-zhangsan").await;
    assert_eq!(sub_of(&env, &client, &http, &browser(), "p-zhangsan").await, sub, "same person, same sub");
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    let user = &users["items"][0];
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    let identity = &user["identities"][0];
    assert_eq!(identity["upstream"], format!("dingtalk:{DEMO_CORP_ID}"));
    assert_eq!(identity["subject"], "zhangsan");
    assert_eq!(identity["kind"], "dingtalk");
    // The enterprise mailbox from the directory, never the personal one `users/me` gives.
    assert_eq!(user["email"], "zhangsan@acme.example", "{user}");
    assert_eq!(user["claims"]["dingtalk_userid"], "zhangsan");

    // Someone in no organisation, an external contact, and another organisation's person: DingTalk's page
    // lets each of them scan, wegate refuses them all with a page that says why — and creates nobody.
    for person in ["p-loner", "p-wangwu", "p-zhao"] {
        let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
        let (status, page) = page_text(qr_login(&browser(), &req.url, person).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{person}: {page}");
        assert!(page.contains("not an employee of the organisation"), "{person}: {page}");
        assert!(page.contains("external contacts cannot sign in here"), "{person}: {page}");
    }
    assert_eq!(env.user_count().await, 1);
    let (_, audit) = env.admin(reqwest::Method::GET, "/audit?limit=100", None).await;
    let failures = audit["items"].as_array().unwrap().iter().filter(|e| e["event"] == "login.failure");
    let reasons: Vec<String> = failures.map(|e| e.to_string()).collect();
    // DingTalk's page lets an external contact sign in as a member of no organisation (the simulator's
    // reading); another organisation's person as its member. The log says which.
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().all(|r| r.contains("not an employee")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains(&format!("a member of {OTHER_CORP_ID}, not of {DEMO_CORP_ID}"))));

    // A person who is an employee of both organisations gets in as the demo organisation's member.
    let lisi = sub_of(&env, &client, &http, &browser(), "p-lisi").await;
    assert_ne!(lisi, sub);
}

#[tokio::test]
async fn two_organisations_same_userid_are_two_users_and_sessions_stay_in_their_organisation() {
    let (env, d) = start_ding().await;
    d.register(&env.base, DEMO_CLIENT_ID, &["ding"]);
    d.register(&env.base, OTHER_CLIENT_ID, &["ding"]);
    ding_connection(&env, "ding", "dingtalk_qrcode", false, json!({})).await;
    let (client, http, _) = web_app(&env, &["ding"]).await;
    let acme = sub_of(&env, &client, &http, &browser(), "p-zhangsan").await;

    // The other organisation's "zhangsan" is another person: the same connection identifier re-pointed at
    // the other organisation's app (as an admin might), then signed in.
    let (status, body) = env
        .admin(
            reqwest::Method::PATCH,
            "/connections/ding",
            Some(json!({"client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET, "corp_id": OTHER_CORP_ID})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = sub_of(&env, &client, &http, &browser(), "p-zhao").await;
    assert_ne!(acme, other, "zhangsan of two organisations: two users");
    assert_eq!(env.user_count().await, 2);

    // A session made in one organisation does not open an app of the other without signing in.
    let (status, _) = env
        .admin(
            reqwest::Method::PATCH,
            "/connections/ding",
            Some(json!({"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "corp_id": DEMO_CORP_ID})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    ding_connection(&env, "ding-other", "dingtalk_qrcode", true, json!({})).await;
    d.register(&env.base, OTHER_CLIENT_ID, &["ding", "ding-other"]);
    let (client2, _, _) = web_app(&env, &["ding-other"]).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
    code_from_redirect(&qr_login(&b, &req.url, "p-zhangsan").await, &req, &env.base);
    let req = auth_request(&client2, &["profile"], &[]);
    let second = b.get(&req.url).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK, "the other organisation's app asks again");
    let html = unescape(&second.text().await.unwrap());
    assert!(html.contains("/connection/ding-other"), "{html}");
}

#[tokio::test]
async fn a_replayed_or_foreign_code_is_refused_with_nothing_created() {
    let (env, d) = start_ding().await;
    d.register(&env.base, DEMO_CLIENT_ID, &["ding"]);
    ding_connection(&env, "ding", "dingtalk_qrcode", false, json!({})).await;
    let (client, _, _) = web_app(&env, &["ding"]).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
    let to_dingtalk = b.get(&req.url).send().await.unwrap();
    let picked = b.get(format!("{}&sim_person=p-zhangsan", location(&to_dingtalk))).send().await.unwrap();
    let callback = location(&picked);
    let auth_code = query_param(&callback, "authCode").unwrap();
    code_from_redirect(&b.get(&callback).send().await.unwrap(), &req, &env.base);

    // The same authCode brought back to a new login: DingTalk refuses it (single use), so does wegate.
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
    let to_dingtalk = b.get(&req.url).send().await.unwrap();
    let state = query_param(&location(&to_dingtalk), "state").unwrap();
    let replay = b
        .get(format!("{}/connections/ding/callback?authCode={auth_code}&state={state}", env.base))
        .send()
        .await
        .unwrap();
    let (status, page) = page_text(replay).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("invalid, has expired, or was already used"), "{page}");
    assert_eq!(env.user_count().await, 1);

    // The person declines at DingTalk: "you cancelled", nobody created.
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
    let to_dingtalk = b.get(&req.url).send().await.unwrap();
    let declined = b.get(format!("{}&sim_deny=1", location(&to_dingtalk))).send().await.unwrap();
    let (status, page) = page_text(b.get(location(&declined)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("You cancelled the sign-in at 钉钉"), "{page}");

    // A connection whose corp_id is not the organisation its app's sign-in names (the admin pasted another
    // organisation's CorpId): DingTalk's answer names the organisation picked, and it is not this one.
    let (status, body) =
        env.admin(reqwest::Method::PATCH, "/connections/ding", Some(json!({"corp_id": OTHER_CORP_ID}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
    let (status, page) = page_text(qr_login(&browser(), &req.url, "p-zhangsan").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("not an employee of the organisation"), "{page}");
    assert_eq!(env.user_count().await, 1);
}

#[tokio::test]
async fn inside_dingtalk_the_web_kind_signs_in_silently_through_the_jsapi() {
    let (env, d) = start_ding().await;
    ding_connection(&env, "ding-web", "dingtalk_web", false, json!({})).await;
    let (client, http, _) = web_app(&env, &["ding-web"]).await;

    // Outside DingTalk: no button (its JSAPI exists only there).
    let req = auth_request(&client, &["profile"], &[]);
    let page = unescape(&browser().get(&req.url).send().await.unwrap().text().await.unwrap());
    assert!(page.contains("/password\""), "the login page: {page}");
    assert!(!page.contains("/connection/ding-web"), "{page}");

    // Inside DingTalk: straight to wegate's page, which loads the JSAPI — allowed by its exact URL, nothing else.
    let ua = format!("{IN_DINGTALK} DingTalkSimPerson/p-lisi");
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(ua.clone())
        .build()
        .unwrap();
    let req = auth_request(&client, &["profile"], &[]);
    let page = b.get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let jsapi = format!("{}/jsapi/dingtalk.open.js", d.base);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains(&format!("script-src 'self' {jsapi};")), "{csp}");
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe"), "{csp}");
    let html = unescape(&page.text().await.unwrap());
    assert!(html.contains(&format!("<script src=\"{jsapi}\"></script>")), "{html}");
    assert!(html.contains("src=\"/static/client-code.js\""), "{html}");
    assert!(
        html.contains(&format!("data-corp-id=\"{DEMO_CORP_ID}\""))
            && html.contains(&format!("data-client-id=\"{DEMO_CLIENT_ID}\""))
    );
    let callback = extract_attr(&html, "data-callback=\"").unwrap();
    let state = extract_attr(&html, "data-state=\"").unwrap();

    // What the JSAPI gives inside DingTalk: the simulator's script carries the person's code per organisation.
    let script = reqwest::Client::builder().user_agent(ua).build().unwrap().get(&jsapi).send().await.unwrap();
    let script = script.text().await.unwrap();
    let line = script.lines().find(|l| l.contains("var codes = ")).expect("the codes");
    let codes: Value =
        serde_json::from_str(line.trim().trim_start_matches("var codes = ").trim_end_matches(';')).unwrap();
    let code = codes[DEMO_CORP_ID][DEMO_CLIENT_ID].as_str().expect("a code of the demo organisation for its app");
    let done = b.get(format!("{callback}?code={code}&state={state}")).send().await.unwrap();
    let app_code = code_from_redirect(&done, &req, &env.base);
    let tokens = exchange(&client, &http, app_code, req.verifier).await;
    assert!(tokens.id_token().is_some());
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    assert_eq!(users["items"][0]["identities"][0]["subject"], "lisi");

    // The JSAPI's refusal comes back as error=: a page naming DingTalk, nobody created.
    let req = auth_request(&client, &["profile"], &[]);
    let b2 = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(IN_DINGTALK)
        .build()
        .unwrap();
    let html = unescape(&b2.get(&req.url).send().await.unwrap().text().await.unwrap());
    let state = extract_attr(&html, "data-state=\"").unwrap();
    let failed = b2
        .get(format!("{callback}?error=jsapi_failed&error_description=not%20in%20DingTalk&state={state}"))
        .send()
        .await
        .unwrap();
    let (status, page) = page_text(failed).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("钉钉 did not sign you in; it answered: jsapi_failed"), "{page}");
    // Whatever comes back as error= is shown bounded (a crafted link cannot fill the page).
    let html = unescape(&b2.get(&req.url).send().await.unwrap().text().await.unwrap());
    let state = extract_attr(&html, "data-state=\"").unwrap();
    let long = "x".repeat(10_000);
    let failed = b2.get(format!("{callback}?error={long}&state={state}")).send().await.unwrap();
    let (status, page) = page_text(failed).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains(&"x".repeat(200)) && !page.contains(&"x".repeat(201)), "{} bytes", page.len());

    // A 免登 code of another organisation (its own employee there) is not this organisation's: 40078.
    let req = auth_request(&client, &["profile"], &[]);
    let html = unescape(&b2.get(&req.url).send().await.unwrap().text().await.unwrap());
    let state = extract_attr(&html, "data-state=\"").unwrap();
    let foreign = d.sim.mint_app_code("p-zhao", OTHER_CORP_ID, OTHER_CLIENT_ID).unwrap();
    let (status, page) =
        page_text(b2.get(format!("{callback}?code={foreign}&state={state}")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("was already used"), "{page}");
    assert_eq!(env.user_count().await, 1);
}

#[tokio::test]
async fn mobile_exchanges_a_dingtalk_code_at_the_token_endpoint() {
    let (env, d) = start_ding().await;
    ding_connection(&env, "ding-mobile", "dingtalk_mobile", false, json!({})).await;
    env.corp_connection("wecom-mobile", "wecom_mobile", json!({})).await;
    let (client_id, _) = env.app("native", "com.example.app:/cb").await;
    env.associate(&client_id, "ding-mobile").await;
    env.associate(&client_id, "wecom-mobile").await;
    const TYPE: &str = DINGTALK_CODE;
    let call = |code: String, kind: &'static str, connection: &'static str| {
        code_at_token(&env.base, &client_id, code, kind, connection, "openid profile offline_access")
    };
    // What the mini program's dd.getAuthCode gives: a code for its app.
    let code = d.sim.mint_app_code("p-zhangsan", DEMO_CORP_ID, DEMO_CLIENT_ID).unwrap();
    let (status, tokens) = call(code.clone(), TYPE, "ding-mobile").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(claims_of(tokens["id_token"].as_str().unwrap())["amr"], json!(["dingtalk_mobile"]));
    // Single use at DingTalk → invalid_grant.
    let (status, body) = call(code, TYPE, "ding-mobile").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    // A code another app of the same organisation asked for is not this app's.
    let other_app = d.sim.mint_app_code("p-zhangsan", DEMO_CORP_ID, "dingnoperm").unwrap();
    let (status, body) = call(other_app, TYPE, "ding-mobile").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    // A DingTalk code at a WeCom connection, a WeCom type at the DingTalk one: refused before any upstream call.
    let code = d.sim.mint_app_code("p-zhangsan", DEMO_CORP_ID, DEMO_CLIENT_ID).unwrap();
    let (_, body) = call(code.clone(), TYPE, "wecom-mobile").await;
    assert_eq!(body["error"], "invalid_request", "{body}");
    let (_, body) = call(code.clone(), "urn:wegate:params:oauth:token-type:wecom-code", "ding-mobile").await;
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert_eq!(d.stats().await["calls"]["/oapi/topapi/v2/user/getuserinfo"], 3, "{}", d.stats().await);
    // No button for it in a browser.
    assert_eq!(env.user_count().await, 1);
}

const DINGTALK_CODE: &str = "urn:wegate:params:oauth:token-type:dingtalk-code";

/// A native app's exchange of a code (`kind`) at `/token` for `connection`: (status, body).
async fn code_at_token(
    base: &str,
    client_id: &str,
    code: String,
    kind: &str,
    connection: &str,
    scope: &str,
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", code.as_str()),
        ("subject_token_type", kind),
        ("connection", connection),
        ("client_id", client_id),
        ("scope", scope),
    ];
    token_call(base, &form, None).await
}

/// A connection whose `corp_id` is this organisation's but whose app is another organisation's (an admin's
/// mix-up). DingTalk's older token endpoints do not name the organisation, so that app's token answered for its
/// own organisation and wegate filed the answer under `corp_id`. The token is now asked for `corp_id`'s
/// organisation and DingTalk refuses it: nobody gets in, nothing is created, and the error names the fix.
const WRONG_ORGANISATION: &str =
    "does not run in the organisation corp_id — client_id, client_secret and corp_id must be one internal app's";

/// The mixed-up connection of `kind`: this organisation's corp_id, the other organisation's app.
async fn mixed_up_connection(env: &Env, identifier: &str, kind: &str) -> Value {
    env.post(
        "/connections",
        json!({"identifier": identifier, "display_name": "钉钉", "kind": kind,
               "client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET, "corp_id": DEMO_CORP_ID}),
    )
    .await
}

#[tokio::test]
async fn mobile_with_another_organisations_app_refuses_every_code_and_names_the_mix_up() {
    let (env, d) = start_ding().await;
    // This organisation's own app first: 张三 (userid zhangsan) has an account.
    ding_connection(&env, "ding-acme", "dingtalk_mobile", false, json!({})).await;
    mixed_up_connection(&env, "ding-mixed", "dingtalk_mobile").await;
    let (client_id, _) = env.app("native", "com.example.app:/cb").await;
    env.associate(&client_id, "ding-acme").await;
    env.associate(&client_id, "ding-mixed").await;
    let call = |code: String, connection: &'static str| {
        code_at_token(&env.base, &client_id, code, DINGTALK_CODE, connection, "openid profile")
    };
    let code = d.sim.mint_app_code("p-zhangsan", DEMO_CORP_ID, DEMO_CLIENT_ID).unwrap();
    let (status, tokens) = call(code, "ding-acme").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert_eq!(env.user_count().await, 1);

    // The codes the other organisation's app redeems, its mini program's: 李四, a member of both organisations
    // (lisi here, lisi2 there), and 赵六, whose userid there is zhangsan — the same as 张三's here.
    for person in ["p-lisi", "p-zhao"] {
        let code = d.sim.mint_app_code(person, OTHER_CORP_ID, OTHER_CLIENT_ID).unwrap();
        let (status, body) = call(code, "ding-mixed").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{person}: {body}");
        assert_eq!(body["error"], "server_error", "{person}: {body}");
        assert!(
            body["error_description"].as_str().unwrap_or_default().contains(WRONG_ORGANISATION),
            "{person}: {body}"
        );
        assert!(body.get("access_token").is_none() && body.get("id_token").is_none(), "{person}: {body}");
    }
    // A code of this organisation (any of its apps) is refused the same way: the token is what is missing.
    let code = d.sim.mint_auth_code("p-lisi", DEMO_CORP_ID).unwrap();
    let (status, body) = call(code, "ding-mixed").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("server_error")), "{body}");
    assert_eq!(env.user_count().await, 1, "nothing created");
    let stats = d.stats().await;
    assert_eq!(stats["app_token_fetches"], 1, "only the right app got a token: {stats}");
    assert_eq!(stats["calls"]["/oapi/topapi/v2/user/getuserinfo"], 1, "no code redeemed by the mixed-up app: {stats}");
    let (_, audit) = env.admin(reqwest::Method::GET, "/audit?limit=100", None).await;
    let failures: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "login.failure")
        .map(|e| e.to_string())
        .collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(failures.iter().all(|f| f.contains("unauthorized.client")), "{failures:?}");
}

#[tokio::test]
async fn qrcode_with_another_organisations_app_lets_nobody_in_and_names_the_mix_up() {
    let (env, d) = start_ding().await;
    d.register(&env.base, OTHER_CLIENT_ID, &["ding"]);
    mixed_up_connection(&env, "ding", "dingtalk_qrcode").await;
    let (client, _, _) = web_app(&env, &["ding"]).await;
    // 李四 is a member of both organisations: he picks this one on DingTalk's page, so the organisation DingTalk
    // names is corp_id; 张三 is a member of this one only.
    for person in ["p-lisi", "p-zhangsan"] {
        let req = auth_request(&client, &["profile"], &[("connection", "ding")]);
        let (status, page) = page_text(qr_login(&browser(), &req.url, person).await).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{person}: {page}");
        assert!(page.contains(WRONG_ORGANISATION), "{person}: {page}");
        assert!(page.contains("钉钉 error code unauthorized.client"), "{person}: {page}");
    }
    assert_eq!(env.user_count().await, 0, "nothing created");
    let stats = d.stats().await;
    assert_eq!(stats["app_token_fetches"], 0, "{stats}");
    assert!(stats["calls"].get("/oapi/topapi/user/getbyunionid").is_none(), "{stats}");
}

#[tokio::test]
async fn dingtalk_faults_of_either_family_give_a_page_that_says_what_to_do() {
    let (env, d) = start_ding().await;
    d.register(&env.base, DEMO_CLIENT_ID, &["ding"]);
    d.register(&env.base, "dingnoperm", &["noperm"]);
    ding_connection(&env, "ding", "dingtalk_qrcode", false, json!({})).await;
    env.post(
        "/connections",
        json!({"identifier": "noperm", "display_name": "钉钉", "kind": "dingtalk_qrcode",
               "client_id": "dingnoperm", "client_secret": "noperm-secret", "corp_id": DEMO_CORP_ID}),
    )
    .await;
    let (client, _, _) = web_app(&env, &["ding", "noperm"]).await;
    let attempt = |connection: &'static str, person: &'static str| {
        let req = auth_request(&client, &["profile"], &[("connection", connection)]);
        async move { page_text(qr_login(&browser(), &req.url, person).await).await }
    };

    // The new family: an app without Contact.User.Read (HTTP 403 with requiredScopes) → the permission named.
    let (status, page) = attempt("noperm", "p-zhangsan").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("lacks the permission Contact.User.Read"), "{page}");
    assert!(page.contains("钉钉 error code Forbidden.AccessDenied.AccessTokenPermissionDenied"), "{page}");

    // The legacy family: errcode 60020 (HTTP 200) → the server IP whitelist named.
    d.fault(json!({"path": "/oapi/topapi/user/getbyunionid", "times": 1, "errcode": 60020})).await;
    let (status, page) = attempt("ding", "p-zhangsan").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("server IP whitelist"), "{page}");
    // The IP throttle's answer (neither family's shape) and an HTML page: DingTalk unavailable, no crash.
    for fault in [json!({"throttle": true}), json!({"html": true})] {
        let mut fault = fault;
        fault["path"] = json!("/api/v1.0/contact/users/me");
        fault["times"] = json!(1);
        d.fault(fault).await;
        let (status, page) = attempt("ding", "p-zhangsan").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
        assert!(page.contains("throttling this server"), "{page}");
    }
    // Busy (-1) in the legacy family: "could not complete right now", with its code.
    d.fault(json!({"path": "/oapi/topapi/v2/user/get", "times": 1, "errcode": -1})).await;
    let (status, page) = attempt("ding", "p-zhangsan").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("钉钉 could not complete the sign-in right now") && page.contains("error code -1"), "{page}");
    assert_eq!(env.user_count().await, 0, "nothing created by any failure");
    // And each failure is counted per API and code.
    let metrics = env.http.get(format!("{}/metrics", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("wegate_upstream_failures_total")
            && l.contains("provider=\"dingtalk\"")
            && l.contains("code=\"60020\"")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_member_who_left_is_signed_out_at_the_next_refresh_recheck() {
    let (env, d) = start_ding().await;
    d.register(&env.base, DEMO_CLIENT_ID, &["ding"]);
    ding_connection(&env, "ding", "dingtalk_qrcode", false, json!({})).await;
    let (client, http, _) = web_app(&env, &["ding"]).await;
    let req = auth_request(&client, &["profile", "offline_access"], &[("connection", "ding")]);
    let code = code_from_redirect(&qr_login(&browser(), &req.url, "p-lisi").await, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let left = reqwest::Client::new()
        .delete(format!("{}/_sim/orgs/{DEMO_CORP_ID}/members/lisi", d.base))
        .send()
        .await
        .unwrap();
    assert!(left.status().is_success());
    env.clock.advance(3700);
    let result =
        client.exchange_refresh_token(&openidconnect::RefreshToken::new(refresh)).unwrap().request_async(&http).await;
    assert!(result.is_err(), "the refresh is refused once the member left");
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    assert_eq!(users["items"][0]["disabled"], true, "{users}");
}

/// PostgreSQL: two `wegate serve` processes, logins on both, one DingTalk app token for the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_processes_share_one_dingtalk_app_token() {
    let Some(admin_url) = std::env::var("WEGATE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("PostgreSQL tests skipped: set WEGATE_TEST_POSTGRES_URL");
        return;
    };
    let db_url = crate::scale::create_database(&admin_url).await;
    let d = ding().await;
    let sim = Arc::new(simulator().await);
    let env: Vec<(&str, String)> = ding_env(&d);
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = spawn_process_with(&sim, &db_url, &vars).await;
    let mut with_issuer = vars.clone();
    with_issuer.push(("WEGATE_ISSUER", first.base.as_str()));
    let second = spawn_process_with(&sim, &db_url, &with_issuer).await;
    let a = Env::remote(&first.base, sim.clone());
    d.register(&first.base, DEMO_CLIENT_ID, &["ding"]);
    ding_connection(&a, "ding", "dingtalk_qrcode", false, json!({})).await;
    let (client_id, _) = a.app("web", REDIRECT).await;
    a.associate(&client_id, "ding").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 { first.base.clone() } else { second.base.clone() };
        let issuer = first.base.clone();
        let client_id = client_id.clone();
        tasks.push(tokio::spawn(async move {
            let b = browser();
            let url = format!(
                "{base}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&connection=ding",
                url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
            );
            let to_dingtalk = b.get(&url).send().await.unwrap();
            let picked = b.get(format!("{}&sim_person=p-zhangsan", location(&to_dingtalk))).send().await.unwrap();
            // The issuer is the first's: the browser comes back through "the load balancer" to either.
            let back = location(&picked).replace(&issuer, &base);
            let done = b.get(back).send().await.unwrap();
            location(&done).contains("code=")
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap(), "every login on either instance completes");
    }
    let stats = d.stats().await;
    assert_eq!(stats["app_token_fetches"], 1, "one app token for both instances: {stats}");
    drop(second);
}

/// Field matching links on the organisation's enterprise mailbox only: DingTalk's other `email` may be the
/// person's own entry, so an account with that address is not taken over (and the address stays off the new
/// account).
#[tokio::test]
async fn match_links_on_the_enterprise_mailbox_only() {
    let (env, d) = start_ding().await;
    d.register(&env.base, OTHER_CLIENT_ID, &["ding"]);
    d.register(&env.base, DEMO_CLIENT_ID, &["ding-acme"]);
    let association = json!({"association": {"mode": "match", "fields": ["email"]}});
    ding_connection(&env, "ding", "dingtalk_qrcode", true, association.clone()).await;
    ding_connection(&env, "ding-acme", "dingtalk_qrcode", false, association).await;
    let (client, http, _) = web_app(&env, &["ding", "ding-acme"]).await;
    for (username, email) in [("zhao", "zhao@personal.example"), ("zs", "zhangsan@acme.example")] {
        env.post("/users", json!({"username": username, "email": email, "password": "a-long-password-1"})).await;
    }
    // 赵六's directory entry has only his own `email`: a new user, the local "zhao" untouched.
    let sub = sub_of(&env, &client, &http, &browser(), "p-zhao").await;
    let (_, zhao) = env.admin(reqwest::Method::GET, &format!("/users/{sub}"), None).await;
    assert_ne!(zhao["username"], "zhao", "{zhao}");
    assert!(zhao["email"].is_null(), "an unvouched email stays off the account: {zhao}");
    assert_eq!(env.user_count().await, 3);
    // 张三's enterprise mailbox links to the account that has it.
    let req = auth_request(&client, &["profile"], &[("connection", "ding-acme")]);
    let done = qr_login(&browser(), &req.url, "p-zhangsan").await;
    let code = code_from_redirect(&done, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    let (_, zs) = env.admin(reqwest::Method::GET, &format!("/users/{}", claims.subject().as_str()), None).await;
    assert_eq!(zs["username"], "zs", "{zs}");
    assert_eq!(env.user_count().await, 3);
}
