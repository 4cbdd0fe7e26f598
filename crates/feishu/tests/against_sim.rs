//! The client against the strict simulator (written independently from the same brief): both error shapes,
//! tokens shared between two clients, and the simulator's encrypted, signed pushes opened by `event::open`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use feishu::{AppCredential, Client, ClientConfig, Error, Event, MemoryTokenStore, Tenant};
use feishu_sim::{
    CUSTOM_APP_ID, CUSTOM_APP_SECRET, STORE_APP_ID, STORE_ENCRYPT_KEY, STORE_VERIFICATION_TOKEN, Seed, SimConfig,
    Simulator,
};

async fn sim() -> (String, Simulator) {
    let config = SimConfig { ticket_interval_secs: 0, retry_delays_ms: vec![20], duplicate_pushes: false };
    let (addr, sim, _task) = Simulator::spawn(Seed::demo(), config).await.unwrap();
    (format!("http://{addr}"), sim)
}

fn client(base: &str, store: Arc<MemoryTokenStore>) -> Client {
    Client::new(ClientConfig { api_base: format!("{base}/open"), timeout: Duration::from_secs(2) }, store).unwrap()
}

fn custom() -> AppCredential {
    AppCredential { app_id: CUSTOM_APP_ID.into(), app_secret: CUSTOM_APP_SECRET.into() }
}

#[tokio::test]
async fn two_clients_on_one_store_fetch_the_tenant_token_once() {
    let (base, _sim) = sim().await;
    let store = Arc::new(MemoryTokenStore::default());
    let (a, b) = (client(&base, store.clone()), client(&base, store));
    let app = custom();
    let t1 = a.tenant_token(Tenant::Custom(&app)).await.unwrap();
    let t2 = b.tenant_token(Tenant::Custom(&app)).await.unwrap();
    assert_eq!(t1, t2);
    let stats: serde_json::Value = reqwest::get(format!("{base}/_sim/stats")).await.unwrap().json().await.unwrap();
    assert_eq!(stats["tenant_token_fetches"], 1, "{stats}");
    // A contact lookup with it: an open_id of this app's user.
    let user = a.contact_user(Tenant::Custom(&app), &feishu_sim::open_id(CUSTOM_APP_ID, "u-lisi")).await.unwrap();
    assert!(user.is_active());
}

#[tokio::test]
async fn each_error_shape_is_read_as_such() {
    let (base, _sim) = sim().await;
    let fs = client(&base, Arc::default());
    // The v2 token endpoint: HTTP 400 with {code, error}.
    let e = fs.exchange_code(&custom(), "no-such-code", "https://id.example/cb", &"v".repeat(43)).await.unwrap_err();
    assert!(matches!(&e, Error::OAuth { status: 400, .. }), "{e:?}");
    assert!(e.is_code_invalid(), "{e:?}");
    // Every other API: HTTP 200 with code ≠ 0.
    let e = fs.user_info("u-not-a-token").await.unwrap_err();
    assert!(matches!(&e, Error::Api { code: 20005, .. }), "{e:?}");
    let wrong = AppCredential { app_id: CUSTOM_APP_ID.into(), app_secret: "wrong".into() };
    let e = fs.tenant_token(Tenant::Custom(&wrong)).await.unwrap_err();
    assert!(e.advice().unwrap().en.contains("app_secret"), "{e:?}");
}

#[tokio::test]
async fn the_simulators_pushes_open_with_the_crates_crypto() {
    let (_base, sim) = sim().await;
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let receiver = {
        let seen = seen.clone();
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
                let (ts, nonce, sig) =
                    (h("x-lark-request-timestamp"), h("x-lark-request-nonce"), h("x-lark-signature"));
                let signed = match (&ts, &nonce, &sig) {
                    (Some(timestamp), Some(nonce), Some(signature)) => {
                        Some(feishu::event::Signed { timestamp, nonce, signature })
                    }
                    _ => None,
                };
                let event = feishu::event::open(STORE_ENCRYPT_KEY, STORE_VERIFICATION_TOKEN, &body, signed)
                    .unwrap_or_else(|e| panic!("the simulator's push did not open: {e}"));
                seen.lock().unwrap().push(event.clone());
                match event {
                    Event::UrlVerification { challenge } => axum::Json(serde_json::json!({"challenge": challenge})),
                    _ => axum::Json(serde_json::json!({})),
                }
            }
        }
    };
    let app = axum::Router::new().route("/events", axum::routing::post(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sim.set_event_url(STORE_APP_ID, &url).await.unwrap();
    let ticket = sim.push_app_ticket(STORE_APP_ID).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(matches!(seen.first(), Some(Event::UrlVerification { .. })), "{seen:?}");
    assert!(
        matches!(seen.last(), Some(Event::AppTicket { app_id, ticket: t, .. }) if app_id == STORE_APP_ID && *t == ticket),
        "{seen:?}"
    );
}

/// An upstream (or whatever answers in its place) that streams an endless answer: refused after 256 KiB,
/// never read into memory whole. No length is announced, so only the count of what arrived stops it.
#[tokio::test]
async fn an_oversized_answer_is_refused_not_read_whole() {
    let base = upstream_http::testing::endless().await.unwrap();
    // `client` adds the simulator's `/open` prefix: the stand-in answers every path.
    let c = client(&base, Arc::new(MemoryTokenStore::default()));
    let error = c.tenant_token(Tenant::Custom(&custom())).await.unwrap_err();
    assert!(error.to_string().contains("larger than 256 KiB"), "{error}");
}
