//! Service-provider endpoints (reference §7, §8): suite tokens from the pushed suite_ticket,
//! permanent codes from authorization codes (for a delegated template, the permanent code *is*
//! the new app's secret), the provider token and legacy login info, and the third-party code
//! exchange `getuserinfo3rd` / `getuserdetail3rd`.
//!
//! `get_suite_token` and `get_provider_token` answer without `errcode` on success — the legacy
//! quirk of §0 that clients must tolerate.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::{field, json_body, param, params, reply};
use crate::Shared;
use crate::domain;
use crate::errcode::{Obj, Wx};
use crate::ids;
use crate::state::{
    Audience, AuthCodeKind, CodeScope, Grant, IdView, Inner, Subject, SuiteLike, UserTicket, World, open_userid_of,
};

/// `POST /cgi-bin/service/get_suite_token` `{suite_id, suite_secret, suite_ticket}`.
pub(crate) async fn get_suite_token(State(inner): State<Shared>, body: Bytes) -> Wx {
    reply(suite_token(&inner, &body))
}

fn suite_token(inner: &Shared, body: &[u8]) -> Result<Wx, i64> {
    let body = json_body(body)?;
    let suite_id = field(&body, "suite_id").ok_or(41021)?;
    let suite = inner.suite_like(suite_id).ok_or(40083)?;
    let secret = field(&body, "suite_secret").ok_or(41024)?;
    if secret != suite.secret() {
        return Err(40080);
    }
    let ticket = field(&body, "suite_ticket").ok_or(41023)?;
    let now = inner.now();
    let ttl = inner.config.token_ttl_secs;
    let mut world = inner.world();
    if !world.suite_ticket_valid(suite_id, ticket, now) {
        return Err(40085);
    }
    let grant = Grant::Suite { suite_id: suite_id.to_owned() };
    let token = world.issue_token(grant, now, ttl);
    Ok(Wx::ok_bare(Obj::new().with("suite_access_token", token).with("expires_in", ttl)))
}

/// `POST /cgi-bin/service/get_permanent_code?suite_access_token=` `{auth_code}`.
pub(crate) async fn get_permanent_code(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(permanent_code(&inner, &params(q), &body))
}

fn permanent_code(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let mut world = inner.world();
    let suite_id = world.suite_token(param(p, "suite_access_token"), now)?;
    let body = json_body(body)?;
    let code = field(&body, "auth_code").ok_or(41008)?;
    let grant = world.auth_codes.get(code).cloned().ok_or(40078)?;
    if grant.suite_id != suite_id {
        return Err(40078);
    }
    world.auth_codes.remove(code);
    if now >= grant.issued_at + inner.config.auth_code_ttl_secs {
        return Err(40078);
    }
    let suite = inner.suite_like(&suite_id).ok_or(40083)?;
    let view = suite.view();
    let corp = inner.corp(&grant.corp_id).ok_or(40078)?;
    let permanent = ids::random_token(43);
    // Only the latest permanent code works: one fetched earlier (normally already revoked by the
    // reset that pushed this auth code) stops working, with the tokens obtained with it.
    world.revoke_permanent_code(&suite_id, &grant.corp_id);
    let auth = world.authorization_mut(&suite_id, &grant.corp_id).ok_or(40078)?;
    auth.permanent_code = Some(permanent.clone());
    let auth = auth.clone();
    if suite.is_template() {
        // The permanent code is the delegated app's secret.
        if let Some(app) = world.app_mut(&grant.corp_id, auth.agent_id) {
            app.secret = Some(permanent.clone());
        }
    }
    let installer = auth.installer.as_deref().and_then(|u| world.member(corp, u)).or_else(|| {
        let members = world.members(corp);
        members.iter().find(|m| m.admin).or(members.first()).cloned()
    });
    let auth_user_info = installer.map_or_else(
        || json!({}),
        |m| {
            json!({
                "userid": view.userid(corp, &m),
                "open_userid": open_userid_of(suite.provider_corp_id(), corp, &m),
                "name": m.name,
                "avatar": m.avatar,
            })
        },
    );
    let mut out = Obj::new()
        .with("permanent_code", permanent)
        .with("auth_corp_info", auth_corp_info(corp, view))
        .with("auth_info", auth_info(&world, &suite, &auth))
        .with("auth_user_info", auth_user_info);
    if grant.kind == AuthCodeKind::CreateAuth
        && let Some(state) = &auth.state
    {
        out.push("state", state.clone());
    }
    Ok(Wx::ok(out))
}

