//! `wegate demo` click-through over HTTP: the demo page, the hosted login page, the simulator's member
//! buttons, and the claims page at the end.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn demo_click_through_shows_the_claims() {
    let dir = tempfile::tempdir().unwrap();
    let demo = wegate::demo::start(dir.path().join("demo.db"), "127.0.0.1:0").await.expect("demo starts");
    let base = demo.server.state.settings.issuer.clone();
    let b = browser();
    let home = b.get(format!("{base}/demo")).send().await.unwrap().text().await.unwrap();
    let sign_in = extract_attr(&home, "class=\"button\" href=\"").expect("sign-in link");
    let login_page = b.get(&sign_in).send().await.unwrap();
    assert_eq!(login_page.status(), StatusCode::OK);
    let html = login_page.text().await.unwrap();
    for button in ["WeCom QR code", "Delegated app", "Service provider app"] {
        assert!(html.contains(button), "button {button} on the login page");
    }
    assert!(!html.contains("Inside WeCom"), "the in-WeCom button is only for WeCom's own browser");
    // WeCom's in-app browser skips the page: straight to the in-WeCom OAuth connection.
    let wecom_browser = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (Linux; Android 14) wxwork/4.1.22 MicroMessenger/7.0.1")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let silent = wecom_browser.get(&sign_in).send().await.unwrap();
    assert_eq!(silent.status(), StatusCode::SEE_OTHER);
    assert!(location(&silent).contains("/connect/oauth2/authorize"), "{}", location(&silent));
    // Click "WeCom QR code": the first connection button.
    let href = extract_attr(&html, "class=\"button wecom\" href=\"").expect("connection button");
    let to_wecom = b.get(format!("{base}{href}")).send().await.unwrap();
    assert_eq!(to_wecom.status(), StatusCode::SEE_OTHER);
    // The simulator's page lists the members; pick 张三 as a person would.
    let sim_page = b.get(location(&to_wecom)).send().await.unwrap().text().await.unwrap();
    assert!(sim_page.contains("张三"));
    let picked = b.get(with_sim_user(&location(&to_wecom), "ZhangSan")).send().await.unwrap();
    let back = b.get(location(&picked)).send().await.unwrap();
    let rp_callback = location(&back);
    assert!(rp_callback.starts_with(&format!("{base}/demo/callback")));
    let claims_page = b.get(rp_callback).send().await.unwrap().text().await.unwrap();
    assert!(claims_page.contains("Signed in as 张三"), "{claims_page}");
    assert!(claims_page.contains("wecom_userid"));
    let again = b.get(format!("{base}/demo")).send().await.unwrap().text().await.unwrap();
    assert!(again.contains("Signed in as 张三"), "the demo app keeps its session: {again}");

    // Delete 张三 in the simulator (as its console's button does): the demo app is signed out within seconds.
    let corp = wecom_sim::DEMO_CORP_ID;
    let sim = format!("http://{}", demo.simulator_addr);
    let deleted = b.post(format!("{sim}/_sim/corps/{corp}/members/ZhangSan/delete")).send().await.unwrap();
    assert!(deleted.status().is_success());
    let mut signed_out = false;
    for _ in 0..200 {
        let home = b.get(format!("{base}/demo")).send().await.unwrap().text().await.unwrap();
        if home.contains("Signed out by wegate") {
            signed_out = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(signed_out, "the demo app received the back-channel logout");

    // The delegated and provider connections were set up by the demo: they work too.
    for (button, member) in [("Delegated app", "LiuYang"), ("Service provider app", "alice")] {
        // A fresh browser: the first one has a wegate session and would be signed in at once (SSO).
        let b = browser();
        let page = unescape(&b.get(&sign_in).send().await.unwrap().text().await.unwrap());
        let idx = page.find(button).expect("button");
        let start = page[..idx].rfind("href=\"").expect("href") + 6;
        let href = &page[start..start + page[start..].find('"').unwrap()];
        let to_wecom = b.get(format!("{base}{href}")).send().await.unwrap();
        assert_eq!(to_wecom.status(), StatusCode::SEE_OTHER, "{button}: {}", to_wecom.text().await.unwrap_or_default());
        let picked = b.get(with_sim_user(&location(&to_wecom), member)).send().await.unwrap();
        let back = b.get(location(&picked)).send().await.unwrap();
        assert!(location(&back).contains("/demo/callback?code="), "{button}");
    }

    // DingTalk, through the simulator's page under /dingtalk: 张三 gets in, the external contact 王五 does not.
    for (person, admitted) in [("p-zhangsan", true), ("p-wangwu", false)] {
        let b = browser();
        let home = b.get(format!("{base}/demo")).send().await.unwrap().text().await.unwrap();
        let sign_in = extract_attr(&home, "class=\"button\" href=\"").expect("sign-in link");
        let page = unescape(&b.get(&sign_in).send().await.unwrap().text().await.unwrap());
        assert!(!page.contains("Inside DingTalk"), "the in-DingTalk button is only for DingTalk's browser");
        let idx = page.find("DingTalk 钉钉").expect("DingTalk button");
        let start = page[..idx].rfind("href=\"").expect("href") + 6;
        let href = &page[start..start + page[start..].find('"').unwrap()];
        let to_dingtalk = b.get(format!("{base}{href}")).send().await.unwrap();
        let dingtalk_page = location(&to_dingtalk);
        assert!(dingtalk_page.contains("/dingtalk/login/oauth2/auth?"), "{dingtalk_page}");
        let picker = b.get(&dingtalk_page).send().await.unwrap().text().await.unwrap();
        assert!(picker.contains("王五") && picker.contains("独行侠"), "anyone with DingTalk may scan: {picker}");
        let picked = b.get(format!("{dingtalk_page}&sim_person={person}")).send().await.unwrap();
        let back = b.get(location(&picked)).send().await.unwrap();
        if admitted {
            let claims = b.get(location(&back)).send().await.unwrap().text().await.unwrap();
            assert!(claims.contains("dingtalk_userid"), "{claims}");
        } else {
            assert_eq!(back.status(), StatusCode::FORBIDDEN);
        }
    }
    // Feishu's custom app: 张三 gets in; 王五 is outside the app's availability.
    for (user, admitted) in [("u-zhangsan", true), ("u-wangwu", false)] {
        let b = browser();
        let home = b.get(format!("{base}/demo")).send().await.unwrap().text().await.unwrap();
        let sign_in = extract_attr(&home, "class=\"button\" href=\"").expect("sign-in link");
        let page = unescape(&b.get(&sign_in).send().await.unwrap().text().await.unwrap());
        let idx = page.find("Feishu 飞书").expect("Feishu button");
        let start = page[..idx].rfind("href=\"").expect("href") + 6;
        let href = &page[start..start + page[start..].find('"').unwrap()];
        let to_feishu = b.get(format!("{base}{href}")).send().await.unwrap();
        let feishu_page = location(&to_feishu);
        assert!(feishu_page.contains("/feishu/accounts/open-apis/authen/v1/authorize?"), "{feishu_page}");
        let picked = b.get(format!("{feishu_page}&sim_user={user}")).send().await.unwrap();
        let back = b.get(location(&picked)).send().await.unwrap();
        if admitted {
            let claims = b.get(location(&back)).send().await.unwrap().text().await.unwrap();
            assert!(claims.contains("feishu_open_id"), "{claims}");
        } else {
            assert_eq!(back.status(), StatusCode::FORBIDDEN);
        }
    }
    demo.server.shutdown().await.unwrap();
}
