//! The corp admin's side of the address book (member lifecycle): a self-built app's API receiving
//! (应用管理 → 接收消息 → 设置API接收, path/90930), and members deleted or updated at run time. Each
//! change is pushed as `change_contact` to every app that subscribes — self-built apps in the
//! self-built format (path/90970, receive id = the corp id), templates and suites in the provider
//! format (path/90639, to the command callback, receive id = the suite id) — and the endpoint
//! answers only once every push was delivered or gave up, so tests are deterministic.
//!
//! Who hears of a change: every self-built app of the corp with a callback whose visible scope held
//! the member (before the change; for an update also after), and every active authorization of the
//! corp whose scope held the member and whose template or suite has an event URL. What they hear:
//! `delete_user` carries only the userid (and `OpenUserID` for providers); `update_user` the userid
//! and the fields that changed (`Status` only when it did), minus what the app may not read —
//! mobile, email, biz_mail and avatar only for apps from before 2022-06-20 (`legacy_privacy`,
//! path/90970 应用获取敏感字段的说明), never for delegated or third-party apps, and no real name for
//! third-party apps (path/90639: they get the userid instead, as from getuserdetail3rd).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wecom::ContactMember;
use wecom::event::Event;

use super::{ApiError, parse_body};
use crate::Shared;
use crate::push::{self, Channel, PushOutcome, VerifyOutcome};
use crate::seed::{Corp, Member, SeedError, check_key, check_token, valid_status};
use crate::state::{AppCallback, Inner, World, open_userid_of};

fn known_corp<'a>(inner: &'a Inner, corp_id: &str) -> Result<&'a Corp, ApiError> {
    inner.corp(corp_id).ok_or_else(|| ApiError::not_found("unknown_corp", format!("no corp {corp_id}")))
}

