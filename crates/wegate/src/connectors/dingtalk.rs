//! DingTalk's three kinds, one internal app (企业内部应用) of one organisation behind each:
//! - `dingtalk_qrcode`: DingTalk's login page (QR code or account) in any browser → `authCode` → the person's
//!   token → `contact/users/me` (their unionId);
//! - `dingtalk_web`: inside DingTalk (免登): wegate's own page asks the JSAPI (`dd.requestAuthCode`) for a code
//!   and brings it to the callback as `code`, redeemed with `topapi/v2/user/getuserinfo`;
//! - `dingtalk_mobile`: a mini program or app inside DingTalk presents the same 免登 code at `/token`.
//!
//! DingTalk's login page lets anyone with a DingTalk account sign in, and `users/me` answers account-level data
//! across organisations (reference §1.2). So who gets in is asked of the organisation, with the app's own
//! token: `getbyunionid` (60121 = not its employee; `contact_type` 1 = an external contact — both refused),
//! then `topapi/v2/user/get` for the directory's profile. The app token is asked for `corp_id`'s organisation
//! (`oauth2/{corpId}/token`), which DingTalk refuses to an app of another organisation [DT-corptok]: so the
//! organisation that answers is always `corp_id`'s. The identity is (corp id, userid); `me`'s email and
//! mobile — the person's own, vouched for by nobody — are never used.

use serde_json::json;

use super::error::ConnectorError;
use super::seam::{Answer, Start, StartRequest};
use crate::accounts::{UpstreamIdentity, Vouched};
use crate::app::App;
use crate::store::DingTalkSettings;

pub const FIELDS: &[&str] = &["client_id", "client_secret", "corp_id"];

/// The `subject_token_type` of a 免登 code at the token endpoint (`dingtalk_mobile`).
pub const SUBJECT_TOKEN_TYPE: &str = "urn:wegate:params:oauth:token-type:dingtalk-code";

/// What DingTalk's ids look like: `ding…` client ids and corp ids, opaque; no space, quote or URL syntax.
fn check_id(field: &str, value: &str, what: &str) -> Result<(), String> {
    let ok =
        (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(format!("{field} must be {what} (letters, digits, _ or -)")) }
}

pub fn validate(s: &DingTalkSettings) -> Result<(), String> {
    check_id("client_id", &s.client_id, "the app's Client ID (AppKey), e.g. dingxxxxxxxx")?;
    check_id("corp_id", &s.corp_id, "the organisation's CorpId, e.g. dingxxxxxxxx")?;
    if s.client_secret.trim().is_empty() || s.client_secret.len() > 256 {
        return Err("client_secret must be the app's Client Secret (AppSecret)".into());
    }
    Ok(())
}

/// The identity space of an organisation's people: userids are unique within one organisation only.
pub fn upstream(corp_id: &str) -> String {
    format!("dingtalk:{corp_id}")
}

/// The app and the organisation its token is asked for: DingTalk refuses the token (`unauthorized.client`) unless
/// the app runs in `corp_id` [DT-corptok], so every app-token call below answers for `corp_id`'s organisation.
pub fn credential(s: &DingTalkSettings) -> dingtalk::AppCredential {
    dingtalk::AppCredential {
        client_id: s.client_id.clone(),
        client_secret: s.client_secret.clone(),
        corp_id: s.corp_id.clone(),
    }
}

/// `dingtalk_qrcode`: DingTalk's login page, with the organisation pre-selected.
pub fn start_login_page(app: &App, s: &DingTalkSettings, request: StartRequest<'_>) -> Start {
    let url = dingtalk::url::login_url(
        &app.settings.dingtalk_login_base,
        &s.client_id,
        &s.corp_id,
        request.callback,
        request.state,
    );
    Start::Redirect { url, carry: None }
}

