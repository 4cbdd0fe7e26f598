//! `/api` = api.dingtalk.com, the new API family [DT-err]: JSON bodies, the token in the
//! `x-acs-dingtalk-access-token` header, errors as HTTP 4xx + `{code, message, requestid}` — never `errcode`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::state::{CODE_TTL, Holder, open_id, request_id, union_id};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/v1.0/oauth2/accessToken", post(access_token).fallback(not_found))
        .route("/v1.0/oauth2/{corp_id}/token", post(corp_token).fallback(not_found))
        .route("/v1.0/oauth2/userAccessToken", post(user_access_token).fallback(not_found))
        .route("/v1.0/contact/users/me", get(me).fallback(not_found))
        .fallback(not_found)
}

/// An api.dingtalk.com error answer.
pub(crate) struct ApiErr {
    status: u16,
    code: &'static str,
    message: &'static str,
    required_scope: Option<&'static str>,
}

const fn err(status: u16, code: &'static str, message: &'static str) -> ApiErr {
    ApiErr { status, code, message, required_scope: None }
}

/// The body of an api-style error (also what `/_sim/faults` with `status` answers).
pub(crate) fn error_response(status: u16, code: &str, message: &str, extra: Option<(&str, Value)>) -> Response {
    let mut body = json!({"code": code, "message": message, "requestid": request_id()});
    if let Some((k, v)) = extra {
        body[k] = v;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let extra = self.required_scope.map(|s| ("accessdenieddetail", json!({"requiredScopes": [s]})));
        error_response(self.status, self.code, self.message, extra)
    }
}

// [DT-atok] wrong appKey/appSecret (also clientId/clientSecret of userAccessToken).
const BAD_CLIENT: ApiErr = err(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret");
// [DT-err] 400/409 invalidCode; UNCONFIRMED that userAccessToken answers it: strict reading, always 400.
const BAD_CODE: ApiErr = err(400, "invalidCode", "无效的授权码");
// [DT-err] satorijs/satori#240: unknown or expired token.
const BAD_TOKEN: ApiErr = err(400, "InvalidAuthentication", "不合法的access_token");
// [DT-cfaq] casdoor PR #4469: an app token, or an app without Contact.User.Read.
const DENIED: ApiErr = ApiErr {
    status: 403,
    code: "Forbidden.AccessDenied.AccessTokenPermissionDenied",
    message: "没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp-server/add-api-permission",
    required_scope: Some("Contact.User.Read"),
};

async fn not_found() -> ApiErr {
    err(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
}

/// [DT-err] aliyun/alibabacloud-php-sdk#36: without a JSON content type and a JSON object body the
/// gateway answers 400 "body is mandatory for this action".
fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiErr> {
    let missing = err(400, "MissingParameter", "body is mandatory for this action");
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) if is_json => Ok(m),
        _ => Err(missing),
    }
}

/// A required string field; absent (or not a string) → 400 MissingParameter (our choice of code).
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, ApiErr> {
    body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or(err(
        400,
        "MissingParameter",
        "a required parameter is missing",
    ))
}

