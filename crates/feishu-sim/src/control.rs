//! `/_sim`: not part of Feishu. Fault injection, call counters, the clock, run-time changes to the seed (redirect
//! URLs, event URLs, user status), ticket pushes and a console page. `/_sim/*` itself is never faulted nor
//! counted. Bodies are JSON (axum's own 4xx for a malformed one; these endpoints are not Feishu's).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::seed::UserStatus;
use crate::{Shared, esc, events, page};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(console))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/stats", get(get_stats).delete(reset_stats))
        .route("/clock", post(clock))
        .route("/apps/{app_id}/redirect_uris", put(redirect_uris))
        .route("/apps/{app_id}/event_url", put(event_url))
        .route("/apps/{app_id}/push_ticket", post(push_ticket))
        .route("/users/{id}/status", post(user_status))
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

/// One pending fault, as posted: `code` (HTTP 200 + `{code, msg}`) | `status`+`code`+`error` (the v2 token
/// endpoint's shape) | `html`, and/or `delay_ms`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Fault {
    path: String,
    #[serde(default = "one")]
    times: u32,
    code: Option<i64>,
    status: Option<u16>,
    error: Option<String>,
    #[serde(default)]
    html: bool,
    delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Fault {
    fn check(&self) -> Result<(), String> {
        if !self.path.starts_with('/') || self.path.starts_with("/_sim") {
            return Err("path must be absolute, with its host prefix (/open, /accounts), outside /_sim".into());
        }
        if self.times == 0 {
            return Err("times must be at least 1".into());
        }
        match (self.status, self.code, &self.error, self.html) {
            (Some(s), Some(_), Some(_), false) if (400..=599).contains(&s) => Ok(()),
            (Some(_), ..) => Err("status needs code and error, must be 400..=599, and excludes html".into()),
            (None, Some(_), None, false) | (None, None, None, true) => Ok(()),
            (None, None, None, false) if self.delay_ms.is_some() => Ok(()),
            _ => Err("give code | status+code+error | html, and/or delay_ms".into()),
        }
    }

    fn answer(&self) -> Option<Response> {
        match (self.status, self.code, &self.error) {
            (Some(status), Some(code), Some(error)) => {
                Some(crate::oauth::error_response(status, code, error, "simulated fault"))
            }
            (None, Some(code), _) => Some(Json(json!({"code": code, "msg": "simulated fault"})).into_response()),
            // A gateway's HTML page where JSON was expected, with HTTP 200.
            _ if self.html => {
                Some(Html("<!DOCTYPE html><html><body><h1>服务暂时不可用</h1></body></html>").into_response())
            }
            _ => None,
        }
    }
}

/// Pending faults by exact path, first in first applied.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    by_path: HashMap<String, VecDeque<Fault>>,
}

impl Faults {
    fn take(&mut self, path: &str) -> Option<Fault> {
        let queue = self.by_path.get_mut(path)?;
        let front = queue.front_mut()?;
        let taken = front.clone();
        front.times -= 1;
        if front.times == 0 {
            queue.pop_front();
        }
        Some(taken)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    calls: BTreeMap<String, u64>,
    /// Successful calls of the app token endpoints (`app_access_token[/internal]`).
    pub(crate) app_token_fetches: u64,
    /// Successful calls of the tenant token endpoints (`tenant_access_token[/internal]`).
    pub(crate) tenant_token_fetches: u64,
    /// Distinct app and tenant tokens minted.
    pub(crate) tokens_issued: u64,
    /// app_ticket HTTP deliveries sent, retries and duplicates included.
    pub(crate) tickets_pushed: u64,
}

/// Applies a pending fault to a call and counts it.
pub(crate) async fn middleware(State(inner): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/_sim" || path.starts_with("/_sim/") {
        return next.run(req).await;
    }
    let fault = {
        let mut w = inner.world();
        *w.stats.calls.entry(path.clone()).or_default() += 1;
        w.faults.take(&path)
    };
    if let Some(ms) = fault.as_ref().and_then(|f| f.delay_ms) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match fault.and_then(|f| f.answer()) {
        Some(resp) => resp,
        None => next.run(req).await,
    }
}

