//! Read-mostly rows kept in memory: apps, connections and an app's connection list, read on every login
//! and refresh and changed only by an admin (or, for a connection's state, by a rare WeCom event).
//!
//! Kept only where the store is the one writer of its database — SQLite held exclusively by this process
//! (or in memory) — so that invalidating on its own writes is the whole story. A shared SQLite file or
//! PostgreSQL is written by other instances too: there every read goes to the database (a cross-instance
//! invalidation, such as LISTEN/NOTIFY, is not built yet).
//!
//! Invalidation: every statement that writes `apps`, `app_connections` or `connections` empties the cache
//! after it ran (`SqlStore::exec` and friends decide, so no write path can forget). A read that raced with
//! such a write must not put the old row back: each entry is only kept if no write finished since the read
//! began (`generation`).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{App, Connection};

/// More entries than this and the cache starts over (many apps is fine; unbounded growth is not).
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    generation: u64,
    apps: HashMap<String, App>,
    connections: HashMap<String, Connection>,
    app_connections: HashMap<String, Vec<Connection>>,
}

impl Entries {
    fn size(&self) -> usize {
        self.apps.len() + self.connections.len() + self.app_connections.len()
    }
}

impl ReadCache {
    fn with<R>(&self, f: impl FnOnce(&mut Entries) -> R) -> R {
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut entries)
    }

    /// Taken before a read; the read's result is kept only if it is still current.
    pub fn generation(&self) -> u64 {
        self.with(|e| e.generation)
    }

    /// Everything goes: a cached table was written.
    pub fn invalidate(&self) {
        self.with(|e| {
            e.generation += 1;
            e.apps.clear();
            e.connections.clear();
            e.app_connections.clear();
        });
    }

    fn keep(&self, read_at: u64, put: impl FnOnce(&mut Entries)) {
        self.with(|e| {
            if e.generation != read_at {
                return;
            }
            if e.size() >= MAX_ENTRIES {
                e.apps.clear();
                e.connections.clear();
                e.app_connections.clear();
            }
            put(e);
        });
    }

    pub fn app(&self, client_id: &str) -> Option<App> {
        self.with(|e| e.apps.get(client_id).cloned())
    }

    pub fn keep_app(&self, read_at: u64, app: &App) {
        self.keep(read_at, |e| {
            e.apps.insert(app.client_id.clone(), app.clone());
        });
    }

    pub fn connection(&self, identifier: &str) -> Option<Connection> {
        self.with(|e| e.connections.get(identifier).cloned())
    }

    pub fn keep_connection(&self, read_at: u64, connection: &Connection) {
        self.keep(read_at, |e| {
            e.connections.insert(connection.identifier.clone(), connection.clone());
        });
    }

    pub fn app_connections(&self, client_id: &str) -> Option<Vec<Connection>> {
        self.with(|e| e.app_connections.get(client_id).cloned())
    }

    pub fn keep_app_connections(&self, read_at: u64, client_id: &str, connections: &[Connection]) {
        self.keep(read_at, |e| {
            e.app_connections.insert(client_id.to_string(), connections.to_vec());
        });
    }
}

/// Whether a statement may change a cached table: anything but a SELECT that names one.
pub(crate) fn writes_cached_table(sql: &str) -> bool {
    let head = sql.trim_start();
    let select = head.get(..6).is_some_and(|h| h.eq_ignore_ascii_case("select"));
    !select && (sql.contains("apps") || sql.contains("connections"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AppKind;

    fn app(name: &str) -> App {
        App {
            client_id: "c".into(),
            name: name.into(),
            kind: AppKind::Web,
            client_secret_hash: None,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = ReadCache::default();
        let read_at = cache.generation();
        // The read saw the old row; a write finished before the read came back.
        cache.invalidate();
        cache.keep_app(read_at, &app("old"));
        assert!(cache.app("c").is_none(), "the old row must not come back");
        let read_at = cache.generation();
        cache.keep_app(read_at, &app("new"));
        assert_eq!(cache.app("c").map(|a| a.name), Some("new".to_string()));
        cache.invalidate();
        assert!(cache.app("c").is_none());
    }

    #[test]
    fn writes_to_cached_tables_are_recognised() {
        assert!(writes_cached_table("UPDATE apps SET name = $2 WHERE client_id = $1 RETURNING client_id"));
        assert!(writes_cached_table("DELETE FROM app_connections WHERE client_id = $1"));
        assert!(writes_cached_table("UPDATE connections SET state = $2 WHERE identifier = $1"));
        assert!(!writes_cached_table("SELECT client_id FROM apps WHERE client_id = $1"));
        assert!(!writes_cached_table("INSERT INTO grant_origins (grant_id, connection) VALUES ($1, $2)"));
    }
}
