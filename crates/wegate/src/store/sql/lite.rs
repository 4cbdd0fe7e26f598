//! SQLite on one dedicated connection thread (rusqlite).
//!
//! Every store call sends a job (a closure over the connection) to the thread and awaits its answer: one hop
//! per call, or per group of statements ([`transaction`]). One connection means one page cache that no other
//! connection of ours invalidates and prepared statements cached for the life of the process. A second
//! connection, on a thread of its own, checkpoints the WAL (`spawn_checkpointer`): the sync a checkpoint
//! makes never stalls a request.
//!
//! Who may share the file is decided by a lock on a file beside it (`<database>.lock`, `flock`):
//! `exclusive` (the default) takes it exclusively — no other wegate process starts on the file, so this store
//! is its only writer and may cache apps and connections (`cache`); `normal` takes it shared, so several
//! processes (or several stores in one process, as the multi-instance tests do) can use the file together,
//! none of them caching. SQLite's own locking is its normal one either way (the checkpoint connection needs
//! it); a busy file is waited on for 5 s.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior};
use sha2::{Digest as _, Sha384};
use tokio::sync::oneshot;

use super::conflict_field;
use super::db::{Arg, Row, Stmt, Val};
use crate::store::{StoreError, StoreResult};

/// How SQLite locks the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteLocking {
    /// One wegate process owns the file from start to stop (another one refuses to start on it).
    Exclusive,
    /// Several wegate processes may share the file.
    Normal,
}

impl SqliteLocking {
    pub fn parse(text: &str) -> Option<SqliteLocking> {
        match text.trim().to_ascii_lowercase().as_str() {
            "exclusive" => Some(SqliteLocking::Exclusive),
            "normal" => Some(SqliteLocking::Normal),
            _ => None,
        }
    }
}

/// Page cache of the one connection: 8 MiB (SQLite's default is 2 MiB per connection; we have one).
const CACHE_KIB: i64 = 8 * 1024;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Msg {
    Job(Job),
    Close(oneshot::Sender<()>),
}

/// The handle to the connection thread. Cheap to clone; the thread ends with [`Lite::close`] or when the
/// last handle is dropped.
#[derive(Clone)]
pub(crate) struct Lite {
    jobs: mpsc::Sender<Msg>,
    /// The `flock` on `<database>.lock`, released at close.
    owner_lock: Arc<std::sync::Mutex<Option<std::fs::File>>>,
    /// Stops the checkpoint thread, where there is one.
    checkpoints: Option<mpsc::Sender<()>>,
    pub locking: SqliteLocking,
    pub in_memory: bool,
    /// The file (`:memory:` for an in-memory database).
    path: String,
}

/// Where and how to open, from a `sqlite:` URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LiteTarget {
    pub path: String,
    pub in_memory: bool,
    pub flags: OpenFlags,
}

/// `sqlite://path?mode=…`, `sqlite:path`, `sqlite::memory:`. The file is created if missing unless `mode`
/// says `ro` or `rw`; other parameters are SQLite's own URI parameters and are ignored.
pub(crate) fn parse_url(url: &str) -> StoreResult<LiteTarget> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Backend("a SQLite URL starts with sqlite://".into()))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mode = query.split('&').find_map(|pair| pair.strip_prefix("mode=")).unwrap_or("rwc");
    let in_memory = path == ":memory:" || path.is_empty() || mode == "memory";
    let base = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let flags = match mode {
        "ro" => base | OpenFlags::SQLITE_OPEN_READ_ONLY,
        "rw" => base | OpenFlags::SQLITE_OPEN_READ_WRITE,
        "rwc" | "memory" => base | OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        other => return Err(StoreError::Backend(format!("unknown SQLite mode {other:?}: use ro, rw or rwc"))),
    };
    Ok(LiteTarget { path: if in_memory { ":memory:".into() } else { path.to_string() }, in_memory, flags })
}

