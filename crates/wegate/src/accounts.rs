//! Accounts: who an upstream identity is in wegate. Applies the connection's rules — login-only mode and
//! account identity association (`none`, field `match`, `ask_to_bind`) — and local password sign-in
//! (argon2id), which "ask to bind" reuses. Linking and creating happen in one store transaction.

use serde_json::Value;

use crate::app::App;
use crate::store::{
    AssociationMode, Connection, Identity, MatchField, MatchQuery, NewUser, ProfileUpdate, StoreError, User,
    login_as_phone, normalize_email, normalize_phone, normalize_username,
};
use crate::util::time_ordered_id;

/// A person as the upstream knows them, with the profile mapped to standard claims.
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    /// Identity space: `wecom:<corp_id>` for a corp member (same member, same user across connections of
    /// the corp), `wecom-open:<corp_id>` for a service provider's open_userid.
    pub upstream: String,
    /// The member in that space, normalised (WeCom userids are case-insensitive: lowercased).
    pub subject: String,
    /// The userid as WeCom spells it (matched against usernames).
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub picture: Option<String>,
    /// Namespaced claims (`wecom_corp_id`, `wecom_userid`, `wecom_department`, `wecom_open_userid`).
    pub claims: Value,
    /// The upstream profile as stored on the identity.
    pub profile: Value,
    /// Which of the fields association may match existing accounts on.
    pub vouched: Vouched,
}

/// Which profile fields the upstream vouches for, so that field matching may link on them. A company's
/// own directory (WeCom's address book) vouches for what its admin entered; a generic OpenID Connect
/// provider only for what it says is verified — anyone may put any email on an account elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vouched {
    pub email: bool,
    pub phone: bool,
    pub username: bool,
}

impl Default for Vouched {
    fn default() -> Self {
        Vouched::NOTHING
    }
}

impl Vouched {
    /// The company's own directory: every field.
    pub const DIRECTORY: Vouched = Vouched { email: true, phone: true, username: true };
    /// Nothing.
    pub const NOTHING: Vouched = Vouched { email: false, phone: false, username: false };
}

impl UpstreamIdentity {
    /// The email the account takes: only one the upstream vouches for. Another connection's `match` links on
    /// accounts' emails, so an unvouched one there would let anyone plant an email and collect its owner's
    /// next sign-in. It stays in the identity's profile.
    pub fn account_email(&self) -> Option<String> {
        self.email.clone().filter(|_| self.vouched.email)
    }

    /// The phone the account takes, on the same rule as [`UpstreamIdentity::account_email`].
    pub fn account_phone(&self) -> Option<String> {
        self.phone.clone().filter(|_| self.vouched.phone)
    }

    /// `upstream/subject`, for logs and the audit trail (never a secret).
    pub fn reference(&self) -> String {
        format!("{}/{}", self.upstream, self.subject)
    }
}

/// What to do with an upstream identity.
#[derive(Debug)]
pub enum Resolution {
    /// Signed in as this user (linked before, matched now, or just created).
    User(Box<User>),
    /// `ask_to_bind`: show the bind page. `may_create` is false in login-only mode.
    NeedsBinding { may_create: bool },
    /// Refused; the reason is for the person and the log.
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Login-only mode and no account for this identity.
    NoAccount,
    /// Field matching found more than one user.
    Ambiguous,
    /// The account is disabled by an admin.
    Disabled,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoAccount => "no_account",
            Refusal::Ambiguous => "ambiguous_match",
            Refusal::Disabled => "account_disabled",
        }
    }
}

/// Finds or creates the user of an upstream identity under the connection's rules, refreshing the stored
/// profile on each login.
pub async fn resolve(
    app: &App,
    connection: &Connection,
    upstream: &UpstreamIdentity,
) -> Result<Resolution, StoreError> {
    match resolve_once(app, connection, upstream).await {
        // The same person's first two sign-ins raced (two tabs, two instances): the other one linked the
        // identity first, so it is now a known identity.
        Err(StoreError::Conflict(field)) if field == "identity" => resolve_once(app, connection, upstream).await,
        other => other,
    }
}

