//! The operator console `GET /_sim/`: the seed's corps, members, apps, templates and suites, with
//! plain HTML forms (no script) that push tickets, set callback URLs (suites' and self-built apps'),
//! authorize or cancel corps, and delete, disable or enable members (pushing `change_contact`).
//! Each form posts to `POST /_sim/console/action`, which acts and redirects back with the outcome
//! as a flash message.

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::members::{self, Change, MemberUpdate};
use super::suites::{self, AuthRequest};
use crate::Shared;
use crate::pages::{Query, render};
use crate::seed::{Corp, Member};
use crate::state::{AppCallback, STATUS_ACTIVE, STATUS_DISABLED, World, lock};

#[derive(Serialize)]
struct MemberView {
    userid: String,
    name: String,
    mobile: String,
    email: String,
    position: String,
    departments: String,
    status: i64,
    /// Deleted at run time (shown struck through, without buttons).
    deleted: bool,
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
    self_built: bool,
    /// The API receiving URL of a self-built app.
    event_url: Option<String>,
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
            // Seed order; a member deleted at run time stays listed (struck through), as they were.
            members: corp
                .members
                .iter()
                .map(|seed| match world.member(corp, &seed.userid) {
                    Some(now) => member_view(corp, &now, false),
                    None => member_view(corp, seed, true),
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
                    self_built: a.template_id.is_none(),
                    event_url: a.callback.as_ref().map(|c| c.url.clone()),
                })
                .collect(),
        })
        .collect()
}

fn member_view(corp: &Corp, m: &Member, deleted: bool) -> MemberView {
    MemberView {
        userid: m.userid.clone(),
        name: m.name.clone(),
        mobile: m.mobile.clone(),
        email: m.email.clone(),
        position: m.position.clone(),
        status: m.status,
        deleted,
        departments: m
            .department
            .iter()
            .map(|d| corp.departments.iter().find(|x| x.id == *d).map_or_else(|| d.to_string(), |x| x.name.clone()))
            .collect::<Vec<_>>()
            .join(", "),
    }
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
    #[serde(default)]
    userid: String,
    #[serde(default)]
    agent_id: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    encoding_aes_key: String,
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

/// A member change and where its change_contact went.
async fn member_action(inner: &Shared, form: &ActionForm, what: &str, change: Change) -> Result<String, String> {
    let o = members::change_member(inner, &form.corp_id, &form.userid, change).await.map_err(|e| e.message)?;
    let pushes = if o.pushes.is_empty() {
        "no app subscribes to change_contact for this member".to_owned()
    } else {
        o.pushes
            .iter()
            .map(|p| {
                format!("{} {}", p.target, push_summary(p.push.delivered, p.push.attempts, p.push.error.as_deref()))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    Ok(format!("{} {what}: change_contact → {pushes}", form.userid))
}

fn status_update(status: i64) -> Change {
    Change::Update(MemberUpdate { status: Some(status), ..MemberUpdate::default() })
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
        "delete_member" => member_action(inner, form, "deleted", Change::Delete).await,
        "disable_member" => member_action(inner, form, "disabled", status_update(STATUS_DISABLED)).await,
        "enable_member" => member_action(inner, form, "enabled", status_update(STATUS_ACTIVE)).await,
        "app_callback" => {
            let callback = AppCallback {
                url: form.url.trim().to_owned(),
                token: form.token.trim().to_owned(),
                encoding_aes_key: form.encoding_aes_key.trim().to_owned(),
            };
            let agent = form.agent_id.as_str();
            let o = members::set_app_callback(inner, corp_id, agent, callback, false).await.map_err(|e| e.message)?;
            if o.verified {
                Ok(format!("app {agent}: URL verified and saved"))
            } else {
                Err(format!(
                    "app {agent}: URL verification failed (HTTP {}, body {:?}{}) — not saved",
                    o.status,
                    o.body,
                    o.error.map(|e| format!(", {e}")).unwrap_or_default()
                ))
            }
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
