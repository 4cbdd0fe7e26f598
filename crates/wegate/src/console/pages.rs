//! The console's pages: overview, apps, connections, users, audit. Reads come from the store; every change
//! calls the admin API's own handler, so validation and effects are the API's.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, admin, back, check_csrf, form_json, page, state_of};
use crate::api;
use crate::app::AppState;
use crate::connectors;
use crate::web::i18n::Lang;

type FormPairs = Form<Vec<(String, String)>>;

#[derive(Deserialize, Default)]
pub struct Notice {
    ok: Option<String>,
    error: Option<String>,
    /// Signs `ok` / `error` for the visitor (`super::back`): a link cannot put words on a console page.
    sig: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    kind: Option<String>,
    event: Option<String>,
    user: Option<String>,
    client: Option<String>,
    connection: Option<String>,
    days: Option<i64>,
}

/// The visitor if an admin, else the login page or 403; on POST also the form's CSRF check.
async fn visitor(app: &AppState, headers: &HeaderMap, form: Option<&[(String, String)]>) -> Result<Admin, Response> {
    let admin = admin(app, headers).await?;
    if let Some(form) = form {
        check_csrf(&admin, form)?;
    }
    Ok(admin)
}

/// The notice a redirect of this visitor's console carried: shown only with its signature.
fn notice(a: &Admin, q: &Notice) -> (Option<String>, Option<String>) {
    let sig = q.sig.as_deref().unwrap_or_default();
    let signed = |key: &str, text: &Option<String>| text.clone().filter(|t| super::notice_signed(a, key, t, sig));
    (signed("ok", &q.ok), signed("error", &q.error))
}

fn store_error(lang: Lang, e: &dyn std::fmt::Display) -> Response {
    crate::web::error::PageError::internal(lang, e).into_response()
}

/// Back to `to` with the API's verdict: `saved`, or its message.
fn verdict<T>(a: &Admin, to: &str, result: api::ApiResult<T>) -> Response {
    match result {
        Ok(_) => back(a, to, Ok("saved")),
        Err(e) => back(a, to, Err(&e.message)),
    }
}

/// The form's JSON as the API's body type, or back to `to` saying why not.
fn decode<T: serde::de::DeserializeOwned>(a: &Admin, to: &str, body: Value) -> Result<T, Response> {
    serde_json::from_value(body).map_err(|e| back(a, to, Err(&e.to_string())))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or_default()
}

// ---------------------------------------------------------------- overview

const DAY: i64 = 86_400;

pub async fn dashboard(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = app.now();
    let today = now - now.rem_euclid(DAY);
    let mut per_day = [0u64; 14];
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    'pages: for _ in 0..50 {
        let page = match app.store.list_audit(500, cursor.as_deref()).await {
            Ok(p) => p,
            Err(e) => return store_error(a.lang, &e),
        };
        for event in &page.items {
            if event.at < today - 13 * DAY {
                break 'pages;
            }
            let day = usize::try_from((today - (event.at - event.at.rem_euclid(DAY))) / DAY).unwrap_or(99);
            match event.event.as_str() {
                "login.success" if day < 14 => per_day[13 - day] += 1,
                "login.failure" => {
                    let cause = event.reason.as_deref().unwrap_or("?").split(':').next().unwrap_or("?").to_string();
                    *failures.entry(cause).or_default() += 1;
                }
                _ => {}
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let max = per_day.iter().copied().max().unwrap_or(0).max(1);
    let bars: Vec<Value> = per_day
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let height = (*n as f64 / max as f64 * 100.0).round() as i64;
            let day = today - (13 - i as i64) * DAY;
            json!({"x": i * 24 + 4, "y": 110 - height, "height": height, "count": n, "day": day_label(day)})
        })
        .collect();
    let counts = json!({
        "apps": app.store.list_apps(1000, None).await.map(|p| p.items.len()).unwrap_or(0),
        "connections": app.store.list_connections(1000, None).await.map(|p| p.items.len()).unwrap_or(0),
        "users": app.store.list_users(1000, None).await.map(|p| p.items.len()).unwrap_or(0),
    });
    let failures: Vec<Value> = failures.into_iter().map(|(k, v)| json!({"cause": k, "count": v})).collect();
    page(
        a.lang,
        StatusCode::OK,
        "console/dashboard.html",
        minijinja::context! { here => "/console", bars, failures, counts },
        Some(&a),
    )
}