async fn resolve_once(
    app: &App,
    connection: &Connection,
    upstream: &UpstreamIdentity,
) -> Result<Resolution, StoreError> {
    let now = app.now();
    let store = &app.store;
    // Before exact encrypted userids, every WeCom subject was stored lowercased: such an identity is re-keyed
    // to the exact subject on its first sign-in (and is the same person: encrypted ids are 30+ random
    // characters). Other upstreams' subjects were always exact: `Alice` is never `alice` there.
    let mut known = store.get_identity_with_user(&upstream.upstream, &upstream.subject).await?;
    let lowered = upstream.subject.to_lowercase();
    if known.is_none()
        && upstream.upstream.starts_with("wecom")
        && lowered != upstream.subject
        && let Some(old) = store.get_identity(&upstream.upstream, &lowered).await?
    {
        store.rename_identity(&upstream.upstream, &lowered, &upstream.subject, now).await?;
        tracing::info!(upstream = %upstream.upstream, "identity re-keyed to its exact (case-sensitive) subject");
        let user = store.get_user(&old.user_id).await?;
        known = Some((Identity { subject: upstream.subject.clone(), ..old }, user));
    }
    if let Some((identity, user)) = known {
        // A returning person usually brings the same profile: write only what changed, since writes are
        // what serialises on SQLite (and `updated_at` then means what OIDC says: the profile changed).
        if identity.profile != upstream.profile || identity.connection != connection.identifier {
            store
                .touch_identity(
                    &upstream.upstream,
                    &upstream.subject,
                    &connection.identifier,
                    upstream.profile.clone(),
                    now,
                )
                .await?;
        }
        let update = profile_update(upstream);
        let user = match user {
            Some(user) if user.disabled => return Ok(Resolution::Refused(Refusal::Disabled)),
            Some(user) if profile_unchanged(&user, &update) => user,
            _ => store.update_user_profile(&identity.user_id, update, now).await?,
        };
        return Ok(Resolution::User(Box::new(user)));
    }

    let association = &connection.association;
    match association.mode {
        AssociationMode::Match => {
            let query = match_query(&association.fields, upstream);
            let mut candidates = if query.email.is_none() && query.phone.is_none() && query.username.is_none() {
                Vec::new()
            } else {
                store.find_users_matching(&query).await?
            };
            if candidates.len() > 1 {
                return Ok(Resolution::Refused(Refusal::Ambiguous));
            }
            if let Some(user) = candidates.pop() {
                if user.disabled {
                    return Ok(Resolution::Refused(Refusal::Disabled));
                }
                // An admin account is never taken on fields an upstream asserts (a corp admin sets any email,
                // phone or userid on a member): its owner proves it with its password first, as when asked to bind.
                if user.admin {
                    tracing::info!(connection = %connection.identifier, "match found an admin account: asking to bind");
                    return Ok(Resolution::NeedsBinding { may_create: !connection.login_only });
                }
                link(app, connection, upstream, &user.id).await?;
                let user = store.update_user_profile(&user.id, profile_update(upstream), now).await?;
                return Ok(Resolution::User(Box::new(user)));
            }
        }
        AssociationMode::AskToBind => {
            return Ok(Resolution::NeedsBinding { may_create: !connection.login_only });
        }
        AssociationMode::None => {}
    }
    if connection.login_only {
        return Ok(Resolution::Refused(Refusal::NoAccount));
    }
    create(app, connection, upstream).await.map(|u| Resolution::User(Box::new(u)))
}

/// Creates a user for the identity and links it, atomically.
pub async fn create(app: &App, connection: &Connection, upstream: &UpstreamIdentity) -> Result<User, StoreError> {
    let now = app.now();
    let new_user = NewUser {
        id: time_ordered_id(""),
        username: None,
        email: upstream.account_email(),
        phone: upstream.account_phone(),
        name: upstream.name.clone(),
        picture: upstream.picture.clone(),
        password_hash: None,
        claims: upstream.claims.clone(),
        created_at: now,
    };
    let identity = identity_of(connection, upstream, &new_user.id, now);
    match app.store.create_user_with_identity(new_user.clone(), identity.clone()).await {
        Ok(user) => Ok(user),
        // The WeCom email or phone may already belong to someone else: create without it rather than fail.
        Err(StoreError::Conflict(field)) if field == "email" || field == "phone" => {
            tracing::info!(field, "upstream profile field already used by another user; created without it");
            let mut retry = new_user;
            if field == "email" {
                retry.email = None;
            } else {
                retry.phone = None;
            }
            match app.store.create_user_with_identity(retry.clone(), identity.clone()).await {
                Err(StoreError::Conflict(_)) => {
                    retry.email = None;
                    retry.phone = None;
                    app.store.create_user_with_identity(retry, identity).await
                }
                other => other,
            }
        }
        Err(e) => Err(e),
    }
}

