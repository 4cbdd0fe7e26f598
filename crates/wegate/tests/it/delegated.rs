//! Delegated development (wecom_delegated) and service-provider login (wecom_provider), end to end with the
//! simulator pushing real encrypted callbacks to the connection's event URL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

pub(crate) const REDIRECT: &str = "https://app.example.com/cb";

/// The id the demo provider's apps know a corp by (WeCom's encrypted corp id, the simulator's default).
pub(crate) fn encrypted(corp_id: &str) -> String {
    wecom_sim::encrypted_corp_id(&wecom_sim::Seed::demo().providers[0].corp_id, corp_id)
}

pub(crate) async fn sim_post(env: &Env, path: &str, body: Value) -> Value {
    let response = env.http.post(format!("{}{path}", env.sim.base)).json(&body).send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

/// A delegated connection for the demo template, associated with a new web app.
pub(crate) async fn delegated(env: &Env, extra: Value) -> (Client, reqwest::Client, String) {
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let mut body = json!({
        "identifier": "deleg", "display_name": "Delegated", "kind": "wecom_delegated",
        "token": t.token, "encoding_aes_key": t.encoding_aes_key, "template_id": t.template_id,
        "template_secret": t.template_secret, "provider_corp_id": t.provider_corp_id,
    });
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    env.post("/connections", body).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "deleg").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    (client, http, t.template_id.clone())
}

/// A delegated connection made in the consoles' order: Token and EncodingAESKey only. Its event URL.
async fn token_and_key_only(env: &Env, t: &wecom_sim::Template) -> String {
    let created = env
        .post(
            "/connections",
            json!({"identifier": "deleg", "display_name": "Delegated", "kind": "wecom_delegated",
                   "token": t.token, "encoding_aes_key": t.encoding_aes_key}),
        )
        .await;
    created["event_url"].as_str().expect("event_url shown at once").to_string()
}

/// Waits until the background redemption of the auth code has stored the corp.
pub(crate) async fn wait_for_corp(env: &Env, identifier: &str, status: &str) -> Value {
    for _ in 0..100 {
        let (_, c) = env.admin(Method::GET, &format!("/connections/{identifier}"), None).await;
        if let Some(corp) = c["status"]["authorized_corps"].as_array().and_then(|a| a.first())
            && corp["status"] == status
        {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("corp never reached {status}");
}

#[tokio::test]
async fn url_verification_accepts_the_right_secrets_and_names_each_wrong_one() {
    let env = start().await;
    let (_, _, template_id) = delegated(&env, json!({})).await;
    let url = format!("{}/connections/deleg/events", env.base);
    let verified = sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    assert_eq!(verified["verified"], true, "{verified}");
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert_eq!(c["status"]["url_verified"], true);

    // Forged or mis-keyed requests: a 4xx each.
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let right = wecom::MsgCrypt::new(&t.token, &t.encoding_aes_key).unwrap();
    let wrong_token = wecom::MsgCrypt::new("someOtherToken", &t.encoding_aes_key).unwrap();
    let wrong_key = wecom::MsgCrypt::new(&t.token, "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").unwrap();
    let get = |crypt: &wecom::MsgCrypt, receive_id: &str, timestamp: &str| {
        let echostr = crypt.encrypt("1234567890123456789", receive_id);
        let signature = crypt.signature(timestamp, "42", &echostr);
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!("{url}?msg_signature={signature}&timestamp={timestamp}&nonce=42&echostr={}", enc(&echostr))
    };
    let ok = env.http.get(get(&right, &t.provider_corp_id, &now)).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.text().await.unwrap(), "1234567890123456789");
    for (request, cause) in [
        (get(&wrong_token, &t.provider_corp_id, &now), "Token"),
        (get(&wrong_key, &t.provider_corp_id, &now), "EncodingAESKey"),
        (get(&right, "wwsomeoneelse", &now), "receive id"),
        (get(&right, &t.provider_corp_id, "1000000000"), "timestamp"),
    ] {
        let response = env.http.get(request).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.text().await.unwrap().contains(cause), "{cause}");
    }
}

