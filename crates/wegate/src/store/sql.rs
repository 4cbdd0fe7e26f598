//! The SQL [`Store`]: one implementation, on sqlx's `Any` driver, for SQLite (the embedded default) and
//! PostgreSQL (several wegate instances sharing one database), chosen by the URL scheme.
//!
//! Portability: one schema (`migrations/`) with TEXT and BIGINT columns only, `$n` placeholders (SQLite
//! accepts them), `ON CONFLICT` upserts and `RETURNING`. No statement depends on the isolation level: every
//! rule that must hold across instances is a single statement whose effect the database decides — a code is
//! consumed by the one `UPDATE ... WHERE used_at IS NULL` that matches it, a login transaction taken by the one
//! `DELETE ... RETURNING` that finds it, the active signing key is whichever row won the unique `slot`, a lease
//! belongs to whoever's upsert the `WHERE` clause let through. Transactions only group writes (user and
//! identity, cascading deletes), and each starts with a write so that SQLite never has to upgrade a read
//! snapshot (which fails with `SQLITE_BUSY_SNAPSHOT` instead of waiting).
//!
//! Errors: a unique violation becomes [`StoreError::Conflict`] naming the field (derived from the index
//! name on PostgreSQL, from `table.column` on SQLite), a foreign-key violation [`StoreError::NotFound`] (the
//! app, connection or user referred to is gone), anything else [`StoreError::Backend`] with the driver's
//! message (never a bound value or the URL).

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, Executor as _, Row as _};

use super::{
    App, AppKind, AppUpdate, AuditEvent, AuthCode, AuthorizedCorp, CachedToken, Connection, Consumed, Identity,
    LoginFailures, LoginTx, MatchQuery, NewUser, Page, ProfileUpdate, RefreshToken, Session, SigningKey, Store,
    StoreError, StoreResult, SuiteTicket, Timestamp, User, normalize_email, normalize_phone, normalize_username,
};

/// How long a used code or refresh token is kept after it expires, so that a late replay is still reported
/// as `Replayed` (and its family revoked) instead of `NotFound`. Used rows are small and few.
pub const REPLAY_MEMORY: Timestamp = 24 * 60 * 60;

