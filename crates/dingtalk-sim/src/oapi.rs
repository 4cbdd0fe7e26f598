//! `/oapi` = oapi.dingtalk.com, the legacy family [DT-err][DT-free]: always HTTP 200 with
//! `{errcode, errmsg}`; `topapi` adds `request_id` and puts data under `result`.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::routing::{any, get};
use serde_json::{Value, json};

use crate::state::{CODE_TTL, Holder, World, random_hex, request_id, union_id};
use crate::{App, Shared, query};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        // 43001 需要GET请求: our choice for a non-GET gettoken.
        .route("/gettoken", get(gettoken).fallback(|| async { Json(plain(43001, "需要GET请求")) }))
        .route("/topapi/user/getbyunionid", any(|State(s): State<Shared>, r: Req| topapi(s, r, Top::ByUnionId)))
        .route("/topapi/v2/user/get", any(|State(s): State<Shared>, r: Req| topapi(s, r, Top::UserGet)))
        .route("/topapi/v2/user/getuserinfo", any(|State(s): State<Shared>, r: Req| topapi(s, r, Top::GetUserInfo)))
        .fallback(|| async { StatusCode::NOT_FOUND })
}

fn plain(errcode: i64, errmsg: &str) -> Value {
    json!({"errcode": errcode, "errmsg": errmsg})
}

/// A topapi error: `errcode`/`errmsg` plus `request_id`.
pub(crate) fn top_err(errcode: i64, errmsg: &str) -> Value {
    json!({"errcode": errcode, "errmsg": errmsg, "request_id": request_id()})
}

fn top_ok(result: Value) -> Value {
    json!({"errcode": 0, "errmsg": "ok", "result": result, "request_id": request_id()})
}

fn bad_param() -> Value {
    // [DT-byunion] 400002 无效的参数.
    top_err(400_002, "无效的参数")
}

fn not_member() -> Value {
    // [DT-byunion][DT-cfaq] 60121: not in this org, left, or not yet joined.
    top_err(60121, "找不到该用户")
}

/// `GET /gettoken?appkey=&appsecret=` [DT-gettoken]: the same per-app token as `/api`'s accessToken and
/// `{corpId}/token`.
async fn gettoken(State(inner): State<Shared>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query(q.as_deref());
    let (key, secret) = (q.get("appkey").map_or("", String::as_str), q.get("appsecret").map_or("", String::as_str));
    let now = inner.now();
    let mut w = inner.world();
    if w.app_with(key, secret).is_none() {
        // [DT-err] 40089 (40001 is also possible upstream: UNCONFIRMED which one gettoken uses).
        return Json(plain(40089, "不合法的corpId或corpSecret"));
    }
    let (token, left) = w.app_token(key, now);
    Json(json!({"errcode": 0, "access_token": token, "errmsg": "ok", "expires_in": left}))
}

/// A topapi request as received.
struct Req {
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = Infallible;

    async fn from_request(req: Request, _: &S) -> Result<Self, Infallible> {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
        Ok(Req { method: parts.method, query: parts.uri.query().map(str::to_owned), headers: parts.headers, body })
    }
}

/// Checks shared by every topapi call; returns the calling app and the body parameters.
fn begin(w: &World, now: i64, req: &Req, permission: Option<&str>) -> Result<(App, HashMap<String, String>), Value> {
    // 43002 需要POST请求: our choice of code for a non-POST topapi call.
    if req.method != Method::POST {
        return Err(top_err(43002, "需要POST请求"));
    }
    // [DT-err] the token goes in the query string; a token only in the body does not count (§1.8 item 2).
    let q = query(req.query.as_deref());
    let token =
        q.get("access_token").filter(|t| !t.is_empty()).ok_or_else(|| top_err(41001, "缺少access_token参数"))?;
    let app = match w.tokens.get(token) {
        Some(t) => match &t.holder {
            Holder::App(id) if t.expires_at > now => w.app(id).cloned(),
            // [DT-err] 42001 expired app token.
            Holder::App(_) => return Err(top_err(42001, "access_token超时")),
            // [DT-cfaq][DT-byunion] a user token on topapi: INFERRED 40014 (strict, §1.8 item 5).
            Holder::User { .. } => None,
        },
        None => None,
    };
    let app = app.ok_or_else(|| top_err(40014, "不合法的access_token"))?;
    // [DT-err] row 88: 鉴权异常 with sub_code 60011 when the app lacks the API permission.
    if let Some(p) = permission
        && !app.has(p)
    {
        let mut e = top_err(88, "鉴权异常");
        e["sub_code"] = json!("60011");
        e["sub_msg"] = json!("没有调用该接口的权限");
        return Err(e);
    }
    Ok((app, params(req)))
}

