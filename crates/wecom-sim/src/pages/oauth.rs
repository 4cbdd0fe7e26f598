//! In-app OAuth (reference §3, §8): `GET /connect/oauth2/authorize?appid&redirect_uri&
//! response_type=code&scope&state&agentid` (the `#wechat_redirect` fragment never reaches a
//! server).
//!
//! `appid` is a CorpID (self-built or delegated app, code for `auth/getuserinfo`) or a suite id
//! (third-party app, code for `getuserinfo3rd`). `snsapi_privateinfo` needs `agentid` for corp
//! apps and refuses members outside the app's visible scope; `state` must be `[a-zA-Z0-9]{0,128}`.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::{Flow, PageError, Query, agent_app, check_redirect, corp_apps, finish, redirect_outside, redirect_param};
use crate::Shared;
use crate::domain;
use crate::state::{Audience, CodeScope, SuiteLike};

/// `GET /connect/oauth2/authorize`.
pub(crate) async fn authorize(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    match validate(&inner, &q) {
        Ok(flow) => finish(&inner, &q, flow),
        Err(e) => e.render(&inner, q.lang()),
    }
}

fn validate(inner: &Shared, q: &Query) -> Result<Flow, PageError> {
    let appid = q
        .get("appid")
        .ok_or_else(|| PageError::param("appid", "缺少 appid。".to_owned(), "appid is missing.".to_owned()))?;
    if q.get("response_type") != Some("code") {
        return Err(PageError::param(
            "response_type",
            "response_type 必须为 code。".to_owned(),
            "response_type must be code.".to_owned(),
        ));
    }
    let scope = match q.get("scope") {
        Some("snsapi_base") | Some("snsapi_userinfo") => CodeScope::SnsapiBase,
        Some("snsapi_privateinfo") => CodeScope::SnsapiPrivateinfo,
        other => {
            return Err(PageError::param(
                "scope",
                format!("scope 应为 snsapi_base 或 snsapi_privateinfo，收到：{}", other.unwrap_or("（空）")),
                format!("scope must be snsapi_base or snsapi_privateinfo, got: {}", other.unwrap_or("(missing)")),
            ));
        }
    };
    let state = q.map.get("state").cloned();
    if let Some(s) = &state
        && (s.len() > 128 || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(PageError::param(
            "state",
            "state 只能包含 a-zA-Z0-9，且不超过 128 字节。".to_owned(),
            "state may only contain a-zA-Z0-9 and be at most 128 bytes.".to_owned(),
        ));
    }
    let privateinfo = scope == CodeScope::SnsapiPrivateinfo;
    if let Some((corp, apps)) = corp_apps(inner, appid) {
        let agent = match q.get("agentid") {
            None if privateinfo => {
                return Err(PageError::param(
                    "agentid",
                    "scope 为 snsapi_privateinfo 时必须提供 agentid。".to_owned(),
                    "agentid is required with scope snsapi_privateinfo.".to_owned(),
                ));
            }
            None => None,
            Some(raw) => Some(agent_app(inner, corp, &apps, appid, raw)?),
        };
        let (redirect, app_name) = match &agent {
            Some(app) => (check_redirect(q, &inner.trusted_domain(&app.trusted_domain))?, app.name.clone()),
            None => {
                // Without agentid any app of the corp whose trusted domain admits the redirect.
                let any_domain = apps.first().map(|a| inner.trusted_domain(&a.trusted_domain)).unwrap_or_default();
                let url = redirect_param(q)?;
                let admitted = apps
                    .iter()
                    .find(|a| domain::admits(&inner.trusted_domain(&a.trusted_domain), &url))
                    .map(|a| a.name.clone());
                match admitted {
                    Some(name) => (url, name),
                    None => return Err(redirect_outside(&url, &any_domain)),
                }
            }
        };
        return Ok(Flow {
            path: "/connect/oauth2/authorize",
            flow: "oauth",
            audience: Audience::CorpApp { corp_id: corp.corp_id.clone(), agent_id: agent.as_ref().map(|a| a.agent_id) },
            scope,
            redirect,
            state,
            code_param: "code",
            corps: std::iter::once(corp.corp_id.clone()).chain(corp.linked_corps.iter().cloned()).collect(),
            scope_app: agent.as_ref().map(|a| (corp.corp_id.clone(), a.agent_id)),
            enforce_scope: privateinfo,
            allow_outsider: true,
            title: "企业微信网页授权 · WeCom OAuth".to_owned(),
            app_name,
            consent: privateinfo,
        });
    }
    match inner.suite_like(appid) {
        Some(SuiteLike::Suite(p, s)) => {
            let suite = SuiteLike::Suite(p, s);
            let redirect = check_redirect(q, &inner.trusted_domain(suite.trusted_domain()))?;
            Ok(Flow {
                path: "/connect/oauth2/authorize",
                flow: "oauth-3rd",
                audience: Audience::Suite { suite_id: suite.id().to_owned() },
                scope,
                redirect,
                state,
                code_param: "code",
                corps: inner.seed.corps.iter().map(|c| c.corp_id.clone()).collect(),
                scope_app: None,
                enforce_scope: false,
                allow_outsider: true,
                title: "企业微信网页授权 · WeCom OAuth".to_owned(),
                app_name: suite.name().to_owned(),
                consent: privateinfo,
            })
        }
        _ => Err(PageError::param(
            "appid",
            format!("appid {appid} 不是已知企业的 CorpID 或第三方应用的 SuiteID。"),
            format!("appid {appid} is neither a known CorpID nor a third-party suite id."),
        )),
    }
}
