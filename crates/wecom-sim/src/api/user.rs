//! `GET /cgi-bin/user/get` (reference §4, §3.2): one member, as the calling app may see them.
//!
//! Outside the app's visible scope → `60011`; unknown userid (compared case-insensitively) →
//! `60111` (also once deleted at run time); `status` is the member's current one (1 active, 2
//! disabled, 4 not activated). Apps created after 2022-06-20 (`legacy_privacy = false`, the default) get no mobile,
//! gender, email, biz_mail, avatar, qr_code or address: those come only from getuserdetail; neither
//! do delegated apps (path/96255). A delegated app of an upgraded template names members by the
//! provider's encrypted userid, both in the `userid` parameter (compared exactly) and in the answer
//! (document 39442); a plain userid is then no member it knows (60111). `open_userid` is for
//! third-party apps only (path/96255: 仅第三方应用可获取), so no corp app gets it here.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::{json_body, param, params, reply};
use crate::Shared;
use crate::errcode::{Obj, Wx};
use crate::ids;
use crate::state::open_userid_of;

pub(crate) async fn get(State(inner): State<Shared>, RawQuery(q): RawQuery) -> Wx {
    reply(lookup(&inner, &params(q)))
}

fn lookup(inner: &Shared, p: &HashMap<String, String>) -> Result<Wx, i64> {
    let now = inner.now();
    let world = inner.world();
    let (corp_id, agent_id) = world.corp_token(param(p, "access_token"), now)?;
    let userid = param(p, "userid").ok_or(41009)?;
    let corp = inner.corp(&corp_id).ok_or(40013)?;
    let app = world.app(&corp_id, agent_id).ok_or(40014)?;
    let view = inner.app_view(app);
    // Deleted members are gone (60111); updated ones show their new fields and status.
    let m = world.member_in(view, corp, userid).ok_or(60111)?;
    if !app.sees(corp, &m) {
        return Err(60011);
    }
    let legacy = app.legacy_privacy;
    let zeros: Vec<Value> = m.department.iter().map(|_| json!(0)).collect();
    let mut out = Obj::new()
        .with("userid", view.userid(corp, &m))
        .with("name", m.name.clone())
        .with("department", json!(m.department))
        .with("order", Value::Array(zeros.clone()))
        .with("position", m.position.clone());
    if legacy {
        out.push("mobile", m.mobile.clone());
        out.push("gender", m.gender.clone());
        out.push("email", m.email.clone());
        out.push("biz_mail", m.biz_mail.clone());
    }
    out.push("is_leader_in_dept", Value::Array(zeros));
    out.push("direct_leader", json!([]));
    if legacy {
        out.push("avatar", m.avatar.clone());
        out.push("thumb_avatar", m.avatar.clone());
    }
    out.push("telephone", "");
    out.push("alias", "");
    if legacy {
        out.push("address", m.address.clone());
    }
    out.push("main_department", m.department.first().copied().unwrap_or(1));
    out.push("extattr", json!({ "attrs": [] }));
    // 1 active, 2 disabled, 4 not activated (path/90196).
    out.push("status", m.status);
    if legacy {
        out.push("qr_code", ids::qr_code(&corp.corp_id, &m.userid));
    }
    out.push("external_position", "");
    Ok(Wx::ok(out))
}

/// `POST /cgi-bin/batch/userid_to_openuserid?access_token=` `{userid_list}` (path/97062, path/97104 §2.4):
/// plain userids to the provider's encrypted ones, with a delegated app's token (a self-built app's is
/// 48002: 仅代开发应用或第三方应用可调用). At most 1000 (40058 beyond); a userid that is unknown or outside
/// the app's visible scope (成员需要在应用的可见范围内) lands in `invalid_userid_list`.
pub(crate) async fn userid_to_openuserid(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(convert(&inner, &params(q), &body))
}

fn convert(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let world = inner.world();
    let (corp_id, agent_id) = world.corp_token(param(p, "access_token"), now)?;
    let corp = inner.corp(&corp_id).ok_or(40013)?;
    let app = world.app(&corp_id, agent_id).ok_or(40014)?;
    let provider = app
        .template_id
        .as_deref()
        .and_then(|t| inner.suite_like(t))
        .map(|s| s.provider_corp_id().to_owned())
        .ok_or(48002)?;
    let body = json_body(body)?;
    let list = body.get("userid_list").and_then(Value::as_array).ok_or(40058)?;
    if list.is_empty() || list.len() > 1000 {
        return Err(40058);
    }
    let mut converted = Vec::new();
    let mut invalid = Vec::new();
    for raw in list {
        let userid = raw.as_str().unwrap_or_default();
        match world.member(corp, userid).filter(|m| app.sees(corp, m)) {
            Some(m) => converted.push(json!({"userid": userid, "open_userid": open_userid_of(&provider, corp, &m)})),
            None => invalid.push(json!(userid)),
        }
    }
    let mut out = Obj::new().with("open_userid_list", Value::Array(converted));
    if !invalid.is_empty() {
        out.push("invalid_userid_list", Value::Array(invalid));
    }
    Ok(Wx::ok(out))
}