#[tokio::test]
async fn ticket_then_authorization_then_sign_in_of_a_member_of_the_authorizing_corp() {
    let env = start().await;
    let (client, http, template_id) = delegated(&env, json!({})).await;
    // Before anything: a sign-in attempt says which step is missing.
    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let page = browser().get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("event URL"), "names the missing step");

    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    let pushed = sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    assert_eq!(pushed["delivered"], true, "{pushed}");
    let customer = wecom_sim::Seed::demo().corps[1].corp_id.clone();
    let auth = sim_post(&env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": customer})).await;
    assert_eq!(auth["delivered"], true, "{auth}");
    let c = wait_for_corp(&env, "deleg", "active").await;
    assert_eq!(c["status"]["authorized_corps"][0]["corp_id"], encrypted(&customer));
    assert_eq!(c["authorized_corps"], c["status"]["authorized_corps"]);
    assert!(c["status"]["suite_ticket_age_seconds"].as_i64().is_some());
    assert!(!c.to_string().contains("permanent_code\":\""), "the permanent code is never returned");

    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let back = wecom_login(&browser(), &req.url, "LiuYang").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(&client, &http, code, req.verifier).await;
    use openidconnect::TokenResponse;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("刘洋"));

    // A retried create_auth (the same auth code pushed again, new nonce) does not fetch a second
    // permanent code.
    assert_eq!(env.sim_calls("/cgi-bin/service/get_permanent_code").await, 1);
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let crypt = wecom::MsgCrypt::new(&t.token, &t.encoding_aes_key).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let retry = wecom::Event::CreateAuth {
        suite_id: template_id.clone(),
        auth_code: auth["auth_code"].as_str().unwrap().to_string(),
        state: None,
        timestamp: now as i64,
    };
    let (body, signature) =
        crypt.encrypt_to_post_body(&retry.to_xml(), &template_id, &template_id, None, &now.to_string(), "retry1");
    let answer = env
        .http
        .post(format!("{url}?msg_signature={signature}&timestamp={now}&nonce=retry1"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.text().await.unwrap(), "success");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(env.sim_calls("/cgi-bin/service/get_permanent_code").await, 1);

    // cancel_auth blocks sign-in; nothing is deleted.
    sim_post(&env, &format!("/_sim/suites/{template_id}/cancel_auth"), json!({"corp_id": customer})).await;
    wait_for_corp(&env, "deleg", "cancelled").await;
    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let page = browser().get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert_eq!(env.user_count().await, 1);
}