impl Lite {
    /// Opens the file on a new thread, prepares it (pragmas, WAL) and returns once it is ready.
    pub async fn open(url: &str, locking: SqliteLocking) -> StoreResult<Lite> {
        let target = parse_url(url)?;
        // An in-memory database is private to its connection: nobody to share it with.
        let locking = if target.in_memory { SqliteLocking::Normal } else { locking };
        let in_memory = target.in_memory;
        let path = target.path.clone();
        let owner_lock = match in_memory {
            true => None,
            false => Some(take_owner_lock(&target.path, locking).await?),
        };
        let (jobs, inbox) = mpsc::channel::<Msg>();
        let (ready_tx, ready_rx) = oneshot::channel::<StoreResult<()>>();
        std::thread::Builder::new()
            .name("wegate-sqlite".into())
            .spawn(move || {
                let mut conn = match open_connection(&target) {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        conn
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                serve(&mut conn, &inbox);
                drop(conn);
            })
            .map_err(|e| StoreError::Backend(format!("starting the SQLite thread: {e}")))?;
        ready_rx.await.map_err(|_| StoreError::Backend("the SQLite thread ended while opening".into()))??;
        let checkpoints = if in_memory { None } else { Some(spawn_checkpointer(url, jobs.clone())?) };
        Ok(Lite {
            jobs,
            owner_lock: Arc::new(std::sync::Mutex::new(owner_lock)),
            checkpoints,
            locking,
            in_memory,
            path,
        })
    }

    /// A consistent copy of the database into `target` (`VACUUM INTO`: one read transaction's snapshot). On
    /// a connection of its own, read-only, on a blocking thread: requests go on meanwhile (WAL readers do not
    /// wait for each other or for the writer). An in-memory database has only its one connection.
    pub async fn vacuum_into(&self, target: &std::path::Path) -> StoreResult<()> {
        let target = target.to_string_lossy().into_owned();
        if self.in_memory {
            return self.run(move |conn| conn.execute("VACUUM INTO ?1", [target]).map(|_| ()).map_err(lite_err)).await;
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(lite_err)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(lite_err)?;
            conn.execute("VACUUM INTO ?1", [target]).map(|_| ()).map_err(lite_err)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the backup thread: {e}")))?
    }

    /// Runs `job` on the connection thread and gives its result.
    pub async fn run<R, F>(&self, job: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
    {
        let (answer_tx, answer_rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = answer_tx.send(job(conn));
        });
        self.jobs.send(Msg::Job(job)).map_err(|_| closed())?;
        answer_rx.await.map_err(|_| closed())?
    }

    /// Closes the connection (releasing the file) once the jobs already sent are done.
    pub async fn close(&self) {
        if let Some(stop) = &self.checkpoints {
            let _ = stop.send(());
        }
        let (done_tx, done_rx) = oneshot::channel();
        if self.jobs.send(Msg::Close(done_tx)).is_ok() {
            let _ = done_rx.await;
        }
        // Dropping the file releases the flock; another process may take the file from here on.
        drop(self.owner_lock.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

/// How often the checkpoint thread moves the WAL's pages into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// A WAL longer than this (256 MiB of 4 KiB pages) is started over (see `spawn_checkpointer`). Each start-over
/// stalls the request connection for a sync (about 100 ms on the benchmark's disk): at 64 MiB it came every
/// 3 s under full load and the p99 login went from 50 to 140 ms; at 256 MiB, every 10 s or so.
const WAL_RESTART_FRAMES: i64 = 65_536;

/// Where the file may be shared (normal locking), a second connection on a thread of its own checkpoints the
/// WAL (`PASSIVE`: never waits for readers or the writer) and the request connection never does
/// (`wal_autocheckpoint = 0`). A checkpoint syncs the file; on the request connection that sync stalled
/// every store call behind it (bench/README.md: the p99 of a login).
fn spawn_checkpointer(url: &str, jobs: mpsc::Sender<Msg>) -> StoreResult<mpsc::Sender<()>> {
    let target = parse_url(url)?;
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("wegate-sqlite-checkpoint".into())
        .spawn(move || {
            let conn = match Connection::open_with_flags(&target.path, target.flags) {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("SQLite checkpoints: opening a second connection failed: {e}");
                    return;
                }
            };
            let _ = conn.busy_timeout(Duration::from_millis(100));
            while let Err(mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(CHECKPOINT_EVERY) {
                // (busy, frames in the WAL, frames checkpointed)
                let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(1));
                match passive {
                    // Under steady writes this connection never sees the WAL wholly copied at a moment the
                    // writer starts, so the WAL would only grow. Past the limit, the request connection
                    // checkpoints once itself, between two jobs: only the last few pages are left to copy, and
                    // its next write starts the WAL over (a RESTART from here would make both connections'
                    // busy handlers sleep: p99 132–170 ms).
                    Ok(frames) if frames > WAL_RESTART_FRAMES => {
                        let _ = jobs.send(Msg::Job(Box::new(|conn: &mut Connection| {
                            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                                tracing::debug!("SQLite checkpoint (request connection): {e}");
                            }
                        })));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("SQLite checkpoint: {e}"),
                }
            }
        })
        .map_err(|e| StoreError::Backend(format!("starting the SQLite checkpoint thread: {e}")))?;
    Ok(stop_tx)
}

fn closed() -> StoreError {
    StoreError::Backend("the SQLite connection is closed".into())
}

fn serve(conn: &mut Connection, inbox: &mpsc::Receiver<Msg>) {
    while let Ok(msg) = inbox.recv() {
        match msg {
            Msg::Job(job) => job(conn),
            Msg::Close(done) => {
                // Later jobs find the channel closed once this thread is gone.
                let _ = done.send(());
                return;
            }
        }
    }
}

const IN_USE: &str = "the SQLite file is in use by another wegate process that holds it exclusively \
    (WEGATE_SQLITE_LOCKING=exclusive, the default); stop it, or set WEGATE_SQLITE_LOCKING=normal on every process \
    that shares the file";

/// The lock beside the file that says who may share it (see the module's text). A process that is still
/// stopping is waited for, up to the busy timeout.
async fn take_owner_lock(path: &str, locking: SqliteLocking) -> StoreResult<std::fs::File> {
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Backend(format!("opening {lock_path}: {e}")))?;
    let started = Instant::now();
    loop {
        let taken = match locking {
            SqliteLocking::Exclusive => file.try_lock(),
            SqliteLocking::Normal => file.try_lock_shared(),
        };
        match taken {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < BUSY_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Backend(IN_USE.into()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Backend(format!("locking {lock_path}: {e}")));
            }
        }
    }
}

/// Whether another process holds the file (a serving wegate: exclusively, or shared with normal locking).
pub fn held_by_another(url: &str) -> StoreResult<bool> {
    let target = parse_url(url)?;
    if target.in_memory || !std::path::Path::new(&target.path).exists() {
        return Ok(false);
    }
    let lock_path = format!("{}.lock", target.path);
    let Ok(file) = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path) else {
        return Ok(false);
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Backend(format!("locking {lock_path}: {e}"))),
    }
}

