//! The simulator's own test and operator endpoints under `/_sim/` (JSON, plus the HTML console):
//! SDK codes, stats, faults, reset, the clock, the provider-side actions WeCom would perform
//! (URL verification, suite_ticket pushes, authorizations) and the corp admin's (app callbacks,
//! member deletion and updates, with their `change_contact` pushes).
//!
//! These are not WeCom: errors here are plain HTTP 4xx with `{"error", "message"}`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::domain;
use crate::state::{Audience, CodeScope, IssuedCode, STATUS_DISABLED, Subject, World, lock};

pub(crate) mod console;
pub(crate) mod faults;
pub(crate) mod members;
pub(crate) mod stats;
pub(crate) mod suites;

/// Routes under `/_sim`.
pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/_sim", get(console::page))
        .route("/_sim/", get(console::page))
        .route("/_sim/console/action", post(console::action))
        .route("/_sim/sdk/code", post(sdk_code))
        .route("/_sim/codes", post(mint_code))
        .route("/_sim/stats", get(stats::get_stats))
        .route("/_sim/faults", get(faults::list_faults).post(faults::add_fault).delete(faults::clear_faults))
        .route("/_sim/reset", post(reset))
        .route("/_sim/clock", get(clock).post(advance_clock))
        .route("/_sim/seed", get(seed))
        .route("/_sim/trusted_domain", get(get_trusted_domain).post(post_trusted_domain))
        .route("/_sim/suites", get(suites::list))
        .route("/_sim/suites/{suite_id}/callback_url", post(suites::callback_url))
        .route("/_sim/suites/{suite_id}/push_ticket", post(suites::push_ticket))
        .route("/_sim/suites/{suite_id}/authorize", post(suites::authorize))
        .route("/_sim/suites/{suite_id}/change_auth", post(suites::change_auth))
        .route("/_sim/suites/{suite_id}/cancel_auth", post(suites::cancel_auth))
        .route("/_sim/suites/{suite_id}/reset_permanent_code", post(suites::reset_permanent_code))
        .route("/_sim/apps/{corp_id}/{agent_id}/callback", post(members::app_callback))
        .route("/_sim/corps/{corp_id}/members", get(members::list))
        .route("/_sim/corps/{corp_id}/members/{userid}/delete", post(members::delete))
        .route("/_sim/corps/{corp_id}/members/{userid}/update", post(members::update))
}

/// An error of a `/_sim` endpoint: `{"error": "<code>", "message": "<sentence>"}` with a 4xx.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn bad_request(error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, error, message: message.into() }
    }

    pub(crate) fn not_found(error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, error, message: message.into() }
    }

    pub(crate) fn conflict(error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::CONFLICT, error, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error, "message": self.message }))).into_response()
    }
}

/// Parses a JSON body (an empty body counts as `{}`).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_body", format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
struct SdkCodeRequest {
    corp_id: String,
    agent_id: i64,
    userid: String,
}

/// `POST /_sim/sdk/code {corp_id, agent_id, userid}` → `{code}`: what the WeCom SDK hands a
/// native app after the member confirms (reference §5), exchanged with `auth/getuserinfo`.
async fn sdk_code(State(inner): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: SdkCodeRequest = parse_body(&body)?;
    let corp = inner
        .corp(&req.corp_id)
        .ok_or_else(|| ApiError::bad_request("unknown_corp", format!("no corp {}", req.corp_id)))?;
    let now = inner.now();
    let mut world = inner.world();
    if world.app(&corp.corp_id, req.agent_id).is_none() {
        return Err(ApiError::bad_request(
            "unknown_agent",
            format!("corp {} has no enabled app {}", corp.corp_id, req.agent_id),
        ));
    }
    // A disabled member cannot sign in to WeCom at all (禁用), so the SDK hands out nothing.
    if world.member(corp, &req.userid).is_some_and(|m| m.status == STATUS_DISABLED) {
        return Err(ApiError::conflict("member_disabled", format!("member {} is disabled", req.userid)));
    }
    let subject = subject_in(&world, corp, &req.userid);
    let code = world.issue_code(IssuedCode {
        audience: Audience::CorpApp { corp_id: corp.corp_id.clone(), agent_id: Some(req.agent_id) },
        subject,
        scope: CodeScope::Sdk,
        redirect: None,
        issued_at: now,
    });
    Ok(Json(json!({ "code": code })))
}

/// A (current) member of `corp`, else an outsider named after `userid`.
fn subject_in(world: &World, corp: &crate::seed::Corp, userid: &str) -> Subject {
    match world.member(corp, userid) {
        Some(m) => Subject::Member { corp_id: corp.corp_id.clone(), userid: m.userid.clone() },
        None => Subject::Outsider { key: userid.to_lowercase() },
    }
}