/// `auth_corp_info` of get_permanent_code and get_auth_info (reference §7.5); `corpid` as the suite sees
/// it (the provider's encrypted corp id since the 2022 upgrade, path/96516 §1.2: 字段名不变，值为密文).
fn auth_corp_info(corp: &crate::seed::Corp, view: IdView<'_>) -> Value {
    json!({
        "corpid": view.corp_id(&corp.corp_id),
        "corp_name": corp.name,
        "corp_type": "verified",
        "corp_square_logo_url": "",
        "corp_user_max": 200,
        "corp_full_name": corp.full_name.clone().unwrap_or_else(|| corp.name.clone()),
        "subject_type": 1,
        "corp_scale": "1-50人",
        "corp_industry": "IT服务",
        "corp_sub_industry": "互联网和相关服务",
    })
}

/// `auth_info` (the authorized agent and its privileges) of get_permanent_code and get_auth_info.
fn auth_info(world: &World, suite: &SuiteLike, auth: &crate::state::Authorization) -> Value {
    let agent_name =
        world.app(&auth.corp_id, auth.agent_id).map_or_else(|| suite.name().to_owned(), |a| a.name.clone());
    json!({
        "agent": [{
            "agentid": auth.agent_id,
            "name": agent_name,
            "square_logo_url": "",
            "round_logo_url": "",
            "auth_mode": 0,
            "is_customized_app": suite.is_template(),
            "privilege": {
                "level": 1,
                "allow_party": auth.visible_departments,
                "allow_user": auth.visible_users,
                "allow_tag": [],
                "extra_party": [],
                "extra_user": [],
                "extra_tag": [],
            },
        }]
    })
}

/// `POST /cgi-bin/service/get_auth_info?suite_access_token=` `{auth_corpid, permanent_code}` (path/90604):
/// the corp and its authorized agent as they are now (after a `change_auth`, say). The permanent code must
/// be the corp's current one: an old or foreign code is 40084 (invalid permanent_code).
pub(crate) async fn get_auth_info(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(current_auth_info(&inner, &params(q), &body))
}

fn current_auth_info(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let world = inner.world();
    let suite_id = world.suite_token(param(p, "suite_access_token"), now)?;
    let body = json_body(body)?;
    let shown = field(&body, "auth_corpid").ok_or(41002)?;
    let code = field(&body, "permanent_code").ok_or(40084)?;
    let suite = inner.suite_like(&suite_id).ok_or(40083)?;
    // The corp as this suite knows it: an upgraded suite's apps name it by the encrypted id only.
    let corp = inner.corp_in(suite.view(), shown).ok_or(40013)?;
    let auth = world.authorization(&suite_id, &corp.corp_id).ok_or(40084)?;
    if auth.permanent_code.as_deref() != Some(code) {
        return Err(40084);
    }
    Ok(Wx::ok(
        Obj::new()
            .with("auth_corp_info", auth_corp_info(corp, suite.view()))
            .with("auth_info", auth_info(&world, &suite, auth)),
    ))
}

/// `POST /cgi-bin/service/get_provider_token` `{corpid, provider_secret}`.
pub(crate) async fn get_provider_token(State(inner): State<Shared>, body: Bytes) -> Wx {
    reply(provider_token(&inner, &body))
}

fn provider_token(inner: &Shared, body: &[u8]) -> Result<Wx, i64> {
    let body = json_body(body)?;
    let corp_id = field(&body, "corpid").ok_or(41002)?;
    let secret = field(&body, "provider_secret").ok_or(41004)?;
    let provider = inner.provider(corp_id).ok_or(40013)?;
    if provider.provider_secret != secret {
        return Err(40001);
    }
    let now = inner.now();
    let ttl = inner.config.token_ttl_secs;
    let token = inner.world().issue_token(Grant::Provider { corp_id: corp_id.to_owned() }, now, ttl);
    Ok(Wx::ok_bare(Obj::new().with("provider_access_token", token).with("expires_in", ttl)))
}

