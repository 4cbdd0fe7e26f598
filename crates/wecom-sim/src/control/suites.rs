//! Provider-side actions on templates and suites (reference §6.1, §7.2, §7.4): set the command
//! callback URL (with WeCom's URL verification), push a suite_ticket, and the authorization
//! life-cycle — create_auth, change_auth, cancel_auth, reset_permanent_code — each pushing its
//! event and answering only once the push succeeded or gave up, so tests are deterministic.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wecom::event::Event;

use super::{ApiError, parse_body};
use crate::Shared;
use crate::ids;
use crate::push::{self, PushOutcome, VerifyOutcome};
use crate::state::{AppRecord, AuthCodeGrant, AuthCodeKind, Authorization};

fn unknown_suite(suite_id: &str) -> ApiError {
    ApiError::not_found("unknown_suite", format!("no template or suite {suite_id}"))
}

/// `GET /_sim/suites`: templates and suites with their event URL and authorizations.
pub(crate) async fn list(State(inner): State<Shared>) -> Json<Value> {
    let world = inner.world();
    let items: Vec<Value> = inner
        .all_suites()
        .iter()
        .map(|s| {
            let auths: Vec<Value> = world
                .authorizations
                .iter()
                .filter(|a| a.suite_id == s.id())
                .map(|a| {
                    json!({
                        "corp_id": a.corp_id,
                        // The id the suite's apps know the corp by (encrypted unless legacy_ids).
                        "auth_corp_id": s.view().corp_id(&a.corp_id),
                        "agent_id": a.agent_id,
                        "active": a.active,
                        "has_permanent_code": a.permanent_code.is_some(),
                    })
                })
                .collect();
            json!({
                "suite_id": s.id(),
                "kind": s.kind(),
                "name": s.name(),
                "provider_corp_id": s.provider_corp_id(),
                "event_url": world.event_url(s),
                "authorizations": auths,
            })
        })
        .collect();
    Json(json!({ "items": items }))
}

#[derive(Deserialize)]
struct CallbackUrlRequest {
    url: String,
    /// Store the URL even if the verification fails (WeCom would refuse to save it).
    #[serde(default)]
    force: bool,
}

/// `POST /_sim/suites/{suite_id}/callback_url {"url"}` → `{"verified", "status", "body"}`.
pub(crate) async fn callback_url(
    State(inner): State<Shared>,
    Path(suite_id): Path<String>,
    body: Bytes,
) -> Result<Json<VerifyOutcome>, ApiError> {
    let req: CallbackUrlRequest = parse_body(&body)?;
    set_callback_url(&inner, &suite_id, &req.url, req.force).await.map(Json)
}

pub(crate) async fn set_callback_url(
    inner: &Shared,
    suite_id: &str,
    url: &str,
    force: bool,
) -> Result<VerifyOutcome, ApiError> {
    let suite = inner.suite_like(suite_id).ok_or_else(|| unknown_suite(suite_id))?;
    if url::Url::parse(url).is_err() {
        return Err(ApiError::bad_request("invalid_url", format!("{url:?} is not an absolute URL")));
    }
    let outcome = push::verify_url(inner, suite.token(), suite.encoding_aes_key(), suite.provider_corp_id(), url).await;
    if outcome.verified || force {
        inner.world().event_urls.insert(suite_id.to_owned(), url.to_owned());
    }
    // As on WeCom, a newly verified URL starts receiving tickets right away (timer mode only:
    // tests run without the timer and push tickets explicitly).
    if outcome.verified && inner.config.ticket_interval_secs > 0 {
        let inner = inner.clone();
        let suite_id = suite_id.to_owned();
        tokio::spawn(async move {
            push::push_ticket(&inner, &suite_id).await;
        });
    }
    Ok(outcome)
}

#[derive(Serialize)]
pub(crate) struct TicketOutcome {
    #[serde(flatten)]
    pub(crate) push: PushOutcome,
    /// The ticket (the simulator is a test double; the receiver learns it by decrypting).
    pub(crate) ticket: String,
}

/// `POST /_sim/suites/{suite_id}/push_ticket` → `{"delivered", "attempts", "ticket"}`.
pub(crate) async fn push_ticket(
    State(inner): State<Shared>,
    Path(suite_id): Path<String>,
) -> Result<Json<TicketOutcome>, ApiError> {
    push_ticket_now(&inner, &suite_id).await.map(Json)
}

pub(crate) async fn push_ticket_now(inner: &Shared, suite_id: &str) -> Result<TicketOutcome, ApiError> {
    inner.suite_like(suite_id).ok_or_else(|| unknown_suite(suite_id))?;
    let (ticket, push) = push::push_ticket(inner, suite_id).await;
    Ok(TicketOutcome { push, ticket })
}

