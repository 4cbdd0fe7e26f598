//! The SQL [`Store`](super::Store): one implementation for SQLite (the embedded default; rusqlite on one
//! connection thread, `lite`) and PostgreSQL (several wegate instances sharing one database; a sqlx pool),
//! chosen by the URL scheme. Statements are written once, for both, over `db`'s small API.
//!
//! Portability: one schema (`migrations/`) with TEXT and BIGINT columns only, `$n` placeholders (SQLite
//! accepts them), `ON CONFLICT` upserts and `RETURNING`. No statement depends on the isolation level: every
//! rule that must hold across instances is a single statement whose effect the database decides — a code is
//! consumed by the one `UPDATE ... WHERE used_at IS NULL` that matches it, a login transaction taken by the one
//! `DELETE ... RETURNING` that finds it, the active signing key is whichever row won the unique `slot`, a lease
//! belongs to whoever's upsert the `WHERE` clause let through. Transactions only group writes (user and
//! identity, cascading deletes); on SQLite they begin `IMMEDIATE` (the write lock first, never a read
//! snapshot to upgrade) and run in one hop to the connection thread.
//!
//! Errors: a unique violation becomes [`StoreError::Conflict`] naming the field (derived from the index
//! name on PostgreSQL, from `table.column` on SQLite), a foreign-key violation [`StoreError::NotFound`] (the
//! app, connection or user referred to is gone), anything else [`StoreError::Backend`] with the driver's
//! message (never a bound value or the URL).
//!
//! Layout: this file holds the connecting, the migrations and the helpers every statement uses (errors,
//! column reading, paging, the read cache's invalidation); `db` the statement API and the engines, `lite`
//! the SQLite thread, `cache` the apps and connections kept in memory; each aggregate's impl block is in a file of its own (`apps.rs`, `users.rs`, ...), next to
//! its column lists and row mapping. No statement here reads the clock: every time comes from the caller.

mod apps;
mod audit;
mod cache;
mod connections;
mod db;
mod grants;
mod keys;
mod lite;
mod sealing;
mod sessions;
mod upstream;
mod users;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::PgPoolOptions;

use super::{Page, StoreError, StoreResult, Timestamp};
use db::{Db, Row, Stmt};
pub use lite::SqliteLocking;

/// How long a used code or refresh token is kept after it expires, so that a late replay is still reported
/// as `Replayed` (and its family revoked) instead of `NotFound`. Used rows are small and few.
pub const REPLAY_MEMORY: Timestamp = 24 * 60 * 60;

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// PostgreSQL pool size (SQLite always has one connection, on its own thread).
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this long.
    pub idle_timeout: Option<Duration>,
    /// SQLite: hold the file for this process alone, or share it.
    pub sqlite_locking: SqliteLocking,
}

