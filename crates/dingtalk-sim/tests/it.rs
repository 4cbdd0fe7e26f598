//! The simulator over real HTTP on an ephemeral port: one test per strict rule (upstreams.md §1.8).

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use dingtalk_sim::*;
use serde_json::{Value, json};

const CB: &str = "http://127.0.0.1:9/cb";

struct T {
    base: String,
    http: reqwest::Client,
    sim: Simulator,
}

async fn start() -> T {
    let (addr, sim, _task) = Simulator::spawn(Seed::demo()).await.unwrap();
    for app in [DEMO_CLIENT_ID, OTHER_CLIENT_ID, "dingnoperm"] {
        sim.set_redirect_uris(app, vec![CB.into()]);
    }
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    T { base: format!("http://{addr}"), http, sim }
}

fn secret(client: &str) -> &'static str {
    match client {
        DEMO_CLIENT_ID => DEMO_CLIENT_SECRET,
        OTHER_CLIENT_ID => OTHER_CLIENT_SECRET,
        _ => "noperm-secret",
    }
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }
    async fn read(resp: reqwest::Response) -> (u16, Value) {
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        Self::read(self.http.post(self.url(path)).json(&body).send().await.unwrap()).await
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        Self::read(self.http.get(self.url(path)).send().await.unwrap()).await
    }
    async fn app_token(&self, client: &str) -> String {
        let (s, v) =
            self.post("/api/v1.0/oauth2/accessToken", json!({"appKey": client, "appSecret": secret(client)})).await;
        assert_eq!(s, 200, "{v}");
        v["accessToken"].as_str().unwrap().to_owned()
    }
    /// A topapi call, form-encoded, the token in the query.
    async fn top(&self, path: &str, token: &str, form: &[(&str, &str)]) -> Value {
        let resp = self.http.post(self.url(&format!("{path}?access_token={token}"))).form(form).send().await.unwrap();
        let (s, v) = Self::read(resp).await;
        assert_eq!(s, 200, "{v}");
        v
    }
    async fn auth(&self, query: &str) -> reqwest::Response {
        self.http.get(self.url(&format!("/login/oauth2/auth?{query}"))).send().await.unwrap()
    }
    /// Signs `person` in to `client` through the login page; the authCode.
    async fn login(&self, client: &str, scope: &str, person: &str, extra: &str) -> String {
        let q = format!(
            "client_id={client}&response_type=code&scope={scope}&prompt=consent&redirect_uri={CB}&sim_person={person}{extra}"
        );
        let resp = self.auth(&q).await;
        assert_eq!(resp.status(), 302);
        let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        loc.query_pairs().find(|(k, _)| k == "authCode").unwrap().1.into_owned()
    }
    async fn redeem(&self, client: &str, code: &str) -> (u16, Value) {
        let body = json!({"clientId": client, "clientSecret": secret(client), "code": code, "grantType": "authorization_code"});
        self.post("/api/v1.0/oauth2/userAccessToken", body).await
    }
    async fn user_token(&self, client: &str, person: &str) -> String {
        let code = self.login(client, "openid", person, "").await;
        let (s, v) = self.redeem(client, &code).await;
        assert_eq!(s, 200, "{v}");
        v["accessToken"].as_str().unwrap().to_owned()
    }
    async fn me(&self, token: &str) -> (u16, Value) {
        let req = self.http.get(self.url("/api/v1.0/contact/users/me")).header("x-acs-dingtalk-access-token", token);
        Self::read(req.send().await.unwrap()).await
    }
    async fn fault(&self, f: Value) -> u16 {
        self.post("/_sim/faults", f).await.0
    }
    async fn union_id(&self, client: &str, person: &str) -> String {
        let (s, v) = self.me(&self.user_token(client, person).await).await;
        assert_eq!(s, 200, "{v}");
        v["unionId"].as_str().unwrap().to_owned()
    }
}

fn api_error(s: u16, v: &Value, status: u16, code: &str) {
    assert_eq!(s, status, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["requestid"].is_string() && v.get("errcode").is_none(), "{v}");
}

