//! The doors a live review found open (issue 24), each tested from the attacker's side as the finding
//! describes it: every test here failed on the code before its fix.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::lifecycle::{REDIRECT, receiver, refresh, sim_post, verify_logout_token, wired};
use crate::sessions::{app_with, two_apps_of_one_corp};

/// A web app (with a back-channel logout URI when given) enabling `connections`: its id, secret and client.
async fn web_app(
    env: &Env,
    connections: &[&str],
    backchannel: Option<&str>,
) -> (String, String, Client, reqwest::Client) {
    let mut body = json!({"name": "web", "kind": "web", "redirect_uris": [REDIRECT]});
    if let Some(uri) = backchannel {
        body["backchannel_logout_uri"] = json!(uri);
    }
    let app = env.post("/apps", body).await;
    let client_id = app["client_id"].as_str().unwrap().to_string();
    let secret = app["client_secret"].as_str().unwrap().to_string();
    for c in connections {
        env.associate(&client_id, c).await;
    }
    let (client, http) = env.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    (client_id, secret, client, http)
}

/// Signs `userid` in through an `ask_to_bind` connection at `auth_url`: the bind form's address.
async fn bind_action(env: &Env, b: &reqwest::Client, auth_url: &str, userid: &str) -> String {
    let page = wecom_login(b, auth_url, userid).await;
    let html = unescape(&page.text().await.unwrap());
    extract_attr(&html, "action=\"/login/").map(|a| format!("{}/login/{a}", env.base)).expect("the bind form")
}

/// The audit entries named `event`, newest first.
async fn audit_entries(env: &Env, event: &str) -> Vec<Value> {
    let (_, page) = env.admin(Method::GET, "/audit?limit=500", None).await;
    page["items"].as_array().unwrap().iter().filter(|e| e["event"] == event).cloned().collect()
}

