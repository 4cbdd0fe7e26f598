//! Storage: every piece of state that one wegate instance knows and another needs.
//!
//! One trait, [`Store`], and one SQL implementation ([`sql::SqlStore`]) that runs on SQLite (the embedded
//! default) and PostgreSQL (several instances behind a load balancer), chosen by the database URL. Nothing
//! above this module holds login state in memory only: signing keys, login transactions, codes, refresh
//! tokens, sessions, WeCom access tokens and suite tickets all live here, so any instance can serve any
//! request. The store knows nothing of HTTP or OAuth; it stores and atomically consumes.
//!
//! All times are Unix seconds ([`Timestamp`]) passed in by the caller, so tests control the clock.
//! Secrets (client secrets, refresh tokens, codes, session ids) are stored as SHA-256 hashes by the callers;
//! the store never sees them in the clear. Connection secrets are stored as given (they must be usable) and
//! never leave through the admin API.

pub mod seal;
pub mod sql;

#[cfg(test)]
pub mod conformance;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Unix time in seconds.
pub type Timestamp = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names the field (`identifier`, `username`, `email`, ...).
    #[error("conflict on {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a list: `next` is the cursor to pass for the following page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

// ---------------------------------------------------------------- apps and connections

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// Confidential server-side app with a client secret.
    Web,
    /// Single-page app: public client, PKCE required.
    Spa,
    /// Native (mobile/desktop) app: public client, PKCE required.
    Native,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Web => "web",
            AppKind::Spa => "spa",
            AppKind::Native => "native",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(AppKind::Web),
            "spa" => Some(AppKind::Spa),
            "native" => Some(AppKind::Native),
            _ => None,
        }
    }
    pub fn is_public(self) -> bool {
        !matches!(self, AppKind::Web)
    }
}

#[derive(Clone, PartialEq)]
pub struct App {
    pub client_id: String,
    pub name: String,
    pub kind: AppKind,
    /// SHA-256 (hex) of the client secret, for `web` apps.
    pub client_secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_secret_hash", &self.client_secret_hash.as_ref().map(|_| "<redacted>"))
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// Fields of an app an admin may change. `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct AppUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub client_secret_hash: Option<String>,
}

/// A connection as stored. `settings` holds the kind-specific non-secret fields (corp_id, agent_id, ...)
/// and `secrets` the secret ones (secret, token, encoding_aes_key, ...); both are JSON objects that the
/// connector of the kind parses. `state` is what wegate learned at run time (event URL verified, ...).
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub identifier: String,
    pub kind: String,
    pub display_name: String,
    pub login_only: bool,
    /// `{"mode": "none" | "match" | "ask_to_bind", "fields": [...]}`
    pub association: Value,
    pub settings: Value,
    pub secrets: Value,
    pub state: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("identifier", &self.identifier)
            .field("kind", &self.kind)
            .field("display_name", &self.display_name)
            .field("login_only", &self.login_only)
            .field("association", &self.association)
            .field("settings", &self.settings)
            .field("secrets", &"<redacted>")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- users and identities

#[derive(Clone, PartialEq, Serialize)]
pub struct User {
    /// wegate's stable user id, also `sub` in tokens. Time-ordered.
    pub id: String,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// argon2id PHC string; never serialised.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Extra claims from the last upstream login (e.g. `wecom_corp_id`, `wecom_userid`, `wecom_department`).
    pub claims: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("phone", &self.phone)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A user to create. `email` and `phone` are stored as given and also in a normalised form (lowercase
/// email; phone without spaces, dashes and a leading `+86`) that uniqueness and matching use; `username`
/// is unique case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub id: String,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub password_hash: Option<String>,
    pub claims: Value,
    pub created_at: Timestamp,
}

/// Profile fields refreshed from upstream on each login. `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub picture: Option<String>,
    pub claims: Option<Value>,
}

/// An upstream identity linked to a user. `upstream` names the identity space (`wecom:<corp_id>` for a
/// corp member, `wecom-open:<corp_id>` for a service-provider open_userid) and `subject` the member in it,
/// already normalised by the caller (WeCom userids are compared case-insensitively: lowercase).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub upstream: String,
    pub subject: String,
    pub user_id: String,
    /// The connection of the last sign-in.
    pub connection: String,
    /// The upstream profile as last seen (userid as WeCom spells it, open_userid, department, ...).
    pub profile: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Which normalised fields to look for when matching an upstream profile to existing users. A `None`
