//! Reference §8: service-provider login — provider token, `getuserinfo3rd`,
//! `getuserdetail3rd`, and the legacy `get_login_info`.

use serde_json::{Value, json};
use wecom_sim::{CUSTOMER_CORP_ID, DEMO_CORP_ID, PROVIDER_CORP_ID, Seed};

use crate::common::*;

fn provider_secret() -> String {
    Seed::demo().providers[0].provider_secret.clone()
}

async fn service_code(sim: &Sim, corp: &str, userid: &str) -> String {
    let loc = sim
        .redirect_of(&format!(
            "/wwlogin/sso/login?login_type=ServiceApp&appid={SUITE_ID}&redirect_uri={}&state=p&sim_user={userid}&sim_corp={corp}",
            enc(CALLBACK)
        ))
        .await;
    query(&loc, "code").unwrap()
}

async fn userinfo3rd(sim: &Sim, token: &str, code: &str) -> Value {
    sim.get_json(&format!("/cgi-bin/service/auth/getuserinfo3rd?suite_access_token={token}&code={code}")).await
}

#[tokio::test]
async fn get_provider_token_succeeds_without_errcode_and_checks_the_secret() {
    let sim = sim().await;
    let v = sim
        .post_json(
            "/cgi-bin/service/get_provider_token",
            json!({"corpid": PROVIDER_CORP_ID, "provider_secret": provider_secret()}),
        )
        .await;
    assert!(v.get("errcode").is_none(), "{v}");
    assert!(v["provider_access_token"].is_string());
    assert_eq!(v["expires_in"], 7200);
    let v = sim
        .post_json(
            "/cgi-bin/service/get_provider_token",
            json!({"corpid": PROVIDER_CORP_ID, "provider_secret": "nope"}),
        )
        .await;
    assert_eq!(v["errcode"], 40001);
    let v = sim
        .post_json("/cgi-bin/service/get_provider_token", json!({"corpid": "wwnope", "provider_secret": "nope"}))
        .await;
    assert_eq!(v["errcode"], 40013);
}

#[tokio::test]
async fn service_app_login_exchanges_to_corpid_userid_and_open_userid() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    let token = suite_token(&sim, &rx, SUITE_ID).await;
    let code = service_code(&sim, DEMO_CORP_ID, "alice").await;
    let v = userinfo3rd(&sim, &token, &code).await;
    assert_eq!(
        v,
        json!({
            "errcode": 0, "errmsg": "ok", "corpid": DEMO_CORP_ID, "userid": "alice",
            "open_userid": "woKssHhWxv0MHy2d9BVGBpYK4oyWDXmv"
        })
    );
    assert_eq!(userinfo3rd(&sim, &token, &code).await["errcode"], 40029);
}

#[tokio::test]
async fn a_corp_without_authorization_relation_gets_a_cipher_userid() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    let token = suite_token(&sim, &rx, SUITE_ID).await;
    let code = service_code(&sim, CUSTOMER_CORP_ID, "emma").await;
    let v = userinfo3rd(&sim, &token, &code).await;
    assert_eq!(v["corpid"], CUSTOMER_CORP_ID);
    assert_ne!(v["userid"], "emma");
    assert_eq!(v["open_userid"], "woW18su9fj8eUgUp2UjunKXEQk9pChub");
    // Once the corp installs the suite, the plain userid comes back.
    sim.post_json(&format!("/_sim/suites/{SUITE_ID}/authorize"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    let code = service_code(&sim, CUSTOMER_CORP_ID, "emma").await;
    assert_eq!(userinfo3rd(&sim, &token, &code).await["userid"], "emma");
}

#[tokio::test]
async fn a_non_member_gets_an_openid_from_getuserinfo3rd() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    let token = suite_token(&sim, &rx, SUITE_ID).await;
    let loc = sim
        .redirect_of(&format!(
            "/wwlogin/sso/login?login_type=ServiceApp&appid={SUITE_ID}&redirect_uri={}&sim_outsider=1",
            enc(CALLBACK)
        ))
        .await;
    let v = userinfo3rd(&sim, &token, &query(&loc, "code").unwrap()).await;
    assert!(v["openid"].is_string());
    assert!(v.get("userid").is_none() && v.get("corpid").is_none());
}

