//! Member lifecycle: a self-built app's API receiving (path/90930, URL verification for receive id = the
//! corp id), members deleted, disabled and updated at run time, and the `change_contact` events pushed
//! for it — self-built format (path/90970) to self-built apps, provider format (path/90639) to templates
//! and suites — decrypted here with `wecom::crypto` and parsed with `wecom::event` as wegate would.

use serde_json::{Value, json};
use wecom::ContactMember;
use wecom::event::Event;
use wecom_sim::{DEMO_CORP_ID, PROVIDER_CORP_ID, Seed};

use crate::common::*;

const DEMO_APP_TARGET: &str = "app:wwdemo0000000001:1000002";
const LEGACY_APP_TARGET: &str = "app:wwdemo0000000001:1000003";

async fn delete(sim: &Sim, userid: &str) -> Value {
    let resp = sim.post_raw(&format!("/_sim/corps/{DEMO_CORP_ID}/members/{userid}/delete"), json!({})).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn update(sim: &Sim, userid: &str, body: Value) -> Value {
    let resp = sim.post_raw(&format!("/_sim/corps/{DEMO_CORP_ID}/members/{userid}/update"), body).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The targets of a change's answer, each asserted delivered at the first attempt.
fn delivered_targets(v: &Value) -> Vec<String> {
    v["pushes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|p| {
            assert_eq!(p["delivered"], true, "{v}");
            assert_eq!(p["attempts"], 1, "{v}");
            p["target"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn user_get(sim: &Sim, token: &str, userid: &str) -> Value {
    sim.get_json(&format!("/cgi-bin/user/get?access_token={token}&userid={userid}")).await
}

fn wwlogin(userid: &str) -> String {
    format!(
        "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}&state=s&sim_user={userid}",
        enc(CALLBACK)
    )
}

fn picker() -> String {
    format!(
        "/wwlogin/sso/login?login_type=CorpApp&appid={DEMO_CORP_ID}&agentid={DEMO_AGENT}&redirect_uri={}",
        enc(CALLBACK)
    )
}

/// The one change_contact a receiver got.
fn only_contact(rx: &Receiver) -> (Received, Event) {
    let mut contacts = rx.contacts();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    contacts.remove(0)
}

#[tokio::test]
async fn an_app_callback_is_verified_for_the_corp_id() {
    let sim = sim().await;
    let rx = Receiver::start(APP_TOKEN, APP_KEY, 0).await;
    let path = format!("/_sim/apps/{DEMO_CORP_ID}/{DEMO_AGENT}/callback");
    let v = sim.post_json(&path, json!({"url": rx.url, "token": APP_TOKEN, "encoding_aes_key": APP_KEY})).await;
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["status"], 200);
    let body = v["body"].as_str().unwrap();
    assert!(body.len() == 19 && body.bytes().all(|b| b.is_ascii_digit()), "{v}");
    assert_eq!(rx.verification_receive_ids.lock().unwrap().as_slice(), [DEMO_CORP_ID.to_owned()]);
    // Saved: a change now reaches the app.
    assert_eq!(delivered_targets(&delete(&sim, "alice").await), [DEMO_APP_TARGET]);
}

#[tokio::test]
async fn an_app_callback_with_the_wrong_token_is_not_verified_nor_saved() {
    let sim = sim().await;
    // The receiver checks signatures with another token: it answers "bad signature", not the echostr.
    let rx = Receiver::start("SomeOtherToken", APP_KEY, 0).await;
    let path = format!("/_sim/apps/{DEMO_CORP_ID}/{DEMO_AGENT}/callback");
    let v = sim.post_json(&path, json!({"url": rx.url, "token": APP_TOKEN, "encoding_aes_key": APP_KEY})).await;
    assert_eq!(v["verified"], false, "{v}");
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"], "bad signature");
    assert_eq!(delete(&sim, "alice").await["pushes"], json!([]));
    // `force` saves it anyway. WeCom takes any HTTP 200 from an app's callback as received (path/90930),
    // so the push counts as delivered although this receiver could not verify it.
    let v = sim
        .post_json(&path, json!({"url": rx.url, "token": APP_TOKEN, "encoding_aes_key": APP_KEY, "force": true}))
        .await;
    assert_eq!(v["verified"], false, "{v}");
    assert_eq!(delivered_targets(&delete(&sim, "bob").await), [DEMO_APP_TARGET]);
    assert!(rx.contacts().is_empty());
    assert_eq!(rx.posts(), 1);
}

/// A self-built app's callback may answer an empty HTTP 200 (path/90930: 直接回复空串); anything else is
/// retried and then given up, like a command push.
#[tokio::test]
async fn an_app_push_needs_http_200_but_not_success() {
    let sim = sim_with(Seed::demo(), wecom_sim::SimConfig { push_retries: 1, ..test_config() }).await;
    let status = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(200));
    let answer = status.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move || {
            let answer = answer.clone();
            async move { axum::http::StatusCode::from_u16(answer.load(std::sync::atomic::Ordering::SeqCst)).unwrap() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let path = format!("/_sim/apps/{DEMO_CORP_ID}/{DEMO_AGENT}/callback");
    let v =
        sim.post_json(&path, json!({"url": url, "token": APP_TOKEN, "encoding_aes_key": APP_KEY, "force": true})).await;
    assert_eq!(v["verified"], false, "{v}");
    assert_eq!(delivered_targets(&delete(&sim, "alice").await), [DEMO_APP_TARGET]);
    status.store(500, std::sync::atomic::Ordering::SeqCst);
    let v = delete(&sim, "bob").await;
    assert_eq!(v["pushes"][0]["delivered"], false, "{v}");
    assert_eq!(v["pushes"][0]["attempts"], 2, "{v}");
    assert!(v["pushes"][0]["error"].as_str().unwrap().contains("HTTP 500"), "{v}");
}

#[tokio::test]
async fn an_app_callback_is_refused_for_bad_input() {
    let sim = sim().await;
    let rx = Receiver::start(APP_TOKEN, APP_KEY, 0).await;
    let ok = json!({"url": rx.url, "token": APP_TOKEN, "encoding_aes_key": APP_KEY});
    let cases = [
        (format!("/_sim/apps/wwnosuch/{DEMO_AGENT}/callback"), ok.clone(), 404, "unknown_corp"),
        (format!("/_sim/apps/{DEMO_CORP_ID}/1000099/callback"), ok.clone(), 404, "unknown_agent"),
        (format!("/_sim/apps/{DEMO_CORP_ID}/abc/callback"), ok.clone(), 400, "invalid_agent_id"),
        (
            format!("/_sim/apps/{DEMO_CORP_ID}/{DEMO_AGENT}/callback"),
            json!({"url": rx.url, "token": APP_TOKEN, "encoding_aes_key": "short"}),
            400,
            "invalid_encoding_aes_key",
        ),
        (
            format!("/_sim/apps/{DEMO_CORP_ID}/{DEMO_AGENT}/callback"),
            json!({"url": rx.url, "token": "no spaces allowed", "encoding_aes_key": APP_KEY}),
            400,
            "invalid_token",
        ),
        (
            format!("/_sim/apps/{DEMO_CORP_ID}/{DEMO_AGENT}/callback"),
            json!({"url": "not a url", "token": APP_TOKEN, "encoding_aes_key": APP_KEY}),
            400,
            "invalid_url",
        ),
    ];
    for (path, body, status, error) in cases {
        let resp = sim.post_raw(&path, body).await;
        assert_eq!(resp.status(), status, "{path}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], error, "{path}: {v}");
    }
    // A delegated app's events come through its template's callback.
    let d = delegated_app(&sim, wecom_sim::CUSTOMER_CORP_ID).await;
    let resp = sim.post_raw(&format!("/_sim/apps/{}/{}/callback", wecom_sim::CUSTOMER_CORP_ID, d.agent_id), ok).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "not_self_built");
}

#[tokio::test]
async fn a_deleted_member_is_unknown_everywhere_and_delete_user_is_pushed() {
    let sim = sim().await;
    let app_rx = connect_app(&sim, DEMO_CORP_ID, DEMO_AGENT).await;
    let d = delegated_app(&sim, DEMO_CORP_ID).await;
    let token = sim.demo_token().await;
    let open_zhang = demo_open_userid("ZhangSan");
    assert_eq!(user_get(&sim, &token, "ZhangSan").await["errcode"], 0);
    assert_eq!(user_get(&sim, &d.token, &open_zhang).await["errcode"], 0);

    let t0 = sim.get_json("/_sim/clock").await["now"].as_i64().unwrap();
    let v = delete(&sim, "zhangsan").await;
    let t1 = sim.get_json("/_sim/clock").await["now"].as_i64().unwrap();
    assert_eq!(delivered_targets(&v), [DEMO_APP_TARGET.to_owned(), format!("suite:{TEMPLATE_ID}")]);

    // user/get: no such member, plain or encrypted.
    assert_eq!(user_get(&sim, &token, "ZhangSan").await["errcode"], 60111);
    assert_eq!(user_get(&sim, &d.token, &open_zhang).await["errcode"], 60111);
    // The picker no longer lists them; sim_user names someone outside the corp (an openid-only code).
    let html = sim.get(&picker()).await.text().await.unwrap();
    assert!(!html.contains("张三") && !html.contains("sim_user=ZhangSan"), "{html}");
    assert!(html.contains("王芳"));
    let loc = sim.redirect_of(&wwlogin("ZhangSan")).await;
    let v = sim.getuserinfo(&token, &query(&loc, "code").unwrap()).await;
    assert_eq!(v["errcode"], 0, "{v}");
    assert!(v.get("userid").is_none() && v["openid"].is_string(), "{v}");
    // A member-only flow refuses them like any non-member.
    let resp = sim
        .get(&format!(
            "/wwopen/sso/3rd_qrConnect?appid={PROVIDER_CORP_ID}&redirect_uri={}&sim_user=ZhangSan&sim_corp={DEMO_CORP_ID}",
            enc(CALLBACK)
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("data-error=\"sim_user\""));
    // The console's member list says so.
    let members = sim.get_json(&format!("/_sim/corps/{DEMO_CORP_ID}/members")).await;
    let ids: Vec<_> = members["members"].as_array().unwrap().iter().map(|m| m["userid"].clone()).collect();
    assert_eq!(ids, ["WangFang", "alice", "bob", "ZhaoLiu"]);

    // The self-built app: the self-built format, encrypted for the corp, ToUserName = corp, AgentID = app.
    let (rx, event) = only_contact(&app_rx);
    assert_eq!(rx.receive_id, DEMO_CORP_ID);
    assert_eq!(rx.to_user_name, DEMO_CORP_ID);
    assert_eq!(rx.agent_id, DEMO_AGENT.to_string());
    assert_eq!(xml_field(&rx.message, "FromUserName").as_deref(), Some("sys"));
    assert_eq!(xml_field(&rx.message, "MsgType").as_deref(), Some("event"));
    let Event::ChangeContact { timestamp, .. } = event else { unreachable!() };
    assert!((t0..=t1).contains(&timestamp), "{timestamp}");
    assert_eq!(
        event,
        Event::ChangeContact {
            suite_id: None,
            auth_corp_id: Some(DEMO_CORP_ID.to_owned()),
            change_type: "delete_user".to_owned(),
            user_id: Some("ZhangSan".to_owned()),
            member: Box::default(),
            timestamp,
        }
    );
    // The delegated app: the provider format to the template's command callback, its encrypted ids.
    let (rx, event) = only_contact(&d.rx);
    assert_eq!(rx.receive_id, TEMPLATE_ID);
    assert_eq!(rx.to_user_name, TEMPLATE_ID);
    assert_eq!(rx.agent_id, "");
    let Event::ChangeContact { suite_id, auth_corp_id, change_type, user_id, member, .. } = event else {
        unreachable!()
    };
    assert_eq!(suite_id.as_deref(), Some(TEMPLATE_ID));
    assert_eq!(auth_corp_id.as_deref(), Some(d.corp_id.as_str()));
    assert_ne!(d.corp_id, DEMO_CORP_ID);
    assert_eq!(change_type, "delete_user");
    assert_eq!(user_id.as_deref(), Some(open_zhang.as_str()));
    assert_eq!(*member, ContactMember { open_user_id: Some(open_zhang.clone()), ..ContactMember::default() });

    // Recorded like every push; a second delete finds nobody.
    let stats = sim.get_json("/_sim/stats").await;
    let contact: Vec<_> =
        stats["pushes"].as_array().unwrap().iter().filter(|p| p["info_type"] == "change_contact").collect();
    assert_eq!(contact.len(), 2, "{stats}");
    assert!(contact.iter().any(|p| p["target"] == DEMO_APP_TARGET && p.get("suite_id").is_none()));
    assert!(contact.iter().any(|p| p["suite_id"] == TEMPLATE_ID));
    let resp = sim.post_raw(&format!("/_sim/corps/{DEMO_CORP_ID}/members/ZhangSan/delete"), json!({})).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unknown_member");
}

#[tokio::test]
async fn a_disabled_member_cannot_log_in_and_status_2_is_pushed() {
    let sim = sim().await;
    let app_rx = connect_app(&sim, DEMO_CORP_ID, DEMO_AGENT).await;
    let token = sim.demo_token().await;

    let v = update(&sim, "bob", json!({"status": 2})).await;
    assert_eq!(delivered_targets(&v), [DEMO_APP_TARGET]);
    let u = user_get(&sim, &token, "bob").await;
    assert_eq!((u["errcode"].clone(), u["status"].clone()), (json!(0), json!(2)), "{u}");

    // Listed but marked; picking them shows an error page naming them.
    let html = sim.get(&picker()).await.text().await.unwrap();
    assert!(html.contains("Bob Smith") && html.contains("已停用"), "{html}");
    let resp = sim.get(&wwlogin("bob")).await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("data-error=\"sim_user\"") && html.contains("已被停用") && html.contains("bob"), "{html}");
    // In-app OAuth too, and the SDK.
    let resp = sim
        .get(&format!(
            "/connect/oauth2/authorize?appid={DEMO_CORP_ID}&redirect_uri={}&response_type=code&scope=snsapi_base&agentid={DEMO_AGENT}&sim_user=bob",
            enc(CALLBACK)
        ))
        .await;
    assert_eq!(resp.status(), 400);
    let resp =
        sim.post_raw("/_sim/sdk/code", json!({"corp_id": DEMO_CORP_ID, "agent_id": DEMO_AGENT, "userid": "bob"})).await;
    assert_eq!(resp.status(), 409);

    let (_, event) = only_contact(&app_rx);
    let Event::ChangeContact { change_type, user_id, member, .. } = event else { unreachable!() };
    assert_eq!(change_type, "update_user");
    assert_eq!(user_id.as_deref(), Some("bob"));
    assert_eq!(*member, ContactMember { status: Some(2), ..ContactMember::default() });

    // Enabled again: signs in, status 1 pushed.
    update(&sim, "bob", json!({"status": 1})).await;
    assert_eq!(user_get(&sim, &token, "bob").await["status"], 1);
    let code = sim.login_code(DEMO_CORP_ID, DEMO_AGENT, "bob").await;
    assert_eq!(sim.getuserinfo(&token, &code).await["userid"], "bob");
    let Event::ChangeContact { member, .. } = app_rx.contacts().pop().unwrap().1 else { unreachable!() };
    assert_eq!(member.status, Some(1));
    // Setting what is already there changes nothing and pushes nothing.
    assert_eq!(update(&sim, "bob", json!({"status": 1})).await["pushes"], json!([]));
    assert_eq!(app_rx.contacts().len(), 2);
}

#[tokio::test]
async fn an_update_shows_everywhere_and_each_app_gets_what_it_may_read() {
    let sim = sim().await;
    let app_rx = connect_app(&sim, DEMO_CORP_ID, DEMO_AGENT).await;
    let legacy_rx = connect_app(&sim, DEMO_CORP_ID, LEGACY_AGENT).await;
    let suite_rx = connect(&sim, SUITE_ID, 0).await;
    let d = delegated_app(&sim, DEMO_CORP_ID).await;
    let token = sim.demo_token().await;
    let legacy = sim.token(DEMO_CORP_ID, &demo_secret(LEGACY_AGENT)).await;

    let v = update(
        &sim,
        "ALICE",
        json!({"name": "Alice Lin", "mobile": "+86 13711112222", "position": "Head of Product", "department": [2, 3]}),
    )
    .await;
    let mut targets = delivered_targets(&v);
    targets.sort();
    assert_eq!(
        targets,
        [
            DEMO_APP_TARGET.to_owned(),
            LEGACY_APP_TARGET.to_owned(),
            format!("suite:{TEMPLATE_ID}"),
            format!("suite:{SUITE_ID}")
        ]
    );

    // user/get, with the legacy_privacy rules unchanged.
    let u = user_get(&sim, &token, "alice").await;
    assert_eq!(
        (u["name"].clone(), u["position"].clone(), u["department"].clone()),
        (json!("Alice Lin"), json!("Head of Product"), json!([2, 3]))
    );
    assert!(u.get("mobile").is_none(), "{u}");
    let u = user_get(&sim, &legacy, "alice").await;
    assert_eq!(u["mobile"], "+86 13711112222");
    let open_alice = demo_open_userid("alice");
    assert_eq!(user_get(&sim, &d.token, &open_alice).await["name"], "Alice Lin");
    // The picker, and getuserdetail behind a user_ticket.
    let html = sim.get(&picker()).await.text().await.unwrap();
    assert!(html.contains("Alice Lin") && !html.contains("Alice Chen"), "{html}");
    let code = sim
        .post_json(
            "/_sim/codes",
            json!({"corp_id": DEMO_CORP_ID, "agent_id": DEMO_AGENT, "userid": "alice", "scope": "snsapi_privateinfo"}),
        )
        .await;
    let info = sim.getuserinfo(&token, code["code"].as_str().unwrap()).await;
    let detail = sim
        .post_json(
            &format!("/cgi-bin/auth/getuserdetail?access_token={token}"),
            json!({"user_ticket": info["user_ticket"]}),
        )
        .await;
    assert_eq!(detail["mobile"], "+86 13711112222", "{detail}");

    let fields = |rx: &Receiver| match only_contact(rx).1 {
        Event::ChangeContact { change_type, member, .. } => {
            assert_eq!(change_type, "update_user");
            *member
        }
        other => panic!("{other:?}"),
    };
    let public = ContactMember {
        name: Some("Alice Lin".into()),
        department: Some(vec![2, 3]),
        position: Some("Head of Product".into()),
        ..ContactMember::default()
    };
    // A new self-built app: no mobile (path/90970 应用获取敏感字段的说明); no Status: it did not change.
    assert_eq!(fields(&app_rx), public);
    // An app from before 2022-06-20 gets it.
    assert_eq!(fields(&legacy_rx), ContactMember { mobile: Some("+86 13711112222".into()), ..public.clone() });
    // The delegated app: no mobile, its encrypted userid.
    assert_eq!(fields(&d.rx), ContactMember { open_user_id: Some(open_alice.clone()), ..public.clone() });
    // The third-party suite: no mobile and no real name either.
    assert_eq!(
        fields(&suite_rx),
        ContactMember { open_user_id: Some(open_alice.clone()), name: None, ..public.clone() }
    );
    let (rx, event) = only_contact(&suite_rx);
    assert_eq!(rx.receive_id, SUITE_ID);
    let Event::ChangeContact { auth_corp_id, user_id, .. } = event else { unreachable!() };
    assert_eq!(auth_corp_id, Some(wecom_sim::encrypted_corp_id(PROVIDER_CORP_ID, DEMO_CORP_ID)));
    assert_eq!(user_id, Some(open_alice));
}

#[tokio::test]
async fn a_member_outside_an_apps_visible_scope_is_not_pushed_to_it() {
    let sim = sim().await;
    let app_rx = connect_app(&sim, DEMO_CORP_ID, DEMO_AGENT).await;
    let legacy_rx = connect_app(&sim, DEMO_CORP_ID, LEGACY_AGENT).await;
    // 赵六 (Contractors) is outside the demo app's scope (R&D, Sales); the legacy app sees everyone.
    let v = update(&sim, "ZhaoLiu", json!({"position": "顾问"})).await;
    assert_eq!(delivered_targets(&v), [LEGACY_APP_TARGET]);
    assert!(app_rx.contacts().is_empty());
    // Moving into the scope is announced to the app (the scope holds them after the change).
    let v = update(&sim, "ZhaoLiu", json!({"department": [3]})).await;
    assert_eq!(delivered_targets(&v), [DEMO_APP_TARGET, LEGACY_APP_TARGET]);
    // Moving out again too (the scope held them before).
    let v = update(&sim, "ZhaoLiu", json!({"department": [4]})).await;
    assert_eq!(delivered_targets(&v), [DEMO_APP_TARGET, LEGACY_APP_TARGET]);
    // Outside it for good: a delete reaches only the legacy app.
    let v = delete(&sim, "ZhaoLiu").await;
    assert_eq!(delivered_targets(&v), [LEGACY_APP_TARGET]);
    assert_eq!(app_rx.contacts().len(), 2);
    assert_eq!(legacy_rx.contacts().len(), 4);
    // An authorization's scope counts the same way.
    let customer = wecom_sim::CUSTOMER_CORP_ID;
    let rx = connect(&sim, TEMPLATE_ID, 0).await;
    sim.post_json(
        &format!("/_sim/suites/{TEMPLATE_ID}/authorize"),
        json!({"corp_id": customer, "visible_users": ["emma"]}),
    )
    .await;
    let v = sim.post_json(&format!("/_sim/corps/{customer}/members/LiuYang/delete"), json!({})).await;
    assert_eq!(v["pushes"], json!([]));
    let v = sim.post_json(&format!("/_sim/corps/{customer}/members/emma/delete"), json!({})).await;
    assert_eq!(delivered_targets(&v), [format!("suite:{TEMPLATE_ID}")]);
    assert_eq!(rx.contacts().len(), 1);
}

#[tokio::test]
async fn reset_restores_the_seeds_members_and_forgets_app_callbacks() {
    let sim = sim().await;
    let app_rx = connect_app(&sim, DEMO_CORP_ID, DEMO_AGENT).await;
    delete(&sim, "ZhangSan").await;
    update(&sim, "bob", json!({"name": "Robert", "status": 2})).await;
    let v = sim.post_json("/_sim/reset", json!({})).await;
    assert_eq!(v["reset"], true);
    let token = sim.demo_token().await;
    assert_eq!(user_get(&sim, &token, "ZhangSan").await["name"], "张三");
    let bob = user_get(&sim, &token, "bob").await;
    assert_eq!((bob["name"].clone(), bob["status"].clone()), (json!("Bob Smith"), json!(1)));
    let members = sim.get_json(&format!("/_sim/corps/{DEMO_CORP_ID}/members")).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 5);
    // The callback was set at run time: gone with the reset.
    assert_eq!(delete(&sim, "ZhangSan").await["pushes"], json!([]));
    assert_eq!(app_rx.contacts().len(), 2);
}

#[tokio::test]
async fn member_changes_are_validated() {
    let sim = sim().await;
    let cases = [
        ("wwnosuch", "bob", json!({"name": "x"}), 404, "unknown_corp"),
        (DEMO_CORP_ID, "nobody", json!({"name": "x"}), 404, "unknown_member"),
        (DEMO_CORP_ID, "bob", json!({}), 400, "empty_update"),
        (DEMO_CORP_ID, "bob", json!({"status": 5}), 400, "invalid_status"),
        (DEMO_CORP_ID, "bob", json!({"department": [9]}), 400, "invalid_department"),
        (DEMO_CORP_ID, "bob", json!({"department": []}), 400, "invalid_department"),
        (DEMO_CORP_ID, "bob", json!({"name": " "}), 400, "invalid_name"),
        (DEMO_CORP_ID, "bob", json!({"userid": "robert"}), 400, "invalid_body"),
    ];
    for (corp, userid, body, status, error) in cases {
        let resp = sim.post_raw(&format!("/_sim/corps/{corp}/members/{userid}/update"), body.clone()).await;
        assert_eq!(resp.status(), status, "{body}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"], error, "{body}");
    }
}

#[tokio::test]
async fn a_seeded_app_callback_and_member_status_work_from_the_start() {
    let rx = Receiver::start(APP_TOKEN, APP_KEY, 0).await;
    let mut seed = Seed::demo();
    let app = &mut seed.corps[0].apps[0];
    app.event_url = Some(rx.url.clone());
    app.token = Some(APP_TOKEN.into());
    app.encoding_aes_key = Some(APP_KEY.into());
    seed.corps[0].members[1].status = 2;
    seed.validate().unwrap();
    let sim = sim_with(seed.clone(), test_config()).await;
    let token = sim.demo_token().await;
    assert_eq!(user_get(&sim, &token, "WangFang").await["status"], 2);
    assert_eq!(sim.get(&wwlogin("WangFang")).await.status(), 400);
    assert_eq!(delivered_targets(&delete(&sim, "alice").await), [DEMO_APP_TARGET]);
    assert_eq!(rx.contacts().len(), 1);

    // An event URL needs a token and a key; a status is 1, 2 or 4.
    let mut bad = seed.clone();
    bad.corps[0].apps[0].token = None;
    assert!(bad.validate().unwrap_err().to_string().contains("event_url needs token"));
    let mut bad = seed.clone();
    bad.corps[0].apps[0].encoding_aes_key = Some("short".into());
    assert!(bad.validate().is_err());
    let mut bad = seed;
    bad.corps[0].members[0].status = 3;
    assert!(bad.validate().unwrap_err().to_string().contains("status"));
}

#[tokio::test]
async fn the_console_deletes_disables_and_enables_members() {
    let sim = sim().await;
    let app_rx = connect_app(&sim, DEMO_CORP_ID, DEMO_AGENT).await;
    let html = sim.get("/_sim/").await.text().await.unwrap();
    for s in ["删除 delete", "禁用 disable", "value=\"delete_member\"", "接收消息"] {
        assert!(html.contains(s), "{s}");
    }
    let act = |action: &'static str, userid: &'static str| {
        let sim = &sim;
        async move {
            let resp = sim
                .http
                .post(sim.url("/_sim/console/action"))
                .form(&[("action", action), ("corp_id", DEMO_CORP_ID), ("userid", userid)])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 303);
            let loc = resp.headers()["location"].to_str().unwrap().to_owned();
            sim.get(&loc).await.text().await.unwrap()
        }
    };
    let html = act("disable_member", "WangFang").await;
    assert!(html.contains("WangFang disabled: change_contact → app:wwdemo0000000001:1000002 delivered"), "{html}");
    assert!(html.contains("启用 enable") && html.contains("已禁用 disabled"));
    let html = act("enable_member", "WangFang").await;
    assert!(html.contains("WangFang enabled"), "{html}");
    let html = act("delete_member", "ZhangSan").await;
    assert!(html.contains("ZhangSan deleted"), "{html}");
    assert!(html.contains("已删除 deleted"));
    assert_eq!(app_rx.contacts().len(), 3);
    let html = act("delete_member", "ZhangSan").await;
    assert!(html.contains("✗"), "{html}");
    // The app's callback form verifies like the API.
    let resp = sim
        .http
        .post(sim.url("/_sim/console/action"))
        .form(&[
            ("action", "app_callback"),
            ("corp_id", DEMO_CORP_ID),
            ("agent_id", "1000003"),
            ("url", app_rx.url.as_str()),
            ("token", APP_TOKEN),
            ("encoding_aes_key", APP_KEY),
        ])
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(sim.get(&loc).await.text().await.unwrap().contains("app 1000003: URL verified and saved"));
}
