//! The browser-facing pages: the PC login page (`/wwlogin/sso/login` and the legacy
//! `qrConnect` / `3rd_qrConnect`) and the in-app OAuth page (`/connect/oauth2/authorize`).
//!
//! Each page first validates its parameters as WeCom does — nothing redirects to a redirect_uri
//! outside the app's trusted domain — then becomes a [`Flow`]: who may pick, which code to issue
//! and where to send it. The picker shows members instead of a QR code; its buttons are links back
//! to the same page with `sim_user` (or `sim_outsider`, `sim_action=deny`), which is also the
//! shortcut tests use to skip the page.

use std::collections::HashMap;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Serialize;
use url::Url;

use crate::Shared;
use crate::domain;
use crate::state::{AppRecord, Audience, CodeScope, IssuedCode, STATUS_DISABLED, Subject};

pub(crate) mod login;
pub(crate) mod oauth;

/// Templates, compiled once.
pub(crate) fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    let templates = [
        ("base.html", include_str!("../../templates/base.html")),
        ("picker.html", include_str!("../../templates/picker.html")),
        ("error.html", include_str!("../../templates/error.html")),
        ("console.html", include_str!("../../templates/console.html")),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "wecom-sim template does not compile");
        }
    }
    env
}

/// Renders a template as an HTML page with `status`.
pub(crate) fn render(inner: &Shared, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    match inner.pages.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "wecom-sim page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "wecom-sim: page failed to render").into_response()
        }
    }
}

/// A page-level refusal, shown instead of redirecting (HTTP 400), naming the faulty parameter
/// the way WeCom does ("redirect_uri 参数错误").
#[derive(Debug)]
pub(crate) struct PageError {
    /// The parameter at fault (`data-error` attribute, for tests).
    pub(crate) field: &'static str,
    pub(crate) message: String,
    pub(crate) detail: String,
    pub(crate) detail_en: String,
}

impl PageError {
    /// `<field> 参数错误`.
    pub(crate) fn param(field: &'static str, detail: String, detail_en: String) -> PageError {
        PageError { field, message: format!("{field} 参数错误"), detail, detail_en }
    }

    pub(crate) fn render(&self, inner: &Shared, lang: &str) -> Response {
        render(
            inner,
            StatusCode::BAD_REQUEST,
            "error.html",
            context! {
                lang => lang,
                field => self.field,
                message => self.message,
                detail => self.detail,
                detail_en => self.detail_en,
            },
        )
    }
}

/// Query parameters in order (for rebuilding links) and by name (first wins).
pub(crate) struct Query {
    pub(crate) pairs: Vec<(String, String)>,
    pub(crate) map: HashMap<String, String>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
        let mut map = HashMap::new();
        for (k, v) in &pairs {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Query { pairs, map }
    }

    /// A parameter, `None` when absent or empty.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Whether a parameter is present at all (even empty).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn lang(&self) -> &str {
        match self.get("lang") {
            Some("en") => "en",
            _ => "zh",
        }
    }

    /// Link to the same page with the `sim_*` parameters replaced by `extra`.
    fn link(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> =
            self.pairs.iter().filter(|(k, _)| !k.starts_with("sim_")).map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pairs.extend_from_slice(extra);
        format!("{path}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    }
}

/// Validates `redirect_uri` against a trusted domain.
pub(crate) fn check_redirect(q: &Query, trusted_domain: &str) -> Result<Url, PageError> {
    let url = redirect_param(q)?;
    if !domain::admits(trusted_domain, &url) {
        return Err(redirect_outside(&url, trusted_domain));
    }
    Ok(url)
}

/// `redirect_uri`, present and an absolute http(s) URL.
pub(crate) fn redirect_param(q: &Query) -> Result<Url, PageError> {
    let raw = q.get("redirect_uri").ok_or_else(|| {
        PageError::param("redirect_uri", "缺少 redirect_uri。".to_owned(), "redirect_uri is missing.".to_owned())
    })?;
    let url = domain::parse_redirect(raw).ok_or_else(|| {
        PageError::param(
            "redirect_uri",
            format!("redirect_uri 不是合法的 http(s) 地址：{raw}"),
            format!("redirect_uri is not an absolute http(s) URL: {raw}"),
        )
    })?;
    Ok(url)
}

pub(crate) fn redirect_outside(url: &Url, trusted_domain: &str) -> PageError {
    let host = url.host_str().unwrap_or("");
    PageError::param(
        "redirect_uri",
        format!("redirect_uri 的域名 {host} 与应用配置的可信域名 {trusted_domain} 不一致。"),
        format!("The redirect_uri host {host} does not match the app's trusted domain {trusted_domain}."),
    )
}

/// A validated login: who may pick and what a pick produces.
pub(crate) struct Flow {
    /// Path of the page (links back to it).
    pub(crate) path: &'static str,
    /// `wwlogin`, `oauth`, ... (for the page's `data-flow`).
    pub(crate) flow: &'static str,
    pub(crate) audience: Audience,
    pub(crate) scope: CodeScope,
    pub(crate) redirect: Url,
    pub(crate) state: Option<String>,
    /// Query name of the code in the redirect (`code`, or `auth_code` for `3rd_qrConnect`).
    pub(crate) code_param: &'static str,
    /// Corps whose members are offered.
    pub(crate) corps: Vec<String>,
    /// The app whose visible scope marks members (corp id, agent id).
    pub(crate) scope_app: Option<(String, i64)>,
    /// Refuse members outside the app's scope (snsapi_privateinfo).
    pub(crate) enforce_scope: bool,
    pub(crate) allow_outsider: bool,
    pub(crate) title: String,
    pub(crate) app_name: String,
    pub(crate) consent: bool,
}

/// The corp an `appid` names and its enabled apps that name it so: self-built (and legacy delegated) apps
/// by the plain corp id, a delegated app of an upgraded template only by its provider's encrypted corp id
/// (document 39442: URL parameters take the upgraded id). `None` when `appid` names no corp at all.
pub(crate) fn corp_apps<'a>(inner: &'a Shared, appid: &str) -> Option<(&'a crate::seed::Corp, Vec<AppRecord>)> {
    let corp = inner.any_corp(appid)?;
    let apps = inner
        .world()
        .apps
        .iter()
        .filter(|a| a.corp_id == corp.corp_id && a.enabled && inner.app_view(a).names_corp(&a.corp_id, appid))
        .cloned()
        .collect();
    Some((corp, apps))
}