#[derive(Deserialize)]
struct MintRequest {
    /// Corp of the member (and of the app, for corp codes).
    corp_id: String,
    #[serde(default)]
    agent_id: Option<i64>,
    #[serde(default)]
    suite_id: Option<String>,
    /// Member userid; absent or unknown = someone outside the corp.
    #[serde(default)]
    userid: Option<String>,
    /// `qr` (default), `snsapi_base`, `snsapi_privateinfo` or `sdk`.
    #[serde(default)]
    scope: Option<String>,
    /// Pretend the code travelled through this redirect_uri (no trusted-domain check here: the
    /// exchange answers 50001 if it is outside the app's domain).
    #[serde(default)]
    redirect_uri: Option<String>,
}

/// `POST /_sim/codes`: mints any code directly, bypassing the pages (for tests).
async fn mint_code(State(inner): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: MintRequest = parse_body(&body)?;
    let corp = inner
        .corp(&req.corp_id)
        .ok_or_else(|| ApiError::bad_request("unknown_corp", format!("no corp {}", req.corp_id)))?;
    let scope = match req.scope.as_deref() {
        None => CodeScope::QrLogin,
        Some(s) => {
            CodeScope::parse(s).ok_or_else(|| ApiError::bad_request("invalid_scope", format!("unknown scope {s}")))?
        }
    };
    let redirect = match req.redirect_uri.as_deref() {
        None => None,
        Some(r) => Some(
            domain::parse_redirect(r)
                .ok_or_else(|| ApiError::bad_request("invalid_redirect_uri", format!("not an http(s) URL: {r}")))?,
        ),
    };
    let audience = match (&req.suite_id, req.agent_id) {
        (Some(suite_id), _) => {
            inner
                .suite_like(suite_id)
                .ok_or_else(|| ApiError::bad_request("unknown_suite", format!("no suite {suite_id}")))?;
            Audience::Suite { suite_id: suite_id.clone() }
        }
        (None, agent_id) => Audience::CorpApp { corp_id: corp.corp_id.clone(), agent_id },
    };
    let now = inner.now();
    let mut world = inner.world();
    // Minting bypasses the pages: a disabled member still gets a code here, so tests can check what a
    // broker does with one (user/get then answers status 2).
    let subject = match &req.userid {
        Some(u) => subject_in(&world, corp, u),
        None => Subject::Outsider { key: "guest".to_owned() },
    };
    let code = world.issue_code(IssuedCode { audience, subject, scope, redirect, issued_at: now });
    Ok(Json(json!({ "code": code })))
}

/// `POST /_sim/reset`: forgets everything issued (codes, tokens, tickets, authorizations, event
/// URLs and app callbacks set at runtime, member changes), the stats and the faults; the seed stays.
async fn reset(State(inner): State<Shared>) -> Json<Value> {
    *inner.world() = World::from_seed(&inner.seed);
    *lock(&inner.stats) = stats::Stats::default();
    lock(&inner.faults).clear();
    Json(json!({ "reset": true }))
}

/// Sets the trusted domain every app, template and suite uses (see [`crate::Simulator::set_trusted_domain`]).
pub(crate) fn set_trusted_domain(inner: &crate::state::Inner, domain: &str) -> bool {
    if domain::TrustedDomain::parse(domain).is_none() {
        return false;
    }
    *lock(&inner.trusted_domain) = Some(domain.trim().to_owned());
    true
}

#[derive(Deserialize)]
struct TrustedDomainRequest {
    domain: String,
}

/// `POST /_sim/trusted_domain {"domain": "host[:port]"}`: one trusted domain for every app, template and
/// suite — WeCom admits a redirect only on exactly that domain and port (see `domain`).
async fn post_trusted_domain(State(inner): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: TrustedDomainRequest = parse_body(&body)?;
    if !set_trusted_domain(&inner, &req.domain) {
        return Err(ApiError::bad_request("invalid_domain", "domain must be a host or host:port"));
    }
    Ok(Json(json!({ "trusted_domain": req.domain.trim() })))
}

/// `GET /_sim/trusted_domain` → `{"trusted_domain"}` (null: each app's and suite's own from the seed).
async fn get_trusted_domain(State(inner): State<Shared>) -> Json<Value> {
    Json(json!({ "trusted_domain": *lock(&inner.trusted_domain) }))
}

/// `GET /_sim/clock` → `{"now"}` (simulated unix seconds).
async fn clock(State(inner): State<Shared>) -> Json<Value> {
    Json(json!({ "now": inner.now() }))
}

#[derive(Deserialize)]
struct Advance {
    advance_secs: i64,
}

/// `POST /_sim/clock {"advance_secs": N}` → `{"now"}`: moves the simulated time forward.
async fn advance_clock(State(inner): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: Advance = parse_body(&body)?;
    inner.clock.advance(req.advance_secs);
    Ok(Json(json!({ "now": inner.now() })))
}

/// `GET /_sim/seed`: the seed the simulator runs on (secrets included: it is a test double).
async fn seed(State(inner): State<Shared>) -> Json<crate::seed::Seed> {
    Json(inner.seed.clone())
}
