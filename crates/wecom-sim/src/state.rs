//! The simulator's memory: the immutable seed plus everything WeCom would have issued since —
//! tokens, codes, user tickets, suite tickets, auth codes, authorizations and the apps they
//! created, event URLs set at runtime, members deleted or updated at runtime — with the lookups
//! the handlers share.
//!
//! Members are read only through [`World::member`], [`World::members`] and [`World::member_in`],
//! which lay the run-time changes over the seed: a deleted member is unknown everywhere, an
//! updated one shows its new fields everywhere.
//!
//! The world sits behind one `std::sync::Mutex`, never held across an `.await`; handlers lock,
//! decide, unlock, and only then talk to the network (pushes).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use url::Url;

use crate::clock::Clock;
use crate::config::SimConfig;
use crate::control::faults::Faults;
use crate::control::stats::Stats;
use crate::ids;
use crate::seed::{Corp, Member, Provider, Seed, Suite, Template};

/// Shared by every handler (`Arc<Inner>`).
pub(crate) struct Inner {
    pub(crate) seed: Seed,
    pub(crate) config: SimConfig,
    pub(crate) clock: Clock,
    pub(crate) world: Mutex<World>,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) faults: Mutex<Faults>,
    /// One trusted domain for every app, template and suite, set at run time (`POST /_sim/trusted_domain`),
    /// as an admin would type it in each console: for deployments whose port is known only once started.
    pub(crate) trusted_domain: Mutex<Option<String>>,
    /// Client for pushes and URL verification (5 s timeout).
    pub(crate) http: reqwest::Client,
    pub(crate) pages: minijinja::Environment<'static>,
}

/// Locks a mutex, recovering the data if a previous holder panicked (state stays usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// The trusted domain in force for an app or suite whose seed says `configured`.
    pub(crate) fn trusted_domain(&self, configured: &str) -> String {
        lock(&self.trusted_domain).clone().unwrap_or_else(|| configured.to_owned())
    }

    pub(crate) fn corp(&self, corp_id: &str) -> Option<&Corp> {
        self.seed.corps.iter().find(|c| c.corp_id == corp_id)
    }

    /// Template or suite by id.
    pub(crate) fn suite_like(&self, id: &str) -> Option<SuiteLike<'_>> {
        if let Some(t) = self.seed.templates.iter().find(|t| t.template_id == id) {
            return Some(SuiteLike::Template(t));
        }
        self.seed
            .providers
            .iter()
            .find_map(|p| p.suites.iter().find(|s| s.suite_id == id).map(|s| SuiteLike::Suite(p, s)))
    }

    /// All templates and suites, templates first.
    pub(crate) fn all_suites(&self) -> Vec<SuiteLike<'_>> {
        let mut v: Vec<SuiteLike<'_>> = self.seed.templates.iter().map(SuiteLike::Template).collect();
        for p in &self.seed.providers {
            v.extend(p.suites.iter().map(|s| SuiteLike::Suite(p, s)));
        }
        v
    }

    pub(crate) fn provider(&self, corp_id: &str) -> Option<&Provider> {
        self.seed.providers.iter().find(|p| p.corp_id == corp_id)
    }

    /// How an app sees ids: plain for a self-built app, its template's view for a delegated one.
    pub(crate) fn app_view(&self, app: &AppRecord) -> IdView<'_> {
        app.template_id.as_deref().and_then(|t| self.suite_like(t)).map_or(IdView::Plain, |s| s.view())
    }

    /// The corp a (plain or encrypted) corp id names in `view`.
    pub(crate) fn corp_in(&self, view: IdView<'_>, shown: &str) -> Option<&Corp> {
        self.seed.corps.iter().find(|c| view.names_corp(&c.corp_id, shown))
    }

    /// The corp an id names in any view (plain, or encrypted for some provider): for "unknown corp" errors.
    pub(crate) fn any_corp(&self, shown: &str) -> Option<&Corp> {
        let mut views = vec![IdView::Plain];
        views.extend(self.seed.providers.iter().map(|p| IdView::Provider(&p.corp_id)));
        views.extend(self.seed.templates.iter().map(|t| IdView::Provider(&t.provider_corp_id)));
        views.into_iter().find_map(|v| self.corp_in(v, shown))
    }
}

