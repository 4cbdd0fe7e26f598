//! `oidc` and `oauth2` connections against real providers: another `wegate serve` process as the upstream
//! (a broker chain: wegate is itself a conformant OP), and the hostile OP of `hostile_op` for each rule of
//! the ID token's verification — each breach refused with a page, nobody created.

use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::hostile_op::{CLIENT_ID, CLIENT_SECRET, Mode, Op};

const REDIRECT: &str = "https://rp.example.com/cb";

/// An `oidc` connection to `op` enabled for a new web app: (client, its HTTP client).
async fn setup(env: &Env, identifier: &str, issuer: &str, extra: Value) -> (Client, reqwest::Client) {
    let mut body = json!({
        "identifier": identifier, "display_name": "Hostile OP", "kind": "oidc",
        "issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let created = env.post("/connections", body).await;
    assert_eq!(created["callback_url"], json!(format!("{}/connections/{identifier}/callback", env.base)));
    assert!(created.get("client_secret").is_none() && created["settings"].get("client_secret").is_none());
    assert_eq!(created["secrets_set"]["client_secret"], json!(true));
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, identifier).await;
    env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await
}

/// The browser's round trip: our /authorize?connection= → the provider's authorize → our callback.
/// Returns our callback's answer.
async fn round_trip(browser: &reqwest::Client, auth_url: &str) -> reqwest::Response {
    let to_op = browser.get(auth_url).send().await.unwrap();
    assert_eq!(to_op.status(), StatusCode::SEE_OTHER, "to the provider: {}", to_op.text().await.unwrap_or_default());
    let back = browser.get(location(&to_op)).send().await.unwrap();
    assert!(back.status().is_redirection(), "the provider sends the browser back");
    browser.get(location(&back)).send().await.unwrap()
}

async fn sign_in(env: &Env, client: &Client, http: &reqwest::Client, identifier: &str) -> (String, Value) {
    let req = auth_request(client, &["openid", "profile", "email"], &[("connection", identifier)]);
    let answer = round_trip(&browser(), &req.url).await;
    let code = code_from_redirect(&answer, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    let id_token = tokens.id_token().unwrap();
    let claims = id_token.claims(&client.id_token_verifier(), &req.nonce).unwrap();
    let sub = claims.subject().to_string();
    let (_, user) = env.admin(Method::GET, &format!("/users/{sub}"), None).await;
    (sub, user)
}

/// A sign-in the provider's answer should not survive: the page's status and text, and nobody created.
async fn refused(env: &Env, client: &Client, identifier: &str) -> (StatusCode, String) {
    let users = env.user_count().await;
    let req = auth_request(client, &["openid"], &[("connection", identifier)]);
    let answer = round_trip(&browser(), &req.url).await;
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(env.user_count().await, users, "nothing created");
    (status, text)
}

#[tokio::test]
async fn an_honest_provider_signs_people_in_with_state_nonce_and_pkce() {
    let op = Op::start().await;
    let env = start().await;
    let (client, http) = setup(&env, "op", &op.issuer, json!({})).await;
    let (sub, user) = sign_in(&env, &client, &http, "op").await;
    // Every sign-in sent state, nonce and an S256 challenge to the provider.
    assert_eq!(op.last_authorize("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(op.last_authorize("code_challenge").map(|c| c.len()), Some(43));
    let nonce = op.last_authorize("nonce").unwrap();
    let state = op.last_authorize("state").unwrap();
    assert!(nonce.len() >= 32 && state.len() >= 16 && nonce != state);
    assert_eq!(op.last_authorize("redirect_uri"), Some(format!("{}/connections/op/callback", env.base)));
    assert_eq!(op.last_authorize("scope").as_deref(), Some("openid profile email"));
    // The identity is (issuer, sub); userinfo's claims over the ID token's profile; the email as stated.
    assert_eq!(user["identities"][0]["upstream"], json!(format!("oidc:{}", op.issuer)));
    assert_eq!(user["identities"][0]["kind"], json!("oidc"));
    assert_eq!(user["identities"][0]["subject"], json!("op-user-1"));
    assert_eq!(user["name"], json!("Ann From Userinfo"));
    assert_eq!(user["email"], json!("ann@example.com"));
    assert_eq!(user["claims"]["email_verified"], json!(true));
    // The same person again is the same user; discovery and keys came from the cache.
    let (again, _) = sign_in(&env, &client, &http, "op").await;
    assert_eq!(again, sub);
    assert_eq!((op.discovery_fetches(), op.jwks_fetches()), (1, 1), "cached per issuer");
    assert_eq!(env.user_count().await, 1);
    // The provider's calls are in /metrics, by its host and what they were for.
    let metrics = env.http.get(format!("{}/metrics", env.base)).send().await.unwrap().text().await.unwrap();
    for (api, n) in [("discovery", 1), ("jwks", 1), ("token", 2), ("userinfo", 2)] {
        let series = format!("wegate_upstream_calls_total{{provider=\"127.0.0.1\",api=\"{api}\"}} {n}");
        assert!(metrics.contains(&series), "{series} in {metrics}");
    }
}

#[tokio::test]
async fn each_id_token_rule_refuses_a_breach() {
    let op = Op::start().await;
    let env = start().await;
    let (client, _) = setup(&env, "op", &op.issuer, json!({})).await;
    let cases = [
        (Mode::WrongIss, "iss"),
        (Mode::WrongAud, "aud"),
        (Mode::SeveralAudNoAzp, "azp"),
        (Mode::OtherAzp, "azp"),
        (Mode::WrongNonce, "nonce"),
        (Mode::NoNonce, "nonce"),
        (Mode::Expired, "expired"),
        (Mode::FutureIat, "iat"),
        (Mode::AlgNone, "header"),
        (Mode::Hs256WithSecret, "HS256"),
        (Mode::UserinfoOtherSub, "sub"),
    ];
    for (mode, why) in cases {
        op.set_mode(mode.clone());
        let (status, page) = refused(&env, &client, "op").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{mode:?}: {page}");
        assert!(page.contains("could not verify"), "{mode:?}: {page}");
        // The admin learns which rule, in the audit trail.
        let (_, audit) = env.admin(Method::GET, "/audit?limit=1", None).await;
        let reason = audit["items"][0]["reason"].as_str().unwrap_or_default().to_string();
        assert!(reason.starts_with("unverified") && reason.contains(why), "{mode:?}: {reason}");
    }
}

#[tokio::test]
async fn a_new_key_is_fetched_once_when_a_token_names_it_and_never_more_often_than_every_30_s() {
    let op = Op::start().await;
    let env = start().await;
    let (client, http) = setup(&env, "op", &op.issuer, json!({})).await;
    sign_in(&env, &client, &http, "op").await;
    assert_eq!(op.jwks_fetches(), 1);
    // The provider signs with a key it has not published: refetched once, still unknown → refused.
    env.clock.advance(31);
    op.advance(31);
    op.rotate_unpublished("k2");
    op.set_mode(Mode::NextKey);
    let (status, _) = refused(&env, &client, "op").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(op.jwks_fetches(), 2, "one refetch for the unknown kid");
    // Published now, but within 30 s of the last fetch: no new fetch, still refused.
    op.publish_next();
    let (status, _) = refused(&env, &client, "op").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(op.jwks_fetches(), 2, "rate-limited");
    // 30 s later the unknown kid refetches once, and the person signs in.
    env.clock.advance(30);
    op.advance(30);
    op.set_mode(Mode::Honest);
    sign_in(&env, &client, &http, "op").await;
    assert_eq!(op.jwks_fetches(), 3);
    // A key the cache knows needs no fetch at all.
    sign_in(&env, &client, &http, "op").await;
    assert_eq!(op.jwks_fetches(), 3);
    // An hour on, discovery and keys are fetched again (stale), without a sign-in failing.
    env.clock.advance(3601);
    op.advance(3601);
    sign_in(&env, &client, &http, "op").await;
    assert_eq!((op.discovery_fetches(), op.jwks_fetches()), (2, 4));
}

#[tokio::test]
async fn the_providers_errors_become_clear_pages() {
    let op = Op::start().await;
    let env = start().await;
    let (client, _) = setup(&env, "op", &op.issuer, json!({})).await;
    op.set_mode(Mode::Error("access_denied".into()));
    let (status, page) = refused(&env, &client, "op").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("You cancelled the sign-in at Hostile OP"), "{page}");
    op.set_mode(Mode::Error("interaction_required".into()));
    let (status, page) = refused(&env, &client, "op").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Hostile OP did not sign you in") && page.contains("interaction_required"), "{page}");
    op.set_mode(Mode::TokenInvalidGrant);
    let (status, page) = refused(&env, &client, "op").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(page.contains("invalid, has expired, or was already used"), "{page}");
    // A provider whose discovery names another issuer is a misconfiguration the page names as such.
    let other = Op::start().await;
    let (client2, _) = setup(&env, "op2", &other.issuer, json!({})).await;
    other.set_mode(Mode::DiscoveryOtherIssuer);
    let req = auth_request(&client2, &["openid"], &[("connection", "op2")]);
    let page = browser().get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.text().await.unwrap().contains("misconfigured"));
}

#[tokio::test]
async fn email_verified_passes_through_and_only_a_vouched_email_matches_an_account() {
    let op = Op::start().await;
    let env = start().await;
    env.post("/users", json!({"username": "ann", "email": "ann@example.com", "password": "a-long-password-1"})).await;
    let matching = json!({"association": {"mode": "match", "fields": ["email"]}});
    let (client, http) = setup(&env, "op", &op.issuer, matching.clone()).await;
    // Unverified at the provider: never links onto the existing account; a new user, email not verified.
    *op.state.email.lock().unwrap() = Some(("ann@example.com".into(), json!(false)));
    let (_, user) = sign_in(&env, &client, &http, "op").await;
    assert_eq!(user["username"], Value::Null, "not linked to ann");
    assert_eq!(user["claims"]["email_verified"], json!(false));
    // Nor planted on the new account, where another connection's match would find it.
    assert_eq!(user["email"], Value::Null);
    assert_eq!(user["identities"][0]["profile"]["email"], json!("ann@example.com"), "kept on the identity");
    // Verified (here as the string "true", as some providers send it): links onto the account.
    *op.state.sub.lock().unwrap() = "op-user-2".into();
    *op.state.email.lock().unwrap() = Some(("ann@example.com".into(), json!("true")));
    let (_, user) = sign_in(&env, &client, &http, "op").await;
    assert_eq!(user["username"], json!("ann"), "linked on a verified email");
    // The attack the rule stops: someone plants the victim's email, unverified, through this connection…
    *op.state.sub.lock().unwrap() = "mallory".into();
    *op.state.email.lock().unwrap() = Some(("victim@example.com".into(), json!(false)));
    let (mallory, planted) = sign_in(&env, &client, &http, "op").await;
    assert_eq!(planted["email"], Value::Null, "an unvouched email never reaches the account");
    // …and the victim's first sign-in through another connection that matches on (verified) email must not
    // land in the planter's account.
    let other = Op::start().await;
    *other.state.sub.lock().unwrap() = "victim".into();
    *other.state.email.lock().unwrap() = Some(("victim@example.com".into(), json!(true)));
    let (client2, http2) = setup(&env, "op-two", &other.issuer, matching).await;
    let (victim, _) = sign_in(&env, &client2, &http2, "op-two").await;
    assert_ne!(victim, mallory, "the victim is not signed in as the planter");
    // Matching an OIDC identity on username is refused at set-up.
    let (status, body) = env
        .admin(
            Method::PATCH,
            "/connections/op",
            Some(json!({"association": {"mode": "match", "fields": ["username"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn required_claims_admit_only_the_named_tenant() {
    let op = Op::start().await;
    let env = start().await;
    let (client, http) = setup(&env, "op", &op.issuer, json!({"required_claims": "hd=example.com"})).await;
    let (status, page) = refused(&env, &client, "op").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Your Hostile OP account is not allowed"), "{page}");
    *op.state.extra_claims.lock().unwrap() = json!({"hd": "example.com"});
    sign_in(&env, &client, &http, "op").await;
}

#[tokio::test]
async fn an_oidc_session_enters_only_apps_that_enable_that_connection() {
    let op = Op::start().await;
    let env = start().await;
    let (client, _) = setup(&env, "op", &op.issuer, json!({})).await;
    let browser = browser();
    let req = auth_request(&client, &["openid"], &[("connection", "op")]);
    let answer = round_trip(&browser, &req.url).await;
    code_from_redirect(&answer, &req, &env.base);
    // The same browser at an app enabling another connection of the same issuer: asked to sign in.
    let body = json!({
        "identifier": "op-b", "display_name": "Same issuer, other client", "kind": "oidc",
        "issuer": op.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
    });
    env.post("/connections", body).await;
    let (other_id, other_secret) = env.app("web", REDIRECT).await;
    env.associate(&other_id, "op-b").await;
    let (other, _) = env.oidc_client(&other_id, other_secret.as_deref(), REDIRECT).await;
    let req = auth_request(&other, &["openid"], &[]);
    let page = browser.get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "a login page, not a code");
    // And the first app again: single sign-on, no trip to the provider.
    let req = auth_request(&client, &["openid"], &[]);
    let answer = browser.get(&req.url).send().await.unwrap();
    code_from_redirect(&answer, &req, &env.base);
}

#[tokio::test]
async fn oauth2_reads_the_id_and_claims_at_dotted_paths_and_refuses_without_an_id() {
    let op = Op::start().await;
    let env = start().await;
    env.post(
        "/connections",
        json!({
            "identifier": "gh", "display_name": "Plain OAuth", "kind": "oauth2",
            "authorization_endpoint": format!("{}/authorize", op.issuer),
            "token_endpoint": format!("{}/token", op.issuer),
            "userinfo_endpoint": format!("{}/api/user", op.issuer),
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": "read:user",
            "user_id_field": "data.user_id",
            "claims": {"name": "data.profile.display", "email": "data.profile.mail"},
        }),
    )
    .await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "gh").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    let (sub, user) = sign_in(&env, &client, &http, "gh").await;
    assert_eq!(op.last_authorize("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(op.last_authorize("nonce"), None, "no nonce: not OpenID Connect");
    // The space is the connection and its user API's host: re-pointed elsewhere, nobody is the same person.
    let host = op.issuer.trim_start_matches("http://");
    assert_eq!(user["identities"][0]["upstream"], json!(format!("oauth2:gh@{host}")));
    assert_eq!(user["identities"][0]["subject"], json!("1"), "the numeric id as a string");
    assert_eq!(user["name"], json!("Ann OAuth"));
    assert_eq!(user["claims"]["email_verified"], json!(false), "a plain OAuth 2.0 email is never verified");
    assert_eq!(sign_in(&env, &client, &http, "gh").await.0, sub);
    // A person the user API answers without an id is refused, nothing created.
    *op.state.sub.lock().unwrap() = "op-user-none".into();
    let (status, page) = refused(&env, &client, "gh").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(page.contains("could not verify"), "{page}");
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_with_the_field_named() {
    let env = start().await;
    let base = json!({"identifier": "x", "display_name": "X", "kind": "oidc", "client_id": "c", "client_secret": "s"});
    let bad = [
        (json!({"issuer": "http://idp.example.com"}), "https"),
        (json!({"issuer": "https://idp.example.com", "scopes": ["profile"]}), "openid"),
        (json!({"issuer": "https://idp.example.com", "claims": {"groups": "g"}}), "claims"),
        (json!({"issuer": "https://idp.example.com", "secret": "s"}), "secret does not apply"),
    ];
    for (extra, word) in bad {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = env.admin(Method::POST, "/connections", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(word), "{answer}");
    }
    let oauth2 = json!({"identifier": "y", "display_name": "Y", "kind": "oauth2", "client_id": "c", "client_secret": "s",
        "authorization_endpoint": "https://p.example.com/a", "token_endpoint": "https://p.example.com/t",
        "userinfo_endpoint": "https://p.example.com/u"});
    let (status, answer) = env.admin(Method::POST, "/connections", Some(oauth2)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "user_id_field is required: {answer}");
}

/// The broker chain: a `wegate serve` process is the upstream OP; this wegate signs its people in.
#[tokio::test]
async fn another_wegate_serve_is_an_upstream() {
    let sim = std::sync::Arc::new(simulator().await);
    let dir = tempfile::tempdir().unwrap();
    let upstream = spawn_process(&sim, &format!("sqlite://{}", dir.path().join("up.db").display())).await;
    let up = Env::remote(&upstream.base, sim.clone());
    let bob = json!({"username": "bob", "email": "bob@corp.example", "email_verified": true, "name": "Bob",
        "password": "bobs-long-password"});
    up.post("/users", bob).await;
    let env = start_with(sim, |_| {}).await;
    let callback = format!("{}/connections/corp/callback", env.base);
    let (up_client, up_secret) = up.app("web", &callback).await;
    env.post(
        "/connections",
        json!({
            "identifier": "corp", "display_name": "Corp wegate", "kind": "oidc", "issuer": upstream.base,
            "client_id": up_client, "client_secret": up_secret.unwrap(),
        }),
    )
    .await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "corp").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;

    // Two hosts in a real deployment: each keeps its own cookies (both are 127.0.0.1 here, and cookies
    // ignore ports, so one jar would mix the two servers' session cookies).
    let (ours, theirs) = (browser(), browser());
    let req = auth_request(&client, &["openid", "profile", "email"], &[("connection", "corp")]);
    let to_up = ours.get(&req.url).send().await.unwrap();
    assert_eq!(to_up.status(), StatusCode::SEE_OTHER);
    let up_authorize = location(&to_up);
    assert!(up_authorize.starts_with(&format!("{}/authorize?", upstream.base)), "{up_authorize}");
    // The upstream's own login page: Bob signs in with his password there.
    let back = password_login(&theirs, &up_authorize, "bob", "bobs-long-password").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let to_us = location(&back);
    assert!(to_us.starts_with(&callback), "{to_us}");
    assert_eq!(query_param(&to_us, "iss").as_deref(), Some(upstream.base.as_str()));
    let answer = ours.get(&to_us).send().await.unwrap();
    let code = code_from_redirect(&answer, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    let sub = claims.subject().to_string();
    let (_, user) = env.admin(Method::GET, &format!("/users/{sub}"), None).await;
    assert_eq!(user["name"], json!("Bob"));
    assert_eq!(user["email"], json!("bob@corp.example"), "verified upstream, so the account's");
    assert_eq!(user["claims"]["email_verified"], json!(true));
    let (_, up_users) = up.admin(Method::GET, "/users", None).await;
    let bob = up_users["items"].as_array().unwrap().iter().find(|u| u["username"] == json!("bob")).unwrap().clone();
    assert_eq!(user["identities"][0]["upstream"], json!(format!("oidc:{}", upstream.base)));
    assert_eq!(user["identities"][0]["subject"], bob["id"], "keyed on the upstream's sub");
    // Bob's upstream session signs him in again without a password; the same user here.
    let req = auth_request(&client, &["openid"], &[("connection", "corp"), ("prompt", "login")]);
    let to_up = ours.get(&req.url).send().await.unwrap();
    let back = theirs.get(location(&to_up)).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "single sign-on at the upstream");
    let answer = ours.get(location(&back)).send().await.unwrap();
    let code = code_from_redirect(&answer, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let again = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    assert_eq!(again.subject().as_str(), sub);
}

#[tokio::test]
async fn subjects_are_exact_alice_is_not_alice() {
    let op = Op::start().await;
    let env = start().await;
    let (client, http) = setup(&env, "op", &op.issuer, json!({})).await;
    *op.state.sub.lock().unwrap() = "alice".into();
    let (lower, _) = sign_in(&env, &client, &http, "op").await;
    *op.state.sub.lock().unwrap() = "Alice".into();
    let (upper, user) = sign_in(&env, &client, &http, "op").await;
    assert_ne!(lower, upper, "a provider's sub is case-sensitive");
    assert_eq!(user["identities"][0]["subject"], json!("Alice"));
}

#[tokio::test]
async fn a_refresh_is_refused_once_the_connection_serves_another_issuer() {
    let op = Op::start().await;
    let env = start().await;
    let (client, http) = setup(&env, "op", &op.issuer, json!({})).await;
    let req = auth_request(&client, &["openid", "offline_access"], &[("connection", "op")]);
    let answer = round_trip(&browser(), &req.url).await;
    let code = code_from_redirect(&answer, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    // Same issuer: the refresh's re-check keeps the grant.
    env.clock.advance(3601);
    let token = openidconnect::RefreshToken::new(refresh);
    let refreshed = client.exchange_refresh_token(&token).unwrap();
    let tokens = refreshed.request_async(&http).await.expect("refresh with the issuer unchanged");
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    // The connection now points at another provider (its client secret given again, as a new issuer needs):
    // its grants from the old issuer are not admitted.
    let other = Op::start().await;
    let moved = json!({"issuer": other.issuer, "client_secret": CLIENT_SECRET});
    let (status, body) = env.admin(Method::PATCH, "/connections/op", Some(moved)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    env.clock.advance(3601);
    let token = openidconnect::RefreshToken::new(refresh);
    let refused = client.exchange_refresh_token(&token).unwrap();
    assert!(refused.request_async(&http).await.is_err(), "refused after the issuer changed");
}
