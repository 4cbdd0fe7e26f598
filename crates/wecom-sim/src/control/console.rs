//! The operator console `GET /_sim/`: the seed's corps, members, apps, templates and suites, with
//! plain HTML forms (no script) that push tickets, set callback URLs and authorize or cancel
//! corps. Each form posts to `POST /_sim/console/action`, which acts and redirects back with the
//! outcome as a flash message.

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::suites::{self, AuthRequest};
use crate::Shared;
use crate::pages::{Query, render};
use crate::state::{World, lock};

#[derive(Serialize)]
struct MemberView {
    userid: String,
    name: String,
    mobile: String,
    email: String,
    position: String,
    departments: String,
}

#[derive(Serialize)]
struct AppView {
    agent_id: i64,
    name: String,
    secret: String,
    trusted_domain: String,
    scope: String,
    legacy_privacy: bool,
    origin: String,
    enabled: bool,
}

#[derive(Serialize)]
struct CorpView {
    corp_id: String,
    name: String,
    members: Vec<MemberView>,
    apps: Vec<AppView>,
}

#[derive(Serialize)]
struct AuthView {
    corp_id: String,
    agent_id: i64,
    active: bool,
    has_permanent_code: bool,
}

#[derive(Serialize)]
struct SuiteView {
    suite_id: String,
    kind: &'static str,
    name: String,
    provider_corp_id: String,
    secret: String,
    token: String,
    encoding_aes_key: String,
    trusted_domain: String,
    event_url: Option<String>,
    authorizations: Vec<AuthView>,
}

/// `GET /_sim/`.
pub(crate) async fn page(State(inner): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let (corps, suites) = {
        let world = inner.world();
        (corp_views(&inner, &world), suite_views(&inner, &world))
    };
    let (calls, pushes) = {
        let stats = lock(&inner.stats);
        let calls: Vec<(String, u64, String)> = stats
            .calls
            .iter()
            .map(|(path, s)| {
                let codes = s.errcodes.iter().map(|(c, n)| format!("{c}×{n}")).collect::<Vec<_>>().join(", ");
                (path.clone(), s.total, codes)
            })
            .collect();
        let pushes: Vec<_> = stats.pushes.iter().rev().take(20).cloned().collect();
        (calls, pushes)
    };
    render(
        &inner,
        StatusCode::OK,
        "console.html",
        context! {
            lang => "zh",
            flash => q.get("msg"),
            now => inner.now(),
            corps => corps,
            suites => suites,
            corp_ids => inner.seed.corps.iter().map(|c| c.corp_id.clone()).collect::<Vec<_>>(),
            calls => calls,
            pushes => pushes,
        },
    )
}

