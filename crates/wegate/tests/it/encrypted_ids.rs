//! WeCom's encrypted ids (CONTRACT.md, "WeCom's encrypted ids"), end to end against the simulator, which
//! gives delegated and provider apps the provider's encrypted corp ids and userids unless its seed keeps
//! the legacy plain ones.

use std::sync::Arc;

use openidconnect::TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::delegated::{REDIRECT, delegated, encrypted, sim_post, wait_for_corp};
use crate::harness::*;

/// Event URL verified, a ticket pushed, and `corp` authorizes the demo template.
async fn authorize_customer(env: &Env, template_id: &str, corp: &str) {
    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    sim_post(env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    sim_post(env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": corp})).await;
    wait_for_corp(env, "deleg", "active").await;
}

/// Signs `userid` in through `connection` and returns the user object with its identities.
async fn sign_in(env: &Env, client: &Client, http: &reqwest::Client, connection: &str, userid: &str) -> Value {
    let req = auth_request(client, &["profile"], &[("connection", connection)]);
    let back = wecom_login(&browser(), &req.url, userid).await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    env.admin(Method::GET, &format!("/users/{}", claims.subject().as_str()), None).await.1
}

#[tokio::test]
async fn a_plain_corp_id_is_converted_once_and_encrypted_userids_are_kept_exactly() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let customer = seed.corps[1].clone();
    let provider = &seed.providers[0];
    let (client, http, template_id) =
        delegated(&env, json!({"corp_id": customer.corp_id, "provider_secret": provider.provider_secret})).await;
    authorize_customer(&env, &template_id, &customer.corp_id).await;
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    let open_corp = encrypted(&customer.corp_id);
    assert_ne!(open_corp, customer.corp_id);
    assert_eq!(c["authorized_corps"][0]["corp_id"], open_corp.as_str(), "WeCom's id is shown: {c}");
    assert!(c["authorized_corps"][0]["corp_name"].is_string() && c["authorized_corps"][0]["agent_id"].is_i64());
    assert_eq!(c["settings"]["corp_id"], customer.corp_id.as_str(), "what the admin typed stays as typed");

    // The QR page is asked for with the encrypted corp id (WeCom refuses the plain one for this app).
    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let to_wecom = browser().get(&req.url).send().await.unwrap();
    assert_eq!(query_param(&location(&to_wecom), "appid").as_deref(), Some(open_corp.as_str()));

    let liu = customer.members.iter().find(|m| m.userid == "LiuYang").unwrap();
    let open_userid = liu.open_userid.clone().unwrap();
    let user = sign_in(&env, &client, &http, "deleg", "LiuYang").await;
    let identity = &user["identities"][0];
    assert_eq!(identity["upstream"], format!("wecom:{open_corp}"));
    assert_eq!(identity["subject"], open_userid.as_str(), "case-sensitive: kept exactly");
    assert_ne!(open_userid, open_userid.to_lowercase());
    assert_eq!(env.sim_calls("/cgi-bin/service/corpid_to_opencorpid").await, 1);

    // Again: the same account, and the conversion is not asked twice.
    let again = sign_in(&env, &client, &http, "deleg", "LiuYang").await;
    assert_eq!(again["id"], user["id"]);
    assert_eq!(env.sim_calls("/cgi-bin/service/corpid_to_opencorpid").await, 1);
}

#[tokio::test]
async fn a_plain_corp_id_without_provider_credentials_is_refused_with_the_fix_and_the_encrypted_one_works() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let customer = seed.corps[1].corp_id.clone();
    let body = |corp_id: &str| {
        json!({"identifier": "deleg", "display_name": "Delegated", "kind": "wecom_delegated",
               "token": t.token, "encoding_aes_key": t.encoding_aes_key, "template_id": t.template_id,
               "template_secret": t.template_secret, "provider_corp_id": t.provider_corp_id, "corp_id": corp_id})
    };
    let (status, refused) = env.admin(Method::POST, "/connections", Some(body(&customer))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("provider_secret") && message.contains("encrypted"), "names the fix: {message}");

    // The encrypted id pasted from WeCom is taken as it is.
    env.post("/connections", body(&encrypted(&customer))).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "deleg").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    authorize_customer(&env, &t.template_id, &customer).await;
    let user = sign_in(&env, &client, &http, "deleg", "LiuYang").await;
    assert_eq!(user["identities"][0]["upstream"], format!("wecom:{}", encrypted(&customer)));
    assert_eq!(env.sim_calls("/cgi-bin/service/corpid_to_opencorpid").await, 0);
}

