//! Reference §2.3, §2.4, §3, §3.1 and §5: code exchange with `auth/getuserinfo`, user tickets
//! and `auth/getuserdetail`, SDK codes.

use serde_json::json;
use wecom_sim::{CUSTOMER_CORP_ID, DEMO_CORP_ID};

use crate::common::*;

#[tokio::test]
async fn a_member_code_exchanges_to_the_userid() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "ZhangSan").await;
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok", "userid": "ZhangSan"}));
}

#[tokio::test]
async fn a_code_is_single_use() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    assert_eq!(sim.getuserinfo(&token, &code).await["errcode"], 0);
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v["errcode"], 40029);
    assert!(v["errmsg"].as_str().unwrap().starts_with("invalid code"));
}

#[tokio::test]
async fn a_code_expires_after_five_minutes() {
    let sim = sim().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    let fresh = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "bob").await;
    sim.advance(299).await;
    let token = sim.demo_token().await;
    assert_eq!(sim.getuserinfo(&token, &fresh).await["errcode"], 0);
    sim.advance(2).await;
    assert_eq!(sim.getuserinfo(&token, &code).await["errcode"], 40029);
}

#[tokio::test]
async fn a_code_of_another_app_or_corp_is_40029() {
    let sim = sim().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    let legacy = sim.token(DEMO_CORP_ID, &demo_secret(LEGACY_AGENT)).await;
    assert_eq!(sim.getuserinfo(&legacy, &code).await["errcode"], 40029);
    // Not consumed by the failed attempt: the right app still gets it.
    let token = sim.demo_token().await;
    assert_eq!(sim.getuserinfo(&token, &code).await["userid"], "alice");

    let other = sim.post_json("/_sim/codes", json!({"corp_id": CUSTOMER_CORP_ID, "userid": "emma"})).await;
    let v = sim.getuserinfo(&token, other["code"].as_str().unwrap()).await;
    assert_eq!(v["errcode"], 40029);
}

#[tokio::test]
async fn a_missing_code_is_41008_and_an_unknown_one_40029() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/auth/getuserinfo?access_token={token}")).await;
    assert_eq!(v["errcode"], 41008);
    assert_eq!(sim.getuserinfo(&token, "made-up").await["errcode"], 40029);
}

#[tokio::test]
async fn the_token_is_checked_before_the_code() {
    let sim = sim().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    let v = sim.get_json(&format!("/cgi-bin/auth/getuserinfo?code={code}")).await;
    assert_eq!(v["errcode"], 41001);
    let token = sim.demo_token().await;
    sim.advance(7200).await;
    assert_eq!(sim.getuserinfo(&token, &code).await["errcode"], 42001);
}

#[tokio::test]
async fn a_member_outside_the_visible_scope_still_gets_the_userid() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "ZhaoLiu").await;
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v["userid"], "ZhaoLiu");
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhaoLiu")).await;
    assert_eq!(v["errcode"], 60011);
}

#[tokio::test]
async fn a_non_member_gets_an_openid_only() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "stranger").await;
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v["errcode"], 0);
    assert!(v.get("userid").is_none(), "{v}");
    let openid = v["openid"].as_str().unwrap();
    assert!(openid.starts_with('o') && openid.len() <= 64);
    // The same outsider has the same openid in the same corp.
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "stranger").await;
    assert_eq!(sim.getuserinfo(&token, &code).await["openid"], openid);
}

#[tokio::test]
async fn the_outsider_button_yields_an_openid_code() {
    let sim = sim().await;
    let loc = sim
        .redirect_of(&format!(
            "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}&sim_outsider=1",
            enc(CALLBACK)
        ))
        .await;
    let token = sim.demo_token().await;
    let v = sim.getuserinfo(&token, &query(&loc, "code").unwrap()).await;
    assert!(v["openid"].is_string() && v.get("userid").is_none(), "{v}");
}