/// field matches nothing.
#[derive(Debug, Clone, Default)]
pub struct MatchQuery {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
}

// ---------------------------------------------------------------- OIDC state

/// An RSA signing key. `private_pem` is PKCS#8 PEM; `public_jwk` the JWK (with `kid`, `alg`, `use`).
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub private_pem: String,
    pub public_jwk: Value,
    pub created_at: Timestamp,
    /// Set when a newer key took over; the key stays published until `retired_at` + max token lifetime.
    pub retired_at: Option<Timestamp>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// A login in progress: everything the authorization request said, kept until the login completes.
/// `id` is random and unguessable; it is also the `state` sent upstream (WeCom allows `[a-zA-Z0-9]{1,128}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginTx {
    pub id: String,
    /// SHA-256 (hex) of the browser-binding cookie of the browser that started the login.
    pub browser_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub response_mode: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub ui_locales: Option<String>,
    /// The connection chosen (set when the person clicks a button or the app passed `connection=`).
    pub connection: Option<String>,
    /// Opaque data of the connector or of a pending step (e.g. the upstream identity waiting to be bound).
    pub data: Value,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An authorization code (stored by hash). `grant_id` names the family of tokens that will be issued from
/// it, so a replayed code can revoke them.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthCode {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Timestamp,
    /// Authentication method reference, e.g. `wecom_qrcode` or `pwd`.
    pub amr: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Result of an atomic consume of a code or refresh token.
#[derive(Debug, Clone, PartialEq)]
pub enum Consumed<T> {
    /// First use: the caller may issue tokens.
    Fresh(T),
    /// Already used before: the caller must revoke the family (`grant_id` of the item).
    Replayed(T),
    NotFound,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub session_id: Option<String>,
    pub auth_time: Timestamp,
    pub amr: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A browser sign-in session (single sign-on across apps). Stored by the hash of the cookie value.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: Timestamp,
    pub amr: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

// ---------------------------------------------------------------- WeCom shared state

/// A cached upstream access token (WeCom corp, suite or provider token), shared by all instances.
#[derive(Clone, PartialEq)]
pub struct CachedToken {
    pub token: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq)]
pub struct SuiteTicket {
    pub suite_id: String,
    pub ticket: String,
    pub received_at: Timestamp,
}

impl std::fmt::Debug for SuiteTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuiteTicket")
            .field("suite_id", &self.suite_id)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

/// A corp that authorized a delegated-development template or a service-provider suite.
#[derive(Clone, PartialEq, Serialize)]
pub struct AuthorizedCorp {
    pub connection: String,
    pub corp_id: String,
    pub corp_name: Option<String>,
    pub agent_id: Option<i64>,
    /// The permanent code (for delegated apps: the app's secret). Never serialised.
    #[serde(skip)]
    pub permanent_code: Option<String>,
    /// `active` or `cancelled`.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for AuthorizedCorp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedCorp")
            .field("connection", &self.connection)
            .field("corp_id", &self.corp_id)
            .field("agent_id", &self.agent_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Assigned by the store; ignored on append.
    pub id: i64,
    pub at: Timestamp,
    /// e.g. `login.success`, `login.failure`, `token.replay`, `connection.event`.
    pub event: String,
    pub client_id: Option<String>,
    pub connection: Option<String>,
    pub user_id: Option<String>,
    /// `upstream/subject` of the identity involved, if any.
    pub upstream_subject: Option<String>,
    pub reason: Option<String>,
}

// ---------------------------------------------------------------- the trait

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip to the database (readiness).
    async fn ping(&self) -> StoreResult<()>;

    // --- signing keys
    /// Inserts `candidate` only if no active (unretired) key exists, atomically across instances, and
    /// returns the active key (the candidate or the one another instance stored first).
    async fn ensure_active_signing_key(&self, candidate: SigningKey) -> StoreResult<SigningKey>;
    /// All keys, active first, then retired ones newest first.
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>>;

