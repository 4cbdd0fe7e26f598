//! LDAP end to end against a real OpenLDAP `slapd` the tests start themselves (`slapd.rs`): wegate's own form,
//! search-then-bind, one answer for every wrong try, the lockout per entry, entryUUID across a rename, TLS
//! verified against the connection's CA, and the directory down.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use crate::slapd::{Slapd, slapd, slapd_ad_like};

const REDIRECT: &str = "https://app.example/cb";

async fn connection(env: &Env, d: &Slapd, identifier: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({
        "identifier": identifier, "display_name": "Corporate directory", "kind": "ldap",
        "url": d.url, "bind_dn": d.bind_dn, "bind_password": d.bind_password, "user_base_dn": d.people_dn,
    });
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    env.admin(reqwest::Method::POST, "/connections", Some(body)).await
}

async fn web_app(env: &Env, identifier: &str) -> (Client, reqwest::Client) {
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, identifier).await;
    env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await
}

/// authorize?connection= → the form → POST; the last response.
async fn try_sign_in(
    env: &Env,
    client: &Client,
    identifier: &str,
    username: &str,
    password: &str,
) -> (reqwest::Response, AuthRequest) {
    try_sign_in_for(env, client, &["profile", "email"], identifier, username, password).await
}

/// [`try_sign_in`] asking for `scopes`.
async fn try_sign_in_for(
    env: &Env,
    client: &Client,
    scopes: &[&str],
    identifier: &str,
    username: &str,
    password: &str,
) -> (reqwest::Response, AuthRequest) {
    let b = browser();
    let req = auth_request(client, scopes, &[("connection", identifier)]);
    let form = b.get(&req.url).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK, "the directory's form");
    let html = unescape(&form.text().await.unwrap());
    assert!(html.contains("name=\"username\"") && html.contains("type=\"password\""), "{html}");
    let action = extract_attr(&html, "action=\"").unwrap();
    let answer = b
        .post(format!("{}{action}", env.base))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    (answer, req)
}