/// The hosted products' order: Token and EncodingAESKey first (WeCom verifies the event URL and starts
/// pushing tickets), template id and secret only once the template is online, then the authorization.
#[tokio::test]
async fn delegated_set_up_in_the_consoles_order_token_and_key_first_template_later() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let event_url = token_and_key_only(&env, t).await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "deleg").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;

    // WeCom verifies the URL (receive id: the provider's corp id, which wegate was not told) and pushes a
    // ticket for the template (receive id: the template id, not entered yet): both accepted.
    sim_post(&env, &format!("/_sim/suites/{}/callback_url", t.template_id), json!({"url": event_url})).await;
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert_eq!(c["status"]["url_verified"], true, "{c}");
    let pushed = sim_post(&env, &format!("/_sim/suites/{}/push_ticket", t.template_id), json!({})).await;
    assert_eq!(pushed["delivered"], true, "{pushed}");

    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let page = browser().get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = page.text().await.unwrap();
    assert!(text.contains("template id and secret"), "names the missing step: {text}");

    let (status, _) = env
        .admin(
            Method::PATCH,
            "/connections/deleg",
            Some(json!({"template_id": t.template_id, "template_secret": t.template_secret})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert!(c["status"]["suite_ticket_age_seconds"].as_i64().is_some(), "the early ticket was kept: {c}");

    let customer = seed.corps[1].corp_id.clone();
    let auth = sim_post(&env, &format!("/_sim/suites/{}/authorize", t.template_id), json!({"corp_id": customer})).await;
    assert_eq!(auth["delivered"], true, "{auth}");
    wait_for_corp(&env, "deleg", "active").await;
    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let back = wecom_login(&browser(), &req.url, "LiuYang").await;
    let code = code_from_redirect(&back, &req, &env.base);
    exchange(&client, &http, code, req.verifier).await;

    // The learned provider corp id does not open the door to other corp ids on later verifications.
    let crypt = wecom::MsgCrypt::new(&t.token, &t.encoding_aes_key).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let echostr = crypt.encrypt("hello", "wwsomeoneelse0001");
    let signature = crypt.signature(&now, "n1", &echostr);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let answer = env
        .http
        .get(format!("{event_url}?msg_signature={signature}&timestamp={now}&nonce=n1&echostr={}", enc(&echostr)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
}

/// Waits until wegate has stored a permanent code `n` times in all (audit `connection.authorized`, written
/// once the code is in the store).
async fn wait_for_stored_permanent_codes(env: &Env, n: usize) {
    let mut seen = 0;
    for _ in 0..100 {
        let (_, audit) = env.admin(Method::GET, "/audit?limit=100", None).await;
        seen = audit["items"].as_array().unwrap().iter().filter(|e| e["event"] == "connection.authorized").count();
        if seen >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("wegate stored {seen} permanent codes, expected {n}");
}

/// `calls[path].errcodes[errcode]` in the simulator's stats (0 if absent).
fn sim_errcode_count(stats: &Value, path: &str, errcode: &str) -> u64 {
    stats["calls"][path]["errcodes"][errcode].as_u64().unwrap_or(0)
}

/// The provider clicks 重新获取secret: WeCom (the simulator) revokes the old permanent code and the tokens
/// obtained with it at once and pushes reset_permanent_code; wegate must redeem the pushed auth code and
/// store the new permanent code, or sign-in through the connection stops working.
#[tokio::test]
async fn reset_permanent_code_fetches_the_new_one() {
    const GET_PERMANENT_CODE: &str = "/cgi-bin/service/get_permanent_code";
    const GETTOKEN: &str = "/cgi-bin/gettoken";
    let env = start().await;
    let (client, http, template_id) = delegated(&env, json!({})).await;
    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    let customer = wecom_sim::Seed::demo().corps[1].corp_id.clone();
    sim_post(&env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": customer})).await;
    wait_for_corp(&env, "deleg", "active").await;
    wait_for_stored_permanent_codes(&env, 1).await;
    assert_eq!(env.sim_calls(GET_PERMANENT_CODE).await, 1);

    use openidconnect::TokenResponse;
    let sign_in = || async {
        let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
        let back = wecom_login(&browser(), &req.url, "emma").await;
        let code = code_from_redirect(&back, &req, &env.base);
        let tokens = exchange(&client, &http, code, req.verifier).await;
        let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
        assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Emma Wang"));
    };
    // With the first permanent code; wegate now caches a corp token obtained with it.
    sign_in().await;
    assert_eq!(sim_errcode_count(&env.sim_stats().await, GETTOKEN, "0"), 1);

    // A reset whose event wegate misses (its event URL unreachable while WeCom pushes): the old code and
    // its token are dead at once, so sign-in fails. This is what ignoring reset_permanent_code leads to.
    sim_post(
        &env,
        &format!("/_sim/suites/{template_id}/callback_url"),
        json!({"url": "http://127.0.0.1:9/unreachable", "force": true}),
    )
    .await;
    let missed =
        sim_post(&env, &format!("/_sim/suites/{template_id}/reset_permanent_code"), json!({"corp_id": customer})).await;
    assert_eq!(missed["delivered"], false, "{missed}");
    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let page = wecom_login(&browser(), &req.url, "emma").await;
    assert_ne!(page.status(), StatusCode::SEE_OTHER, "no way back to the app with the old permanent code");
    let text = page.text().await.unwrap();
    assert!(text.contains("Secret"), "names the rejected secret: {text}");
    let stats = env.sim_stats().await;
    assert_eq!(sim_errcode_count(&stats, "/cgi-bin/auth/getuserinfo", "40014"), 1, "the cached token died: {stats}");
    assert_eq!(sim_errcode_count(&stats, GETTOKEN, "40001"), 1, "the old code is no secret any more: {stats}");
    assert_eq!(env.sim_calls(GET_PERMANENT_CODE).await, 1);

    // The next reset reaches wegate, which redeems the pushed auth code: a second, successful
    // get_permanent_code, and the new code stored.
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    let reset =
        sim_post(&env, &format!("/_sim/suites/{template_id}/reset_permanent_code"), json!({"corp_id": customer})).await;
    assert_eq!(reset["delivered"], true, "{reset}");
    wait_for_stored_permanent_codes(&env, 2).await;
    let stats = env.sim_stats().await;
    assert_eq!(stats["calls"][GET_PERMANENT_CODE]["total"], 2, "{stats}");
    assert_eq!(sim_errcode_count(&stats, GET_PERMANENT_CODE, "0"), 2, "{stats}");

    // Sign-in works again, which only the newest permanent code allows (every earlier one answers 40001),
    // and wegate tried no old one.
    sign_in().await;
    let stats = env.sim_stats().await;
    assert_eq!(sim_errcode_count(&stats, GETTOKEN, "0"), 2, "{stats}");
    assert_eq!(sim_errcode_count(&stats, GETTOKEN, "40001"), 1, "{stats}");
}

#[tokio::test]
async fn forged_and_replayed_posts_change_nothing() {
    let env = start().await;
    let (_, _, template_id) = delegated(&env, json!({})).await;
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let crypt = wecom::MsgCrypt::new(&t.token, &t.encoding_aes_key).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let event = wecom::Event::SuiteTicket {
        suite_id: template_id.clone(),
        ticket: "ticket-one".into(),
        timestamp: now.parse().unwrap(),
    };
    let (body, signature) = crypt.encrypt_to_post_body(&event.to_xml(), &template_id, &template_id, None, &now, "n1");
    let url = format!("{}/connections/deleg/events?msg_signature={signature}&timestamp={now}&nonce=n1", env.base);
    let first = env.http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "success");
    let replay = env.http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::OK, "a retry is acknowledged");
    let forged_url =
        format!("{}/connections/deleg/events?msg_signature={}&timestamp={now}&nonce=n1", env.base, "0".repeat(40));
    let forged = env.http.post(&forged_url).body(body).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert!(c["status"]["suite_ticket_age_seconds"].as_i64().is_some());
}

/// Signs ZhangSan in through the `provider` connection and checks the identity is (corp, open_userid).
async fn provider_sign_in_is_keyed_by_open_userid(env: &Env, client: &Client, http: &reqwest::Client) {
    let seed = wecom_sim::Seed::demo();
    let req = auth_request(client, &["profile"], &[("connection", "provider")]);
    let back = wecom_login(&browser(), &req.url, "ZhangSan").await;
    let code = code_from_redirect(&back, &req, &env.base);
    let tokens = exchange(client, http, code, req.verifier).await;
    use openidconnect::TokenResponse;
    let claims = tokens.id_token().unwrap().claims(&client.id_token_verifier(), &req.nonce).unwrap();
    let (_, user) = env.admin(Method::GET, &format!("/users/{}", claims.subject().as_str()), None).await;
    let identity = &user["identities"][0];
    assert_eq!(identity["upstream"], format!("wecom-open:{}", encrypted(&seed.corps[0].corp_id)));
    assert_eq!(identity["subject"], seed.corps[0].members[0].open_userid.clone().unwrap());
}

#[tokio::test]
async fn provider_login_keys_identities_by_corp_and_open_userid() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let p = &seed.providers[0];
    let s = &p.suites[0];
    env.post(
        "/connections",
        json!({
            "identifier": "provider", "display_name": "Provider", "kind": "wecom_provider",
            "corp_id": p.corp_id, "suite_id": s.suite_id, "suite_secret": s.suite_secret,
            "token": s.token, "encoding_aes_key": s.encoding_aes_key, "provider_secret": p.provider_secret,
        }),
    )
    .await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "provider").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;
    // No ticket yet: the page says so.
    let req = auth_request(&client, &["profile"], &[("connection", "provider")]);
    let page = browser().get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("suite_ticket"));
    let url = format!("{}/connections/provider/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{}/callback_url", s.suite_id), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{}/push_ticket", s.suite_id), json!({})).await;
    provider_sign_in_is_keyed_by_open_userid(&env, &client, &http).await;
}

