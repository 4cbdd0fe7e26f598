//! Shared fixtures: a simulator on 127.0.0.1:0, a client that does not follow redirects,
//! shortcuts for the common flows, and a callback receiver that decrypts with `wecom::crypto`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;
use wecom::crypto::MsgCrypt;
use wecom_sim::{DEMO_CORP_ID, Seed, SimConfig, Simulator};

pub const DEMO_AGENT: i64 = 1000002;
pub const LEGACY_AGENT: i64 = 1000003;
pub const TEMPLATE_ID: &str = "dkdemo0000000001";
pub const SUITE_ID: &str = "wwdemosuite00001";
pub const CALLBACK: &str = "http://127.0.0.1:8080/connections/demo/callback";

pub fn test_config() -> SimConfig {
    SimConfig { ticket_interval_secs: 0, push_retry_delay_ms: 20, ..SimConfig::default() }
}

pub fn demo_secret(agent: i64) -> String {
    Seed::demo().corps[0].apps.iter().find(|a| a.agent_id == agent).map(|a| a.secret.clone()).unwrap()
}

pub struct Sim {
    pub base: String,
    pub http: reqwest::Client,
    _task: tokio::task::JoinHandle<()>,
}

pub async fn sim() -> Sim {
    sim_with(Seed::demo(), test_config()).await
}

pub async fn sim_with(seed: Seed, config: SimConfig) -> Sim {
    let (addr, task) = Simulator::spawn(seed, config).await.unwrap();
    Sim {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        _task: task,
    }
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Value {
        self.http.post(self.url(path)).json(&body).send().await.unwrap().json().await.unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(path)).json(&body).send().await.unwrap()
    }

    pub async fn gettoken(&self, corp: &str, secret: &str) -> Value {
        self.get_json(&format!("/cgi-bin/gettoken?corpid={corp}&corpsecret={secret}")).await
    }

    pub async fn token(&self, corp: &str, secret: &str) -> String {
        let v = self.gettoken(corp, secret).await;
        assert_eq!(v["errcode"], 0, "{v}");
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn demo_token(&self) -> String {
        self.token(DEMO_CORP_ID, &demo_secret(DEMO_AGENT)).await
    }

    /// Follows a page to its 302 and returns the Location.
    pub async fn redirect_of(&self, path_and_query: &str) -> Url {
        let resp = self.get(path_and_query).await;
        assert_eq!(resp.status(), 302, "expected a redirect from {path_and_query}");
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        Url::parse(&loc).unwrap()
    }

    /// A PC-login code for `userid` through the demo app (the page's sim_user shortcut).
    pub async fn login_code(&self, corp: &str, agent: i64, userid: &str) -> String {
        let loc = self
            .redirect_of(&format!(
                "/wwlogin/sso/login?login_type=CorpApp&appid={corp}&agentid={agent}&redirect_uri={}&state=xyz&sim_user={userid}",
                enc(CALLBACK)
            ))
            .await;
        query(&loc, "code").unwrap()
    }

    pub async fn getuserinfo(&self, token: &str, code: &str) -> Value {
        self.get_json(&format!("/cgi-bin/auth/getuserinfo?access_token={token}&code={}", enc(code))).await
    }

    pub async fn advance(&self, secs: i64) {
        let v = self.post_json("/_sim/clock", json!({ "advance_secs": secs })).await;
        assert!(v["now"].is_i64());
    }
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// Text of `<name>` in a WeCom XML packet, with or without CDATA.
pub fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let inner = &xml[start..end];
    let inner = inner.strip_prefix("<![CDATA[").and_then(|s| s.strip_suffix("]]>")).unwrap_or(inner);
    Some(inner.to_owned())
}

/// One decrypted event received by [`Receiver`].
#[derive(Debug, Clone)]
pub struct Received {
    pub message: String,
    pub receive_id: String,
    pub to_user_name: String,
    pub agent_id: String,
}

#[derive(Clone)]
struct ReceiverState {
    crypt: Arc<MsgCrypt>,
    token_ok: bool,
    events: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<Mutex<u32>>,
    posts: Arc<Mutex<u32>>,
}