#[tokio::test]
async fn api_family_is_json_only() {
    let t = start().await;
    let form = [("appKey", DEMO_CLIENT_ID), ("appSecret", DEMO_CLIENT_SECRET)];
    let resp = t.http.post(t.url("/api/v1.0/oauth2/accessToken")).form(&form).send().await.unwrap();
    let (s, v) = T::read(resp).await;
    api_error(s, &v, 400, "MissingParameter");
    assert_eq!(v["message"], "body is mandatory for this action");
    let resp = t
        .http
        .post(t.url("/api/v1.0/oauth2/accessToken"))
        .header("content-type", "application/json")
        .body("appKey=x")
        .send();
    let (s, v) = T::read(resp.await.unwrap()).await;
    api_error(s, &v, 400, "MissingParameter");
}

#[tokio::test]
async fn wrong_family_is_404() {
    let t = start().await;
    let (s, v) = t.get(&format!("/api/gettoken?appkey={DEMO_CLIENT_ID}&appsecret={DEMO_CLIENT_SECRET}")).await;
    api_error(s, &v, 404, "InvalidAction.NotFound");
    let (s, _) = t.post("/oapi/v1.0/oauth2/accessToken", json!({"appKey": DEMO_CLIENT_ID})).await;
    assert_eq!(s, 404);
    assert_eq!(t.get("/gettoken").await.0, 404);
    assert_eq!(t.get("/login/v1.0/contact/users/me").await.0, 404);
    // A known /api path with the wrong method is also an unknown action.
    let (s, v) = t.get("/api/v1.0/oauth2/accessToken").await;
    api_error(s, &v, 404, "InvalidAction.NotFound");
}

#[tokio::test]
async fn bad_app_credentials_in_each_family() {
    let t = start().await;
    let (s, v) = t.post("/api/v1.0/oauth2/accessToken", json!({"appKey": DEMO_CLIENT_ID, "appSecret": "nope"})).await;
    api_error(s, &v, 400, "invalidClientIdOrSecret");
    let (s, v) = t.get(&format!("/oapi/gettoken?appkey={DEMO_CLIENT_ID}&appsecret=nope")).await;
    assert_eq!((s, v["errcode"].as_i64()), (200, Some(40089)), "{v}");
}

#[tokio::test]
async fn one_app_token_shared_by_both_endpoints_until_expiry() {
    let t = start().await;
    let a = t.app_token(DEMO_CLIENT_ID).await;
    t.sim.advance(100);
    let (_, v) = t.get(&format!("/oapi/gettoken?appkey={DEMO_CLIENT_ID}&appsecret={DEMO_CLIENT_SECRET}")).await;
    assert_eq!((v["errcode"].as_i64(), v["access_token"].as_str()), (Some(0), Some(a.as_str())), "{v}");
    assert_eq!(v["expires_in"], 7100);
    assert_ne!(t.app_token(OTHER_CLIENT_ID).await, a);
    t.sim.advance(7100);
    let b = t.app_token(DEMO_CLIENT_ID).await;
    assert_ne!(a, b);
    let v = t.top("/oapi/topapi/v2/user/get", &a, &[("userid", "lisi")]).await;
    assert_eq!(v["errcode"], 42001, "{v}");
    let (_, stats) = t.get("/_sim/stats").await;
    assert_eq!(
        (stats["app_token_fetches"].as_u64(), stats["app_tokens_issued"].as_u64()),
        (Some(4), Some(3)),
        "{stats}"
    );
    assert_eq!(stats["calls"]["/oapi/gettoken"], 1);
}

