//! The OpenID Connect provider, driven through local password sign-in by the `openidconnect` crate.
//! Tests are named after the rule of the specification they hold us to.

use openidconnect::core::CoreIdTokenVerifier;
use openidconnect::{AccessTokenHash, OAuth2TokenResponse, RefreshToken, TokenResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::harness::*;

const REDIRECT: &str = "https://app.example.com/cb";

async fn env_with_user() -> Env {
    let env = start().await;
    env.post("/users", json!({"username": "alice", "email": "Alice@Example.com", "phone": "+86 138 0000 0001", "name": "Alice", "password": "correct horse"})).await;
    env
}

/// Signs alice in and returns (client, http, tokens, request).
async fn signed_in(
    env: &Env,
    scopes: &[&str],
) -> (Client, reqwest::Client, openidconnect::core::CoreTokenResponse, AuthRequest, String) {
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let req = auth_request(&client, scopes, &[]);
    let browser = browser();
    let back = password_login(&browser, &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let nonce = req.nonce.clone();
    let tokens = exchange(&client, &http, code, PkceCodeVerifierClone::clone(&req.verifier)).await;
    let claims =
        tokens.id_token().expect("id token").claims(&client.id_token_verifier(), &nonce).expect("valid id token");
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        if scopes.contains(&"profile") { Some("alice") } else { None }
    );
    (client, http, tokens, req, client_id)
}

/// PkceCodeVerifier is not Clone; rebuild it from its secret.
struct PkceCodeVerifierClone;
impl PkceCodeVerifierClone {
    fn clone(v: &openidconnect::PkceCodeVerifier) -> openidconnect::PkceCodeVerifier {
        openidconnect::PkceCodeVerifier::new(v.secret().clone())
    }
}

#[tokio::test]
async fn discovery_1_0_document_and_jwks() {
    let env = start().await;
    let doc: Value = env
        .http
        .get(format!("{}/.well-known/openid-configuration", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], env.base);
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], json!(true));
    let jwks: Value = env.http.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn oidc_core_3_1_code_flow_with_pkce_nonce_and_state() {
    let env = env_with_user().await;
    let (client, http, tokens, req, _) = signed_in(&env, &["profile", "email", "phone"]).await;
    let id_token = tokens.id_token().unwrap();
    let claims = id_token.claims(&client.id_token_verifier(), &req.nonce).unwrap();
    assert_eq!(claims.email().map(|e| e.as_str()), Some("Alice@Example.com"));
    assert_eq!(claims.phone_number().map(|p| p.as_str()), Some("+86 138 0000 0001"));
    // at_hash matches the access token (OIDC Core §3.1.3.6).
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // userinfo returns the same subject and standard claims.
    let info: Value = http
        .get(format!("{}/userinfo", env.base))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], claims.subject().as_str());
    assert_eq!(info["name"], "Alice");
    assert_eq!(info["email"], "Alice@Example.com");
    // A nonce other than the one sent is refused by the client library: the ID token carries ours.
    let wrong = openidconnect::Nonce::new("other".into());
    assert!(id_token.claims(&client.id_token_verifier(), &wrong).is_err());
}