/// `dingtalk_web`: wegate's page, which asks DingTalk's JSAPI for a 免登 code.
pub fn start_in_client(app: &App, s: &DingTalkSettings) -> Start {
    Start::ClientCode {
        script: app.settings.dingtalk_jsapi_url.clone(),
        corp_id: s.corp_id.clone(),
        client_id: s.client_id.clone(),
    }
}

/// The refusal DingTalk's page or wegate's in-client page sent back, if any: `error=` [DT-cred].
fn refused(answer: &Answer<'_>) -> Result<(), ConnectorError> {
    match answer.param("error") {
        None => Ok(()),
        Some("access_denied") => Err(ConnectorError::Cancelled),
        // Whatever the browser brought back is shown on the page: bounded, as for oidc and oauth2.
        Some(error) => Err(ConnectorError::Denied {
            error: oidc_rp::flow::short(error),
            description: answer.param("error_description").map(oidc_rp::flow::short),
        }),
    }
}

/// `dingtalk_qrcode`'s callback: the login page names its code `authCode`; its tutorial shows `code` with the
/// same value too [DT-tut], so either is taken (`authCode` first).
pub async fn finish_login_page(
    app: &App,
    s: &DingTalkSettings,
    answer: &Answer<'_>,
) -> Result<UpstreamIdentity, ConnectorError> {
    refused(answer)?;
    let code = answer
        .param("authCode")
        .or_else(|| answer.param("code"))
        .filter(|c| !c.is_empty())
        .ok_or(ConnectorError::Cancelled)?;
    let user = app.dingtalk.user_access_token(&credential(s), code).await?;
    // The login page asked for `openid corpid` with the organisation pre-selected, so DingTalk names the
    // organisation the person signed in as [DT-utok]: another one (or none) is not this connection's. This
    // check does not catch another organisation's app paired with corp_id: someone who is a member of both
    // organisations picks corp_id here and passes. That connection is stopped at the app token, which is asked
    // for corp_id's organisation and refused (`unauthorized.client`) to an app that does not run there
    // [DT-corptok]; so `getbyunionid` and `user/get` below answer for corp_id's organisation or not at all.
    if user.corp_id.as_deref() != Some(s.corp_id.as_str()) {
        return Err(ConnectorError::NotEmployee(format!(
            "signed in at DingTalk as a member of {}, not of {}",
            user.corp_id.as_deref().unwrap_or("no organisation"),
            s.corp_id
        )));
    }
    let me = app.dingtalk.me(&user.access_token).await?;
    let userid = employee(app, s, &me.union_id).await?;
    directory_identity(app, s, &userid).await
}

/// The employee `unionid` names in the connection's organisation, asked with the app's own token — never the
/// person's [DT-byunion]: 60121 (not its employee) and external contacts (`contact_type` 1) are refused.
async fn employee(app: &App, s: &DingTalkSettings, unionid: &str) -> Result<String, ConnectorError> {
    let member = match app.dingtalk.user_by_unionid(&credential(s), unionid).await {
        Ok(member) => member,
        Err(e) if e.is_not_an_employee() => {
            return Err(ConnectorError::NotEmployee(format!("unionId {unionid} is not an employee of {}", s.corp_id)));
        }
        Err(e) => return Err(e.into()),
    };
    if member.contact_type != 0 {
        return Err(ConnectorError::NotEmployee(format!(
            "{} is an external contact (contact_type {}) of {}",
            member.userid, member.contact_type, s.corp_id
        )));
    }
    Ok(member.userid)
}

/// `dingtalk_web`'s callback: the 免登 code wegate's page got from the JSAPI, or the JSAPI's failure.
pub async fn finish_in_client(
    app: &App,
    s: &DingTalkSettings,
    answer: &Answer<'_>,
) -> Result<UpstreamIdentity, ConnectorError> {
    refused(answer)?;
    let code = answer.param("code").filter(|c| !c.is_empty()).ok_or(ConnectorError::Cancelled)?;
    exchange_code(app, s, code).await
}