/// With only the provider secret (no suite), sign-in goes through the provider login: `3rd_qrConnect`
/// hands back an `auth_code`, exchanged with `service/get_login_info` and the provider access token.
#[tokio::test]
async fn provider_login_with_only_the_provider_secret_uses_get_login_info() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let p = &seed.providers[0];
    let (status, refused) = env
        .admin(
            Method::POST,
            "/connections",
            Some(json!({"identifier": "bare", "display_name": "Provider", "kind": "wecom_provider", "corp_id": p.corp_id})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused["message"].as_str().unwrap().contains("provider_secret"), "{refused}");
    env.post(
        "/connections",
        json!({"identifier": "provider", "display_name": "Provider", "kind": "wecom_provider",
               "corp_id": p.corp_id, "provider_secret": p.provider_secret}),
    )
    .await;
    let (client_id, secret) = env.app("web", REDIRECT).await;
    env.associate(&client_id, "provider").await;
    let (client, http) = env.oidc_client(&client_id, secret.as_deref(), REDIRECT).await;

    let req = auth_request(&client, &["profile"], &[("connection", "provider")]);
    let to_wecom = browser().get(&req.url).send().await.unwrap();
    assert!(location(&to_wecom).contains("/wwopen/sso/3rd_qrConnect?appid="), "{}", location(&to_wecom));
    provider_sign_in_is_keyed_by_open_userid(&env, &client, &http).await;
    assert_eq!(env.sim_calls("/cgi-bin/service/get_login_info").await, 1);
    assert_eq!(env.sim_calls("/cgi-bin/service/get_provider_token").await, 1);

    // A second sign-in reuses the cached provider token.
    let req = auth_request(&client, &["profile"], &[("connection", "provider")]);
    code_from_redirect(&wecom_login(&browser(), &req.url, "WangFang").await, &req, &env.base);
    assert_eq!(env.sim_calls("/cgi-bin/service/get_provider_token").await, 1);
}

