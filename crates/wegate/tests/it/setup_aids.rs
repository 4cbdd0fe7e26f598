//! The login page and the set-up aids (CONTRACT.md, "Login page and set-up aids") over HTTP; the same page
//! in a real browser is in `browser.rs`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/cb";
const WXWORK: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 wxwork/4.1.20";

fn wecom_browser() -> reqwest::Client {
    reqwest::Client::builder().user_agent(WXWORK).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn buttons_follow_the_apps_order_and_show_their_icons() {
    let env = start().await;
    let icon = "https://cdn.example.com/wecom.svg";
    env.corp_connection("a", "wecom_qrcode", json!({"display_name": "Button A"})).await;
    env.corp_connection("b", "wecom_qrcode", json!({"display_name": "Button B", "icon_url": icon})).await;
    env.corp_connection("c", "wecom_qrcode", json!({"display_name": "Button C"})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    for id in ["a", "b", "c"] {
        env.associate(&client_id, id).await;
    }
    let (env_ref, client) = (&env, client_id.clone());
    let put = move |id: &str, body: Option<serde_json::Value>| {
        let path = format!("/apps/{client}/connections/{id}");
        async move { env_ref.admin(Method::PUT, &path, body).await }
    };
    assert_eq!(put("c", Some(json!({"order": -5}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(put("a", Some(json!({"order": 10}))).await.0, StatusCode::NO_CONTENT);
    let (status, refused) = put("b", Some(json!({"order": "first"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("order"));
    assert_eq!(put("b", Some(json!({"position": 1}))).await.0, StatusCode::BAD_REQUEST, "unknown fields refused");
    assert_eq!(put("c", None).await.0, StatusCode::NO_CONTENT, "a PUT without a body keeps the order");

    let (_, app) = env.admin(Method::GET, &format!("/apps/{client_id}"), None).await;
    assert_eq!(app["connections"], json!(["c", "b", "a"]), "ascending order, then association order");
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let html = browser().get(auth_request(&client, &["profile"], &[]).url).send().await.unwrap().text().await.unwrap();
    let positions: Vec<usize> = ["Button C", "Button B", "Button A"].iter().map(|b| html.find(b).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "the page shows the app's order");
    assert!(
        html.contains(&format!("<img class=\"icon\" src=\"{}\"", icon.replace('/', "&#x2f;"))) || html.contains(icon)
    );

    let (_, c) = env.admin(Method::GET, "/connections/b", None).await;
    assert_eq!(c["icon_url"], icon);
    for bad in ["http://cdn.example.com/x.png", "javascript:alert(1)", "data:text/html;base64,PHA+"] {
        let (status, _) = env.admin(Method::PATCH, "/connections/b", Some(json!({"icon_url": bad}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, c) = env.admin(Method::PATCH, "/connections/b", Some(json!({"icon_url": null}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(c.get("icon_url").is_none(), "null removes it: {c}");
}

#[tokio::test]
async fn inside_wecom_the_first_in_wecom_connection_opens_silently_and_elsewhere_it_is_hidden() {
    let env = start().await;
    env.corp_connection("qr", "wecom_qrcode", json!({"display_name": "QR"})).await;
    env.corp_connection("web-late", "wecom_web", json!({"display_name": "Web late"})).await;
    env.corp_connection("web-early", "wecom_web", json!({"display_name": "Web early"})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    for (id, order) in [("qr", 0), ("web-late", 2), ("web-early", 1)] {
        let path = format!("/apps/{client_id}/connections/{id}");
        env.admin(Method::PUT, &path, Some(json!({"order": order}))).await;
    }
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;

    let inside = wecom_browser().get(auth_request(&client, &["profile"], &[]).url).send().await.unwrap();
    assert_eq!(inside.status(), StatusCode::SEE_OTHER);
    let to = location(&inside);
    assert!(to.contains("/connect/oauth2/authorize"), "{to}");
    assert!(to.contains("connections%2Fweb-early%2Fcallback"), "the first by the app's order: {to}");
    // A connection= hint still wins inside WeCom.
    let hinted =
        wecom_browser().get(auth_request(&client, &["profile"], &[("connection", "qr")]).url).send().await.unwrap();
    assert!(location(&hinted).contains("/wwlogin/sso/login"));

    let html = browser().get(auth_request(&client, &["profile"], &[]).url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("QR") && !html.contains("Web early") && !html.contains("Web late"), "{html}");
    assert!(!html.contains("only-inside-wecom"), "there is a button to show");

    // An app whose only WeCom sign-in is the in-WeCom one says why there is no button.
    let (only_web, secret) = env.app("web", REDIRECT).await;
    env.associate(&only_web, "web-late").await;
    let (client, _) = env.oidc_client(&only_web, secret.as_deref(), REDIRECT).await;
    let html = browser().get(auth_request(&client, &["profile"], &[]).url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"only-inside-wecom\""), "{html}");
    assert!(html.contains("only inside the WeCom app"));
}

#[tokio::test]
async fn a_connection_shows_its_trusted_domain_and_the_settings_that_cannot_work() {
    let env = start().await;
    let port = url::Url::parse(&env.base).unwrap().port().unwrap();
    let created = env
        .corp_connection(
            "qr",
            "wecom_qrcode",
            json!({"association": {"mode": "match", "fields": ["email", "username"]}}),
        )
        .await;
    assert_eq!(created["trusted_domain"], format!("127.0.0.1:{port}"), "host and non-default port, no scheme");
    let warnings = created["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "email cannot match, username can: {warnings:?}");
    assert!(warnings[0].as_str().unwrap().contains("email"));

    let web = env
        .corp_connection(
            "web",
            "wecom_web",
            json!({"scope": "snsapi_privateinfo", "association": {"mode": "match", "fields": ["email", "phone"]}}),
        )
        .await;
    assert_eq!(web["warnings"], json!([]), "consent gives email and mobile");
    let (_, base) = env.admin(Method::PATCH, "/connections/web", Some(json!({"scope": "snsapi_base"}))).await;
    assert_eq!(base["warnings"].as_array().map(Vec::len), Some(2), "{base}");

    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let delegated = env
        .post(
            "/connections",
            json!({"identifier": "deleg", "display_name": "D", "kind": "wecom_delegated", "token": t.token,
                   "encoding_aes_key": t.encoding_aes_key, "association": {"mode": "match", "fields": ["username"]}}),
        )
        .await;
    assert!(delegated["warnings"][0].as_str().unwrap().contains("encrypted userids"), "{delegated}");
}

#[tokio::test]
async fn two_connections_cannot_serve_one_verification_file_with_different_contents() {
    let env = start().await;
    let file = |content: &str| json!({"domain_verification": {"filename": "WW_verify_abc123.txt", "content": content}});
    env.corp_connection("one", "wecom_qrcode", file("first")).await;
    let seed = wecom_sim::Seed::demo();
    let (corp, app) = (&seed.corps[0], &seed.corps[0].apps[0]);
    let mut body = json!({"identifier": "two", "display_name": "Two", "kind": "wecom_qrcode", "corp_id": corp.corp_id,
                          "agent_id": app.agent_id.to_string(), "secret": app.secret});
    body["domain_verification"] = file("second")["domain_verification"].clone();
    let (status, refused) = env.admin(Method::POST, "/connections", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("one"), "names the other connection: {refused}");
    body["domain_verification"] = file("first")["domain_verification"].clone();
    let (status, _) = env.admin(Method::POST, "/connections", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "the same file twice is fine");
    let (status, _) = env.admin(Method::PATCH, "/connections/two", Some(file("other"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a PATCH is checked too");
    let served = env.http.get(format!("{}/WW_verify_abc123.txt", env.base)).send().await.unwrap();
    assert_eq!(served.text().await.unwrap(), "first");
}

/// Inside WeCom the silent routing comes after the session check: a password session still answers
/// `prompt=none` (only an explicit `connection=` narrows which sessions may).
#[tokio::test]
async fn inside_wecom_an_existing_session_still_answers_silently() {
    let env = start().await;
    env.corp_connection("web", "wecom_web", json!({})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "web").await;
    env.post("/users", json!({"username": "pat", "password": "pat-password"})).await;
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let b = browser();
    let signed_in = password_login(&b, &auth_request(&client, &["profile"], &[]).url, "pat", "pat-password").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let req = auth_request(&client, &["profile"], &[("prompt", "none")]);
    let silent = b.get(&req.url).header(reqwest::header::USER_AGENT, WXWORK).send().await.unwrap();
    assert!(location(&silent).contains("code="), "{}", location(&silent));
}
