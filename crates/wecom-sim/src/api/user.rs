//! `GET /cgi-bin/user/get` (reference §4, §3.2): one member, as the calling app may see them.
//!
//! Outside the app's visible scope → `60011`; unknown userid (compared case-insensitively) →
//! `60111`. Apps created after 2022-06-20 (`legacy_privacy = false`, the default) get no mobile,
//! gender, email, biz_mail, avatar, qr_code or address: those come only from getuserdetail.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::{param, params, reply};
use crate::Shared;
use crate::errcode::{Obj, Wx};
use crate::ids;
use crate::state::{find_member, open_userid_of};

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
    let m = find_member(corp, userid).ok_or(60111)?;
    if !app.sees(corp, m) {
        return Err(60011);
    }
    let legacy = app.legacy_privacy;
    let zeros: Vec<Value> = m.department.iter().map(|_| json!(0)).collect();
    let mut out = Obj::new()
        .with("userid", m.userid.clone())
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
    out.push("open_userid", open_userid_of(corp, m));
    out.push("main_department", m.department.first().copied().unwrap_or(1));
    out.push("extattr", json!({ "attrs": [] }));
    out.push("status", 1);
    if legacy {
        out.push("qr_code", ids::qr_code(&corp.corp_id, &m.userid));
    }
    out.push("external_position", "");
    Ok(Wx::ok(out))
}