/// A template (代开发) or a provider suite: both get suite tokens, tickets and command callbacks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SuiteLike<'a> {
    Template(&'a Template),
    Suite(&'a Provider, &'a Suite),
}

impl<'a> SuiteLike<'a> {
    pub(crate) fn id(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.template_id,
            SuiteLike::Suite(_, s) => &s.suite_id,
        }
    }
    pub(crate) fn secret(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.template_secret,
            SuiteLike::Suite(_, s) => &s.suite_secret,
        }
    }
    pub(crate) fn token(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.token,
            SuiteLike::Suite(_, s) => &s.token,
        }
    }
    pub(crate) fn encoding_aes_key(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.encoding_aes_key,
            SuiteLike::Suite(_, s) => &s.encoding_aes_key,
        }
    }
    pub(crate) fn name(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.name,
            SuiteLike::Suite(_, s) => &s.name,
        }
    }
    pub(crate) fn trusted_domain(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.trusted_domain,
            SuiteLike::Suite(_, s) => &s.trusted_domain,
        }
    }
    pub(crate) fn provider_corp_id(&self) -> &'a str {
        match self {
            SuiteLike::Template(t) => &t.provider_corp_id,
            SuiteLike::Suite(p, _) => &p.corp_id,
        }
    }
    pub(crate) fn seed_event_url(&self) -> Option<&'a str> {
        match self {
            SuiteLike::Template(t) => t.event_url.as_deref(),
            SuiteLike::Suite(_, s) => s.event_url.as_deref(),
        }
    }
    pub(crate) fn is_template(&self) -> bool {
        matches!(self, SuiteLike::Template(_))
    }
    pub(crate) fn kind(&self) -> &'static str {
        if self.is_template() { "template" } else { "suite" }
    }
    /// How this template's or suite's apps see corp ids and userids.
    pub(crate) fn view(&self) -> IdView<'a> {
        match self {
            SuiteLike::Template(t) if t.legacy_ids => IdView::Plain,
            SuiteLike::Template(t) => IdView::Provider(&t.provider_corp_id),
            SuiteLike::Suite(p, _) => p.view(),
        }
    }
}

impl Provider {
    /// How the provider's suites and its login see corp ids and userids.
    pub(crate) fn view(&self) -> IdView<'_> {
        if self.legacy_ids { IdView::Plain } else { IdView::Provider(&self.corp_id) }
    }
}

/// The member's `open_userid` under a provider (= its encrypted userid): from the seed, else derived.
pub(crate) fn open_userid_of(provider_corp_id: &str, corp: &Corp, member: &Member) -> String {
    member.open_userid.clone().unwrap_or_else(|| ids::open_userid(provider_corp_id, &corp.corp_id, &member.userid))
}

/// How an app sees a corp's ids. Self-built apps, and provider apps authorized before the 2022 upgrade,
/// see the plain ones; a provider's newer third-party and delegated apps see the provider's encrypted
/// corp id and userids, in every answer and event, and must send them back the same way (document 39442:
/// 所有接口无论是入参，还是返回结果 … 仅需将参数值替换为升级后的ID). Plain ids compare case-insensitively,
/// encrypted ones exactly (密文大小写敏感).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdView<'a> {
    Plain,
    Provider(&'a str),
}

impl<'a> IdView<'a> {
    /// The id a corp has in this view.
    pub(crate) fn corp_id(&self, corp_id: &str) -> String {
        match self {
            IdView::Plain => corp_id.to_owned(),
            IdView::Provider(p) => ids::open_corpid(p, corp_id),
        }
    }

    /// Whether `shown` names the corp `corp_id` in this view.
    pub(crate) fn names_corp(&self, corp_id: &str, shown: &str) -> bool {
        match self {
            IdView::Plain => corp_id.eq_ignore_ascii_case(shown),
            IdView::Provider(p) => ids::open_corpid(p, corp_id) == shown,
        }
    }

