//! `/token`: dispatches on `grant_type` to one module per grant (`grants/`).

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::client_auth::FormParams;
use super::error::OAuthError;
use super::grants;
use crate::app::AppState;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let form = FormParams::parse(pairs)?;
        match form.require("grant_type")? {
            "authorization_code" => grants::authorization_code::grant(&app, &headers, &form).await,
            "refresh_token" => grants::refresh_token::grant(&app, &headers, &form).await,
            TOKEN_EXCHANGE => grants::token_exchange::grant(&app, &headers, &form).await,
            other => Err(OAuthError::unsupported_grant_type(format!("grant_type {other} is not supported"))),
        }
    }
    .await;
    match result {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}
