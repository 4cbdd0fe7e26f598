//! Reference §7: suite tokens, permanent codes, and the delegated app they create.

use serde_json::{Value, json};
use wecom_sim::{CUSTOMER_CORP_ID, DEMO_CORP_ID};

use crate::common::*;

async fn get_suite_token(sim: &Sim, suite_id: &str, secret: &str, ticket: &str) -> Value {
    sim.post_json(
        "/cgi-bin/service/get_suite_token",
        json!({"suite_id": suite_id, "suite_secret": secret, "suite_ticket": ticket}),
    )
    .await
}

#[tokio::test]
async fn get_suite_token_succeeds_without_errcode() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let ticket = pushed_ticket(&sim, &rx, TEMPLATE_ID).await;
    let (_, _, secret) = suite_keys(TEMPLATE_ID);
    let v = get_suite_token(&sim, TEMPLATE_ID, &secret, &ticket).await;
    assert!(v.get("errcode").is_none(), "{v}");
    assert!(v["suite_access_token"].as_str().unwrap().len() <= 512);
    assert_eq!(v["expires_in"], 7200);
}

#[tokio::test]
async fn get_suite_token_checks_id_secret_and_ticket() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let ticket = pushed_ticket(&sim, &rx, TEMPLATE_ID).await;
    let (_, _, secret) = suite_keys(TEMPLATE_ID);
    assert_eq!(get_suite_token(&sim, "dknosuch", &secret, &ticket).await["errcode"], 40083);
    assert_eq!(get_suite_token(&sim, TEMPLATE_ID, "wrong", &ticket).await["errcode"], 40080);
    assert_eq!(get_suite_token(&sim, TEMPLATE_ID, &secret, "stale").await["errcode"], 40085);
    // A ticket of another suite is not this suite's ticket.
    let rx2 = connect(&sim, SUITE_ID, 0).await;
    let other = pushed_ticket(&sim, &rx2, SUITE_ID).await;
    assert_eq!(get_suite_token(&sim, TEMPLATE_ID, &secret, &other).await["errcode"], 40085);
    let v = sim.post_json("/cgi-bin/service/get_suite_token", json!({"suite_id": TEMPLATE_ID})).await;
    assert_eq!(v["errcode"], 41024);
}

#[tokio::test]
async fn the_latest_and_previous_tickets_are_valid_for_30_minutes() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let (_, _, secret) = suite_keys(TEMPLATE_ID);
    let t1 = pushed_ticket(&sim, &rx, TEMPLATE_ID).await;
    let t2 = pushed_ticket(&sim, &rx, TEMPLATE_ID).await;
    assert!(get_suite_token(&sim, TEMPLATE_ID, &secret, &t1).await["suite_access_token"].is_string());
    let t3 = pushed_ticket(&sim, &rx, TEMPLATE_ID).await;
    assert_eq!(get_suite_token(&sim, TEMPLATE_ID, &secret, &t1).await["errcode"], 40085);
    assert!(get_suite_token(&sim, TEMPLATE_ID, &secret, &t2).await["suite_access_token"].is_string());
    sim.advance(30 * 60).await;
    assert_eq!(get_suite_token(&sim, TEMPLATE_ID, &secret, &t3).await["errcode"], 40085);
}

#[tokio::test]
async fn suite_tokens_expire_with_42009_and_unknown_ones_are_40082() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let path = |t: &str| format!("/cgi-bin/service/get_permanent_code?suite_access_token={t}");
    let v = sim.post_json(&path(&token), json!({"auth_code": "x"})).await;
    assert_eq!(v["errcode"], 40078);
    let v = sim.post_json(&path("bogus"), json!({"auth_code": "x"})).await;
    assert_eq!(v["errcode"], 40082);
    let v = sim.post_json("/cgi-bin/service/get_permanent_code", json!({"auth_code": "x"})).await;
    assert_eq!(v["errcode"], 41022);
    sim.advance(7200).await;
    let v = sim.post_json(&path(&token), json!({"auth_code": "x"})).await;
    assert_eq!(v["errcode"], 42009);
}

async fn authorize(sim: &Sim, corp: &str) -> Value {
    let v =
        sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({"corp_id": corp, "state": "st1"})).await;
    assert!(v["auth_code"].is_string(), "{v}");
    v
}