/// `POST /api/v1.0/oauth2/{corpId}/token` [DT-corptok]: snake_case JSON both ways, its own error codes, and the
/// app must run in the organisation named.
#[tokio::test]
async fn the_organisations_token_endpoint_is_as_strict_as_dingtalk() {
    let t = start().await;
    let path = |corp: &str| format!("/api/v1.0/oauth2/{corp}/token");
    let body = |client: &str, secret: &str| json!({"client_id": client, "client_secret": secret, "grant_type": "client_credentials"});

    // JSON only, like the rest of the family.
    let form =
        [("client_id", DEMO_CLIENT_ID), ("client_secret", DEMO_CLIENT_SECRET), ("grant_type", "client_credentials")];
    let resp = t.http.post(t.url(&path(DEMO_CORP_ID))).form(&form).send().await.unwrap();
    let (s, v) = T::read(resp).await;
    api_error(s, &v, 400, "MissingParameter");
    assert_eq!(v["message"], "body is mandatory for this action");
    // A GET is an unknown action, as on the other routes.
    let (s, v) = t.get(&path(DEMO_CORP_ID)).await;
    api_error(s, &v, 404, "InvalidAction.NotFound");

    // grant_type must be client_credentials; another, or none, is unsupported.
    for grant in [json!("authorization_code"), Value::Null] {
        let mut b = body(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET);
        b["grant_type"] = grant;
        let (s, v) = t.post(&path(DEMO_CORP_ID), b).await;
        api_error(s, &v, 400, "unsupported.grant.type");
    }
    // The old endpoint's camelCase names are not this one's.
    let camel =
        json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET, "grant_type": "client_credentials"});
    let (s, v) = t.post(&path(DEMO_CORP_ID), camel).await;
    api_error(s, &v, 400, "MissingParameter");
    // A wrong client: invalid.client (before the organisation is looked at).
    let (s, v) = t.post(&path(DEMO_CORP_ID), body(DEMO_CLIENT_ID, "nope")).await;
    api_error(s, &v, 400, "invalid.client");
    let (s, v) = t.post(&path("dingnosuchcorp"), body("dingnosuch", DEMO_CLIENT_SECRET)).await;
    api_error(s, &v, 400, "invalid.client");
    // An organisation DingTalk does not know: 500 unknownError 未知错误.
    let (s, v) = t.post(&path("dingnosuchcorp"), body(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)).await;
    api_error(s, &v, 500, "unknownError");
    assert_eq!(v["message"], "未知错误");
    // Another organisation's app, asked for this organisation: 401 unauthorized.client.
    let (s, v) = t.post(&path(DEMO_CORP_ID), body(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)).await;
    api_error(s, &v, 401, "unauthorized.client");
    let (s, v) = t.post(&path(OTHER_CORP_ID), body(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)).await;
    api_error(s, &v, 401, "unauthorized.client");
    let (_, stats) = t.get("/_sim/stats").await;
    assert_eq!(stats["app_token_fetches"], 0, "no refusal hands out a token: {stats}");

    // The app in its own organisation: snake_case, the same token as the other endpoints within its lifetime.
    let (s, v) = t.post(&path(DEMO_CORP_ID), body(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)).await;
    assert_eq!(s, 200, "{v}");
    assert!(v.get("accessToken").is_none() && v.get("expireIn").is_none(), "{v}");
    assert_eq!(v["expires_in"], 7200, "{v}");
    let token = v["access_token"].as_str().unwrap().to_owned();
    t.sim.advance(100);
    assert_eq!(t.app_token(DEMO_CLIENT_ID).await, token);
    let (_, again) = t.post(&path(DEMO_CORP_ID), body(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)).await;
    assert_eq!((&again["access_token"], &again["expires_in"]), (&json!(token), &json!(7100)), "{again}");
    let (_, other) = t.post(&path(OTHER_CORP_ID), body(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)).await;
    assert_ne!(other["access_token"], json!(token), "{other}");
    // It works where an app token does: topapi answers for the organisation.
    let v = t.top("/oapi/topapi/v2/user/get", &token, &[("userid", "lisi")]).await;
    assert_eq!(v["result"]["userid"], "lisi", "{v}");
    let (_, stats) = t.get("/_sim/stats").await;
    assert_eq!(
        (stats["app_token_fetches"].as_u64(), stats["app_tokens_issued"].as_u64()),
        (Some(4), Some(2)),
        "{stats}"
    );
}