fn day_label(at: i64) -> String {
    // Days since the epoch to a calendar date (UTC), for the chart's labels.
    let days = at.div_euclid(DAY);
    let (y, m, d) = crate::util::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------- apps

pub async fn apps(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let list = match app.store.list_apps(100, q.cursor.as_deref()).await {
        Ok(p) => p,
        Err(e) => return store_error(a.lang, &e),
    };
    let items: Vec<Value> =
        list.items.iter().map(|c| json!({"client_id": c.client_id, "name": c.name, "kind": c.kind.as_str()})).collect();
    page(
        a.lang,
        StatusCode::OK,
        "console/apps.html",
        minijinja::context! { here => "/console/apps", items, next => list.next, ok => notice(&a, &q).0, error => notice(&a, &q).1 },
        Some(&a),
    )
}

pub async fn create_app(State(app): State<AppState>, headers: HeaderMap, Form(form): FormPairs) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut body = form_json(&form, &["redirect_uris", "post_logout_redirect_uris"], &[]);
    if let Some(map) = body.as_object_mut() {
        map.entry("post_logout_redirect_uris").or_insert(json!([]));
    }
    let input = match decode::<api::apps::NewApp>(&a, "/console/apps", body) {
        Ok(input) => input,
        Err(r) => return r,
    };
    match api::apps::create_app(state_of(&app), a.actor.clone(), Ok(Json(input))).await {
        Ok((_, Json(created))) => app_page(&app, &a, &created.client_id, created.client_secret, (None, None)).await,
        Err(e) => back(&a, "/console/apps", Err(&e.message)),
    }
}

pub async fn app_detail(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    app_page(&app, &a, &client_id, None, notice(&a, &q)).await
}

async fn app_page(
    app: &AppState,
    a: &Admin,
    client_id: &str,
    secret: Option<String>,
    (ok, error): (Option<String>, Option<String>),
) -> Response {
    let Ok(Json(view)) = api::apps::get_app(state_of(app), Path(client_id.to_string())).await else {
        return (StatusCode::NOT_FOUND, "no such app").into_response();
    };
    let all = crate::store::all_connections(app.store.as_ref()).await.unwrap_or_default();
    let connections: Vec<Value> = all
        .iter()
        .map(|c| {
            let position = view.connections.iter().position(|id| *id == c.identifier);
            json!({"identifier": c.identifier, "display_name": c.display_name, "kind": c.kind(),
                   "enabled": position.is_some(), "position": position.map(|p| p + 1)})
        })
        .collect();
    page(
        a.lang,
        StatusCode::OK,
        "console/app.html",
        minijinja::context! {
            here => format!("/console/apps/{client_id}"),
            app => view, secret, ok, error, connections,
        },
        Some(a),
    )
}