#[tokio::test]
async fn rfc9068_access_token_is_a_jwt_verifiable_offline() {
    let env = env_with_user().await;
    let (_, _, tokens, _, client_id) = signed_in(&env, &["profile"]).await;
    let token = tokens.access_token().secret();
    let header: Value = serde_json::from_slice(&base64_url(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let payload: Value = serde_json::from_slice(&base64_url(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(payload["client_id"], client_id.as_str());
    assert_eq!(payload["iss"], env.base);
    assert!(payload["jti"].is_string() && payload["exp"].is_i64());
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test]
async fn rfc6749_4_1_2_code_replay_is_refused_and_revokes_tokens() {
    let env = env_with_user().await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let secret = secret.unwrap();
    let (client, http) = env.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    let req = auth_request(&client, &["offline_access"], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", req.verifier.secret().as_str()),
    ];
    let (status, first) = token_call(&env.base, &form, Some((&client_id, &secret))).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = token_call(&env.base, &form, Some((&client_id, &secret))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "invalid_grant");
    // The access and refresh tokens of the first exchange are revoked.
    let userinfo = http
        .get(format!("{}/userinfo", env.base))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    let (status, refreshed) = token_call(
        &env.base,
        &[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())],
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refreshed["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let env = env_with_user().await;
    let (client, http, tokens, _, _) = signed_in(&env, &["offline_access", "profile"]).await;
    let first = tokens.refresh_token().expect("refresh token with offline_access").clone();
    let rotated = client.exchange_refresh_token(&first).unwrap().request_async(&http).await.expect("refresh");
    let second = rotated.refresh_token().expect("rotated refresh token").clone();
    assert_ne!(first.secret(), second.secret());
    assert!(rotated.id_token().is_some());
    // Reusing the first one is theft: refused, and the family (including the rotated one) dies.
    assert!(client.exchange_refresh_token(&first).unwrap().request_async(&http).await.is_err());
    let after =
        client.exchange_refresh_token(&RefreshToken::new(second.secret().clone())).unwrap().request_async(&http).await;
    assert!(after.is_err(), "the rotated token must be revoked with its family");
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let env = env_with_user().await;
    let (_, _, tokens, _, _) = signed_in(&env, &["profile"]).await;
    assert!(tokens.refresh_token().is_none());
}

#[tokio::test]
async fn rfc7662_introspection_and_rfc7009_revocation() {
    let env = env_with_user().await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let secret = secret.unwrap();
    let (client, http) = env.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    let req = auth_request(&client, &["offline_access"], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let access = tokens.access_token().secret().clone();
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let auth = Some((client_id.as_str(), secret.as_str()));

    let (status, active) = form_call(&env.base, "/introspect", &[("token", &access)], auth).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], client_id.as_str());
    let (_, active_refresh) =
        form_call(&env.base, "/introspect", &[("token", &refresh), ("token_type_hint", "refresh_token")], auth).await;
    assert_eq!(active_refresh["active"], true);
    let (status, _) =
        form_call(&env.base, "/introspect", &[("token", &access)], Some((client_id.as_str(), "wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Revoking the access token: inactive from then on.
    let (status, _) = form_call(&env.base, "/revoke", &[("token", &access)], auth).await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = form_call(&env.base, "/introspect", &[("token", &access)], auth).await;
    assert_eq!(after["active"], false);
    // Revoking the refresh token kills the grant.
    let (status, _) =
        form_call(&env.base, "/revoke", &[("token", &refresh), ("token_type_hint", "refresh_token")], auth).await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = form_call(&env.base, "/introspect", &[("token", &refresh)], auth).await;
    assert_eq!(after["active"], false);
    // Unknown tokens: 200 as RFC 7009 §2.2 requires.
    let (status, _) = form_call(&env.base, "/revoke", &[("token", "nonsense")], auth).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn tampered_tokens_are_rejected() {
    let env = env_with_user().await;
    let (_, http, tokens, _, _) = signed_in(&env, &["profile"]).await;
    let access = tokens.access_token().secret();
    let mut parts: Vec<String> = access.split('.').map(String::from).collect();
    let mut payload: Value = serde_json::from_slice(&base64_url(&parts[1])).unwrap();
    payload["sub"] = json!("someone-else");
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    let forged = parts.join(".");
    let response = http.get(format!("{}/userinfo", env.base)).bearer_auth(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn rfc6749_redirect_uri_mismatch_shows_a_page_and_never_redirects() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let b = browser();
    for uri in ["https://evil.example.com/cb", "https://app.example.com/cb/", "https://app.example.com/cb?x=1"] {
        let url = format!(
            "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s",
            env.base,
            urlencode(uri)
        );
        let response = b.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("redirect_uri"), "the page names the problem");
    }
    let response = b
        .get(format!(
            "{}/authorize?client_id=nobody&redirect_uri={}&response_type=code&scope=openid",
            env.base,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn rfc7636_public_clients_must_use_pkce() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("spa", REDIRECT).await;
    let response = browser()
        .get(format!(
            "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=xyz",
            env.base,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert!(to.starts_with(REDIRECT));
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("xyz"));
    // plain is not accepted either
    let response = browser()
        .get(format!("{}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&code_challenge={}&code_challenge_method=plain", env.base, urlencode(REDIRECT), "a".repeat(43)))
        .send()
        .await
        .unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn rfc7636_wrong_verifier_is_invalid_grant() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("native", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, None, REDIRECT).await;
    let req = auth_request(&client, &[], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let wrong = "x".repeat(43);
    let (status, body) = token_call(
        &env.base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client_id),
            ("code_verifier", &wrong),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn rfc6749_2_3_wrong_client_secret_is_invalid_client() {
    let env = env_with_user().await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let req = auth_request(&client, &[], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", req.verifier.secret().as_str()),
    ];
    let (status, body) = token_call(&env.base, &form, Some((&client_id, "not-the-secret"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    // client_secret_post works too (and the code is still unused: authentication failed first).
    let mut post = form.to_vec();
    post.push(("client_id", &client_id));
    let secret = secret.unwrap();
    post.push(("client_secret", &secret));
    let (status, body) = token_call(&env.base, &post, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn codes_expire_quickly() {
    let env = start().await;
    env.post("/users", json!({"username": "alice", "password": "correct horse"})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let secret = secret.unwrap();
    let (client, _) = env.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    let req = auth_request(&client, &[], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    env.clock.advance(61); // the default code lifetime is 60 s
    let (status, body) = token_call(
        &env.base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", req.verifier.secret()),
        ],
        Some((&client_id, &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required_and_sso_with_one() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("unused"), REDIRECT).await;
    let b = browser();
    let req = auth_request(&client, &[], &[("prompt", "none")]);
    let response = b.get(&req.url).send().await.unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("login_required"));
    // Sign in once; then prompt=none answers with a code, no page.
    let req = auth_request(&client, &[], &[]);
    let back = password_login(&b, &req.url, "alice", "correct horse").await;
    code_from_redirect(&back, &req, &env.base);
    let req = auth_request(&client, &[], &[("prompt", "none")]);
    let response = b.get(&req.url).send().await.unwrap();
    code_from_redirect(&response, &req, &env.base);
}

#[tokio::test]
async fn wrong_password_shows_the_page_again_and_issues_nothing() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("x"), REDIRECT).await;
    let req = auth_request(&client, &[], &[]);
    let response = password_login(&browser(), &req.url, "alice", "wrong").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("location").is_none());
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'"));
    assert!(response.text().await.unwrap().contains("Wrong account or password"));
}

/// After `lockout_failures` wrong passwords the account's password sign-in is refused (even with the right
/// password) until the window ends; other accounts are unaffected; a success clears the count.
#[tokio::test]
async fn repeated_wrong_passwords_lock_the_password_sign_in_for_a_while() {
    let env = start_with(Arc::new(simulator().await), |s| {
        s.lockout_failures = 3;
        s.lockout_window = 600;
    })
    .await;
    for user in ["alice", "bob"] {
        env.post("/users", json!({"username": user, "password": "correct horse"})).await;
    }
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("x"), REDIRECT).await;
    let attempt = |login: &'static str, password: &'static str| {
        let req = auth_request(&client, &[], &[]);
        async move {
            let response = password_login(&browser(), &req.url, login, password).await;
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        }
    };

    // Two failures, then the right password: it works and clears the count.
    for _ in 0..2 {
        assert_eq!(attempt("alice", "wrong").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt("alice", "correct horse").await.0, StatusCode::SEE_OTHER);
    for _ in 0..2 {
        assert_eq!(attempt("alice", "wrong").await.0, StatusCode::UNAUTHORIZED, "count restarted after the success");
    }
    // The third failure in a row locks; now even the right password is refused, with a clear message.
    assert_eq!(attempt("ALICE ", "wrong").await.0, StatusCode::UNAUTHORIZED, "login compared case-insensitively");
    let (status, page) = attempt("alice", "correct horse").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many failed attempts") && page.contains("10 minutes"), "{page}");
    assert_eq!(attempt("bob", "correct horse").await.0, StatusCode::SEE_OTHER, "other accounts unaffected");

    // Unknown logins are counted and locked the same way, so lockout tells nothing about who exists.
    for _ in 0..3 {
        assert_eq!(attempt("nobody", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt("nobody", "guess").await.0, StatusCode::TOO_MANY_REQUESTS);
    let (_, audit) = env.admin(reqwest::Method::GET, "/audit?limit=50", None).await;
    assert!(audit.to_string().contains("too many failed attempts"), "audited: {audit}");
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_redirects_only_to_registered_uris() {
    let env = env_with_user().await;
    let (client, _, tokens, _, client_id) = signed_in(&env, &[]).await;
    let _ = client;
    let id_token = tokens.id_token().unwrap().to_string();
    let b = browser();
    // Unregistered target: a page, no redirect.
    let response = b
        .get(format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            env.base,
            urlencode("https://evil.example.com/")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    // Registered target with state.
    let target = format!("{REDIRECT}/bye");
    let response = b
        .get(format!(
            "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=s1&client_id={client_id}",
            env.base,
            urlencode(&target)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{target}?state=s1"));
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("wegate_session=;") && cookie.contains("Max-Age=0"));
}

#[tokio::test]
async fn logout_ends_single_sign_on() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let (client, _) = env.oidc_client(&client_id, Some("x"), REDIRECT).await;
    let b = browser();
    let req = auth_request(&client, &[], &[]);
    let back = password_login(&b, &req.url, "alice", "correct horse").await;
    code_from_redirect(&back, &req, &env.base);
    // Without an id_token_hint the person confirms on a page first (a POST with its token).
    let response = b.get(format!("{}/logout", env.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let token = extract_attr(&html, "name=\"confirm\" value=\"").expect("confirmation form");
    let response = b.post(format!("{}/logout", env.base)).form(&[("confirm", token.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let req = auth_request(&client, &[], &[("prompt", "none")]);
    let response = b.get(&req.url).send().await.unwrap();
    assert_eq!(query_param(&location(&response), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn unsupported_response_type_redirects_with_the_error() {
    let env = env_with_user().await;
    let (client_id, _) = env.app("web", REDIRECT).await;
    let response = browser()
        .get(format!(
            "{}/authorize?client_id={client_id}&redirect_uri={}&response_type=token&scope=openid&state=q",
            env.base,
            urlencode(REDIRECT)
        ))
        .send()
        .await
        .unwrap();
    let to = location(&response);
    assert_eq!(query_param(&to, "error").as_deref(), Some("unsupported_response_type"));
    assert_eq!(query_param(&to, "iss").as_deref(), Some(env.base.as_str()));
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let env = env_with_user().await;
    let ok = |path: &'static str| {
        let url = format!("{}{path}", env.base);
        async move { reqwest::get(url).await.unwrap() }
    };
    assert_eq!(ok("/healthz").await.status(), StatusCode::OK);
    assert_eq!(ok("/readyz").await.status(), StatusCode::OK);
    let _ = signed_in(&env, &[]).await;
    let metrics = ok("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("wegate_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/token\""));
    assert!(metrics.contains("wegate_logins_total") && metrics.contains("outcome=\"success\""));
    assert!(metrics.contains("wegate_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn id_token_verifier_rejects_tokens_for_another_audience() {
    let env = env_with_user().await;
    let (client, _, tokens, req, _) = signed_in(&env, &[]).await;
    let other: CoreIdTokenVerifier = client.id_token_verifier().set_other_audience_verifier_fn(|_| false);
    let id_token = tokens.id_token().unwrap();
    assert!(id_token.claims(&other, &req.nonce).is_ok(), "our own audience is fine");
    let (other_app, _) = env.app("web", REDIRECT).await;
    let (other_client, _) = env.oidc_client(&other_app, Some("x"), REDIRECT).await;
    assert!(id_token.claims(&other_client.id_token_verifier(), &req.nonce).is_err());
}

#[tokio::test]
async fn graceful_shutdown_stops_serving() {
    let mut env = start().await;
    assert_eq!(reqwest::get(format!("{}/healthz", env.base)).await.unwrap().status(), StatusCode::OK);
    env.server.take().expect("in-process server").shutdown().await.expect("clean stop");
    assert!(reqwest::get(format!("{}/healthz", env.base)).await.is_err(), "no longer listening");
}

/// `access_token_alg = ES256`: access tokens are signed by a P-256 key published in the JWKS (verifiable
/// offline by its kid), ID tokens stay RS256, and userinfo, introspection and revocation accept them.
#[tokio::test]
async fn es256_access_tokens_verify_offline_and_work_everywhere() {
    let env = start_with(Arc::new(simulator().await), |s| s.access_token_alg = "ES256".into()).await;
    env.post("/users", json!({"username": "alice", "password": "correct horse"})).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let secret = secret.unwrap();
    let (client, http) = env.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    let req = auth_request(&client, &["profile"], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let access = tokens.access_token().secret().clone();

    let jwks: Value = reqwest::get(format!("{}/jwks", env.base)).await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header.kid.clone().unwrap()).unwrap();
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
    let key =
        jsonwebtoken::DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[env.base.as_str()]);
    validation.validate_aud = false;
    let verified = jsonwebtoken::decode::<Value>(&access, &key, &validation).expect("verifies offline with the JWKS");
    assert_eq!(verified.claims["client_id"], client_id.as_str());
    assert_eq!(
        jsonwebtoken::decode_header(tokens.id_token().unwrap().to_string().as_str()).unwrap().alg,
        jsonwebtoken::Algorithm::RS256,
        "ID tokens stay RS256"
    );

    let userinfo = http.get(format!("{}/userinfo", env.base)).bearer_auth(&access).send().await.unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);
    let auth = Some((client_id.as_str(), secret.as_str()));
    let (_, active) = form_call(&env.base, "/introspect", &[("token", &access)], auth).await;
    assert_eq!(active["active"], true);
    form_call(&env.base, "/revoke", &[("token", &access)], auth).await;
    let (_, after) = form_call(&env.base, "/introspect", &[("token", &access)], auth).await;
    assert_eq!(after["active"], false);
}

#[tokio::test]
async fn the_language_switch_is_remembered_and_never_redirects_off_site() {
    let env = env_with_user().await;
    let b = browser();
    for (asked, expected) in
        [("/login/abc", "/login/abc"), ("//evil.example.com/x", "/"), ("https://evil.example.com", "/")]
    {
        let response =
            b.get(format!("{}/language?lang=zh&return={}", env.base, urlencode(asked))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), expected, "return={asked}");
    }
    // The cookie now picks Chinese over the browser's English.
    let page = b.get(format!("{}/", env.base)).header("accept-language", "en").send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\""), "{html}");
    assert!(html.contains("English"), "the switch offers the other language: {html}");
}

/// A code presented by another client is refused and stays valid for its own client (it used to be burnt,
/// and its own client's exchange then counted as a replay).
#[tokio::test]
async fn a_code_presented_by_another_client_is_refused_and_not_consumed() {
    let env = env_with_user().await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    let secret = secret.unwrap();
    let (intruder_id, intruder_secret) = env.app("web", REDIRECT).await;
    let intruder_secret = intruder_secret.unwrap();
    let (client, _) = env.oidc_client(&client_id, Some(&secret), REDIRECT).await;
    let req = auth_request(&client, &[], &[]);
    let back = password_login(&browser(), &req.url, "alice", "correct horse").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", req.verifier.secret().as_str()),
    ];
    let (status, body) = token_call(&env.base, &form, Some((&intruder_id, &intruder_secret))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, body) = token_call(&env.base, &form, Some((&client_id, &secret))).await;
    assert_eq!(status, StatusCode::OK, "still valid for its own client: {body}");
}

#[tokio::test]
async fn public_clients_cannot_introspect() {
    let env = env_with_user().await;
    let (spa_id, _) = env.app("spa", REDIRECT).await;
    let (status, body) =
        form_call(&env.base, "/introspect", &[("token", "anything"), ("client_id", &spa_id)], None).await;
    // The client did not authenticate: 401 invalid_client (RFC 6749 §5.2).
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn https_issuers_send_hsts_and_metrics_can_require_a_token() {
    let sim = std::sync::Arc::new(simulator().await);
    let env = start_with(sim, |s| {
        s.issuer = s.issuer.replace("http://", "https://");
        s.metrics_token = Some("metrics-secret-0123456789".into());
    })
    .await;
    let http = reqwest::Client::new();
    let health = http.get(format!("{}/healthz", env.base)).send().await.unwrap();
    assert_eq!(health.headers()["strict-transport-security"], "max-age=31536000");
    let open = http.get(format!("{}/metrics", env.base)).send().await.unwrap();
    assert_eq!(open.status(), StatusCode::UNAUTHORIZED, "metrics name apps: not for anyone");
    let wrong = http.get(format!("{}/metrics", env.base)).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = http.get(format!("{}/metrics", env.base)).bearer_auth("metrics-secret-0123456789").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(http.get(format!("{}/readyz", env.base)).send().await.unwrap().status(), StatusCode::OK);
    // A plain-http issuer sends no HSTS (it would pin a scheme the server does not serve).
    let plain = env_with_user().await;
    let health = http.get(format!("{}/healthz", plain.base)).send().await.unwrap();
    assert!(health.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn request_bodies_are_bounded() {
    let env = env_with_user().await;
    let http = reqwest::Client::new();
    let big = "x".repeat(64 * 1024);
    let token = http.post(format!("{}/token", env.base)).form(&[("grant_type", big.as_str())]).send().await.unwrap();
    let status = token.status();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", token.text().await.unwrap());
    let huge = "x".repeat(512 * 1024);
    let api = http
        .post(format!("{}/api/v1/users", env.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(format!("{{\"username\":\"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