#[tokio::test]
async fn topapi_token_rules() {
    let t = start().await;
    let app = t.app_token(DEMO_CLIENT_ID).await;
    let path = "/oapi/topapi/v2/user/get";
    let body_only = t.http.post(t.url(path)).form(&[("access_token", app.as_str()), ("userid", "lisi")]).send();
    let (s, v) = T::read(body_only.await.unwrap()).await;
    assert_eq!((s, v["errcode"].as_i64()), (200, Some(41001)), "{v}");
    assert!(v["request_id"].is_string());
    assert_eq!(t.top(path, "unknown", &[("userid", "lisi")]).await["errcode"], 40014);
    let user = t.user_token(DEMO_CLIENT_ID, "p-lisi").await;
    assert_eq!(t.top(path, &user, &[("userid", "lisi")]).await["errcode"], 40014);
    let (s, v) = t.get(&format!("{path}?access_token={app}&userid=lisi")).await;
    assert_eq!((s, v["errcode"].as_i64()), (200, Some(43002)));
    // JSON bodies work as well as forms.
    let resp = t.http.post(t.url(&format!("{path}?access_token={app}"))).json(&json!({"userid": "lisi"})).send();
    let (_, v) = T::read(resp.await.unwrap()).await;
    assert_eq!((v["errcode"].as_i64(), v["result"]["userid"].as_str()), (Some(0), Some("lisi")), "{v}");
    assert_eq!(t.get("/oapi/topapi/nothing").await.0, 404);
}

#[tokio::test]
async fn users_me_takes_only_user_tokens_with_permission() {
    let t = start().await;
    let (s, v) = t.me(&t.app_token(DEMO_CLIENT_ID).await).await;
    api_error(s, &v, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
    assert_eq!(v["accessdenieddetail"]["requiredScopes"], json!(["Contact.User.Read"]));
    let (s, v) = t.me("nope").await;
    api_error(s, &v, 400, "InvalidAuthentication");
    let (s, v) = t.me(&t.user_token("dingnoperm", "p-lisi").await).await;
    api_error(s, &v, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied");
    let user = t.user_token(DEMO_CLIENT_ID, "p-zhangsan").await;
    let (s, v) = t.me(&user).await;
    assert_eq!(s, 200);
    assert_eq!((v["nick"].as_str(), v["mobile"].as_str()), (Some("张三"), Some("13800000001")), "{v}");
    assert_eq!((v["stateCode"].as_str(), v["visitor"].as_bool()), (Some("86"), Some(false)));
    assert!(v["avatarUrl"].is_string() && v["openId"].is_string() && v.get("userid").is_none());
    // Someone in no org still gets a profile (the cross-org reality); absent fields are absent.
    let (s, v) = t.me(&t.user_token(DEMO_CLIENT_ID, "p-lisi").await).await;
    assert!(s == 200 && v.get("avatarUrl").is_none() && v.get("email").is_none(), "{v}");
    assert_eq!(t.me(&t.user_token(DEMO_CLIENT_ID, "p-loner").await).await.0, 200);
    t.sim.advance(7200);
    api_error(t.me(&user).await.0, &t.me(&user).await.1, 400, "InvalidAuthentication");
}

#[tokio::test]
async fn auth_codes_are_single_use_bound_and_short_lived() {
    let t = start().await;
    let code = t.login(DEMO_CLIENT_ID, "openid", "p-lisi", "").await;
    assert_eq!(t.redeem(DEMO_CLIENT_ID, &code).await.0, 200);
    let (s, v) = t.redeem(DEMO_CLIENT_ID, &code).await;
    api_error(s, &v, 400, "invalidCode");
    let code = t.login(DEMO_CLIENT_ID, "openid", "p-lisi", "").await;
    t.sim.advance(300);
    api_error(t.redeem(DEMO_CLIENT_ID, &code).await.0, &t.redeem(DEMO_CLIENT_ID, &code).await.1, 400, "invalidCode");
    let code = t.login(DEMO_CLIENT_ID, "openid", "p-lisi", "").await;
    let (s, v) = t.redeem(OTHER_CLIENT_ID, &code).await;
    api_error(s, &v, 400, "invalidCode");
    let body = json!({"clientId": DEMO_CLIENT_ID, "clientSecret": "x", "code": "c", "grantType": "authorization_code"});
    let (s, v) = t.post("/api/v1.0/oauth2/userAccessToken", body).await;
    api_error(s, &v, 400, "invalidClientIdOrSecret");
    let body =
        json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET, "code": "c", "grantType": "password"});
    let (s, v) = t.post("/api/v1.0/oauth2/userAccessToken", body).await;
    api_error(s, &v, 400, "invalidParameter");
}