pub async fn update_app(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut body = form_json(&form, &["redirect_uris", "post_logout_redirect_uris"], &[]);
    if let Some(map) = body.as_object_mut() {
        // An emptied field removes the back-channel URI.
        map.entry("backchannel_logout_uri").or_insert(Value::Null);
    }
    let to = format!("/console/apps/{client_id}");
    let patch = match decode::<api::apps::AppPatch>(&a, &to, body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    verdict(
        &a,
        &to,
        api::apps::update_app(state_of(&app), a.actor.clone(), Path(client_id.clone()), Ok(Json(patch))).await,
    )
}

pub async fn rotate_secret(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let patch = api::apps::AppPatch {
        name: None,
        redirect_uris: None,
        post_logout_redirect_uris: None,
        backchannel_logout_uri: None,
        rotate_secret: true,
    };
    match api::apps::update_app(state_of(&app), a.actor.clone(), Path(client_id.clone()), Ok(Json(patch))).await {
        Ok(Json(view)) => app_page(&app, &a, &client_id, view.client_secret, (None, None)).await,
        Err(e) => back(&a, &format!("/console/apps/{client_id}"), Err(&e.message)),
    }
}

pub async fn delete_app(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if field(&form, "confirm") != client_id {
        return back(&a, &format!("/console/apps/{client_id}"), Err("type the client id to confirm"));
    }
    match api::apps::delete_app(state_of(&app), a.actor.clone(), Path(client_id.clone())).await {
        Ok(_) => back(&a, "/console/apps", Ok("deleted")),
        Err(e) => back(&a, &format!("/console/apps/{client_id}"), Err(&e.message)),
    }
}

/// Enables (with an order) or disables a connection for the app.
pub async fn app_connection(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let identifier = field(&form, "identifier").to_string();
    let to = format!("/console/apps/{client_id}");
    let outcome = if field(&form, "enabled") == "true" {
        let body = match field(&form, "order") {
            "" => String::new(),
            order => match order.parse::<i64>() {
                Ok(n) => json!({"order": n}).to_string(),
                Err(_) => return back(&a, &to, Err("order must be an integer")),
            },
        };
        api::apps::associate(state_of(&app), a.actor.clone(), Path((client_id.clone(), identifier)), body.into()).await
    } else {
        api::apps::dissociate(state_of(&app), a.actor.clone(), Path((client_id.clone(), identifier))).await
    };
    verdict(&a, &to, outcome)
}

// ---------------------------------------------------------------- connections

/// Where each field comes from in WeCom's consoles (the inline field guide).
fn guide(kind: &str, field: &str, lang: Lang) -> &'static str {
    let dingtalk = kind.starts_with("dingtalk_");
    let (en, zh) = match field {
        "app_id" => (
            "Feishu developer console (open.feishu.cn/app; Lark: open.larksuite.com/app) → the app → 凭证与基础信息 → App ID (cli_…); 安全设置 → 重定向 URL = this connection's callback URL",
            "飞书开发者后台（open.feishu.cn/app；Lark：open.larksuite.com/app）→ 应用 → 凭证与基础信息 → App ID（cli_…）；安全设置 → 重定向 URL = 本登录方式的 callback URL",
        ),
        "app_secret" => ("Same page → App Secret", "同一页面 → App Secret"),
        "url" => (
            "ldaps://dc1.example.com (636) or ldap://…:389 with start_tls; Active Directory: a domain controller",
            "ldaps://dc1.example.com（636）或 ldap://…:389 加 start_tls；AD：域控制器地址",
        ),
        "start_tls" => ("true for StartTLS on an ldap:// URL", "ldap:// 地址使用 StartTLS 时填 true"),
        "ca_pem" => (
            "The CA certificate (PEM) the directory's certificate chains to (your domain's CA); empty: public roots",
            "目录服务器证书所属 CA 的证书（PEM，如域 CA）；留空使用公共根证书",
        ),
        "bind_dn" => (
            "The search account's DN (AD: CN=wegate,OU=Service Accounts,DC=example,DC=com)",
            "搜索账号的 DN（AD 如 CN=wegate,OU=Service Accounts,DC=example,DC=com）",
        ),
        "bind_password" => ("The search account's password", "搜索账号的密码"),
        "user_base_dn" => {
            ("Where people are (ou=people,dc=example,dc=org)", "人员所在位置（如 ou=people,dc=example,dc=org）")
        }
        "user_filter" => (
            "Which entries are people; AD: (&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
            "哪些条目是人员；AD 可用 (&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
        ),
        "login_attributes" => (
            "One per line: what people type (uid, mail; AD: sAMAccountName, userPrincipalName)",
            "每行一个：用户输入的登录名对应的属性（uid、mail；AD：sAMAccountName、userPrincipalName）",
        ),
        "id_attribute" => (
            "entryUUID (OpenLDAP) or objectGUID (AD): survives renames",
            "entryUUID（OpenLDAP）或 objectGUID（AD）：改名后不变",
        ),
        "encrypt_key" => (
            "事件与回调 → 加密策略 → Encrypt Key (set one: app_tickets arrive encrypted and signed)",
            "事件与回调 → 加密策略 → Encrypt Key（须设置：app_ticket 以加密和签名方式推送）",
        ),
        "verification_token" => {
            ("事件与回调 → 加密策略 → Verification Token", "事件与回调 → 加密策略 → Verification Token")
        }
        "allowed_tenants" => (
            "tenant_keys allowed to sign in, one per line (a tenant's key is in the log of its first refused sign-in); empty = nobody",
            "允许登录的企业 tenant_key，每行一个（被拒绝的首次登录会在日志中记录其 tenant_key）；留空 = 无人可登录",
        ),
        "client_id" if dingtalk => (
            "DingTalk developer console → App development → the internal app → Credentials → Client ID (AppKey); redirect URL (登录与分享) = this connection's callback URL",
            "钉钉开发者后台 → 应用开发 → 企业内部应用 → 凭证与基础信息 → Client ID（原 AppKey）；登录与分享的回调域名 = 本登录方式的 callback URL",
        ),
        "client_secret" if dingtalk => (
            "Same page → Client Secret (AppSecret); the app needs Contact.User.Read and qyapi_get_member (权限管理)",
            "同一页面 → Client Secret（原 AppSecret）；应用需申请 Contact.User.Read 与 qyapi_get_member 权限（权限管理）",
        ),
        "corp_id" if dingtalk => (
            "The organisation's CorpId (developer console home page, ding…): only its employees get in",
            "组织的 CorpId（开发者后台首页，ding…）：只有该组织的员工可以登录",
        ),
        "corp_id" => (
            "My company → Company info → Company ID (ww…); delegated: the encrypted id or the plain one",
            "我的企业 → 企业信息 → 企业ID（ww…）；代开发：密文或明文企业ID",
        ),
        "agent_id" => ("App management → the app → AgentId", "应用管理 → 应用 → AgentId"),
        "secret" => ("App management → the app → Secret (view)", "应用管理 → 应用 → Secret（查看）"),
        "scope" => (
            "snsapi_base (silent) or snsapi_privateinfo (consent: mobile, email)",
            "snsapi_base（静默）或 snsapi_privateinfo（需授权：手机、邮箱）",
        ),
        "schema" => {
            ("The app's SDK schema (wwauth…) after registering the mobile app", "注册移动应用后的 schema（wwauth…）")
        }
        "token" => ("Callback Token (random, 随机获取)", "回调 Token（随机获取）"),
        "encoding_aes_key" => {
            ("Callback EncodingAESKey, 43 characters (随机获取)", "回调 EncodingAESKey，43 位（随机获取）")
        }
        "template_id" => {
            ("Provider console → the template → template ID (dk…)", "服务商后台 → 代开发模版 → 模版ID（dk…）")
        }
        "template_secret" => ("Provider console → the template → Secret", "服务商后台 → 代开发模版 → Secret"),
        "provider_corp_id" => (
            "Provider console → App management → General settings → CorpID",
            "服务商后台 → 应用管理 → 通用开发参数 → CorpID",
        ),
        "provider_secret" => (
            "Provider console → App management → General settings → ProviderSecret",
            "服务商后台 → 应用管理 → 通用开发参数 → ProviderSecret",
        ),
        "suite_id" => ("Provider console → Login authorization → SuiteID", "服务商后台 → 登录授权 → SuiteID"),
        "suite_secret" => ("Provider console → Login authorization → Secret", "服务商后台 → 登录授权 → Secret"),
        "allowed_corps" => (
            "Corps allowed to sign in, one per line (encrypted or plain ids); empty = any",
            "允许登录的企业，每行一个（密文或明文ID）；留空为不限",
        ),
        "issuer" => (
            "The provider's issuer, exactly as its /.well-known/openid-configuration names it (Entra ID: https://login.microsoftonline.com/<tenant id>/v2.0)",
            "提供方的 issuer，须与其 /.well-known/openid-configuration 中的完全一致（Entra ID：https://login.microsoftonline.com/<租户ID>/v2.0）",
        ),
        "client_id" => (
            "The client (application) id the provider registered for wegate; redirect URI = this connection's callback URL",
            "提供方为 wegate 注册的客户端（应用）ID；回调地址 = 本登录方式的 callback URL",
        ),
        "client_secret" => ("The client secret the provider issued", "提供方签发的客户端密钥"),
        "scopes" => (
            "One per line; oidc default openid, profile, email (openid required)",
            "每行一个；oidc 默认 openid、profile、email（必须含 openid）",
        ),
        "client_auth_method" => (
            "client_secret_basic (default) or client_secret_post, as the provider accepts",
            "client_secret_basic（默认）或 client_secret_post，取决于提供方支持哪种",
        ),
        "claims" => (
            "Optional, one per line: our claim=the provider's claim (dotted path), e.g. email=upn; name, email, phone_number, preferred_username, picture",
            "可选，每行一个：本系统声明=提供方声明（可用点号路径），如 email=upn；可映射 name、email、phone_number、preferred_username、picture",
        ),
        "use_userinfo" => (
            "true (default) or false: also read the userinfo endpoint",
            "true（默认）或 false：是否同时读取 userinfo 端点",
        ),
        "required_claims" => (
            "Optional, one per line: claim=value the ID token must carry, e.g. hd=example.com (Google) or tid=<tenant id> (Entra)",
            "可选，每行一个：ID Token 必须携带的声明=值，如 hd=example.com（Google）或 tid=<租户ID>（Entra）",
        ),
        "authorization_endpoint" => ("The provider's authorization URL (https)", "提供方的授权地址（https）"),
        "token_endpoint" => ("The provider's token URL (https)", "提供方的令牌地址（https）"),
        "userinfo_endpoint" => (
            "The provider's user API URL, answering JSON for the access token (https)",
            "提供方的用户信息接口地址，以访问令牌返回 JSON（https）",
        ),
        "user_id_field" => (
            "Dotted path of the person's stable id in that JSON, e.g. id or data.user_id",
            "该 JSON 中用户稳定 ID 的点号路径，如 id 或 data.user_id",
        ),
        _ => ("", ""),
    };
    if lang == Lang::Zh { zh } else { en }
}