    // --- apps
    async fn create_app(&self, app: App) -> StoreResult<App>;
    async fn get_app(&self, client_id: &str) -> StoreResult<Option<App>>;
    /// Ordered by creation (client ids are time-ordered); `cursor` is the last client_id of the previous page.
    async fn list_apps(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<App>>;
    async fn update_app(&self, client_id: &str, update: AppUpdate, now: Timestamp) -> StoreResult<App>;
    /// Also removes its connection associations. Err(NotFound) when absent.
    async fn delete_app(&self, client_id: &str) -> StoreResult<()>;
    /// Idempotent. Err(NotFound) if the app or the connection does not exist.
    async fn associate(&self, client_id: &str, identifier: &str) -> StoreResult<()>;
    /// Err(NotFound) if there was no such association.
    async fn dissociate(&self, client_id: &str, identifier: &str) -> StoreResult<()>;
    /// Connections associated with the app, in association order.
    async fn app_connections(&self, client_id: &str) -> StoreResult<Vec<Connection>>;
    /// Client ids of the apps associated with a connection.
    async fn connection_apps(&self, identifier: &str) -> StoreResult<Vec<String>>;

    // --- connections
    /// Err(Conflict("identifier")) when taken.
    async fn create_connection(&self, connection: Connection) -> StoreResult<Connection>;
    async fn get_connection(&self, identifier: &str) -> StoreResult<Option<Connection>>;
    /// Ordered by identifier.
    async fn list_connections(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Connection>>;
    /// Replaces everything but `identifier`, `kind`, `created_at` and `state`.
    async fn update_connection(&self, connection: Connection) -> StoreResult<Connection>;
    /// Shallow-merges `patch` (a JSON object) into the connection's `state`, atomically.
    async fn merge_connection_state(&self, identifier: &str, patch: Value, now: Timestamp) -> StoreResult<()>;
    /// Also removes associations and authorized corps. Identities and users stay.
    async fn delete_connection(&self, identifier: &str) -> StoreResult<()>;

    // --- users and identities
    /// Err(Conflict(field)) when the username, email or phone (normalised) is taken.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<User>>;
    /// Also removes the user's identities, sessions and refresh tokens.
    async fn delete_user(&self, id: &str) -> StoreResult<()>;
    /// The user whose username, email or phone (each normalised) equals `login`, for password sign-in.
    async fn find_user_by_login(&self, login: &str) -> StoreResult<Option<User>>;
    /// Distinct users that match any of the given fields (normalised). Used for field matching; the caller
    /// refuses ambiguous results.
    async fn find_users_matching(&self, query: &MatchQuery) -> StoreResult<Vec<User>>;
    /// Updates the profile fields that are `Some`. A conflicting email/phone is skipped, not an error
    /// (the upstream profile must not block a sign-in).
    async fn update_user_profile(&self, id: &str, update: ProfileUpdate, now: Timestamp) -> StoreResult<User>;
    async fn get_identity(&self, upstream: &str, subject: &str) -> StoreResult<Option<Identity>>;
    async fn user_identities(&self, user_id: &str) -> StoreResult<Vec<Identity>>;
    /// Creates the user and links the identity in one transaction: both or neither.
    async fn create_user_with_identity(&self, user: NewUser, identity: Identity) -> StoreResult<User>;
    /// Links an identity to an existing user. Err(Conflict("identity")) if the identity is already linked
    /// (to anyone), Err(NotFound) if the user is gone.
    async fn link_identity(&self, identity: Identity) -> StoreResult<()>;
    /// Refreshes the stored profile and last connection of a linked identity.
    async fn touch_identity(
        &self,
        upstream: &str,
        subject: &str,
        connection: &str,
        profile: Value,
        now: Timestamp,
    ) -> StoreResult<()>;

    // --- login transactions
    async fn put_login_tx(&self, tx: LoginTx) -> StoreResult<()>;
    /// Reads without consuming; expired ones (expires_at <= now) are None.
    async fn get_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>>;
    /// Atomically removes and returns it: a second take, on any instance, gets None. Expired → None.
    async fn take_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>>;
    /// Replaces the transaction's `connection`, `data` and `expires_at`. Err(NotFound) when gone.
    async fn update_login_tx(&self, tx: &LoginTx) -> StoreResult<()>;

    // --- authorization codes, refresh tokens, grants, sessions
    async fn put_auth_code(&self, code: AuthCode) -> StoreResult<()>;
    /// Atomically marks the code used. Fresh on the first call (if not expired), Replayed afterwards
    /// (even if expired since), NotFound for unknown or expired-and-unused codes.
    async fn consume_auth_code(&self, code_hash: &str, now: Timestamp) -> StoreResult<Consumed<AuthCode>>;
    async fn put_refresh_token(&self, token: RefreshToken) -> StoreResult<()>;
    /// Same contract as `consume_auth_code`; a token of a revoked grant is NotFound.
    async fn consume_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Consumed<RefreshToken>>;
    /// Reads a refresh token without consuming it (introspection). None when used, expired or revoked.
    async fn get_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RefreshToken>>;
    /// Revokes a grant: its refresh tokens are deleted and `is_grant_revoked` answers true until `expires_at`
    /// (the longest lifetime of a token of the grant). Idempotent.
    async fn revoke_grant(&self, grant_id: &str, now: Timestamp, expires_at: Timestamp) -> StoreResult<()>;
    async fn is_grant_revoked(&self, grant_id: &str) -> StoreResult<bool>;
    /// Revokes one access token by `jti`, remembered until `expires_at`. Idempotent.
    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()>;
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    async fn put_session(&self, session: Session) -> StoreResult<()>;
    /// None when absent or expired.
    async fn get_session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;

    // --- shared upstream token cache (see `wecom::cache::TokenStore`)
    async fn get_upstream_token(&self, key: &str) -> StoreResult<Option<CachedToken>>;
    async fn put_upstream_token(&self, key: &str, token: &CachedToken) -> StoreResult<()>;
    /// Deletes the cached token only if it is still `token` (another instance may have refreshed it).
    async fn invalidate_upstream_token(&self, key: &str, token: &str) -> StoreResult<()>;
    /// Cross-instance refresh lease: true if `owner` now holds the lease on `key` until `until`
    /// (free, expired, or already held by `owner`); false if another owner holds an unexpired lease.
    async fn try_lease(&self, key: &str, owner: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool>;
    async fn release_lease(&self, key: &str, owner: &str) -> StoreResult<()>;

    // --- delegated development / service provider
    /// Stores the ticket; an older ticket (by `received_at`) never overwrites a newer one.
    async fn put_suite_ticket(&self, ticket: SuiteTicket) -> StoreResult<()>;
    async fn get_suite_ticket(&self, suite_id: &str) -> StoreResult<Option<SuiteTicket>>;
    /// Insert or update by (connection, corp_id).
    async fn upsert_authorized_corp(&self, corp: AuthorizedCorp) -> StoreResult<()>;
    async fn get_authorized_corp(&self, connection: &str, corp_id: &str) -> StoreResult<Option<AuthorizedCorp>>;
    async fn list_authorized_corps(&self, connection: &str) -> StoreResult<Vec<AuthorizedCorp>>;
    /// Records a callback's (timestamp, nonce, signature) key; true if it was new, false if seen before.
    async fn remember_callback(&self, key: &str, expires_at: Timestamp) -> StoreResult<bool>;

    // --- password lockout
    /// Counts one failed password sign-in for `login` and returns the failures of its current window (which
    /// starts at the first failure and lasts `window` seconds; a failure after it starts a new window).
    async fn record_login_failure(&self, login: &str, now: Timestamp, window: i64) -> StoreResult<LoginFailures>;
    /// The failures of `login`'s unexpired window, if any.
    async fn login_failures(&self, login: &str, now: Timestamp) -> StoreResult<Option<LoginFailures>>;
    /// Forgets `login`'s failures (after a successful sign-in).
    async fn clear_login_failures(&self, login: &str) -> StoreResult<()>;

    // --- audit and housekeeping
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()>;
    /// Newest first; `cursor` is the id of the last event of the previous page.
    async fn list_audit(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<AuditEvent>>;
    /// Deletes expired transactions, codes, refresh tokens, sessions, revocations, leases, callback keys and
    /// login-failure windows.
    /// Safe to run on every instance at once. Returns how many rows went.
    async fn sweep_expired(&self, now: Timestamp) -> StoreResult<u64>;
}

/// Failed password sign-ins of one login inside one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    /// When the window ends and the count is forgotten.
    pub expires_at: Timestamp,
}

/// Lowercases and trims an email for uniqueness and matching.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Normalises a phone number for uniqueness and matching: digits only (and a leading `+` dropped), and the
/// Chinese country code `86` removed when what remains is an 11-digit mainland mobile number.
pub fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && rest.starts_with('1') => rest.to_string(),
        _ => digits,
    }
}

/// Lowercases a username (and WeCom userid) for uniqueness and matching.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_across_country_code_and_spacing() {
        assert_eq!(normalize_phone("+86 138 0013 8000"), "13800138000");
        assert_eq!(normalize_phone("138-0013-8000"), "13800138000");
        assert_eq!(normalize_phone("8613800138000"), "13800138000");
        assert_eq!(normalize_phone("+1 415 555 0100"), "14155550100");
    }

    #[test]
    fn emails_normalise_case() {
        assert_eq!(normalize_email(" Zhang.San@Example.COM "), "zhang.san@example.com");
    }
}