/// Whether `corp_id` has an active authorization of any app of the provider.
fn has_relation(inner: &Inner, world: &World, provider_corp_id: &str, corp_id: &str) -> bool {
    world.authorizations.iter().any(|a| {
        a.active
            && a.corp_id == corp_id
            && inner.suite_like(&a.suite_id).is_some_and(|s| s.provider_corp_id() == provider_corp_id)
    })
}

/// `POST /cgi-bin/service/corpid_to_opencorpid?provider_access_token=` `{corpid}` → `{open_corpid}` (path/95604,
/// path/97105): a plain corp id to the provider's encrypted one. Only for corps that authorized one of the
/// provider's apps (仅限第三方服务商，转换已获授权企业的corpid): an unknown corp is 40013, a corp with no
/// authorization of the provider 48002 (the docs name no errcode; refusing is the strict reading).
pub(crate) async fn corpid_to_opencorpid(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(open_corpid(&inner, &params(q), &body))
}

fn open_corpid(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let world = inner.world();
    let provider = world.provider_token(param(p, "provider_access_token"), now)?;
    let body = json_body(body)?;
    let plain = field(&body, "corpid").ok_or(41002)?;
    let corp = inner.corp_in(IdView::Plain, plain).ok_or(40013)?;
    if !has_relation(inner, &world, &provider, &corp.corp_id) {
        return Err(48002);
    }
    Ok(Wx::ok(Obj::new().with("open_corpid", ids::open_corpid(&provider, &corp.corp_id))))
}

/// `POST /cgi-bin/service/get_login_info?access_token=<provider token>` `{auth_code}`.
pub(crate) async fn get_login_info(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(login_info(&inner, &params(q), &body))
}

fn login_info(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let mut world = inner.world();
    let provider = world.provider_token(param(p, "access_token"), now)?;
    let body = json_body(body)?;
    let code = field(&body, "auth_code").ok_or(41008)?;
    let issued = world.codes.get(code).cloned().ok_or(40029)?;
    if now >= issued.issued_at + inner.config.code_ttl_secs {
        world.codes.remove(code);
        return Err(40029);
    }
    if issued.audience != (Audience::ProviderLogin { provider_corp_id: provider.clone() }) {
        return Err(40029);
    }
    world.codes.remove(code);
    let Subject::Member { corp_id, userid } = &issued.subject else {
        return Err(40029);
    };
    let corp = inner.corp(corp_id).ok_or(40029)?;
    let m = world.member(corp, userid).ok_or(40029)?;
    let view = inner.provider(&provider).map_or(IdView::Plain, |p| p.view());
    let agents: Vec<Value> = world
        .authorizations
        .iter()
        .filter(|a| {
            a.active
                && a.corp_id == *corp_id
                && inner.suite_like(&a.suite_id).is_some_and(|s| s.provider_corp_id() == provider)
        })
        .map(|a| json!({"agentid": a.agent_id, "auth_type": 1}))
        .collect();
    let departments: Vec<Value> = if m.admin {
        corp.departments.iter().filter(|d| d.parent.is_none()).map(|d| json!({"id": d.id, "writable": true})).collect()
    } else {
        vec![]
    };
    // usertype: 1 creator, 2 internal admin, 3 external admin, 4 sub-admin, 5 member.
    Ok(Wx::ok(
        Obj::new()
            .with("usertype", if m.admin { 2 } else { 5 })
            .with(
                "user_info",
                json!({
                    "userid": view.userid(corp, &m),
                    "open_userid": open_userid_of(&provider, corp, &m),
                    "name": m.name,
                    "avatar": m.avatar,
                }),
            )
            .with("corp_info", json!({ "corpid": view.corp_id(&corp.corp_id) }))
            .with("agent", Value::Array(agents))
            .with("auth_info", json!({ "department": departments })),
    ))
}

/// `GET /cgi-bin/service/auth/getuserinfo3rd?suite_access_token&code`.
pub(crate) async fn getuserinfo3rd(State(inner): State<Shared>, RawQuery(q): RawQuery) -> Wx {
    reply(exchange_3rd(&inner, &params(q)))
}

