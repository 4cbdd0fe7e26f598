//! The client against the strict simulator: both families' errors, the shared token, the membership answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use dingtalk::{AppCredential, Client, ClientConfig, Error, MemoryTokenStore};
use dingtalk_sim::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CORP_ID, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_CORP_ID, Seed,
    Simulator,
};

async fn sim() -> (String, Simulator) {
    let (addr, sim, _task) = Simulator::spawn(Seed::demo()).await.unwrap();
    (format!("http://{addr}"), sim)
}

fn client(base: &str, store: Arc<MemoryTokenStore>) -> Client {
    let config = ClientConfig {
        api_base: format!("{base}/api"),
        oapi_base: format!("{base}/oapi"),
        timeout: Duration::from_secs(2),
    };
    Client::new(config, store).unwrap()
}

fn acme() -> AppCredential {
    AppCredential {
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_CLIENT_SECRET.into(),
        corp_id: DEMO_CORP_ID.into(),
    }
}

async fn stats(base: &str) -> serde_json::Value {
    reqwest::get(format!("{base}/_sim/stats")).await.unwrap().json().await.unwrap()
}

/// A login page's authCode for `person`, as the browser would bring it back.
async fn auth_code(base: &str, sim: &Simulator, client_id: &str, person: &str) -> String {
    let redirect = "http://127.0.0.1:1/cb";
    sim.set_redirect_uris(client_id, vec![redirect.into()]);
    let url = dingtalk::url::login_url(&format!("{base}/login"), client_id, DEMO_CORP_ID, redirect, "s");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(format!("{url}&sim_person={person}")).send().await.unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(&location).unwrap();
    url.query_pairs().find(|(k, _)| k == "authCode").map(|(_, v)| v.to_string()).expect("authCode")
}

#[tokio::test]
async fn the_login_chain_finds_the_employee_and_refuses_everyone_else() {
    let (base, sim) = sim().await;
    let dt = client(&base, Arc::default());
    let code = auth_code(&base, &sim, DEMO_CLIENT_ID, "p-zhangsan").await;
    let user = dt.user_access_token(&acme(), &code).await.unwrap();
    assert_eq!(user.corp_id.as_deref(), Some(DEMO_CORP_ID));
    let me = dt.me(&user.access_token).await.unwrap();
    let member = dt.user_by_unionid(&acme(), &me.union_id).await.unwrap();
    assert_eq!((member.userid.as_str(), member.contact_type), ("zhangsan", 0));
    let full = dt.get_user(&acme(), &member.userid).await.unwrap();
    assert_eq!(full.name.as_deref(), Some("张三"));

    // The code is single use: the new family's error shape.
    let again = dt.user_access_token(&acme(), &code).await.unwrap_err();
    assert!(again.is_code_invalid(), "{again}");
    assert!(matches!(again, Error::Api { status: 400, .. }), "{again:?}");

    // Someone in no organisation: `me` answers, the organisation does not know them (60121).
    let code = auth_code(&base, &sim, DEMO_CLIENT_ID, "p-loner").await;
    let user = dt.user_access_token(&acme(), &code).await.unwrap();
    let me = dt.me(&user.access_token).await.unwrap();
    let refused = dt.user_by_unionid(&acme(), &me.union_id).await.unwrap_err();
    assert!(refused.is_not_an_employee(), "{refused}");

    // An external contact is found, and says so.
    let code = auth_code(&base, &sim, DEMO_CLIENT_ID, "p-wangwu").await;
    let user = dt.user_access_token(&acme(), &code).await.unwrap();
    let me = dt.me(&user.access_token).await.unwrap();
    assert_eq!(dt.user_by_unionid(&acme(), &me.union_id).await.unwrap().contact_type, 1);
}

#[tokio::test]
async fn two_clients_on_one_store_fetch_the_app_token_once_and_a_revoked_one_is_replaced() {
    let (base, sim) = sim().await;
    let store = Arc::new(MemoryTokenStore::default());
    let (a, b) = (client(&base, store.clone()), client(&base, store));
    let code = sim.mint_auth_code("p-zhangsan", DEMO_CORP_ID).unwrap();
    assert_eq!(a.user_info_by_code(&acme(), &code).await.unwrap().userid, "zhangsan");
    b.get_user(&acme(), "lisi").await.unwrap();
    assert_eq!(stats(&base).await["app_token_fetches"], 1);
    // The 免登 code is single use (40078), and bound to the organisation that issued it.
    assert!(a.user_info_by_code(&acme(), &code).await.unwrap_err().is_code_invalid());
    let other = AppCredential {
        client_id: OTHER_CLIENT_ID.into(),
        client_secret: OTHER_CLIENT_SECRET.into(),
        corp_id: OTHER_CORP_ID.into(),
    };
    let code = sim.mint_auth_code("p-zhangsan", DEMO_CORP_ID).unwrap();
    assert!(a.user_info_by_code(&other, &code).await.unwrap_err().is_code_invalid());
    // Past its lifetime DingTalk refuses the token (42001): the client drops it, fetches once, retries once.
    sim.advance(7300);
    assert_eq!(b.get_user(&acme(), "lisi").await.unwrap().userid, "lisi");
}