#[tokio::test]
async fn domain_verification_file_is_served_at_the_root() {
    let env = start().await;
    delegated(&env, json!({"domain_verification": {"filename": "WW_verify_abcDEF123.txt", "content": "abcDEF123"}}))
        .await;
    let response = env.http.get(format!("{}/WW_verify_abcDEF123.txt", env.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "abcDEF123");
    assert_eq!(
        env.http.get(format!("{}/WW_verify_other.txt", env.base)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(env.http.get(format!("{}/secrets.txt", env.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Any kind may carry one (a self-built app's trusted domain needs the same check), and null removes it.
    env.corp_connection(
        "qr",
        "wecom_qrcode",
        json!({"domain_verification": {"filename": "WW_verify_qr1.txt", "content": "qr1"}}),
    )
    .await;
    let response = env.http.get(format!("{}/WW_verify_qr1.txt", env.base)).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "qr1");
    let (status, _) = env.admin(Method::PATCH, "/connections/qr", Some(json!({"domain_verification": null}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.http.get(format!("{}/WW_verify_qr1.txt", env.base)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_ticket_received_by_one_instance_is_used_by_the_other() {
    let a = start_shared().await;
    let (_, _, template_id) = delegated(&a, json!({})).await;
    let db = format!("sqlite://{}", a._dir.path().join("wegate.db").display());
    // One public URL for both, as behind a load balancer (WeCom admits one trusted domain).
    let b = start_on_db(a.sim.clone(), a._dir.clone(), db, |s| s.issuer = a.base.clone()).await;
    // WeCom pushes to instance A ...
    sim_post(
        &a,
        &format!("/_sim/suites/{template_id}/callback_url"),
        json!({"url": format!("{}/connections/deleg/events", a.base)}),
    )
    .await;
    sim_post(&a, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    // ... and the authorization lands on instance B, which needs the ticket to get the suite token.
    sim_post(
        &a,
        &format!("/_sim/suites/{template_id}/callback_url"),
        json!({"url": format!("{}/connections/deleg/events", b.base)}),
    )
    .await;
    let customer = wecom_sim::Seed::demo().corps[1].corp_id.clone();
    sim_post(&a, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": customer})).await;
    wait_for_corp(&b, "deleg", "active").await;
}

/// Without `corp_id` the first corp that authorizes binds the connection: after it cancels, another corp
/// that authorized the same template does not get its sign-in (it used to: "whichever corp is active").
#[tokio::test]
async fn a_delegated_connection_stays_bound_to_its_first_corp() {
    let env = start().await;
    let (client, _, template_id) = delegated(&env, json!({})).await;
    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    let seed = wecom_sim::Seed::demo();
    let (first, other) = (seed.corps[1].corp_id.clone(), seed.corps[0].corp_id.clone());
    sim_post(&env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": first})).await;
    wait_for_corp(&env, "deleg", "active").await;
    // The binding is claimed just after the corp is stored.
    let mut c = Value::Null;
    for _ in 0..100 {
        c = env.admin(Method::GET, "/connections/deleg", None).await.1;
        if !c["status"]["bound_corp_id"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(c["status"]["bound_corp_id"], encrypted(&first), "bound, and shown: {c}");

    sim_post(&env, &format!("/_sim/suites/{template_id}/cancel_auth"), json!({"corp_id": first})).await;
    wait_for_corp(&env, "deleg", "cancelled").await;
    sim_post(&env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": other})).await;
    for _ in 0..100 {
        let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
        if c["status"]["authorized_corps"].as_array().is_some_and(|a| a.len() == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert_eq!(c["status"]["authorized_corps"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(c["status"]["bound_corp_id"], encrypted(&first), "a later corp does not take the connection over");
    let later =
        c["status"]["authorized_corps"].as_array().unwrap().iter().find(|corp| corp["corp_id"] == encrypted(&other));
    assert_eq!(later.map(|corp| corp["status"].clone()), Some(json!("refused")), "not shown as active: {c}");
    // Cancelled, then a change_auth for it (WeCom sends none for a cancelled authorization: whoever holds the
    // Token and key forges one): still not the connection's corp, so refused, not active.
    sim_post(&env, &format!("/_sim/suites/{template_id}/cancel_auth"), json!({"corp_id": other})).await;
    wait_for_status(&env, &encrypted(&other), "cancelled").await;
    let t = &seed.templates[0];
    let crypt = wecom::MsgCrypt::new(&t.token, &t.encoding_aes_key).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let forge = |corp: String, nonce: &'static str| {
        let change = wecom::Event::ChangeAuth {
            suite_id: template_id.clone(),
            auth_corp_id: corp,
            timestamp: now.parse().unwrap(),
        };
        let (body, signature) =
            crypt.encrypt_to_post_body(&change.to_xml(), &template_id, &template_id, None, &now, nonce);
        let url =
            format!("{}/connections/deleg/events?msg_signature={signature}&timestamp={now}&nonce={nonce}", env.base);
        env.http.post(url).body(body).send()
    };
    assert_eq!(forge(encrypted(&other), "n9").await.unwrap().text().await.unwrap(), "success");
    // Nor does one make the bound corp, cancelled, active again.
    assert_eq!(forge(encrypted(&first), "n10").await.unwrap().text().await.unwrap(), "success");
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    let bound =
        c["status"]["authorized_corps"].as_array().unwrap().iter().find(|corp| corp["corp_id"] == encrypted(&first));
    assert_eq!(bound.map(|corp| corp["status"].clone()), Some(json!("cancelled")), "{c}");
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    let later =
        c["status"]["authorized_corps"].as_array().unwrap().iter().find(|corp| corp["corp_id"] == encrypted(&other));
    assert_eq!(later.map(|corp| corp["status"].clone()), Some(json!("cancelled")), "not made active: {c}");

    let req = auth_request(&client, &["profile"], &[("connection", "deleg")]);
    let page = browser().get(&req.url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN, "the bound corp cancelled: sign-in refused");
    assert!(page.text().await.unwrap().contains("not allowed to sign in"));
}

/// Waits until the connection `deleg` shows `corp_id` with `status`.
async fn wait_for_status(env: &Env, corp_id: &str, status: &str) {
    for _ in 0..100 {
        let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
        let corps = c["status"]["authorized_corps"].as_array().cloned().unwrap_or_default();
        if corps.iter().any(|corp| corp["corp_id"] == corp_id && corp["status"] == status) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{corp_id} never reached {status}");
}

/// change_auth: wegate re-reads the authorization (`service/get_auth_info`) with the corp's permanent code.
#[tokio::test]
async fn change_auth_re_reads_the_authorization() {
    let env = start().await;
    let (_, _, template_id) = delegated(&env, json!({})).await;
    let url = format!("{}/connections/deleg/events", env.base);
    sim_post(&env, &format!("/_sim/suites/{template_id}/callback_url"), json!({"url": url})).await;
    sim_post(&env, &format!("/_sim/suites/{template_id}/push_ticket"), json!({})).await;
    let customer = wecom_sim::Seed::demo().corps[1].corp_id.clone();
    let auth = sim_post(&env, &format!("/_sim/suites/{template_id}/authorize"), json!({"corp_id": customer})).await;
    wait_for_corp(&env, "deleg", "active").await;
    assert_eq!(env.sim_calls("/cgi-bin/service/get_auth_info").await, 0);
    sim_post(&env, &format!("/_sim/suites/{template_id}/change_auth"), json!({"corp_id": customer})).await;
    let mut calls = 0;
    for _ in 0..100 {
        calls = env.sim_calls("/cgi-bin/service/get_auth_info").await;
        if calls > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(calls, 1, "re-read once");
    let stats = env.sim_stats().await;
    assert_eq!(stats["calls"]["/cgi-bin/service/get_auth_info"]["errcodes"], json!({"0": 1}), "answered ok: {stats}");
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert_eq!(c["status"]["authorized_corps"][0]["agent_id"], auth["agent_id"], "{c}");
}

/// A corp may authorize the template before the admin entered its secret: the auth code is kept and redeemed
/// when the secret is saved (it used to be logged and lost).
#[tokio::test]
async fn an_authorization_before_the_template_secret_is_completed_when_it_is_saved() {
    let env = start().await;
    let seed = wecom_sim::Seed::demo();
    let t = &seed.templates[0];
    let event_url = token_and_key_only(&env, t).await;
    sim_post(&env, &format!("/_sim/suites/{}/callback_url", t.template_id), json!({"url": event_url})).await;
    sim_post(&env, &format!("/_sim/suites/{}/push_ticket", t.template_id), json!({})).await;
    let customer = seed.corps[1].corp_id.clone();
    let auth = sim_post(&env, &format!("/_sim/suites/{}/authorize", t.template_id), json!({"corp_id": customer})).await;
    assert_eq!(auth["delivered"], true, "{auth}");
    let (_, c) = env.admin(Method::GET, "/connections/deleg", None).await;
    assert_eq!(c["status"]["authorized_corps"], json!([]), "nothing can be fetched without the secret yet");

    let (status, _) = env
        .admin(
            Method::PATCH,
            "/connections/deleg",
            Some(json!({"template_id": t.template_id, "template_secret": t.template_secret})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let c = wait_for_corp(&env, "deleg", "active").await;
    assert_eq!(c["status"]["authorized_corps"][0]["corp_id"], encrypted(&customer));
    assert_eq!(env.sim_calls("/cgi-bin/service/get_permanent_code").await, 1);
}
