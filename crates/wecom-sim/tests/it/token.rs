//! Reference §0 and §1: `gettoken`, token lifetimes and the token errcodes.

use std::time::Duration;

use serde_json::Value;
use wecom_sim::{DEMO_CORP_ID, Seed, SimConfig};

use crate::common::*;

#[tokio::test]
async fn gettoken_returns_a_token_valid_for_7200_seconds() {
    let sim = sim().await;
    let v = sim.gettoken(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["errmsg"], "ok");
    assert_eq!(v["expires_in"], 7200);
    let token = v["access_token"].as_str().unwrap();
    assert!(!token.is_empty() && token.len() <= 512);
}

#[tokio::test]
async fn gettoken_without_corpid_is_41002_and_without_secret_41004() {
    let sim = sim().await;
    let v = sim.get_json("/cgi-bin/gettoken?corpsecret=x").await;
    assert_eq!(v["errcode"], 41002);
    let v = sim.get_json(&format!("/cgi-bin/gettoken?corpid={DEMO_CORP_ID}")).await;
    assert_eq!(v["errcode"], 41004);
    let v = sim.get_json(&format!("/cgi-bin/gettoken?corpid={DEMO_CORP_ID}&corpsecret=")).await;
    assert_eq!(v["errcode"], 41004);
}

#[tokio::test]
async fn gettoken_with_an_unknown_corp_is_40013() {
    let sim = sim().await;
    let v = sim.gettoken("ww0000000000000bad", "whatever").await;
    assert_eq!(v["errcode"], 40013);
}

#[tokio::test]
async fn gettoken_with_a_wrong_secret_is_40001() {
    let sim = sim().await;
    let v = sim.gettoken(DEMO_CORP_ID, "not-the-secret").await;
    assert_eq!(v["errcode"], 40001);
    assert!(v.get("access_token").is_none());
}

#[tokio::test]
async fn error_messages_carry_hint_ip_and_devtool_link() {
    let sim = sim().await;
    let v = sim.gettoken("ww0000000000000bad", "whatever").await;
    let msg = v["errmsg"].as_str().unwrap();
    assert!(msg.starts_with("invalid corpid, hint: ["), "{msg}");
    assert!(msg.contains("from ip: 127.0.0.1"), "{msg}");
    assert!(msg.ends_with("more info at https://open.work.weixin.qq.com/devtool/query?e=40013"), "{msg}");
}

/// path/91039: 有效期内重复获取返回相同结果，过期后获取会返回新的access_token.
#[tokio::test]
async fn gettoken_returns_the_same_token_within_its_lifetime_and_a_new_one_after_expiry() {
    let sim = sim().await;
    let first = sim.gettoken(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await;
    assert_eq!(first["expires_in"], 7200);
    let t1 = first["access_token"].as_str().unwrap().to_owned();
    sim.advance(100).await;
    let again = sim.gettoken(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await;
    assert_eq!(again["errcode"], 0, "{again}");
    assert_eq!(again["access_token"], t1.as_str(), "same token within its lifetime");
    // With the seconds it has left (a wall-clock second may pass between the two calls).
    let left = again["expires_in"].as_i64().unwrap();
    assert!((7099..=7100).contains(&left), "{again}");
    // Another app of the same corp has a token of its own.
    let other = sim.token(DEMO_CORP_ID, &demo_secret(LEGACY_AGENT)).await;
    assert_ne!(other, t1);

    sim.advance(7100).await;
    let path = |t: &str| format!("/cgi-bin/user/get?access_token={t}&userid=ZhangSan");
    assert_eq!(sim.get_json(&path(&t1)).await["errcode"], 42001);
    let fresh = sim.gettoken(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await;
    assert_eq!(fresh["expires_in"], 7200);
    let t2 = fresh["access_token"].as_str().unwrap().to_owned();
    assert_ne!(t2, t1, "a new token after expiry");
    assert_eq!(sim.get_json(&path(&t2)).await["errcode"], 0);
    assert_eq!(sim.get_json(&path(&t1)).await["errcode"], 42001);
}

#[tokio::test]
async fn a_token_expires_after_its_lifetime_with_42001() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    sim.advance(7199).await;
    let path = format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan");
    assert_eq!(sim.get_json(&path).await["errcode"], 0);
    sim.advance(2).await;
    assert_eq!(sim.get_json(&path).await["errcode"], 42001);
}

#[tokio::test]
async fn token_ttl_comes_from_the_config_and_real_time_counts() {
    let sim = sim_with(Seed::demo(), SimConfig { token_ttl_secs: 1, ..test_config() }).await;
    let v: Value = sim.gettoken(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await;
    assert_eq!(v["expires_in"], 1);
    let token = v["access_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan")).await;
    assert_eq!(v["errcode"], 42001);
}

#[tokio::test]
async fn a_missing_token_is_41001_and_an_unknown_one_40014() {
    let sim = sim().await;
    let v = sim.get_json("/cgi-bin/user/get?userid=ZhangSan").await;
    assert_eq!(v["errcode"], 41001);
    let v = sim.get_json("/cgi-bin/auth/getuserinfo?access_token=nope&code=abc").await;
    assert_eq!(v["errcode"], 40014);
}

#[tokio::test]
async fn a_suite_token_is_not_an_access_token() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    let suite_token = suite_token(&sim, &rx, SUITE_ID).await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={suite_token}&userid=ZhangSan")).await;
    assert_eq!(v["errcode"], 40014);
}