/// The app `agentid` among `apps` (those `appid` names), or the page error naming what is wrong: an
/// app that exists but is known to its corp by another id gets told which.
pub(crate) fn agent_app(
    inner: &Shared,
    corp: &crate::seed::Corp,
    apps: &[AppRecord],
    appid: &str,
    raw_agent: &str,
) -> Result<AppRecord, PageError> {
    let agent = raw_agent.parse::<i64>().ok();
    if let Some(app) = apps.iter().find(|a| Some(a.agent_id) == agent) {
        return Ok(app.clone());
    }
    let elsewhere = agent.and_then(|a| inner.world().app(&corp.corp_id, a).cloned());
    Err(match elsewhere {
        Some(app) => {
            let expected = inner.app_view(&app).corp_id(&corp.corp_id);
            PageError::param(
                "appid",
                format!(
                    "应用 {raw_agent} 的 appid 应为 {expected}（代开发应用使用服务商主体的密文 CorpID），收到：{appid}。"
                ),
                format!(
                    "App {raw_agent} is known by appid {expected} (a delegated app uses its provider's \
                     encrypted CorpID), got: {appid}."
                ),
            )
        }
        None => PageError::param(
            "agentid",
            format!("企业 {appid} 中没有可用的应用 {raw_agent}。"),
            format!("Corp {appid} has no enabled app with agentid {raw_agent}."),
        ),
    })
}

/// 302 to `redirect` with the code (if any) and the state (if one was given).
fn redirect_with(mut redirect: Url, code_param: &str, code: Option<&str>, state: Option<&str>) -> Response {
    if code.is_some() || state.is_some() {
        let mut q = redirect.query_pairs_mut();
        if let Some(code) = code {
            q.append_pair(code_param, code);
        }
        if let Some(state) = state {
            q.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, redirect.to_string())]).into_response()
}

#[derive(Serialize)]
struct PickerMember {
    href: String,
    userid: String,
    name: String,
    position: String,
    initial: String,
    color: String,
    out_of_scope: bool,
    /// Disabled (status 2): shown, but picking them shows an error page.
    disabled: bool,
}

#[derive(Serialize)]
struct PickerGroup {
    corp_id: String,
    corp_name: String,
    members: Vec<PickerMember>,
}

fn avatar_color(userid: &str) -> &'static str {
    const COLORS: [&str; 8] = ["#0082ef", "#00b96b", "#fa8c16", "#eb2f96", "#722ed1", "#13c2c2", "#f5222d", "#2f54eb"];
    let sum: usize = userid.bytes().map(usize::from).sum();
    COLORS[sum % COLORS.len()]
}

/// Completes a validated flow: a `sim_*` shortcut redirects at once, otherwise the picker shows.
pub(crate) fn finish(inner: &Shared, q: &Query, flow: Flow) -> Response {
    let lang = q.lang();
    let state = flow.state.as_deref();
    if q.get("sim_action") == Some("deny") {
        return redirect_with(flow.redirect.clone(), flow.code_param, None, state);
    }
    let subject = if q.has("sim_outsider") {
        if !flow.allow_outsider {
            return PageError {
                field: "sim_outsider",
                message: "该用户不是企业成员".to_owned(),
                detail: "此登录方式只接受企业成员。".to_owned(),
                detail_en: "Only corp members can use this login.".to_owned(),
            }
            .render(inner, lang);
        }
        Some(Subject::Outsider { key: "guest".to_owned() })
    } else if let Some(userid) = q.get("sim_user") {
        match pick_member(inner, &flow, q.get("sim_corp"), userid) {
            Ok(s) => Some(s),
            Err(e) => return e.render(inner, lang),
        }
    } else {
        None
    };
    match subject {
        Some(subject) => {
            let now = inner.now();
            let code = inner.world().issue_code(IssuedCode {
                audience: flow.audience.clone(),
                subject,
                scope: flow.scope,
                redirect: Some(flow.redirect.clone()),
                issued_at: now,
            });
            redirect_with(flow.redirect, flow.code_param, Some(&code), state)
        }
        None => picker(inner, q, &flow),
    }
}

