//! `/accounts` = accounts.feishu.cn: the authorize page [FS-authz]. Every parameter is checked before anything
//! is shown; an error is a 400 page, never a redirect (the redirect_uri is not trusted yet).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use url::Url;

use crate::seed::App;
use crate::state::{CODE_TTL, Code, World, random_token};
use crate::{Shared, esc, page, query};

pub(crate) fn router() -> Router<Shared> {
    Router::new().route("/open-apis/authen/v1/authorize", get(authorize)).fallback(|| async { StatusCode::NOT_FOUND })
}

fn bad(why: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "飞书授权 — 参数错误", &format!("<p>{}</p>", esc(why)))
}

/// [FS-faq] the allow-list ignores `?…` and `#…` suffixes: `http://www.example.com/#/index` is matched by
/// `http://www.example.com`. Both sides are cut there and compared as parsed URLs (so that example's missing
/// `/` path matches); nothing else is loosened: other paths, ports or hosts differ.
fn allowed(app: &App, redirect: &str) -> bool {
    let norm = |s: &str| {
        let cut = &s[..s.find(['?', '#']).unwrap_or(s.len())];
        Url::parse(cut).map(|u| u.to_string()).ok()
    };
    norm(redirect).is_some_and(|r| app.redirect_uris.iter().any(|u| norm(u).as_ref() == Some(&r)))
}

/// 302 to the redirect_uri with `pairs` then `state` (absent if not given [FS-authz]); a `#fragment` stays at
/// the end, after them [FS-authz].
fn found(redirect: &str, pairs: &[(&str, &str)], state: Option<&String>) -> Response {
    let Ok(mut url) = Url::parse(redirect) else {
        return bad("redirect_uri is not an absolute URL");
    };
    {
        let mut qp = url.query_pairs_mut();
        qp.extend_pairs(pairs);
        if let Some(s) = state {
            qp.append_pair("state", s);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /accounts/open-apis/authen/v1/authorize`. Test shortcuts: `sim_user=<sim user id>`, `sim_deny=1`.
async fn authorize(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = query(raw.as_deref());
    let arg = |k: &str| q.get(k).map_or("", String::as_str);
    let now = inner.now();
    let mut w = inner.world();
    let Some(app) = w.app(arg("client_id")).cloned() else {
        return bad("client_id: 应用不存在 (app not found)");
    };
    if arg("response_type") != "code" {
        return bad("response_type 必须为 code");
    }
    let redirect = arg("redirect_uri");
    if !allowed(&app, redirect) {
        // [FS-v1] 20029 is Feishu's "invalid redirect uri".
        return bad("20029: redirect_uri 不在应用的重定向 URL 列表中");
    }
    // [FS-authz] space-separated, case-sensitive, ≤ 50, each enabled for the app (else 20027).
    let mut requested: Vec<String> = Vec::new();
    for s in arg("scope").split(' ').filter(|s| !s.is_empty()) {
        if !app.scopes.iter().any(|e| e == s) {
            return bad(&format!("20027: 应用未开通权限 {s}"));
        }
        if !requested.iter().any(|r| r == s) {
            requested.push(s.to_owned());
        }
    }
    if requested.len() > 50 {
        return bad("scope: 最多 50 个");
    }
    // [FS-authz] code_challenge_method: S256 or plain, and the default is `plain`. A method without a challenge
    // is refused (UNCONFIRMED; the stricter reading).
    let challenge = match (q.get("code_challenge").filter(|c| !c.is_empty()), q.get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => return bad("code_challenge_method without code_challenge"),
        (Some(c), None) => Some((c.clone(), false)),
        (Some(c), Some(m)) if m == "plain" => Some((c.clone(), false)),
        (Some(c), Some(m)) if m == "S256" => Some((c.clone(), true)),
        (Some(_), Some(_)) => return bad("code_challenge_method 只能是 S256 或 plain"),
    };
    if arg("sim_deny") == "1" {
        // [FS-authz] the only error a redirect carries.
        return found(redirect, &[("error", "access_denied")], q.get("state"));
    }
    let user = arg("sim_user");
    if user.is_empty() {
        return picker(&w, &app, raw.as_deref());
    }
    // A user of a tenant that has not installed the app cannot authorize it (strict; §2.4 tenant allow-list).
    match w.user(user) {
        Some((t, _)) if app.installed_in.contains(&t.tenant_key) => {}
        Some(_) => return bad("20009: 应用未在该用户的企业安装"),
        None => return bad("sim_user: no such user"),
    }
    // [FS-authz] grants are cumulative: the token carries everything the user has granted the app so far.
    let granted = w.grants.entry((app.app_id.clone(), user.to_owned())).or_default();
    for s in &requested {
        if !granted.contains(s) {
            granted.push(s.clone());
        }
    }
    let granted = granted.clone();
    // [FS-authz] code charset [A-Za-z0-9-_], "reserve ≥ 64 chars": 64 here.
    let code = random_token("", 48);
    let c = Code {
        app_id: app.app_id.clone(),
        user: user.to_owned(),
        redirect_uri: redirect.to_owned(),
        challenge,
        requested,
        granted,
        issued_at: now,
    };
    w.codes.insert(code.clone(), c);
    w.codes.retain(|_, c| now - c.issued_at < CODE_TTL * 4);
    found(redirect, &[("code", &code)], q.get("state"))
}

/// The consent page: one link per user of every tenant where the app is installed, and a deny link.
fn picker(w: &World, app: &App, raw: Option<&str>) -> Response {
    let base: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(k, _)| !k.starts_with("sim_"))
        .collect();
    let link = |extra: (&str, &str), text: &str| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(base.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        s.append_pair(extra.0, extra.1);
        format!("<li><a href=\"?{}\">{}</a></li>", esc(&s.finish()), esc(text))
    };
    let mut items = String::new();
    for t in w.seed.tenants.iter().filter(|t| app.installed_in.contains(&t.tenant_key)) {
        for u in &t.users {
            items.push_str(&link(("sim_user", &u.id), &format!("{} @ {} ({})", u.name, t.name, u.id)));
        }
    }
    items.push_str(&link(("sim_deny", "1"), "拒绝 (deny)"));
    page(StatusCode::OK, &format!("授权 {} (feishu-sim)", app.app_id), &format!("<ul>{items}</ul>"))
}
