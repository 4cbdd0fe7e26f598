//! The WeCom server API (`/cgi-bin/...`): tokens, code exchange, member lookup and the
//! service-provider endpoints, answering exactly what the reference documents.
//!
//! Each handler parses leniently (WeCom ignores content types and unknown parameters), then
//! answers with a [`Wx`]: HTTP 200 and an errcode. Handlers are written as `fn(..) ->
//! Result<Wx, i64>` so that a failed check is just `?` with the errcode.

use std::collections::HashMap;

use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;

use crate::Shared;
use crate::errcode::Wx;

mod auth;
mod service;
mod token;
mod user;

/// Every implemented `/cgi-bin` path (listed in the stats even before their first call).
pub(crate) const PATHS: &[&str] = &[
    "/cgi-bin/gettoken",
    "/cgi-bin/auth/getuserinfo",
    "/cgi-bin/user/getuserinfo",
    "/cgi-bin/auth/getuserdetail",
    "/cgi-bin/user/getuserdetail",
    "/cgi-bin/user/get",
    "/cgi-bin/service/get_suite_token",
    "/cgi-bin/service/get_permanent_code",
    "/cgi-bin/service/get_auth_info",
    "/cgi-bin/service/get_provider_token",
    "/cgi-bin/service/get_login_info",
    "/cgi-bin/service/auth/getuserinfo3rd",
    "/cgi-bin/service/auth/getuserdetail3rd",
    "/cgi-bin/service/corpid_to_opencorpid",
    "/cgi-bin/batch/userid_to_openuserid",
];

/// Routes of the server API.
pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/cgi-bin/gettoken", get(token::gettoken))
        .route("/cgi-bin/auth/getuserinfo", get(auth::getuserinfo))
        .route("/cgi-bin/user/getuserinfo", get(auth::getuserinfo_legacy))
        .route("/cgi-bin/auth/getuserdetail", post(auth::getuserdetail))
        .route("/cgi-bin/user/getuserdetail", post(auth::getuserdetail))
        .route("/cgi-bin/user/get", get(user::get))
        .route("/cgi-bin/service/get_suite_token", post(service::get_suite_token))
        .route("/cgi-bin/service/get_permanent_code", post(service::get_permanent_code))
        .route("/cgi-bin/service/get_auth_info", post(service::get_auth_info))
        .route("/cgi-bin/service/get_provider_token", post(service::get_provider_token))
        .route("/cgi-bin/service/get_login_info", post(service::get_login_info))
        .route("/cgi-bin/service/auth/getuserinfo3rd", get(service::getuserinfo3rd))
        .route("/cgi-bin/service/auth/getuserdetail3rd", post(service::getuserdetail3rd))
        .route("/cgi-bin/service/corpid_to_opencorpid", post(service::corpid_to_opencorpid))
        .route("/cgi-bin/batch/userid_to_openuserid", post(user::userid_to_openuserid))
        .route("/cgi-bin/{*rest}", get(unknown_api).post(unknown_api))
}

/// An API the simulator does not implement: WeCom answers unknown paths with an errcode too.
async fn unknown_api() -> Wx {
    Wx::err(48002)
}

/// Query parameters, first occurrence wins; an undecodable query counts as empty.
pub(crate) fn params(raw: Option<String>) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let mut map = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_insert(v);
    }
    map
}

/// A non-empty parameter.
pub(crate) fn param<'a>(p: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    p.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// A POST body as a JSON object; anything else is WeCom's `47001` (data format error).
pub(crate) fn json_body(body: &[u8]) -> Result<Value, i64> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(47001),
    }
}

/// A non-empty string field of a JSON body.
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Turns a handler result into the answer.
pub(crate) fn reply(r: Result<Wx, i64>) -> Wx {
    r.unwrap_or_else(Wx::err)
}
