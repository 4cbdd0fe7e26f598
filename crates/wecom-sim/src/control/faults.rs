//! Fault injection (`POST|DELETE /_sim/faults`) and the middleware that applies faults and
//! counts `/cgi-bin` calls for the stats.
//!
//! A fault targets the next `count` calls of one exact path: answer a given errcode, wait before
//! the normal answer, answer HTTP 500, answer 200 with a body that is not JSON, or drop the
//! connection without any answer. `/_sim/*` is never faulted nor counted.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::Shared;
use crate::control::ApiError;
use crate::errcode::{CLIENT_IP, ErrcodeTag, Wx};
use crate::state::lock;

/// What happens to a faulted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FaultKind {
    Errcode,
    Delay,
    #[serde(rename = "http_500")]
    Http500,
    Malformed,
    Drop,
}

/// A pending fault, as posted and as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FaultSpec {
    pub(crate) path: String,
    pub(crate) kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) errcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delay_ms: Option<u64>,
    #[serde(default = "one")]
    pub(crate) count: u32,
}

fn one() -> u32 {
    1
}

/// Pending faults by path, first in first applied.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    by_path: HashMap<String, VecDeque<FaultSpec>>,
}

impl Faults {
    fn take(&mut self, path: &str) -> Option<FaultSpec> {
        let queue = self.by_path.get_mut(path)?;
        let front = queue.front_mut()?;
        let taken = front.clone();
        front.count = front.count.saturating_sub(1);
        if front.count == 0 {
            queue.pop_front();
        }
        if queue.is_empty() {
            self.by_path.remove(path);
        }
        Some(taken)
    }

    fn list(&self) -> Vec<FaultSpec> {
        let mut all: Vec<FaultSpec> = self.by_path.values().flatten().cloned().collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all
    }

    pub(crate) fn clear(&mut self) {
        self.by_path.clear();
    }
}

#[derive(Serialize)]
pub(crate) struct FaultList {
    faults: Vec<FaultSpec>,
}

/// `POST /_sim/faults`.
pub(crate) async fn add_fault(State(inner): State<Shared>, body: Bytes) -> Result<Json<FaultList>, ApiError> {
    let spec: FaultSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_fault", format!("invalid fault: {e}")))?;
    if !spec.path.starts_with('/') || spec.path.starts_with("/_sim") {
        return Err(ApiError::bad_request(
            "invalid_fault",
            "path must be an absolute path outside /_sim, e.g. /cgi-bin/auth/getuserinfo",
        ));
    }
    if spec.count == 0 {
        return Err(ApiError::bad_request("invalid_fault", "count must be at least 1"));
    }
    match spec.kind {
        FaultKind::Errcode if spec.errcode.is_none() => {
            return Err(ApiError::bad_request("invalid_fault", "kind errcode needs an errcode"));
        }
        FaultKind::Delay if spec.delay_ms.is_none() => {
            return Err(ApiError::bad_request("invalid_fault", "kind delay needs delay_ms"));
        }
        _ => {}
    }
    let mut faults = lock(&inner.faults);
    faults.by_path.entry(spec.path.clone()).or_default().push_back(spec);
    Ok(Json(FaultList { faults: faults.list() }))
}

/// `GET /_sim/faults`.
pub(crate) async fn list_faults(State(inner): State<Shared>) -> Json<FaultList> {
    Json(FaultList { faults: lock(&inner.faults).list() })
}

/// `DELETE /_sim/faults`.
pub(crate) async fn clear_faults(State(inner): State<Shared>) -> Json<FaultList> {
    lock(&inner.faults).clear();
    Json(FaultList { faults: vec![] })
}

/// A body whose first poll fails: hyper then closes the connection before the response head
/// leaves its write buffer, so the client sees the connection drop without any answer.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("wecom-sim: simulated dropped connection"))
    });
    Response::new(Body::from_stream(stream))
}

/// Applies pending faults, sets the caller IP for `errmsg`, counts `/cgi-bin` calls.
pub(crate) async fn middleware(State(inner): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/_sim" || path.starts_with("/_sim/") {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string());
    let fault = lock(&inner.faults).take(&path);
    let (resp, outcome) = match fault {
        Some(FaultSpec {
            kind: FaultKind::Errcode,
            errcode: Some(code),
            ..
        }) => {
            let resp = CLIENT_IP
                .scope(ip, async move { Wx::err(code).into_response() })
                .await;
            (resp, code.to_string())
        }
        Some(FaultSpec {
            kind: FaultKind::Http500,
            ..
        }) => (
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n",
            )
                .into_response(),
            "http_500".to_owned(),
        ),
        Some(FaultSpec {
            kind: FaultKind::Malformed,
            ..
        }) => (
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
                "{\"errcode\":0,\"errmsg\":\"ok\",\"userid\":",
            )
                .into_response(),
            "malformed".to_owned(),
        ),
        Some(FaultSpec {
            kind: FaultKind::Drop,
            ..
        }) => (dropped_connection(), "drop".to_owned()),
        other => {
            if let Some(FaultSpec {
                delay_ms: Some(ms), ..
            }) = other
            {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let resp = CLIENT_IP.scope(ip, next.run(req)).await;
            let outcome = resp
                .extensions()
                .get::<ErrcodeTag>()
                .map_or_else(|| format!("http_{}", resp.status().as_u16()), |t| t.0.clone());
            (resp, outcome)
        }
    };
    if path.starts_with("/cgi-bin/") {
        lock(&inner.stats).record_call(&path, &outcome);
    }
    resp
}