pub async fn connections(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let list = match app.store.list_connections(100, q.cursor.as_deref()).await {
        Ok(p) => p,
        Err(e) => return store_error(a.lang, &e),
    };
    let items: Vec<Value> = list
        .items
        .iter()
        .map(|c| {
            json!({"identifier": c.identifier, "display_name": c.display_name, "kind": c.kind(),
                        "warnings": connectors::advice::warnings(c).len()})
        })
        .collect();
    let new_kind = q.kind.clone().filter(|k| connectors::KINDS.contains(&k.as_str()));
    let fields: Vec<Value> = new_kind
        .as_deref()
        .and_then(connectors::fields_of)
        .unwrap_or_default()
        .iter()
        .map(|f| field_view(new_kind.as_deref().unwrap_or_default(), f, a.lang))
        .collect();
    page(
        a.lang,
        StatusCode::OK,
        "console/connections.html",
        minijinja::context! {
            here => "/console/connections", items, next => list.next, ok => notice(&a, &q).0, error => notice(&a, &q).1,
            kinds => connectors::KINDS, new_kind, fields,
        },
        Some(&a),
    )
}

fn field_view(kind: &str, name: &str, lang: Lang) -> Value {
    let secret = crate::store::SECRET_FIELDS.contains(&name);
    let list = LIST_FIELDS.contains(&name);
    let pairs = matches!(name, "claims" | "required_claims");
    json!({"name": name, "guide": guide(kind, name, lang), "secret": secret, "list": list, "pairs": pairs})
}