fn exchange_3rd(inner: &Shared, p: &HashMap<String, String>) -> Result<Wx, i64> {
    let now = inner.now();
    let mut world = inner.world();
    let suite_id = world.suite_token(param(p, "suite_access_token"), now)?;
    let suite = inner.suite_like(&suite_id).ok_or(40082)?;
    // Delegated apps log in like self-built ones; the third-party exchange is not theirs (§7.5).
    if let SuiteLike::Template(_) = suite {
        return Err(48002);
    }
    let code = param(p, "code").ok_or(41008)?;
    let issued = world.codes.get(code).cloned().ok_or(40029)?;
    if now >= issued.issued_at + inner.config.code_ttl_secs {
        world.codes.remove(code);
        return Err(40029);
    }
    if issued.audience != (Audience::Suite { suite_id: suite_id.clone() }) {
        return Err(40029);
    }
    if let Some(redirect) = &issued.redirect
        && !domain::admits(&inner.trusted_domain(suite.trusted_domain()), redirect)
    {
        return Err(50001);
    }
    world.codes.remove(code);
    let mut out = Obj::new();
    match &issued.subject {
        Subject::Member { corp_id, userid } => {
            let corp = inner.corp(corp_id).ok_or(40029)?;
            let m = world.member(corp, userid).ok_or(40029)?;
            let provider = suite.provider_corp_id();
            let view = suite.view();
            // Without an authorization relation WeCom hides the userid behind a cipher (§8); with one, the
            // userid follows the upgraded id policy (path/98179: 按照升级后的ID策略返回明文或密文).
            let shown = if has_relation(inner, &world, provider, corp_id) {
                view.userid(corp, &m)
            } else {
                ids::cipher_userid(provider, corp_id, &m.userid)
            };
            out.push("corpid", view.corp_id(corp_id));
            out.push("userid", shown.clone());
            if issued.scope == CodeScope::SnsapiPrivateinfo {
                let ttl = inner.config.user_ticket_ttl_secs;
                let ticket = ids::random_token(86);
                world.user_tickets.insert(
                    ticket.clone(),
                    UserTicket {
                        grant: Grant::Suite { suite_id: suite_id.clone() },
                        corp_id: corp_id.clone(),
                        userid: m.userid.clone(),
                        shown_userid: shown,
                        expires_at: now + ttl,
                    },
                );
                out.push("user_ticket", ticket);
                out.push("expires_in", ttl);
            }
            out.push("open_userid", open_userid_of(provider, corp, &m));
        }
        Subject::Outsider { key } => {
            out.push("openid", ids::openid(&suite_id, key));
        }
    }
    Ok(Wx::ok(out))
}

/// `POST /cgi-bin/service/auth/getuserdetail3rd?suite_access_token` `{user_ticket}`.
pub(crate) async fn getuserdetail3rd(State(inner): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Wx {
    reply(detail_3rd(&inner, &params(q), &body))
}

fn detail_3rd(inner: &Shared, p: &HashMap<String, String>, body: &[u8]) -> Result<Wx, i64> {
    let now = inner.now();
    let world = inner.world();
    let suite_id = world.suite_token(param(p, "suite_access_token"), now)?;
    let body = json_body(body)?;
    let ticket = field(&body, "user_ticket").ok_or(84015)?;
    let t = world.user_tickets.get(ticket).ok_or(84015)?;
    if t.grant != (Grant::Suite { suite_id: suite_id.clone() }) {
        return Err(84015);
    }
    if now >= t.expires_at {
        return Err(84014);
    }
    let corp = inner.corp(&t.corp_id).ok_or(84015)?;
    let m = world.member(corp, &t.userid).ok_or(84015)?;
    let view = inner.suite_like(&suite_id).map_or(IdView::Plain, |s| s.view());
    // Third-party apps never get mobile/email/biz_mail/address; `name` is the userid (§3.1, §8).
    Ok(Wx::ok(
        Obj::new()
            .with("corpid", view.corp_id(&corp.corp_id))
            .with("userid", t.shown_userid.clone())
            .with("name", t.shown_userid.clone())
            .with("gender", m.gender.clone())
            .with("avatar", m.avatar.clone())
            .with("qr_code", ids::qr_code(&corp.corp_id, &m.userid)),
    ))
}
