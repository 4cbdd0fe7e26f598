//! `/login` = login.dingtalk.com (the web/QR login page [DT-cred][DT-tut]) and `/jsapi/dingtalk.open.js`,
//! the in-app JSAPI stand-in that hands out 免登 codes [DT-jsapi].

use std::collections::HashMap;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use url::Url;

use crate::state::{LoginCode, World, random_hex};
use crate::{Shared, query, query_pairs};

pub(crate) fn router() -> Router<Shared> {
    // Only GET is routed, so other methods answer 405.
    Router::new().route("/oauth2/auth", get(auth)).fallback(|| async { StatusCode::NOT_FOUND })
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page around already-escaped HTML.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    (status, Html(html)).into_response()
}

/// An error page, never a redirect: the redirect_uri is not trusted yet.
fn bad(why: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "钉钉登录 — 参数错误", &format!("<p>{}</p>", esc(why)))
}

/// 302 to the registered redirect_uri with `pairs` and the echoed state.
fn found(redirect: &str, pairs: &[(&str, &str)], state: Option<&String>) -> Response {
    let Ok(mut url) = Url::parse(redirect) else {
        return bad("redirect_uri is not an absolute URL");
    };
    {
        let mut qp = url.query_pairs_mut();
        for (k, v) in pairs {
            qp.append_pair(k, v);
        }
        if let Some(s) = state {
            qp.append_pair("state", s);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /login/oauth2/auth`. Test shortcuts: `sim_person`, `sim_corp`, `sim_deny=1`.
async fn auth(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw.as_deref());
    let arg = |k: &str| q.get(k).map_or("", String::as_str);
    let now = inner.now();
    let mut w = inner.world();
    // [DT-cred] every required parameter is checked before anything is shown.
    let Some(app) = w.app(arg("client_id")).cloned() else {
        return bad("client_id 无效");
    };
    if arg("response_type") != "code" {
        return bad("response_type 必须为 code");
    }
    // [DT-cred] prompt=consent is required; Casdoor's `login consent` also contains it [C-web].
    if !arg("prompt").split(' ').any(|p| p == "consent") {
        return bad("prompt 必须包含 consent");
    }
    // [DT-cred] scope is exactly `openid` or `openid corpid`.
    let corp_scope = match arg("scope") {
        "openid" => false,
        "openid corpid" => true,
        _ => return bad("scope 只能是 openid 或 openid corpid"),
    };
    // [DT-cred] §1.8 item 12: redirect_uri must equal a registered one, byte for byte.
    let redirect = arg("redirect_uri");
    if !app.redirect_uris.iter().any(|u| u == redirect) {
        return bad("redirect_uri 与应用配置的重定向URL不一致");
    }
    // [DT-cred] failure: redirect_uri?error=…&state=….
    if arg("sim_deny") == "1" {
        return found(redirect, &[("error", "access_denied")], q.get("state"));
    }
    let person = arg("sim_person");
    if person.is_empty() {
        return picker(&w, raw.as_deref(), corp_scope);
    }
    if w.person(person).is_none() {
        return bad("sim_person: no such person");
    }
    // [DT-cred] org_type=management lists only orgs the person administers.
    let management = arg("org_type") == "management";
    let eligible: Vec<String> = w
        .orgs_of(person)
        .iter()
        .filter(|o| !management || o.members.iter().any(|m| m.person == person && m.admin))
        .map(|o| o.corp_id.clone())
        .collect();
    let corp = match (corp_scope, q.get("sim_corp")) {
        (false, _) => None,
        (true, Some(c)) if eligible.contains(c) => Some(c.clone()),
        (true, Some(_)) => return bad("sim_corp: the person cannot pick that org"),
        (true, None) if eligible.iter().any(|c| c == arg("corpId")) => Some(arg("corpId").to_owned()),
        (true, None) => eligible.first().cloned(),
    };
    let code = random_hex();
    let login = LoginCode { client_id: app.client_id, person: person.to_owned(), corp, issued_at: now };
    w.login_codes.insert(code.clone(), login);
    // [DT-cred] only `authCode` (not `code`), so a client that reads `code` breaks (§1.8 item 12).
    found(redirect, &[("authCode", &code)], q.get("state"))
}

/// The "scan" page: anyone with a DingTalk account may sign in, members of no org included.
fn picker(w: &World, raw: Option<&str>, corp_scope: bool) -> Response {
    let base: Vec<(String, String)> = query_pairs(raw).into_iter().filter(|(k, _)| !k.starts_with("sim_")).collect();
    let link = |extra: &[(&str, &str)], text: &str| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(base.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        s.extend_pairs(extra);
        format!("<li><a href=\"?{}\">{}</a></li>", esc(&s.finish()), esc(text))
    };
    let mut items = String::new();
    for p in &w.seed.people {
        items.push_str(&link(&[("sim_person", &p.id)], &format!("{} ({})", p.nick, p.id)));
        for o in w.orgs_of(&p.id).iter().filter(|_| corp_scope) {
            let text = format!("{} @ {} ({})", p.nick, o.name, o.corp_id);
            items.push_str(&link(&[("sim_person", &p.id), ("sim_corp", &o.corp_id)], &text));
        }
    }
    items.push_str(&link(&[("sim_deny", "1")], "拒绝授权 (deny)"));
    page(StatusCode::OK, "钉钉扫码登录 (dingtalk-sim)", &format!("<ul>{items}</ul>"))
}

/// The identity of the DingTalk client loading the script: `DingTalk` and `DingTalkSimPerson/<id>` in the UA.
fn ua_person(headers: &HeaderMap) -> Option<String> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let (head, tail) = ua.split_once("DingTalkSimPerson/")?;
    let id: String = tail.chars().take_while(|c| !c.is_whitespace() && *c != ';' && *c != ')').collect();
    // The marker alone does not make a DingTalk client: `DingTalk` must appear elsewhere too.
    let in_dingtalk = head.contains("DingTalk") || tail[id.len()..].contains("DingTalk");
    (in_dingtalk && !id.is_empty()).then_some(id)
}

/// `GET /jsapi/dingtalk.open.js`.
pub(crate) async fn jsapi(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let now = inner.now();
    let mut w = inner.world();
    let person = ua_person(&headers).filter(|p| w.person(p).is_some());
    // Per org: one code bound to each of its apps (the new API names the app) and one unbound (the legacy
    // `dd.runtime.permission.requestAuthCode({corpId})`).
    let mut codes: HashMap<String, HashMap<String, String>> = HashMap::new();
    if let Some(p) = &person {
        let corps: Vec<String> = w.orgs_of(p).iter().map(|o| o.corp_id.clone()).collect();
        for corp in corps {
            let apps: Vec<String> =
                w.seed.apps.iter().filter(|a| a.corp_id == corp).map(|a| a.client_id.clone()).collect();
            let mut per_app = HashMap::new();
            for client in apps.iter().map(|c| Some(c.as_str())).chain([None]) {
                if let Ok(code) = w.mint_free_code(p, &corp, client, now) {
                    per_app.insert(client.unwrap_or("*").to_string(), code);
                }
            }
            if !per_app.is_empty() {
                codes.insert(corp, per_app);
            }
        }
    }
    let codes = serde_json::to_string(&codes).unwrap_or_else(|_| "{}".into());
    let script = include_str!("dingtalk.open.js")
        .replace("__IN_DINGTALK__", if person.is_some() { "true" } else { "false" })
        .replace("__CODES__", &codes);
    let headers =
        [(header::CONTENT_TYPE, "application/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    (headers, script).into_response()
}