/// Fields a form gives one per line.
const LIST_FIELDS: &[&str] = &["allowed_corps", "allowed_tenants", "scopes", "login_attributes"];

/// The connection body of a form: its fields named as in the API, nested objects flattened as `a.b`.
fn connection_body(form: &[(String, String)], create: bool) -> Value {
    let mut body = form_json(form, LIST_FIELDS, &["login_only", "trust_email"]);
    let Some(map) = body.as_object_mut() else { return body };
    let mode = map.remove("association.mode");
    let fields: Vec<Value> =
        form.iter().filter(|(k, _)| k == "association.fields").map(|(_, v)| Value::String(v.clone())).collect();
    map.remove("association.fields");
    if let Some(Value::String(mode)) = mode {
        map.insert("association".into(), json!({"mode": mode, "fields": fields}));
    }
    let filename = map.remove("domain_verification.filename");
    let content = map.remove("domain_verification.content");
    if let (Some(filename), Some(content)) = (filename, content) {
        map.insert("domain_verification".into(), json!({"filename": filename, "content": content}));
    }
    if !create {
        map.remove("identifier");
        map.remove("kind");
        if map.get("allowed_corps").is_some_and(|v| v.as_array().is_some_and(Vec::is_empty)) {
            map.insert("allowed_corps".into(), Value::Null);
        }
    } else if map.get("allowed_corps").is_some_and(|v| v.as_array().is_some_and(Vec::is_empty)) {
        map.remove("allowed_corps");
    }
    body
}

