//! A consistent copy of the whole database while serving (`GET /api/v1/backup`). Only SQLite's: a file
//! is the database there, and SQLite's `VACUUM INTO` writes one transaction's snapshot to a new file.
//! PostgreSQL has its own tools (`pg_dump`, base backups), which wegate does not replace.

use async_trait::async_trait;

use super::common::StoreResult;

#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Writes a consistent copy of the database to `path` (which must not exist), or `Ok(false)` when the
    /// engine takes its backups otherwise (PostgreSQL).
    async fn backup_to(&self, path: &std::path::Path) -> StoreResult<bool>;
}
