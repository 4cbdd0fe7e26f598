//! Read-mostly rows kept in memory: apps, connections and an app's connection list, read on every login
//! and refresh and changed only by an admin (or, for a connection's state, by a rare WeCom event).
//!
//! Invalidation holds across instances:
//! - every statement of this store that writes `apps`, `app_connections` or `connections` empties the cache
//!   after it ran (`SqlStore::exec` and friends decide, so no write path can forget);
//! - SQLite held exclusively by this process (or in memory): nobody else writes, that is the whole story;
//!   a file shared with other processes (`normal` locking) is not cached;
//! - PostgreSQL: triggers on those tables `NOTIFY wegate_cache` in the writing transaction (whoever writes,
//!   psql included), and every instance `LISTEN`s (`listen_for_changes`), emptying its cache on each
//!   notification. Without a live listener (at start, after a lost connection) the cache is dark: every read
//!   goes to the database, and nothing is kept, until the listener is back.
//!
//! A read that raced with a write must not put the old row back: each entry is only kept if nothing was
//! invalidated since the read began (`generation`).

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
    /// Whether entries may be served and kept (PostgreSQL: while the listener is up).
    dark: bool,
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
    /// A cache that serves nothing until [`ReadCache::set_live`] (PostgreSQL, before its listener is up).
    pub fn dark() -> ReadCache {
        let cache = ReadCache::default();
        cache.with(|e| e.dark = true);
        cache
    }

    /// Live: entries are served and kept; dark: not, and everything goes. Either way the generation moves,
    /// so that a read begun before cannot keep what it read.
    pub fn set_live(&self, live: bool) {
        self.invalidate();
        self.with(|e| e.dark = !live);
    }

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
            if e.dark || e.generation != read_at {
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
        self.with(|e| e.apps.get(client_id).filter(|_| !e.dark).cloned())
    }

    pub fn keep_app(&self, read_at: u64, app: &App) {
        self.keep(read_at, |e| {
            e.apps.insert(app.client_id.clone(), app.clone());
        });
    }

    pub fn connection(&self, identifier: &str) -> Option<Connection> {
        self.with(|e| e.connections.get(identifier).filter(|_| !e.dark).cloned())
    }

    pub fn keep_connection(&self, read_at: u64, connection: &Connection) {
        self.keep(read_at, |e| {
            e.connections.insert(connection.identifier.clone(), connection.clone());
        });
    }

    pub fn app_connections(&self, client_id: &str) -> Option<Vec<Connection>> {
        self.with(|e| e.app_connections.get(client_id).filter(|_| !e.dark).cloned())
    }

    pub fn keep_app_connections(&self, read_at: u64, client_id: &str, connections: &[Connection]) {
        self.keep(read_at, |e| {
            e.app_connections.insert(client_id.to_string(), connections.to_vec());
        });
    }
}

/// The PostgreSQL notification channel of cached-table changes.
pub(crate) const CHANNEL: &str = "wegate_cache";

/// Triggers that notify [`CHANNEL`] in every transaction that writes a cached table. PostgreSQL only (SQLite
/// has no notifications), so they are set up at start after the migrations rather than in the shared
/// schema; idempotent, and serialised by an advisory lock when several instances start at once.
pub(crate) const PG_TRIGGERS: &str = r#"
BEGIN;
SELECT pg_advisory_xact_lock(7305, 2);
CREATE OR REPLACE FUNCTION wegate_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wegate_cache', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS wegate_cache_apps ON apps;
CREATE TRIGGER wegate_cache_apps AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON apps
    FOR EACH STATEMENT EXECUTE FUNCTION wegate_cache_notify();
DROP TRIGGER IF EXISTS wegate_cache_app_connections ON app_connections;
CREATE TRIGGER wegate_cache_app_connections AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON app_connections
    FOR EACH STATEMENT EXECUTE FUNCTION wegate_cache_notify();
DROP TRIGGER IF EXISTS wegate_cache_connections ON connections;
CREATE TRIGGER wegate_cache_connections AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION wegate_cache_notify();
COMMIT;
"#;

/// Keeps the cache live while a `LISTEN` on [`CHANNEL`] is up, emptying it on every notification; dark
/// while the listener is down (reconnecting every second). Ends when the store's pool is closed or its cache
/// dropped.
pub(crate) async fn listen_for_changes(pool: sqlx::PgPool, cache: std::sync::Weak<ReadCache>) {
    use sqlx::postgres::PgListener;
    let gone = |pool: &sqlx::PgPool| pool.is_closed() || cache.strong_count() == 0;
    let with_cache = |f: &dyn Fn(&ReadCache)| {
        if let Some(cache) = cache.upgrade() {
            f(&cache);
        }
    };
    while !gone(&pool) {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(mut listener) => {
                with_cache(&|c| c.set_live(true));
                loop {
                    tokio::select! {
                        received = listener.try_recv() => match received {
                            Ok(Some(_)) => with_cache(&|c| c.invalidate()),
                            // The connection was lost: notifications may have been missed.
                            Ok(None) | Err(_) => break,
                        },
                        () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                            if gone(&pool) {
                                return;
                            }
                        }
                    }
                }
                with_cache(&|c| c.set_live(false));
                tracing::warn!(
                    "the cache's PostgreSQL listener was interrupted; reading from the database until it is back"
                );
            }
            Err(e) => {
                with_cache(&|c| c.set_live(false));
                if gone(&pool) {
                    return;
                }
                tracing::warn!("the cache's PostgreSQL listener could not start: {e}");
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Whether a statement may change a cached table: anything but a SELECT that names one.
pub(crate) fn writes_cached_table(sql: &str) -> bool {
    !super::db::starts_with_keyword(sql, "select") && (sql.contains("apps") || sql.contains("connections"))
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
    fn a_dark_cache_serves_and_keeps_nothing() {
        let cache = ReadCache::dark();
        cache.keep_app(cache.generation(), &app("a"));
        assert!(cache.app("c").is_none());
        cache.set_live(true);
        cache.keep_app(cache.generation(), &app("a"));
        assert!(cache.app("c").is_some());
        let read_at = cache.generation();
        cache.set_live(false);
        assert!(cache.app("c").is_none(), "nothing served while dark");
        cache.set_live(true);
        cache.keep_app(read_at, &app("stale"));
        assert!(cache.app("c").is_none(), "a read begun before the listener dropped is not kept");
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
