//! Reference §8: service-provider login — provider token, `getuserinfo3rd`,
//! `getuserdetail3rd`, and the legacy `get_login_info`.

use serde_json::{Value, json};
use wecom_sim::{CUSTOMER_CORP_ID, DEMO_CORP_ID, PROVIDER_CORP_ID, Provider, Seed, Suite};

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
    // The demo corp installed the suite: the provider's encrypted corp id and userid (= open_userid).
    let corp_id = auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await;
    assert_ne!(corp_id, DEMO_CORP_ID);
    assert_eq!(
        v,
        json!({
            "errcode": 0, "errmsg": "ok", "corpid": corp_id, "userid": "woKssHhWxv0MHy2d9BVGBpYK4oyWDXmv",
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
    let open_userid = "woW18su9fj8eUgUp2UjunKXEQk9pChub";
    assert_eq!(v["errcode"], 0, "{v}");
    let cipher = v["userid"].as_str().unwrap().to_owned();
    assert_ne!(cipher, "emma");
    assert_ne!(cipher, open_userid);
    assert_eq!(v["open_userid"], open_userid);
    let corpid = v["corpid"].as_str().unwrap().to_owned();
    assert_ne!(corpid, CUSTOMER_CORP_ID);
    // Once the corp installs the suite, the userid is the encrypted one (= open_userid), and the corp id is
    // the one the authorization names.
    sim.post_json(&format!("/_sim/suites/{SUITE_ID}/authorize"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    assert_eq!(auth_corp_id(&sim, SUITE_ID, CUSTOMER_CORP_ID).await, corpid);
    let code = service_code(&sim, CUSTOMER_CORP_ID, "emma").await;
    let v = userinfo3rd(&sim, &token, &code).await;
    assert_eq!(v["userid"], open_userid);
    assert_eq!(v["corpid"], corpid.as_str());
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
    let bob = demo_open_userid("bob");
    assert_eq!(v["userid"], bob.as_str());
    assert_eq!(v["expires_in"], 1800);
    let d = sim
        .post_json(
            &format!("/cgi-bin/service/auth/getuserdetail3rd?suite_access_token={token}"),
            json!({"user_ticket": v["user_ticket"]}),
        )
        .await;
    assert_eq!(d["errcode"], 0, "{d}");
    assert_eq!(d["corpid"], auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await);
    assert_eq!(d["userid"], bob.as_str());
    assert_eq!(d["name"], bob.as_str());
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
    // The provider sees its encrypted ids: userid = open_userid, corpid = its suite's auth_corp_id.
    assert_eq!(v["user_info"]["userid"], demo_open_userid("ZhangSan"));
    assert_eq!(v["user_info"]["open_userid"], demo_open_userid("ZhangSan"));
    assert_eq!(v["user_info"]["name"], "张三");
    assert_eq!(v["corp_info"]["corpid"], auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await);
    assert!(v["agent"].is_array());
    assert!(v["auth_info"]["department"].is_array());
    let v = sim.post_json(&path, json!({ "auth_code": auth_code })).await;
    assert_eq!(v["errcode"], 40029);
}

async fn open_corpid(sim: &Sim, provider_token: &str, corpid: &str) -> Value {
    sim.post_json(
        &format!("/cgi-bin/service/corpid_to_opencorpid?provider_access_token={provider_token}"),
        json!({ "corpid": corpid }),
    )
    .await
}

/// path/95604: a plain corp id to the provider's encrypted one, for corps that authorized one of its apps.
#[tokio::test]
async fn corpid_to_opencorpid_gives_the_auth_corp_id_of_authorized_corps_only() {
    let sim = sim().await;
    let token = provider_token(&sim, PROVIDER_CORP_ID, &provider_secret()).await;
    // The demo corp installed the provider's suite (seed).
    let v = open_corpid(&sim, &token, DEMO_CORP_ID).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["open_corpid"], auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await);
    assert_ne!(v["open_corpid"], DEMO_CORP_ID);
    // The customer has not installed anything of the provider yet: 48002, until it authorizes the template.
    assert_eq!(open_corpid(&sim, &token, CUSTOMER_CORP_ID).await["errcode"], 48002);
    sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({"corp_id": CUSTOMER_CORP_ID})).await;
    let v = open_corpid(&sim, &token, CUSTOMER_CORP_ID).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["open_corpid"], auth_corp_id(&sim, TEMPLATE_ID, CUSTOMER_CORP_ID).await);
    // Unknown corp; missing or foreign token.
    assert_eq!(open_corpid(&sim, &token, "wwnosuchcorp0001").await["errcode"], 40013);
    assert_eq!(open_corpid(&sim, "bogus", DEMO_CORP_ID).await["errcode"], 40014);
    let access = sim.demo_token().await;
    assert_eq!(open_corpid(&sim, &access, DEMO_CORP_ID).await["errcode"], 40014);
}

const OTHER_PROVIDER: &str = "wwotherprovider1";
const OTHER_SUITE: &str = "wwothersuite0001";
const OTHER_SECRET: &str = "other-provider-secret";

/// The demo seed plus a second provider whose suite the demo corp installed; no seed open_userid, so
/// each provider gets its own derived ones.
fn two_provider_seed() -> Seed {
    let mut seed = Seed::demo();
    for m in seed.corps.iter_mut().flat_map(|c| c.members.iter_mut()) {
        m.open_userid = None;
    }
    let demo_suite = seed.providers[0].suites[0].clone();
    seed.providers.push(Provider {
        corp_id: OTHER_PROVIDER.to_owned(),
        provider_secret: OTHER_SECRET.to_owned(),
        name: Some("Other Provider".to_owned()),
        login_trusted_domain: None,
        suites: vec![Suite {
            suite_id: OTHER_SUITE.to_owned(),
            name: "Other login".to_owned(),
            authorized_corps: vec![DEMO_CORP_ID.to_owned()],
            ..demo_suite
        }],
        legacy_ids: false,
    });
    seed.validate().unwrap();
    seed
}

async fn login_info(sim: &Sim, provider: &str, secret: &str, userid: &str) -> Value {
    let loc = sim
        .redirect_of(&format!(
            "/wwopen/sso/3rd_qrConnect?appid={provider}&redirect_uri={}&sim_user={userid}&sim_corp={DEMO_CORP_ID}",
            enc(CALLBACK)
        ))
        .await;
    let token = provider_token(sim, provider, secret).await;
    let v = sim
        .post_json(
            &format!("/cgi-bin/service/get_login_info?access_token={token}"),
            json!({ "auth_code": query(&loc, "auth_code").unwrap() }),
        )
        .await;
    assert_eq!(v["errcode"], 0, "{v}");
    v
}

/// path/96516 §1.1, §2.1: the encrypted ids are per provider: the same for all of one provider's apps,
/// different for another provider.
#[tokio::test]
async fn different_providers_see_different_encrypted_ids_for_the_same_corp() {
    let sim = sim_with(two_provider_seed(), test_config()).await;
    let ours = auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await;
    let theirs = auth_corp_id(&sim, OTHER_SUITE, DEMO_CORP_ID).await;
    assert_ne!(ours, theirs);
    for id in [&ours, &theirs] {
        assert!(id.starts_with("wp") && id.as_str() != DEMO_CORP_ID, "{id}");
    }
    // One provider's template sees the corp as its suite does.
    sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({"corp_id": DEMO_CORP_ID})).await;
    assert_eq!(auth_corp_id(&sim, TEMPLATE_ID, DEMO_CORP_ID).await, ours);

    let our_token = provider_token(&sim, PROVIDER_CORP_ID, &provider_secret()).await;
    let their_token = provider_token(&sim, OTHER_PROVIDER, OTHER_SECRET).await;
    assert_eq!(open_corpid(&sim, &our_token, DEMO_CORP_ID).await["open_corpid"], ours.as_str());
    assert_eq!(open_corpid(&sim, &their_token, DEMO_CORP_ID).await["open_corpid"], theirs.as_str());

    // The provider logins name the same member and corp differently.
    let a = login_info(&sim, PROVIDER_CORP_ID, &provider_secret(), "ZhangSan").await;
    let b = login_info(&sim, OTHER_PROVIDER, OTHER_SECRET, "ZhangSan").await;
    assert_eq!(a["corp_info"]["corpid"], ours.as_str());
    assert_eq!(b["corp_info"]["corpid"], theirs.as_str());
    let (ua, ub) = (a["user_info"]["userid"].as_str().unwrap(), b["user_info"]["userid"].as_str().unwrap());
    assert_ne!(ua, ub);
    for u in [ua, ub] {
        assert!(u.starts_with("wo") && !u.eq_ignore_ascii_case("ZhangSan"), "{u}");
    }
    assert_eq!(a["user_info"]["open_userid"], ua);
    assert_eq!(b["user_info"]["open_userid"], ub);
}

/// `legacy_ids = true` on a provider: its suites and login keep the plain ids.
#[tokio::test]
async fn a_legacy_ids_provider_sees_plain_ids() {
    let mut seed = Seed::demo();
    seed.providers[0].legacy_ids = true;
    let sim = sim_with(seed, test_config()).await;
    assert_eq!(auth_corp_id(&sim, SUITE_ID, DEMO_CORP_ID).await, DEMO_CORP_ID);
    let v = login_info(&sim, PROVIDER_CORP_ID, &provider_secret(), "ZhangSan").await;
    assert_eq!(v["corp_info"]["corpid"], DEMO_CORP_ID);
    assert_eq!(v["user_info"]["userid"], "ZhangSan");
    assert_eq!(v["user_info"]["open_userid"], demo_open_userid("ZhangSan"));
    let rx = connect(&sim, SUITE_ID, 0).await;
    let token = suite_token(&sim, &rx, SUITE_ID).await;
    let v = userinfo3rd(&sim, &token, &service_code(&sim, DEMO_CORP_ID, "alice").await).await;
    assert_eq!(v["corpid"], DEMO_CORP_ID);
    assert_eq!(v["userid"], "alice");
}