#[tokio::test]
async fn corp_app_codes_are_not_suite_codes() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    let token = suite_token(&sim, &rx, SUITE_ID).await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    assert_eq!(userinfo3rd(&sim, &token, &code).await["errcode"], 40029);
    // And a suite code is not a corp app code.
    let code = service_code(&sim, DEMO_CORP_ID, "alice").await;
    let access = sim.demo_token().await;
    assert_eq!(sim.getuserinfo(&access, &code).await["errcode"], 40029);
}

#[tokio::test]
async fn getuserinfo3rd_is_not_for_delegated_templates() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let token = suite_token(&sim, &rx, TEMPLATE_ID).await;
    assert_eq!(userinfo3rd(&sim, &token, "x").await["errcode"], 48002);
}

#[tokio::test]
async fn third_party_oauth_privateinfo_gives_a_ticket_for_getuserdetail3rd() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    let token = suite_token(&sim, &rx, SUITE_ID).await;
    let loc = sim
        .redirect_of(&format!(
            "/connect/oauth2/authorize?appid={SUITE_ID}&redirect_uri={}&response_type=code&scope=snsapi_privateinfo&state=z&sim_user=bob&sim_corp={DEMO_CORP_ID}",
            enc(CALLBACK)
        ))
        .await;
    let v = userinfo3rd(&sim, &token, &query(&loc, "code").unwrap()).await;
    assert_eq!(v["userid"], "bob");
    assert_eq!(v["expires_in"], 1800);
    let d = sim
        .post_json(
            &format!("/cgi-bin/service/auth/getuserdetail3rd?suite_access_token={token}"),
            json!({"user_ticket": v["user_ticket"]}),
        )
        .await;
    assert_eq!(d["errcode"], 0, "{d}");
    assert_eq!(d["corpid"], DEMO_CORP_ID);
    assert_eq!(d["userid"], "bob");
    assert_eq!(d["name"], "bob");
    assert_eq!(d["gender"], "1");
    assert!(d["avatar"].is_string() && d["qr_code"].is_string());
    assert!(d.get("mobile").is_none() && d.get("email").is_none());
}

#[tokio::test]
async fn legacy_provider_login_gives_login_info() {
    let sim = sim().await;
    let loc = sim
        .redirect_of(&format!(
            "/wwopen/sso/3rd_qrConnect?appid={PROVIDER_CORP_ID}&redirect_uri={}&state=l&usertype=member&sim_user=ZhangSan&sim_corp={DEMO_CORP_ID}",
            enc(CALLBACK)
        ))
        .await;
    let auth_code = query(&loc, "auth_code").unwrap();
    assert_eq!(query(&loc, "state").as_deref(), Some("l"));
    let token = sim
        .post_json(
            "/cgi-bin/service/get_provider_token",
            json!({"corpid": PROVIDER_CORP_ID, "provider_secret": provider_secret()}),
        )
        .await["provider_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/cgi-bin/service/get_login_info?access_token={token}");
    let v = sim.post_json(&path, json!({ "auth_code": auth_code })).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["usertype"], 2);
    assert_eq!(v["user_info"]["userid"], "ZhangSan");
    assert_eq!(v["user_info"]["name"], "张三");
    assert!(v["user_info"]["open_userid"].is_string());
    assert_eq!(v["corp_info"]["corpid"], DEMO_CORP_ID);
    assert!(v["agent"].is_array());
    assert!(v["auth_info"]["department"].is_array());
    let v = sim.post_json(&path, json!({ "auth_code": auth_code })).await;
    assert_eq!(v["errcode"], 40029);
}