async fn add_fault(State(inner): State<Shared>, Json(fault): Json<Fault>) -> Response {
    if let Err(e) = fault.check() {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let mut w = inner.world();
    w.faults.by_path.entry(fault.path.clone()).or_default().push_back(fault);
    let pending: u32 = w.faults.by_path.values().flatten().map(|f| f.times).sum();
    Json(json!({"pending": pending})).into_response()
}

async fn clear_faults(State(inner): State<Shared>) -> Json<Value> {
    inner.world().faults.by_path.clear();
    Json(json!({"pending": 0}))
}

async fn get_stats(State(inner): State<Shared>) -> Json<Value> {
    let w = inner.world();
    let s = &w.stats;
    Json(json!({
        "calls": s.calls,
        "app_token_fetches": s.app_token_fetches,
        "tenant_token_fetches": s.tenant_token_fetches,
        "tokens_issued": s.tokens_issued,
        "tickets_pushed": s.tickets_pushed,
    }))
}

async fn reset_stats(State(inner): State<Shared>) -> StatusCode {
    inner.world().stats = Stats::default();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ClockReq {
    advance_secs: i64,
}

async fn clock(State(inner): State<Shared>, Json(r): Json<ClockReq>) -> Json<Value> {
    inner.clock.advance(r.advance_secs);
    Json(json!({"now": inner.now()}))
}

#[derive(Deserialize)]
struct RedirectUris {
    redirect_uris: Vec<String>,
}

async fn redirect_uris(
    State(inner): State<Shared>,
    Path(app_id): Path<String>,
    Json(r): Json<RedirectUris>,
) -> Response {
    match inner.world().app_mut(&app_id) {
        Some(app) => {
            app.redirect_uris = r.redirect_uris;
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("no app {app_id}")),
    }
}

#[derive(Deserialize)]
struct EventUrl {
    url: String,
}

async fn event_url(State(inner): State<Shared>, Path(app_id): Path<String>, Json(r): Json<EventUrl>) -> Response {
    if inner.world().app(&app_id).is_none() {
        return error(StatusCode::NOT_FOUND, format!("no app {app_id}"));
    }
    match events::set_event_url(&inner, &app_id, &r.url).await {
        Ok(()) => Json(json!({"verified": true})).into_response(),
        Err(e) => Json(json!({"verified": false, "error": e})).into_response(),
    }
}

async fn push_ticket(State(inner): State<Shared>, Path(app_id): Path<String>) -> Response {
    match events::push_ticket(&inner, &app_id).await {
        Ok((ticket, delivered)) => Json(json!({"delivered": delivered, "ticket": ticket})).into_response(),
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}

#[derive(Deserialize)]
struct StatusReq {
    status: UserStatus,
}

async fn user_status(State(inner): State<Shared>, Path(id): Path<String>, Json(r): Json<StatusReq>) -> Response {
    match inner.world().user_mut(&id) {
        Some(u) => {
            u.status = r.status;
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::NOT_FOUND, format!("no user {id}")),
    }
}

/// `GET /_sim/`: tenants, users, apps; every text escaped.
pub(crate) async fn console(State(inner): State<Shared>) -> Response {
    let w = inner.world();
    let mut b = String::from("<h2>Tenants</h2>");
    for t in &w.seed.tenants {
        b.push_str(&format!("<h3>{} ({})</h3><ul>", esc(&t.name), esc(&t.tenant_key)));
        for u in &t.users {
            let line = format!("{} {} [{}] {:?}", u.user_id, u.name, u.id, u.status);
            b.push_str(&format!("<li>{}</li>", esc(&line)));
        }
        b.push_str("</ul>");
    }
    b.push_str("<h2>Apps</h2><ul>");
    for a in &w.seed.apps {
        let line = format!(
            "{} ({:?}, developer {}) installed in: {}; scopes: {}; redirect_uris: {}; event URL: {}",
            a.app_id,
            a.kind,
            a.owner_tenant,
            a.installed_in.join(", "),
            a.scopes.join(" "),
            a.redirect_uris.join(" "),
            w.event_urls.get(&a.app_id).map_or("-", String::as_str),
        );
        b.push_str(&format!("<li>{}</li>", esc(&line)));
    }
    b.push_str("</ul>");
    let mut resp = page(StatusCode::OK, "feishu-sim", &b);
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}