    /// The userid a member has in this view.
    pub(crate) fn userid(&self, corp: &Corp, member: &Member) -> String {
        match self {
            IdView::Plain => member.userid.clone(),
            IdView::Provider(p) => open_userid_of(p, corp, member),
        }
    }
}

/// An app that lives in a corp: a seed self-built app or one created by a template authorization.
#[derive(Debug, Clone)]
pub(crate) struct AppRecord {
    pub(crate) corp_id: String,
    pub(crate) agent_id: i64,
    pub(crate) name: String,
    /// `None` until a delegated app's permanent code has been fetched.
    pub(crate) secret: Option<String>,
    pub(crate) trusted_domain: String,
    pub(crate) visible_users: Vec<String>,
    pub(crate) visible_departments: Vec<u64>,
    pub(crate) legacy_privacy: bool,
    /// Template the app was created from (delegated development).
    pub(crate) template_id: Option<String>,
    /// `false` once the authorization was cancelled.
    pub(crate) enabled: bool,
    /// A self-built app's API receiving (接收消息 → 设置API接收): where its events go.
    pub(crate) callback: Option<AppCallback>,
}

/// A self-built app's event callback (应用管理 → 应用 → 接收消息 → 设置API接收, path/90930): URL, Token and
/// EncodingAESKey as the admin typed them; events are encrypted for receive id = the corp id (path/90968).
#[derive(Debug, Clone)]
pub(crate) struct AppCallback {
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) encoding_aes_key: String,
}

impl AppRecord {
    /// Whether `member` is inside the app's visible scope (可见范围), sub-departments included.
    pub(crate) fn sees(&self, corp: &Corp, member: &Member) -> bool {
        in_scope(&self.visible_users, &self.visible_departments, corp, member)
    }
}

/// Whether `member` is inside a visible scope of users and departments (both empty = everyone),
/// sub-departments included.
fn in_scope(users: &[String], departments: &[u64], corp: &Corp, member: &Member) -> bool {
    if users.is_empty() && departments.is_empty() {
        return true;
    }
    if users.iter().any(|u| u.eq_ignore_ascii_case(&member.userid)) {
        return true;
    }
    member.department.iter().any(|&d| {
        // Walk up to the root; the guard stops a cyclic seed.
        let mut cur = Some(d);
        let mut steps = 0;
        while let Some(id) = cur {
            if departments.contains(&id) {
                return true;
            }
            steps += 1;
            if steps > 64 {
                break;
            }
            cur = corp.departments.iter().find(|x| x.id == id).and_then(|x| x.parent);
        }
        false
    })
}

/// What a token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// `gettoken`: an app of a corp.
    Corp { corp_id: String, agent_id: i64 },
    /// `service/get_suite_token`: a suite or template.
    Suite { suite_id: String },
    /// `service/get_provider_token`.
    Provider { corp_id: String },
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub(crate) grant: Grant,
    pub(crate) expires_at: i64,
}

/// Who a code may be exchanged by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Audience {
    /// An app of a corp (`auth/getuserinfo`); `agent_id: None` = OAuth without agentid, any app
    /// of the corp whose trusted domain admits the redirect.
    CorpApp { corp_id: String, agent_id: Option<i64> },
    /// A suite (`service/auth/getuserinfo3rd`).
    Suite { suite_id: String },
    /// The legacy provider login (`service/get_login_info`).
    ProviderLogin { provider_corp_id: String },
}

/// The person behind a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    Member {
        corp_id: String,
        userid: String,
    },
    /// Someone outside the corp; `key` names them stably (for the openid).
    Outsider {
        key: String,
    },
}

/// How the code was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeScope {
    /// PC QR login (`wwlogin`, `qrConnect`, `3rd_qrConnect`).
    QrLogin,
    SnsapiBase,
    SnsapiPrivateinfo,
    /// Handed to a native app by the WeCom SDK.
    Sdk,
}