pub async fn create_connection(State(app): State<AppState>, headers: HeaderMap, Form(form): FormPairs) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let kind = field(&form, "kind").to_string();
    let input = match decode(&a, &format!("/console/connections?kind={kind}"), connection_body(&form, true)) {
        Ok(input) => input,
        Err(r) => return r,
    };
    match api::connections::create_connection(state_of(&app), a.actor.clone(), Ok(Json(input))).await {
        Ok((_, Json(view))) => back(&a, &format!("/console/connections/{}", view.identifier), Ok("created")),
        Err(e) => back(&a, &format!("/console/connections?kind={kind}"), Err(&e.message)),
    }
}

pub async fn connection_detail(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(Json(view)) = api::connections::get_connection(state_of(&app), Path(identifier.clone())).await else {
        return (StatusCode::NOT_FOUND, "no such connection").into_response();
    };
    let fields: Vec<Value> = connectors::fields_of(&view.kind)
        .unwrap_or_default()
        .iter()
        .map(|f| field_view(&view.kind, f, a.lang))
        .collect();
    // Live state: the WeCom or DingTalk token cache, and the latest upstream errors on this connection.
    let stored = app.store.get_connection(&identifier).await;
    // What to paste where: WeCom's trusted domain, or only the redirect URI for another provider.
    let wecom = matches!(&stored, Ok(Some(c)) if connectors::provider_name(c).is_none());
    let token_cached = match stored {
        Ok(Some(c)) => match (c.settings.corp_app(), c.settings.dingtalk()) {
            (Some((corp, secret)), _) => app
                .wecom
                .cached_token_expiry(&wecom::CorpApp { corp_id: corp.into(), secret: secret.into() })
                .await
                .map(|at| at - app.now()),
            (None, Some(s)) => {
                app.dingtalk.cached_token_expiry(&connectors::dingtalk::credential(s)).await.map(|at| at - app.now())
            }
            (None, None) => None,
        },
        _ => None,
    };
    let mut errors: Vec<Value> = Vec::new();
    if let Ok(page) = app.store.list_audit(500, None).await {
        for e in
            page.items.iter().filter(|e| e.connection.as_deref() == Some(&identifier) && e.event == "login.failure")
        {
            if errors.len() < 5 {
                errors.push(json!({"at": e.at, "reason": e.reason}));
            }
        }
    }
    let view = serde_json::to_value(&view).unwrap_or(Value::Null);
    page(
        a.lang,
        StatusCode::OK,
        "console/connection.html",
        minijinja::context! {
            here => format!("/console/connections/{identifier}"),
            c_view => view, fields, ok => notice(&a, &q).0, error => notice(&a, &q).1, token_cached, errors, wecom,
        },
        Some(&a),
    )
}