#[tokio::test]
async fn refresh_token_rotates() {
    let t = start().await;
    let code = t.login(DEMO_CLIENT_ID, "openid", "p-lisi", "").await;
    let (_, v) = t.redeem(DEMO_CLIENT_ID, &code).await;
    let body = json!({"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET, "refreshToken": v["refreshToken"], "grantType": "refresh_token"});
    let (s, w) = t.post("/api/v1.0/oauth2/userAccessToken", body.clone()).await;
    assert_eq!((s, &w["accessToken"]), (200, &v["accessToken"]), "{w}");
    let (s, w) = t.post("/api/v1.0/oauth2/userAccessToken", body).await;
    api_error(s, &w, 400, "invalidRefreshToken");
}

#[tokio::test]
async fn corp_id_only_with_corpid_scope() {
    let t = start().await;
    let (_, v) = t.redeem(DEMO_CLIENT_ID, &t.login(DEMO_CLIENT_ID, "openid", "p-lisi", "").await).await;
    assert!(v.get("corpId").is_none(), "{v}");
    let scope = "openid%20corpid";
    let code = t.login(DEMO_CLIENT_ID, scope, "p-lisi", &format!("&sim_corp={OTHER_CORP_ID}")).await;
    assert_eq!(t.redeem(DEMO_CLIENT_ID, &code).await.1["corpId"], OTHER_CORP_ID);
    let code = t.login(DEMO_CLIENT_ID, scope, "p-lisi", &format!("&corpId={OTHER_CORP_ID}")).await;
    assert_eq!(t.redeem(DEMO_CLIENT_ID, &code).await.1["corpId"], OTHER_CORP_ID);
    let code = t.login(DEMO_CLIENT_ID, "openid+corpid", "p-lisi", "").await;
    assert_eq!(t.redeem(DEMO_CLIENT_ID, &code).await.1["corpId"], DEMO_CORP_ID);
    let code = t.login(DEMO_CLIENT_ID, scope, "p-loner", "").await;
    assert!(t.redeem(DEMO_CLIENT_ID, &code).await.1.get("corpId").is_none());
    let q = format!(
        "client_id={DEMO_CLIENT_ID}&response_type=code&scope={scope}&prompt=consent&redirect_uri={CB}&sim_person=p-zhao&sim_corp={DEMO_CORP_ID}"
    );
    assert_eq!(t.auth(&q).await.status(), 400);
}

#[tokio::test]
async fn membership_via_getbyunionid() {
    let t = start().await;
    let app = t.app_token(DEMO_CLIENT_ID).await;
    let path = "/oapi/topapi/user/getbyunionid";
    let v = t.top(path, &app, &[("unionid", &t.union_id(DEMO_CLIENT_ID, "p-zhangsan").await)]).await;
    assert_eq!(v["result"], json!({"contact_type": 0, "userid": "zhangsan"}), "{v}");
    assert!(v["request_id"].is_string());
    let v = t.top(path, &app, &[("unionid", &t.union_id(DEMO_CLIENT_ID, "p-wangwu").await)]).await;
    assert_eq!(v["result"], json!({"contact_type": 1, "userid": "wangwu"}), "{v}");
    for outsider in ["p-zhao", "p-loner"] {
        let v = t.top(path, &app, &[("unionid", &t.union_id(DEMO_CLIENT_ID, outsider).await)]).await;
        assert_eq!(v["errcode"], 60121, "{outsider}: {v}");
    }
    assert_eq!(t.top(path, &app, &[("unionid", "")]).await["errcode"], 400_002);
    let v = t.top(path, &t.app_token("dingnoperm").await, &[("unionid", "x")]).await;
    assert_eq!((v["errcode"].as_i64(), v["sub_code"].as_str()), (Some(88), Some("60011")), "{v}");
    // A member who leaves is no longer found.
    let resp = t.http.delete(t.url(&format!("/_sim/orgs/{DEMO_CORP_ID}/members/zhangsan"))).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let v = t.top(path, &app, &[("unionid", &t.union_id(DEMO_CLIENT_ID, "p-zhangsan").await)]).await;
    assert_eq!(v["errcode"], 60121);
}

#[tokio::test]
async fn union_id_is_per_developer_account() {
    let t = start().await;
    let demo = t.union_id(DEMO_CLIENT_ID, "p-lisi").await;
    let other = t.union_id(OTHER_CLIENT_ID, "p-lisi").await;
    assert_ne!(demo, other);
    let v = t.top("/oapi/topapi/user/getbyunionid", &t.app_token(OTHER_CLIENT_ID).await, &[("unionid", &other)]).await;
    assert_eq!(v["result"]["userid"], "lisi2", "{v}");
    let v = t.top("/oapi/topapi/user/getbyunionid", &t.app_token(OTHER_CLIENT_ID).await, &[("unionid", &demo)]).await;
    assert_eq!(v["errcode"], 60121);
    // Same corp, another app: same unionId.
    let code = t.sim.mint_auth_code("p-lisi", DEMO_CORP_ID).unwrap();
    let v = t.top("/oapi/topapi/v2/user/getuserinfo", &t.app_token("dingnoperm").await, &[("code", &code)]).await;
    assert_eq!(v["result"]["unionid"], demo.as_str(), "{v}");
}

#[tokio::test]
async fn user_get_fields_and_permissions() {
    let t = start().await;
    let app = t.app_token(DEMO_CLIENT_ID).await;
    let v = t.top("/oapi/topapi/v2/user/get", &app, &[("userid", "zhangsan"), ("language", "zh_CN")]).await;
    let r = &v["result"];
    assert_eq!((r["name"].as_str(), r["org_email"].as_str()), (Some("张三"), Some("zhangsan@acme.example")), "{v}");
    assert!(r["mobile"].is_string() && r["email"].is_string() && r["avatar"].is_string() && r["title"].is_string());
    assert_eq!(
        (r["admin"].as_bool(), r["active"].as_bool(), &r["dept_id_list"]),
        (Some(true), Some(true), &json!([1]))
    );
    assert_eq!(r["unionid"], t.union_id(DEMO_CLIENT_ID, "p-zhangsan").await.as_str());
    let v = t.top("/oapi/topapi/v2/user/get", &app, &[("userid", "lisi")]).await;
    assert!(v["result"].get("avatar").is_none() && v["result"].get("email").is_none(), "{v}");
    assert_eq!(t.top("/oapi/topapi/v2/user/get", &app, &[("userid", "wangwu")]).await["errcode"], 60121);
    assert_eq!(t.top("/oapi/topapi/v2/user/get", &app, &[("userid", "sunqi")]).await["errcode"], 60121);
    let v = t.top("/oapi/topapi/v2/user/get", &t.app_token("dingnoperm").await, &[("userid", "lisi")]).await;
    assert_eq!(v["errcode"], 88);
}

#[tokio::test]
async fn login_page_checks_every_parameter_and_never_redirects_on_error() {
    let t = start().await;
    let ok = format!("client_id={DEMO_CLIENT_ID}&response_type=code&scope=openid&prompt=consent&redirect_uri={CB}");
    for bad in [
        ok.replace(CB, "http://127.0.0.1:9/cb/"),
        ok.replace(DEMO_CLIENT_ID, "dingunknown"),
        ok.replace("response_type=code", "response_type=token"),
        ok.replace("&prompt=consent", ""),
        ok.replace("scope=openid", "scope=openid%20profile"),
    ] {
        let resp = t.auth(&format!("{bad}&sim_person=p-lisi")).await;
        assert_eq!(resp.status(), 400, "{bad}");
        assert!(resp.headers().get("location").is_none());
        assert!(resp.text().await.unwrap().contains("<html"));
    }
    let page = t.auth(&format!("{ok}&prompt=login%20consent")).await.text().await.unwrap();
    assert!(page.contains("sim_person=p-loner"), "{page}");
    let resp = t.http.post(t.url(&format!("/login/oauth2/auth?{ok}"))).send().await.unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn redirect_carries_only_auth_code_and_state() {
    let t = start().await;
    let q = format!(
        "client_id={DEMO_CLIENT_ID}&response_type=code&scope=openid&prompt=consent&redirect_uri={CB}&state=s%201"
    );
    let resp = t.auth(&format!("{q}&sim_person=p-lisi")).await;
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let keys: Vec<_> = loc.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["authCode", "state"]);
    assert_eq!(keys[1].1, "s 1");
    let resp = t.auth(&format!("{q}&sim_deny=1")).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], format!("{CB}?error=access_denied&state=s+1"));
}