#[derive(Deserialize, Default)]
pub(crate) struct AuthRequest {
    pub(crate) corp_id: String,
    #[serde(default)]
    pub(crate) state: Option<String>,
    /// Administrator who installs (`auth_user_info`); default: the corp's first admin.
    #[serde(default)]
    pub(crate) userid: Option<String>,
    /// Visible scope of the installed app (default: everyone).
    #[serde(default)]
    pub(crate) visible_users: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) visible_departments: Option<Vec<u64>>,
}

#[derive(Serialize)]
pub(crate) struct AuthOutcome {
    pub(crate) auth_code: String,
    pub(crate) agent_id: i64,
    #[serde(flatten)]
    pub(crate) push: PushOutcome,
}

/// `POST /_sim/suites/{suite_id}/authorize {"corp_id", "state"?}` → `{"auth_code", "delivered",
/// "attempts", "agent_id"}`: the corp installs the template or suite; create_auth is pushed.
pub(crate) async fn authorize(
    State(inner): State<Shared>,
    Path(suite_id): Path<String>,
    body: Bytes,
) -> Result<Json<AuthOutcome>, ApiError> {
    let req: AuthRequest = parse_body(&body)?;
    authorize_now(&inner, &suite_id, req).await.map(Json)
}

pub(crate) async fn authorize_now(inner: &Shared, suite_id: &str, req: AuthRequest) -> Result<AuthOutcome, ApiError> {
    let suite = inner.suite_like(suite_id).ok_or_else(|| unknown_suite(suite_id))?;
    let corp = inner
        .corp(&req.corp_id)
        .ok_or_else(|| ApiError::bad_request("unknown_corp", format!("no corp {}", req.corp_id)))?;
    let now = inner.now();
    let (auth_code, agent_id) = {
        let mut world = inner.world();
        if world.authorization(suite_id, &corp.corp_id).is_some() {
            return Err(ApiError::conflict(
                "already_authorized",
                format!("{} already authorized {suite_id}", corp.corp_id),
            ));
        }
        let agent_id = world.next_agent_id(&corp.corp_id);
        let visible_users = req.visible_users.clone().unwrap_or_default();
        let visible_departments = req.visible_departments.clone().unwrap_or_default();
        world.authorizations.push(Authorization {
            suite_id: suite_id.to_owned(),
            corp_id: corp.corp_id.clone(),
            agent_id,
            permanent_code: None,
            active: true,
            state: req.state.clone(),
            installer: req.userid.clone(),
            visible_users: visible_users.clone(),
            visible_departments: visible_departments.clone(),
        });
        if suite.is_template() {
            // Delegated development: the corp now has an app built from the template; its
            // secret is the permanent code, known once fetched.
            world.apps.push(AppRecord {
                corp_id: corp.corp_id.clone(),
                agent_id,
                name: suite.name().to_owned(),
                secret: None,
                trusted_domain: suite.trusted_domain().to_owned(),
                visible_users,
                visible_departments,
                legacy_privacy: false,
                template_id: Some(suite_id.to_owned()),
                enabled: true,
                // Its events come through the template's callback.
                callback: None,
            });
        }
        let code = new_auth_code(&mut world, suite_id, &corp.corp_id, AuthCodeKind::CreateAuth, now);
        (code, agent_id)
    };
    let event = Event::CreateAuth {
        suite_id: suite_id.to_owned(),
        auth_code: auth_code.clone(),
        state: req.state,
        timestamp: now,
    };
    let push = push::push_event(inner, suite_id, &event).await;
    Ok(AuthOutcome { auth_code, agent_id, push })
}

fn new_auth_code(
    world: &mut crate::state::World,
    suite_id: &str,
    corp_id: &str,
    kind: AuthCodeKind,
    now: i64,
) -> String {
    let code = ids::random_token(64);
    world.auth_codes.insert(
        code.clone(),
        AuthCodeGrant { suite_id: suite_id.to_owned(), corp_id: corp_id.to_owned(), kind, issued_at: now },
    );
    code
}

fn not_authorized(suite_id: &str, corp_id: &str) -> ApiError {
    ApiError::not_found("not_authorized", format!("{corp_id} has no active authorization of {suite_id}"))
}

