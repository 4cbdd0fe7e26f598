//! Users, the upstream identities linked to them, and the failed password sign-ins that lock a login out.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::common::{Page, StoreResult, Timestamp};

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
    /// Disabled by an admin: signs in by no connection and no password, refreshes nothing.
    pub disabled: bool,
    /// May sign in to the admin console.
    pub admin: bool,
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

/// The key of a user's stored `claims` that says whether their email was proven: by the admin for a local
/// account, by the connection's `trust_email` for a WeCom one. Not released as a claim of its own name
/// (only `wecom_*` keys are); `email_verified` in tokens reads it.
pub const EMAIL_VERIFIED: &str = "email_verified";

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

/// Failed password sign-ins of one login inside one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    /// When the window ends and the count is forgotten.
    pub expires_at: Timestamp,
}

/// Users and identities, and the password lockout counts of the logins people sign in with.
#[async_trait]
pub trait UserStore: Send + Sync {
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
    /// Disables or enables a user. Err(NotFound) when absent.
    async fn set_user_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> StoreResult<User>;
    /// Sets what an admin may change of a user besides the profile: the console flag and the password
    /// (`Some(None)` removes the password). Err(NotFound) when absent.
    async fn set_user_access(
        &self,
        id: &str,
        admin: Option<bool>,
        password_hash: Option<Option<String>>,
        now: Timestamp,
    ) -> StoreResult<User>;
    async fn get_identity(&self, upstream: &str, subject: &str) -> StoreResult<Option<Identity>>;
    /// `get_identity`, and the identity's user read in the same call (one hop on SQLite: the callback's path).
    /// The user is None only if it is gone.
    async fn get_identity_with_user(
        &self,
        upstream: &str,
        subject: &str,
    ) -> StoreResult<Option<(Identity, Option<User>)>>;
    async fn user_identities(&self, user_id: &str) -> StoreResult<Vec<Identity>>;
    /// Creates the user and links the identity in one transaction: both or neither.
    async fn create_user_with_identity(&self, user: NewUser, identity: Identity) -> StoreResult<User>;
    /// Links an identity to an existing user. Err(Conflict("identity")) if the identity is already linked
    /// (to anyone), Err(NotFound) if the user is gone.
    async fn link_identity(&self, identity: Identity) -> StoreResult<()>;
    /// Refreshes the stored profile and last connection of a linked identity.
    /// Moves an identity to a new subject (WeCom renamed the member's userid, or the subject's spelling rule
    /// changed). Err(NotFound) when there is none; Err(Conflict) when the new subject is taken.
    async fn rename_identity(
        &self,
        upstream: &str,
        subject: &str,
        new_subject: &str,
        now: Timestamp,
    ) -> StoreResult<()>;
    async fn touch_identity(
        &self,
        upstream: &str,
        subject: &str,
        connection: &str,
        profile: Value,
        now: Timestamp,
    ) -> StoreResult<()>;

    // --- password lockout
    /// Counts one failed password sign-in for `login` and returns the failures of its current window (which
    /// starts at the first failure and lasts `window` seconds; a failure after it starts a new window).
    async fn record_login_failure(&self, login: &str, now: Timestamp, window: i64) -> StoreResult<LoginFailures>;
    /// The failures of `login`'s unexpired window, if any.
    async fn login_failures(&self, login: &str, now: Timestamp) -> StoreResult<Option<LoginFailures>>;
    /// Forgets `login`'s failures (after a successful sign-in).
    async fn clear_login_failures(&self, login: &str) -> StoreResult<()>;
}

/// Lowercases and trims an email for uniqueness and matching.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Normalises a phone number for uniqueness and matching: digits only (and a leading `+` dropped), and the
/// Chinese country code `86` removed when what remains is an 11-digit mainland mobile number.
/// A typed login taken as a phone number, normalised — only when it looks like one, so that a username
/// containing digits is not taken for somebody's phone.
pub fn login_as_phone(login: &str) -> Option<String> {
    let phone_like = login.trim().chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if phone_like { Some(normalize_phone(login)).filter(|p| !p.is_empty()) } else { None }
}

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
