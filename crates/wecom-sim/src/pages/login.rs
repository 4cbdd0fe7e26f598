//! PC login pages (reference §2.1, §2.2, §8): `GET /wwlogin/sso/login` with
//! `login_type=CorpApp` (self-built or delegated app: appid = CorpID, agentid) or
//! `login_type=ServiceApp` (appid = the provider's login suite id, any corp's member may log in),
//! and the legacy `GET /wwopen/sso/qrConnect` (CorpApp) and `GET /wwopen/sso/3rd_qrConnect`
//! (provider login: `auth_code` for `service/get_login_info`).

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::{Flow, PageError, Query, agent_app, check_redirect, corp_apps, finish};
use crate::Shared;
use crate::state::{Audience, CodeScope, SuiteLike};

/// `GET /wwlogin/sso/login`.
pub(crate) async fn wwlogin(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let flow = match q.get("login_type") {
        Some("CorpApp") => corp_app(&inner, &q, "/wwlogin/sso/login", "wwlogin"),
        Some("ServiceApp") => service_app(&inner, &q),
        other => Err(PageError::param(
            "login_type",
            format!("login_type 应为 CorpApp 或 ServiceApp，收到：{}", other.unwrap_or("（空）")),
            format!("login_type must be CorpApp or ServiceApp, got: {}", other.unwrap_or("(missing)")),
        )),
    };
    match flow {
        Ok(flow) => finish(&inner, &q, flow),
        Err(e) => e.render(&inner, q.lang()),
    }
}

/// `GET /wwopen/sso/qrConnect`: the legacy self-built login, same rules as CorpApp.
pub(crate) async fn qr_connect(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    match corp_app(&inner, &q, "/wwopen/sso/qrConnect", "qrConnect") {
        Ok(flow) => finish(&inner, &q, flow),
        Err(e) => e.render(&inner, q.lang()),
    }
}

fn corp_app(inner: &Shared, q: &Query, path: &'static str, flow: &'static str) -> Result<Flow, PageError> {
    let appid = q.get("appid").ok_or_else(|| {
        PageError::param(
            "appid",
            "缺少 appid（企业的 CorpID）。".to_owned(),
            "appid (the CorpID) is missing.".to_owned(),
        )
    })?;
    let (corp, apps) = corp_apps(inner, appid).ok_or_else(|| {
        PageError::param(
            "appid",
            format!("appid {appid} 不是已知企业的 CorpID。"),
            format!("appid {appid} is not the CorpID of a known corp."),
        )
    })?;
    let raw_agent = q.get("agentid").ok_or_else(|| {
        PageError::param(
            "agentid",
            "login_type=CorpApp 时必须提供 agentid。".to_owned(),
            "agentid is required with login_type=CorpApp.".to_owned(),
        )
    })?;
    let app = agent_app(inner, corp, &apps, appid, raw_agent)?;
    let redirect = check_redirect(q, &inner.trusted_domain(&app.trusted_domain))?;
    Ok(Flow {
        path,
        flow,
        audience: Audience::CorpApp { corp_id: corp.corp_id.clone(), agent_id: Some(app.agent_id) },
        scope: CodeScope::QrLogin,
        redirect,
        state: q.map.get("state").cloned(),
        code_param: "code",
        corps: std::iter::once(corp.corp_id.clone()).chain(corp.linked_corps.iter().cloned()).collect(),
        scope_app: Some((corp.corp_id.clone(), app.agent_id)),
        enforce_scope: false,
        allow_outsider: true,
        title: "企业微信扫码登录 · Log in with WeCom".to_owned(),
        app_name: app.name,
        consent: false,
    })
}

fn service_app(inner: &Shared, q: &Query) -> Result<Flow, PageError> {
    let appid = q.get("appid").unwrap_or("");
    let suite = match inner.suite_like(appid) {
        Some(SuiteLike::Suite(p, s)) => SuiteLike::Suite(p, s),
        _ => {
            return Err(PageError::param(
                "appid",
                format!("appid {appid} 不是服务商的登录授权 SuiteID。"),
                format!("appid {appid} is not a provider's login suite id."),
            ));
        }
    };
    let redirect = check_redirect(q, &inner.trusted_domain(suite.trusted_domain()))?;
    Ok(Flow {
        path: "/wwlogin/sso/login",
        flow: "wwlogin-service",
        audience: Audience::Suite { suite_id: suite.id().to_owned() },
        scope: CodeScope::QrLogin,
        redirect,
        state: q.map.get("state").cloned(),
        code_param: "code",
        corps: inner.seed.corps.iter().map(|c| c.corp_id.clone()).collect(),
        scope_app: None,
        enforce_scope: false,
        allow_outsider: true,
        title: "企业微信扫码登录 · Log in with WeCom".to_owned(),
        app_name: suite.name().to_owned(),
        consent: false,
    })
}

/// `GET /wwopen/sso/3rd_qrConnect?appid=<provider corpid>&redirect_uri&state&usertype`.
pub(crate) async fn third_qr_connect(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    match provider_login(&inner, &q) {
        Ok(flow) => finish(&inner, &q, flow),
        Err(e) => e.render(&inner, q.lang()),
    }
}

fn provider_login(inner: &Shared, q: &Query) -> Result<Flow, PageError> {
    let appid = q.get("appid").unwrap_or("");
    let provider = inner.provider(appid).ok_or_else(|| {
        PageError::param(
            "appid",
            format!("appid {appid} 不是服务商的 CorpID。"),
            format!("appid {appid} is not a provider's CorpID."),
        )
    })?;
    let domain = provider
        .login_trusted_domain
        .clone()
        .or_else(|| provider.suites.first().map(|s| s.trusted_domain.clone()))
        .unwrap_or_default();
    let redirect = check_redirect(q, &inner.trusted_domain(&domain))?;
    Ok(Flow {
        path: "/wwopen/sso/3rd_qrConnect",
        flow: "3rd_qrConnect",
        audience: Audience::ProviderLogin { provider_corp_id: provider.corp_id.clone() },
        scope: CodeScope::QrLogin,
        redirect,
        state: q.map.get("state").cloned(),
        code_param: "auth_code",
        corps: inner.seed.corps.iter().map(|c| c.corp_id.clone()).collect(),
        scope_app: None,
        enforce_scope: false,
        allow_outsider: false,
        title: "企业微信扫码登录 · Log in with WeCom".to_owned(),
        app_name: provider.name.clone().unwrap_or_else(|| provider.corp_id.clone()),
        consent: false,
    })
}