/// `POST /_sim/suites/{suite_id}/change_auth {"corp_id", "visible_users"?, "visible_departments"?}`.
pub(crate) async fn change_auth(
    State(inner): State<Shared>,
    Path(suite_id): Path<String>,
    body: Bytes,
) -> Result<Json<PushOutcome>, ApiError> {
    let req: AuthRequest = parse_body(&body)?;
    inner.suite_like(&suite_id).ok_or_else(|| unknown_suite(&suite_id))?;
    {
        let mut world = inner.world();
        let auth =
            world.authorization_mut(&suite_id, &req.corp_id).ok_or_else(|| not_authorized(&suite_id, &req.corp_id))?;
        if let Some(u) = &req.visible_users {
            auth.visible_users.clone_from(u);
        }
        if let Some(d) = &req.visible_departments {
            auth.visible_departments.clone_from(d);
        }
        let (agent_id, users, depts) = (auth.agent_id, auth.visible_users.clone(), auth.visible_departments.clone());
        if let Some(app) = world.app_mut(&req.corp_id, agent_id) {
            app.visible_users = users;
            app.visible_departments = depts;
        }
    }
    let auth_corp_id = inner.suite_like(&suite_id).map_or(req.corp_id.clone(), |s| s.view().corp_id(&req.corp_id));
    let event = Event::ChangeAuth { suite_id: suite_id.clone(), auth_corp_id, timestamp: inner.now() };
    Ok(Json(push::push_event(&inner, &suite_id, &event).await))
}

/// `POST /_sim/suites/{suite_id}/cancel_auth {"corp_id"}`: the corp uninstalls; its delegated
/// app stops working (gettoken with the permanent code → 48004, its tokens → 40014).
pub(crate) async fn cancel_auth(
    State(inner): State<Shared>,
    Path(suite_id): Path<String>,
    body: Bytes,
) -> Result<Json<PushOutcome>, ApiError> {
    let req: AuthRequest = parse_body(&body)?;
    cancel_now(&inner, &suite_id, &req.corp_id).await.map(Json)
}

pub(crate) async fn cancel_now(inner: &Shared, suite_id: &str, corp_id: &str) -> Result<PushOutcome, ApiError> {
    inner.suite_like(suite_id).ok_or_else(|| unknown_suite(suite_id))?;
    {
        let mut world = inner.world();
        let auth = world.authorization_mut(suite_id, corp_id).ok_or_else(|| not_authorized(suite_id, corp_id))?;
        auth.active = false;
        let agent_id = auth.agent_id;
        if let Some(app) = world.app_mut(corp_id, agent_id) {
            app.enabled = false;
        }
    }
    let auth_corp_id = inner.suite_like(suite_id).map_or(corp_id.to_owned(), |s| s.view().corp_id(corp_id));
    let event = Event::CancelAuth { suite_id: suite_id.to_owned(), auth_corp_id, timestamp: inner.now() };
    Ok(push::push_event(inner, suite_id, &event).await)
}

#[derive(Serialize)]
pub(crate) struct ResetOutcome {
    pub(crate) auth_code: String,
    #[serde(flatten)]
    pub(crate) push: PushOutcome,
}

/// `POST /_sim/suites/{suite_id}/reset_permanent_code {"corp_id"}` → `{"auth_code", ...}`: the
/// provider clicked 重新获取secret. The old permanent code dies at once (for a delegated app:
/// gettoken with it → 40001, tokens it gave → 40014; see [`World::revoke_permanent_code`]); the
/// new one is fetched with the pushed auth code.
///
/// [`World::revoke_permanent_code`]: crate::state::World::revoke_permanent_code
pub(crate) async fn reset_permanent_code(
    State(inner): State<Shared>,
    Path(suite_id): Path<String>,
    body: Bytes,
) -> Result<Json<ResetOutcome>, ApiError> {
    let req: AuthRequest = parse_body(&body)?;
    reset_now(&inner, &suite_id, &req.corp_id).await.map(Json)
}

pub(crate) async fn reset_now(inner: &Shared, suite_id: &str, corp_id: &str) -> Result<ResetOutcome, ApiError> {
    inner.suite_like(suite_id).ok_or_else(|| unknown_suite(suite_id))?;
    let now = inner.now();
    let auth_code = {
        let mut world = inner.world();
        world.authorization(suite_id, corp_id).ok_or_else(|| not_authorized(suite_id, corp_id))?;
        world.revoke_permanent_code(suite_id, corp_id);
        new_auth_code(&mut world, suite_id, corp_id, AuthCodeKind::ResetPermanentCode, now)
    };
    let event =
        Event::ResetPermanentCode { suite_id: suite_id.to_owned(), auth_code: auth_code.clone(), timestamp: now };
    let push = push::push_event(inner, suite_id, &event).await;
    Ok(ResetOutcome { auth_code, push })
}