impl CodeScope {
    pub(crate) fn parse(s: &str) -> Option<CodeScope> {
        match s {
            "qr" | "qrlogin" => Some(CodeScope::QrLogin),
            "snsapi_base" | "snsapi_userinfo" => Some(CodeScope::SnsapiBase),
            "snsapi_privateinfo" => Some(CodeScope::SnsapiPrivateinfo),
            "sdk" => Some(CodeScope::Sdk),
            _ => None,
        }
    }
}

/// A code handed to a browser (or app) and not yet exchanged.
#[derive(Debug, Clone)]
pub(crate) struct IssuedCode {
    pub(crate) audience: Audience,
    pub(crate) subject: Subject,
    pub(crate) scope: CodeScope,
    /// The redirect_uri the code was delivered through (none for SDK codes).
    pub(crate) redirect: Option<Url>,
    pub(crate) issued_at: i64,
}

/// A `user_ticket` from snsapi_privateinfo.
#[derive(Debug, Clone)]
pub(crate) struct UserTicket {
    /// The token grant allowed to redeem it (the app or suite that exchanged the code).
    pub(crate) grant: Grant,
    pub(crate) corp_id: String,
    /// The member's seed userid.
    pub(crate) userid: String,
    /// The userid as the exchange returned it (cipher for getuserinfo3rd without relation).
    pub(crate) shown_userid: String,
    pub(crate) expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthCodeKind {
    CreateAuth,
    ResetPermanentCode,
}

/// A temporary authorization code (`AuthCode` of create_auth / reset_permanent_code).
#[derive(Debug, Clone)]
pub(crate) struct AuthCodeGrant {
    pub(crate) suite_id: String,
    pub(crate) corp_id: String,
    pub(crate) kind: AuthCodeKind,
    pub(crate) issued_at: i64,
}

/// A corp's installation of a template or suite.
#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub(crate) suite_id: String,
    pub(crate) corp_id: String,
    pub(crate) agent_id: i64,
    pub(crate) permanent_code: Option<String>,
    pub(crate) active: bool,
    pub(crate) state: Option<String>,
    /// Userid of the administrator who installed it.
    pub(crate) installer: Option<String>,
    pub(crate) visible_users: Vec<String>,
    pub(crate) visible_departments: Vec<u64>,
}

impl Authorization {
    /// Whether `member` is inside the installed app's visible scope (授权范围).
    pub(crate) fn sees(&self, corp: &Corp, member: &Member) -> bool {
        in_scope(&self.visible_users, &self.visible_departments, corp, member)
    }
}

/// Everything issued since start (or since the last reset).
#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) apps: Vec<AppRecord>,
    pub(crate) tokens: HashMap<String, TokenRecord>,
    pub(crate) codes: HashMap<String, IssuedCode>,
    pub(crate) user_tickets: HashMap<String, UserTicket>,
    /// Per suite id: the tickets pushed, newest last (only the last two are kept).
    pub(crate) suite_tickets: HashMap<String, Vec<(String, i64)>>,
    pub(crate) auth_codes: HashMap<String, AuthCodeGrant>,
    pub(crate) authorizations: Vec<Authorization>,
    /// Event URLs set at runtime, by suite id (override the seed's).
    pub(crate) event_urls: HashMap<String, String>,
    /// Members changed at run time, by (corp id, lower-case userid): `None` = deleted, `Some` = the
    /// member as now. Read through [`World::member`] and friends, never directly.
    member_changes: HashMap<(String, String), Option<Member>>,
}

/// Member status (`status` of user/get, `Status` of change_contact; path/90196, path/90970): active,
/// and disabled (禁用: the member cannot log in). 4 is "not activated".
pub(crate) const STATUS_ACTIVE: i64 = 1;
pub(crate) const STATUS_DISABLED: i64 = 2;

fn member_key(corp_id: &str, userid: &str) -> (String, String) {
    (corp_id.to_owned(), userid.to_lowercase())
}

/// How long a suite_ticket stays valid (reference §7.2: 30 min).
pub(crate) const SUITE_TICKET_TTL_SECS: i64 = 30 * 60;