impl Default for PoolSettings {
    /// 10 PostgreSQL connections, none kept open when idle, 5 s to get one, idle ones closed after 10
    /// minutes; SQLite held exclusively.
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
            sqlite_locking: SqliteLocking::Exclusive,
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

/// The SQL store. Cheap to clone (the engine is shared).
#[derive(Clone)]
pub struct SqlStore {
    db: Db,
    backend: Backend,
    sealer: super::seal::Sealer,
    /// The last audit id this store made (see `audit::audit_id`), shared by its clones.
    last_audit_id: Arc<AtomicI64>,
    /// Apps and connections in memory, where this store is its database's only writer (`cache`).
    cache: Option<Arc<cache::ReadCache>>,
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
    (8, "audit actor", include_str!("../../../migrations/0008_audit_actor.sql")),
    (9, "origin margin", include_str!("../../../migrations/0009_origin_margin.sql")),
    (10, "key rotation", include_str!("../../../migrations/0010_key_rotation.sql")),
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

#[async_trait::async_trait]
impl crate::store::BackupStore for SqlStore {
    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<bool> {
        self.db.vacuum_into(path).await
    }
}

/// Whether a SQLite database is held by another process (a serving wegate); false for PostgreSQL.
pub fn sqlite_held_by_another(url: &str) -> StoreResult<bool> {
    match Backend::of_url(url)? {
        Backend::Sqlite => lite::held_by_another(url),
        Backend::Postgres => Ok(false),
    }
}

/// The schema version this binary brings its databases to.
pub fn schema_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

/// What a database holds of the schema, read without changing anything (`wegate check-config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// A SQLite file that does not exist yet: created at start.
    Absent,
    /// The migrations applied (empty: a new database, migrated at start).
    Applied(Vec<(i64, bool)>),
}

/// Reads the database's applied migrations as `connect` would find them, without migrating.
pub async fn schema_state(url: &str, pool: &PoolSettings) -> StoreResult<SchemaState> {
    match Backend::of_url(url)? {
        Backend::Sqlite => Ok(match lite::applied_migrations(url, pool.sqlite_locking).await? {
            None => SchemaState::Absent,
            Some(applied) => SchemaState::Applied(applied),
        }),
        Backend::Postgres => {
            let options: sqlx::postgres::PgConnectOptions =
                url.parse().map_err(|e: sqlx::Error| StoreError::Backend(format!("invalid database URL: {e}")))?;
            let pg = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(pool.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(db_err)?;
            let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
                .fetch_one(&pg)
                .await
                .map_err(db_err)?;
            let applied = match exists {
                None => Vec::new(),
                Some(_) => sqlx::query_as::<_, (i64, bool)>("SELECT version, success FROM _sqlx_migrations")
                    .fetch_all(&pg)
                    .await
                    .map_err(db_err)?,
            };
            pg.close().await;
            Ok(SchemaState::Applied(applied))
        }
    }
}

// ---------------------------------------------------------------- connecting

impl SqlStore {
    /// Seals connection secrets, permanent codes and signing keys with this AES-256 key from now on
    /// (see `store::seal`).
    pub fn with_encryption_key(mut self, key: &[u8; 32]) -> SqlStore {
        self.sealer = super::seal::Sealer::new(Some(key));
        self
    }

    /// Connects, prepares the database and brings the schema up to date.
    ///
    /// SQLite (`lite`): the file is created if missing and switched to WAL once (the mode is stored in the
    /// file); its one connection gets `synchronous=NORMAL`, a 5 s busy timeout, foreign keys and — with
    /// [`SqliteLocking::Exclusive`] — the file's lock for as long as the store is open.
    ///
    /// PostgreSQL: several instances may start at once; sqlx's migrator holds a `pg_advisory_lock` on the
    /// database while it migrates.
    pub async fn connect(url: &str, pool: &PoolSettings) -> StoreResult<SqlStore> {
        SqlStore::open(url, pool, true).await
    }

    /// Opens a database already at this binary's schema for a command beside running servers (`check-config`,
    /// `keys`): no migration, no PostgreSQL triggers or listener, nothing cached; refused when the schema is
    /// another (`serve` migrates).
    pub async fn connect_existing(url: &str, pool: &PoolSettings) -> StoreResult<SqlStore> {
        match schema_state(url, pool).await? {
            SchemaState::Applied(applied) if applied.iter().map(|m| m.0).max() == Some(schema_version()) => {}
            _ => {
                return Err(StoreError::Backend(format!(
                    "the database is not at this binary's schema ({}): start `wegate serve` once to migrate it",
                    schema_version()
                )));
            }
        }
        let mut store = SqlStore::open(url, pool, false).await?;
        store.cache = None;
        Ok(store)
    }

    async fn open(url: &str, pool: &PoolSettings, prepare: bool) -> StoreResult<SqlStore> {
        let backend = Backend::of_url(url)?;
        let mut cache = None;
        let db = match backend {
            Backend::Sqlite => {
                let lite = lite::Lite::open(url, pool.sqlite_locking).await?;
                if prepare {
                    lite.run(|conn| lite::migrate(conn, MIGRATIONS)).await?;
                }
                if lite.locking == SqliteLocking::Exclusive || lite.in_memory {
                    cache = Some(Arc::default());
                }
                Db::sqlite(lite)
            }
            Backend::Postgres => {
                let options: sqlx::postgres::PgConnectOptions =
                    url.parse().map_err(|e: sqlx::Error| StoreError::Backend(format!("invalid database URL: {e}")))?;
                let pg = PgPoolOptions::new()
                    .max_connections(pool.max_connections.max(1))
                    .min_connections(pool.min_connections.min(pool.max_connections.max(1)))
                    .acquire_timeout(pool.acquire_timeout)
                    .idle_timeout(pool.idle_timeout)
                    .connect_with(options)
                    .await
                    .map_err(db_err)?;
                if prepare {
                    let migrator = Migrator::new(EmbeddedMigrations)
                        .await
                        .map_err(|e| StoreError::Backend(format!("loading migrations: {e}")))?;
                    migrator.run(&pg).await.map_err(|e| StoreError::Backend(format!("migrating the database: {e}")))?;
                    sqlx::raw_sql(cache::PG_TRIGGERS).execute(&pg).await.map_err(db_err)?;
                    let dark = Arc::new(cache::ReadCache::dark());
                    tokio::spawn(cache::listen_for_changes(pg.clone(), Arc::downgrade(&dark)));
                    cache = Some(dark);
                }
                Db::postgres(pg)
            }
        };
        Ok(SqlStore {
            db,
            backend,
            sealer: super::seal::Sealer::default(),
            last_audit_id: Arc::new(AtomicI64::new(0)),
            cache,
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// The count of statements this store has run since it opened (a transaction's BEGIN and COMMIT not
    /// counted); `/metrics` shows it as `wegate_store_statements_total`.
    pub fn statements(&self) -> prometheus_client::metrics::counter::Counter {
        self.db.statements()
    }

    /// The count of calls to the database (a statement, or a transaction of several: on SQLite one hop to
    /// its connection thread each); `/metrics` shows it as `wegate_store_calls_total`.
    pub fn calls(&self) -> prometheus_client::metrics::counter::Counter {
        self.db.calls()
    }

    /// Closes the store: SQLite's connection (and its lock on the file) or PostgreSQL's pool, once the work
    /// under way is done.
    pub async fn close(&self) {
        self.db.close().await;
    }
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

/// A PostgreSQL error (sqlx) as a store error.
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

/// A column of a PostgreSQL row that could not be read.
fn pg_err_in(column: &str, e: sqlx::Error) -> StoreError {
    StoreError::Backend(format!("reading column {column}: {e}"))
}

fn col<T: db::FromVal>(row: &Row, name: &str) -> StoreResult<T> {
    row.get(name)
}

fn json_col(row: &Row, name: &str) -> StoreResult<Value> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Backend(format!("stored {name} is not valid JSON: {e}")))
}

fn strings_col(row: &Row, name: &str) -> StoreResult<Vec<String>> {
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

fn one<T>(rows: Vec<Row>, map: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Option<T>> {
    rows.first().map(map).transpose()
}

fn all<T>(rows: Vec<Row>, map: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(map).collect()
}

// ---------------------------------------------------------------- running statements

impl SqlStore {
    async fn fetch(&self, stmt: Stmt) -> StoreResult<Vec<Row>> {
        let writes = self.writes_cached(std::slice::from_ref(&stmt));
        let result = self.db.fetch(stmt).await;
        self.after_write(writes);
        result
    }

    async fn exec(&self, stmt: Stmt) -> StoreResult<u64> {
        let writes = self.writes_cached(std::slice::from_ref(&stmt));
        let result = self.db.exec(stmt).await;
        self.after_write(writes);
        result
    }

    /// See [`Db::transaction`].
    async fn transaction(&self, stmts: Vec<Stmt>, first_must_hit: bool) -> StoreResult<Vec<Vec<Row>>> {
        let writes = self.writes_cached(&stmts);
        let result = self.db.transaction(stmts, first_must_hit).await;
        self.after_write(writes);
        result
    }

    /// See [`Db::in_order`]: each statement's rows, in the statements' order.
    async fn in_order<const N: usize>(&self, stmts: [Stmt; N]) -> StoreResult<[Vec<Row>; N]> {
        let writes = self.writes_cached(&stmts);
        let result = self.db.in_order(stmts.into()).await;
        self.after_write(writes);
        result?.try_into().map_err(|_| StoreError::Backend("a statement of a group gave no answer".into()))
    }

    /// A read through the cache: what it holds, else `load`'s answer, kept unless a write raced the read
    /// (see `cache`). Without a cache, just `load`.
    async fn read_through<T>(
        &self,
        cached: impl FnOnce(&cache::ReadCache) -> Option<T>,
        load: impl Future<Output = StoreResult<T>>,
        keep: impl FnOnce(&cache::ReadCache, u64, &T),
    ) -> StoreResult<T> {
        let Some(cache) = &self.cache else { return load.await };
        if let Some(hit) = cached(cache) {
            return Ok(hit);
        }
        // Read before `load` runs (a future does nothing until awaited).
        let read_at = cache.generation();
        let loaded = load.await?;
        keep(cache, read_at, &loaded);
        Ok(loaded)
    }

    fn writes_cached(&self, stmts: &[Stmt]) -> bool {
        self.cache.is_some() && stmts.iter().any(|s| cache::writes_cached_table(&s.sql))
    }

    /// Empties the cache after a write to a cached table, whatever its outcome (a failed write changed
    /// nothing, but forgetting costs only a few reads).
    fn after_write(&self, wrote: bool) {
        if wrote && let Some(cache) = &self.cache {
            cache.invalidate();
        }
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