/// A provider's callback endpoint: answers WeCom's URL verification with the decrypted echostr
/// and each valid POST with `success` (after `fail_first` failures with HTTP 500).
pub struct Receiver {
    pub url: String,
    events: Arc<Mutex<Vec<Received>>>,
    posts: Arc<Mutex<u32>>,
    pub verification_receive_ids: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub async fn start(token: &str, key: &str, fail_first: u32) -> Receiver {
        let crypt = Arc::new(MsgCrypt::new(token, key).unwrap());
        let events = Arc::new(Mutex::new(Vec::new()));
        let posts = Arc::new(Mutex::new(0));
        let ids = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            crypt,
            token_ok: true,
            events: events.clone(),
            failures_left: Arc::new(Mutex::new(fail_first)),
            posts: posts.clone(),
        };
        let ids2 = ids.clone();
        let app = Router::new()
            .route(
                "/events",
                get(move |State(s): State<ReceiverState>, RawQuery(q): RawQuery| {
                    let ids = ids2.clone();
                    async move {
                        let q = Url::parse(&format!("http://x/?{}", q.unwrap_or_default())).unwrap();
                        let sig = query(&q, "msg_signature").unwrap();
                        let ts = query(&q, "timestamp").unwrap();
                        let nonce = query(&q, "nonce").unwrap();
                        let echostr = query(&q, "echostr").unwrap();
                        assert!(s.token_ok);
                        if s.crypt.signature(&ts, &nonce, &echostr) != sig {
                            return "bad signature".to_owned();
                        }
                        let d = s.crypt.decrypt(&echostr).unwrap();
                        ids.lock().unwrap().push(d.receive_id.clone());
                        d.message
                    }
                })
                .post(
                    |State(s): State<ReceiverState>, RawQuery(q): RawQuery, body: String| async move {
                        *s.posts.lock().unwrap() += 1;
                        {
                            let mut left = s.failures_left.lock().unwrap();
                            if *left > 0 {
                                *left -= 1;
                                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "busy".to_owned());
                            }
                        }
                        let q = Url::parse(&format!("http://x/?{}", q.unwrap_or_default())).unwrap();
                        let sig = query(&q, "msg_signature").unwrap();
                        let ts = query(&q, "timestamp").unwrap();
                        let nonce = query(&q, "nonce").unwrap();
                        let encrypt = xml_field(&body, "Encrypt").unwrap();
                        if s.crypt.signature(&ts, &nonce, &encrypt) != sig {
                            return (axum::http::StatusCode::OK, "bad signature".to_owned());
                        }
                        let d = s.crypt.decrypt(&encrypt).unwrap();
                        s.events.lock().unwrap().push(Received {
                            message: d.message,
                            receive_id: d.receive_id,
                            to_user_name: xml_field(&body, "ToUserName").unwrap_or_default(),
                            agent_id: xml_field(&body, "AgentID").unwrap_or_default(),
                        });
                        (axum::http::StatusCode::OK, "success".to_owned())
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url: format!("http://{addr}/events"), events, posts, verification_receive_ids: ids }
    }

    pub fn events(&self) -> Vec<Received> {
        self.events.lock().unwrap().clone()
    }

    pub fn posts(&self) -> u32 {
        *self.posts.lock().unwrap()
    }

    /// The last event of an InfoType.
    pub fn last(&self, info_type: &str) -> Option<Received> {
        self.events().into_iter().rev().find(|e| xml_field(&e.message, "InfoType").as_deref() == Some(info_type))
    }

    /// The `change_contact` events received (either format), parsed with `wecom::event::parse_event`.
    pub fn contacts(&self) -> Vec<(Received, wecom::event::Event)> {
        self.events()
            .into_iter()
            .filter_map(|e| {
                let event = wecom::event::parse_event(&e.message).unwrap();
                matches!(event, wecom::event::Event::ChangeContact { .. }).then_some((e, event))
            })
            .collect()
    }
}

/// Token and EncodingAESKey the tests give self-built apps' API receiving.
pub const APP_TOKEN: &str = "AppToken1000002";
pub const APP_KEY: &str = "KSSifX/HFTcqlSsDWDrl8SIVVrzau/Klf/XeV37+EcE";

/// Registers a receiver as a self-built app's API receiving URL (asserting the verification passes).
pub async fn connect_app(sim: &Sim, corp: &str, agent: i64) -> Receiver {
    let rx = Receiver::start(APP_TOKEN, APP_KEY, 0).await;
    let v = sim
        .post_json(
            &format!("/_sim/apps/{corp}/{agent}/callback"),
            json!({ "url": rx.url, "token": APP_TOKEN, "encoding_aes_key": APP_KEY }),
        )
        .await;
    assert_eq!(v["verified"], true, "{v}");
    rx
}

/// Token and key of a demo template or suite.
pub fn suite_keys(id: &str) -> (String, String, String) {
    let seed = Seed::demo();
    if let Some(t) = seed.templates.iter().find(|t| t.template_id == id) {
        return (t.token.clone(), t.encoding_aes_key.clone(), t.template_secret.clone());
    }
    let s = seed.providers.iter().flat_map(|p| p.suites.iter()).find(|s| s.suite_id == id).unwrap();
    (s.token.clone(), s.encoding_aes_key.clone(), s.suite_secret.clone())
}

