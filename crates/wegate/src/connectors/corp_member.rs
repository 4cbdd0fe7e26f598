//! The part every corp-app kind shares (`wecom_qrcode`, `wecom_web`, `wecom_mobile`, `wecom_delegated`):
//! code → userid (`auth/getuserinfo`), the visible-scope check WeCom does not do at login (`user/get`),
//! the private fields after consent (`auth/getuserdetail`), and the mapping to standard claims.

use serde_json::json;
use wecom::client::Member;

use super::error::ConnectorError;
use super::fields::is_plain_corp_id;
use crate::accounts::UpstreamIdentity;
use crate::app::App;
use crate::store::normalize_username;

/// errcodes of `user/get` that mean "this member may not use this app" (reference §4, §9).
const NOT_ALLOWED: &[i64] = &[60011, 60021, 50002];
/// errcodes of `user/get` that mean "no such member".
const NO_SUCH_USER: &[i64] = &[60111, 46004];

/// The member, if this app may serve them now: in its visible scope, not disabled, not gone (`user/get`
/// with the app's own credentials).
pub async fn check_member(app: &App, corp: &wecom::CorpApp, userid: &str) -> Result<Member, ConnectorError> {
    let member = match app.wecom.get_user(corp, userid).await {
        Ok(member) => member,
        Err(e) if e.errcode().is_some_and(|c| NOT_ALLOWED.contains(&c)) => {
            return Err(ConnectorError::NotAllowed(format!("member {userid} is outside the app's visible scope")));
        }
        Err(e) if e.errcode().is_some_and(|c| NO_SUCH_USER.contains(&c)) => {
            return Err(ConnectorError::Departed(format!("member {userid} no longer exists")));
        }
        Err(e) => return Err(e.into()),
    };
    // status 2 = disabled, 5 = left (UNCONFIRMED values, reference §4): refuse those, accept unknown.
    if matches!(member.status, Some(2) | Some(5)) {
        return Err(ConnectorError::Departed(format!("member {userid} is disabled or has left")));
    }
    Ok(member)
}

/// `plain_ids`: whether WeCom names this app's members by plain userids (self-built apps always; a delegated
/// app only under a legacy authorization, see [`delegated_ids_are_plain`]).
pub async fn identify(
    app: &App,
    corp: &wecom::CorpApp,
    code: &str,
    plain_ids: bool,
) -> Result<UpstreamIdentity, ConnectorError> {
    let info = app.wecom.get_user_info(corp, code).await?;
    let Some(userid) = info.userid.filter(|u| !u.is_empty()) else {
        // `openid` only: someone WeCom knows, but not a member of this corp (reference §2.3).
        return Err(ConnectorError::NotMember);
    };
    // Members of linked corps (企业互联 / 上下游) come back as `CorpId/userid` (reference §2.3): they are
    // not this corp's members, and `user/get` would not know them. Refused by name, not by accident.
    if userid.contains('/') {
        return Err(ConnectorError::LinkedCorpMember(userid));
    }
    // auth/getuserinfo answers for any member, in the app's visible scope or not: enforce it here.
    let member = check_member(app, corp, &userid).await?;
    // Since 2022 mobile, email and avatar come only from getuserdetail after snsapi_privateinfo consent.
    let detail = match info.user_ticket.as_deref() {
        Some(ticket) if !ticket.is_empty() => Some(app.wecom.get_user_detail(corp, ticket).await?),
        _ => None,
    };
    let pick = |from_detail: Option<&Option<String>>, from_member: &Option<String>| {
        from_detail
            .and_then(|v| v.clone())
            .filter(|v| !v.is_empty())
            .or_else(|| from_member.clone().filter(|v| !v.is_empty()))
    };
    let email = pick(detail.as_ref().map(|d| &d.email), &member.email)
        .or_else(|| pick(detail.as_ref().map(|d| &d.biz_mail), &member.biz_mail));
    let phone = pick(detail.as_ref().map(|d| &d.mobile), &member.mobile);
    let picture = pick(detail.as_ref().map(|d| &d.avatar), &member.avatar);
    let spelled = if member.userid.is_empty() { userid.clone() } else { member.userid.clone() };
    let claims = wecom_claims(&corp.corp_id, &spelled, member.open_userid.as_deref(), &member.department);
    let profile = json!({
        "corp_id": corp.corp_id,
        "userid": spelled,
        "open_userid": member.open_userid,
        "name": member.name,
        "department": member.department,
        "position": member.position,
    });
    // No username made of an encrypted userid: it means nothing to a person, and matching on it could never
    // link anyone.
    Ok(UpstreamIdentity {
        upstream: format!("wecom:{}", corp.corp_id),
        subject: member_subject(plain_ids, &userid),
        username: plain_ids.then_some(spelled),
        name: member.name.clone().filter(|n| !n.is_empty()),
        email,
        phone,
        picture,
        claims,
        profile,
        vouched: crate::accounts::Vouched::DIRECTORY,
    })
}

/// How a corp member's identity is keyed: plain userids are case-insensitive (reference §0), so lowercased;
/// a delegated app under WeCom's 2022 id upgrade gets the provider's encrypted userid, case-sensitive
/// (document 39442), kept exactly. Sign-ins and address-book events both key members through here; whether
/// the ids are plain is the caller's to say (by kind, not by the look of an admin-typed corp id).
pub fn member_subject(plain_ids: bool, userid: &str) -> String {
    if plain_ids { normalize_username(userid) } else { userid.to_string() }
}

/// A delegated app gets plain ids only under an authorization from before WeCom's 2022 upgrade, whose corp id
/// is then the plain enterprise id (`ww…`/`wx…`); the upgraded ones are the provider's encrypted `wp…` ids.
pub fn delegated_ids_are_plain(corp_id: &str) -> bool {
    is_plain_corp_id(corp_id)
}

/// Claims namespaced for WeCom, as stored on the user and released with the `profile` scope.
pub fn wecom_claims(corp_id: &str, userid: &str, open_userid: Option<&str>, department: &[i64]) -> serde_json::Value {
    let mut claims = json!({
        "wecom_corp_id": corp_id,
        "wecom_userid": userid,
        "wecom_department": department,
    });
    if let (Some(open), Some(map)) = (open_userid, claims.as_object_mut()) {
        map.insert("wecom_open_userid".into(), serde_json::Value::String(open.to_string()));
    }
    claims
}