/// A 免登 code (`dingtalk_web`'s page, `dingtalk_mobile`'s app) → the member. DingTalk issues these codes only
/// to members of the organisation, for its own apps: a code of another organisation is 40078 [DT-faq]. There is
/// no organisation in the code's answer to check; what makes it corp_id's is the app token, asked for corp_id
/// and refused to another organisation's app [DT-corptok] — that app's own codes never get this far.
pub async fn exchange_code(app: &App, s: &DingTalkSettings, code: &str) -> Result<UpstreamIdentity, ConnectorError> {
    let who = app.dingtalk.user_info_by_code(&credential(s), code).await?;
    // Who may hold a 免登 code is DingTalk's to say; that `user/get` refuses external contacts is not
    // documented, so the organisation is asked as at the login page (the stricter reading).
    let unionid = who.unionid.as_deref().filter(|u| !u.is_empty()).ok_or_else(|| {
        ConnectorError::Config(format!("DingTalk named {} without a unionid; cannot check the employee", who.userid))
    })?;
    let userid = employee(app, s, unionid).await?;
    if userid != who.userid {
        return Err(ConnectorError::NotEmployee(format!("the code named {}, the organisation {userid}", who.userid)));
    }
    directory_identity(app, s, &userid).await
}

/// The member as the organisation's directory has them (`topapi/v2/user/get`): its name, email, mobile and
/// avatar, which its admin manages — vouched for like WeCom's address book.
async fn directory_identity(app: &App, s: &DingTalkSettings, userid: &str) -> Result<UpstreamIdentity, ConnectorError> {
    let member = match app.dingtalk.get_user(&credential(s), userid).await {
        Ok(member) => member,
        Err(e) if e.is_not_an_employee() => {
            return Err(ConnectorError::NotEmployee(format!("{userid} is not in the directory of {}", s.corp_id)));
        }
        Err(e) => return Err(e.into()),
    };
    let present = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    // The enterprise mailbox first: the organisation's own address. The other `email` may be the person's own
    // entry, so field matching never links on it (it stays on the identity, unvouched).
    let org_email = present(&member.org_email);
    let vouched = Vouched { email: org_email.is_some(), ..Vouched::DIRECTORY };
    let email = org_email.or_else(|| present(&member.email));
    let userid = if member.userid.is_empty() { userid.to_string() } else { member.userid.clone() };
    let mut claims = json!({
        "dingtalk_corp_id": s.corp_id,
        "dingtalk_userid": userid,
        "dingtalk_department": member.dept_id_list,
    });
    if let (Some(unionid), Some(map)) = (present(&member.unionid), claims.as_object_mut()) {
        map.insert("dingtalk_unionid".into(), json!(unionid));
    }
    let profile = json!({
        "corp_id": s.corp_id,
        "userid": userid,
        "unionid": member.unionid,
        "name": member.name,
        "title": member.title,
        "job_number": member.job_number,
        "department": member.dept_id_list,
    });
    Ok(UpstreamIdentity {
        upstream: upstream(&s.corp_id),
        // DingTalk's userids are opaque and "不可更改" [DT-concepts]: kept exactly.
        subject: userid.clone(),
        username: Some(userid),
        name: present(&member.name),
        email,
        phone: present(&member.mobile),
        picture: present(&member.avatar),
        claims,
        profile,
        vouched,
    })
}

/// Whether the member is still in the organisation's directory (the refresh re-check): 60121 = left.
pub async fn still_member(
    app: &App,
    s: &DingTalkSettings,
    upstream_space: &str,
    userid: &str,
) -> Result<bool, ConnectorError> {
    if upstream_space != upstream(&s.corp_id) {
        return Err(ConnectorError::Config(format!(
            "the grant was made in {upstream_space}, but the connection now serves {}",
            upstream(&s.corp_id)
        )));
    }
    match app.dingtalk.get_user(&credential(s), userid).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_an_employee() => Ok(false),
        Err(e) => Err(e.into()),
    }
}
