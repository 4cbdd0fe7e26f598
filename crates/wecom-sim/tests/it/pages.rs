//! Reference §2.1, §2.2, §3 and §8: the login and OAuth pages validate like WeCom and redirect
//! with `code` and `state`.

use serde_json::json;
use wecom_sim::{App, CUSTOMER_CORP_ID, DEMO_CORP_ID, Seed};

use crate::common::*;

fn wwlogin(extra: &str) -> String {
    format!(
        "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}{extra}",
        enc(CALLBACK)
    )
}

async fn error_page(sim: &Sim, path: &str) -> String {
    let resp = sim.get(path).await;
    assert_eq!(resp.status(), 400, "{path}");
    resp.text().await.unwrap()
}

#[tokio::test]
async fn the_login_page_lists_members_and_says_it_is_a_simulator() {
    let sim = sim().await;
    let resp = sim.get(&wwlogin("&state=abc")).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("WeCom Simulator"));
    for name in ["张三", "王芳", "Alice Chen", "Bob Smith", "赵六"] {
        assert!(html.contains(name), "{name}");
    }
    assert!(html.contains("sim_user=ZhangSan"));
    assert!(html.contains("sim_outsider=1"));
    assert!(html.contains("sim_action=deny"));
    // ZhaoLiu is marked as outside the app's visible scope.
    assert!(html.contains("不在可见范围"));
}

#[tokio::test]
async fn picking_a_member_redirects_with_code_and_state() {
    let sim = sim().await;
    let loc = sim.redirect_of(&wwlogin("&state=abc&sim_user=alice")).await;
    assert_eq!(loc.host_str(), Some("127.0.0.1"));
    assert_eq!(loc.path(), "/connections/demo/callback");
    assert_eq!(query(&loc, "state").as_deref(), Some("abc"));
    assert!(query(&loc, "code").unwrap().len() <= 512);
}

#[tokio::test]
async fn without_state_the_redirect_has_no_state() {
    let sim = sim().await;
    let loc = sim.redirect_of(&wwlogin("&sim_user=alice")).await;
    assert!(query(&loc, "state").is_none());
    assert!(query(&loc, "code").is_some());
}

#[tokio::test]
async fn a_redirect_uri_with_a_query_gets_the_code_appended() {
    let sim = sim().await;
    let cb = "http://127.0.0.1:8080/cb?next=%2Fhome&x=1";
    let loc = sim
        .redirect_of(&format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}&state=st&sim_user=bob",
            enc(cb)
        ))
        .await;
    assert_eq!(query(&loc, "next").as_deref(), Some("/home"));
    assert_eq!(query(&loc, "x").as_deref(), Some("1"));
    assert!(query(&loc, "code").is_some());
    assert_eq!(query(&loc, "state").as_deref(), Some("st"));
}

#[tokio::test]
async fn cancel_redirects_with_the_state_only() {
    let sim = sim().await;
    let loc = sim.redirect_of(&wwlogin("&state=abc&sim_action=deny")).await;
    assert_eq!(query(&loc, "state").as_deref(), Some("abc"));
    assert!(query(&loc, "code").is_none());
}

#[tokio::test]
async fn an_unknown_login_type_is_refused() {
    let sim = sim().await;
    let html = error_page(
        &sim,
        &format!(
            "/wwlogin/sso/login?login_type=Nope&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}",
            enc(CALLBACK)
        ),
    )
    .await;
    assert!(html.contains("login_type 参数错误"));
    assert!(html.contains("data-error=\"login_type\""));
}

#[tokio::test]
async fn an_unknown_corp_or_agent_is_refused() {
    let sim = sim().await;
    let html = error_page(
        &sim,
        &format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid=wwunknown&agentid={DEMO_AGENT}&redirect_uri={}",
            enc(CALLBACK)
        ),
    )
    .await;
    assert!(html.contains("appid 参数错误"));
    let html = error_page(
        &sim,
        &format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid=999&redirect_uri={}",
            enc(CALLBACK)
        ),
    )
    .await;
    assert!(html.contains("agentid 参数错误"));
    let html = error_page(
        &sim,
        &format!("/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&redirect_uri={}", enc(CALLBACK)),
    )
    .await;
    assert!(html.contains("agentid 参数错误"));
}

#[tokio::test]
async fn a_missing_or_unparseable_redirect_uri_is_refused() {
    let sim = sim().await;
    let html =
        error_page(&sim, &format!("/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}"))
            .await;
    assert!(html.contains("redirect_uri 参数错误"));
    let html = error_page(
        &sim,
        &format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri=%2Fcallback"
        ),
    )
    .await;
    assert!(html.contains("redirect_uri 参数错误"));
}

#[tokio::test]
async fn a_redirect_uri_outside_the_trusted_domain_is_refused_even_with_sim_user() {
    let sim = sim().await;
    let html = error_page(
        &sim,
        &format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}&sim_user=alice",
            enc("https://evil.example.com/cb")
        ),
    )
    .await;
    assert!(html.contains("redirect_uri 参数错误"));
    assert!(html.contains("evil.example.com"));
}

