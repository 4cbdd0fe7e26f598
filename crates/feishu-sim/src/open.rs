//! `/open` = open.feishu.cn, except the v2 token endpoint (`oauth.rs`): app and tenant tokens [FS-aat-int]
//! [FS-tat-int][FS-aat][FS-tat][FS-resend], `authen/v1/user_info` [FS-uinfo], and `contact/v3/users/{id}`.
//! Errors are HTTP 200 + `{code, msg}` (§2.0); unknown paths 404.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::seed::{App, AppKind, UserStatus, open_id, union_id};
use crate::state::{Holder, Inner, World};
use crate::{Shared, events, is_json, oauth, query};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/open-apis/authen/v2/oauth/token", post(oauth::token))
        .route("/open-apis/auth/v3/app_access_token/internal", v3_route(V3::AppInternal))
        .route("/open-apis/auth/v3/tenant_access_token/internal", v3_route(V3::TenantInternal))
        .route("/open-apis/auth/v3/app_access_token", v3_route(V3::AppStore))
        .route("/open-apis/auth/v3/tenant_access_token", v3_route(V3::TenantStore))
        .route("/open-apis/auth/v3/app_ticket/resend", post(resend))
        .route("/open-apis/authen/v1/user_info", get(user_info))
        .route("/open-apis/contact/v3/users/{id}", get(contact_user))
        .fallback(|| async { StatusCode::NOT_FOUND })
}

/// An open.feishu.cn error: HTTP 200 + `{code, msg}`.
pub(crate) struct OpenErr(pub(crate) i64, pub(crate) &'static str);

impl IntoResponse for OpenErr {
    fn into_response(self) -> Response {
        Json(json!({"code": self.0, "msg": self.1})).into_response()
    }
}

// Codes of the auth/v3 family [FS-err]. Which one Feishu answers for each case is UNCONFIRMED unless cited.
const BAD_PARAM: OpenErr = OpenErr(10003, "invalid param");
// The brief's pick; [FS-err] also lists 10015 "wrong app secret" — 10014 is what clients see in the wild.
const BAD_SECRET: OpenErr = OpenErr(10014, "app secret invalid");
const NOT_CUSTOM: OpenErr = OpenErr(10012, "get app access token fail: internal endpoints are for custom apps");
const NOT_CUSTOM_T: OpenErr = OpenErr(10013, "get tenant access token fail: internal endpoints are for custom apps");
const NOT_STORE: OpenErr = OpenErr(10012, "get app access token fail: this endpoint is for marketplace apps");
// [FS-aat] the ticket must be the latest pushed one; an older or unknown one is refused (UNCONFIRMED, strict).
const BAD_TICKET: OpenErr = OpenErr(10012, "get app access token fail: app_ticket is invalid or not the latest");
// [FS-err] 99991661 no token, 99991663 invalid tenant token or wrong type, 99991664 invalid app token,
// 99991668 invalid user token.
const NO_TOKEN: OpenErr = OpenErr(99991661, "Missing access token for authorization.");
const BAD_TENANT_TOKEN: OpenErr =
    OpenErr(99991663, "Invalid access token for authorization: a tenant_access_token is required.");
const BAD_APP_TOKEN: OpenErr = OpenErr(99991664, "Invalid app access token.");

/// [FS-aat-int] the body is JSON (`Content-Type: application/json; charset=utf-8` is fixed); else 10003.
fn json_body(headers: &HeaderMap, raw: &[u8]) -> Result<Map<String, Value>, OpenErr> {
    match serde_json::from_slice(raw) {
        Ok(Value::Object(m)) if is_json(headers) => Ok(m),
        _ => Err(BAD_PARAM),
    }
}

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, OpenErr> {
    body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or(BAD_PARAM)
}

/// The app named by `{app_id, app_secret}`, with a right secret.
fn credentials(w: &World, body: &Map<String, Value>) -> Result<App, OpenErr> {
    let app = w.app(field(body, "app_id")?).ok_or(OpenErr(10003, "invalid app_id"))?;
    if app.app_secret != field(body, "app_secret")? {
        return Err(BAD_SECRET);
    }
    Ok(app.clone())
}

fn ok(fields: Value) -> Json<Value> {
    let mut out = json!({"code": 0, "msg": "ok"});
    if let (Some(o), Value::Object(f)) = (out.as_object_mut(), fields) {
        o.extend(f);
    }
    Json(out)
}

/// The four token endpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum V3 {
    AppInternal,
    TenantInternal,
    AppStore,
    TenantStore,
}

fn v3_route(kind: V3) -> MethodRouter<Shared> {
    post(move |State(inner): State<Shared>, headers: HeaderMap, body: Bytes| async move {
        v3_token(&inner, &headers, &body, kind)
    })
}

