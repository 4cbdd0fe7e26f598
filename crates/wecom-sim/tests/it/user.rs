//! Reference §4 and §3.2: `user/get`, visible scope and the 2022 privacy change.

use serde_json::{Value, json};
use wecom_sim::{CUSTOMER_CORP_ID, DEMO_CORP_ID};

use crate::common::*;

#[tokio::test]
async fn user_get_gives_name_department_position_and_status_but_no_open_userid() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=ZhangSan")).await;
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["userid"], "ZhangSan");
    assert_eq!(v["name"], "张三");
    assert_eq!(v["department"], serde_json::json!([2]));
    assert_eq!(v["position"], "后端工程师");
    assert_eq!(v["status"], 1);
    assert_eq!(v["main_department"], 2);
    // open_userid is for third-party apps only (path/96255): no corp app gets it, legacy or not.
    assert!(v.get("open_userid").is_none(), "{v}");
    let legacy = sim.token(DEMO_CORP_ID, &demo_secret(LEGACY_AGENT)).await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={legacy}&userid=ZhangSan")).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert!(v.get("open_userid").is_none(), "{v}");
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

async fn to_openuserid(sim: &Sim, token: &str, list: Value) -> Value {
    sim.post_json(&format!("/cgi-bin/batch/userid_to_openuserid?access_token={token}"), json!({ "userid_list": list }))
        .await
}

/// path/97062: a delegated app converts plain userids into the encrypted ones it sees everywhere else;
/// unknown userids and members outside the app's visible scope land in `invalid_userid_list`.
#[tokio::test]
async fn userid_to_openuserid_gives_the_userid_getuserinfo_returns_and_lists_invalid_ones() {
    let sim = sim().await;
    let d = delegated_app(&sim, CUSTOMER_CORP_ID).await;
    let code = sim.login_code(&d.corp_id, d.agent_id, "emma").await;
    let emma = sim.getuserinfo(&d.token, &code).await["userid"].as_str().unwrap().to_owned();
    assert_ne!(emma, "emma");

    let v = to_openuserid(&sim, &d.token, json!(["emma", "LiuYang", "nobody"])).await;
    assert_eq!(v["errcode"], 0, "{v}");
    let list = v["open_userid_list"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[0], json!({"userid": "emma", "open_userid": emma}));
    assert_eq!(list[1]["userid"], "LiuYang");
    let liu = list[1]["open_userid"].as_str().unwrap().to_owned();
    assert_ne!(liu, "LiuYang");
    assert_eq!(v["invalid_userid_list"], json!(["nobody"]));
    // The converted id is the one user/get takes.
    let u = sim.get_json(&format!("/cgi-bin/user/get?access_token={}&userid={liu}", d.token)).await;
    assert_eq!(u["errcode"], 0, "{u}");
    assert_eq!(u["userid"], liu.as_str());
    assert_eq!(u["name"], "刘洋");

    // Narrowed to department 2 (信息部): emma (department 1) is out of the visible scope now.
    sim.post_json(
        &format!("/_sim/suites/{TEMPLATE_ID}/change_auth"),
        json!({"corp_id": CUSTOMER_CORP_ID, "visible_departments": [2]}),
    )
    .await;
    let v = to_openuserid(&sim, &d.token, json!(["emma", "ChenJing"])).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["invalid_userid_list"], json!(["emma"]));
    assert_eq!(v["open_userid_list"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["open_userid_list"][0]["userid"], "ChenJing");
}

#[tokio::test]
async fn userid_to_openuserid_is_for_delegated_apps_and_takes_1_to_1000_userids() {
    let sim = sim().await;
    let self_built = sim.demo_token().await;
    assert_eq!(to_openuserid(&sim, &self_built, json!(["alice"])).await["errcode"], 48002);

    let d = delegated_app(&sim, CUSTOMER_CORP_ID).await;
    assert_eq!(to_openuserid(&sim, &d.token, json!([])).await["errcode"], 40058);
    let too_many: Vec<String> = (0..1001).map(|i| format!("user{i}")).collect();
    assert_eq!(to_openuserid(&sim, &d.token, json!(too_many)).await["errcode"], 40058);
    let v = to_openuserid(&sim, &d.token, json!(too_many[..1000])).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert_eq!(v["invalid_userid_list"].as_array().unwrap().len(), 1000);
    let v = sim.post_json(&format!("/cgi-bin/batch/userid_to_openuserid?access_token={}", d.token), json!({})).await;
    assert_eq!(v["errcode"], 40058);
}
