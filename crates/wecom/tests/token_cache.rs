//! The token cache's rules, against a small local HTTP server that counts calls: single-flight on a cold
//! cache, one forced refresh and one retry on a token errcode (never a loop), sharing across clients
//! through one store, and the error mapping of the client.

// Test code: a failed step is a failed test, so helpers unwrap and panic with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use wecom::{Client, ClientConfig, CorpApp, Error, MemoryTokenStore};

#[derive(Default)]
struct Counters {
    gettoken: AtomicU64,
    userinfo: AtomicU64,
    /// How many of the next getuserinfo calls answer a token error.
    token_errors: AtomicU64,
}

async fn gettoken(State(c): State<Arc<Counters>>, Query(q): Query<Vec<(String, String)>>) -> axum::Json<Value> {
    let n = c.gettoken.fetch_add(1, Ordering::SeqCst) + 1;
    // A little latency so concurrent callers really overlap.
    tokio::time::sleep(Duration::from_millis(50)).await;
    if q.iter().any(|(k, v)| k == "corpsecret" && v == "wrong") {
        return axum::Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    axum::Json(json!({"errcode": 0, "errmsg": "ok", "access_token": format!("token-{n}"), "expires_in": 7200}))
}

async fn getuserinfo(State(c): State<Arc<Counters>>, Query(q): Query<Vec<(String, String)>>) -> axum::Json<Value> {
    c.userinfo.fetch_add(1, Ordering::SeqCst);
    let pending = c.token_errors.load(Ordering::SeqCst);
    if pending > 0 {
        c.token_errors.fetch_sub(1, Ordering::SeqCst);
        return axum::Json(json!({"errcode": 42001, "errmsg": "access_token expired"}));
    }
    let token = q.iter().find(|(k, _)| k == "access_token").map(|(_, v)| v.clone()).unwrap_or_default();
    axum::Json(json!({"errcode": 0, "errmsg": "ok", "userid": format!("user-with-{token}"), "unknown_field": 1}))
}

async fn server() -> (String, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let app = Router::new()
        .route("/cgi-bin/gettoken", get(gettoken))
        .route("/cgi-bin/auth/getuserinfo", get(getuserinfo))
        .route("/cgi-bin/user/get", get(|| async { "this is not json" }))
        .route("/cgi-bin/auth/getuserdetail", axum::routing::post(|| async { axum::http::StatusCode::BAD_GATEWAY }))
        .with_state(counters.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), counters)
}

fn client(base: &str, store: Arc<MemoryTokenStore>) -> Client {
    Client::new(ClientConfig { api_base: base.to_string(), timeout: Duration::from_secs(2) }, store).unwrap()
}

fn app() -> CorpApp {
    CorpApp { corp_id: "ww1".into(), secret: "s3cret".into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_calls_on_a_cold_cache_make_one_gettoken() {
    let (base, counters) = server().await;
    let client = client(&base, Arc::new(MemoryTokenStore::default()));
    let calls = (0..100).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.get_user_info(&app(), &format!("code-{i}")).await })
    });
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.unwrap().unwrap().userid.as_deref(), Some("user-with-token-1"));
    }
    assert_eq!(counters.gettoken.load(Ordering::SeqCst), 1);
    assert_eq!(counters.userinfo.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn two_clients_sharing_a_store_fetch_one_token() {
    let (base, counters) = server().await;
    let store = Arc::new(MemoryTokenStore::default());
    let (a, b) = (client(&base, store.clone()), client(&base, store));
    let corp = app();
    let (x, y) = tokio::join!(a.access_token(&corp), b.access_token(&corp));
    assert_eq!(x.unwrap(), y.unwrap());
    assert_eq!(counters.gettoken.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_errcode_refreshes_once_and_retries_once() {
    let (base, counters) = server().await;
    let client = client(&base, Arc::new(MemoryTokenStore::default()));
    client.access_token(&app()).await.unwrap();
    counters.token_errors.store(1, Ordering::SeqCst);
    let info = client.get_user_info(&app(), "c").await.unwrap();
    assert_eq!(info.userid.as_deref(), Some("user-with-token-2"), "the retry used the new token");
    assert_eq!(counters.gettoken.load(Ordering::SeqCst), 2);
    assert_eq!(counters.userinfo.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_second_token_errcode_is_returned_never_looped() {
    let (base, counters) = server().await;
    let client = client(&base, Arc::new(MemoryTokenStore::default()));
    counters.token_errors.store(10, Ordering::SeqCst);
    let err = client.get_user_info(&app(), "c").await.unwrap_err();
    assert_eq!(err.errcode(), Some(42001));
    assert_eq!(counters.gettoken.load(Ordering::SeqCst), 2, "the first token and one forced refresh");
    assert_eq!(counters.userinfo.load(Ordering::SeqCst), 2, "one call and one retry");
}

#[tokio::test]
async fn errors_are_typed() {
    let (base, _) = server().await;
    let c = client(&base, Arc::new(MemoryTokenStore::default()));
    let bad = CorpApp { corp_id: "ww1".into(), secret: "wrong".into() };
    let err = c.get_user_info(&bad, "c").await.unwrap_err();
    assert!(matches!(err, Error::Api { errcode: 40001, .. }), "{err:?}");
    assert!(err.explanation().unwrap().en.contains("Secret"));
    assert!(matches!(c.get_user(&app(), "u").await.unwrap_err(), Error::Decode { .. }));
    assert!(matches!(c.get_user_detail(&app(), "t").await.unwrap_err(), Error::Http { .. }));
    let nowhere = client("http://127.0.0.1:9", Arc::new(MemoryTokenStore::default()));
    assert!(matches!(nowhere.access_token(&app()).await.unwrap_err(), Error::Http { .. }));
    assert!(!format!("{:?}", app()).contains("s3cret"), "Debug redacts the secret");
}

/// Whatever answers in WeCom's place with an endless body: refused after 4 MiB, never read whole (no length
/// is announced, so only the count of what arrived stops it).
#[tokio::test]
async fn an_oversized_answer_is_refused_not_read_whole() {
    let base = upstream_http::testing::endless().await.unwrap();
    let config = ClientConfig { api_base: base, timeout: Duration::from_secs(5) };
    let client = Client::new(config, Arc::new(MemoryTokenStore::default())).unwrap();
    let error = client.access_token(&app()).await.unwrap_err();
    assert!(error.to_string().contains("larger than 4096 KiB"), "{error}");
}
