//! Code exchange for corp apps (reference §2.3, §2.4, §3.1, §5): `auth/getuserinfo` (and the
//! legacy `user/getuserinfo` with capitalised keys), then `auth/getuserdetail` for the sensitive
//! fields behind a `user_ticket`.
//!
//! Codes are single use, live `code_ttl_secs`, and belong to one corp and app; a code delivered
//! through a redirect outside the exchanging app's trusted domain gets `50001`. Members outside
//! the app's visible scope still get their userid, as on WeCom — only `user_ticket` needs scope.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};

use super::{field, json_body, param, params, reply};
use crate::Shared;
use crate::domain;
use crate::errcode::{Obj, Wx};
use crate::ids;
use crate::state::{Audience, CodeScope, Grant, Subject, UserTicket};

/// `GET /cgi-bin/auth/getuserinfo`.
pub(crate) async fn getuserinfo(State(inner): State<Shared>, RawQuery(q): RawQuery) -> Wx {
    reply(exchange(&inner, &params(q), false))
}

/// `GET /cgi-bin/user/getuserinfo`: the legacy spelling (`UserId`, `OpenId`, `DeviceId`).
pub(crate) async fn getuserinfo_legacy(State(inner): State<Shared>, RawQuery(q): RawQuery) -> Wx {
    reply(exchange(&inner, &params(q), true))
}

fn exchange(inner: &Shared, p: &HashMap<String, String>, legacy: bool) -> Result<Wx, i64> {
    let now = inner.now();
    let mut world = inner.world();
    let (corp_id, agent_id) = world.corp_token(param(p, "access_token"), now)?;
    let code = param(p, "code").ok_or(41008)?;
    let issued = world.codes.get(code).cloned().ok_or(40029)?;
    if now >= issued.issued_at + inner.config.code_ttl_secs {
        world.codes.remove(code);
        return Err(40029);
    }
    match &issued.audience {
        Audience::CorpApp { corp_id: c, agent_id: a } if *c == corp_id && a.is_none_or(|a| a == agent_id) => {}
        _ => return Err(40029),
    }
    let app = world.app(&corp_id, agent_id).cloned().ok_or(40014)?;
    if let Some(redirect) = &issued.redirect
        && !domain::admits(&inner.trusted_domain(&app.trusted_domain), redirect)
    {
        return Err(50001);
    }
    world.codes.remove(code);
    let corp = inner.corp(&corp_id).ok_or(40013)?;
    let mut out = Obj::new();
    match &issued.subject {
        // A member of a linked corp (企业互联 / 上下游): `CorpId/userid`, and never a user_ticket.
        Subject::Member { corp_id: theirs, userid } if *theirs != corp_id => {
            if !corp.linked_corps.contains(theirs) {
                return Err(40029);
            }
            let member = inner.corp(theirs).and_then(|c| world.member(c, userid)).ok_or(40029)?;
            out.push(if legacy { "UserId" } else { "userid" }, format!("{theirs}/{}", member.userid));
            if legacy {
                out.push("DeviceId", "");
            }
        }
        Subject::Member { userid, .. } => {
            // A member deleted since the code was issued is no member any more.
            let member = world.member(corp, userid).ok_or(40029)?;
            // A delegated app of an upgraded template gets the provider's encrypted userid (document 39442).
            let shown = inner.app_view(&app).userid(corp, &member);
            out.push(if legacy { "UserId" } else { "userid" }, shown.clone());
            if legacy {
                out.push("DeviceId", "");
            }
            if issued.scope == CodeScope::SnsapiPrivateinfo && app.sees(corp, &member) {
                let ttl = inner.config.user_ticket_ttl_secs;
                let ticket = ids::random_token(86);
                world.user_tickets.insert(
                    ticket.clone(),
                    UserTicket {
                        grant: Grant::Corp { corp_id: corp_id.clone(), agent_id },
                        corp_id: corp_id.clone(),
                        userid: member.userid.clone(),
                        shown_userid: shown,
                        expires_at: now + ttl,
                    },
                );
                out.push("user_ticket", ticket);
                out.push("expires_in", ttl);
            }
        }
        Subject::Outsider { key } => {
            out.push(if legacy { "OpenId" } else { "openid" }, ids::openid(&corp_id, key));
            if legacy {
                out.push("DeviceId", "");
            }
        }
    }
    Ok(Wx::ok(out))
}

/// `POST /cgi-bin/auth/getuserdetail` (and legacy `user/getuserdetail`) `{"user_ticket"}`.
pub(crate) async fn getuserdetail(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(detail(&inner, &params(q), &body))
}

fn detail(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let world = inner.world();
    let (corp_id, agent_id) = world.corp_token(param(p, "access_token"), now)?;
    let body = json_body(body)?;
    let ticket = field(&body, "user_ticket").ok_or(84015)?;
    let t = world.user_tickets.get(ticket).ok_or(84015)?;
    if t.grant != (Grant::Corp { corp_id, agent_id }) {
        return Err(84015);
    }
    if now >= t.expires_at {
        return Err(84014);
    }
    let corp = inner.corp(&t.corp_id).ok_or(84015)?;
    let m = world.member(corp, &t.userid).ok_or(84015)?;
    Ok(Wx::ok(
        Obj::new()
            .with("userid", t.shown_userid.clone())
            .with("gender", m.gender.clone())
            .with("avatar", m.avatar.clone())
            .with("qr_code", ids::qr_code(&corp.corp_id, &m.userid))
            .with("mobile", m.mobile.clone())
            .with("email", m.email.clone())
            .with("biz_mail", m.biz_mail.clone())
            .with("address", m.address.clone()),
    ))
}