/// Finding 1: a WeCom session from a connection the console app does not enable opened the console.
#[tokio::test]
async fn the_console_admits_a_session_only_as_authorize_would_for_the_console_app() {
    let env = start().await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (a, _) = app_with(&env, &["wecom"]).await;
    let b = browser();
    let req = auth_request(&a, &["profile"], &[("connection", "wecom")]);
    let back = wecom_login(&b, &req.url, "ZhangSan").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let (_, users) = env.admin(Method::GET, "/users", None).await;
    let id = users["items"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = env.admin(Method::PATCH, &format!("/users/{id}"), Some(json!({"admin": true}))).await;
    assert_eq!(status, StatusCode::OK);

    // An admin, but signed in through a connection the console does not enable: sent to sign in.
    let page = b.get(format!("{}/console", env.base)).send().await.unwrap();
    assert_eq!(location(&page), "/console/login", "the session does not enter the console");
    let forged = b.post(format!("{}/console/users", env.base)).form(&[("username", "mallory")]).send().await.unwrap();
    assert_ne!(forged.status(), StatusCode::OK);
    assert_eq!(env.user_count().await, 1, "nothing created");

    // Once the console enables the connection, the same session enters, as it would the app.
    env.associate("console", "wecom").await;
    let page = b.get(format!("{}/console", env.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

/// Finding 2: a grant made by single sign-on was re-checked against the session's connection, not the one that
/// admitted the person into that app.
#[tokio::test]
async fn a_single_sign_on_grant_is_re_checked_where_the_person_was_admitted() {
    let env = start().await;
    two_apps_of_one_corp(&env).await;
    // A enables `legacy` (visible to everyone), B only `demo` (departments 2 and 3).
    let (a, a_http) = app_with(&env, &["legacy"]).await;
    let (b, b_http) = app_with(&env, &["demo"]).await;
    let browser = browser();
    let req = auth_request(&a, &["profile"], &[("connection", "legacy")]);
    let back = wecom_login(&browser, &req.url, "ZhangSan").await;
    exchange(&a, &a_http, code_from_redirect(&back, &req, &env.base), req.verifier).await;

    // Single sign-on into B, which the demo app admits (ZhangSan is in department 2).
    let req = auth_request(&b, &["profile", "offline_access"], &[("prompt", "none")]);
    let back = browser.get(&req.url).send().await.unwrap();
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(&b, &b_http, code, req.verifier).await;
    let refresh_token = tokens.refresh_token().expect("refresh token").clone();

    // Moved out of the demo app's visible scope (still in the legacy app's): B's next due re-check refuses.
    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    sim_post(&env, &format!("/_sim/corps/{corp}/members/ZhangSan/update"), json!({"department": [4]})).await;
    env.clock.advance(3601);
    let refused = refresh(&b, &b_http, &refresh_token).await.expect_err("no longer visible to B's app");
    assert!(refused.contains("invalid_grant"), "{refused}");
    // Out of one app's scope is not a departure from the corp: the account stays enabled.
    let (_, users) = env.admin(Method::GET, "/users", None).await;
    assert_eq!(users["items"][0]["disabled"], false);
}

/// Finding 3: deleting a user revoked nothing.
#[tokio::test]
async fn deleting_a_user_first_does_all_that_disabling_does() {
    let env = start().await;
    let bc = receiver().await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client_id, secret, client, http) = web_app(&env, &["wecom"], Some(&bc.url)).await;
    let req = auth_request(&client, &["profile", "offline_access"], &[("connection", "wecom")]);
    let back = wecom_login(&browser(), &req.url, "ZhangSan").await;
    let tokens = exchange(&client, &http, code_from_redirect(&back, &req, &env.base), req.verifier).await;
    let access = tokens.access_token().secret().clone();
    let refresh_token = tokens.refresh_token().unwrap().clone();
    let sub = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap().subject().to_string();
    let introspect = || async {
        form_call(&env.base, "/introspect", &[("token", access.as_str())], Some((&client_id, &secret))).await
    };
    assert_eq!(introspect().await.1["active"], true);

    let (status, _) = env.admin(Method::DELETE, &format!("/users/{sub}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(introspect().await.1["active"], false, "the access token is inactive");
    let userinfo = env.http.get(format!("{}/userinfo", env.base)).bearer_auth(&access).send().await.unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    assert!(refresh(&client, &http, &refresh_token).await.unwrap_err().contains("invalid_grant"));
    let (claims, _) = verify_logout_token(&env, &bc.token(1).await).await;
    assert_eq!(claims["sub"], sub.as_str());
    let deleted = audit_entries(&env, "user.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!((deleted[0]["user_id"].as_str(), deleted[0]["actor"].as_str()), (Some(sub.as_str()), Some("api")));
    assert_eq!(audit_entries(&env, "user.signed_out_everywhere").await.len(), 1);
}

/// Finding 4: a member who left WeCom signed straight back in with a linked local password.
#[tokio::test]
async fn a_departed_member_is_disabled_and_cannot_return_by_password() {
    const TOKEN: &str = "lifecycleToken1";
    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let env = start().await;
    let created = env
        .corp_connection(
            "wecom",
            "wecom_qrcode",
            json!({"token": TOKEN, "encoding_aes_key": KEY, "association": {"mode": "ask_to_bind"}}),
        )
        .await;
    let seed = wecom_sim::Seed::demo();
    let (corp, agent) = (seed.corps[0].corp_id.clone(), seed.corps[0].apps[0].agent_id);
    sim_post(
        &env,
        &format!("/_sim/apps/{corp}/{agent}/callback"),
        json!({"url": created["event_url"], "token": TOKEN, "encoding_aes_key": KEY}),
    )
    .await;
    let local = env.post("/users", json!({"username": "zhang.local", "password": "zhangsan-local-pw"})).await;
    let (client, http) = app_with(&env, &["wecom"]).await;

    // ZhangSan links his WeCom identity to his local account.
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let bind = bind_action(&env, &b, &req.url, "ZhangSan").await;
    let back = b.post(&bind).form(&[("login", "zhang.local"), ("password", "zhangsan-local-pw")]).send().await.unwrap();
    exchange(&client, &http, code_from_redirect(&back, &req, &env.base), req.verifier).await;

    // He leaves the company: the account is disabled, and his local password does not bring him back.
    sim_post(&env, &format!("/_sim/corps/{corp}/members/ZhangSan/delete"), json!({})).await;
    let id = local["id"].as_str().unwrap();
    let (_, user) = env.admin(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(user["disabled"], true, "a departure disables the account: {user}");
    let req = auth_request(&client, &["profile"], &[]);
    let page = password_login(&browser(), &req.url, "zhang.local", "zhangsan-local-pw").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN, "the linked password does not bring the person back");
    let disabled = audit_entries(&env, "user.disabled").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["actor"], Value::Null, "not an admin's doing");
}

/// Finding 5: `/language?return=/%09/evil.example` landed on another site.
#[tokio::test]
async fn the_language_switch_returns_only_to_a_path_of_this_site() {
    let env = start().await;
    let b = browser();
    for evil in ["/%09/evil.example", "/%0a/evil.example", "//evil.example", "/%5Cevil.example", "https://evil.example"]
    {
        let back = b.get(format!("{}/language?lang=zh&return={evil}", env.base)).send().await.unwrap();
        assert_eq!(location(&back), "/", "{evil}");
    }
    let back = b.get(format!("{}/language?lang=zh&return=/login/abc", env.base)).send().await.unwrap();
    assert_eq!(location(&back), "/login/abc");
}

/// Finding 6: a delegated connection without a template id took a `suite_ticket` for any suite, and its time.
#[tokio::test]
async fn a_connection_without_a_template_id_cannot_set_another_suites_ticket() {
    let env = start().await;
    let (_, _, template_id) = crate::delegated::delegated(&env, json!({})).await;
    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    let age = || async {
        let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
        c["status"]["suite_ticket_age_seconds"].as_i64().expect("a ticket")
    };
    assert!(age().await >= 0);

    // Whoever holds another connection's Token and key (its template id not entered yet) forges a ticket for
    // the victim's template, dated ten years ahead.
    const TOKEN: &str = "attackerToken1";
    const KEY: &str = "kWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    env.post(
        "/connections",
        json!({"identifier": "mine", "display_name": "Mine", "kind": "wecom_delegated", "token": TOKEN, "encoding_aes_key": KEY}),
    )
    .await;
    let crypt = wecom::MsgCrypt::new(TOKEN, KEY).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let forged = wecom::Event::SuiteTicket {
        suite_id: template_id.clone(),
        ticket: "forged-ticket".into(),
        timestamp: (now + 10 * 365 * 86_400) as i64,
    };
    let (body, signature) =
        crypt.encrypt_to_post_body(&forged.to_xml(), "dkattacker01", "dkattacker01", None, &now.to_string(), "n1");
    let answer = env
        .http
        .post(format!("{}/connections/mine/events?msg_signature={signature}&timestamp={now}&nonce=n1", env.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(age().await >= 0, "the victim's ticket is not the forged one");
    // The genuine next push still replaces it.
    sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    assert!(age().await >= 0);
}

/// Finding 7: every HTTP method string became a metrics label.
#[tokio::test]
async fn unknown_http_methods_share_one_metrics_label() {
    let env = start().await;
    for method in ["FOOBAR1", "FOOBAR2", "PROPFIND"] {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        env.http.request(m, format!("{}/healthz", env.base)).send().await.unwrap();
    }
    let metrics = env.http.get(format!("{}/metrics", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("FOOBAR") && !metrics.contains("PROPFIND"), "{metrics}");
    assert!(metrics.contains("method=\"other\""));
}

/// Finding 8: upper-casing `msg_signature` made a replayed event new.
#[tokio::test]
async fn an_upper_cased_signature_is_the_same_event() {
    const TOKEN: &str = "lifecycleToken1";
    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let env = start().await;
    let (_, client, http) = wired(&env, None).await;
    let corp = wecom_sim::Seed::demo().corps[0].corp_id.clone();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let delete = wecom::Event::ChangeContact {
        suite_id: None,
        auth_corp_id: Some(corp.clone()),
        change_type: "delete_user".into(),
        user_id: Some("zhangsan".into()),
        member: Box::default(),
        timestamp: now.parse().unwrap(),
    };
    let crypt = wecom::MsgCrypt::new(TOKEN, KEY).unwrap();
    let (body, signature) = crypt.encrypt_to_post_body(&delete.to_xml(), &corp, &corp, Some("1000002"), &now, "n1");
    let send = |signature: String| {
        env.http
            .post(format!("{}/connections/wecom/events?msg_signature={signature}&timestamp={now}&nonce=n1", env.base))
            .body(body.clone())
            .send()
    };
    crate::lifecycle::sign_in(&env, &client, &http, "ZhangSan").await;
    assert_eq!(send(signature.clone()).await.unwrap().text().await.unwrap(), "success");
    let (_, users) = env.admin(Method::GET, "/users", None).await;
    let id = users["items"][0]["id"].as_str().unwrap().to_string();
    // The admin lets the person back in, who signs in again; the old event replayed must not undo that.
    env.admin(Method::POST, &format!("/users/{id}/enable"), None).await;
    let (_, _, after) = crate::lifecycle::sign_in(&env, &client, &http, "ZhangSan").await;
    let replay = send(signature.to_ascii_uppercase()).await.unwrap();
    assert_eq!(replay.status(), StatusCode::OK);
    refresh(&client, &http, &after).await.expect("the replayed deletion did not act again");
    let (_, user) = env.admin(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(user["disabled"], false);
}

/// Finding 9: `/logout` with anyone's valid ID token as `id_token_hint` ended the victim's session unasked.
#[tokio::test]
async fn another_persons_id_token_does_not_sign_a_browser_out() {
    let env = start().await;
    env.post("/users", json!({"username": "victim", "password": "victim-password"})).await;
    env.post("/users", json!({"username": "mallory", "password": "mallory-password"})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let sign_in = |b: reqwest::Client, who: &'static str| {
        let (client, http, env) = (&client, &http, &env);
        async move {
            let req = auth_request(client, &["profile"], &[]);
            let back = password_login(&b, &req.url, who, &format!("{who}-password")).await;
            let tokens = exchange(client, http, code_from_redirect(&back, &req, &env.base), req.verifier).await;
            tokens.id_token().unwrap().to_string()
        }
    };
    let victim = browser();
    let victims_token = sign_in(victim.clone(), "victim").await;
    let mallorys_token = sign_in(browser(), "mallory").await;

    // Mallory's own (valid) ID token in a link the victim follows: the victim is asked, not signed out.
    let page = victim.get(format!("{}/logout?id_token_hint={mallorys_token}", env.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("method=\"post\""), "a confirmation form");
    let req = auth_request(&client, &["profile"], &[("prompt", "none")]);
    let still = victim.get(&req.url).send().await.unwrap();
    assert!(query_param(&location(&still), "code").is_some(), "still signed in");

    // The victim's access token is no ID token: no hint either (resource servers see access tokens).
    let req = auth_request(&client, &["profile"], &[]);
    let back = password_login(&browser(), &req.url, "victim", "victim-password").await;
    let tokens = exchange(&client, &http, code_from_redirect(&back, &req, &env.base), req.verifier).await;
    let access = tokens.access_token().secret();
    let page = victim.get(format!("{}/logout?id_token_hint={access}", env.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST, "not an ID token");
    let req = auth_request(&client, &["profile"], &[("prompt", "none")]);
    let still = victim.get(&req.url).send().await.unwrap();
    assert!(query_param(&location(&still), "code").is_some(), "still signed in");

    // The victim's own app with the victim's own ID token signs out at once.
    let done = victim.get(format!("{}/logout?id_token_hint={victims_token}", env.base)).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let req = auth_request(&client, &["profile"], &[("prompt", "none")]);
    let after = victim.get(&req.url).send().await.unwrap();
    assert_eq!(query_param(&location(&after), "error").as_deref(), Some("login_required"));
}

/// Finding 10: the password form completed a login the app had sent to one connection with `connection=`.
#[tokio::test]
async fn a_login_pinned_to_a_connection_takes_no_password() {
    let env = start().await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    env.post("/users", json!({"username": "alice", "password": "alice-password"})).await;
    let (a, _) = app_with(&env, &["wecom"]).await;
    let b = browser();
    let req = auth_request(&a, &["profile"], &[("connection", "wecom")]);
    let to_wecom = b.get(&req.url).send().await.unwrap();
    let tx = query_param(&location(&to_wecom), "state").expect("the transaction is WeCom's state");
    let page = b.get(format!("{}/login/{tx}", env.base)).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("/password\""), "no password form on a pinned login");
    let posted = b
        .post(format!("{}/login/{tx}/password", env.base))
        .form(&[("login", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::FORBIDDEN, "no code for the app");
    assert!(audit_entries(&env, "login.failure").await.is_empty(), "nothing stored for a refused POST");
}

/// Finding 11: each wrong password stored what was typed, and each attempt past the lockout an audit entry.
#[tokio::test]
async fn password_spraying_leaves_a_bounded_trail() {
    let env = start().await;
    env.post("/users", json!({"username": "alice", "password": "alice-password"})).await;
    let (a, _) = app_with(&env, &[]).await;
    let b = browser();
    for _ in 0..15 {
        let req = auth_request(&a, &["profile"], &[]);
        password_login(&b, &req.url, "alice", "wrong-password").await;
    }
    // Ten failures, then the one that locked the account: later refusals are not audited one by one.
    assert_eq!(audit_entries(&env, "login.failure").await.len(), 11);
    let req = auth_request(&a, &["profile"], &[]);
    let huge = "x".repeat(10_000);
    let page = password_login(&b, &req.url, &huge, "whatever").await;
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED, "an unknown login, refused as any other");
}

/// Finding 12: origins of revoked grants made every later sign-out notify the app again.
#[tokio::test]
async fn a_sign_out_notifies_each_live_grant_once() {
    let env = start().await;
    let bc = receiver().await;
    let (_, client, http) = wired(&env, Some(&bc.url)).await;
    for round in 1..=3 {
        let (user_id, _, _) = crate::lifecycle::sign_in(&env, &client, &http, "ZhangSan").await;
        env.admin(Method::POST, &format!("/users/{user_id}/disable"), None).await;
        bc.token(round).await;
        env.admin(Method::POST, &format!("/users/{user_id}/enable"), None).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(bc.count(), 3, "one logout token per sign-out, not one per grant ever revoked");
}

/// Finding 13: `/console/login?error=` showed a link's text; the admin-token cookie outlived signing out.
#[tokio::test]
async fn the_console_login_shows_only_its_own_sentences_and_token_sessions_end() {
    let env = start().await;
    let b = browser();
    let page = b
        .get(format!("{}/console/login?error=Your%20session%20expired%3A%20call%20%2B1-555-0100", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("555-0100"), "a link cannot write on the page");
    // Nor on the console's own pages, whose notices only the console's redirects sign.
    let admin = browser();
    admin.post(format!("{}/console/token", env.base)).form(&[("token", ADMIN)]).send().await.unwrap();
    let forged = format!("{}/console/users?error=Session%20expired%3A%20call%20%2B1-555-0100", env.base);
    let page = admin.get(forged).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("555-0100"), "a link's notice is not shown");
    let html = admin.get(format!("{}/console/users", env.base)).send().await.unwrap().text().await.unwrap();
    let csrf = extract_attr(&html, "name=\"csrf\" value=\"").unwrap();
    let made = admin
        .post(format!("{}/console/users", env.base))
        .form(&[("csrf", csrf.as_str()), ("username", "x y")])
        .send()
        .await
        .unwrap();
    let page = admin.get(format!("{}{}", env.base, location(&made))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("must not contain @ or spaces"), "the console's own notice is shown");
    // An id in the path that is no header value: a redirect to the overview, not a panic.
    let odd = admin
        .post(format!("{}/console/apps/%0A/delete", env.base))
        .form(&[("csrf", csrf.as_str()), ("confirm", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), StatusCode::SEE_OTHER);
    for _ in 0..15 {
        admin.post(format!("{}/console/token", env.base)).form(&[("token", "guess")]).send().await.unwrap();
    }
    assert_eq!(audit_entries(&env, "console.token_refused").await.len(), 10, "wrong tokens audited within a bound");

    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    b.post(format!("{}/console/token", env.base)).form(&[("token", ADMIN)]).send().await.unwrap();
    let html = b.get(format!("{}/console", env.base)).send().await.unwrap().text().await.unwrap();
    let cookie = {
        use reqwest::cookie::CookieStore;
        let all = jar.cookies(&env.base.parse().unwrap()).expect("cookies");
        let all = all.to_str().unwrap().to_string();
        all.split("; ").find_map(|c| c.strip_prefix("wegate_console_token=")).expect("token cookie").to_string()
    };
    assert_ne!(cookie, wegate::util::sha256_hex(ADMIN), "the cookie is not derived from the token");
    let csrf = extract_attr(&html, "name=\"csrf\" value=\"").unwrap();
    b.post(format!("{}/console/logout", env.base)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    // The cookie kept from before signing out opens nothing.
    let replayed = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console", env.base))
        .header("cookie", format!("wegate_console_token={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&replayed), "/console/login");
}

/// Finding 14: the audit told whoever may set an app's URI how an internal address answered.
#[tokio::test]
async fn a_failed_back_channel_delivery_is_audited_without_network_detail() {
    let env = start().await;
    // Nothing listens on port 9 of the loopback: the connection is refused at once.
    let (_, client, http) = wired(&env, Some("http://127.0.0.1:9/logout")).await;
    let (user_id, _, _) = crate::lifecycle::sign_in(&env, &client, &http, "ZhangSan").await;
    env.admin(Method::POST, &format!("/users/{user_id}/disable"), None).await;
    let mut failed = Vec::new();
    for _ in 0..100 {
        failed = audit_entries(&env, "backchannel_logout.failed").await;
        if !failed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(failed.len(), 1, "audited");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert_eq!(reason, "not delivered after 3 attempts");
}

/// Finding 16: native apps could register `javascript:`, `data:` and `vbscript:` redirect URIs.
#[tokio::test]
async fn script_and_data_uris_are_no_redirect_targets() {
    let env = start().await;
    for uri in [
        "javascript:alert(document.cookie)//",
        "data:text/html,<script>1</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ] {
        let (status, body) = env
            .admin(Method::POST, "/apps", Some(json!({"name": "n", "kind": "native", "redirect_uris": [uri]})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    let (status, _) = env
        .admin(
            Method::POST,
            "/apps",
            Some(json!({"name": "n", "kind": "native", "redirect_uris": ["com.example.app:/cb"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "a native app's own scheme");
}

/// Finding 18: a public client at `/introspect` got 400 `unauthorized_client`; it did not authenticate.
#[tokio::test]
async fn a_public_client_at_introspection_is_unauthenticated() {
    let env = start().await;
    let (client_id, _) = env.app("spa", REDIRECT).await;
    let (status, body) = form_call(&env.base, "/introspect", &[("token", "x"), ("client_id", &client_id)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
}

/// Finding 19: admin changes left no audit entry. Each now names who, what and which fields — no value.
#[tokio::test]
async fn admin_changes_are_audited_with_their_actor_and_fields_never_a_secret() {
    let env = start().await;
    let created = env.post("/apps", json!({"name": "Intranet", "kind": "web", "redirect_uris": [REDIRECT]})).await;
    let client_id = created["client_id"].as_str().unwrap();
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (status, _) =
        env.admin(Method::PATCH, "/connections/wecom", Some(json!({"secret": "a-brand-new-secret-value"}))).await;
    assert_eq!(status, StatusCode::OK);
    env.associate(client_id, "wecom").await;
    env.admin(Method::PATCH, &format!("/apps/{client_id}"), Some(json!({"rotate_secret": true}))).await;
    let user = env.post("/users", json!({"username": "bob", "password": "bob-password-1"})).await;

    let app_created = audit_entries(&env, "app.created").await;
    assert_eq!(app_created[0]["actor"], "api");
    assert_eq!(app_created[0]["client_id"], client_id);
    assert!(app_created[0]["reason"].as_str().unwrap().contains("redirect_uris"));
    let updated = audit_entries(&env, "connection.updated").await;
    assert_eq!(
        (updated[0]["connection"].as_str(), updated[0]["reason"].as_str()),
        (Some("wecom"), Some("fields: secret"))
    );
    assert_eq!(audit_entries(&env, "connection.created").await.len(), 1);
    assert_eq!(audit_entries(&env, "app.connection_enabled").await[0]["connection"], "wecom");
    assert_eq!(audit_entries(&env, "app.secret_rotated").await.len(), 1);
    let user_created = audit_entries(&env, "user.created").await;
    assert_eq!(user_created[0]["user_id"], user["id"]);
    let (_, all) = env.admin(Method::GET, "/audit?limit=500", None).await;
    let text = all.to_string();
    assert!(!text.contains("a-brand-new-secret-value") && !text.contains("bob-password-1"), "no secret in the audit");

    // The console's changes name the console's visitor.
    let b = browser();
    b.post(format!("{}/console/token", env.base)).form(&[("token", ADMIN)]).send().await.unwrap();
    let html = b.get(format!("{}/console/apps", env.base)).send().await.unwrap().text().await.unwrap();
    let csrf = extract_attr(&html, "name=\"csrf\" value=\"").unwrap();
    b.post(format!("{}/console/apps", env.base))
        .form(&[("csrf", csrf.as_str()), ("name", "From console"), ("kind", "spa"), ("redirect_uris", REDIRECT)])
        .send()
        .await
        .unwrap();
    let app_created = audit_entries(&env, "app.created").await;
    assert_eq!(app_created.len(), 2);
    assert_eq!(app_created[0]["actor"], "console:token");
}

/// Finding 15: with an encryption key set, a plain value in a sealed column was taken as the secret, and
/// `enc:v1` values were bound to no row. Values stored before the key are sealed at start; later ones refused.
#[tokio::test]
async fn with_a_key_only_values_sealed_for_their_row_open() {
    // Without a key first: the connection's secrets are stored as given.
    let mut a = start_shared().await;
    a.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    a.server.take().unwrap().shutdown().await.unwrap();
    let file = a._dir.path().join("wegate.db");
    let db = format!("sqlite://{}", file.display());

    // The key is set: the old value is sealed at start, and sign-in through the connection works.
    let b = start_on_db(a.sim.clone(), a._dir.clone(), db, |s| s.encryption_key = Some([9u8; 32])).await;
    let raw = rusqlite::Connection::open(&file).unwrap();
    raw.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let secrets: String =
        raw.query_row("SELECT secrets FROM connections WHERE identifier = 'wecom'", [], |r| r.get(0)).unwrap();
    assert!(secrets.starts_with("enc:v2:"), "sealed anew at start: {secrets}");
    let (client, _) = app_with(&b, &["wecom"]).await;
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    assert_eq!(wecom_login(&browser(), &req.url, "ZhangSan").await.status(), StatusCode::SEE_OTHER);

    // Someone who can write the database puts a secret of their own in the clear: it is refused, not used.
    b.corp_connection("other", "wecom_qrcode", json!({"secret": "another-secret"})).await;
    raw.execute(
        "UPDATE connections SET secrets = '{\"secret\":\"chosen-by-attacker\"}' WHERE identifier = 'other'",
        [],
    )
    .unwrap();
    let (status, body) = b.admin(Method::GET, "/connections/other", None).await;
    assert!(status.is_server_error() && body["error"] == "internal", "{status} {body}");
    let (status, _) = b.admin(Method::GET, "/connections/wecom", None).await;
    assert_eq!(status, StatusCode::OK, "the sealed one still opens");
}

/// Review of the fixes: the refresh re-check stopped for good once a grant's origin was swept, which a
/// rotated refresh token could outlive by up to a day.
#[tokio::test]
async fn a_grant_is_re_checked_as_long_as_any_of_its_tokens_lives() {
    use wegate::clock::Clock;
    let env = start_shared().await;
    let (_, client, http) = wired(&env, None).await;
    let (_, _, first) = crate::lifecycle::sign_in(&env, &client, &http, "ZhangSan").await;
    env.clock.advance(3600);
    let second = refresh(&client, &http, &first).await.expect("refreshed");
    // Past the first token's lifetime, within the rotated one's: the sweep runs, the origin must stay.
    env.clock.advance(30 * 86_400 - 1800);
    let store = &env.server.as_ref().unwrap().state.store;
    store.sweep_expired(env.clock.now()).await.unwrap();
    let calls = env.sim_calls("/cgi-bin/user/get").await;
    let third = refresh(&client, &http, &second).await.expect("still a member");
    assert_eq!(env.sim_calls("/cgi-bin/user/get").await, calls + 1, "the membership was re-checked");

    // A grant made through a connection whose origin is gone all the same is refused, not waved through.
    let db = rusqlite::Connection::open(env._dir.path().join("wegate.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute("DELETE FROM grant_origins", []).unwrap();
    let refused = refresh(&client, &http, &third).await.expect_err("no origin, no re-check: refused");
    assert!(refused.contains("invalid_grant"), "{refused}");
}

/// Review of the fixes: `association: match` linked an upstream identity to any account whose fields it
/// asserted — an admin's too, which then opened the console. An admin account is only ever bound by its
/// password.
#[tokio::test]
async fn matching_never_takes_an_admin_account() {
    let env = start().await;
    env.corp_connection("wecom", "wecom_qrcode", json!({"association": {"mode": "match", "fields": ["username"]}}))
        .await;
    let admin = env.post("/users", json!({"username": "zhangsan", "password": "admin-password", "admin": true})).await;
    let plain = env.post("/users", json!({"username": "alice", "password": "alice-password"})).await;
    let (client, http) = app_with(&env, &["wecom"]).await;

    // ZhangSan's userid names the admin account: asked for its password, not signed in as it.
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let page = wecom_login(&browser(), &req.url, "ZhangSan").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(unescape(&page.text().await.unwrap()).contains("/bind"), "the bind page");
    let (_, user) = env.admin(Method::GET, &format!("/users/{}", admin["id"].as_str().unwrap()), None).await;
    assert_eq!(user["identities"], json!([]), "nothing linked to the admin");

    // An ordinary account is still matched.
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let back = wecom_login(&browser(), &req.url, "alice").await;
    let tokens = exchange(&client, &http, code_from_redirect(&back, &req, &env.base), req.verifier).await;
    let sub = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap().subject().to_string();
    assert_eq!(sub, plain["id"].as_str().unwrap());
}

/// Review of the fixes: the bind page audited every refused POST, so a loop of them on a locked account filled
/// the audit log as the password form's did.
#[tokio::test]
async fn a_bind_loop_leaves_a_bounded_trail() {
    let env = start().await;
    env.corp_connection("wecom", "wecom_qrcode", json!({"association": {"mode": "ask_to_bind"}})).await;
    env.post("/users", json!({"username": "target", "password": "target-password"})).await;
    let (client, _) = app_with(&env, &["wecom"]).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[("connection", "wecom")]);
    let bind = bind_action(&env, &b, &req.url, "ZhangSan").await;
    for _ in 0..15 {
        b.post(&bind).form(&[("login", "target"), ("password", "guess")]).send().await.unwrap();
    }
    assert_eq!(audit_entries(&env, "login.bind_failure").await.len(), 11, "ten failures and the lockout");
}

/// Final review: with the hint rule, an app's logout whose browser session had already ended (signed out
/// elsewhere, swept) got a confirmation page instead of going back to the app. Nothing left to end: no question.
#[tokio::test]
async fn a_logout_with_nothing_left_to_end_goes_straight_back_to_the_app() {
    let env = start().await;
    let user = env.post("/users", json!({"username": "dora", "password": "dora-password"})).await;
    let app = env
        .post(
            "/apps",
            json!({"name": "web", "kind": "web", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["https://app.example.com/bye"]}),
        )
        .await;
    let client_id = app["client_id"].as_str().unwrap();
    let (client, http) = env.oidc_client(client_id, app["client_secret"].as_str(), REDIRECT).await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[]);
    let back = password_login(&b, &req.url, "dora", "dora-password").await;
    let tokens = exchange(&client, &http, code_from_redirect(&back, &req, &env.base), req.verifier).await;
    let id_token = tokens.id_token().unwrap().to_string();
    // Her sessions end elsewhere (an admin's disable); she is let back in, but this browser's session is gone.
    let id = user["id"].as_str().unwrap();
    env.admin(Method::POST, &format!("/users/{id}/disable"), None).await;
    env.admin(Method::POST, &format!("/users/{id}/enable"), None).await;
    let out = b
        .get(format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye",
            env.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "https://app.example.com/bye");
}