/// Links the identity to an existing user (ask-to-bind after password sign-in, or a field match).
pub async fn link(
    app: &App,
    connection: &Connection,
    upstream: &UpstreamIdentity,
    user_id: &str,
) -> Result<(), StoreError> {
    let identity = identity_of(connection, upstream, user_id, app.now());
    app.store.link_identity(identity).await
}

fn identity_of(connection: &Connection, upstream: &UpstreamIdentity, user_id: &str, now: i64) -> Identity {
    Identity {
        upstream: upstream.upstream.clone(),
        subject: upstream.subject.clone(),
        user_id: user_id.to_string(),
        connection: connection.identifier.clone(),
        profile: upstream.profile.clone(),
        created_at: now,
        updated_at: now,
    }
}

fn profile_update(upstream: &UpstreamIdentity) -> ProfileUpdate {
    ProfileUpdate {
        name: upstream.name.clone(),
        email: upstream.account_email(),
        phone: upstream.account_phone(),
        picture: upstream.picture.clone(),
        claims: Some(upstream.claims.clone()),
    }
}

/// Whether applying `update` would leave `user` as it is (`None` fields keep the stored value).
fn profile_unchanged(user: &User, update: &ProfileUpdate) -> bool {
    let same = |new: &Option<String>, old: &Option<String>| new.is_none() || new == old;
    same(&update.name, &user.name)
        && same(&update.email, &user.email)
        && same(&update.phone, &user.phone)
        && same(&update.picture, &user.picture)
        && update.claims.as_ref().is_none_or(|claims| *claims == user.claims)
}

/// Only fields WeCom actually returned take part: an absent email never matches anything.
fn match_query(fields: &[MatchField], upstream: &UpstreamIdentity) -> MatchQuery {
    let mut query = MatchQuery::default();
    for field in fields {
        match field {
            MatchField::Email if upstream.vouched.email => {
                query.email = upstream.email.as_deref().map(normalize_email).filter(|e| !e.is_empty())
            }
            MatchField::Phone if upstream.vouched.phone => {
                query.phone = upstream.phone.as_deref().map(normalize_phone).filter(|p| !p.is_empty())
            }
            MatchField::Username if upstream.vouched.username => {
                query.username = upstream.username.as_deref().map(normalize_username).filter(|u| !u.is_empty())
            }
            // A field the upstream does not vouch for never links anyone.
            _ => {}
        }
    }
    query
}

// ---------------------------------------------------------------- passwords