async fn sub_of(
    env: &Env,
    client: &Client,
    http: &reqwest::Client,
    identifier: &str,
    username: &str,
    password: &str,
) -> String {
    let (done, req) = try_sign_in(env, client, identifier, username, password).await;
    let code = code_from_redirect(&done, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    use openidconnect::TokenResponse;
    tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap().subject().to_string()
}

async fn refused(env: &Env, client: &Client, identifier: &str, username: &str, password: &str) -> (StatusCode, String) {
    let (answer, _) = try_sign_in(env, client, identifier, username, password).await;
    let status = answer.status();
    (status, unescape(&answer.text().await.unwrap()))
}

#[tokio::test]
async fn search_then_bind_signs_the_one_entry_in_and_keys_it_on_entry_uuid() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    let (status, body) = connection(&env, &d, "ldap", json!({"login_attributes": ["uid", "mail"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (client, http) = web_app(&env, "ldap").await;

    let sub = sub_of(&env, &client, &http, "ldap", "alice", "alice-password").await;
    // The same entry by another login attribute: the same person.
    assert_eq!(sub_of(&env, &client, &http, "ldap", "alice@example.org", "alice-password").await, sub);
    let (_, user) = env.admin(reqwest::Method::GET, &format!("/users/{sub}"), None).await;
    let identity = &user["identities"][0];
    assert_eq!(identity["upstream"], "ldap:ldap/entryuuid");
    assert_eq!(identity["subject"], d.entry_uuid("alice").await, "{user}");
    assert_eq!(user["name"], "Alice Liddell");
    // The directory's mail is whatever its admins typed: not on the account unless the connection trusts it.
    assert!(user["email"].is_null(), "{user}");

    // trust_email: the admin vouches for the directory's mail.
    let (status, _) = env.admin(reqwest::Method::PATCH, "/connections/ldap", Some(json!({"trust_email": true}))).await;
    assert_eq!(status, StatusCode::OK);
    let trusted = sub_of(&env, &client, &http, "ldap", "bob", "bob-password").await;
    let (_, bob) = env.admin(reqwest::Method::GET, &format!("/users/{trusted}"), None).await;
    assert_eq!(bob["email"], "bob@example.org", "{bob}");
    // A rename keeps the identity: entryUUID survives it.
    d.rename("alice", "alice2").await;
    assert_eq!(sub_of(&env, &client, &http, "ldap", "alice2", "alice-password").await, sub);
    // A uid with filter metacharacters signs in as itself (escaped, never a wildcard).
    let star = sub_of(&env, &client, &http, "ldap", "star*user", "star-password").await;
    assert_ne!(star, sub);
    assert_eq!(env.user_count().await, 3);
}

#[tokio::test]
async fn every_wrong_try_gets_the_same_answer_and_creates_nothing() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    connection(&env, &d, "ldap", json!({"login_attributes": ["uid", "mail"]})).await;
    let (client, _) = web_app(&env, "ldap").await;
    let mut answers = Vec::new();
    for (username, password, what) in [
        ("bob", "wrong-password", "a wrong password"),
        ("nobody", "whatever-password", "no such entry"),
        ("carol@example.org", "carol-password", "two entries share the login"),
        ("bob", "", "an empty password (refused before any bind)"),
        ("nopass", "", "an entry without a password, empty password"),
        ("*", "bob-password", "a wildcard login"),
        ("*)(uid=*", "bob-password", "a filter injection"),
        ("bo*", "bob-password", "a wildcard that would match bob alone"),
    ] {
        let (status, page) = refused(&env, &client, "ldap", username, password).await;
        assert_eq!(status, StatusCode::OK, "{what}: {page}");
        let sentence =
            page.split("role=\"alert\">").nth(1).and_then(|p| p.split('<').next()).unwrap_or_default().to_string();
        assert!(!sentence.is_empty(), "{what}: {page}");
        answers.push(sentence);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one sentence for every refusal: {answers:?}");
    assert_eq!(env.user_count().await, 0);
    // Searching the whole tree: the device entry that shares alice's uid is outside the user filter, so alice
    // is one entry.
    let (status, body) = connection(&env, &d, "whole", json!({"user_base_dn": d.base_dn})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (client2, http2) = web_app(&env, "whole").await;
    sub_of(&env, &client2, &http2, "whole", "alice", "alice-password").await;
}

#[tokio::test]
async fn the_lockout_counts_per_entry_before_the_bind() {
    let Some(d) = slapd().await else { return };
    let env = start_with(std::sync::Arc::new(simulator().await), |s| s.lockout_failures = 3).await;
    connection(&env, &d, "ldap", json!({"login_attributes": ["uid", "mail"]})).await;
    let (client, _) = web_app(&env, "ldap").await;
    for _ in 0..3 {
        let (status, _) = refused(&env, &client, "ldap", "bob", "wrong-password").await;
        assert_eq!(status, StatusCode::OK);
    }
    // The right password, now: the entry is locked (by uid and by mail alike), the bind not even tried.
    for login in ["bob", "bob@example.org"] {
        let (status, page) = refused(&env, &client, "ldap", login, "bob-password").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{login}: {page}");
    }
    // Another entry is not locked.
    let (answer, _) = try_sign_in(&env, &client, "ldap", "alice", "alice-password").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn tls_is_verified_against_the_connections_ca() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    let ldaps = json!({"url": d.ldaps_url, "ca_pem": d.ca_pem});
    assert_eq!(connection(&env, &d, "ldaps", ldaps).await.0, StatusCode::CREATED);
    let starttls = json!({"start_tls": true, "ca_pem": d.ca_pem, "url": d.url.replace("127.0.0.1", "localhost")});
    assert_eq!(connection(&env, &d, "starttls", starttls).await.0, StatusCode::CREATED);
    let wrong_ca = json!({"url": d.ldaps_url, "ca_pem": d.other_ca_pem});
    assert_eq!(connection(&env, &d, "wrong-ca", wrong_ca).await.0, StatusCode::CREATED);
    for identifier in ["ldaps", "starttls"] {
        let (client, http) = web_app(&env, identifier).await;
        sub_of(&env, &client, &http, identifier, "bob", "bob-password").await;
    }
    let (client, _) = web_app(&env, "wrong-ca").await;
    let (status, page) = refused(&env, &client, "wrong-ca", "bob", "bob-password").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("could not be reached"), "{page}");
    // Plain ldap:// to another machine would send passwords in clear: refused when saved.
    let plain = json!({"url": "ldap://directory.example.org"});
    let (status, body) = connection(&env, &d, "plain", plain).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("in clear"), "{body}");
}

#[tokio::test]
async fn the_directory_down_gives_a_clear_page_within_seconds() {
    let Some(mut d) = slapd().await else { return };
    let env = start().await;
    connection(&env, &d, "ldap", json!({})).await;
    let (client, http) = web_app(&env, "ldap").await;
    sub_of(&env, &client, &http, "ldap", "bob", "bob-password").await;
    d.stop().await;
    let started = Instant::now();
    let (status, page) = refused(&env, &client, "ldap", "bob", "bob-password").await;
    assert!(started.elapsed() < Duration::from_secs(12), "{:?}", started.elapsed());
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.contains("Corporate directory could not be reached"), "{page}");
}

/// Against a directory that answers a DN with an empty password with success (Active Directory's unauthenticated
/// bind), an empty password is still refused: wegate never sends it.
#[tokio::test]
async fn an_empty_password_never_reaches_a_directory_that_would_take_it() {
    let Some(d) = slapd_ad_like().await else { return };
    let env = start().await;
    connection(&env, &d, "ad", json!({})).await;
    let (client, http) = web_app(&env, "ad").await;
    let (status, page) = refused(&env, &client, "ad", "bob", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    assert_eq!(env.user_count().await, 0, "nobody signed in with an empty password");
    sub_of(&env, &client, &http, "ad", "bob", "bob-password").await;
}

/// A person removed from the directory loses their grants at the next refresh re-check.
#[tokio::test]
async fn a_person_removed_from_the_directory_is_signed_out_at_the_refresh_recheck() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    connection(&env, &d, "ldap", json!({})).await;
    let (client, http) = web_app(&env, "ldap").await;
    let refresh = offline_sign_in(&env, &client, &http, "ldap", "bob", "bob-password").await;
    d.ldapmodify(&format!("dn: {}\nchangetype: delete\n", d.user_dn("bob"))).await;
    env.clock.advance(3700);
    let result = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await;
    assert!(result.is_err(), "the refresh is refused once the entry is gone");
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    assert_eq!(users["items"][0]["disabled"], true, "{users}");
}

/// The form's POST belongs to the transaction that went to this directory: a transaction that went to another
/// connection (whose id the bind step, the session's amr and the grant's origin would then carry) is refused,
/// and nothing is created.
#[tokio::test]
async fn the_form_answers_only_for_a_transaction_that_went_to_its_directory() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    connection(&env, &d, "ldap", json!({})).await;
    env.corp_connection("wecom", "wecom_qrcode", json!({})).await;
    let (client, _) = web_app(&env, "ldap").await;
    env.associate(&client.client_id().to_string(), "wecom").await;
    let b = browser();
    let req = auth_request(&client, &["profile"], &[]);
    let page = unescape(&b.get(&req.url).send().await.unwrap().text().await.unwrap());
    let tx = extract_attr(&page, "/login/").map(|rest| rest.split('/').next().unwrap().to_string()).unwrap();
    // The person (or a page acting for them) starts the WeCom sign-in: the transaction goes there.
    let at = |identifier: &str| format!("{}/login/{tx}/connection/{identifier}", env.base);
    let post_bob = || b.post(at("ldap")).form(&[("username", "bob"), ("password", "bob-password")]).send();
    let post_bob = || async { post_bob().await.unwrap() };
    let wecom = b.get(at("wecom")).send().await.unwrap();
    assert!(wecom.status().is_redirection(), "{}", wecom.status());
    let answer = post_bob().await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{}", answer.text().await.unwrap());
    assert_eq!(env.user_count().await, 0);
    // The person chooses the directory after all (its button): the same transaction now signs in there.
    let form = b.get(at("ldap")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let answer = post_bob().await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", answer.text().await.unwrap());
    assert_eq!(env.user_count().await, 1);
}

async fn offline_sign_in(
    env: &Env,
    client: &Client,
    http: &reqwest::Client,
    identifier: &str,
    username: &str,
    password: &str,
) -> openidconnect::RefreshToken {
    let scopes = ["profile", "offline_access"];
    let (done, req) = try_sign_in_for(env, client, &scopes, identifier, username, password).await;
    let code = code_from_redirect(&done, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    use openidconnect::OAuth2TokenResponse;
    tokens.refresh_token().unwrap().clone()
}

/// A change of the connection's settings is no departure of everyone: grants made under another id attribute
/// are not asked about by the new one, and a filter that finds nobody with the id attribute cannot tell who
/// left. The refresh is refused, or held, but no account is disabled.
#[tokio::test]
async fn a_changed_connection_disables_nobody_at_the_refresh_recheck() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    connection(&env, &d, "ldap", json!({})).await;
    let (client, http) = web_app(&env, "ldap").await;
    let refresh = offline_sign_in(&env, &client, &http, "ldap", "bob", "bob-password").await;
    let (_, body) = env.admin(reqwest::Method::PATCH, "/connections/ldap", Some(json!({"id_attribute": "uid"}))).await;
    assert_eq!(body["settings"]["id_attribute"], "uid", "{body}");
    env.clock.advance(3700);
    let result = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await;
    assert!(result.is_err(), "a grant made under entryUUID is no longer this connection's");
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    assert_eq!(users["items"][0]["disabled"], false, "{users}");

    // Under uid now; then the filter finds nobody (a typo, or the search account's rights changed).
    let refresh = offline_sign_in(&env, &client, &http, "ldap", "alice", "alice-password").await;
    let filter = json!({"user_filter": "(objectClass=noSuchClass)"});
    assert_eq!(env.admin(reqwest::Method::PATCH, "/connections/ldap", Some(filter)).await.0, StatusCode::OK);
    env.clock.advance(3700);
    let _ = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await;
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    let items = users["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{users}");
    assert!(items.iter().all(|u| u["disabled"] == false), "{users}");
}

/// An id that several entries carry (an id attribute people can set, such as mail) names nobody's departure:
/// the re-check cannot tell, and nobody is disabled.
#[tokio::test]
async fn an_id_several_entries_carry_disables_nobody_at_the_refresh_recheck() {
    let Some(d) = slapd().await else { return };
    let env = start().await;
    connection(&env, &d, "ldap", json!({"id_attribute": "mail"})).await;
    let (client, http) = web_app(&env, "ldap").await;
    // carol1 and carol2 share carol@example.org.
    let refresh = offline_sign_in(&env, &client, &http, "ldap", "carol1", "carol-password").await;
    env.clock.advance(3700);
    let _ = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await;
    let (_, users) = env.admin(reqwest::Method::GET, "/users?limit=10", None).await;
    assert_eq!(users["items"][0]["disabled"], false, "{users}");
}