impl World {
    pub(crate) fn from_seed(seed: &Seed) -> World {
        let apps = seed
            .corps
            .iter()
            .flat_map(|c| {
                c.apps.iter().map(|a| AppRecord {
                    corp_id: c.corp_id.clone(),
                    agent_id: a.agent_id,
                    name: a.name.clone(),
                    secret: Some(a.secret.clone()),
                    trusted_domain: a.trusted_domain.clone(),
                    visible_users: a.visible_users.clone(),
                    visible_departments: a.visible_departments.clone(),
                    legacy_privacy: a.legacy_privacy,
                    template_id: None,
                    enabled: true,
                    callback: match (&a.event_url, &a.token, &a.encoding_aes_key) {
                        (Some(url), Some(token), Some(key)) => {
                            Some(AppCallback { url: url.clone(), token: token.clone(), encoding_aes_key: key.clone() })
                        }
                        _ => None,
                    },
                })
            })
            .collect();
        let authorizations = seed
            .providers
            .iter()
            .flat_map(|p| p.suites.iter())
            .flat_map(|s| {
                s.authorized_corps.iter().enumerate().map(|(i, corp_id)| Authorization {
                    suite_id: s.suite_id.clone(),
                    corp_id: corp_id.clone(),
                    agent_id: 3_010_001 + i64::try_from(i).unwrap_or(0),
                    permanent_code: None,
                    active: true,
                    state: None,
                    installer: None,
                    visible_users: vec![],
                    visible_departments: vec![],
                })
            })
            .collect();
        World { apps, authorizations, ..World::default() }
    }