#[tokio::test]
async fn a_provider_allow_list_takes_plain_corp_ids_converted_with_the_provider_secret() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let p = &seed.providers[0];
    let s = &p.suites[0];
    let (demo, customer) = (seed.corps[0].corp_id.clone(), seed.corps[1].corp_id.clone());
    let provider = |allowed: &[&str], secret: bool| {
        let mut body = json!({
            "identifier": "provider", "display_name": "Provider", "kind": "wecom_provider", "corp_id": p.corp_id,
            "suite_id": s.suite_id, "suite_secret": s.suite_secret, "token": s.token,
            "encoding_aes_key": s.encoding_aes_key, "allowed_corps": allowed,
        });
        if secret {
            body["provider_secret"] = json!(p.provider_secret);
        }
        body
    };
    let (status, refused) = env.admin(Method::POST, "/connections", Some(provider(&[&demo], false))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("provider_secret"), "{refused}");

    env.post("/connections", provider(&[&demo], true)).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "provider").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let url = format!("{}/connections/provider/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{}/callback_url", s.suite_id), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{}/push_ticket", s.suite_id), json!({})).await;
    let user = sign_in(&env, &client, &http, "provider", "ZhangSan").await;
    assert_eq!(user["identities"][0]["upstream"], format!("wecom-open:{}", encrypted(&demo)));
    assert_eq!(env.sim_calls("/cgi-bin/service/corpid_to_opencorpid").await, 1);

    // Only the customer allowed: WeCom will not convert a corp that never authorized the provider, so
    // nothing matches and the demo corp's member is refused.
    let (status, _) =
        env.admin(Method::PATCH, "/connections/provider", Some(json!({"allowed_corps": [customer]}))).await;
    assert_eq!(status, StatusCode::OK);
    let req = auth_request(&client, &["profile"], &[("connection", "provider")]);
    let page = wecom_login(&browser(), &req.url, "ZhangSan").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.unwrap().contains("not allowed to sign in"));
}

#[tokio::test]
async fn legacy_plain_ids_still_sign_in_case_insensitively() {
    let mut seed = wecom_sim::Seed::demo();
    seed.templates[0].legacy_ids = true;
    let sim = simulator_seeded(
        seed.clone(),
        wecom_sim::SimConfig { push_retry_delay_ms: 50, ticket_interval_secs: 0, ..Default::default() },
    )
    .await;
    let env = start_with(Arc::new(sim), |_| {}).await;
    let customer = seed.corps[1].corp_id.clone();
    let (client, http, template_id) = delegated(&env, json!({})).await;
    authorize_customer(&env, &template_id, &customer).await;
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert_eq!(c["authorized_corps"][0]["corp_id"], customer.as_str(), "legacy: the plain id");
    // The plain id of a legacy authorization needs no conversion, so no provider credentials.
    let (status, patched) =
        env.admin(Method::PATCH, "/connections/deleg", Some(json!({"corp_id": customer.to_lowercase()}))).await;
    assert_eq!(status, StatusCode::OK, "{patched}");

    let user = sign_in(&env, &client, &http, "deleg", "LiuYang").await;
    let identity = &user["identities"][0];
    assert_eq!(identity["upstream"], format!("wecom:{customer}"));
    assert_eq!(identity["subject"], "liuyang", "plain userids are case-insensitive");
    assert_eq!(env.sim_calls("/cgi-bin/service/corpid_to_opencorpid").await, 0);
}

/// An identity stored before encrypted userids were kept exactly (lowercased) is the same person: the next
/// sign-in re-keys it instead of creating a second account.
#[tokio::test]
async fn an_identity_stored_lowercased_before_is_re_keyed_not_duplicated() {
    let env = start_shared().await;
    let seed = wecom_sim::Seed::demo();
    let customer = seed.corps[1].clone();
    let (client, http, template_id) = delegated(&env, json!({})).await;
    authorize_customer(&env, &template_id, &customer.corp_id).await;
    let first = sign_in(&env, &client, &http, "deleg", "LiuYang").await;
    let exact = first["identities"][0]["subject"].as_str().unwrap().to_string();
    let conn = rusqlite::Connection::open(env._dir.path().join("wegate.db")).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    conn.execute("UPDATE identities SET subject = lower(subject)", []).unwrap();

    let again = sign_in(&env, &client, &http, "deleg", "LiuYang").await;
    assert_eq!(again["id"], first["id"], "the same account");
    assert_eq!(again["identities"][0]["subject"], exact.as_str(), "re-keyed to the exact subject");
    let (_, users) = env.admin(Method::GET, "/users", None).await;
    assert_eq!(users["items"].as_array().map(Vec::len), Some(1), "no second account");
}