/// [DT-uget] body as form-urlencoded (official curl) or JSON (Casdoor); both accepted (INFERRED).
/// Any other content type, and parameters in the query string, are not read (strict).
fn params(req: &Req) -> HashMap<String, String> {
    let ct = req.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ct == "application/x-www-form-urlencoded" {
        return serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
    }
    if ct != "application/json" {
        return HashMap::new();
    }
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&req.body) else {
        return HashMap::new();
    };
    m.into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            _ => None,
        })
        .collect()
}

fn required<'a>(p: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Value> {
    p.get(name).map(String::as_str).filter(|s| !s.is_empty()).ok_or_else(bad_param)
}

/// The three topapi calls, each behind [`begin`].
#[derive(Clone, Copy)]
enum Top {
    ByUnionId,
    UserGet,
    GetUserInfo,
}

async fn topapi(inner: Shared, req: Req, call: Top) -> Json<Value> {
    let now = inner.now();
    let mut w = inner.world();
    let permission = (!matches!(call, Top::GetUserInfo)).then_some("qyapi_get_member");
    let answer = match begin(&w, now, &req, permission) {
        Ok((app, p)) => match call {
            Top::ByUnionId => getbyunionid(&w, &app, &p),
            Top::UserGet => user_get(&w, &app, &p),
            Top::GetUserInfo => getuserinfo(&mut w, now, &app, &p),
        },
        Err(e) => Err(e),
    };
    Json(answer.unwrap_or_else(|e| e))
}

/// `POST /topapi/user/getbyunionid` [DT-byunion].
fn getbyunionid(w: &World, app: &App, p: &HashMap<String, String>) -> Result<Value, Value> {
    let unionid = required(p, "unionid")?;
    // [DT-byunion] unionIds are per developer account: look the person up under the calling app's.
    let person = w.seed.people.iter().find(|x| union_id(&app.corp_id, &x.id) == unionid);
    let member = person.and_then(|x| w.member(&app.corp_id, &x.id)).ok_or_else(not_member)?;
    // [DT-byunion] contact_type 1 = 企业外部联系人.
    Ok(top_ok(json!({"contact_type": i32::from(member.external), "userid": member.userid})))
}

/// `POST /topapi/v2/user/get` [DT-uget].
fn user_get(w: &World, app: &App, p: &HashMap<String, String>) -> Result<Value, Value> {
    let userid = required(p, "userid")?;
    let org = w.org(&app.corp_id).ok_or_else(not_member)?;
    // External contacts are not employees: 60121 here (INFERRED, strict).
    let mem = org.members.iter().find(|x| x.userid == userid && !x.external).ok_or_else(not_member)?;
    let person = w.person(&mem.person).ok_or_else(not_member)?;
    let mut r = json!({
        "userid": mem.userid, "unionid": union_id(&app.corp_id, &person.id), "name": mem.name,
        "state_code": "86", "active": true, "admin": mem.admin, "boss": false,
        "exclusive_account": false, "dept_id_list": [1],
    });
    // [DT-uget] §1.8 item 8: avatar absent for the default one; mobile/email only with their permissions.
    let (mobile, email) = (app.has("Contact.User.mobile"), app.has("Contact.User.email"));
    for (key, value, allowed) in [
        ("avatar", &person.avatar_url, true),
        ("mobile", &person.mobile, mobile),
        ("email", &person.email, email),
        ("org_email", &mem.org_email, email),
        ("title", &mem.title, true),
        ("job_number", &mem.job_number, true),
    ] {
        if let (Some(v), true) = (value, allowed) {
            r[key] = json!(v);
        }
    }
    Ok(top_ok(r))
}

/// `POST /topapi/v2/user/getuserinfo` [DT-free]: a 免登 code for the calling app's corp.
fn getuserinfo(w: &mut World, now: i64, app: &App, p: &HashMap<String, String>) -> Result<Value, Value> {
    // Missing code → 400002 (our choice; 41026 缺少tmp_auth_code belongs to the older API [DT-faq]).
    let code = required(p, "code")?;
    let gone = || top_err(40078, "不存在的临时授权码");
    // [DT-faq] 40078: unknown, expired (5 min), used, or a code of another corp; spent once presented.
    let c = w.free_codes.remove(code).ok_or_else(gone)?;
    let other_app = c.client_id.as_deref().is_some_and(|client| client != app.client_id);
    if c.corp_id != app.corp_id || other_app || now - c.issued_at >= CODE_TTL {
        return Err(gone());
    }
    // A member who left meanwhile: the code no longer names anyone in the org.
    let mem = w.internal_member(&c.corp_id, &c.person).ok_or_else(gone)?;
    Ok(top_ok(json!({
        "userid": mem.userid, "unionid": union_id(&app.corp_id, &c.person), "name": mem.name,
        "device_id": random_hex(), "sys": mem.admin, "sys_level": i32::from(mem.admin),
        "associated_unionid": "",
    })))
}