/// Connection pool sizing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    /// 10 connections (SQLite serialises writers anyway; its readers run in parallel in WAL mode), none kept
    /// open when idle, 5 s to get one, idle ones closed after 10 minutes.
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of_url(url: &str) -> StoreResult<Backend> {
        let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::Backend(format!(
                "unsupported database URL scheme {scheme:?}: use sqlite:// or postgres://"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The SQL store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    sealer: super::seal::Sealer,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("backend", &self.backend.name()).finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- migrations

/// The migrations, embedded in the binary. `sqlx::migrate!` would need sqlx's `macros` feature (a proc-macro
/// build of both drivers); listing the files here costs one line per migration, and a test keeps this list
/// equal to the folder (same versions, same checksums as sqlx-cli computes).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/0001_initial.sql")),
    (2, "login failures", include_str!("../../migrations/0002_login_failures.sql")),
    (3, "audit ids", include_str!("../../migrations/0003_audit_ids.sql")),
];

#[derive(Debug)]
struct EmbeddedMigrations;

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

// ---------------------------------------------------------------- connecting

fn is_memory_sqlite(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// `sqlite://path` opens an existing file only; wegate creates it on first start (`mode=rwc`) unless the URL
/// says otherwise.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || is_memory_sqlite(url) {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

impl SqlStore {
    /// Seals connection secrets, permanent codes and signing keys with this AES-256 key from now on
    /// (see `store::seal`).
    pub fn with_encryption_key(mut self, key: &[u8; 32]) -> SqlStore {
        self.sealer = super::seal::Sealer::new(Some(key));
        self
    }

    /// Connects, prepares the database and brings the schema up to date.
    ///
    /// SQLite: the file is created if missing, switched to WAL once (the mode is stored in the file), and each
    /// pooled connection gets `synchronous=NORMAL`, a 5 s busy timeout and foreign keys. An in-memory database
    /// is one connection kept open forever (each connection would otherwise see its own empty database).
    ///
    /// PostgreSQL: several instances may start at once; sqlx's migrator holds a `pg_advisory_lock` on the
    /// database while it migrates (through `Any` too: `AnyConnection` hands `lock()` to `PgConnection`).
    pub async fn connect(url: &str, pool: &PoolSettings) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url),
            Backend::Postgres => url.to_string(),
        };
        let options: AnyConnectOptions =
            url.parse().map_err(|e: sqlx::Error| StoreError::Backend(format!("invalid database URL: {e}")))?;

        let mut pool_options = AnyPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .min_connections(pool.min_connections.min(pool.max_connections.max(1)))
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(pool.idle_timeout);
        if backend == Backend::Sqlite {
            if is_memory_sqlite(&url) {
                pool_options = pool_options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
            } else {
                enable_wal(&options).await?;
            }
            pool_options = pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options.connect_with(options).await.map_err(db_err)?;
        let store = SqlStore { pool, backend, sealer: super::seal::Sealer::default() };
        store.migrate().await?;
        Ok(store)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migrator = Migrator::new(EmbeddedMigrations)
            .await
            .map_err(|e| StoreError::Backend(format!("loading migrations: {e}")))?;
        // sqlx's SQLite migrator takes no lock: two processes starting on one file at once may both try to
        // apply a migration, and the loser fails. Its transaction rolled back, so running again sees the
        // winner's work and does nothing.
        let attempts = if self.backend == Backend::Sqlite { 5 } else { 1 };
        let mut attempt = 1;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt >= attempts => {
                    return Err(StoreError::Backend(format!("migrating the database: {e}")));
                }
                Err(_) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Switches a SQLite file to WAL, once, on a connection of its own: the switch needs an exclusive lock that
/// the busy timeout does not wait for, so racing pool connections could fail it. Already-WAL files are left
/// alone, and a concurrent switch by another process is retried.
async fn enable_wal(options: &AnyConnectOptions) -> StoreResult<()> {
    let mut conn = AnyConnection::connect_with(options).await.map_err(db_err)?;
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let outcome = match sqlx::query_scalar::<_, String>("PRAGMA journal_mode").fetch_one(&mut conn).await {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => Ok(()),
            Ok(_) => {
                sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL").fetch_one(&mut conn).await.map(|_| ())
            }
            Err(e) => Err(e),
        };
        match outcome {
            Err(e) if is_sqlite_busy(&e) && attempt < 50 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => break other.map_err(db_err),
        }
    };
    let _ = conn.close().await;
    result
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED`, with any extended code.
fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    let code = match e {
        sqlx::Error::Database(d) => d.code().and_then(|c| c.parse::<i32>().ok()),
        _ => None,
    };
    matches!(code.map(|c| c & 0xff), Some(5 | 6))
}

// ---------------------------------------------------------------- errors and rows

/// Fields named by uniqueness conflicts, looked up in the index name (PostgreSQL) or in the message's
/// `table.column` list (SQLite). Order matters: the first needle found wins.
const CONFLICT_FIELDS: &[(&str, &str)] = &[
    ("username_norm", "username"),
    ("email_norm", "email"),
    ("phone_norm", "phone"),
    ("identities", "identity"),
    ("app_connections", "association"),
    ("connections", "identifier"),
    ("apps", "client_id"),
    ("signing_keys", "kid"),
    ("users", "id"),
    ("login_tx", "id"),
    ("auth_codes", "code"),
    ("refresh_tokens", "token"),
    ("sessions", "session"),
    ("audit_events", "id"),
];

fn conflict_field(constraint: Option<&str>, message: &str) -> String {
    let haystack = format!("{} {}", constraint.unwrap_or_default(), message).to_ascii_lowercase();
    CONFLICT_FIELDS.iter().find(|(needle, _)| haystack.contains(needle)).map_or("key", |(_, field)| field).to_string()
}

fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) => match d.kind() {
            ErrorKind::UniqueViolation => StoreError::Conflict(conflict_field(d.constraint(), d.message())),
            ErrorKind::ForeignKeyViolation => StoreError::NotFound,
            _ => StoreError::Backend(match d.code() {
                Some(code) => format!("{} ({code})", d.message()),
                None => d.message().to_string(),
            }),
        },
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut => StoreError::Backend("timed out waiting for a database connection".into()),
        other => StoreError::Backend(other.to_string()),
    }
}

fn col<'r, T>(row: &'r AnyRow, name: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name).map_err(db_err)
}

fn json_col(row: &AnyRow, name: &str) -> StoreResult<Value> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Backend(format!("stored {name} is not valid JSON: {e}")))
}

fn strings_col(row: &AnyRow, name: &str) -> StoreResult<Vec<String>> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Backend(format!("stored {name} is not a JSON string list: {e}")))
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

/// A normalised unique field; empty normalises to NULL so that blank values never collide.
fn norm(value: Option<&str>, normalize: fn(&str) -> String) -> Option<String> {
    value.map(normalize).filter(|v| !v.is_empty())
}

/// Password sign-in accepts a phone number only when the login looks like one, so that a username containing
/// digits is not taken for somebody's phone.
fn login_as_phone(login: &str) -> Option<String> {
    let phone_like = login.trim().chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if phone_like { norm(Some(login), normalize_phone) } else { None }
}

fn limit_plus_one(limit: u32) -> i64 {
    i64::from(limit.max(1)) + 1
}

/// Turns `limit + 1` fetched rows into a page: the extra row only says there is more.
fn paginate<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit.max(1) as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(key) } else { None };
    Page { items, next }
}

macro_rules! signing_key_cols {
    () => {
        "kid, alg, private_pem, public_jwk, created_at, retired_at"
    };
}
macro_rules! app_cols {
    () => {
        "client_id, name, kind, client_secret_hash, redirect_uris, post_logout_redirect_uris, created_at, updated_at"
    };
}
macro_rules! connection_cols {
    () => {
        "identifier, kind, display_name, login_only, association, settings, secrets, state, created_at, updated_at"
    };
}
macro_rules! user_cols {
    () => {
        "id, username, email, phone, name, picture, password_hash, claims, created_at, updated_at"
    };
}
macro_rules! identity_cols {
    () => {
        "upstream, subject, user_id, connection, profile, created_at, updated_at"
    };
}
macro_rules! login_tx_cols {
    () => {
        "id, browser_hash, client_id, redirect_uri, scope, state, nonce, code_challenge, code_challenge_method, \
         response_mode, prompt, max_age, ui_locales, connection, data, created_at, expires_at"
    };
}
macro_rules! auth_code_cols {
    () => {
        "code_hash, grant_id, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
         code_challenge_method, session_id, auth_time, amr, created_at, expires_at"
    };
}
macro_rules! refresh_token_cols {
    () => {
        "token_hash, grant_id, client_id, user_id, scope, session_id, auth_time, amr, created_at, expires_at"
    };
}
macro_rules! session_cols {
    () => {
        "id_hash, user_id, auth_time, amr, created_at, expires_at"
    };
}
macro_rules! corp_cols {
    () => {
        "connection, corp_id, corp_name, agent_id, permanent_code, status, created_at, updated_at"
    };
}
macro_rules! audit_cols {
    () => {
        "id, occurred_at, event, client_id, connection, user_id, upstream_subject, reason"
    };
}

/// A refresh token counts only while its grant is not revoked (a token stored while the grant was being
/// revoked must not survive it).
macro_rules! grant_live {
    ($now:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM revoked_grants g WHERE g.grant_id = refresh_tokens.grant_id AND g.expires_at > ",
            $now,
            ")"
        )
    };
}

fn signing_key_from_row(row: &AnyRow, sealer: &super::seal::Sealer) -> StoreResult<SigningKey> {
    Ok(SigningKey {
        kid: col(row, "kid")?,
        alg: col(row, "alg")?,
        private_pem: sealer.open(col(row, "private_pem")?)?,
        public_jwk: json_col(row, "public_jwk")?,
        created_at: col(row, "created_at")?,
        retired_at: col(row, "retired_at")?,
    })
}

fn app_from_row(row: &AnyRow) -> StoreResult<App> {
    let kind: String = col(row, "kind")?;
    Ok(App {
        client_id: col(row, "client_id")?,
        name: col(row, "name")?,
        kind: AppKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("unknown app kind {kind:?}")))?,
        client_secret_hash: col(row, "client_secret_hash")?,
        redirect_uris: strings_col(row, "redirect_uris")?,
        post_logout_redirect_uris: strings_col(row, "post_logout_redirect_uris")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn connection_from_row(row: &AnyRow, sealer: &super::seal::Sealer) -> StoreResult<Connection> {
    Ok(Connection {
        identifier: col(row, "identifier")?,
        kind: col(row, "kind")?,
        display_name: col(row, "display_name")?,
        login_only: col::<i64>(row, "login_only")? != 0,
        association: json_col(row, "association")?,
        settings: json_col(row, "settings")?,
        secrets: serde_json::from_str(&sealer.open(col(row, "secrets")?)?)
            .map_err(|e| StoreError::Backend(format!("stored secrets are not valid JSON: {e}")))?,
        state: json_col(row, "state")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: col(row, "id")?,
        username: col(row, "username")?,
        email: col(row, "email")?,
        phone: col(row, "phone")?,
        name: col(row, "name")?,
        picture: col(row, "picture")?,
        password_hash: col(row, "password_hash")?,
        claims: json_col(row, "claims")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn identity_from_row(row: &AnyRow) -> StoreResult<Identity> {
    Ok(Identity {
        upstream: col(row, "upstream")?,
        subject: col(row, "subject")?,
        user_id: col(row, "user_id")?,
        connection: col(row, "connection")?,
        profile: json_col(row, "profile")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn login_tx_from_row(row: &AnyRow) -> StoreResult<LoginTx> {
    Ok(LoginTx {
        id: col(row, "id")?,
        browser_hash: col(row, "browser_hash")?,
        client_id: col(row, "client_id")?,
        redirect_uri: col(row, "redirect_uri")?,
        scope: col(row, "scope")?,
        state: col(row, "state")?,
        nonce: col(row, "nonce")?,
        code_challenge: col(row, "code_challenge")?,
        code_challenge_method: col(row, "code_challenge_method")?,
        response_mode: col(row, "response_mode")?,
        prompt: col(row, "prompt")?,
        max_age: col(row, "max_age")?,
        ui_locales: col(row, "ui_locales")?,
        connection: col(row, "connection")?,
        data: json_col(row, "data")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn auth_code_from_row(row: &AnyRow) -> StoreResult<AuthCode> {
    Ok(AuthCode {
        code_hash: col(row, "code_hash")?,
        grant_id: col(row, "grant_id")?,
        client_id: col(row, "client_id")?,
        user_id: col(row, "user_id")?,
        redirect_uri: col(row, "redirect_uri")?,
        scope: col(row, "scope")?,
        nonce: col(row, "nonce")?,
        code_challenge: col(row, "code_challenge")?,
        code_challenge_method: col(row, "code_challenge_method")?,
        session_id: col(row, "session_id")?,
        auth_time: col(row, "auth_time")?,
        amr: col(row, "amr")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn refresh_token_from_row(row: &AnyRow) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: col(row, "token_hash")?,
        grant_id: col(row, "grant_id")?,
        client_id: col(row, "client_id")?,
        user_id: col(row, "user_id")?,
        scope: col(row, "scope")?,
        session_id: col(row, "session_id")?,
        auth_time: col(row, "auth_time")?,
        amr: col(row, "amr")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn session_from_row(row: &AnyRow) -> StoreResult<Session> {
    Ok(Session {
        id_hash: col(row, "id_hash")?,
        user_id: col(row, "user_id")?,
        auth_time: col(row, "auth_time")?,
        amr: col(row, "amr")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn corp_from_row(row: &AnyRow, sealer: &super::seal::Sealer) -> StoreResult<AuthorizedCorp> {
    Ok(AuthorizedCorp {
        connection: col(row, "connection")?,
        corp_id: col(row, "corp_id")?,
        corp_name: col(row, "corp_name")?,
        agent_id: col(row, "agent_id")?,
        permanent_code: col::<Option<String>>(row, "permanent_code")?.map(|c| sealer.open(c)).transpose()?,
        status: col(row, "status")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn audit_from_row(row: &AnyRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: col(row, "id")?,
        at: col(row, "occurred_at")?,
        event: col(row, "event")?,
        client_id: col(row, "client_id")?,
        connection: col(row, "connection")?,
        user_id: col(row, "user_id")?,
        upstream_subject: col(row, "upstream_subject")?,
        reason: col(row, "reason")?,
    })
}

/// The unique slot of an algorithm's active key: `active` for RS256 (as the first schema had it).
fn active_slot(alg: &str) -> String {
    if alg == "RS256" { "active".to_string() } else { format!("active:{alg}") }
}

/// A new audit event id: microseconds since the epoch times 1024 plus a random part, and strictly above the
/// last id this process made, so one instance's events are in order and all instances' roughly so. Fits an
/// i64 until the year 2255.
fn audit_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX >> 10))
        .unwrap_or(0);
    let candidate = (micros << 10) | i64::from(rand::random::<u16>() & 0x3ff);
    let previous = LAST.fetch_max(candidate, Ordering::Relaxed);
    if previous >= candidate { LAST.fetch_add(1, Ordering::Relaxed) + 1 } else { candidate }
}

fn failures_from_row(row: &AnyRow) -> StoreResult<LoginFailures> {
    let failures: i64 = col(row, "failures")?;
    Ok(LoginFailures { failures: u32::try_from(failures).unwrap_or(u32::MAX), expires_at: col(row, "expires_at")? })
}

fn one<T>(rows: Vec<AnyRow>, map: impl Fn(&AnyRow) -> StoreResult<T>) -> StoreResult<Option<T>> {
    rows.first().map(map).transpose()
}

fn all<T>(rows: Vec<AnyRow>, map: impl Fn(&AnyRow) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(map).collect()
}

// ---------------------------------------------------------------- statements shared by several methods

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

const INSERT_USER: &str = concat!(
    "INSERT INTO users (id, username, username_norm, email, email_norm, phone, phone_norm, name, picture, ",
    "password_hash, claims, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
);

const INSERT_IDENTITY: &str =
    concat!("INSERT INTO identities (", identity_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");

fn bind_new_user<'q>(query: Query<'q>, user: &'q NewUser, claims: String) -> Query<'q> {
    query
        .bind(user.id.as_str())
        .bind(user.username.as_deref())
        .bind(norm(user.username.as_deref(), normalize_username))
        .bind(user.email.as_deref())
        .bind(norm(user.email.as_deref(), normalize_email))
        .bind(user.phone.as_deref())
        .bind(norm(user.phone.as_deref(), normalize_phone))
        .bind(user.name.as_deref())
        .bind(user.picture.as_deref())
        .bind(user.password_hash.as_deref())
        .bind(claims)
        .bind(user.created_at)
}

fn user_of(new: NewUser) -> User {
    User {
        id: new.id,
        username: new.username,
        email: new.email,
        phone: new.phone,
        name: new.name,
        picture: new.picture,
        password_hash: new.password_hash,
        claims: new.claims,
        created_at: new.created_at,
        updated_at: new.created_at,
    }
}

impl SqlStore {
    async fn fetch(&self, query: Query<'_>) -> StoreResult<Vec<AnyRow>> {
        // `fetch_all` even for single rows: a `RETURNING` statement is only complete (and, in SQLite's
        // autocommit, committed) once stepped to the end.
        query.fetch_all(&self.pool).await.map_err(db_err)
    }

    async fn exec(&self, query: Query<'_>) -> StoreResult<u64> {
        Ok(query.execute(&self.pool).await.map_err(db_err)?.rows_affected())
    }
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        self.exec(sqlx::query("SELECT 1")).await.map(|_| ())
    }

    // --- signing keys

    async fn ensure_active_signing_key(&self, candidate: SigningKey) -> StoreResult<SigningKey> {
        let jwk = to_json(&candidate.public_jwk)?;
        // Whoever inserts first owns the algorithm's slot ('active' for RS256, 'active:<alg>' for others);
        // everyone else's insert does nothing.
        let slot = active_slot(&candidate.alg);
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO signing_keys (",
                signing_key_cols!(),
                ", slot) VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (slot) DO NOTHING"
            ))
            .bind(candidate.kid.as_str())
            .bind(candidate.alg.as_str())
            .bind(self.sealer.seal(&candidate.private_pem)?)
            .bind(jwk)
            .bind(candidate.created_at)
            .bind(slot.as_str()),
        )
        .await?;
        let rows = self
            .fetch(
                sqlx::query(concat!("SELECT ", signing_key_cols!(), " FROM signing_keys WHERE slot = $1"))
                    .bind(slot.as_str()),
            )
            .await?;
        one(rows, |r| signing_key_from_row(r, &self.sealer))?
            .ok_or_else(|| StoreError::Backend("no active signing key after insert".into()))
    }

    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let rows = self
            .fetch(sqlx::query(concat!(
                "SELECT ",
                signing_key_cols!(),
                " FROM signing_keys ORDER BY CASE WHEN slot IS NOT NULL THEN 0 ELSE 1 END, created_at DESC, kid DESC"
            )))
            .await?;
        all(rows, |r| signing_key_from_row(r, &self.sealer))
    }

    // --- apps

    async fn create_app(&self, app: App) -> StoreResult<App> {
        self.exec(
            sqlx::query(concat!("INSERT INTO apps (", app_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
                .bind(app.client_id.as_str())
                .bind(app.name.as_str())
                .bind(app.kind.as_str())
                .bind(app.client_secret_hash.as_deref())
                .bind(to_json(&app.redirect_uris)?)
                .bind(to_json(&app.post_logout_redirect_uris)?)
                .bind(app.created_at)
                .bind(app.updated_at),
        )
        .await?;
        Ok(app)
    }

    async fn get_app(&self, client_id: &str) -> StoreResult<Option<App>> {
        let rows = self
            .fetch(sqlx::query(concat!("SELECT ", app_cols!(), " FROM apps WHERE client_id = $1")).bind(client_id))
            .await?;
        one(rows, app_from_row)
    }

    async fn list_apps(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<App>> {
        let query = match cursor {
            None => sqlx::query(concat!("SELECT ", app_cols!(), " FROM apps ORDER BY client_id LIMIT $1"))
                .bind(limit_plus_one(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                app_cols!(),
                " FROM apps WHERE client_id > $1 ORDER BY client_id LIMIT $2"
            ))
            .bind(after)
            .bind(limit_plus_one(limit)),
        };
        let items = all(self.fetch(query).await?, app_from_row)?;
        Ok(paginate(items, limit, |app| app.client_id.clone()))
    }

    async fn update_app(&self, client_id: &str, update: AppUpdate, now: Timestamp) -> StoreResult<App> {
        let redirect_uris = update.redirect_uris.as_ref().map(to_json).transpose()?;
        let post_logout = update.post_logout_redirect_uris.as_ref().map(to_json).transpose()?;
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "UPDATE apps SET name = COALESCE($2, name), redirect_uris = COALESCE($3, redirect_uris), ",
                    "post_logout_redirect_uris = COALESCE($4, post_logout_redirect_uris), ",
                    "client_secret_hash = COALESCE($5, client_secret_hash), updated_at = $6 ",
                    "WHERE client_id = $1 RETURNING ",
                    app_cols!()
                ))
                .bind(client_id)
                .bind(update.name)
                .bind(redirect_uris)
                .bind(post_logout)
                .bind(update.client_secret_hash)
                .bind(now),
            )
            .await?;
        one(rows, app_from_row)?.ok_or(StoreError::NotFound)
    }

    async fn delete_app(&self, client_id: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query("DELETE FROM apps WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        // The foreign key cascades too; saying it here keeps the rule visible.
        sqlx::query("DELETE FROM app_connections WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn associate(&self, client_id: &str, identifier: &str) -> StoreResult<()> {
        // A missing app or connection fails the foreign key: NotFound.
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO app_connections (client_id, identifier, ord) ",
                "SELECT $1, $2, COALESCE(MAX(ord), 0) + 1 FROM app_connections WHERE client_id = $1 ",
                "ON CONFLICT (client_id, identifier) DO NOTHING"
            ))
            .bind(client_id)
            .bind(identifier),
        )
        .await
        .map(|_| ())
    }

    async fn dissociate(&self, client_id: &str, identifier: &str) -> StoreResult<()> {
        let deleted = self
            .exec(
                sqlx::query("DELETE FROM app_connections WHERE client_id = $1 AND identifier = $2")
                    .bind(client_id)
                    .bind(identifier),
            )
            .await?;
        if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn app_connections(&self, client_id: &str) -> StoreResult<Vec<Connection>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    connection_cols!(),
                    " FROM connections JOIN (SELECT identifier AS linked, ord FROM app_connections WHERE client_id = $1) a ",
                    "ON a.linked = connections.identifier ORDER BY a.ord, connections.identifier"
                ))
                .bind(client_id),
            )
            .await?;
        all(rows, |r| connection_from_row(r, &self.sealer))
    }

    async fn connection_apps(&self, identifier: &str) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch(
                sqlx::query("SELECT client_id FROM app_connections WHERE identifier = $1 ORDER BY client_id")
                    .bind(identifier),
            )
            .await?;
        rows.iter().map(|row| col(row, "client_id")).collect()
    }

    // --- connections

    async fn create_connection(&self, connection: Connection) -> StoreResult<Connection> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO connections (",
                connection_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(connection.identifier.as_str())
            .bind(connection.kind.as_str())
            .bind(connection.display_name.as_str())
            .bind(i64::from(connection.login_only))
            .bind(to_json(&connection.association)?)
            .bind(to_json(&connection.settings)?)
            .bind(self.sealer.seal(&to_json(&connection.secrets)?)?)
            .bind(to_json(&connection.state)?)
            .bind(connection.created_at)
            .bind(connection.updated_at),
        )
        .await?;
        Ok(connection)
    }

    async fn get_connection(&self, identifier: &str) -> StoreResult<Option<Connection>> {
        let rows = self
            .fetch(
                sqlx::query(concat!("SELECT ", connection_cols!(), " FROM connections WHERE identifier = $1"))
                    .bind(identifier),
            )
            .await?;
        one(rows, |r| connection_from_row(r, &self.sealer))
    }

    async fn list_connections(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Connection>> {
        let query = match cursor {
            None => {
                sqlx::query(concat!("SELECT ", connection_cols!(), " FROM connections ORDER BY identifier LIMIT $1"))
                    .bind(limit_plus_one(limit))
            }
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                connection_cols!(),
                " FROM connections WHERE identifier > $1 ORDER BY identifier LIMIT $2"
            ))
            .bind(after)
            .bind(limit_plus_one(limit)),
        };
        let items = all(self.fetch(query).await?, |r| connection_from_row(r, &self.sealer))?;
        Ok(paginate(items, limit, |c| c.identifier.clone()))
    }

    async fn update_connection(&self, connection: Connection) -> StoreResult<Connection> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "UPDATE connections SET display_name = $2, login_only = $3, association = $4, settings = $5, ",
                    "secrets = $6, updated_at = $7 WHERE identifier = $1 RETURNING ",
                    connection_cols!()
                ))
                .bind(connection.identifier.as_str())
                .bind(connection.display_name.as_str())
                .bind(i64::from(connection.login_only))
                .bind(to_json(&connection.association)?)
                .bind(to_json(&connection.settings)?)
                .bind(self.sealer.seal(&to_json(&connection.secrets)?)?)
                .bind(connection.updated_at),
            )
            .await?;
        one(rows, |r| connection_from_row(r, &self.sealer))?.ok_or(StoreError::NotFound)
    }

    async fn merge_connection_state(&self, identifier: &str, patch: Value, now: Timestamp) -> StoreResult<()> {
        let Value::Object(patch) = patch else {
            return Err(StoreError::Backend("connection state patch must be a JSON object".into()));
        };
        // Compare-and-swap on the stored text: portable, and no lock is held while merging. A lost race
        // re-reads and merges again.
        for _ in 0..32 {
            let rows =
                self.fetch(sqlx::query("SELECT state FROM connections WHERE identifier = $1").bind(identifier)).await?;
            let Some(row) = rows.first() else {
                return Err(StoreError::NotFound);
            };
            let current: String = col(row, "state")?;
            let mut state = match serde_json::from_str::<Value>(&current) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            for (key, value) in &patch {
                state.insert(key.clone(), value.clone());
            }
            let swapped = self
                .exec(
                    sqlx::query(
                        "UPDATE connections SET state = $2, updated_at = $3 WHERE identifier = $1 AND state = $4",
                    )
                    .bind(identifier)
                    .bind(to_json(&state)?)
                    .bind(now)
                    .bind(current),
                )
                .await?;
            if swapped == 1 {
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
        Err(StoreError::Backend("connection state kept changing during merge".into()))
    }

    async fn delete_connection(&self, identifier: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query("DELETE FROM connections WHERE identifier = $1")
            .bind(identifier)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        for statement in
            ["DELETE FROM app_connections WHERE identifier = $1", "DELETE FROM authorized_corps WHERE connection = $1"]
        {
            sqlx::query(statement).bind(identifier).execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    // --- users and identities

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let claims = to_json(&user.claims)?;
        self.exec(bind_new_user(sqlx::query(INSERT_USER), &user, claims)).await?;
        Ok(user_of(user))
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let rows =
            self.fetch(sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1")).bind(id)).await?;
        one(rows, user_from_row)
    }

    async fn list_users(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<User>> {
        let query = match cursor {
            None => sqlx::query(concat!("SELECT ", user_cols!(), " FROM users ORDER BY id LIMIT $1"))
                .bind(limit_plus_one(limit)),
            Some(after) => {
                sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id > $1 ORDER BY id LIMIT $2"))
                    .bind(after)
                    .bind(limit_plus_one(limit))
            }
        };
        let items = all(self.fetch(query).await?, user_from_row)?;
        Ok(paginate(items, limit, |user| user.id.clone()))
    }

    async fn delete_user(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        // Unused codes go too: they would otherwise issue tokens for nobody.
        for statement in [
            "DELETE FROM identities WHERE user_id = $1",
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM refresh_tokens WHERE user_id = $1",
            "DELETE FROM auth_codes WHERE user_id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn find_user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let username = norm(Some(login), normalize_username);
        if username.is_none() {
            return Ok(None);
        }
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE username_norm = $1 OR email_norm = $2 OR phone_norm = $3 ",
                    "ORDER BY CASE WHEN username_norm = $1 THEN 0 WHEN email_norm = $2 THEN 1 ELSE 2 END, id LIMIT 1"
                ))
                .bind(username)
                .bind(norm(Some(login), normalize_email))
                .bind(login_as_phone(login)),
            )
            .await?;
        one(rows, user_from_row)
    }

    async fn find_users_matching(&self, query: &MatchQuery) -> StoreResult<Vec<User>> {
        let email = norm(query.email.as_deref(), normalize_email);
        let phone = norm(query.phone.as_deref(), normalize_phone);
        let username = norm(query.username.as_deref(), normalize_username);
        if email.is_none() && phone.is_none() && username.is_none() {
            return Ok(Vec::new());
        }
        // `column = NULL` is never true: an absent field matches nothing.
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE email_norm = $1 OR phone_norm = $2 OR username_norm = $3 ORDER BY id"
                ))
                .bind(email)
                .bind(phone)
                .bind(username),
            )
            .await?;
        all(rows, user_from_row)
    }

    async fn update_user_profile(&self, id: &str, update: ProfileUpdate, now: Timestamp) -> StoreResult<User> {
        let claims = update.claims.as_ref().map(to_json).transpose()?;
        let email_norm = norm(update.email.as_deref(), normalize_email);
        let phone_norm = norm(update.phone.as_deref(), normalize_phone);
        // One statement; an email or phone that another user holds is left as it was. The NOT EXISTS guards
        // cannot see a concurrent uncommitted write, whose unique violation then surfaces as a conflict: run
        // again, and the guard sees it.
        for _ in 0..3 {
            let result = self
                .fetch(
                    sqlx::query(concat!(
                        "UPDATE users SET name = COALESCE($2, name), picture = COALESCE($3, picture), ",
                        "claims = COALESCE($4, claims), updated_at = $5, ",
                        "email = CASE WHEN $6 = 1 AND ($8 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.email_norm = $8 AND o.id <> $1)) THEN $7 ELSE email END, ",
                        "email_norm = CASE WHEN $6 = 1 AND ($8 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.email_norm = $8 AND o.id <> $1)) THEN $8 ELSE email_norm END, ",
                        "phone = CASE WHEN $9 = 1 AND ($11 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.phone_norm = $11 AND o.id <> $1)) THEN $10 ELSE phone END, ",
                        "phone_norm = CASE WHEN $9 = 1 AND ($11 IS NULL OR NOT EXISTS ",
                        "(SELECT 1 FROM users o WHERE o.phone_norm = $11 AND o.id <> $1)) THEN $11 ELSE phone_norm END ",
                        "WHERE id = $1 RETURNING ",
                        user_cols!()
                    ))
                    .bind(id)
                    .bind(update.name.as_deref())
                    .bind(update.picture.as_deref())
                    .bind(claims.as_deref())
                    .bind(now)
                    .bind(i64::from(update.email.is_some()))
                    .bind(update.email.as_deref())
                    .bind(email_norm.as_deref())
                    .bind(i64::from(update.phone.is_some()))
                    .bind(update.phone.as_deref())
                    .bind(phone_norm.as_deref()),
                )
                .await;
            match result {
                Ok(rows) => return one(rows, user_from_row)?.ok_or(StoreError::NotFound),
                Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Backend("profile update kept conflicting with concurrent writes".into()))
    }

    async fn get_identity(&self, upstream: &str, subject: &str) -> StoreResult<Option<Identity>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    identity_cols!(),
                    " FROM identities WHERE upstream = $1 AND subject = $2"
                ))
                .bind(upstream)
                .bind(subject),
            )
            .await?;
        one(rows, identity_from_row)
    }

    async fn user_identities(&self, user_id: &str) -> StoreResult<Vec<Identity>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    identity_cols!(),
                    " FROM identities WHERE user_id = $1 ORDER BY created_at, upstream, subject"
                ))
                .bind(user_id),
            )
            .await?;
        all(rows, identity_from_row)
    }

    async fn create_user_with_identity(&self, user: NewUser, identity: Identity) -> StoreResult<User> {
        let claims = to_json(&user.claims)?;
        let profile = to_json(&identity.profile)?;
        // The user insert comes first: a SQLite transaction that starts by writing never needs an upgrade.
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        bind_new_user(sqlx::query(INSERT_USER), &user, claims).execute(&mut *tx).await.map_err(db_err)?;
        sqlx::query(INSERT_IDENTITY)
            .bind(identity.upstream.as_str())
            .bind(identity.subject.as_str())
            .bind(user.id.as_str())
            .bind(identity.connection.as_str())
            .bind(profile)
            .bind(identity.created_at)
            .bind(identity.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(user_of(user))
    }

    async fn link_identity(&self, identity: Identity) -> StoreResult<()> {
        // Unknown user: foreign key → NotFound; identity taken: primary key → Conflict("identity").
        self.exec(
            sqlx::query(INSERT_IDENTITY)
                .bind(identity.upstream.as_str())
                .bind(identity.subject.as_str())
                .bind(identity.user_id.as_str())
                .bind(identity.connection.as_str())
                .bind(to_json(&identity.profile)?)
                .bind(identity.created_at)
                .bind(identity.updated_at),
        )
        .await
        .map(|_| ())
    }

    async fn touch_identity(
        &self,
        upstream: &str,
        subject: &str,
        connection: &str,
        profile: Value,
        now: Timestamp,
    ) -> StoreResult<()> {
        let updated = self
            .exec(
                sqlx::query(
                    "UPDATE identities SET connection = $3, profile = $4, updated_at = $5 WHERE upstream = $1 AND subject = $2",
                )
                .bind(upstream)
                .bind(subject)
                .bind(connection)
                .bind(to_json(&profile)?)
                .bind(now),
            )
            .await?;
        if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    // --- login transactions

    async fn put_login_tx(&self, tx: LoginTx) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO login_tx (",
                login_tx_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ",
                "ON CONFLICT (id) DO UPDATE SET browser_hash = excluded.browser_hash, client_id = excluded.client_id, ",
                "redirect_uri = excluded.redirect_uri, scope = excluded.scope, state = excluded.state, ",
                "nonce = excluded.nonce, code_challenge = excluded.code_challenge, ",
                "code_challenge_method = excluded.code_challenge_method, response_mode = excluded.response_mode, ",
                "prompt = excluded.prompt, max_age = excluded.max_age, ui_locales = excluded.ui_locales, ",
                "connection = excluded.connection, data = excluded.data, created_at = excluded.created_at, ",
                "expires_at = excluded.expires_at"
            ))
            .bind(tx.id.as_str())
            .bind(tx.browser_hash.as_str())
            .bind(tx.client_id.as_str())
            .bind(tx.redirect_uri.as_str())
            .bind(tx.scope.as_str())
            .bind(tx.state.as_deref())
            .bind(tx.nonce.as_deref())
            .bind(tx.code_challenge.as_deref())
            .bind(tx.code_challenge_method.as_deref())
            .bind(tx.response_mode.as_deref())
            .bind(tx.prompt.as_deref())
            .bind(tx.max_age)
            .bind(tx.ui_locales.as_deref())
            .bind(tx.connection.as_deref())
            .bind(to_json(&tx.data)?)
            .bind(tx.created_at)
            .bind(tx.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>> {
        let rows = self
            .fetch(
                sqlx::query(concat!("SELECT ", login_tx_cols!(), " FROM login_tx WHERE id = $1 AND expires_at > $2"))
                    .bind(id)
                    .bind(now),
            )
            .await?;
        one(rows, login_tx_from_row)
    }

    async fn take_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>> {
        // One DELETE: of any number of concurrent takes, exactly one gets the row back.
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "DELETE FROM login_tx WHERE id = $1 AND expires_at > $2 RETURNING ",
                    login_tx_cols!()
                ))
                .bind(id)
                .bind(now),
            )
            .await?;
        one(rows, login_tx_from_row)
    }

    async fn update_login_tx(&self, tx: &LoginTx) -> StoreResult<()> {
        let updated = self
            .exec(
                sqlx::query("UPDATE login_tx SET connection = $2, data = $3, expires_at = $4 WHERE id = $1")
                    .bind(tx.id.as_str())
                    .bind(tx.connection.as_deref())
                    .bind(to_json(&tx.data)?)
                    .bind(tx.expires_at),
            )
            .await?;
        if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    // --- authorization codes, refresh tokens, grants, sessions

    async fn put_auth_code(&self, code: AuthCode) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO auth_codes (",
                auth_code_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ))
            .bind(code.code_hash.as_str())
            .bind(code.grant_id.as_str())
            .bind(code.client_id.as_str())
            .bind(code.user_id.as_str())
            .bind(code.redirect_uri.as_str())
            .bind(code.scope.as_str())
            .bind(code.nonce.as_deref())
            .bind(code.code_challenge.as_deref())
            .bind(code.code_challenge_method.as_deref())
            .bind(code.session_id.as_deref())
            .bind(code.auth_time)
            .bind(code.amr.as_str())
            .bind(code.created_at)
            .bind(code.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn consume_auth_code(&self, code_hash: &str, now: Timestamp) -> StoreResult<Consumed<AuthCode>> {
        // The database lets exactly one UPDATE match `used_at IS NULL`: that caller gets Fresh.
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 ",
                    "RETURNING ",
                    auth_code_cols!()
                ))
                .bind(code_hash)
                .bind(now),
            )
            .await?;
        if let Some(code) = one(rows, auth_code_from_row)? {
            return Ok(Consumed::Fresh(code));
        }
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    auth_code_cols!(),
                    " FROM auth_codes WHERE code_hash = $1 AND used_at IS NOT NULL"
                ))
                .bind(code_hash),
            )
            .await?;
        Ok(one(rows, auth_code_from_row)?.map_or(Consumed::NotFound, Consumed::Replayed))
    }

    async fn put_refresh_token(&self, token: RefreshToken) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO refresh_tokens (",
                refresh_token_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(token.token_hash.as_str())
            .bind(token.grant_id.as_str())
            .bind(token.client_id.as_str())
            .bind(token.user_id.as_str())
            .bind(token.scope.as_str())
            .bind(token.session_id.as_deref())
            .bind(token.auth_time)
            .bind(token.amr.as_str())
            .bind(token.created_at)
            .bind(token.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn consume_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Consumed<RefreshToken>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 ",
                    "AND ",
                    grant_live!("$2"),
                    " RETURNING ",
                    refresh_token_cols!()
                ))
                .bind(token_hash)
                .bind(now),
            )
            .await?;
        if let Some(token) = one(rows, refresh_token_from_row)? {
            return Ok(Consumed::Fresh(token));
        }
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    refresh_token_cols!(),
                    " FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL AND ",
                    grant_live!("$2")
                ))
                .bind(token_hash)
                .bind(now),
            )
            .await?;
        Ok(one(rows, refresh_token_from_row)?.map_or(Consumed::NotFound, Consumed::Replayed))
    }

    async fn get_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RefreshToken>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    refresh_token_cols!(),
                    " FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND ",
                    grant_live!("$2")
                ))
                .bind(token_hash)
                .bind(now),
            )
            .await?;
        one(rows, refresh_token_from_row)
    }

    async fn revoke_grant(&self, grant_id: &str, now: Timestamp, expires_at: Timestamp) -> StoreResult<()> {
        // Revocation first, deletion second: a token stored in between is caught by the revocation check.
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO revoked_grants (grant_id, revoked_at, expires_at) VALUES ($1, $2, $3) ",
                "ON CONFLICT (grant_id) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > revoked_grants.expires_at ",
                "THEN excluded.expires_at ELSE revoked_grants.expires_at END"
            ))
            .bind(grant_id)
            .bind(now)
            .bind(expires_at),
        )
        .await?;
        self.exec(sqlx::query("DELETE FROM refresh_tokens WHERE grant_id = $1").bind(grant_id)).await.map(|_| ())
    }

    async fn is_grant_revoked(&self, grant_id: &str) -> StoreResult<bool> {
        // No clock here: a revocation answers true until the sweep removes it, which is after `expires_at`.
        let rows =
            self.fetch(sqlx::query("SELECT grant_id FROM revoked_grants WHERE grant_id = $1").bind(grant_id)).await?;
        Ok(!rows.is_empty())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ",
                "ON CONFLICT (jti) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > revoked_access_tokens.expires_at ",
                "THEN excluded.expires_at ELSE revoked_access_tokens.expires_at END"
            ))
            .bind(jti)
            .bind(expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let rows = self.fetch(sqlx::query("SELECT jti FROM revoked_access_tokens WHERE jti = $1").bind(jti)).await?;
        Ok(!rows.is_empty())
    }

    async fn put_session(&self, session: Session) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO sessions (",
                session_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6) ",
                "ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, auth_time = excluded.auth_time, ",
                "amr = excluded.amr, created_at = excluded.created_at, expires_at = excluded.expires_at"
            ))
            .bind(session.id_hash.as_str())
            .bind(session.user_id.as_str())
            .bind(session.auth_time)
            .bind(session.amr.as_str())
            .bind(session.created_at)
            .bind(session.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<Session>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    session_cols!(),
                    " FROM sessions WHERE id_hash = $1 AND expires_at > $2"
                ))
                .bind(id_hash)
                .bind(now),
            )
            .await?;
        one(rows, session_from_row)
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        self.exec(sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash)).await.map(|_| ())
    }

    // --- shared upstream token cache

    async fn get_upstream_token(&self, key: &str) -> StoreResult<Option<CachedToken>> {
        let rows = self
            .fetch(sqlx::query("SELECT token, expires_at FROM upstream_tokens WHERE cache_key = $1").bind(key))
            .await?;
        one(rows, |row| Ok(CachedToken { token: col(row, "token")?, expires_at: col(row, "expires_at")? }))
    }

    async fn put_upstream_token(&self, key: &str, token: &CachedToken) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO upstream_tokens (cache_key, token, expires_at) VALUES ($1, $2, $3) ",
                "ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at"
            ))
            .bind(key)
            .bind(token.token.as_str())
            .bind(token.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn invalidate_upstream_token(&self, key: &str, token: &str) -> StoreResult<()> {
        self.exec(sqlx::query("DELETE FROM upstream_tokens WHERE cache_key = $1 AND token = $2").bind(key).bind(token))
            .await
            .map(|_| ())
    }

    async fn try_lease(&self, key: &str, owner: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool> {
        // One upsert: it inserts a free lease, or takes over an expired one or our own; a row comes back only
        // if it wrote, and then the lease is ours.
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "INSERT INTO leases (lease_key, owner, expires_at) VALUES ($1, $2, $4) ",
                    "ON CONFLICT (lease_key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at ",
                    "WHERE leases.expires_at <= $3 OR leases.owner = excluded.owner RETURNING owner"
                ))
                .bind(key)
                .bind(owner)
                .bind(now)
                .bind(until),
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(col::<String>(row, "owner")? == owner),
            None => Ok(false),
        }
    }

    async fn release_lease(&self, key: &str, owner: &str) -> StoreResult<()> {
        self.exec(sqlx::query("DELETE FROM leases WHERE lease_key = $1 AND owner = $2").bind(key).bind(owner))
            .await
            .map(|_| ())
    }

    // --- delegated development / service provider

    async fn put_suite_ticket(&self, ticket: SuiteTicket) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO suite_tickets (suite_id, ticket, received_at) VALUES ($1, $2, $3) ",
                "ON CONFLICT (suite_id) DO UPDATE SET ticket = excluded.ticket, received_at = excluded.received_at ",
                "WHERE excluded.received_at >= suite_tickets.received_at"
            ))
            .bind(ticket.suite_id.as_str())
            .bind(ticket.ticket.as_str())
            .bind(ticket.received_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_suite_ticket(&self, suite_id: &str) -> StoreResult<Option<SuiteTicket>> {
        let rows = self
            .fetch(
                sqlx::query("SELECT suite_id, ticket, received_at FROM suite_tickets WHERE suite_id = $1")
                    .bind(suite_id),
            )
            .await?;
        one(rows, |row| {
            Ok(SuiteTicket {
                suite_id: col(row, "suite_id")?,
                ticket: col(row, "ticket")?,
                received_at: col(row, "received_at")?,
            })
        })
    }

    async fn upsert_authorized_corp(&self, corp: AuthorizedCorp) -> StoreResult<()> {
        self.exec(
            sqlx::query(concat!(
                "INSERT INTO authorized_corps (",
                corp_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ",
                "ON CONFLICT (connection, corp_id) DO UPDATE SET corp_name = excluded.corp_name, ",
                "agent_id = excluded.agent_id, permanent_code = excluded.permanent_code, status = excluded.status, ",
                "updated_at = excluded.updated_at"
            ))
            .bind(corp.connection.as_str())
            .bind(corp.corp_id.as_str())
            .bind(corp.corp_name.as_deref())
            .bind(corp.agent_id)
            .bind(corp.permanent_code.as_deref().map(|c| self.sealer.seal(c)).transpose()?)
            .bind(corp.status.as_str())
            .bind(corp.created_at)
            .bind(corp.updated_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_authorized_corp(&self, connection: &str, corp_id: &str) -> StoreResult<Option<AuthorizedCorp>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    corp_cols!(),
                    " FROM authorized_corps WHERE connection = $1 AND corp_id = $2"
                ))
                .bind(connection)
                .bind(corp_id),
            )
            .await?;
        one(rows, |r| corp_from_row(r, &self.sealer))
    }

    async fn list_authorized_corps(&self, connection: &str) -> StoreResult<Vec<AuthorizedCorp>> {
        let rows = self
            .fetch(
                sqlx::query(concat!(
                    "SELECT ",
                    corp_cols!(),
                    " FROM authorized_corps WHERE connection = $1 ORDER BY corp_id"
                ))
                .bind(connection),
            )
            .await?;
        all(rows, |r| corp_from_row(r, &self.sealer))
    }

    async fn remember_callback(&self, key: &str, expires_at: Timestamp) -> StoreResult<bool> {
        let inserted = self
            .exec(
                sqlx::query(
                    "INSERT INTO callback_keys (callback_key, expires_at) VALUES ($1, $2) ON CONFLICT (callback_key) DO NOTHING",
                )
                .bind(key)
                .bind(expires_at),
            )
            .await?;
        Ok(inserted == 1)
    }

    // --- password lockout

    async fn record_login_failure(&self, login: &str, now: Timestamp, window: i64) -> StoreResult<LoginFailures> {
        // One upsert: a row past its window starts over at 1, otherwise it counts up and keeps its window.
        let rows = self
            .fetch(
                sqlx::query(
                    "INSERT INTO login_failures (login, failures, expires_at) VALUES ($1, 1, $2) \
                     ON CONFLICT (login) DO UPDATE SET \
                     failures = CASE WHEN login_failures.expires_at <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
                     expires_at = CASE WHEN login_failures.expires_at <= $3 THEN excluded.expires_at \
                     ELSE login_failures.expires_at END \
                     RETURNING failures, expires_at",
                )
                .bind(login)
                .bind(now + window)
                .bind(now),
            )
            .await?;
        one(rows, failures_from_row)?.ok_or_else(|| StoreError::Backend("upsert returned no row".into()))
    }

    async fn login_failures(&self, login: &str, now: Timestamp) -> StoreResult<Option<LoginFailures>> {
        let rows = self
            .fetch(
                sqlx::query("SELECT failures, expires_at FROM login_failures WHERE login = $1 AND expires_at > $2")
                    .bind(login)
                    .bind(now),
            )
            .await?;
        one(rows, failures_from_row)
    }

    async fn clear_login_failures(&self, login: &str) -> StoreResult<()> {
        self.exec(sqlx::query("DELETE FROM login_failures WHERE login = $1").bind(login)).await.map(|_| ())
    }

    // --- audit and housekeeping

    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        // Ids are made here (time-ordered, see `audit_id`); two instances picking the same one is a
        // 1-in-1024 chance within one microsecond, and the loser just picks again.
        for _ in 0..5 {
            let inserted = self
                .exec(
                    sqlx::query(concat!(
                        "INSERT INTO audit_events (",
                        audit_cols!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING"
                    ))
                    .bind(audit_id())
                    .bind(event.at)
                    .bind(event.event.as_str())
                    .bind(event.client_id.as_deref())
                    .bind(event.connection.as_deref())
                    .bind(event.user_id.as_deref())
                    .bind(event.upstream_subject.as_deref())
                    .bind(event.reason.as_deref()),
                )
                .await?;
            if inserted == 1 {
                return Ok(());
            }
        }
        Err(StoreError::Backend("no free audit id after 5 tries".into()))
    }

    async fn list_audit(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<AuditEvent>> {
        let query = match cursor {
            None => sqlx::query(concat!("SELECT ", audit_cols!(), " FROM audit_events ORDER BY id DESC LIMIT $1"))
                .bind(limit_plus_one(limit)),
            Some(after) => {
                // A cursor that is not an id we handed out points past the end: an empty page.
                let Ok(after) = after.parse::<i64>() else {
                    return Ok(Page { items: Vec::new(), next: None });
                };
                sqlx::query(concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(after)
                .bind(limit_plus_one(limit))
            }
        };
        let items = all(self.fetch(query).await?, audit_from_row)?;
        Ok(paginate(items, limit, |event| event.id.to_string()))
    }

    async fn sweep_expired(&self, now: Timestamp) -> StoreResult<u64> {
        // Plain idempotent DELETEs: instances sweeping at once just find less to delete.
        const SWEEPS: &[&str] = &[
            "DELETE FROM login_tx WHERE expires_at <= $1",
            "DELETE FROM auth_codes WHERE expires_at <= $1 AND (used_at IS NULL OR expires_at <= $2)",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1 AND (used_at IS NULL OR expires_at <= $2)",
            "DELETE FROM sessions WHERE expires_at <= $1",
            "DELETE FROM revoked_grants WHERE expires_at <= $1",
            "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
            "DELETE FROM leases WHERE expires_at <= $1",
            "DELETE FROM callback_keys WHERE expires_at <= $1",
            "DELETE FROM login_failures WHERE expires_at <= $1",
        ];
        let mut removed = 0;
        for statement in SWEEPS {
            let query = sqlx::query(statement).bind(now);
            // Only the code and token sweeps use $2; binding it elsewhere would be an error on PostgreSQL.
            let query = if statement.contains("$2") { query.bind(now - REPLAY_MEMORY) } else { query };
            removed += self.exec(query).await?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::conformance::{NOW, TestDatabase, on_postgres, on_sqlite};
    use super::*;

    fn code(hash: &str, expires_at: Timestamp) -> AuthCode {
        AuthCode {
            code_hash: hash.into(),
            grant_id: "grant".into(),
            client_id: "app".into(),
            user_id: "user".into(),
            redirect_uri: "https://app.example.com/cb".into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            code_challenge_method: None,
            session_id: None,
            auth_time: NOW,
            amr: "pwd".into(),
            created_at: NOW,
            expires_at,
        }
    }

    /// Used codes and refresh tokens outlive their expiry by REPLAY_MEMORY, so a late replay still revokes.
    async fn late_replays_are_still_reported(store: Arc<dyn Store>) {
        store.put_auth_code(code("c", NOW + 60)).await.expect("put");
        let token = RefreshToken {
            token_hash: "r".into(),
            grant_id: "g".into(),
            client_id: "app".into(),
            user_id: "user".into(),
            scope: "openid".into(),
            session_id: None,
            auth_time: NOW,
            amr: "pwd".into(),
            created_at: NOW,
            expires_at: NOW + 60,
        };
        store.put_refresh_token(token).await.expect("put");
        assert!(matches!(store.consume_auth_code("c", NOW).await.expect("consume"), Consumed::Fresh(_)));
        assert!(matches!(store.consume_refresh_token("r", NOW).await.expect("consume"), Consumed::Fresh(_)));

        assert_eq!(store.sweep_expired(NOW + 61).await.expect("sweep"), 0, "used rows are kept");
        assert!(matches!(store.consume_auth_code("c", NOW + 3600).await.expect("consume"), Consumed::Replayed(_)));
        assert!(matches!(store.consume_refresh_token("r", NOW + 3600).await.expect("consume"), Consumed::Replayed(_)));

        assert_eq!(store.sweep_expired(NOW + 60 + REPLAY_MEMORY).await.expect("sweep"), 2);
        assert_eq!(store.consume_auth_code("c", NOW + 60 + REPLAY_MEMORY).await.expect("consume"), Consumed::NotFound);
    }

    #[tokio::test]
    async fn late_replays_are_still_reported_on_sqlite() {
        on_sqlite(|store| Box::pin(late_replays_are_still_reported(store))).await;
    }

    #[tokio::test]
    async fn late_replays_are_still_reported_on_postgres() {
        on_postgres(|store| Box::pin(late_replays_are_still_reported(store))).await;
    }

    /// Two instances (two pools) on one database: a code is still redeemed once.
    async fn two_instances_redeem_a_code_once(db: TestDatabase) {
        let settings = PoolSettings::default();
        let a: Arc<dyn Store> = Arc::new(SqlStore::connect(&db.url, &settings).await.expect("instance a"));
        let b: Arc<dyn Store> = Arc::new(SqlStore::connect(&db.url, &settings).await.expect("instance b"));
        a.put_auth_code(code("c", NOW + 60)).await.expect("put");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { store.consume_auth_code("c", NOW).await })
            })
            .collect();
        let mut fresh = 0;
        for task in tasks {
            if let Consumed::Fresh(_) = task.await.expect("task").expect("consume") {
                fresh += 1;
            }
        }
        drop((a, b));
        db.remove().await;
        assert_eq!(fresh, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_redeem_a_code_once_on_sqlite() {
        two_instances_redeem_a_code_once(TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_redeem_a_code_once_on_postgres() {
        if let Some(db) = TestDatabase::postgres().await {
            two_instances_redeem_a_code_once(db).await;
        }
    }

    #[test]
    fn embedded_migrations_match_the_folder() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let from_folder = runtime.block_on(Migrator::new(folder)).expect("migrations folder");
        let embedded = runtime.block_on(Migrator::new(EmbeddedMigrations)).expect("embedded");
        let describe = |m: &Migrator| {
            m.iter().map(|x| (x.version, x.description.to_string(), x.checksum.to_vec())).collect::<Vec<_>>()
        };
        assert_eq!(describe(&embedded), describe(&from_folder), "list every file of migrations/ in MIGRATIONS");
    }

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        assert_eq!(sqlite_url("sqlite://wegate.db"), "sqlite://wegate.db?mode=rwc");
        assert_eq!(
            sqlite_url("sqlite:///var/lib/wegate.db?cache=shared"),
            "sqlite:///var/lib/wegate.db?cache=shared&mode=rwc"
        );
        assert_eq!(sqlite_url("sqlite://wegate.db?mode=ro"), "sqlite://wegate.db?mode=ro");
        assert_eq!(sqlite_url("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::of_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://u@h/db").ok(), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("postgresql://u@h/db").ok(), Some(Backend::Postgres));
        assert!(matches!(Backend::of_url("mysql://u@h/db"), Err(StoreError::Backend(_))));
    }

    #[test]
    fn conflicts_name_the_field_on_both_databases() {
        // PostgreSQL names the index, SQLite the columns.
        assert_eq!(conflict_field(Some("users_email_norm_key"), "duplicate key value"), "email");
        assert_eq!(conflict_field(None, "UNIQUE constraint failed: users.phone_norm"), "phone");
        assert_eq!(conflict_field(Some("users_username_norm_key"), ""), "username");
        assert_eq!(
            conflict_field(None, "UNIQUE constraint failed: identities.upstream, identities.subject"),
            "identity"
        );
        assert_eq!(conflict_field(Some("connections_pkey"), ""), "identifier");
        assert_eq!(conflict_field(None, "UNIQUE constraint failed: connections.identifier"), "identifier");
        assert_eq!(conflict_field(Some("apps_pkey"), ""), "client_id");
        assert_eq!(conflict_field(None, "UNIQUE constraint failed: apps.client_id"), "client_id");
        assert_eq!(conflict_field(Some("users_pkey"), ""), "id");
    }

    #[test]
    fn only_phone_shaped_logins_match_phones() {
        assert_eq!(login_as_phone("+86 138-0013-8000").as_deref(), Some("13800138000"));
        assert_eq!(login_as_phone("user13800138000"), None);
        assert_eq!(login_as_phone("alice"), None);
    }

    #[test]
    fn pages_say_next_only_when_more_came_back() {
        let page = paginate(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next.as_deref()), (vec![1, 2], Some("2")));
        let page = paginate(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((page.items, page.next), (vec![1, 2], None));
    }
}
