//! The SQL [`Store`](super::Store): one implementation, on sqlx's `Any` driver, for SQLite (the embedded
//! default) and PostgreSQL (several wegate instances sharing one database), chosen by the URL scheme.
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
//!
//! Layout: this file holds the pool, the migrations and the helpers every statement uses (errors, column
//! reading, paging); each aggregate's impl block is in a file of its own (`apps.rs`, `users.rs`, ...), next to
//! its column lists and row mapping. No statement here reads the clock: every time comes from the caller.

mod apps;
mod audit;
mod connections;
mod grants;
mod keys;
mod sessions;
mod upstream;
mod users;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, Executor as _, Row as _};

use super::{Page, StoreError, StoreResult, Timestamp};

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
    /// The last audit id this store made (see `audit::audit_id`), shared by its clones.
    last_audit_id: Arc<AtomicI64>,
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
    (1, "initial", include_str!("../../../migrations/0001_initial.sql")),
    (2, "login failures", include_str!("../../../migrations/0002_login_failures.sql")),
    (3, "audit ids", include_str!("../../../migrations/0003_audit_ids.sql")),
    (4, "session origin", include_str!("../../../migrations/0004_session_origin.sql")),
    (5, "member lifecycle", include_str!("../../../migrations/0005_member_lifecycle.sql")),
    (6, "connection order", include_str!("../../../migrations/0006_connection_order.sql")),
    (7, "admin users", include_str!("../../../migrations/0007_admin_users.sql")),
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
        let store = SqlStore {
            pool,
            backend,
            sealer: super::seal::Sealer::default(),
            last_audit_id: Arc::new(AtomicI64::new(0)),
        };
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

fn one<T>(rows: Vec<AnyRow>, map: impl Fn(&AnyRow) -> StoreResult<T>) -> StoreResult<Option<T>> {
    rows.first().map(map).transpose()
}

fn all<T>(rows: Vec<AnyRow>, map: impl Fn(&AnyRow) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(map).collect()
}

// ---------------------------------------------------------------- running statements

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn pages_say_next_only_when_more_came_back() {
        let page = paginate(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next.as_deref()), (vec![1, 2], Some("2")));
        let page = paginate(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((page.items, page.next), (vec![1, 2], None));
    }
}