async fn oauth_code(sim: &Sim, scope: &str, userid: &str) -> String {
    let loc = sim
        .redirect_of(&format!(
            "/connect/oauth2/authorize?appid={DEMO_CORP_ID}&redirect_uri={}&response_type=code&scope={scope}&state=s1&agentid={DEMO_AGENT}&sim_user={userid}",
            enc(CALLBACK)
        ))
        .await;
    assert_eq!(query(&loc, "state").as_deref(), Some("s1"));
    query(&loc, "code").unwrap()
}

#[tokio::test]
async fn privateinfo_gives_a_user_ticket_that_unlocks_mobile_and_email() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = oauth_code(&sim, "snsapi_privateinfo", "WangFang").await;
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v["userid"], "WangFang");
    assert_eq!(v["expires_in"], 1800);
    let ticket = v["user_ticket"].as_str().unwrap();
    let d = sim
        .post_json(&format!("/cgi-bin/auth/getuserdetail?access_token={token}"), json!({ "user_ticket": ticket }))
        .await;
    assert_eq!(d["errcode"], 0, "{d}");
    assert_eq!(d["userid"], "WangFang");
    assert_eq!(d["mobile"], "+86 13900139000");
    assert_eq!(d["email"], "wangfang@demo-tech.example.com");
    assert_eq!(d["gender"], "2");
    for f in ["avatar", "qr_code", "biz_mail", "address"] {
        assert!(d[f].is_string(), "{f}: {d}");
    }
}

#[tokio::test]
async fn snsapi_base_gives_no_user_ticket() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = oauth_code(&sim, "snsapi_base", "WangFang").await;
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok", "userid": "WangFang"}));
}

#[tokio::test]
async fn qr_login_gives_no_user_ticket() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "WangFang").await;
    assert!(sim.getuserinfo(&token, &code).await.get("user_ticket").is_none());
}

#[tokio::test]
async fn an_unknown_user_ticket_is_84015_and_an_expired_one_84014() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let path = format!("/cgi-bin/auth/getuserdetail?access_token={token}");
    let v = sim.post_json(&path, json!({"user_ticket": "nope"})).await;
    assert_eq!(v["errcode"], 84015);
    let code = oauth_code(&sim, "snsapi_privateinfo", "alice").await;
    let ticket = sim.getuserinfo(&token, &code).await["user_ticket"].clone();
    sim.advance(1801).await;
    let token = sim.demo_token().await;
    let v = sim
        .post_json(&format!("/cgi-bin/auth/getuserdetail?access_token={token}"), json!({ "user_ticket": ticket }))
        .await;
    assert_eq!(v["errcode"], 84014);
}

#[tokio::test]
async fn getuserdetail_with_a_non_json_body_is_47001() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v: serde_json::Value = sim
        .http
        .post(sim.url(&format!("/cgi-bin/auth/getuserdetail?access_token={token}")))
        .body("user_ticket=x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 47001);
}

#[tokio::test]
async fn a_code_delivered_outside_the_trusted_domain_is_50001() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim
        .post_json(
            "/_sim/codes",
            json!({
                "corp_id": DEMO_CORP_ID, "agent_id": DEMO_AGENT, "userid": "alice",
                "redirect_uri": "https://evil.example.com/cb"
            }),
        )
        .await;
    let v = sim.getuserinfo(&token, v["code"].as_str().unwrap()).await;
    assert_eq!(v["errcode"], 50001);
}

#[tokio::test]
async fn legacy_user_getuserinfo_uses_capitalised_keys() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "bob").await;
    let v = sim.get_json(&format!("/cgi-bin/user/getuserinfo?access_token={token}&code={code}")).await;
    assert_eq!(v["UserId"], "bob");
    assert!(v.get("userid").is_none());
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "stranger").await;
    let v = sim.get_json(&format!("/cgi-bin/user/getuserinfo?access_token={token}&code={code}")).await;
    assert!(v["OpenId"].is_string());
}