#[tokio::test]
async fn a_trusted_domain_with_a_port_requires_that_port() {
    let mut seed = Seed::demo();
    seed.corps[0].apps.push(App {
        agent_id: 1000010,
        secret: "s".repeat(43),
        name: "Port app".into(),
        visible_users: vec![],
        visible_departments: vec![],
        trusted_domain: "sso.example.com:8443".into(),
        legacy_privacy: false,
        schema: None,
        event_url: None,
        token: None,
        encoding_aes_key: None,
    });
    let sim = sim_with(seed, test_config()).await;
    let page = |cb: &str| {
        format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid=1000010&redirect_uri={}&sim_user=alice",
            enc(cb)
        )
    };
    sim.redirect_of(&page("https://sso.example.com:8443/cb")).await;
    error_page(&sim, &page("https://sso.example.com/cb")).await;
    error_page(&sim, &page("https://sso.example.com:9443/cb")).await;
}

/// path/91335: a domain configured without a port admits only the default one (`mail.qq.com` does not admit
/// `mail.qq.com:8080`); `POST /_sim/trusted_domain` moves every app and suite to another domain.
#[tokio::test]
async fn a_trusted_domain_without_a_port_admits_only_the_default_port_and_can_be_moved() {
    let mut seed = Seed::demo();
    seed.corps[0].apps[0].trusted_domain = "sso.example.com".into();
    let sim = sim_with(seed, test_config()).await;
    let page = |cb: &str| {
        format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}&sim_user=alice",
            enc(cb)
        )
    };
    sim.redirect_of(&page("https://sso.example.com/cb")).await;
    sim.redirect_of(&page("http://sso.example.com:80/cb")).await;
    error_page(&sim, &page("https://sso.example.com:8443/cb")).await;

    let moved = sim.post_raw("/_sim/trusted_domain", json!({"domain": "127.0.0.1:7001"})).await;
    assert!(moved.status().is_success());
    sim.redirect_of(&page("http://127.0.0.1:7001/cb")).await;
    error_page(&sim, &page("http://127.0.0.1:7002/cb")).await;
    error_page(&sim, &page("https://sso.example.com/cb")).await;
    let v = sim.get_json("/_sim/trusted_domain").await;
    assert_eq!(v["trusted_domain"], "127.0.0.1:7001");
    let refused = sim.post_raw("/_sim/trusted_domain", json!({"domain": "https://x.example.com/"})).await;
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn page_content_is_html_escaped() {
    let mut seed = Seed::demo();
    seed.corps[0].members[0].name = "<script>alert(1)</script>".into();
    let sim = sim_with(seed, test_config()).await;
    let html = sim.get(&wwlogin("&state=%3Cb%3E")).await.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn service_app_login_lists_members_of_all_corps() {
    let sim = sim().await;
    let path =
        format!("/wwlogin/sso/login?login_type=ServiceApp&appid={SUITE_ID}&redirect_uri={}&state=p", enc(CALLBACK));
    let html = sim.get(&path).await.text().await.unwrap();
    assert!(html.contains("张三") && html.contains("刘洋"));
    assert!(html.contains(&format!("sim_corp={CUSTOMER_CORP_ID}")));
    let loc = sim.redirect_of(&format!("{path}&sim_user=emma&sim_corp={CUSTOMER_CORP_ID}")).await;
    assert!(query(&loc, "code").is_some());
}

#[tokio::test]
async fn service_app_login_with_an_unknown_suite_is_refused() {
    let sim = sim().await;
    let html = error_page(
        &sim,
        &format!("/wwlogin/sso/login?login_type=ServiceApp&appid=wwnosuch&redirect_uri={}", enc(CALLBACK)),
    )
    .await;
    assert!(html.contains("appid 参数错误"));
    // A delegated template is not a login suite.
    let html = error_page(
        &sim,
        &format!("/wwlogin/sso/login?login_type=ServiceApp&appid={TEMPLATE_ID}&redirect_uri={}", enc(CALLBACK)),
    )
    .await;
    assert!(html.contains("appid 参数错误"));
}

#[tokio::test]
async fn legacy_qr_connect_works_like_corp_app() {
    let sim = sim().await;
    let loc = sim
        .redirect_of(&format!(
            "/wwopen/sso/qrConnect?appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}&state=q&sim_user=bob",
            enc(CALLBACK)
        ))
        .await;
    let token = sim.demo_token().await;
    let v = sim.getuserinfo(&token, &query(&loc, "code").unwrap()).await;
    assert_eq!(v["userid"], "bob");
}

fn oauth(scope: &str, extra: &str) -> String {
    format!(
        "/connect/oauth2/authorize?appid={DEMO_CORP_ID}&redirect_uri={}&response_type=code&scope={scope}{extra}",
        enc(CALLBACK)
    )
}

#[tokio::test]
async fn oauth_privateinfo_requires_agentid() {
    let sim = sim().await;
    let html = error_page(&sim, &oauth("snsapi_privateinfo", "&state=s")).await;
    assert!(html.contains("agentid 参数错误"));
}

#[tokio::test]
async fn oauth_privateinfo_refuses_members_outside_the_visible_scope() {
    let sim = sim().await;
    let resp = sim.get(&oauth("snsapi_privateinfo", &format!("&agentid={DEMO_AGENT}&sim_user=ZhaoLiu"))).await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("你没有访问该应用的权限"));
    // snsapi_base lets the same member through (the broker enforces scope with user/get).
    sim.redirect_of(&oauth("snsapi_base", &format!("&agentid={DEMO_AGENT}&sim_user=ZhaoLiu"))).await;
}