/// The migrations a file has applied (version, success), read without changing it: `None` when the file does
/// not exist yet (it is created at start). Takes the file's lock as a start would, so a file a running wegate
/// holds exclusively is the same error as at start.
pub async fn applied_migrations(url: &str, locking: SqliteLocking) -> StoreResult<Option<Vec<(i64, bool)>>> {
    let target = parse_url(url)?;
    if target.in_memory {
        return Ok(Some(Vec::new()));
    }
    if !std::path::Path::new(&target.path).exists() {
        return Ok(None);
    }
    let lock = take_owner_lock(&target.path, locking).await?;
    let path = target.path.clone();
    let read = tokio::task::spawn_blocking(move || -> StoreResult<Vec<(i64, bool)>> {
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(lite_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(lite_err)?;
        let table: Option<String> = conn
            .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(lite_err)?;
        if table.is_none() {
            return Ok(Vec::new());
        }
        let mut statement = conn.prepare("SELECT version, success FROM _sqlx_migrations").map_err(lite_err)?;
        let rows = statement.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))).map_err(lite_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(lite_err)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("reading the SQLite file: {e}")))?;
    drop(lock);
    read.map(Some)
}

fn open_connection(target: &LiteTarget) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(&target.path, target.flags).map_err(lite_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(lite_err)?;
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{CACHE_KIB};"
    ))
    .map_err(lite_err)?;
    if !target.in_memory {
        enable_wal(&conn)?;
    }
    // NORMAL: WAL commits are not synced, checkpoints are (a power cut may lose the last commits, never
    // corrupt). The checkpoint thread checkpoints (`spawn_checkpointer`), this connection never does.
    // The WAL file is reused from its start once checkpointed; above 64 MiB it is cut back when that happens
    // (a bulk import can leave it at gigabytes otherwise).
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
    )
    .map_err(lite_err)?;
    Ok(conn)
}