#[tokio::test]
async fn an_sdk_code_exchanges_like_a_login_code() {
    let sim = sim().await;
    let v = sim
        .post_json("/_sim/sdk/code", json!({"corp_id": DEMO_CORP_ID, "agent_id": DEMO_AGENT, "userid": "alice"}))
        .await;
    let code = v["code"].as_str().unwrap();
    let token = sim.demo_token().await;
    assert_eq!(sim.getuserinfo(&token, code).await["userid"], "alice");
    assert_eq!(sim.getuserinfo(&token, code).await["errcode"], 40029);
}

#[tokio::test]
async fn an_sdk_code_for_an_unknown_corp_or_agent_is_a_400() {
    let sim = sim().await;
    let resp =
        sim.post_raw("/_sim/sdk/code", json!({"corp_id": "wwnope", "agent_id": DEMO_AGENT, "userid": "alice"})).await;
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "unknown_corp");
    assert!(v["message"].is_string());
    let resp =
        sim.post_raw("/_sim/sdk/code", json!({"corp_id": DEMO_CORP_ID, "agent_id": 42, "userid": "alice"})).await;
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "unknown_agent");
}

/// Reference §2.3: a member of a linked corp (企业互联 / 上下游) comes back as `CorpId/userid`, with no
/// user_ticket. The demo corp links the sample customer.
#[tokio::test]
async fn a_linked_corps_member_is_named_corpid_slash_userid() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "LiuYang").await;
    let v = sim.getuserinfo(&token, &code).await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok", "userid": format!("{CUSTOMER_CORP_ID}/LiuYang")}));
}

fn swap_case(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }).collect()
}

/// Document 39442: a delegated app gets the provider's encrypted userid from getuserinfo, and user/get takes
/// exactly that id back (密文大小写敏感): the plain userid or a case-changed copy is no member it knows.
#[tokio::test]
async fn a_delegated_app_gets_the_encrypted_userid_and_user_get_takes_exactly_it() {
    let sim = sim().await;
    let d = delegated_app(&sim, CUSTOMER_CORP_ID).await;
    let code = sim.login_code(&d.corp_id, d.agent_id, "emma").await;
    let v = sim.getuserinfo(&d.token, &code).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let emma = v["userid"].as_str().unwrap().to_owned();
    assert!(!emma.eq_ignore_ascii_case("emma"), "{v}");
    assert!(emma.starts_with("wo"), "{v}");
    assert_eq!(emma, demo_open_userid("emma"));

    let user_get = |userid: &str| format!("/cgi-bin/user/get?access_token={}&userid={userid}", d.token);
    let u = sim.get_json(&user_get(&emma)).await;
    assert_eq!(u["errcode"], 0, "{u}");
    assert_eq!(u["userid"], emma.as_str());
    assert_eq!(u["name"], "Emma Wang");
    assert!(u.get("open_userid").is_none(), "{u}");
    assert_eq!(sim.get_json(&user_get(&swap_case(&emma))).await["errcode"], 60111);
    assert_eq!(sim.get_json(&user_get(&emma.to_lowercase())).await["errcode"], 60111);
    assert_eq!(sim.get_json(&user_get("emma")).await["errcode"], 60111);

    // privateinfo: the ticket's getuserdetail names the member the same way.
    let loc = sim
        .redirect_of(&format!(
            "/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope=snsapi_privateinfo&agentid={}&sim_user=emma",
            d.corp_id,
            enc(CALLBACK),
            d.agent_id
        ))
        .await;
    let v = sim.getuserinfo(&d.token, &query(&loc, "code").unwrap()).await;
    assert_eq!(v["userid"], emma.as_str());
    let detail = sim
        .post_json(
            &format!("/cgi-bin/auth/getuserdetail?access_token={}", d.token),
            json!({ "user_ticket": v["user_ticket"] }),
        )
        .await;
    assert_eq!(detail["errcode"], 0, "{detail}");
    assert_eq!(detail["userid"], emma.as_str());

    // A self-built app of a corp keeps the plain userid.
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    assert_eq!(sim.getuserinfo(&token, &code).await["userid"], "alice");
}