/// `POST auth/v3/{app,tenant}_access_token[/internal]`; the lifetime rule is `World::app_level_token`'s.
fn v3_token(inner: &Inner, headers: &HeaderMap, raw: &[u8], kind: V3) -> Result<Json<Value>, OpenErr> {
    let body = json_body(headers, raw)?;
    let now = inner.now();
    let mut w = inner.world();
    if kind == V3::TenantStore {
        // [FS-tat] a marketplace app's app_access_token and a tenant that installed the app (§2.7 item 9).
        let (app_token, tenant) = (field(&body, "app_access_token")?, field(&body, "tenant_key")?);
        let Some(Holder::App(app_id)) = w.live(app_token, now).cloned() else {
            return Err(BAD_APP_TOKEN);
        };
        let app = w.app(&app_id).cloned().ok_or(BAD_APP_TOKEN)?;
        if app.kind != AppKind::Marketplace {
            return Err(OpenErr(10013, "get tenant access token fail: this endpoint is for marketplace apps"));
        }
        // [FS-err] 11210 "app usage info not exist": not installed in that tenant.
        if !app.installed_in.iter().any(|t| t == tenant) {
            return Err(OpenErr(11210, "app usage info not exist: the tenant has not installed the app"));
        }
        let (token, expire) = w.app_level_token(&app_id, Some(tenant), now);
        w.stats.tenant_token_fetches += 1;
        return Ok(ok(json!({"tenant_access_token": token, "expire": expire})));
    }
    let app = credentials(&w, &body)?;
    if kind == V3::AppStore {
        // [FS-aat] marketplace apps, with the latest app_ticket.
        if app.kind != AppKind::Marketplace {
            return Err(NOT_STORE);
        }
        if w.tickets.get(&app.app_id).map(String::as_str) != Some(field(&body, "app_ticket")?) {
            return Err(BAD_TICKET);
        }
        let (token, expire) = w.app_level_token(&app.app_id, None, now);
        w.stats.app_token_fetches += 1;
        return Ok(ok(json!({"app_access_token": token, "expire": expire})));
    }
    // [FS-aat-int][FS-tat-int] custom apps, their own tenant.
    if app.kind != AppKind::Custom {
        return Err(if kind == V3::AppInternal { NOT_CUSTOM } else { NOT_CUSTOM_T });
    }
    let (tenant_token, tenant_expire) = w.app_level_token(&app.app_id, Some(&app.owner_tenant), now);
    if kind == V3::TenantInternal {
        w.stats.tenant_token_fetches += 1;
        return Ok(ok(json!({"tenant_access_token": tenant_token, "expire": tenant_expire})));
    }
    // [FS-aat-int] the response also carries a tenant_access_token. The doc's example shows the same string for
    // both; here they differ (strict: a client that sends one where the other belongs breaks, §2.6).
    let (token, expire) = w.app_level_token(&app.app_id, None, now);
    w.stats.app_token_fetches += 1;
    Ok(ok(json!({"app_access_token": token, "expire": expire, "tenant_access_token": tenant_token})))
}