    /// A member of `corp` as it is now (the seed with run-time changes), by plain userid compared
    /// case-insensitively (reference §0); `None` when unknown or deleted.
    pub(crate) fn member<'c>(&self, corp: &'c Corp, userid: &str) -> Option<Cow<'c, Member>> {
        let seed = corp.members.iter().find(|m| m.userid.eq_ignore_ascii_case(userid))?;
        self.current(corp, seed)
    }

    /// Every member `corp` has now, in seed order.
    pub(crate) fn members<'c>(&self, corp: &'c Corp) -> Vec<Cow<'c, Member>> {
        corp.members.iter().filter_map(|m| self.current(corp, m)).collect()
    }

    /// The member a userid names in `view`: plain (case-insensitive) or the provider's encrypted one (exact).
    pub(crate) fn member_in<'c>(&self, view: IdView<'_>, corp: &'c Corp, shown: &str) -> Option<Cow<'c, Member>> {
        match view {
            IdView::Plain => self.member(corp, shown),
            IdView::Provider(p) => self.members(corp).into_iter().find(|m| open_userid_of(p, corp, m) == shown),
        }
    }

    /// A seed member as it is now: `None` once deleted.
    fn current<'c>(&self, corp: &Corp, seed: &'c Member) -> Option<Cow<'c, Member>> {
        match self.member_changes.get(&member_key(&corp.corp_id, &seed.userid)) {
            None => Some(Cow::Borrowed(seed)),
            Some(changed) => changed.clone().map(Cow::Owned),
        }
    }

    /// Records a run-time change of the seed member `userid`: `None` deletes it, `Some` replaces it
    /// (the userid itself never changes).
    pub(crate) fn set_member(&mut self, corp_id: &str, userid: &str, now: Option<Member>) {
        self.member_changes.insert(member_key(corp_id, userid), now);
    }

    /// An enabled app of a corp.
    pub(crate) fn app(&self, corp_id: &str, agent_id: i64) -> Option<&AppRecord> {
        self.apps.iter().find(|a| a.corp_id == corp_id && a.agent_id == agent_id && a.enabled)
    }

    pub(crate) fn app_mut(&mut self, corp_id: &str, agent_id: i64) -> Option<&mut AppRecord> {
        self.apps.iter_mut().find(|a| a.corp_id == corp_id && a.agent_id == agent_id)
    }

    /// Next free agent id in a corp (apps and third-party installations share the space).
    pub(crate) fn next_agent_id(&self, corp_id: &str) -> i64 {
        let apps = self.apps.iter().filter(|a| a.corp_id == corp_id).map(|a| a.agent_id);
        let auths = self.authorizations.iter().filter(|a| a.corp_id == corp_id).map(|a| a.agent_id);
        apps.chain(auths).max().map_or(1_000_002, |m| m + 1).max(1_000_002)
    }

    /// Mints a token for `grant`, valid `ttl` seconds from `now`.
    pub(crate) fn issue_token(&mut self, grant: Grant, now: i64, ttl: i64) -> String {
        let token = ids::random_token(96);
        self.tokens.insert(token.clone(), TokenRecord { grant, expires_at: now + ttl });
        token
    }

    /// Checks an access token of a corp app: `41001` missing, `40014` unknown (or the app is gone),
    /// `42001` expired. Returns `(corp_id, agent_id)`.
    pub(crate) fn corp_token(&self, token: Option<&str>, now: i64) -> Result<(String, i64), i64> {
        let token = token.filter(|t| !t.is_empty()).ok_or(41001)?;
        let rec = self.tokens.get(token).ok_or(40014)?;
        if now >= rec.expires_at {
            return Err(42001);
        }
        match &rec.grant {
            Grant::Corp { corp_id, agent_id } if self.app(corp_id, *agent_id).is_some() => {
                Ok((corp_id.clone(), *agent_id))
            }
            _ => Err(40014),
        }
    }

    /// Checks a suite_access_token: `41022` missing, `40082` unknown, `42009` expired.
    pub(crate) fn suite_token(&self, token: Option<&str>, now: i64) -> Result<String, i64> {
        let token = token.filter(|t| !t.is_empty()).ok_or(41022)?;
        let rec = self.tokens.get(token).ok_or(40082)?;
        if now >= rec.expires_at {
            return Err(42009);
        }
        match &rec.grant {
            Grant::Suite { suite_id } => Ok(suite_id.clone()),
            _ => Err(40082),
        }
    }

    /// Checks a provider_access_token: `41001` missing, `40014` unknown, `42001` expired.
    pub(crate) fn provider_token(&self, token: Option<&str>, now: i64) -> Result<String, i64> {
        let token = token.filter(|t| !t.is_empty()).ok_or(41001)?;
        let rec = self.tokens.get(token).ok_or(40014)?;
        if now >= rec.expires_at {
            return Err(42001);
        }
        match &rec.grant {
            Grant::Provider { corp_id } => Ok(corp_id.clone()),
            _ => Err(40014),
        }
    }

    /// Stores a code and returns it.
    pub(crate) fn issue_code(&mut self, code: IssuedCode) -> String {
        let value = ids::random_token(43);
        self.codes.insert(value.clone(), code);
        value
    }

    /// The event URL of a suite: runtime value, else the seed's.
    pub(crate) fn event_url(&self, suite: &SuiteLike<'_>) -> Option<String> {
        self.event_urls.get(suite.id()).cloned().or_else(|| suite.seed_event_url().map(str::to_owned))
    }

    /// Records a freshly pushed suite_ticket (keeps the latest two).
    pub(crate) fn add_suite_ticket(&mut self, suite_id: &str, ticket: String, now: i64) {
        let list = self.suite_tickets.entry(suite_id.to_owned()).or_default();
        list.push((ticket, now));
        if list.len() > 2 {
            list.remove(0);
        }
    }

    /// Whether `ticket` is the latest or the previous ticket of the suite and younger than 30 min.
    pub(crate) fn suite_ticket_valid(&self, suite_id: &str, ticket: &str, now: i64) -> bool {
        self.suite_tickets
            .get(suite_id)
            .is_some_and(|list| list.iter().any(|(t, at)| t == ticket && now < at + SUITE_TICKET_TTL_SECS))
    }

    /// The active authorization of a suite by a corp.
    pub(crate) fn authorization(&self, suite_id: &str, corp_id: &str) -> Option<&Authorization> {
        self.authorizations.iter().find(|a| a.suite_id == suite_id && a.corp_id == corp_id && a.active)
    }

    pub(crate) fn authorization_mut(&mut self, suite_id: &str, corp_id: &str) -> Option<&mut Authorization> {
        self.authorizations.iter_mut().find(|a| a.suite_id == suite_id && a.corp_id == corp_id && a.active)
    }

    /// Kills the current permanent code of a corp's authorization of `suite_id` (a reset, or a newer
    /// code replacing it). For a delegated app the permanent code *is* the app's secret (reference
    /// §7.5), so from now on `gettoken` with it answers 40001 (no app has that secret any more) and
    /// every access token it gave is forgotten, so using one answers 40014 (`corp_token`). The app's
    /// user tickets stay: they belong to the app, not to a secret.
    ///
    /// WeCom's pages (path/97175 重置永久授权码通知, path/97163 "secret的重置") say the console button
    /// 重置 (resets) the app's secret and the event's AuthCode fetches the *latest* one; they do not
    /// say the old one keeps working meanwhile, so the simulator takes the stricter reading: it
    /// dies at the reset, with the tokens obtained with it.
    pub(crate) fn revoke_permanent_code(&mut self, suite_id: &str, corp_id: &str) {
        let Some(auth) = self.authorization_mut(suite_id, corp_id) else {
            return;
        };
        auth.permanent_code = None;
        let agent_id = auth.agent_id;
        let Some(app) = self
            .apps
            .iter_mut()
            .find(|a| a.corp_id == corp_id && a.agent_id == agent_id && a.template_id.as_deref() == Some(suite_id))
        else {
            // A third-party suite: its permanent code feeds no endpoint the simulator implements
            // (no service/get_corp_token), so forgetting it is all there is to do.
            return;
        };
        app.secret = None;
        let grant = Grant::Corp { corp_id: corp_id.to_owned(), agent_id };
        self.tokens.retain(|_, t| t.grant != grant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_scope_includes_sub_departments() {
        let seed = Seed::demo();
        let corp = &seed.corps[0];
        let world = World::from_seed(&seed);
        let app = world.app(&corp.corp_id, 1000002).unwrap();
        let zhang = world.member(corp, "zhangsan").unwrap();
        let zhao = world.member(corp, "ZHAOLIU").unwrap();
        assert!(app.sees(corp, &zhang));
        assert!(!app.sees(corp, &zhao));
        let mut everyone = app.clone();
        everyone.visible_departments = vec![1];
        assert!(everyone.sees(corp, &zhao));
    }

    #[test]
    fn run_time_changes_overlay_the_seed_until_reset() {
        let seed = Seed::demo();
        let corp = &seed.corps[0];
        let mut world = World::from_seed(&seed);
        world.set_member(&corp.corp_id, "ZhangSan", None);
        let mut bob = world.member(corp, "bob").unwrap().into_owned();
        bob.name = "Robert".to_owned();
        bob.status = STATUS_DISABLED;
        world.set_member(&corp.corp_id, "BOB", Some(bob));
        assert!(world.member(corp, "zhangsan").is_none());
        assert!(
            world.member_in(IdView::Provider("wwdemo0000000009"), corp, "woH9sQyAZiqIhJ5NdLLyMlyCe1GQtAr6").is_none()
        );
        let bob = world.member(corp, "Bob").unwrap();
        assert_eq!((bob.name.as_str(), bob.status), ("Robert", STATUS_DISABLED));
        assert_eq!(world.members(corp).len(), corp.members.len() - 1);
        let world = World::from_seed(&seed);
        assert_eq!(world.member(corp, "bob").unwrap().name, "Bob Smith");
        assert!(world.member(corp, "zhangsan").is_some());
    }

    #[test]
    fn only_the_last_two_suite_tickets_are_valid() {
        let mut w = World::default();
        w.add_suite_ticket("s", "t1".into(), 0);
        w.add_suite_ticket("s", "t2".into(), 10);
        w.add_suite_ticket("s", "t3".into(), 20);
        assert!(!w.suite_ticket_valid("s", "t1", 30));
        assert!(w.suite_ticket_valid("s", "t2", 30));
        assert!(w.suite_ticket_valid("s", "t3", 30));
        assert!(!w.suite_ticket_valid("s", "t3", 20 + SUITE_TICKET_TTL_SECS));
    }
}
