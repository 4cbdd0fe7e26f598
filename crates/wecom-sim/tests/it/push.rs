//! Reference §6 and §7.2/§7.4: URL verification and encrypted command pushes, decrypted here
//! with `wecom::crypto` exactly as a provider would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use wecom_sim::{PROVIDER_CORP_ID, Seed, SimConfig};

use crate::common::*;

#[tokio::test]
async fn url_verification_sends_an_echostr_for_the_provider_corp_id() {
    let sim = sim().await;
    let (token, key, _) = suite_keys(TEMPLATE_ID);
    let rx = Receiver::start(&token, &key, 0).await;
    let v = sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/callback_url"), json!({ "url": rx.url })).await;
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["status"], 200);
    let body = v["body"].as_str().unwrap();
    assert_eq!(body.len(), 19);
    assert!(body.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(rx.verification_receive_ids.lock().unwrap().as_slice(), [PROVIDER_CORP_ID.to_owned()]);
    let suites = sim.get_json("/_sim/suites").await;
    let t = suites["items"].as_array().unwrap().iter().find(|s| s["suite_id"] == TEMPLATE_ID).unwrap().clone();
    assert_eq!(t["event_url"], rx.url);
}

#[tokio::test]
async fn a_url_that_does_not_echo_the_plaintext_is_not_verified_nor_saved() {
    let sim = sim().await;
    // A receiver with the wrong key cannot decrypt: it answers "bad signature".
    let rx = Receiver::start("wrongtoken", &"A".repeat(43), 0).await;
    let v = sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/callback_url"), json!({ "url": rx.url })).await;
    assert_eq!(v["verified"], false);
    assert_eq!(v["status"], 200);
    let suites = sim.get_json("/_sim/suites").await;
    assert!(suites["items"][0]["event_url"].is_null());
    // Unreachable URL: not verified, status 0.
    let v = sim
        .post_json(&format!("/_sim/suites/{TEMPLATE_ID}/callback_url"), json!({ "url": "http://127.0.0.1:9/events" }))
        .await;
    assert_eq!(v["verified"], false);
    assert_eq!(v["status"], 0);
}

#[tokio::test]
async fn a_pushed_suite_ticket_is_encrypted_for_the_suite_id() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let v = sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], true);
    assert_eq!(v["attempts"], 1);
    let e = rx.last("suite_ticket").unwrap();
    assert_eq!(e.receive_id, TEMPLATE_ID);
    assert_eq!(e.to_user_name, TEMPLATE_ID);
    assert_eq!(e.agent_id, "");
    assert_eq!(xml_field(&e.message, "SuiteId").unwrap(), TEMPLATE_ID);
    assert_eq!(xml_field(&e.message, "SuiteTicket").unwrap(), v["ticket"].as_str().unwrap());
    assert!(xml_field(&e.message, "TimeStamp").unwrap().parse::<i64>().is_ok());
}