#[tokio::test]
async fn each_family_error_is_read_in_its_own_shape() {
    let (base, _sim) = sim().await;
    let dt = client(&base, Arc::default());
    let wrong = AppCredential { client_secret: "nope".into(), ..acme() };
    let e = dt.get_user(&wrong, "zhangsan").await.unwrap_err();
    assert!(matches!(&e, Error::Api { status: 400, code, .. } if code == "invalid.client"), "{e:?}");
    assert!(e.advice().unwrap().en.contains("client_secret"));

    let noperm = AppCredential { client_id: "dingnoperm".into(), client_secret: "noperm-secret".into(), ..acme() };
    let e = dt.get_user(&noperm, "zhangsan").await.unwrap_err();
    assert!(matches!(&e, Error::Oapi { errcode: 88, .. }), "{e:?}");
    assert!(e.advice().unwrap().en.contains("qyapi_get_member"));

    let http = reqwest::Client::new();
    for fault in [
        serde_json::json!({"path": "/oapi/topapi/v2/user/get", "times": 1, "throttle": true}),
        serde_json::json!({"path": "/oapi/topapi/v2/user/get", "times": 1, "html": true}),
        serde_json::json!({"path": "/oapi/topapi/v2/user/get", "times": 1, "errcode": -1}),
    ] {
        http.post(format!("{base}/_sim/faults")).json(&fault).send().await.unwrap();
        let e = dt.get_user(&acme(), "zhangsan").await.unwrap_err();
        assert!(e.is_unavailable(), "{fault}: {e:?}");
    }
    http.post(format!("{base}/_sim/faults"))
        .json(&serde_json::json!({"path": "/oapi/topapi/v2/user/get", "times": 1, "errcode": 60020}))
        .send()
        .await
        .unwrap();
    let e = dt.get_user(&acme(), "zhangsan").await.unwrap_err();
    assert!(e.advice().unwrap().en.contains("IP whitelist"), "{e:?}");
}

/// Another organisation's app paired with this organisation's corp id (the admin's mix-up): its token is asked
/// for this organisation, DingTalk refuses it, and no call answers for the app's own organisation — where
/// p-lisi, a member of both, is `lisi2` and p-zhao is `zhangsan`.
#[tokio::test]
async fn another_organisations_app_with_this_corp_id_gets_no_token_and_no_answer() {
    let (base, sim) = sim().await;
    let dt = client(&base, Arc::default());
    let mixed = AppCredential {
        client_id: OTHER_CLIENT_ID.into(),
        client_secret: OTHER_CLIENT_SECRET.into(),
        corp_id: DEMO_CORP_ID.into(),
    };
    // What that app can redeem: 免登 codes of its own organisation.
    let code = sim.mint_app_code("p-lisi", OTHER_CORP_ID, OTHER_CLIENT_ID).unwrap();
    let other_code = sim.mint_app_code("p-zhao", OTHER_CORP_ID, OTHER_CLIENT_ID).unwrap();
    let failures = [
        dt.app_token(&mixed).await.unwrap_err(),
        dt.user_info_by_code(&mixed, &code).await.unwrap_err(),
        dt.user_info_by_code(&mixed, &other_code).await.unwrap_err(),
        dt.get_user(&mixed, "lisi2").await.unwrap_err(),
        dt.get_user(&mixed, "zhangsan").await.unwrap_err(),
    ];
    for e in &failures {
        assert!(matches!(e, Error::Api { status: 401, code, .. } if code == "unauthorized.client"), "{e:?}");
        assert!(e.is_wrong_organisation() && !e.is_unavailable() && !e.is_code_invalid(), "{e:?}");
        let advice = e.advice().unwrap();
        assert_eq!(advice.audience, dingtalk::Audience::Admin);
        assert!(
            advice.en.contains(
                "does not run in the organisation corp_id — client_id, client_secret and corp_id must be one internal app's"
            ),
            "{}",
            advice.en
        );
    }
    let stats = stats(&base).await;
    assert_eq!(stats["app_token_fetches"], 0, "no token handed out: {stats}");
    assert!(stats["calls"].get("/oapi/topapi/v2/user/getuserinfo").is_none(), "no call made without a token: {stats}");
    let asked = format!("/api/v1.0/oauth2/{DEMO_CORP_ID}/token");
    assert_eq!(stats["calls"][&asked], 5, "asked each time, nothing cached: {stats}");

    // A corp id DingTalk does not know at all: HTTP 500 unknownError — DingTalk's generic failure too, so
    // "unavailable", with advice that names corp_id.
    let unknown = AppCredential { corp_id: "dingnosuchcorp".into(), ..acme() };
    let e = dt.get_user(&unknown, "zhangsan").await.unwrap_err();
    assert!(matches!(&e, Error::Api { status: 500, code, .. } if code == "unknownError"), "{e:?}");
    assert!(!e.is_wrong_organisation() && e.is_unavailable(), "{e:?}");
    assert!(e.advice().unwrap().en.contains("check that corp_id"));

    // The same app with its own organisation's corp id works, and answers for that organisation only.
    let own = AppCredential { corp_id: OTHER_CORP_ID.into(), ..mixed };
    assert_eq!(dt.user_info_by_code(&own, &code).await.unwrap().userid, "lisi2");
}

/// Whatever answers in DingTalk's place with an endless body: refused after 256 KiB, never read whole (no length
/// is announced, so only the count of what arrived stops it).
#[tokio::test]
async fn an_oversized_answer_is_refused_not_read_whole() {
    let base = upstream_http::testing::endless().await.unwrap();
    let error = client(&base, Arc::new(MemoryTokenStore::default())).app_token(&acme()).await.unwrap_err();
    assert!(error.to_string().contains("larger than 256 KiB"), "{error}");
}