fn corp_views(inner: &Shared, world: &World) -> Vec<CorpView> {
    inner
        .seed
        .corps
        .iter()
        .map(|corp| CorpView {
            corp_id: corp.corp_id.clone(),
            name: corp.name.clone(),
            members: corp
                .members
                .iter()
                .map(|m| MemberView {
                    userid: m.userid.clone(),
                    name: m.name.clone(),
                    mobile: m.mobile.clone(),
                    email: m.email.clone(),
                    position: m.position.clone(),
                    departments: m
                        .department
                        .iter()
                        .map(|d| {
                            corp.departments
                                .iter()
                                .find(|x| x.id == *d)
                                .map_or_else(|| d.to_string(), |x| x.name.clone())
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            apps: world
                .apps
                .iter()
                .filter(|a| a.corp_id == corp.corp_id)
                .map(|a| AppView {
                    agent_id: a.agent_id,
                    name: a.name.clone(),
                    secret: a.secret.clone().unwrap_or_else(|| "（待获取永久授权码）".to_owned()),
                    trusted_domain: inner.trusted_domain(&a.trusted_domain),
                    scope: if a.visible_users.is_empty() && a.visible_departments.is_empty() {
                        "全员 everyone".to_owned()
                    } else {
                        let mut parts: Vec<String> = a.visible_users.clone();
                        parts.extend(a.visible_departments.iter().map(|d| format!("dept {d}")));
                        parts.join(", ")
                    },
                    legacy_privacy: a.legacy_privacy,
                    origin: a
                        .template_id
                        .as_ref()
                        .map_or_else(|| "自建 self-built".to_owned(), |t| format!("代开发 {t}")),
                    enabled: a.enabled,
                })
                .collect(),
        })
        .collect()
}

fn suite_views(inner: &Shared, world: &World) -> Vec<SuiteView> {
    inner
        .all_suites()
        .iter()
        .map(|s| SuiteView {
            suite_id: s.id().to_owned(),
            kind: s.kind(),
            name: s.name().to_owned(),
            provider_corp_id: s.provider_corp_id().to_owned(),
            secret: s.secret().to_owned(),
            token: s.token().to_owned(),
            encoding_aes_key: s.encoding_aes_key().to_owned(),
            trusted_domain: inner.trusted_domain(s.trusted_domain()),
            event_url: world.event_url(s),
            authorizations: world
                .authorizations
                .iter()
                .filter(|a| a.suite_id == s.id())
                .map(|a| AuthView {
                    corp_id: a.corp_id.clone(),
                    agent_id: a.agent_id,
                    active: a.active,
                    has_permanent_code: a.permanent_code.is_some(),
                })
                .collect(),
        })
        .collect()
}

/// A console form.
#[derive(Deserialize)]
pub(crate) struct ActionForm {
    action: String,
    #[serde(default)]
    suite_id: String,
    #[serde(default)]
    corp_id: String,
    #[serde(default)]
    url: String,
}

/// `POST /_sim/console/action`: performs the action, then 303 back to the console.
pub(crate) async fn action(State(inner): State<Shared>, Form(form): Form<ActionForm>) -> Response {
    let message = match perform(&inner, &form).await {
        Ok(m) => m,
        Err(m) => format!("✗ {m}"),
    };
    let location = format!("/_sim/?{}", serde_urlencoded::to_string([("msg", message.as_str())]).unwrap_or_default());
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn push_summary(delivered: bool, attempts: u32, error: Option<&str>) -> String {
    if delivered {
        format!("delivered after {attempts} attempt(s)")
    } else {
        format!("NOT delivered after {attempts} attempt(s){}", error.map(|e| format!(": {e}")).unwrap_or_default())
    }
}

async fn perform(inner: &Shared, form: &ActionForm) -> Result<String, String> {
    let suite_id = form.suite_id.as_str();
    let corp_id = form.corp_id.as_str();
    match form.action.as_str() {
        "push_ticket" => {
            let o = suites::push_ticket_now(inner, suite_id).await.map_err(|e| e.message)?;
            Ok(format!(
                "suite_ticket for {suite_id}: {}",
                push_summary(o.push.delivered, o.push.attempts, o.push.error.as_deref())
            ))
        }
        "callback_url" => {
            let o = suites::set_callback_url(inner, suite_id, form.url.trim(), false).await.map_err(|e| e.message)?;
            if o.verified {
                Ok(format!("{suite_id}: URL verified and saved"))
            } else {
                Err(format!(
                    "{suite_id}: URL verification failed (HTTP {}, body {:?}{}) — not saved",
                    o.status,
                    o.body,
                    o.error.map(|e| format!(", {e}")).unwrap_or_default()
                ))
            }
        }
        "authorize" => {
            let req = AuthRequest { corp_id: corp_id.to_owned(), ..AuthRequest::default() };
            let o = suites::authorize_now(inner, suite_id, req).await.map_err(|e| e.message)?;
            Ok(format!(
                "{corp_id} authorized {suite_id} (agent {}): create_auth {}",
                o.agent_id,
                push_summary(o.push.delivered, o.push.attempts, o.push.error.as_deref())
            ))
        }
        "cancel_auth" => {
            let o = suites::cancel_now(inner, suite_id, corp_id).await.map_err(|e| e.message)?;
            Ok(format!(
                "{corp_id} cancelled {suite_id}: cancel_auth {}",
                push_summary(o.delivered, o.attempts, o.error.as_deref())
            ))
        }
        "reset_permanent_code" => {
            let o = suites::reset_now(inner, suite_id, corp_id).await.map_err(|e| e.message)?;
            Ok(format!(
                "{corp_id} / {suite_id}: old permanent code revoked; reset_permanent_code {}",
                push_summary(o.push.delivered, o.push.attempts, o.push.error.as_deref())
            ))
        }
        "reset" => {
            *inner.world() = World::from_seed(&inner.seed);
            *lock(&inner.stats) = super::stats::Stats::default();
            lock(&inner.faults).clear();
            Ok("simulator reset to its seed".to_owned())
        }
        other => Err(format!("unknown action {other:?}")),
    }
}
