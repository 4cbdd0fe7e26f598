//! Storage: every piece of state that one wegate instance knows and another needs.
//!
//! One trait, [`Store`], made of one sub-trait per aggregate, and one SQL implementation
//! ([`sql::SqlStore`]) that runs on SQLite (the embedded default) and PostgreSQL (several instances behind a
//! load balancer), chosen by the database URL. Nothing above this module holds login state in memory only:
//! signing keys, login transactions, codes, refresh tokens, sessions, WeCom access tokens and suite tickets
//! all live here, so any instance can serve any request. The store knows nothing of HTTP or OAuth; it stores
//! and atomically consumes.
//!
//! | sub-trait | file | holds |
//! | --- | --- | --- |
//! | [`KeyStore`] | `keys.rs` | signing keys |
//! | [`AppStore`] | `apps.rs` | apps and their associations with connections |
//! | [`ConnectionStore`] | `connections.rs` | connections and their run-time state |
//! | [`UserStore`] | `users.rs` | users, linked identities, password lockout counts |
//! | [`SessionStore`] | `sessions.rs` | login transactions and browser sessions |
//! | [`GrantStore`] | `grants.rs` | authorization codes, refresh tokens, grant and access-token revocations |
//! | [`UpstreamStore`] | `upstream.rs` | upstream token cache, leases, suite tickets, authorized corps, callback keys |
//! | [`AuditStore`] | `audit.rs` | the audit log, readiness ping, sweeping expired rows |
//!
//! Each file holds its aggregate's types and trait; the SQL side is split the same way under `sql/`, and so
//! is the conformance suite. A method of a sub-trait can only be called where the trait is in scope:
//! `use crate::store::prelude::*;` brings them all.
//!
//! All times are Unix seconds ([`Timestamp`]) passed in by the caller, so tests control the clock: the store
//! never reads the wall clock. Secrets (client secrets, refresh tokens, codes, session ids) are stored as
//! SHA-256 hashes by the callers; the store never sees them in the clear. Connection secrets are stored as
//! given (they must be usable) and never leave through the admin API.

mod apps;
mod audit;
mod backup;
mod common;
mod connections;
mod grants;
mod keys;
mod sessions;
mod upstream;
mod users;

pub mod kinds;
pub mod seal;
pub mod sql;

#[cfg(test)]
pub mod conformance;

pub use apps::{App, AppKind, AppStore, AppUpdate};
pub use audit::{AuditEvent, AuditStore};
pub use backup::BackupStore;
pub use common::{Page, StoreError, StoreResult, Timestamp};
pub use connections::{Connection, ConnectionStore, all_connections};
pub use grants::{AuthCode, Consumed, GrantOrigin, GrantStart, GrantStore, Redeemed, RefreshToken};
pub use keys::{KeyStore, SigningKey};
pub use kinds::{
    Association, AssociationMode, ClaimMap, ClientAuthMethod, DOMAIN_VERIFICATION, DelegatedSettings, DingTalkSettings,
    DomainFile, FeishuMarketplaceSettings, FeishuSettings, ICON_URL, KindSettings, LdapSettings, MatchField,
    MobileSettings, OAuth2Settings, OidcSettings, ProviderSettings, QrCodeSettings, SECRET_FIELDS, TRUST_EMAIL,
    WebScope, WebSettings, default_oidc_scopes,
};
pub use sessions::{LoginTx, Session, SessionStore};
pub use upstream::{AuthorizedCorp, CachedToken, SuiteTicket, UpstreamStore};
pub use users::{
    EMAIL_VERIFIED, Identity, LoginFailures, MatchQuery, NewUser, ProfileUpdate, User, UserStore, login_as_phone,
    normalize_email, normalize_phone, normalize_username,
};

/// The sub-traits (and [`Store`]), for callers of store methods: `use crate::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        AppStore, AuditStore, BackupStore, ConnectionStore, GrantStore, KeyStore, SessionStore, Store, UpstreamStore,
        UserStore,
    };
}

/// Everything the store does: every aggregate's trait. Implement the sub-traits and this comes for free;
/// hold it as `Arc<dyn Store>`.
pub trait Store:
    KeyStore
    + AppStore
    + ConnectionStore
    + UserStore
    + SessionStore
    + GrantStore
    + UpstreamStore
    + AuditStore
    + BackupStore
    + 'static
{
}

impl<T> Store for T where
    T: KeyStore
        + AppStore
        + ConnectionStore
        + UserStore
        + SessionStore
        + GrantStore
        + UpstreamStore
        + AuditStore
        + BackupStore
        + 'static
{
}
