//! The operator console `/_sim/`.

use crate::common::*;

#[tokio::test]
async fn the_console_lists_the_seed() {
    let sim = sim().await;
    let resp = sim.get("/_sim/").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    for s in ["WeCom Simulator", "wwdemo0000000001", "张三", TEMPLATE_ID, SUITE_ID, "1000002"] {
        assert!(html.contains(s), "{s}");
    }
    let resp = sim.get("/").await;
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn console_forms_act_and_report_back() {
    let sim = sim().await;
    let resp = sim
        .http
        .post(sim.url("/_sim/console/action"))
        .form(&[("action", "authorize"), ("suite_id", TEMPLATE_ID), ("corp_id", wecom_sim::CUSTOMER_CORP_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with("/_sim/?msg="));
    let html = sim.get(&loc).await.text().await.unwrap();
    assert!(html.contains("authorized"), "{html}");
    assert!(html.contains("permanent code not fetched"));
    let resp = sim
        .http
        .post(sim.url("/_sim/console/action"))
        .form(&[("action", "push_ticket"), ("suite_id", TEMPLATE_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
}