/// Resolves `sim_user` (optionally in `sim_corp`) to the person behind the code. Members are the
/// corps' current ones: a deleted member is someone outside the corp, a disabled one cannot log in.
fn pick_member(inner: &Shared, flow: &Flow, corp_hint: Option<&str>, userid: &str) -> Result<Subject, PageError> {
    let world = inner.world();
    let found = flow
        .corps
        .iter()
        .filter(|c| corp_hint.is_none_or(|h| h == c.as_str()))
        .filter_map(|c| inner.corp(c))
        .find_map(|corp| world.member(corp, userid).map(|m| (corp, m)));
    let Some((corp, member)) = found else {
        if flow.allow_outsider {
            return Ok(Subject::Outsider { key: userid.to_lowercase() });
        }
        return Err(PageError {
            field: "sim_user",
            message: "该用户不是企业成员".to_owned(),
            detail: format!("{userid} 不是任何企业的成员。"),
            detail_en: format!("{userid} is not a member of any corp."),
        });
    };
    // WeCom lets no disabled (禁用) member log in, by QR code or in the app (path/90196 status 2).
    if member.status == STATUS_DISABLED {
        return Err(PageError {
            field: "sim_user",
            message: "该成员已被停用".to_owned(),
            detail: format!("成员 {}（{}）已被管理员禁用，无法登录。", member.name, member.userid),
            detail_en: format!("Member {} ({}) is disabled and cannot log in.", member.name, member.userid),
        });
    }
    if flow.enforce_scope
        && let Some((corp_id, agent_id)) = &flow.scope_app
    {
        let sees = world.app(corp_id, *agent_id).is_some_and(|app| app.sees(corp, &member));
        if !sees {
            return Err(PageError {
                field: "scope",
                message: "你没有访问该应用的权限".to_owned(),
                detail: format!("成员 {} 不在应用的可见范围内，无法授权获取敏感信息。", member.userid),
                detail_en: format!(
                    "Member {} is outside the app's visible scope: snsapi_privateinfo is refused.",
                    member.userid
                ),
            });
        }
    }
    Ok(Subject::Member { corp_id: corp.corp_id.clone(), userid: member.userid.clone() })
}

fn picker(inner: &Shared, q: &Query, flow: &Flow) -> Response {
    let world = inner.world();
    let scope_app = flow.scope_app.as_ref().and_then(|(c, a)| world.app(c, *a));
    let groups: Vec<PickerGroup> = flow
        .corps
        .iter()
        .filter_map(|c| inner.corp(c))
        .map(|corp| PickerGroup {
            corp_id: corp.corp_id.clone(),
            corp_name: corp.name.clone(),
            // Current members only: a deleted one is gone; a disabled one is shown, marked, and refused.
            members: world
                .members(corp)
                .iter()
                .map(|m| {
                    let mut extra = vec![("sim_user", m.userid.as_str())];
                    if flow.corps.len() > 1 {
                        extra.push(("sim_corp", corp.corp_id.as_str()));
                    }
                    PickerMember {
                        href: q.link(flow.path, &extra),
                        userid: m.userid.clone(),
                        name: m.name.clone(),
                        position: m.position.clone(),
                        initial: m.name.chars().next().map(String::from).unwrap_or_default(),
                        color: avatar_color(&m.userid).to_owned(),
                        out_of_scope: scope_app.is_some_and(|a| !a.sees(corp, m)),
                        disabled: m.status == STATUS_DISABLED,
                    }
                })
                .collect(),
        })
        .collect();
    drop(world);
    let corp_name = if flow.corps.len() == 1 {
        flow.corps.first().and_then(|c| inner.corp(c)).map(|c| c.name.clone())
    } else {
        None
    };
    let outsider_href = flow.allow_outsider.then(|| q.link(flow.path, &[("sim_outsider", "1")]));
    render(
        inner,
        StatusCode::OK,
        "picker.html",
        context! {
            lang => q.lang(),
            flow => flow.flow,
            title => flow.title,
            app_name => flow.app_name,
            corp_name => corp_name,
            consent => flow.consent,
            groups => groups,
            outsider_href => outsider_href,
            deny_href => q.link(flow.path, &[("sim_action", "deny")]),
            redirect_uri => flow.redirect.as_str(),
        },
    )
}