async fn permanent_code(sim: &Sim, token: &str, auth_code: &str) -> Value {
    sim.post_json(
        &format!("/cgi-bin/service/get_permanent_code?suite_access_token={token}"),
        json!({ "auth_code": auth_code }),
    )
    .await
}

#[tokio::test]
async fn authorizing_a_template_creates_a_delegated_app_usable_like_a_self_built_one() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let auth_code = xml_field(&rx.last("create_auth").unwrap().message, "AuthCode").unwrap();
    assert_eq!(auth_code, auth["auth_code"].as_str().unwrap());

    let v = permanent_code(&sim, &suite_token, &auth_code).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let secret = v["permanent_code"].as_str().unwrap().to_owned();
    // The delegated app knows its corp by the provider's encrypted corp id (document 39442).
    let corp_id = v["auth_corp_info"]["corpid"].as_str().unwrap().to_owned();
    assert_ne!(corp_id, CUSTOMER_CORP_ID);
    assert_eq!(corp_id, auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await);
    assert!(v["auth_corp_info"]["corp_name"].is_string());
    assert!(v["auth_corp_info"]["corp_full_name"].is_string());
    let agent = &v["auth_info"]["agent"][0];
    assert_eq!(agent["is_customized_app"], true);
    assert_eq!(agent["agentid"], auth["agent_id"]);
    assert!(agent["privilege"]["allow_user"].is_array());
    assert!(agent["privilege"]["allow_party"].is_array());
    assert_eq!(v["auth_user_info"]["userid"], demo_open_userid("LiuYang"));
    assert_eq!(v["state"], "st1");
    assert!(v.get("access_token").is_none());

    // gettoken with the encrypted corp id and the permanent code as secret, then a normal CorpApp login
    // (appid = the encrypted corp id); the app names members by their encrypted userid.
    let token = sim.token(&corp_id, &secret).await;
    let agent_id = agent["agentid"].as_i64().unwrap();
    let code = sim.login_code(&corp_id, agent_id, "emma").await;
    let u = sim.getuserinfo(&token, &code).await;
    let emma = demo_open_userid("emma");
    assert_eq!(u["userid"], emma.as_str());
    let u = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid={emma}")).await;
    assert_eq!(u["errcode"], 0, "{u}");
    assert_eq!(u["userid"], emma.as_str());
    assert_eq!(u["name"], "Emma Wang");
    assert!(u.get("mobile").is_none());
}

#[tokio::test]
async fn an_auth_code_is_single_use_and_lives_ten_minutes() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let code = auth["auth_code"].as_str().unwrap();
    assert_eq!(permanent_code(&sim, &token, code).await["errcode"], 0);
    assert_eq!(permanent_code(&sim, &token, code).await["errcode"], 40078);

    let reset = sim
        .post_json(&format!("/_sim/suites/{TEMPLATE_ID}/reset_permanent_code"), json!({"corp_id": CUSTOMER_CORP_ID}))
        .await;
    sim.advance(601).await;
    let token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let v = permanent_code(&sim, &token, reset["auth_code"].as_str().unwrap()).await;
    assert_eq!(v["errcode"], 40078);
}

#[tokio::test]
async fn cancel_auth_stops_the_delegated_app() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let v = permanent_code(&sim, &suite_token, auth["auth_code"].as_str().unwrap()).await;
    let secret = v["permanent_code"].as_str().unwrap().to_owned();
    let corp_id = v["auth_corp_info"]["corpid"].as_str().unwrap().to_owned();
    let token = sim.token(&corp_id, &secret).await;
    let emma = demo_open_userid("emma");
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid={emma}")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let login = format!(
        "/wwlogin/sso/login?login_type=CorpApp&appid={corp_id}&agentid={}&redirect_uri={}",
        auth["agent_id"],
        enc(CALLBACK)
    );
    assert_eq!(sim.get(&login).await.status(), 200);
    sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/cancel_auth"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    assert_eq!(sim.gettoken(&corp_id, &secret).await["errcode"], 48004);
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid={emma}")).await;
    assert_eq!(v["errcode"], 40014);
    // The login page no longer knows the app.
    let resp = sim.get(&login).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("data-error=\"agentid\""));
    // It can be authorized again, as a new app.
    let again = authorize(&sim, CUSTOMER_CORP_ID).await;
    assert_ne!(again["agent_id"], auth["agent_id"]);
}