/// `POST auth/v3/app_ticket/resend` [FS-resend]: marketplace apps; triggers an immediate push.
async fn resend(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, OpenErr> {
    let body = json_body(&headers, &body)?;
    let app = credentials(&inner.world(), &body)?;
    if app.kind != AppKind::Marketplace {
        // [FS-err] 10016: custom apps cannot resend.
        return Err(OpenErr(10016, "app resend fail: custom apps get no app_ticket"));
    }
    let inner = inner.clone();
    tokio::spawn(async move {
        if let Err(e) = events::push_ticket(&inner, &app.app_id).await {
            tracing::warn!(app_id = app.app_id, error = e, "feishu-sim: app_ticket resend push failed");
        }
    });
    Ok(ok(json!({})))
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, OpenErr> {
    let v = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(NO_TOKEN)?;
    v.strip_prefix("Bearer ").filter(|t| !t.is_empty()).ok_or(NO_TOKEN)
}

/// `GET authen/v1/user_info` [FS-uinfo], a user token only.
async fn user_info(State(inner): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, OpenErr> {
    let token = bearer(&headers)?;
    let now = inner.now();
    let w = inner.world();
    let (app_id, user, scopes) = match w.live(token, now) {
        Some(Holder::User { app_id, user, scopes }) => (app_id, user, scopes),
        // An app or tenant token where a user token belongs: 99991668 (our pick among [FS-err]'s codes).
        Some(_) => {
            return Err(OpenErr(99991668, "Invalid access token for authorization: a user_access_token is required."));
        }
        // [FS-uinfo] 20005 for an unknown and an expired user token alike.
        None => return Err(OpenErr(20005, "invalid access_token")),
    };
    let ((tenant, u), app) = match (w.user(user), w.app(app_id)) {
        (Some(tu), Some(app)) => (tu, app),
        _ => return Err(OpenErr(20008, "user not exist")),
    };
    // [FS-uinfo] 20021 resigned, 20022 frozen.
    match u.status {
        UserStatus::Resigned => return Err(OpenErr(20021, "user resigned")),
        UserStatus::Frozen => return Err(OpenErr(20022, "user frozen")),
        UserStatus::Active => {}
    }
    let avatar = u.avatar_url.clone().unwrap_or_default();
    let sized = |s: &str| if avatar.is_empty() { String::new() } else { format!("{avatar}?size={s}") };
    let mut data = json!({
        "name": u.name,
        "en_name": u.en_name.clone().unwrap_or_default(),
        "avatar_url": avatar,
        "avatar_thumb": sized("72x72"),
        "avatar_middle": sized("240x240"),
        "avatar_big": sized("640x640"),
        "open_id": open_id(app_id, user),
        "union_id": union_id(&app.owner_tenant, user),
        "tenant_key": tenant.tenant_key,
    });
    // [FS-uinfo] each of these only with its scope in the token (granted), and absent — not empty — otherwise.
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let employee = has("contact:user.employee:readonly");
    let optional = [
        ("user_id", Some(&u.user_id), has("contact:user.employee_id:readonly")),
        ("email", u.email.as_ref(), has("contact:user.email:readonly")),
        ("mobile", u.mobile.as_ref(), has("contact:user.phone:readonly")),
        ("enterprise_email", u.enterprise_email.as_ref(), employee),
        ("employee_no", u.employee_no.as_ref(), employee || has("contact:user.employee_number:read")),
    ];
    for (name, value, allowed) in optional {
        if let (Some(v), true) = (value, allowed) {
            data[name] = json!(v);
        }
    }
    Ok(Json(json!({"code": 0, "msg": "success", "data": data})))
}

/// `GET contact/v3/users/{id}?user_id_type=open_id|union_id|user_id` with a tenant token of the user's
/// tenant. User tokens, which the doc also allows, are refused: the broker's re-check uses the app identity.
async fn contact_user(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, OpenErr> {
    let token = bearer(&headers)?;
    let q = query(raw.as_deref());
    let now = inner.now();
    let w = inner.world();
    let Some(Holder::Tenant { app_id, tenant_key }) = w.live(token, now) else {
        return Err(BAD_TENANT_TOKEN);
    };
    let app = w.app(app_id).ok_or(BAD_TENANT_TOKEN)?;
    let kind = q.get("user_id_type").map_or("open_id", String::as_str);
    // Ids are per app (open_id), per developer (union_id) or per tenant (user_id) [FS-terms].
    let matches = |tenant: &str, u: &crate::seed::User| match kind {
        "open_id" => open_id(app_id, &u.id) == id,
        "union_id" => union_id(&app.owner_tenant, &u.id) == id,
        _ => tenant == tenant_key && u.user_id == id,
    };
    if !["open_id", "union_id", "user_id"].contains(&kind) {
        return Err(OpenErr(40001, "param error: user_id_type"));
    }
    let found = w.seed.tenants.iter().find_map(|t| {
        let u = t.users.iter().find(|u| app.installed_in.contains(&t.tenant_key) && matches(&t.tenant_key, u))?;
        Some((t, u))
    });
    let Some((tenant, u)) = found else {
        // Not an id of this app's users (another app's open_id, say): 41012 "user id invalid" [contact get].
        return Err(OpenErr(41012, "user id invalid error"));
    };
    // 41050 "no user authority" [contact get]: a user of another tenant, or outside the app's availability (our
    // stand-in for the contact scope, which Feishu lets follow availability).
    if &tenant.tenant_key != tenant_key || !app.available(&u.id) {
        return Err(OpenErr(41050, "no user authority"));
    }
    let mut user = json!({
        "open_id": open_id(app_id, &u.id),
        "union_id": union_id(&app.owner_tenant, &u.id),
        "name": u.name,
        "status": {
            "is_frozen": u.status == UserStatus::Frozen,
            "is_resigned": u.status == UserStatus::Resigned,
            "is_activated": true,
            "is_exited": false,
            "is_unjoin": false,
        },
    });
    if app.scopes.iter().any(|s| s == "contact:user.employee_id:readonly") {
        user["user_id"] = json!(u.user_id);
    }
    Ok(Json(json!({"code": 0, "msg": "success", "data": {"user": user}})))
}
