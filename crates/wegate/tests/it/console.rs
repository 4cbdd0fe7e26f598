//! The admin console (CONTRACT.md, "Console") over HTTP: who enters, CSRF, and that a change made in the
//! console is what the admin API shows and the other way round. The click-through in a real browser is in
//! `browser.rs`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

/// Signs `login` in to the console through wegate's own login page (password); the browser keeps the cookies.
pub async fn console_sign_in(env: &Env, b: &reqwest::Client, login: &str, password: &str) -> reqwest::Response {
    let to_authorize = b.get(format!("{}/console/signin", env.base)).send().await.unwrap();
    assert_eq!(to_authorize.status(), StatusCode::SEE_OTHER);
    let back = password_login(b, &location(&to_authorize), login, password).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{}", back.text().await.unwrap_or_default());
    let callback = location(&back);
    assert!(callback.contains("/console/callback?code="), "{callback}");
    let landed = b.get(callback).send().await.unwrap();
    assert_eq!(location(&landed), "/console");
    b.get(format!("{}/console", env.base)).send().await.unwrap()
}

/// The CSRF token of a console page.
fn csrf(html: &str) -> String {
    extract_attr(html, "name=\"csrf\" value=\"").expect("a csrf field")
}

#[tokio::test]
async fn only_admins_enter_and_forms_need_their_csrf_token() {
    let env = start().await;
    let root = env.post("/users", json!({"username": "root", "password": "root-password", "admin": true})).await;
    assert_eq!(root["admin"], true, "admin on create");
    env.post("/users", json!({"username": "mia", "password": "mia-password"})).await;

    let anonymous = browser().get(format!("{}/console", env.base)).send().await.unwrap();
    assert_eq!(location(&anonymous), "/console/login");

    let member = browser();
    let page = console_sign_in(&env, &member, "mia", "mia-password").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN, "a signed-in non-admin is refused");

    let admin = browser();
    let page = console_sign_in(&env, &admin, "root", "root-password").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let token = csrf(&html);
    let detail = admin
        .get(format!("{}/console/users/{}", env.base, root["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains("id=\"sessions\""), "the admin's own browser session is listed");
    let forged = admin
        .post(format!("{}/console/apps", env.base))
        .form(&[("name", "X"), ("kind", "web"), ("redirect_uris", "https://x.example/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no csrf token");
    let wrong = admin
        .post(format!("{}/console/apps", env.base))
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("name", "X"),
            ("kind", "web"),
            ("redirect_uris", "https://x.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "another token");

    // Signing out ends the console's session and wegate's own.
    let out =
        admin.post(format!("{}/console/logout", env.base)).form(&[("csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(location(&out), "/console/login");
    let after = admin.get(format!("{}/console", env.base)).send().await.unwrap();
    assert_eq!(location(&after), "/console/login");

    // The admin token opens it too; a wrong one does not.
    let with_token = browser();
    let refused =
        with_token.post(format!("{}/console/token", env.base)).form(&[("token", "nope")]).send().await.unwrap();
    assert!(location(&refused).starts_with("/console/login?error="));
    let opened = with_token.post(format!("{}/console/token", env.base)).form(&[("token", ADMIN)]).send().await.unwrap();
    assert_eq!(location(&opened), "/console");
    assert_eq!(with_token.get(format!("{}/console", env.base)).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_change_in_the_console_is_what_the_api_shows_and_back() {
    let env = start().await;
    let b = browser();
    b.post(format!("{}/console/token", env.base)).form(&[("token", ADMIN)]).send().await.unwrap();
    let html = b.get(format!("{}/console/apps", env.base)).send().await.unwrap().text().await.unwrap();
    let token = csrf(&html);
    for field in ["name=\"name\"", "name=\"kind\"", "name=\"redirect_uris\"", "name=\"backchannel_logout_uri\""] {
        assert!(html.contains(field), "inputs are named after the API's fields: {field}");
    }

    // An app made in the console, with its secret shown once.
    let created = b
        .post(format!("{}/console/apps", env.base))
        .form(&[
            ("csrf", token.as_str()),
            ("name", "Intranet"),
            ("kind", "web"),
            ("redirect_uris", "https://intranet.example/cb\nhttps://intranet.example/cb2"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let client_id =
        extract_attr(&created, "id=\"client-id\">").map(|s| s.split('<').next().unwrap_or_default().to_string());
    let client_id = client_id.unwrap_or_else(|| {
        created.split("<code id=\"client-id\">").nth(1).unwrap().split('<').next().unwrap().to_string()
    });
    assert!(created.contains("id=\"client-secret\""), "the secret is shown once");
    let (_, app) = env.admin(Method::GET, &format!("/apps/{client_id}"), None).await;
    assert_eq!(app["name"], "Intranet");
    assert_eq!(app["redirect_uris"], json!(["https://intranet.example/cb", "https://intranet.example/cb2"]));
    assert!(
        !b.get(format!("{}/console/apps/{client_id}", env.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("client-secret"),
        "and never again"
    );

    // A connection made in the console; the API renames it; the console shows the new name.
    let seed = wecom_sim::Seed::demo();
    let (corp, corp_app) = (&seed.corps[0], &seed.corps[0].apps[0]);
    let form = b
        .get(format!("{}/console/connections?kind=wecom_qrcode", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"corp_id\"") && form.contains("name=\"secret\""), "the kind's fields");
    let agent = corp_app.agent_id.to_string();
    let made = b
        .post(format!("{}/console/connections", env.base))
        .form(&[
            ("csrf", token.as_str()),
            ("kind", "wecom_qrcode"),
            ("identifier", "qr"),
            ("display_name", "扫码登录"),
            ("corp_id", corp.corp_id.as_str()),
            ("agent_id", agent.as_str()),
            ("secret", corp_app.secret.as_str()),
            ("association.mode", "match"),
            ("association.fields", "username"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&made).starts_with("/console/connections/qr?ok=created&sig="), "{}", location(&made));
    let (_, c) = env.admin(Method::GET, "/connections/qr", None).await;
    assert_eq!(c["association"], json!({"mode": "match", "fields": ["username"]}));
    assert_eq!(c["secrets_set"]["secret"], true);
    env.admin(Method::PATCH, "/connections/qr", Some(json!({"display_name": "WeCom QR"}))).await;
    let page = b.get(format!("{}/console/connections/qr", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("WeCom QR") && page.contains("id=\"trusted-domain\""), "{page}");
    assert!(!page.contains(&corp_app.secret), "secrets are never echoed back");

    // An OpenID Connect connection from the console form: lists one per line, claims as name=path lines.
    let form = b.get(format!("{}/console/connections?kind=oidc", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("name=\"issuer\"") && form.contains("<textarea id=\"f-claims\""), "the kind's fields");
    let made = b
        .post(format!("{}/console/connections", env.base))
        .form(&[
            ("csrf", token.as_str()),
            ("kind", "oidc"),
            ("identifier", "entra"),
            ("display_name", "Microsoft"),
            ("issuer", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"),
            ("client_id", "6731de76-14a6-49ae-97bc-6eba6914391e"),
            ("client_secret", "entra-secret-value"),
            ("scopes", "openid\nprofile\nemail"),
            ("claims", "email=upn\nname=name"),
            ("use_userinfo", "false"),
            ("association.mode", "none"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&made).starts_with("/console/connections/entra?ok=created&sig="), "{}", location(&made));
    let (_, c) = env.admin(Method::GET, "/connections/entra", None).await;
    assert_eq!(c["settings"]["scopes"], json!(["openid", "profile", "email"]));
    assert_eq!(c["settings"]["claims"], json!({"email": "upn", "name": "name"}));
    assert_eq!(c["settings"]["use_userinfo"], json!(false));
    assert_eq!(c["secrets_set"]["client_secret"], true);
    let page = b.get(format!("{}/console/connections/entra", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("email=upn") && !page.contains("entra-secret-value"), "{page}");
    assert!(page.contains("Register at the provider") && !page.contains("id=\"trusted-domain\""), "{page}");

    // A DingTalk connection from the console form, with DingTalk's own field guide.
    let form = b
        .get(format!("{}/console/connections?kind=dingtalk_qrcode", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"corp_id\"") && form.contains("name=\"client_secret\""), "{form}");
    assert!(form.contains("Client ID (AppKey)") && form.contains("qyapi_get_member"), "DingTalk's guide: {form}");
    let made = b
        .post(format!("{}/console/connections", env.base))
        .form(&[
            ("csrf", token.as_str()),
            ("kind", "dingtalk_qrcode"),
            ("identifier", "dingtalk"),
            ("display_name", "钉钉"),
            ("client_id", "dingabcdefghijk"),
            ("client_secret", "dingtalk-secret-value"),
            ("corp_id", "ding0123456789abcdef"),
            ("association.mode", "none"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&made).starts_with("/console/connections/dingtalk?ok=created&sig="), "{}", location(&made));
    let page = b.get(format!("{}/console/connections/dingtalk", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Register at the provider") && !page.contains("dingtalk-secret-value"), "{page}");

    // A Feishu marketplace connection: its tenants one per line, its event URL shown to paste.
    let form = b
        .get(format!("{}/console/connections?kind=feishu_marketplace", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("<textarea id=\"f-allowed_tenants\"") && form.contains("Encrypt Key"), "{form}");
    let made = b
        .post(format!("{}/console/connections", env.base))
        .form(&[
            ("csrf", token.as_str()),
            ("kind", "feishu_marketplace"),
            ("identifier", "feishu-store"),
            ("display_name", "飞书"),
            ("app_id", "cli_a1b2c3d4e5f60002"),
            ("app_secret", "feishu-secret-value"),
            ("encrypt_key", "ek"),
            ("verification_token", "vt"),
            ("allowed_tenants", "tenant-a\ntenant-b"),
            ("association.mode", "none"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&made).starts_with("/console/connections/feishu-store?ok=created"), "{}", location(&made));
    let (_, c) = env.admin(Method::GET, "/connections/feishu-store", None).await;
    assert_eq!(c["settings"]["allowed_tenants"], json!(["tenant-a", "tenant-b"]));
    assert!(c["event_url"].as_str().unwrap().ends_with("/connections/feishu-store/events"), "{c}");
    assert_eq!(c["secrets_set"]["encrypt_key"], true);

    // Enable it for the app in the console: the API's association.
    let enabled = b
        .post(format!("{}/console/apps/{client_id}/connections", env.base))
        .form(&[("csrf", token.as_str()), ("identifier", "qr"), ("enabled", "true"), ("order", "2")])
        .send()
        .await
        .unwrap();
    assert!(location(&enabled).contains("ok="));
    let (_, app) = env.admin(Method::GET, &format!("/apps/{client_id}"), None).await;
    assert_eq!(app["connections"], json!(["qr"]));

    // A user found, disabled and made admin in the console.
    let user =
        env.post("/users", json!({"username": "zoe", "email": "zoe@example.com", "password": "zoe-password"})).await;
    let id = user["id"].as_str().unwrap();
    let found = b.get(format!("{}/console/users?q=ZOE%40", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(found.contains(&format!("/console/users/{id}")), "search");
    for (action, field) in [("disable", None), ("admin", Some(("admin", "true")))] {
        let mut form = vec![("csrf", token.as_str())];
        form.extend(field);
        let done = b.post(format!("{}/console/users/{id}/{action}", env.base)).form(&form).send().await.unwrap();
        assert!(location(&done).contains("ok="), "{action}");
    }
    let (_, user) = env.admin(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!((user["disabled"].clone(), user["admin"].clone()), (json!(true), json!(true)));

    // The audit log shows it, filtered.
    let audit = b.get(format!("{}/console/audit?event=user.", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(audit.contains("user.disabled") && audit.contains("user.admin_granted"), "{audit}");
    assert!(!audit.contains("login.success"));
    // And in Chinese.
    let zh = b
        .get(format!("{}/console/users", env.base))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(zh.contains("用户") && zh.contains("新建用户"));
}