#[tokio::test]
async fn oauth_base_without_agentid_is_exchanged_by_an_app_of_the_corp() {
    let sim = sim().await;
    let loc = sim.redirect_of(&oauth("snsapi_base", "&state=s&sim_user=alice")).await;
    let token = sim.demo_token().await;
    let v = sim.getuserinfo(&token, &query(&loc, "code").unwrap()).await;
    assert_eq!(v["userid"], "alice");
}

#[tokio::test]
async fn oauth_validates_scope_response_type_and_state() {
    let sim = sim().await;
    let html = error_page(&sim, &oauth("snsapi_login", "")).await;
    assert!(html.contains("scope 参数错误"));
    let html = error_page(
        &sim,
        &format!(
            "/connect/oauth2/authorize?appid={DEMO_CORP_ID}&redirect_uri={}&response_type=token&scope=snsapi_base",
            enc(CALLBACK)
        ),
    )
    .await;
    assert!(html.contains("response_type 参数错误"));
    let html = error_page(&sim, &oauth("snsapi_base", "&state=a-b_c")).await;
    assert!(html.contains("state 参数错误"));
    let long = "a".repeat(129);
    error_page(&sim, &oauth("snsapi_base", &format!("&state={long}"))).await;
    sim.redirect_of(&oauth("snsapi_base", &format!("&state={}&sim_user=bob", "a".repeat(128)))).await;
}

#[tokio::test]
async fn oauth_with_an_unknown_appid_or_foreign_domain_is_refused() {
    let sim = sim().await;
    let html = error_page(
        &sim,
        &format!(
            "/connect/oauth2/authorize?appid=wwnope&redirect_uri={}&response_type=code&scope=snsapi_base",
            enc(CALLBACK)
        ),
    )
    .await;
    assert!(html.contains("appid 参数错误"));
    let html = error_page(
        &sim,
        &format!(
            "/connect/oauth2/authorize?appid={DEMO_CORP_ID}&redirect_uri={}&response_type=code&scope=snsapi_base&agentid={DEMO_AGENT}",
            enc("http://localhost:9/cb")
        ),
    )
    .await;
    assert!(html.contains("redirect_uri 参数错误"));
}

#[tokio::test]
async fn the_privateinfo_page_asks_for_consent() {
    let sim = sim().await;
    let html = sim.get(&oauth("snsapi_privateinfo", &format!("&agentid={DEMO_AGENT}"))).await.text().await.unwrap();
    assert!(html.contains("snsapi_privateinfo"));
    assert!(html.contains("sim_user=alice"));
}

/// Document 39442: URL parameters take the upgraded id, so a delegated app's login and OAuth pages take
/// `appid` = the provider's encrypted corp id; the plain one is refused, naming the expected appid.
#[tokio::test]
async fn a_delegated_apps_pages_take_the_encrypted_corp_id_as_appid() {
    let sim = sim().await;
    let auth = sim
        .post_json(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), serde_json::json!({"corp_id": CUSTOMER_CORP_ID}))
        .await;
    let agent = auth["agent_id"].as_i64().unwrap();
    let encrypted = auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await;
    assert_ne!(encrypted, CUSTOMER_CORP_ID);
    let login = |appid: &str| {
        format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={appid}&agentid={agent}&redirect_uri={}&state=d&sim_user=emma",
            enc(CALLBACK)
        )
    };
    let oauth = |appid: &str| {
        format!(
            "/connect/oauth2/authorize?appid={appid}&redirect_uri={}&response_type=code&scope=snsapi_base&agentid={agent}&sim_user=emma",
            enc(CALLBACK)
        )
    };
    for page in [login(CUSTOMER_CORP_ID), oauth(CUSTOMER_CORP_ID)] {
        let html = error_page(&sim, &page).await;
        assert!(html.contains("data-error=\"appid\""), "{html}");
        assert!(html.contains("appid 参数错误"), "{html}");
        assert!(html.contains(&encrypted), "the page names the expected appid: {html}");
    }
    for page in [login(&encrypted), oauth(&encrypted)] {
        let loc = sim.redirect_of(&page).await;
        assert!(query(&loc, "code").is_some(), "{loc}");
    }
    // Self-built apps keep the plain corp id; the provider's encrypted id of their corp does not name them.
    sim.redirect_of(&wwlogin("&sim_user=alice")).await;
    let demo_encrypted = auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await;
    let html = error_page(&sim, &wwlogin("&sim_user=alice").replace(DEMO_CORP_ID, &demo_encrypted)).await;
    assert!(html.contains("data-error=\"appid\""), "{html}");
    assert!(html.contains(DEMO_CORP_ID), "the page names the expected appid: {html}");
}
