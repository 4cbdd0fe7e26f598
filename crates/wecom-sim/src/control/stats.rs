//! Call and push counters behind `GET /_sim/stats`: per `/cgi-bin` path the number of calls and
//! how many ended with each errcode (or `http_500` / `malformed` / `drop` for injected faults),
//! and one record per event push.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::Shared;
use crate::state::lock;

/// Counters of one path.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct PathStats {
    pub(crate) total: u64,
    pub(crate) errcodes: BTreeMap<String, u64>,
}

/// One event push (all its attempts).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PushRecord {
    /// `suite:<suite id>` or `app:<corp id>:<agent id>`.
    pub(crate) target: String,
    /// The suite or template, for a command-callback push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suite_id: Option<String>,
    pub(crate) info_type: String,
    pub(crate) url: String,
    pub(crate) attempts: u32,
    pub(crate) delivered: bool,
    /// HTTP status of the last attempt, if it got an answer.
    pub(crate) last_status: Option<u16>,
    /// Transport error of the last attempt, if any.
    pub(crate) last_error: Option<String>,
    pub(crate) at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Stats {
    pub(crate) calls: BTreeMap<String, PathStats>,
    pub(crate) pushes: Vec<PushRecord>,
}

impl Default for Stats {
    /// Every implemented path at zero, so `calls["/cgi-bin/gettoken"].total` reads 0 before use.
    fn default() -> Self {
        Stats {
            calls: crate::api::PATHS.iter().map(|p| ((*p).to_owned(), PathStats::default())).collect(),
            pushes: Vec::new(),
        }
    }
}

impl Stats {
    pub(crate) fn record_call(&mut self, path: &str, outcome: &str) {
        let entry = self.calls.entry(path.to_owned()).or_default();
        entry.total += 1;
        *entry.errcodes.entry(outcome.to_owned()).or_default() += 1;
    }
}

/// `GET /_sim/stats`.
pub(crate) async fn get_stats(State(inner): State<Shared>) -> Json<Stats> {
    Json(lock(&inner.stats).clone())
}
