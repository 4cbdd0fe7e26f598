//! Reference §4 and §3.2: `user/get`, visible scope and the 2022 privacy change.

use wecom_sim::DEMO_CORP_ID;

use crate::common::*;

#[tokio::test]
async fn user_get_gives_name_department_position_open_userid_and_status() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan")).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["userid"], "ZhangSan");
    assert_eq!(v["name"], "张三");
    assert_eq!(v["department"], serde_json::json!([2]));
    assert_eq!(v["position"], "后端工程师");
    assert_eq!(v["open_userid"], "woH9sQyAZiqIhJ5NdLLyMlyCe1GQtAr6");
    assert_eq!(v["status"], 1);
    assert_eq!(v["main_department"], 2);
}

#[tokio::test]
async fn user_get_omits_private_fields_for_apps_created_after_2022() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan")).await;
    for field in ["mobile", "email", "avatar", "gender", "biz_mail", "qr_code", "address", "thumb_avatar"] {
        assert!(v.get(field).is_none(), "{field} must be absent: {v}");
    }
}

#[tokio::test]
async fn user_get_keeps_private_fields_for_legacy_apps() {
    let sim = sim().await;
    let token = sim.token(DEMO_CORP_ID, &demo_secret(LEGACY_AGENT)).await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan")).await;
    assert_eq!(v["mobile"], "+86 13800138000");
    assert_eq!(v["email"], "zhangsan@demo-tech.example.com");
    assert_eq!(v["gender"], "1");
    assert!(v["avatar"].as_str().unwrap().starts_with("https://"));
}

#[tokio::test]
async fn user_get_outside_the_visible_scope_is_60011() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhaoLiu")).await;
    assert_eq!(v["errcode"], 60011);
    // The legacy app sees everyone.
    let token = sim.token(DEMO_CORP_ID, &demo_secret(LEGACY_AGENT)).await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhaoLiu")).await;
    assert_eq!(v["errcode"], 0);
}

#[tokio::test]
async fn user_get_of_an_unknown_user_is_60111() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=nobody")).await;
    assert_eq!(v["errcode"], 60111);
}

#[tokio::test]
async fn userids_are_compared_case_insensitively() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=zhangsan")).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["userid"], "ZhangSan");
}

#[tokio::test]
async fn user_get_without_userid_is_41009() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}")).await;
    assert_eq!(v["errcode"], 41009);
}
