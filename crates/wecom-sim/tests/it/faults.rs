//! `/_sim/faults`: each kind of injected failure, its count, and clearing.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wecom_sim::DEMO_CORP_ID;

use crate::common::*;

const PATH: &str = "/cgi-bin/gettoken";

fn gettoken_path() -> String {
    format!("{PATH}?corpid={DEMO_CORP_ID}&corpsecret={}", demo_secret(DEMO_AGENT))
}

async fn add(sim: &Sim, fault: serde_json::Value) {
    let resp = sim.post_raw("/_sim/faults", fault).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn an_errcode_fault_answers_that_errcode_count_times() {
    let sim = sim().await;
    add(&sim, json!({"path": PATH, "kind": "errcode", "errcode": -1, "count": 2})).await;
    for _ in 0..2 {
        let v = sim.get_json(&gettoken_path()).await;
        assert_eq!(v["errcode"], -1);
        assert!(v["errmsg"].as_str().unwrap().starts_with("system is busy"));
    }
    assert_eq!(sim.get_json(&gettoken_path()).await["errcode"], 0);
}

#[tokio::test]
async fn a_delay_fault_delays_the_normal_answer() {
    let sim = sim().await;
    add(&sim, json!({"path": PATH, "kind": "delay", "delay_ms": 400})).await;
    let start = Instant::now();
    let v = sim.get_json(&gettoken_path()).await;
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert_eq!(v["errcode"], 0);
    let start = Instant::now();
    sim.get_json(&gettoken_path()).await;
    assert!(start.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn an_http_500_fault_answers_500() {
    let sim = sim().await;
    add(&sim, json!({"path": PATH, "kind": "http_500"})).await;
    assert_eq!(sim.get(&gettoken_path()).await.status(), 500);
    assert_eq!(sim.get(&gettoken_path()).await.status(), 200);
}

#[tokio::test]
async fn a_malformed_fault_answers_200_with_a_body_that_is_not_json() {
    let sim = sim().await;
    add(&sim, json!({"path": PATH, "kind": "malformed"})).await;
    let resp = sim.get(&gettoken_path()).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err(), "{body}");
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_without_an_answer() {
    let sim = sim().await;
    add(&sim, json!({"path": PATH, "kind": "drop", "count": 2})).await;
    assert!(sim.http.get(sim.url(&gettoken_path())).send().await.is_err());
    // On the wire: not a single byte comes back.
    let addr = sim.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", gettoken_path());
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
    assert_eq!(sim.get_json(&gettoken_path()).await["errcode"], 0);
}

#[tokio::test]
async fn faults_only_hit_their_path_and_can_be_cleared() {
    let sim = sim().await;
    add(&sim, json!({"path": "/cgi-bin/user/get", "kind": "http_500", "count": 5})).await;
    assert_eq!(sim.get_json(&gettoken_path()).await["errcode"], 0);
    let listed = sim.get_json("/_sim/faults").await;
    assert_eq!(listed["faults"][0]["count"], 5);
    let resp = sim.http.delete(sim.url("/_sim/faults")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let token = sim.demo_token().await;
    let v = sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid=bob")).await;
    assert_eq!(v["errcode"], 0);
}

#[tokio::test]
async fn an_invalid_fault_is_a_400() {
    let sim = sim().await;
    for bad in [
        json!({"path": PATH, "kind": "errcode"}),
        json!({"path": PATH, "kind": "delay"}),
        json!({"path": PATH, "kind": "explode"}),
        json!({"path": "/_sim/stats", "kind": "http_500"}),
        json!({"path": PATH, "kind": "drop", "count": 0}),
    ] {
        let resp = sim.post_raw("/_sim/faults", bad.clone()).await;
        assert_eq!(resp.status(), 400, "{bad}");
    }
}
