//! `GET /api/v1/backup`: a consistent copy of the SQLite database, taken while serving (SQLite's
//! `VACUUM INTO`: one transaction's snapshot, written beside the database, streamed, then gone). A server
//! started on the copy (with the same `WEGATE_ENCRYPTION_KEY`) serves the same apps, users and sealed
//! secrets. PostgreSQL: 409, its own tools take its backups.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::common::{Actor, ApiError};
use crate::app::AppState;
use crate::audit::Audit;

#[utoipa::path(get, path = "/api/v1/backup", responses(
    (status = 200, description = "The SQLite database file (application/vnd.sqlite3)"),
    (status = 409, body = ApiError, description = "PostgreSQL: back it up with its own tools")))]
pub async fn backup(State(app): State<AppState>, actor: Actor) -> Result<Response, ApiError> {
    // Beside the database: the same file system (room for a copy, the same permissions), not a shared /tmp.
    let dir = sqlite_dir(&app.settings.database_url).unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!(".wegate-backup-{}.db", crate::util::random_alnum(16)));
    // In a task of its own: a client that leaves mid-copy does not leave the copy behind.
    let store = app.store.clone();
    let copy = tokio::spawn(async move {
        let taken = store.backup_to(&path).await;
        let opened = match &taken {
            Ok(true) => Some(tokio::fs::File::open(&path).await),
            _ => None,
        };
        // Open, then unlinked: the stream reads the open file, and nothing is left behind whatever happens.
        let _ = tokio::fs::remove_file(&path).await;
        (taken, opened)
    });
    let (taken, opened) = copy.await.map_err(|e| crate::store::StoreError::Backend(format!("the backup task: {e}")))?;
    let file = match (taken, opened) {
        (Ok(true), Some(file)) => file,
        (Ok(false), _) => {
            return Err(ApiError::conflict(
                "this wegate runs on PostgreSQL: back it up with PostgreSQL's own tools (pg_dump, base backups)",
            ));
        }
        (Err(e), _) => return Err(e.into()),
        (Ok(true), None) => return Err(crate::store::StoreError::Backend("the backup was not written".into()).into()),
    };
    let file = file.map_err(|e| crate::store::StoreError::Backend(format!("reading the backup: {e}")))?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    Audit::new("backup.taken").actor(&actor.0).reason(&format!("{size} bytes")).write(&app).await;
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes_of(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let name = format!("attachment; filename=\"wegate-{}.db\"", app.now());
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.sqlite3"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn bytes_of(buf: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(buf)
}

/// The directory of a `sqlite://path` database file; None for in-memory ones and for PostgreSQL.
fn sqlite_dir(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let parent = std::path::Path::new(path).parent()?;
    Some(if parent.as_os_str().is_empty() { std::path::PathBuf::from(".") } else { parent.to_path_buf() })
}

/// Copies a crash left behind mid-backup (`.wegate-backup-*.db` beside the database), older than an hour so that
/// a backup under way in another process sharing the file is left alone. Run at start.
pub fn sweep_leftovers(database_url: &str) {
    let Some(dir) = sqlite_dir(database_url) else { return };
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| at < hour_ago);
        if name.starts_with(".wegate-backup-") && name.ends_with(".db") && old {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(file = %name, "removed a backup copy left behind"),
                Err(e) => tracing::warn!(file = %name, error = %e, "cannot remove a backup copy left behind"),
            }
        }
    }
}