#[tokio::test]
async fn free_login_codes_are_bound_to_their_corp() {
    let t = start().await;
    let (demo, other) = (t.app_token(DEMO_CLIENT_ID).await, t.app_token(OTHER_CLIENT_ID).await);
    let path = "/oapi/topapi/v2/user/getuserinfo";
    let code = t.sim.mint_auth_code("p-zhangsan", DEMO_CORP_ID).unwrap();
    let v = t.top(path, &demo, &[("code", &code)]).await;
    assert_eq!((v["result"]["userid"].as_str(), v["result"]["sys"].as_bool()), (Some("zhangsan"), Some(true)), "{v}");
    assert_eq!((v["result"]["sys_level"].as_i64(), v["result"]["associated_unionid"].as_str()), (Some(1), Some("")));
    assert_eq!(t.top(path, &demo, &[("code", &code)]).await["errcode"], 40078);
    let code = t.sim.mint_auth_code("p-lisi", OTHER_CORP_ID).unwrap();
    assert_eq!(t.top(path, &demo, &[("code", &code)]).await["errcode"], 40078);
    let (s, v) = t.post("/_sim/auth_code", json!({"person": "p-lisi", "corp_id": DEMO_CORP_ID})).await;
    assert_eq!(s, 200);
    t.sim.advance(300);
    assert_eq!(t.top(path, &demo, &[("code", v["code"].as_str().unwrap())]).await["errcode"], 40078);
    assert_eq!(t.top(path, &other, &[]).await["errcode"], 400_002);
    assert!(t.sim.mint_auth_code("p-wangwu", DEMO_CORP_ID).is_err());
    assert_eq!(t.post("/_sim/auth_code", json!({"person": "p-loner", "corp_id": DEMO_CORP_ID})).await.0, 400);
    let code = t.sim.mint_auth_code("p-sunqi", OTHER_CORP_ID).unwrap();
    t.http.delete(t.url(&format!("/_sim/orgs/{OTHER_CORP_ID}/members/sunqi"))).send().await.unwrap();
    assert_eq!(t.top(path, &t.app_token(OTHER_CLIENT_ID).await, &[("code", &code)]).await["errcode"], 40078);
}

