//! WeCom's JSON answers: `errcode` / `errmsg` in WeCom's own wording, always HTTP 200.
//!
//! Every `/cgi-bin` handler answers a [`Wx`]. Its errcode travels in a response extension so the
//! stats middleware can count it without parsing the body. Error messages carry the
//! `hint: [...]`, `from ip: ...` and `more info at ...?e=CODE` tail WeCom appends (reference §0).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

tokio::task_local! {
    /// Caller's IP, set by the middleware for the duration of a request (for `from ip:`).
    pub(crate) static CLIENT_IP: String;
}

/// The errcode of an answer, stored as a response extension for the stats.
#[derive(Debug, Clone)]
pub(crate) struct ErrcodeTag(pub(crate) String);

/// WeCom's English `errmsg` for the codes the simulator emits.
pub(crate) fn errmsg(code: i64) -> &'static str {
    match code {
        -1 => "system is busy",
        0 => "ok",
        40001 => "invalid credential, access_token is invalid or not latest",
        40013 => "invalid corpid",
        40014 => "invalid access_token",
        40029 => "invalid code",
        40056 => "invalid agentid",
        40058 => "invalid parameter",
        40078 => "invalid auth_code",
        40080 => "invalid suite_secret",
        40082 => "invalid suite_token",
        40083 => "invalid suite_id",
        40084 => "invalid permanent_code",
        40085 => "invalid suite_ticket",
        40091 => "invalid secret",
        41001 => "access_token missing",
        41002 => "corpid missing",
        41004 => "corpsecret missing",
        41008 => "missing code",
        41009 => "missing userid",
        41021 => "suite_id missing",
        41022 => "suite_access_token missing",
        41023 => "suite_ticket missing",
        41024 => "suite_secret missing",
        42001 => "access_token expired",
        42009 => "suite_access_token expired",
        45009 => "api freq out of limit",
        47001 => "data format error",
        48002 => "api forbidden",
        48004 => "api forbidden for invalid auth relation",
        50001 => "redirect_url domain not match",
        50002 => "user not in app privilege",
        50003 => "application is disabled",
        60011 => "no privilege to access/modify contact/party/agent",
        60020 => "not allow to access from your ip",
        60111 => "userid not found",
        84014 => "user_ticket expired",
        84015 => "invalid user_ticket",
        _ => "unknown error",
    }
}

/// The full `errmsg` of an error: message, hint, caller IP and the devtool link.
pub(crate) fn full_errmsg(code: i64) -> String {
    if code == 0 {
        return "ok".to_owned();
    }
    let ip = CLIENT_IP.try_with(Clone::clone).unwrap_or_else(|_| "127.0.0.1".to_owned());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!(
        "{}, hint: [{}_{}_{}], from ip: {}, more info at https://open.work.weixin.qq.com/devtool/query?e={}",
        errmsg(code),
        now,
        rand::random::<u8>(),
        crate::ids::random_alnum(32).to_lowercase(),
        ip,
        code
    )
}

/// A JSON object whose keys keep their insertion order (WeCom puts `errcode` first).
#[derive(Debug, Clone, Default)]
pub(crate) struct Obj(Vec<(&'static str, Value)>);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj(Vec::new())
    }

    pub(crate) fn with(mut self, key: &'static str, value: impl Into<Value>) -> Obj {
        self.0.push((key, value.into()));
        self
    }

    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<Value>) {
        self.0.push((key, value.into()));
    }
}

impl Serialize for Obj {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// An answer of the WeCom server API.
#[derive(Debug)]
pub(crate) struct Wx {
    errcode: i64,
    body: Obj,
}

impl Wx {
    /// `{"errcode":0,"errmsg":"ok", ...fields}`.
    pub(crate) fn ok(fields: Obj) -> Wx {
        let mut body = Obj::new().with("errcode", 0).with("errmsg", "ok");
        body.0.extend(fields.0);
        Wx { errcode: 0, body }
    }

    /// A success without `errcode`/`errmsg`: the legacy provider endpoints (reference §0).
    pub(crate) fn ok_bare(fields: Obj) -> Wx {
        Wx { errcode: 0, body: fields }
    }

    /// `{"errcode":CODE,"errmsg":"..."}`.
    pub(crate) fn err(code: i64) -> Wx {
        Wx { errcode: code, body: Obj::new().with("errcode", code).with("errmsg", full_errmsg(code)) }
    }
}

/// Lets handlers use `?` on lookups that fail with an errcode.
impl From<i64> for Wx {
    fn from(code: i64) -> Wx {
        Wx::err(code)
    }
}

impl IntoResponse for Wx {
    fn into_response(self) -> Response {
        let mut resp = (StatusCode::OK, Json(self.body)).into_response();
        resp.extensions_mut().insert(ErrcodeTag(self.errcode.to_string()));
        resp
    }
}
