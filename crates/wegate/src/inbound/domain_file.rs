//! `GET /WW_verify_*.txt`: WeCom's trusted-domain check (校验可信域名归属) downloads this file from the
//! domain root; any connection may carry one (`domain_verification`).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::connectors::fields::is_verification_filename;

/// `GET /WW_verify_*.txt`: the trusted-domain verification file of whichever connection carries it.
pub async fn domain_verification_file(State(app): State<AppState>, Path(filename): Path<String>) -> Response {
    if !is_verification_filename(&filename) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let connections = match crate::store::all_connections(app.store.as_ref()).await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "cannot list connections for the verification file");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let file = connections.into_iter().filter_map(|c| c.domain_verification).find(|f| f.filename == filename);
    match file {
        Some(file) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], file.content).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