/// Switches the file to WAL (the mode is stored in the file, so usually it already is). In exclusive
/// locking this is also where the file's lock is taken: a file another process holds fails here, with a
/// message that says so.
fn enable_wal(conn: &Connection) -> StoreResult<()> {
    let started = Instant::now();
    loop {
        let outcome = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get::<_, String>(0));
        match outcome {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => break,
            Ok(mode) => return Err(StoreError::Backend(format!("SQLite refused WAL mode (journal mode {mode})"))),
            Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if is_busy(&e) => {
                return Err(StoreError::Backend(format!("the SQLite file stayed locked: {e}")));
            }
            Err(e) => return Err(lite_err(e)),
        }
    }
    Ok(())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

pub(crate) fn lite_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    StoreError::Conflict(conflict_field(None, &message))
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound,
                code => StoreError::Backend(format!("{message} ({code})")),
            }
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

// ---------------------------------------------------------------- running statements (on the thread)

/// Runs one statement to its end: its rows, and whether it has result columns at all.
fn run(conn: &Connection, stmt: &Stmt) -> StoreResult<(Vec<Row>, bool)> {
    let mut prepared = conn.prepare_cached(&stmt.sql).map_err(lite_err)?;
    for index in 1..=prepared.parameter_count() {
        // `$n` (and `?n`) name the n-th bound value wherever they appear; a bare `?` is positional.
        let position = prepared
            .parameter_name(index)
            .and_then(|name| name.get(1..))
            .and_then(|digits| digits.parse::<usize>().ok())
            .unwrap_or(index);
        let arg = stmt.args.get(position.wrapping_sub(1)).ok_or_else(|| {
            StoreError::Backend(format!("statement wants value ${position}, {} bound", stmt.args.len()))
        })?;
        let bound = match arg {
            Arg::Int(n) => prepared.raw_bind_parameter(index, n),
            Arg::Text(s) => prepared.raw_bind_parameter(index, s.as_str()),
            Arg::NullInt | Arg::NullText => prepared.raw_bind_parameter(index, rusqlite::types::Null),
        };
        bound.map_err(lite_err)?;
    }
    let names: Arc<[Box<str>]> = prepared.column_names().into_iter().map(Box::from).collect();
    let width = names.len();
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(lite_err)? {
        let mut vals = Vec::with_capacity(width);
        for i in 0..width {
            vals.push(match row.get_ref(i).map_err(lite_err)? {
                ValueRef::Null => Val::Null,
                ValueRef::Integer(n) => Val::Int(n),
                // The schema has no REAL columns; an expression that makes one is read as its integer part.
                ValueRef::Real(f) => Val::Int(f as i64),
                ValueRef::Text(t) | ValueRef::Blob(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
            });
        }
        out.push(Row { names: names.clone(), vals });
    }
    Ok((out, width > 0))
}

pub(crate) fn fetch(conn: &mut Connection, stmt: &Stmt) -> StoreResult<Vec<Row>> {
    run(conn, stmt).map(|(rows, _)| rows)
}

pub(crate) fn exec(conn: &mut Connection, stmt: &Stmt) -> StoreResult<u64> {
    run(conn, stmt)?;
    Ok(conn.changes())
}

/// The statements in one `BEGIN IMMEDIATE` transaction (the write lock from the start: never a read
/// snapshot that must be upgraded). Dropping the transaction on an error rolls it back.
pub(crate) fn transaction(conn: &mut Connection, stmts: &[Stmt], first_must_hit: bool) -> StoreResult<Vec<Vec<Row>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(lite_err)?;
    let mut results = Vec::with_capacity(stmts.len());
    for (i, stmt) in stmts.iter().enumerate() {
        let (rows, has_columns) = run(&tx, stmt)?;
        if i == 0 && first_must_hit {
            let hit = if has_columns { !rows.is_empty() } else { tx.changes() > 0 };
            if !hit {
                return Err(StoreError::NotFound);
            }
        }
        results.push(rows);
    }
    tx.commit().map_err(lite_err)?;
    Ok(results)
}

// ---------------------------------------------------------------- migrations