#[tokio::test]
async fn a_failed_push_is_retried() {
    let sim = sim().await;
    let rx = connect(&sim, SUITE_ID, 2).await;
    let v = sim.post_json(&format!("/_sim/suites/{SUITE_ID}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], true, "{v}");
    assert_eq!(v["attempts"], 3);
    assert_eq!(rx.posts(), 3);
    assert_eq!(rx.events().len(), 1);
}

#[tokio::test]
async fn a_push_gives_up_after_push_retries() {
    let sim = sim_with(Seed::demo(), SimConfig { push_retries: 2, ..test_config() }).await;
    let rx = connect(&sim, SUITE_ID, 100).await;
    let v = sim.post_json(&format!("/_sim/suites/{SUITE_ID}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], false);
    assert_eq!(v["attempts"], 3);
    assert_eq!(rx.posts(), 3);
    let stats = sim.get_json("/_sim/stats").await;
    let p = &stats["pushes"][0];
    assert_eq!(p["suite_id"], SUITE_ID);
    assert_eq!(p["info_type"], "suite_ticket");
    assert_eq!(p["attempts"], 3);
    assert_eq!(p["delivered"], false);
}

#[tokio::test]
async fn pushing_without_an_event_url_delivers_nothing() {
    let sim = sim().await;
    let v = sim.post_json(&format!("/_sim/suites/{SUITE_ID}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], false);
    assert_eq!(v["attempts"], 0);
    let resp = sim.post_raw("/_sim/suites/wwnosuch/push_ticket", json!({})).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn the_timer_pushes_tickets_to_suites_with_an_event_url() {
    let (token, key, _) = suite_keys(SUITE_ID);
    let rx = Receiver::start(&token, &key, 0).await;
    let mut seed = Seed::demo();
    seed.providers[0].suites[0].event_url = Some(rx.url.clone());
    let _sim = sim_with(seed, SimConfig { ticket_interval_secs: 1, ..test_config() }).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let tickets: Vec<_> = rx
        .events()
        .into_iter()
        .filter(|e| xml_field(&e.message, "InfoType").as_deref() == Some("suite_ticket"))
        .collect();
    assert!(tickets.len() >= 2, "{tickets:?}");
}

#[tokio::test]
async fn authorization_events_are_pushed() {
    let sim = sim().await;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    let customer = wecom_sim::CUSTOMER_CORP_ID;
    let v = sim
        .post_json(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({"corp_id": customer, "state": "install1"}))
        .await;
    assert_eq!(v["delivered"], true);
    let e = rx.last("create_auth").unwrap();
    assert_eq!(e.receive_id, TEMPLATE_ID);
    assert_eq!(xml_field(&e.message, "AuthCode").unwrap(), v["auth_code"].as_str().unwrap());
    assert_eq!(xml_field(&e.message, "State").as_deref(), Some("install1"));
    // change_auth and cancel_auth name the corp the way the template's apps know it: encrypted.
    let auth_corp_id = auth_corp_id(&sim, TEMPLATE_ID, customer).await;
    assert_ne!(auth_corp_id, customer);

    let v = sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/change_auth"), json!({"corp_id": customer})).await;
    assert_eq!(v["delivered"], true);
    let e = rx.last("change_auth").unwrap();
    assert_eq!(xml_field(&e.message, "AuthCorpId").unwrap(), auth_corp_id);

    let v =
        sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/reset_permanent_code"), json!({"corp_id": customer})).await;
    let e = rx.last("reset_permanent_code").unwrap();
    assert_eq!(xml_field(&e.message, "AuthCode").unwrap(), v["auth_code"].as_str().unwrap());

    let v = sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/cancel_auth"), json!({"corp_id": customer})).await;
    assert_eq!(v["delivered"], true);
    let e = rx.last("cancel_auth").unwrap();
    assert_eq!(xml_field(&e.message, "AuthCorpId").unwrap(), auth_corp_id);

    let resp = sim.post_raw(&format!("/_sim/suites/{TEMPLATE_ID}/cancel_auth"), json!({"corp_id": customer})).await;
    assert_eq!(resp.status(), 404);
    let stats = sim.get_json("/_sim/stats").await;
    let kinds: Vec<_> =
        stats["pushes"].as_array().unwrap().iter().map(|p| p["info_type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["create_auth", "change_auth", "reset_permanent_code", "cancel_auth"]);
}

/// An event URL that answers `success` to every POST, but only after `delay`; counts the POSTs.
async fn slow_receiver(delay: Duration) -> (String, Arc<AtomicU32>) {
    let posts = Arc::new(AtomicU32::new(0));
    let counter = posts.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                "success"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/events"), posts)
}

/// path/90642: the provider must answer within 1000 ms (`push_deadline_ms`); a later `success` is a failed
/// attempt, retried, and the push is not delivered.
#[tokio::test]
async fn a_push_answered_after_the_deadline_is_not_delivered() {
    let config = SimConfig { push_deadline_ms: 150, push_retries: 1, ..test_config() };
    let sim = sim_with(Seed::demo(), config).await;
    let (url, posts) = slow_receiver(Duration::from_millis(600)).await;
    // The receiver does not answer URL verification; `force` saves the URL anyway.
    let v = sim.post_json(&format!("/_sim/suites/{SUITE_ID}/callback_url"), json!({"url": url, "force": true})).await;
    assert_eq!(v["verified"], false, "{v}");
    let v = sim.post_json(&format!("/_sim/suites/{SUITE_ID}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], false, "{v}");
    assert_eq!(v["attempts"], 2, "{v}");
    assert!(v["error"].is_string(), "{v}");
    assert_eq!(posts.load(Ordering::SeqCst), 2);
    let stats = sim.get_json("/_sim/stats").await;
    assert_eq!(stats["pushes"][0]["delivered"], false);
    assert!(stats["pushes"][0]["last_status"].is_null(), "{stats}");

    // The same receiver, within the default deadline (1000 ms): delivered at the first attempt.
    let sim = sim_with(Seed::demo(), test_config()).await;
    let (url, posts) = slow_receiver(Duration::from_millis(300)).await;
    sim.post_json(&format!("/_sim/suites/{SUITE_ID}/callback_url"), json!({"url": url, "force": true})).await;
    let v = sim.post_json(&format!("/_sim/suites/{SUITE_ID}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], true, "{v}");
    assert_eq!(v["attempts"], 1, "{v}");
    assert_eq!(posts.load(Ordering::SeqCst), 1);
}