async fn fetch_permanent_code(sim: &Sim, suite_token: &str, auth_code: &str) -> String {
    let v = permanent_code(sim, suite_token, auth_code).await;
    assert_eq!(v["errcode"], 0, "{v}");
    v["permanent_code"].as_str().unwrap().to_owned()
}

/// Whether `/_sim/suites` shows a fetched permanent code for the template's authorization by `corp`.
async fn has_permanent_code(sim: &Sim, corp: &str) -> bool {
    let v = sim.get_json("/_sim/suites").await;
    let suite = v["items"].as_array().unwrap().iter().find(|s| s["suite_id"] == TEMPLATE_ID).unwrap();
    let auth = suite["authorizations"].as_array().unwrap().iter().find(|a| a["corp_id"] == corp).unwrap();
    auth["has_permanent_code"].as_bool().unwrap()
}

#[tokio::test]
async fn reset_permanent_code_kills_the_old_code_and_its_tokens_at_once() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let agent_id = auth["agent_id"].as_i64().unwrap();
    let old = fetch_permanent_code(&sim, &suite_token, auth["auth_code"].as_str().unwrap()).await;
    let corp_id = auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await;
    let emma = demo_open_userid("emma");
    let old_token = sim.token(&corp_id, &old).await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={old_token}&userid={emma}")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let code = sim.login_code(&corp_id, agent_id, "emma").await;

    let reset = sim
        .post_json(&format!("/_sim/suites/{TEMPLATE_ID}/reset_permanent_code"), json!({"corp_id": CUSTOMER_CORP_ID}))
        .await;
    assert_eq!(reset["delivered"], true);
    // From the reset on, before the new code is even fetched: the old code is no secret any more
    // (gettoken → 40001) and the token it gave is refused (40014), without consuming the code.
    assert!(!has_permanent_code(&sim, CUSTOMER_CORP_ID).await);
    assert_eq!(sim.gettoken(&corp_id, &old).await["errcode"], 40001);
    assert_eq!(sim.getuserinfo(&old_token, &code).await["errcode"], 40014);
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={old_token}&userid={emma}")).await;
    assert_eq!(v["errcode"], 40014);

    // The auth code pushed with reset_permanent_code gives the new code, for the same app.
    let pushed = xml_field(&rx.last("reset_permanent_code").unwrap().message, "AuthCode").unwrap();
    assert_eq!(pushed, reset["auth_code"].as_str().unwrap());
    let v = permanent_code(&sim, &suite_token, &pushed).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["auth_info"]["agent"][0]["agentid"], agent_id);
    let new = v["permanent_code"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(has_permanent_code(&sim, CUSTOMER_CORP_ID).await);
    assert_eq!(v["auth_corp_info"]["corpid"], corp_id.as_str());
    let new_token = sim.token(&corp_id, &new).await;
    assert_ne!(new_token, old_token);
    assert_eq!(sim.getuserinfo(&new_token, &code).await["userid"], emma.as_str());

    // The old code and its token stay dead.
    assert_eq!(sim.gettoken(&corp_id, &old).await["errcode"], 40001);
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={old_token}&userid={emma}")).await;
    assert_eq!(v["errcode"], 40014);
    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["calls"]["/cgi-bin/gettoken"]["errcodes"]["40001"], 2);
}