/// argon2id hash (PHC string) of a new password. Err("busy") when every Argon2 slot stayed taken.
pub async fn hash_password(app: &App, password: String) -> Result<String, String> {
    app.passwords
        .run(move || {
            use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
            let salt = SaltString::generate(&mut OsRng);
            argon2::Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|| Err("busy".to_string()))
}

/// A fixed hash to verify against when the account does not exist, so that timing does not tell
/// which accounts exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$X0GGcZ3QjcRTNT0dRgvGaUhq+JA9Qc0zxuBmbYDAOfo";

/// What a password sign-in attempt came to.
#[derive(Debug)]
pub enum PasswordCheck {
    Valid(Box<User>),
    /// Unknown account or wrong password: the two are not told apart.
    Invalid,
    /// Too many failures for this account lately; password sign-in resumes after `retry_after` seconds.
    LockedOut {
        retry_after: i64,
        /// The attempt that locked it: later ones are not audited one by one (the audit stays bounded
        /// under a password spray).
        first: bool,
    },
    /// Too many password checks in flight: try again in a moment (nothing was counted against the account
    /// beyond this attempt).
    Busy,
    /// The right password of a disabled account (told only to whoever knows the password).
    Disabled,
}

impl PasswordCheck {
    /// Whether a refused attempt deserves its own audit entry: a lockout when it starts, never a busy answer,
    /// so that a loop of attempts cannot fill the audit log.
    pub fn audited(&self) -> bool {
        match self {
            PasswordCheck::LockedOut { first, .. } => *first,
            PasswordCheck::Busy => false,
            _ => true,
        }
    }
}

/// The lockout key of a typed login: the account it names, whatever identifier was typed (username,
/// email, or the phone in any spelling), and the normalised login itself for an unknown one — so that
/// lockout tells nothing about which accounts exist. An unknown login is kept as its SHA-256: what a
/// stranger types is stored in a bounded size (and not as typed).
fn lockout_key(user: Option<&User>, login: &str) -> String {
    match user {
        Some(user) => format!("user:{}", user.id),
        None => {
            let normalised = login_as_phone(login).unwrap_or_else(|| login.to_lowercase());
            format!("login:{}", crate::util::sha256_hex(&normalised))
        }
    }
}

/// No account has a longer username, email or phone: a longer typed login is looked up nowhere.
const MAX_LOGIN: usize = 320;

/// Checks `password` for the user whose username/email/phone is `login`, with lockout: each attempt is
/// counted for the account (see [`lockout_key`]) BEFORE the password is checked, atomically, so parallel
/// attempts cannot exceed `lockout_failures` within `lockout_window`; past it the password is not even
/// checked until the window ends. A success clears the count.
pub async fn verify_password(app: &App, login: &str, password: &str) -> Result<PasswordCheck, StoreError> {
    let login = login.trim();
    let (limit, window, now) = (app.settings.lockout_failures, app.settings.lockout_window, app.now());
    let user = if login.len() > MAX_LOGIN { None } else { app.store.find_user_by_login(login).await? };
    let key = lockout_key(user.as_ref(), login);
    if limit > 0 {
        let attempts = app.store.record_login_failure(&key, now, window).await?;
        if i64::from(attempts.failures) > limit {
            if i64::from(attempts.failures) == limit + 1 {
                tracing::warn!(key = %crate::util::loggable(&key), window, "password sign-in locked after {limit} failures");
            }
            let first = i64::from(attempts.failures) == limit + 1;
            return Ok(PasswordCheck::LockedOut { retry_after: attempts.expires_at - now, first });
        }
    }
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = password.to_string();
    let Some(ok) = app
        .passwords
        .run(move || {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            PasswordHash::new(&hash)
                .map(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
    else {
        return Ok(PasswordCheck::Busy);
    };
    match user {
        Some(user) if ok && known => {
            if limit > 0 {
                app.store.clear_login_failures(&key).await?;
            }
            if user.disabled {
                return Ok(PasswordCheck::Disabled);
            }
            Ok(PasswordCheck::Valid(Box::new(user)))
        }
        _ => Ok(PasswordCheck::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(email: Option<&str>, phone: Option<&str>) -> UpstreamIdentity {
        UpstreamIdentity {
            upstream: "wecom:ww1".into(),
            subject: "zhangsan".into(),
            username: Some("ZhangSan".into()),
            name: Some("张三".into()),
            email: email.map(String::from),
            phone: phone.map(String::from),
            picture: None,
            claims: Value::Null,
            profile: Value::Null,
            vouched: Vouched::DIRECTORY,
        }
    }

    #[test]
    fn fields_the_upstream_does_not_vouch_for_never_match() {
        let mut unvouched = upstream(Some("a@b.c"), Some("13800138000"));
        unvouched.vouched = Vouched { email: false, phone: true, username: false };
        let q = match_query(&[MatchField::Email, MatchField::Phone, MatchField::Username], &unvouched);
        assert_eq!((q.email, q.phone.as_deref(), q.username), (None, Some("13800138000"), None));
    }

    #[test]
    fn absent_fields_never_match() {
        let q = match_query(&[MatchField::Email, MatchField::Phone], &upstream(None, Some("+86 138 0013 8000")));
        assert_eq!(q.email, None);
        assert_eq!(q.phone.as_deref(), Some("13800138000"));
        assert_eq!(q.username, None);
        let q = match_query(&[MatchField::Username], &upstream(Some("A@B.C"), None));
        assert_eq!(q.username.as_deref(), Some("zhangsan"));
        assert_eq!(q.email, None);
    }

    #[test]
    fn association_defaults_to_none() {
        let a: crate::store::Association =
            serde_json::from_value(serde_json::json!({"mode": "match", "fields": ["email"]})).unwrap();
        assert_eq!(a.mode, AssociationMode::Match);
        assert!(serde_json::from_value::<crate::store::Association>(serde_json::json!({"mode": "bogus"})).is_err());
    }

    #[tokio::test]
    async fn dummy_hash_is_a_valid_argon2_hash() {
        use argon2::password_hash::PasswordHash;
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
        let salt = SaltString::generate(&mut OsRng);
        let hash = argon2::Argon2::default().hash_password(b"secret-pw", &salt).unwrap().to_string();
        assert!(hash.starts_with("$argon2id$"), "the default is argon2id, as DUMMY_HASH");
    }
}
