//! `/_sim`: not part of DingTalk. Fault injection, call counters, the clock, run-time changes to the
//! seed, and a console page. `/_sim/*` itself is never faulted nor counted. Bodies are JSON
//! (axum's own 4xx for a malformed one; these endpoints are not DingTalk's).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::login::{esc, page};
use crate::state::{random_hex, request_id};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(console))
        .route("/auth_code", post(auth_code))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/stats", get(get_stats).delete(reset_stats))
        .route("/clock", post(clock))
        .route("/apps/{client_id}/redirect_uris", put(redirect_uris))
        .route("/orgs/{corp_id}/members/{userid}", delete(remove_member))
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

/// One pending fault, as posted: `errcode` | `status`+`code` | `throttle` | `html`, and/or `delay_ms`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Fault {
    path: String,
    #[serde(default = "one")]
    times: u32,
    errcode: Option<i64>,
    status: Option<u16>,
    code: Option<String>,
    #[serde(default)]
    throttle: bool,
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
            return Err("path must be absolute, with its family prefix, outside /_sim".into());
        }
        if self.times == 0 {
            return Err("times must be at least 1".into());
        }
        let shapes = [self.errcode.is_some(), self.status.is_some(), self.throttle, self.html];
        match shapes.iter().filter(|s| **s).count() {
            0 if self.delay_ms.is_none() => Err("give errcode, status+code, throttle, html or delay_ms".into()),
            0 | 1 => match (self.status, &self.code) {
                (Some(s), Some(_)) if (400..=599).contains(&s) => Ok(()),
                (Some(_), _) => Err("status needs a code and must be 400..=599".into()),
                (None, _) => Ok(()),
            },
            _ => Err("errcode, status, throttle and html exclude each other".into()),
        }
    }

    fn answer(&self) -> Option<Response> {
        if let Some(errcode) = self.errcode {
            let errmsg = if errcode == -1 { "系统繁忙" } else { "simulated fault" };
            return Some(
                Json(json!({"errcode": errcode, "errmsg": errmsg, "request_id": request_id()})).into_response(),
            );
        }
        if let (Some(status), Some(code)) = (self.status, &self.code) {
            return Some(crate::api::error_response(status, code, "simulated fault", None));
        }
        if self.throttle {
            // [DT-rate] the IP-throttle answer is not the normal JSON of either family.
            let body = json!({"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": random_hex()});
            return Some(Json(body).into_response());
        }
        if self.html {
            // [DT-rate] …or an HTML page with HTTP 200.
            let html = "<!DOCTYPE html><html><head><title>访问被拒绝</title></head><body><p>您的访问过于频繁</p></body></html>";
            return Some(Html(html).into_response());
        }
        None
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
    /// Successful calls of `/api/v1.0/oauth2/{corpId}/token`, `/api/v1.0/oauth2/accessToken` and `/oapi/gettoken`.
    pub(crate) app_token_fetches: u64,
    /// Distinct app token values minted.
    pub(crate) app_tokens_issued: u64,
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
    Json(json!({"calls": s.calls, "app_token_fetches": s.app_token_fetches, "app_tokens_issued": s.app_tokens_issued}))
}

async fn reset_stats(State(inner): State<Shared>) -> StatusCode {
    inner.world().stats = Stats::default();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct AuthCodeReq {
    person: String,
    corp_id: String,
    /// The app the code is requested for (`dd.requestAuthCode({corpId, clientId})`); absent: the legacy call.
    #[serde(default)]
    client_id: Option<String>,
}

async fn auth_code(State(inner): State<Shared>, Json(r): Json<AuthCodeReq>) -> Response {
    let now = inner.now();
    match inner.world().mint_free_code(&r.person, &r.corp_id, r.client_id.as_deref(), now) {
        Ok(code) => Json(json!({"code": code})).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
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
    Path(client_id): Path<String>,
    Json(r): Json<RedirectUris>,
) -> Response {
    if crate::set_redirect_uris(&inner, &client_id, r.redirect_uris) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no app {client_id}"))
    }
}

async fn remove_member(State(inner): State<Shared>, Path((corp_id, userid)): Path<(String, String)>) -> Response {
    let mut w = inner.world();
    let Some(org) = w.seed.orgs.iter_mut().find(|o| o.corp_id == corp_id) else {
        return error(StatusCode::NOT_FOUND, format!("no org {corp_id}"));
    };
    let before = org.members.len();
    org.members.retain(|m| m.userid != userid);
    if org.members.len() == before {
        return error(StatusCode::NOT_FOUND, format!("no member {userid} in {corp_id}"));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_sim/`: orgs, members, apps; every text escaped.
pub(crate) async fn console(State(inner): State<Shared>) -> Response {
    let w = inner.world();
    let mut b = String::from("<h2>Orgs</h2>");
    for o in &w.seed.orgs {
        b.push_str(&format!("<h3>{} ({})</h3><ul>", esc(&o.name), esc(&o.corp_id)));
        for m in &o.members {
            let kind = if m.external {
                " — 外部联系人"
            } else if m.admin {
                " — 管理员"
            } else {
                ""
            };
            b.push_str(&format!("<li>{} {} [{}]{kind}</li>", esc(&m.userid), esc(&m.name), esc(&m.person)));
        }
        b.push_str("</ul>");
    }
    b.push_str("<h2>People</h2><ul>");
    for p in &w.seed.people {
        b.push_str(&format!("<li>{} {}</li>", esc(&p.id), esc(&p.nick)));
    }
    b.push_str("</ul><h2>Apps</h2><ul>");
    for a in &w.seed.apps {
        let (perms, uris) = (a.permissions.join(", "), a.redirect_uris.join(" "));
        b.push_str(&format!(
            "<li>{} (corp {}) permissions: {} redirect_uris: {}</li>",
            esc(&a.client_id),
            esc(&a.corp_id),
            esc(&perms),
            esc(&uris)
        ));
    }
    b.push_str("</ul>");
    let mut resp = page(StatusCode::OK, "dingtalk-sim", &b);
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}