/// Brings the schema up to date, keeping sqlx's bookkeeping table (`_sqlx_migrations`, same columns and
/// SHA-384 checksums) so that databases made by earlier versions, which used sqlx's migrator, carry on.
/// Each migration runs in a `BEGIN IMMEDIATE` transaction: processes starting at once on one file take
/// turns, and the later ones find the work done.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[(i64, &str, &str)]) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .map_err(lite_err)?;
    for &(version, description, sql) in migrations {
        let checksum = Sha384::digest(sql.as_bytes()).to_vec();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(lite_err)?;
        let applied = tx
            .query_row("SELECT success, checksum FROM _sqlx_migrations WHERE version = ?1", [version], |row| {
                Ok((row.get::<_, bool>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .optional()
            .map_err(lite_err)?;
        match applied {
            Some((true, stored)) if stored == checksum => continue,
            Some((true, _)) => {
                return Err(StoreError::Backend(format!(
                    "migration {version} was applied with different contents: this binary does not match the database"
                )));
            }
            Some((false, _)) => {
                return Err(StoreError::Backend(format!(
                    "migration {version} failed half-way earlier; restore a backup"
                )));
            }
            None => {}
        }
        let started = Instant::now();
        tx.execute_batch(sql).map_err(|e| StoreError::Backend(format!("migration {version}: {}", lite_err(e))))?;
        let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![version, description, checksum, nanos],
        )
        .map_err(lite_err)?;
        tx.commit().map_err(lite_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_open_the_file_and_create_it_unless_told_otherwise() {
        let target = parse_url("sqlite://wegate.db").expect("url");
        assert_eq!(target.path, "wegate.db");
        assert!(target.flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        assert_eq!(parse_url("sqlite:///var/lib/wegate.db?cache=shared").expect("url").path, "/var/lib/wegate.db");
        assert!(!parse_url("sqlite://wegate.db?mode=ro").expect("url").flags.contains(OpenFlags::SQLITE_OPEN_CREATE));
        assert!(parse_url("sqlite::memory:").expect("url").in_memory);
        assert!(parse_url("sqlite://x.db?mode=bogus").is_err());
        assert!(parse_url("postgres://x").is_err());
    }

    #[tokio::test]
    async fn an_exclusively_held_file_refuses_a_second_opener_until_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let first = Lite::open(&url, SqliteLocking::Exclusive).await.expect("first");
        first.run(|conn| conn.execute_batch("CREATE TABLE t (a BIGINT)").map_err(lite_err)).await.expect("write");
        let started = Instant::now();
        for second in [SqliteLocking::Normal, SqliteLocking::Exclusive] {
            let Err(StoreError::Backend(message)) = Lite::open(&url, second).await.map(|_| ()) else {
                panic!("a second opener ({second:?}) got in");
            };
            assert!(message.contains("in use by another wegate process"), "{message}");
        }
        assert!(started.elapsed() >= Duration::from_secs(8), "each waited for the busy timeout first");
        first.close().await;
        let again = Lite::open(&url, SqliteLocking::Exclusive).await.expect("free again after close");
        again.close().await;
    }

    #[tokio::test]
    async fn normal_locking_shares_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let first = Lite::open(&url, SqliteLocking::Normal).await.expect("first");
        let second = Lite::open(&url, SqliteLocking::Normal).await.expect("second");
        assert!(
            Lite::open(&url, SqliteLocking::Exclusive).await.is_err(),
            "an exclusive opener must not join processes sharing the file"
        );
        first
            .run(|conn| conn.execute_batch("CREATE TABLE t (a BIGINT); INSERT INTO t VALUES (7)").map_err(lite_err))
            .await
            .expect("write");
        let seen = second
            .run(|conn| conn.query_row("SELECT a FROM t", [], |r| r.get::<_, i64>(0)).map_err(lite_err))
            .await
            .expect("read");
        assert_eq!(seen, 7);
    }

    #[test]
    fn checksums_are_sqlx_checksums() {
        // Databases migrated by sqlx's migrator (earlier versions) must be recognised as up to date.
        for &(version, description, sql) in super::super::MIGRATIONS {
            let theirs = sqlx::migrate::Migration::new(
                version,
                std::borrow::Cow::Borrowed(description),
                sqlx::migrate::MigrationType::Simple,
                std::borrow::Cow::Borrowed(sql),
                false,
            );
            assert_eq!(Sha384::digest(sql.as_bytes()).as_slice(), &theirs.checksum[..], "migration {version}");
        }
    }
}