pub async fn update_connection(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let to = format!("/console/connections/{identifier}");
    let input = match decode::<api::connections::ConnectionBody>(&a, &to, connection_body(&form, false)) {
        Ok(input) => input,
        Err(r) => return r,
    };
    verdict(
        &a,
        &to,
        api::connections::update_connection(state_of(&app), a.actor.clone(), Path(identifier.clone()), Ok(Json(input)))
            .await,
    )
}

/// An `ldap` connection's "test connection": the search account's bind and what its user filter finds, said
/// on the connection's page.
pub async fn test_connection(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let to = format!("/console/connections/{identifier}");
    let settings = match app.store.get_connection(&identifier).await {
        Ok(Some(c)) => match c.settings {
            crate::store::KindSettings::Ldap(s) => s,
            _ => return back(&a, &to, Err("only an ldap connection has a connection test")),
        },
        Ok(None) => return back(&a, "/console/connections", Err("no such connection")),
        Err(e) => return store_error(a.lang, &e),
    };
    match connectors::ldap::test(&settings).await {
        Ok(found) => back(&a, &to, Ok(&found)),
        Err(why) => back(&a, &to, Err(&crate::util::loggable(&why))),
    }
}

pub async fn delete_connection(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if field(&form, "confirm") != identifier {
        return back(&a, &format!("/console/connections/{identifier}"), Err("type the identifier to confirm"));
    }
    match api::connections::delete_connection(state_of(&app), a.actor.clone(), Path(identifier.clone())).await {
        Ok(_) => back(&a, "/console/connections", Ok("deleted")),
        Err(e) => back(&a, &format!("/console/connections/{identifier}"), Err(&e.message)),
    }
}

// ---------------------------------------------------------------- users

pub async fn users(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let needle = q.q.clone().unwrap_or_default().to_lowercase();
    let mut items: Vec<Value> = Vec::new();
    let mut cursor = q.cursor.clone();
    let mut next = None;
    // A search walks the pages until it has a page of matches.
    for _ in 0..20 {
        let page = match app.store.list_users(100, cursor.as_deref()).await {
            Ok(p) => p,
            Err(e) => return store_error(a.lang, &e),
        };
        for u in page.items {
            let text = [&u.username, &u.email, &u.phone, &u.name]
                .iter()
                .filter_map(|v| v.as_deref())
                .chain(std::iter::once(u.id.as_str()))
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            if needle.is_empty() || text.contains(&needle) {
                items.push(json!({"id": u.id, "username": u.username, "email": u.email, "name": u.name,
                                  "disabled": u.disabled, "admin": u.admin}));
            }
        }
        next = page.next;
        if items.len() >= 50 || next.is_none() {
            break;
        }
        cursor = next.clone();
    }
    page(
        a.lang,
        StatusCode::OK,
        "console/users.html",
        minijinja::context! { here => "/console/users", items, next, q => q.q, ok => notice(&a, &q).0, error => notice(&a, &q).1 },
        Some(&a),
    )
}

pub async fn create_user(State(app): State<AppState>, headers: HeaderMap, Form(form): FormPairs) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = form_json(&form, &[], &["admin", "email_verified"]);
    let input = match decode(&a, "/console/users", body) {
        Ok(input) => input,
        Err(r) => return r,
    };
    match api::users::create_user(state_of(&app), a.actor.clone(), Ok(Json(input))).await {
        Ok((_, Json(view))) => back(&a, &format!("/console/users/{}", view.id), Ok("created")),
        Err(e) => back(&a, "/console/users", Err(&e.message)),
    }
}