#[tokio::test]
async fn faults_of_each_shape() {
    let t = start().await;
    let app = t.app_token(DEMO_CLIENT_ID).await;
    let path = "/oapi/topapi/v2/user/get";
    assert_eq!(t.fault(json!({"path": path, "errcode": -1, "times": 2})).await, 200);
    assert_eq!(t.top("/oapi/topapi/user/getbyunionid", &app, &[("unionid", "x")]).await["errcode"], 60121);
    for _ in 0..2 {
        assert_eq!(t.top(path, &app, &[("userid", "lisi")]).await["errcode"], -1);
    }
    assert_eq!(t.top(path, &app, &[("userid", "lisi")]).await["errcode"], 0);
    let me = "/api/v1.0/contact/users/me";
    t.fault(json!({"path": me, "status": 403, "code": "Forbidden.AccessDenied.IpNotInWhiteList"})).await;
    let (s, v) = t.me("x").await;
    api_error(s, &v, 403, "Forbidden.AccessDenied.IpNotInWhiteList");
    t.fault(json!({"path": path, "throttle": true})).await;
    assert_eq!(t.top(path, &app, &[("userid", "lisi")]).await["status"], 1111);
    t.fault(json!({"path": path, "html": true})).await;
    let resp = t.http.post(t.url(&format!("{path}?access_token={app}"))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    t.fault(json!({"path": path, "delay_ms": 300})).await;
    let started = Instant::now();
    assert_eq!(t.top(path, &app, &[("userid", "lisi")]).await["errcode"], 0);
    assert!(started.elapsed().as_millis() >= 300);
    t.fault(json!({"path": path, "errcode": -1})).await;
    assert_eq!(t.http.delete(t.url("/_sim/faults")).send().await.unwrap().status(), 200);
    assert_eq!(t.top(path, &app, &[("userid", "lisi")]).await["errcode"], 0);
    assert_eq!(t.fault(json!({"path": path, "errcode": -1, "html": true})).await, 400);
    assert_eq!(t.fault(json!({"path": "/_sim/stats", "errcode": -1})).await, 400);
}

#[tokio::test]
async fn jsapi_script_carries_codes_for_the_ua_person() {
    let t = start().await;
    let ua = "Mozilla/5.0 (Linux) AliApp(DingTalk/7.6.0) DingTalkSimPerson/p-lisi Language/zh-CN";
    let resp = t.http.get(t.url("/jsapi/dingtalk.open.js")).header("user-agent", ua).send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));
    let js = resp.text().await.unwrap();
    assert!(js.contains("var inDingTalk = true;") && js.contains("requestAuthCode"));
    let line = js.lines().find(|l| l.contains("var codes = ")).unwrap();
    let codes: Value =
        serde_json::from_str(line.trim().trim_start_matches("var codes = ").trim_end_matches(';')).unwrap();
    for (client, corp) in [(DEMO_CLIENT_ID, DEMO_CORP_ID), (OTHER_CLIENT_ID, OTHER_CORP_ID)] {
        let code = codes[corp][client].as_str().unwrap();
        let v = t.top("/oapi/topapi/v2/user/getuserinfo", &t.app_token(client).await, &[("code", code)]).await;
        assert_eq!(v["result"]["name"], "李四", "{v}");
        // The legacy call's code (no clientId) is the corp's.
        let code = codes[corp]["*"].as_str().unwrap();
        let v = t.top("/oapi/topapi/v2/user/getuserinfo", &t.app_token(client).await, &[("code", code)]).await;
        assert_eq!(v["result"]["name"], "李四", "{v}");
    }
    // A code requested for one app of the corp is not another app's (the stricter reading).
    let code = codes[DEMO_CORP_ID]["dingnoperm"].as_str().unwrap();
    let v = t.top("/oapi/topapi/v2/user/getuserinfo", &t.app_token(DEMO_CLIENT_ID).await, &[("code", code)]).await;
    assert_eq!(v["errcode"], 40078, "{v}");
    for ua in ["Mozilla/5.0", "Mozilla/5.0 DingTalkSimPerson/p-lisi", "Mozilla/5.0 DingTalk/7.6.0"] {
        let js = t.http.get(t.url("/jsapi/dingtalk.open.js")).header("user-agent", ua).send().await.unwrap();
        let js = js.text().await.unwrap();
        assert!(js.contains("var inDingTalk = false;") && js.contains("var codes = {};"), "{ua}");
    }
}