#[tokio::test]
async fn each_reset_revokes_only_that_app_and_the_console_button_does_too() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    // The demo corp installs the template next to its self-built apps.
    let auth = authorize(&sim, DEMO_CORP_ID).await;
    let first = fetch_permanent_code(&sim, &suite_token, auth["auth_code"].as_str().unwrap()).await;
    // The delegated app knows the demo corp by the encrypted id; the self-built apps by the plain one.
    let corp_id = auth_corp_id(&sim, TEMPLATE_ID, DEMO_CORP_ID).await;
    assert_ne!(corp_id, DEMO_CORP_ID);
    assert_eq!(sim.gettoken(&corp_id, &first).await["errcode"], 0);
    let self_built = sim.demo_token().await;

    // Reset through the console form (the operator's button).
    let resp = sim
        .http
        .post(sim.url("/_sim/console/action"))
        .form(&[("action", "reset_permanent_code"), ("suite_id", TEMPLATE_ID), ("corp_id", DEMO_CORP_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let html = sim.get(resp.headers()["location"].to_str().unwrap()).await.text().await.unwrap();
    assert!(html.contains("old permanent code revoked"), "{html}");
    assert_eq!(sim.gettoken(&corp_id, &first).await["errcode"], 40001);
    // The corp's self-built app, its secret and its token are untouched.
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={self_built}&userid=alice")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(sim.gettoken(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await["errcode"], 0);

    // A second reset revokes the second code in turn; only the latest one works.
    let second_code = xml_field(&rx.last("reset_permanent_code").unwrap().message, "AuthCode").unwrap();
    let second = fetch_permanent_code(&sim, &suite_token, &second_code).await;
    let second_token = sim.token(&corp_id, &second).await;
    let alice = demo_open_userid("alice");
    let user_get = |t: &str| format!("/cgi-bin/user/get?access_token={t}&userid={alice}");
    assert_eq!(sim.get_json(&user_get(&second_token)).await["errcode"], 0);
    let reset = sim
        .post_json(&format!("/_sim/suites/{TEMPLATE_ID}/reset_permanent_code"), json!({"corp_id": DEMO_CORP_ID}))
        .await;
    assert_eq!(sim.gettoken(&corp_id, &second).await["errcode"], 40001);
    assert_eq!(sim.get_json(&user_get(&second_token)).await["errcode"], 40014);
    let third = fetch_permanent_code(&sim, &suite_token, reset["auth_code"].as_str().unwrap()).await;
    for dead in [&first, &second] {
        assert_eq!(sim.gettoken(&corp_id, dead).await["errcode"], 40001);
    }
    assert_eq!(sim.gettoken(&corp_id, &third).await["errcode"], 0);
}

#[tokio::test]
async fn a_second_authorization_while_active_is_a_conflict() {
    let sim = sim().await;
    authorize(&sim, CUSTOMER_CORP_ID).await;
    let resp =
        sim.post_raw(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    assert_eq!(resp.status(), 409);
    let resp = sim.post_raw(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({"corp_id": "wwnope"})).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn change_auth_can_narrow_the_visible_scope() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let v = permanent_code(&sim, &suite_token, auth["auth_code"].as_str().unwrap()).await;
    let secret = v["permanent_code"].as_str().unwrap().to_owned();
    let corp_id = v["auth_corp_info"]["corpid"].as_str().unwrap().to_owned();
    let token = sim.token(&corp_id, &secret).await;
    let user_get = |userid: &str| format!("/cgi-bin/user/get?access_token={token}&userid={}", demo_open_userid(userid));
    assert_eq!(sim.get_json(&user_get("emma")).await["errcode"], 0);
    sim.post_json(
        &format!("/_sim/suites/{TEMPLATE_ID}/change_auth"),
        json!({"corp_id": CUSTOMER_CORP_ID, "visible_departments": [2]}),
    )
    .await;
    // The same token (still within its lifetime) now sees department 2 only.
    assert_eq!(sim.token(&corp_id, &secret).await, token);
    assert_eq!(sim.get_json(&user_get("emma")).await["errcode"], 60011);
    assert_eq!(sim.get_json(&user_get("LiuYang")).await["errcode"], 0);
}

/// `service/get_auth_info` (path/90604): the authorization as it is now, for the corp's current permanent
/// code only; an old one is 40084.
#[tokio::test]
async fn get_auth_info_answers_for_the_current_permanent_code_only() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let code = fetch_permanent_code(&sim, &suite_token, auth["auth_code"].as_str().unwrap()).await;
    let corp_id = auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await;
    let ask = |corp: String, permanent: String| {
        let sim = &sim;
        let suite_token = suite_token.clone();
        async move {
            sim.post_json(
                &format!("/cgi-bin/service/get_auth_info?suite_access_token={suite_token}"),
                json!({"auth_corpid": corp, "permanent_code": permanent}),
            )
            .await
        }
    };
    let v = ask(corp_id.clone(), code.clone()).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["auth_corp_info"]["corpid"], corp_id.as_str());
    assert_eq!(v["auth_info"]["agent"][0]["agentid"], auth["agent_id"]);
    assert!(v.get("permanent_code").is_none(), "no secret in the answer");
    assert_eq!(ask(corp_id.clone(), "not-the-code".into()).await["errcode"], 40084);
    // The template knows the corp by the encrypted id only: the plain one names no corp it knows.
    assert_eq!(ask(CUSTOMER_CORP_ID.into(), code.clone()).await["errcode"], 40013);
}

/// Document 39442 / path/96516: since the 2022 upgrade a delegated app's permanent code names the corp by
/// the provider's encrypted corp id, and `gettoken` takes that id with the permanent code; the plain corp
/// id with the permanent code is no app's credential (40001), an id naming no corp at all 40013.
#[tokio::test]
async fn the_permanent_code_names_the_corp_by_its_encrypted_id_which_gettoken_needs() {
    let sim = sim().await;
    let d = delegated_app(&sim, CUSTOMER_CORP_ID).await;
    assert_ne!(d.corp_id, CUSTOMER_CORP_ID);
    assert!(d.corp_id.starts_with("wp") && d.corp_id.len() == 32, "{}", d.corp_id);
    assert_eq!(d.corp_id, auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await);

    // d.token came from gettoken with the encrypted id; it works.
    let emma = demo_open_userid("emma");
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={}&userid={emma}", d.token)).await;
    assert_eq!(v["errcode"], 0, "{v}");
    // The plain corp id with the permanent code: 40001, and no token.
    let v = sim.gettoken(CUSTOMER_CORP_ID, &d.permanent_code).await;
    assert_eq!(v["errcode"], 40001, "{v}");
    assert!(v.get("access_token").is_none());
    assert_eq!(sim.gettoken(&d.corp_id.to_lowercase(), &d.permanent_code).await["errcode"], 40013);
    assert_eq!(sim.gettoken("wpNoSuchCorpAtAll000000000000000", &d.permanent_code).await["errcode"], 40013);
    assert_eq!(sim.gettoken(&d.corp_id, "not-the-permanent-code").await["errcode"], 40001);
    // The self-built secrets of another corp do not become valid under the encrypted id either.
    assert_eq!(sim.gettoken(&d.corp_id, &demo_secret(DEMO_AGENT)).await["errcode"], 40001);
    // The template's other answers and events use the same id.
    let v = sim
        .post_json(
            &format!("/cgi-bin/service/get_auth_info?suite_access_token={}", d.suite_token),
            json!({"auth_corpid": d.corp_id, "permanent_code": d.permanent_code}),
        )
        .await;
    assert_eq!(v["auth_corp_info"]["corpid"], d.corp_id.as_str(), "{v}");
    sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/change_auth"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    let e = d.rx.last("change_auth").unwrap();
    assert_eq!(xml_field(&e.message, "AuthCorpId").unwrap(), d.corp_id);
}

/// `legacy_ids = true` on the template (an authorization from before 2022-06-28): plain corp id and
/// userids in the permanent code, for gettoken, the login page, getuserinfo, user/get and the events.
#[tokio::test]
async fn a_legacy_ids_template_keeps_plain_ids_everywhere() {
    let mut seed = wecom_sim::Seed::demo();
    seed.templates[0].legacy_ids = true;
    let sim = sim_with(seed, test_config()).await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    let auth = authorize(&sim, CUSTOMER_CORP_ID).await;
    let v = permanent_code(&sim, &suite_token, auth["auth_code"].as_str().unwrap()).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["auth_corp_info"]["corpid"], CUSTOMER_CORP_ID);
    assert_eq!(v["auth_user_info"]["userid"], "LiuYang");
    assert_eq!(auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await, CUSTOMER_CORP_ID);
    let secret = v["permanent_code"].as_str().unwrap().to_owned();

    let token = sim.token(CUSTOMER_CORP_ID, &secret).await;
    let agent_id = auth["agent_id"].as_i64().unwrap();
    let code = sim.login_code(CUSTOMER_CORP_ID, agent_id, "emma").await;
    assert_eq!(sim.getuserinfo(&token, &code).await["userid"], "emma");
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=EMMA")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["userid"], "emma");
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid={}", demo_open_userid("emma"))).await;
    assert_eq!(v["errcode"], 60111);
    let v = sim
        .post_json(
            &format!("/cgi-bin/service/get_auth_info?suite_access_token={suite_token}"),
            json!({"auth_corpid": CUSTOMER_CORP_ID, "permanent_code": secret}),
        )
        .await;
    assert_eq!(v["auth_corp_info"]["corpid"], CUSTOMER_CORP_ID);
    sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/change_auth"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    let e = rx.last("change_auth").unwrap();
    assert_eq!(xml_field(&e.message, "AuthCorpId").unwrap(), CUSTOMER_CORP_ID);
}