/// Registers a receiver as the event URL of `suite_id` (asserting the verification passes).
pub async fn connect(sim: &Sim, suite_id: &str, fail_first: u32) -> Receiver {
    let (token, key, _) = suite_keys(suite_id);
    let rx = Receiver::start(&token, &key, fail_first).await;
    let v = sim.post_json(&format!("/_sim/suites/{suite_id}/callback_url"), json!({ "url": rx.url })).await;
    assert_eq!(v["verified"], true, "{v}");
    rx
}

/// The id the apps of `suite_id` know `corp` by: `auth_corp_id` of its authorization in `/_sim/suites`
/// (the provider's encrypted corp id unless the seed says `legacy_ids`).
pub async fn auth_corp_id(sim: &Sim, suite_id: &str, corp: &str) -> String {
    let v = sim.get_json("/_sim/suites").await;
    let suite = v["items"].as_array().unwrap().iter().find(|s| s["suite_id"] == suite_id).unwrap();
    let auth = suite["authorizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["corp_id"] == corp)
        .unwrap_or_else(|| panic!("{corp} has no authorization of {suite_id}: {suite}"));
    auth["auth_corp_id"].as_str().unwrap().to_owned()
}

/// A demo member's encrypted userid under the demo provider (the demo seed's `open_userid`).
pub fn demo_open_userid(userid: &str) -> String {
    Seed::demo()
        .corps
        .iter()
        .flat_map(|c| c.members.iter())
        .find(|m| m.userid == userid)
        .and_then(|m| m.open_userid.clone())
        .unwrap()
}

/// A provider_access_token.
pub async fn provider_token(sim: &Sim, corp: &str, secret: &str) -> String {
    let v =
        sim.post_json("/cgi-bin/service/get_provider_token", json!({"corpid": corp, "provider_secret": secret})).await;
    v["provider_access_token"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned()
}

/// A delegated app made from the demo template, authorized by `corp` the real way.
pub struct Delegated {
    pub rx: Receiver,
    pub suite_token: String,
    pub agent_id: i64,
    /// The corp id the app knows its corp by (`auth_corp_info.corpid` of get_permanent_code).
    pub corp_id: String,
    pub permanent_code: String,
    /// An access token from `gettoken` with `corp_id` and the permanent code.
    pub token: String,
}

/// Connects the template, authorizes it for `corp`, fetches the permanent code and an access token.
pub async fn delegated_app(sim: &Sim, corp: &str) -> Delegated {
    let rx = connect(sim, TEMPLATE_ID, 0).await;
    let suite_token = suite_token(sim, &rx, TEMPLATE_ID).await;
    let auth = sim.post_json(&format!("/_sim/suites/{TEMPLATE_ID}/authorize"), json!({ "corp_id": corp })).await;
    let agent_id = auth["agent_id"].as_i64().unwrap_or_else(|| panic!("{auth}"));
    let v = sim
        .post_json(
            &format!("/cgi-bin/service/get_permanent_code?suite_access_token={suite_token}"),
            json!({ "auth_code": auth["auth_code"] }),
        )
        .await;
    assert_eq!(v["errcode"], 0, "{v}");
    let corp_id = v["auth_corp_info"]["corpid"].as_str().unwrap().to_owned();
    let permanent_code = v["permanent_code"].as_str().unwrap().to_owned();
    let token = sim.token(&corp_id, &permanent_code).await;
    Delegated { rx, suite_token, agent_id, corp_id, permanent_code, token }
}

/// Pushes a ticket, returns it as the receiver decrypted it.
pub async fn pushed_ticket(sim: &Sim, rx: &Receiver, suite_id: &str) -> String {
    let v = sim.post_json(&format!("/_sim/suites/{suite_id}/push_ticket"), json!({})).await;
    assert_eq!(v["delivered"], true, "{v}");
    xml_field(&rx.last("suite_ticket").unwrap().message, "SuiteTicket").unwrap()
}

/// A suite token obtained the real way (ticket pushed and decrypted).
pub async fn suite_token(sim: &Sim, rx: &Receiver, suite_id: &str) -> String {
    let ticket = pushed_ticket(sim, rx, suite_id).await;
    let (_, _, secret) = suite_keys(suite_id);
    let v = sim
        .post_json(
            "/cgi-bin/service/get_suite_token",
            json!({ "suite_id": suite_id, "suite_secret": secret, "suite_ticket": ticket }),
        )
        .await;
    v["suite_access_token"].as_str().unwrap().to_owned()
}