/// The sentence of a validation error, without the "invalid seed" prefix.
fn reason(e: SeedError) -> String {
    match e {
        SeedError::Invalid(m) => m,
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppCallbackRequest {
    url: String,
    token: String,
    encoding_aes_key: String,
    /// Store the callback even if the verification fails (WeCom would refuse to save it).
    #[serde(default)]
    force: bool,
}

/// `POST /_sim/apps/{corp_id}/{agent_id}/callback {"url", "token", "encoding_aes_key", "force"?}` →
/// `{"verified", "status", "body", "error"?}`: sets a self-built app's API receiving after WeCom's URL
/// verification (echostr encrypted for receive id = the corp id).
pub(crate) async fn app_callback(
    State(inner): State<Shared>,
    Path((corp_id, agent_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<VerifyOutcome>, ApiError> {
    let req: AppCallbackRequest = parse_body(&body)?;
    let callback =
        AppCallback { url: req.url.trim().to_owned(), token: req.token, encoding_aes_key: req.encoding_aes_key };
    set_app_callback(&inner, &corp_id, &agent_id, callback, req.force).await.map(Json)
}

pub(crate) async fn set_app_callback(
    inner: &Shared,
    corp_id: &str,
    agent_id: &str,
    callback: AppCallback,
    force: bool,
) -> Result<VerifyOutcome, ApiError> {
    let corp = known_corp(inner, corp_id)?;
    let agent_id: i64 = agent_id
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_agent_id", format!("agent id {agent_id:?} is not a number")))?;
    {
        let world = inner.world();
        let app = world.app(&corp.corp_id, agent_id).ok_or_else(|| {
            ApiError::not_found("unknown_agent", format!("corp {} has no enabled app {agent_id}", corp.corp_id))
        })?;
        if let Some(t) = &app.template_id {
            return Err(ApiError::bad_request(
                "not_self_built",
                format!("app {agent_id} is a delegated app of {t}: its events go to the template's callback URL"),
            ));
        }
    }
    if url::Url::parse(&callback.url).is_err() {
        return Err(ApiError::bad_request("invalid_url", format!("{:?} is not an absolute URL", callback.url)));
    }
    let owner = format!("app {agent_id}");
    check_token(&owner, &callback.token).map_err(|e| ApiError::bad_request("invalid_token", reason(e)))?;
    check_key(&owner, &callback.encoding_aes_key)
        .map_err(|e| ApiError::bad_request("invalid_encoding_aes_key", reason(e)))?;
    let outcome =
        push::verify_url(inner, &callback.token, &callback.encoding_aes_key, &corp.corp_id, &callback.url).await;
    if (outcome.verified || force)
        && let Some(app) = inner.world().app_mut(&corp.corp_id, agent_id)
    {
        app.callback = Some(callback);
    }
    Ok(outcome)
}

/// `GET /_sim/corps/{corp_id}/members` → `{"members": [...]}`: the corp's current members (seed fields,
/// with run-time updates; deleted ones left out).
pub(crate) async fn list(State(inner): State<Shared>, Path(corp_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let corp = known_corp(&inner, &corp_id)?;
    let members = inner.world().members(corp);
    Ok(Json(json!({ "members": members })))
}

/// Fields an update may change (as WeCom's user/update names them); absent = unchanged.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberUpdate {
    pub(crate) name: Option<String>,
    pub(crate) department: Option<Vec<u64>>,
    pub(crate) position: Option<String>,
    pub(crate) mobile: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) biz_mail: Option<String>,
    pub(crate) avatar: Option<String>,
    /// 1 active, 2 disabled, 4 not activated.
    pub(crate) status: Option<i64>,
}

impl MemberUpdate {
    /// Refuses what WeCom's user/update would (path/90197): an empty name or one over 64 characters, no
    /// department or an unknown one, a status other than 1, 2 or 4; and an update that names no field.
    fn validate(&self, corp: &Corp) -> Result<(), ApiError> {
        let bad = |error, message: String| Err(ApiError::bad_request(error, message));
        let MemberUpdate { name, department, position, mobile, email, biz_mail, avatar, status } = self;
        let any = name.is_some()
            || department.is_some()
            || [position, mobile, email, biz_mail, avatar].iter().any(|f| f.is_some())
            || status.is_some();
        if !any {
            return bad(
                "empty_update",
                "give at least one of name, department, position, mobile, email, biz_mail, avatar, status".into(),
            );
        }
        if let Some(n) = name
            && (n.trim().is_empty() || n.chars().count() > 64)
        {
            return bad("invalid_name", "name must be 1 to 64 characters".into());
        }
        if let Some(d) = department {
            if d.is_empty() {
                return bad("invalid_department", "department must name at least one department".into());
            }
            if let Some(x) = d.iter().find(|x| !corp.departments.iter().any(|c| c.id == **x)) {
                return bad("invalid_department", format!("corp {} has no department {x}", corp.corp_id));
            }
        }
        if let Some(s) = status
            && !valid_status(*s)
        {
            return bad("invalid_status", "status must be 1 (active), 2 (disabled) or 4 (not activated)".into());
        }
        Ok(())
    }

    /// `member` with this update applied (the userid never changes).
    fn apply(&self, member: &Member) -> Member {
        let mut m = member.clone();
        let set = |field: &mut String, value: &Option<String>| {
            if let Some(v) = value {
                v.clone_into(field);
            }
        };
        set(&mut m.name, &self.name);
        set(&mut m.position, &self.position);
        set(&mut m.mobile, &self.mobile);
        set(&mut m.email, &self.email);
        set(&mut m.biz_mail, &self.biz_mail);
        set(&mut m.avatar, &self.avatar);
        if let Some(d) = &self.department {
            m.department.clone_from(d);
        }
        if let Some(s) = self.status {
            m.status = s;
        }
        m
    }
}

/// A run-time change of one member.
pub(crate) enum Change {
    Delete,
    Update(MemberUpdate),
}

/// One push of a change, as the endpoint answers it.
#[derive(Debug, Serialize)]
pub(crate) struct TargetOutcome {
    /// `app:<corp id>:<agent id>` or `suite:<suite or template id>`.
    pub(crate) target: String,
    #[serde(flatten)]
    pub(crate) push: PushOutcome,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChangeOutcome {
    pub(crate) pushes: Vec<TargetOutcome>,
}

/// `POST /_sim/corps/{corp_id}/members/{userid}/delete` → `{"pushes": [...]}`: the member leaves the corp
/// (unknown everywhere from now on); `delete_user` is pushed.
pub(crate) async fn delete(
    State(inner): State<Shared>,
    Path((corp_id, userid)): Path<(String, String)>,
) -> Result<Json<ChangeOutcome>, ApiError> {
    change_member(&inner, &corp_id, &userid, Change::Delete).await.map(Json)
}

/// `POST /_sim/corps/{corp_id}/members/{userid}/update {"name"?, "department"?, "position"?, "mobile"?,
/// "email"?, "biz_mail"?, "avatar"?, "status"?}` → `{"pushes": [...]}`; `update_user` is pushed when
/// something changed.
pub(crate) async fn update(
    State(inner): State<Shared>,
    Path((corp_id, userid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ChangeOutcome>, ApiError> {
    let req: MemberUpdate = parse_body(&body)?;
    change_member(&inner, &corp_id, &userid, Change::Update(req)).await.map(Json)
}

/// Applies `change` to the member `userid` (plain, case-insensitive) of `corp_id`, then pushes
/// `change_contact` to every subscriber and waits for every push to end.
pub(crate) async fn change_member(
    inner: &Shared,
    corp_id: &str,
    userid: &str,
    change: Change,
) -> Result<ChangeOutcome, ApiError> {
    let corp = known_corp(inner, corp_id)?;
    if let Change::Update(u) = &change {
        u.validate(corp)?;
    }
    let now = inner.now();
    let deliveries = {
        let mut world = inner.world();
        let before = world
            .member(corp, userid)
            .ok_or_else(|| {
                ApiError::not_found("unknown_member", format!("corp {} has no member {userid}", corp.corp_id))
            })?
            .into_owned();
        let after = match &change {
            Change::Delete => None,
            Change::Update(u) => Some(u.apply(&before)),
        };
        if after.as_ref() == Some(&before) {
            // Nothing changed: WeCom has nothing to tell.
            return Ok(ChangeOutcome { pushes: vec![] });
        }
        world.set_member(&corp.corp_id, &before.userid, after.clone());
        ContactChange { corp, before: &before, after: after.as_ref(), now }.deliveries(inner, &world)
    };
    let outcomes = join_all(deliveries.iter().map(|(channel, event)| push::send(inner, channel, event))).await;
    let pushes = deliveries
        .into_iter()
        .zip(outcomes)
        .map(|((channel, _), push)| TargetOutcome { target: channel.target, push })
        .collect();
    Ok(ChangeOutcome { pushes })
}

/// A member change, as the events tell it.
struct ContactChange<'a> {
    corp: &'a Corp,
    before: &'a Member,
    /// `None` = deleted.
    after: Option<&'a Member>,
    now: i64,
}

impl ContactChange<'_> {
    fn change_type(&self) -> &'static str {
        if self.after.is_some() { "update_user" } else { "delete_user" }
    }

    /// Whether a visible scope held the member before the change or (update) holds it after.
    fn seen_by(&self, sees: impl Fn(&Member) -> bool) -> bool {
        sees(self.before) || self.after.is_some_and(sees)
    }

    /// The fields an event may carry: those that changed, minus what the receiver may not read.
    fn fields(&self, sensitive: bool, names: bool) -> ContactMember {
        let Some(after) = self.after else {
            return ContactMember::default();
        };
        let before = self.before;
        let changed = |b: &String, a: &String| (b != a).then(|| a.clone());
        let private = |b: &String, a: &String| if sensitive { changed(b, a) } else { None };
        ContactMember {
            name: if names { changed(&before.name, &after.name) } else { None },
            department: (before.department != after.department)
                .then(|| after.department.iter().map(|&d| i64::try_from(d).unwrap_or(i64::MAX)).collect()),
            position: changed(&before.position, &after.position),
            mobile: private(&before.mobile, &after.mobile),
            email: private(&before.email, &after.email),
            biz_mail: private(&before.biz_mail, &after.biz_mail),
            avatar: private(&before.avatar, &after.avatar),
            status: (before.status != after.status).then_some(after.status),
            ..ContactMember::default()
        }
    }

    /// Every subscriber's channel and the event it receives.
    fn deliveries(&self, inner: &Inner, world: &World) -> Vec<(Channel, Event)> {
        let corp = self.corp;
        let mut out = Vec::new();
        // Self-built apps (path/90970): the plain ids, ToUserName = the corp.
        for app in world.apps.iter().filter(|a| a.corp_id == corp.corp_id && a.enabled && a.template_id.is_none()) {
            if !self.seen_by(|m| app.sees(corp, m)) {
                continue;
            }
            let Some(channel) = Channel::app(app) else {
                continue;
            };
            let event = Event::ChangeContact {
                suite_id: None,
                auth_corp_id: Some(corp.corp_id.clone()),
                change_type: self.change_type().to_owned(),
                user_id: Some(self.before.userid.clone()),
                member: Box::new(self.fields(app.legacy_privacy, true)),
                timestamp: self.now,
            };
            out.push((channel, event));
        }
        // Templates and suites (path/90639): the ids as the suite sees them, to its command callback.
        for auth in world.authorizations.iter().filter(|a| a.active && a.corp_id == corp.corp_id) {
            let Some(suite) = inner.suite_like(&auth.suite_id) else {
                continue;
            };
            if !self.seen_by(|m| auth.sees(corp, m)) {
                continue;
            }
            let Some(channel) = Channel::suite(world, &suite) else {
                continue;
            };
            let view = suite.view();
            let mut member = self.fields(false, suite.is_template());
            member.open_user_id = Some(open_userid_of(suite.provider_corp_id(), corp, self.before));
            let event = Event::ChangeContact {
                suite_id: Some(suite.id().to_owned()),
                auth_corp_id: Some(view.corp_id(&corp.corp_id)),
                change_type: self.change_type().to_owned(),
                user_id: Some(view.userid(corp, self.before)),
                member: Box::new(member),
                timestamp: self.now,
            };
            out.push((channel, event));
        }
        out
    }
}
