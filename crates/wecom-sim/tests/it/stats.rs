//! `/_sim/stats` and `/_sim/reset`.

use serde_json::json;
use wecom_sim::DEMO_CORP_ID;

use crate::common::*;

#[tokio::test]
async fn stats_list_every_api_path_from_the_start() {
    let sim = sim().await;
    let stats = sim.get_json("/_sim/stats").await;
    for path in [
        "/cgi-bin/gettoken",
        "/cgi-bin/auth/getuserinfo",
        "/cgi-bin/auth/getuserdetail",
        "/cgi-bin/user/get",
        "/cgi-bin/service/get_suite_token",
        "/cgi-bin/service/get_permanent_code",
        "/cgi-bin/service/get_provider_token",
        "/cgi-bin/service/get_login_info",
        "/cgi-bin/service/auth/getuserinfo3rd",
        "/cgi-bin/service/auth/getuserdetail3rd",
        "/cgi-bin/service/corpid_to_opencorpid",
        "/cgi-bin/batch/userid_to_openuserid",
    ] {
        assert_eq!(stats["calls"][path]["total"], 0, "{path}");
    }
}

#[tokio::test]
async fn stats_count_calls_and_errcodes_per_path() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    sim.gettoken(DEMO_CORP_ID, "bad").await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    sim.getuserinfo(&token, &code).await;
    sim.getuserinfo(&token, &code).await;
    sim.post_raw("/_sim/faults", json!({"path": "/cgi-bin/auth/getuserinfo", "kind": "http_500"})).await;
    sim.get(&format!("/cgi-bin/auth/getuserinfo?access_token={token}&code=x")).await;
    let stats = sim.get_json("/_sim/stats").await;
    let gettoken = &stats["calls"]["/cgi-bin/gettoken"];
    assert_eq!(gettoken["total"], 2);
    assert_eq!(gettoken["errcodes"]["0"], 1);
    assert_eq!(gettoken["errcodes"]["40001"], 1);
    let info = &stats["calls"]["/cgi-bin/auth/getuserinfo"];
    assert_eq!(info["total"], 3);
    assert_eq!(info["errcodes"]["0"], 1);
    assert_eq!(info["errcodes"]["40029"], 1);
    assert_eq!(info["errcodes"]["http_500"], 1);
    // Pages and /_sim are not counted.
    assert!(stats["calls"].get("/wwlogin/sso/login").is_none());
    assert!(stats["pushes"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn success_without_errcode_counts_as_0() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 0).await;
    suite_token(&sim, &rx, SUITE_ID).await;
    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["calls"]["/cgi-bin/service/get_suite_token"]["errcodes"]["0"], 1);
}

#[tokio::test]
async fn reset_forgets_tokens_codes_stats_and_faults() {
    let sim = sim().await;
    let token = sim.demo_token().await;
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "alice").await;
    sim.post_raw("/_sim/faults", json!({"path": "/cgi-bin/gettoken", "kind": "http_500"})).await;
    let v = sim.post_json("/_sim/reset", json!({})).await;
    assert_eq!(v["reset"], true);
    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["calls"]["/cgi-bin/gettoken"]["total"], 0);
    assert_eq!(stats["calls"]["/cgi-bin/auth/getuserinfo"]["total"], 0);
    assert_eq!(stats["calls"]["/cgi-bin/gettoken"]["errcodes"], json!({}));
    let fresh = sim.demo_token().await; // no fault left
    assert_eq!(sim.getuserinfo(&fresh, &code).await["errcode"], 40029);
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=bob")).await;
    assert_eq!(v["errcode"], 40014);
}

#[tokio::test]
async fn unknown_cgi_paths_answer_an_errcode() {
    let sim = sim().await;
    let v = sim.get_json("/cgi-bin/message/send").await;
    assert_eq!(v["errcode"], 48002);
}