/// `POST /v1.0/oauth2/accessToken` [DT-atok].
async fn access_token(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, ApiErr> {
    let body = json_body(&headers, &body)?;
    let (key, secret) = (field(&body, "appKey")?, field(&body, "appSecret")?);
    let now = inner.now();
    let mut w = inner.world();
    if w.app_with(key, secret).is_none() {
        return Err(BAD_CLIENT);
    }
    // [DT-atok] one token per app, the same while valid; expireIn counts down (no renewal: strict).
    let (token, left) = w.app_token(key, now);
    Ok(Json(json!({"accessToken": token, "expireIn": left})))
}

// [DT-corptok] = 获取应用的 Access Token, https://open.dingtalk.com/document/development/api-gettoken (updated
// 2026-06-08): the documented error codes with their HTTP status; the message texts are ours.
const CORP_BAD_CLIENT: ApiErr = err(400, "invalid.client", "无效的client_id或client_secret");
const CORP_BAD_GRANT: ApiErr = err(400, "unsupported.grant.type", "不支持的grant_type");
const CORP_NOT_THE_APPS: ApiErr = err(401, "unauthorized.client", "应用未在该组织中授权");
// [DT-corptok] observed for a corpId DingTalk does not know: HTTP 500 with this code and message.
const CORP_UNKNOWN: ApiErr = err(500, "unknownError", "未知错误");

/// `POST /v1.0/oauth2/{corpId}/token` [DT-corptok]: the app token asked for an organisation — the corp the app
/// runs in ("企业内部应用：填写本企业 corpId"). JSON `{client_id, client_secret, grant_type}`, snake_case both ways.
/// The order of the checks (client, then the organisation, then the app's place in it) is our choice.
async fn corp_token(
    State(inner): State<Shared>,
    Path(corp_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiErr> {
    let body = json_body(&headers, &body)?;
    // Absent or anything but client_credentials: unsupported (strict: the documented code for both).
    if body.get("grant_type").and_then(Value::as_str) != Some("client_credentials") {
        return Err(CORP_BAD_GRANT);
    }
    let (id, secret) = (field(&body, "client_id")?, field(&body, "client_secret")?);
    let now = inner.now();
    let mut w = inner.world();
    let Some(app) = w.app_with(id, secret) else {
        return Err(CORP_BAD_CLIENT);
    };
    if w.org(&corp_id).is_none() {
        return Err(CORP_UNKNOWN);
    }
    // An internal app runs in the organisation that owns it, and in no other.
    if app.corp_id != corp_id {
        return Err(CORP_NOT_THE_APPS);
    }
    // The same per-app token as accessToken and gettoken, counted alike [DT-atok].
    let (token, left) = w.app_token(id, now);
    Ok(Json(json!({"access_token": token, "expires_in": left})))
}

/// `POST /v1.0/oauth2/userAccessToken` [DT-utok].
async fn user_access_token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiErr> {
    let body = json_body(&headers, &body)?;
    let grant = field(&body, "grantType")?;
    if grant != "authorization_code" && grant != "refresh_token" {
        return Err(err(400, "invalidParameter", "grantType 参数不合法"));
    }
    let (id, secret) = (field(&body, "clientId")?, field(&body, "clientSecret")?);
    let now = inner.now();
    let mut w = inner.world();
    if w.app_with(id, secret).is_none() {
        return Err(BAD_CLIENT);
    }
    if grant == "refresh_token" {
        // Refresh tokens rotate (UNCONFIRMED; strict): the presented one is gone after this call.
        let g = w.refresh.remove(field(&body, "refreshToken")?);
        let g = g.filter(|g| g.client_id == id && g.expires_at > now).ok_or(err(
            400,
            "invalidRefreshToken",
            "无效的refreshToken",
        ))?;
        let (token, refresh, left) = w.user_token(id, &g.person, now);
        return Ok(Json(json!({"accessToken": token, "refreshToken": refresh, "expireIn": left})));
    }
    // [DT-jsapi][DT-free] single use: a presented code is spent whatever the outcome, so a replay fails
    // even after a successful first redemption; bound to its client_id; 300 s.
    let code = w.login_codes.remove(field(&body, "code")?);
    let code = code.filter(|c| c.client_id == id && now - c.issued_at < CODE_TTL).ok_or(BAD_CODE)?;
    let (token, refresh, left) = w.user_token(id, &code.person, now);
    let mut out = json!({"accessToken": token, "refreshToken": refresh, "expireIn": left});
    // [DT-utok][DT-cfaq] corpId only when the login used scope `openid corpid`: the org the person picked.
    if let Some(corp) = code.corp {
        out["corpId"] = json!(corp);
    }
    Ok(Json(out))
}

/// `GET /v1.0/contact/users/me` [DT-me].
async fn me(State(inner): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiErr> {
    let now = inner.now();
    let w = inner.world();
    let token = headers.get("x-acs-dingtalk-access-token").and_then(|v| v.to_str().ok());
    let token = token.and_then(|t| w.tokens.get(t)).filter(|t| t.expires_at > now).ok_or(BAD_TOKEN)?;
    // [DT-cfaq] an app token here is a permission error, not an authentication error (§1.8 item 5).
    let Holder::User { client_id, person } = &token.holder else {
        return Err(DENIED);
    };
    let app = w.app(client_id).ok_or(BAD_TOKEN)?;
    // [DT-me] casdoor PR #4469: Contact.User.Read missing → 403 with requiredScopes.
    if !app.has("Contact.User.Read") {
        return Err(DENIED);
    }
    let p = w.person(person).ok_or(err(404, "invalidParameter.user.notFound", "用户不存在"))?;
    // [DT-me] multica PR #7486: account-level data whatever the org; no userid here.
    let mut out = json!({
        "nick": p.nick,
        "openId": open_id(client_id, &p.id),
        "unionId": union_id(&app.corp_id, &p.id),
        "stateCode": "86",
        "visitor": false,
    });
    // [DT-me] §1.8 item 8: fields absent rather than empty; mobile only with its permission.
    if let Some(a) = &p.avatar_url {
        out["avatarUrl"] = json!(a);
    }
    if let Some(e) = &p.email {
        out["email"] = json!(e);
    }
    if let Some(m) = p.mobile.as_ref().filter(|_| app.has("Contact.User.mobile")) {
        out["mobile"] = json!(m);
    }
    Ok(Json(out))
}