pub async fn user_detail(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(Json(view)) = api::users::get_user(state_of(&app), Path(id.clone())).await else {
        return (StatusCode::NOT_FOUND, "no such user").into_response();
    };
    let now = app.now();
    let grants: Vec<Value> = app
        .store
        .user_grant_origins(&id, now)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(
            |g| json!({"client_id": g.client_id, "connection": g.connection, "sid": g.sid, "created_at": g.created_at}),
        )
        .collect();
    let sessions: Vec<Value> = app
        .store
        .user_sessions(&id, now)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| json!({"sid": s.sid, "connection": s.connection, "amr": s.amr, "at": day_label(s.auth_time), "expires": day_label(s.expires_at)}))
        .collect();
    let user = serde_json::to_value(&view).unwrap_or(Value::Null);
    page(
        a.lang,
        StatusCode::OK,
        "console/user.html",
        minijinja::context! { here => format!("/console/users/{id}"), user, grants, sessions, ok => notice(&a, &q).0, error => notice(&a, &q).1 },
        Some(&a),
    )
}

/// `disable`, `enable`, `delete` (confirmed), `password`, `admin` (grant or revoke).
pub async fn user_action(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): FormPairs,
) -> Response {
    let a = match visitor(&app, &headers, Some(&form)).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let to = format!("/console/users/{id}");
    match action.as_str() {
        "disable" => {
            verdict(&a, &to, api::users::disable_user(state_of(&app), a.actor.clone(), Path(id.clone())).await)
        }
        "enable" => verdict(&a, &to, api::users::enable_user(state_of(&app), a.actor.clone(), Path(id.clone())).await),
        "delete" if field(&form, "confirm") == id => {
            match api::users::delete_user(state_of(&app), a.actor.clone(), Path(id.clone())).await {
                Ok(_) => back(&a, "/console/users", Ok("deleted")),
                Err(e) => back(&a, &to, Err(&e.message)),
            }
        }
        "delete" => back(&a, &to, Err("type the user id to confirm")),
        "password" | "admin" => {
            let patch = api::users::UserPatch {
                admin: (action == "admin").then(|| field(&form, "admin") == "true"),
                password: (action == "password").then(|| field(&form, "password").to_string()),
                name: None,
            };
            verdict(
                &a,
                &to,
                api::users::update_user(state_of(&app), a.actor.clone(), Path(id.clone()), Ok(Json(patch))).await,
            )
        }
        _ => (StatusCode::NOT_FOUND, "no such action").into_response(),
    }
}

// ---------------------------------------------------------------- audit

pub async fn audit(State(app): State<AppState>, headers: HeaderMap, Query(q): Query<Notice>) -> Response {
    let a = match visitor(&app, &headers, None).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let since = app.now() - q.days.unwrap_or(30).clamp(1, 3650) * DAY;
    let matches = |value: &Option<String>, wanted: &Option<String>| {
        wanted.as_deref().filter(|w| !w.is_empty()).is_none_or(|w| value.as_deref() == Some(w))
    };
    let mut items: Vec<Value> = Vec::new();
    let mut cursor = q.cursor.clone();
    let mut next = None;
    'pages: for _ in 0..20 {
        let page = match app.store.list_audit(500, cursor.as_deref()).await {
            Ok(p) => p,
            Err(e) => return store_error(a.lang, &e),
        };
        for e in &page.items {
            if e.at < since {
                next = None;
                break 'pages;
            }
            let event_ok = q.event.as_deref().filter(|w| !w.is_empty()).is_none_or(|w| e.event.starts_with(w));
            if event_ok
                && matches(&e.user_id, &q.user)
                && matches(&e.client_id, &q.client)
                && matches(&e.connection, &q.connection)
            {
                items.push(json!({"at": day_label(e.at), "time": e.at, "event": e.event, "user": e.user_id,
                                  "client": e.client_id, "connection": e.connection, "reason": e.reason}));
                if items.len() >= 100 {
                    next = Some(e.id.to_string());
                    break 'pages;
                }
            }
        }
        next = page.next.clone();
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    page(
        a.lang,
        StatusCode::OK,
        "console/audit.html",
        minijinja::context! {
            here => "/console/audit", items, next,
            event => q.event, user => q.user, client => q.client, connection => q.connection, days => q.days.unwrap_or(30),
        },
        Some(&a),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates_of_days() {
        assert_eq!(day_label(0), "1970-01-01");
        assert_eq!(day_label(1_700_000_000), "2023-11-14");
    }
}