#[tokio::test]
async fn control_endpoints() {
    let t = start().await;
    t.get("/oapi/nowhere").await;
    let (_, v) = t.get("/_sim/stats").await;
    assert_eq!(v["calls"]["/oapi/nowhere"], 1, "{v}");
    assert!(v["calls"].get("/_sim/stats").is_none());
    t.http.delete(t.url("/_sim/stats")).send().await.unwrap();
    assert_eq!(t.get("/_sim/stats").await.1["calls"], json!({}));
    let put = t.http.put(t.url(&format!("/_sim/apps/{DEMO_CLIENT_ID}/redirect_uris")));
    let resp = put.json(&json!({"redirect_uris": ["https://a.example/<cb>"]})).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let html = t.http.get(t.url("/_sim/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("https://a.example/&lt;cb&gt;") && html.contains("Acme 示例科技"), "{html}");
    let (s, v) = t.post("/_sim/clock", json!({"advance_secs": 60})).await;
    assert!(s == 200 && v["now"].is_i64());
}

#[test]
fn seeds() {
    Seed::demo().validate().unwrap();
    let toml = r#"
        [[people]]
        id = "p1"
        nick = "一"
        [[orgs]]
        corp_id = "ding1"
        name = "One"
        [[orgs.members]]
        person = "p1"
        userid = "u1"
        name = "一"
        [[apps]]
        client_id = "app1"
        client_secret = "s"
        corp_id = "ding1"
        permissions = ["Contact.User.Read"]
    "#;
    let seed = Seed::from_toml(toml).unwrap();
    assert!(!seed.orgs[0].members[0].external);
    assert!(
        Seed::from_toml(
            &toml.replace("corp_id = \"ding1\"\n        permissions", "corp_id = \"ding2\"\n        permissions")
        )
        .is_err()
    );
    assert!(Seed::from_toml(&toml.replace("person = \"p1\"", "person = \"p9\"")).is_err());
}
