//! The conformance suite of [`Store`]: what every backend must do, written once against `Arc<dyn Store>`.
//!
//! One `pub async fn` per rule, named after it, in the file of its aggregate (`apps.rs`, `users.rs`, ... as
//! in the store itself; `paging.rs` for the lists of several). `behaviours!` lists them all; `stamp!` turns
//! the list into one `#[tokio::test]` per rule and backend (so failures are reported per rule, and rules run
//! in parallel), and [`run_all`] runs the whole list against any other implementation. SQLite runs always,
//! each test on a fresh file; PostgreSQL runs when `WEGATE_TEST_POSTGRES_URL` names a server (each test
//! creates, then drops, a database of its own) and otherwise passes after saying it was skipped.
//!
//! Times are fixed ([`NOW`]) and passed in, as everywhere in the store. Concurrency rules spawn tasks on a
//! multi-threaded runtime against one shared store: the race goes through the pool to the database, as it
//! would between instances.

mod apps;
mod audit;
mod connections;
mod fixtures;
mod grants;
mod keys;
mod paging;
mod sessions;
mod upstream;
mod users;

pub use apps::*;
pub use audit::*;
pub use connections::*;
pub use grants::*;
pub use keys::*;
pub use paging::*;
pub use sessions::*;
pub use upstream::*;
pub use users::*;

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::{BoxFuture, join_all};

use super::prelude::*;
use super::sql::{PoolSettings, SqlStore};
pub use fixtures::NOW;
use fixtures::new_user;

// ---------------------------------------------------------------- the list, and how it is run

/// Calls `$then!` with the name of every rule (after the tokens given). Add a rule here and it runs on
/// every backend.
macro_rules! behaviours {
    ($then:ident ! { $($args:tt)* }) => {
        $then! { $($args)* ;
            // keys.rs
            signing_key_bootstrap_races_to_one_key,
            each_algorithm_has_its_own_active_key,
            one_next_key_waits_per_algorithm_and_gives_its_slot_up_once_it_signs,
            // apps.rs
            app_crud_round_trips,
            an_apps_backchannel_logout_uri_is_set_and_removed,
            app_association_is_ordered_and_idempotent,
            deletes_cascade_to_associations_and_corps,
            // connections.rs
            connection_crud_round_trips,
            connection_state_merge_is_shallow,
            concurrent_state_merges_lose_nothing,
            the_first_claim_of_a_state_key_wins,
            // users.rs
            user_crud_round_trips,
            an_identity_is_read_with_its_user,
            user_uniqueness_is_normalised,
            find_user_by_login_uses_normalised_fields,
            matching_ignores_absent_fields,
            profile_update_skips_conflicting_fields,
            create_user_with_identity_is_all_or_nothing,
            identity_links_are_unique,
            deleting_user_removes_identities_sessions_and_tokens,
            login_failures_count_within_a_window_and_clear,
            users_are_disabled_and_enabled,
            identities_are_renamed_to_a_free_subject,
            // sessions.rs
            login_tx_round_trips_and_expires,
            login_tx_take_is_atomic,
            login_tx_take_for_checks_browser_and_connection,
            sessions_expire_and_can_be_deleted,
            a_browser_keeps_its_newest_login_transactions,
            a_users_sessions_end_together,
            // grants.rs
            another_clients_code_is_not_consumed,
            auth_code_is_single_use,
            redeeming_reads_the_user_and_the_origin_with_the_consume,
            concurrent_code_redemption_is_honoured_once,
            refresh_token_reuse_reports_replayed,
            concurrent_refresh_redemption_is_honoured_once,
            revoked_grant_tokens_are_not_found,
            access_token_revocation_is_remembered,
            grant_origins_round_trip_and_list_the_users_live_grants,
            a_grant_starts_with_its_origin_and_code_or_not_at_all,
            a_refresh_family_keeps_its_origin_and_revocation_drops_it,
            // upstream.rs
            upstream_token_invalidation_is_compare_and_delete,
            lease_excludes_other_owners_until_expiry,
            suite_ticket_newest_wins,
            authorized_corps_upsert_and_list,
            remember_callback_reports_first_sight_once,
            // audit.rs
            ping_answers,
            audit_pages_newest_first,
            audit_ids_follow_the_event_time,
            sweep_removes_only_expired,
            audit_is_pruned_before_the_cutoff_only,
            // paging.rs
            pagination_walks_all_items,
        }
    };
}

macro_rules! define_run_all {
    (; $($rule:ident),* $(,)?) => {
        /// Runs every rule, each on a fresh store from `make`, one after another. For implementations that
        /// are not stamped below (a test double, say); the backends here get one test per rule instead.
        pub async fn run_all<F, Fut>(make: F)
        where
            F: Fn() -> Fut,
            Fut: Future<Output = Arc<dyn Store>>,
        {
            $( $rule(make().await).await; )*
        }
    };
}

behaviours!(define_run_all! {});

/// One `#[tokio::test]` per rule, running it through `$harness` (a fn taking the rule as a boxed closure).
macro_rules! stamp {
    ($harness:path; $($rule:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $rule() {
                $harness(|store| Box::pin(super::$rule(store))).await;
            }
        )*
    };
}

// ---------------------------------------------------------------- test databases

/// A database of its own for one test: a temporary SQLite file, or a PostgreSQL database created on the
/// server named by `WEGATE_TEST_POSTGRES_URL` and dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("wegate.db").display());
        TestDatabase { url, _dir: Some(dir), postgres: None }
    }

    /// None (after saying so, once) when no server is configured.
    pub async fn postgres() -> Option<TestDatabase> {
        static SKIPPED: std::sync::Once = std::sync::Once::new();
        let Ok(server) = std::env::var("WEGATE_TEST_POSTGRES_URL") else {
            // Straight to stderr, past the test harness's capture, so a plain `cargo test` shows it.
            SKIPPED.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "PostgreSQL tests skipped: set WEGATE_TEST_POSTGRES_URL");
            });
            return None;
        };
        use sqlx::{Connection as _, Executor as _};
        let name = format!("wegate_t_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect to WEGATE_TEST_POSTGRES_URL");
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create the test database");
        let _ = admin.close().await;
        let url = with_database(&server, &name);
        Some(TestDatabase { url, _dir: None, postgres: Some((server, name)) })
    }

    /// Best effort: a database left behind is only litter.
    pub async fn remove(self) {
        use sqlx::{Connection as _, Executor as _};
        if let Some((server, name)) = &self.postgres
            && let Ok(mut admin) = sqlx::PgConnection::connect(server).await
        {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
            let _ = admin.close().await;
        }
    }
}

/// The URL of database `name` on the server of `server_url` (path replaced, query kept).
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    let mut url = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Opens a store on `db`, runs `rule` on it, then closes and removes the database even if the rule panicked.
pub async fn run_on<F>(db: TestDatabase, backend: &str, rule: F)
where
    F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, ()>,
{
    let store = match SqlStore::connect(&db.url, &PoolSettings::default()).await {
        Ok(store) => Arc::new(store),
        Err(e) => {
            db.remove().await;
            panic!("opening the store: {e}");
        }
    };
    assert_eq!(store.backend(), backend);
    let outcome = std::panic::AssertUnwindSafe(rule(store.clone())).catch_unwind().await;
    store.close().await;
    db.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub async fn on_sqlite<F>(rule: F)
where
    F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, ()>,
{
    run_on(TestDatabase::sqlite(), "sqlite", rule).await;
}

pub async fn on_postgres<F>(rule: F)
where
    F: FnOnce(Arc<dyn Store>) -> BoxFuture<'static, ()>,
{
    if let Some(db) = TestDatabase::postgres().await {
        run_on(db, "postgres", rule).await;
    }
}

/// Settings for several stores on one database (SQLite's file shared, not held by the first).
pub fn shared() -> PoolSettings {
    PoolSettings { sqlite_locking: super::sql::SqliteLocking::Normal, ..PoolSettings::default() }
}

/// Several instances starting at once on a fresh database all come up (migrations are serialised).
async fn concurrent_startups_migrate_once(db: TestDatabase) {
    let url = db.url.clone();
    let started = join_all((0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { SqlStore::connect(&url, &shared()).await })
    }))
    .await;
    let mut failures = Vec::new();
    for store in started {
        match store.expect("task") {
            Ok(store) => store.close().await,
            Err(e) => failures.push(e.to_string()),
        }
    }
    db.remove().await;
    assert!(failures.is_empty(), "instances failed to start: {failures:?}");
}

/// Two instances on one database: an app renamed (and then deleted) through one is seen by the other,
/// however much the other caches. PostgreSQL's notification takes a moment: the other is polled for
/// `within`.
async fn another_instances_change_is_seen(db: TestDatabase, within: std::time::Duration, cached: bool) {
    let a = SqlStore::connect(&db.url, &shared()).await.expect("instance a");
    let b = SqlStore::connect(&db.url, &shared()).await.expect("instance b");
    a.create_app(fixtures::app("web")).await.expect("create");
    // Read through A until it serves the app from memory (PostgreSQL: once its listener is up), so that
    // the rest tests the invalidation, not an empty cache.
    let mut from_memory = false;
    for _ in 0..100 {
        assert_eq!(a.get_app("web").await.expect("get").map(|x| x.name), Some(fixtures::app("web").name));
        let before = a.statements().get();
        a.get_app("web").await.expect("get");
        if a.statements().get() == before {
            from_memory = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(from_memory, cached, "whether instance a caches apps");
    let update = crate::store::AppUpdate { name: Some("renamed".into()), ..Default::default() };
    b.update_app("web", update, NOW + 1).await.expect("rename through b");
    let seen = |want: Option<&'static str>| {
        let a = a.clone();
        async move {
            let deadline = std::time::Instant::now() + within;
            loop {
                let name = a.get_app("web").await.expect("get").map(|x| x.name);
                if name.as_deref() == want {
                    return true;
                }
                if std::time::Instant::now() >= deadline {
                    return false;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    let renamed = seen(Some("renamed")).await;
    b.delete_app("web").await.expect("delete through b");
    let deleted = seen(None).await;
    a.close().await;
    b.close().await;
    db.remove().await;
    assert!(renamed, "instance a kept serving the old app after b renamed it");
    assert!(deleted, "instance a kept serving an app b deleted");
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn another_instances_change_is_seen_at_once() {
        // A file shared by two stores is not cached (`normal` locking).
        another_instances_change_is_seen(TestDatabase::sqlite(), std::time::Duration::ZERO, false).await;
    }

    behaviours!(stamp! { super::on_sqlite });

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn startups_race_safely() {
        concurrent_startups_migrate_once(TestDatabase::sqlite()).await;
    }

    #[tokio::test]
    async fn in_memory_database_is_one_shared_connection() {
        let store = SqlStore::connect("sqlite::memory:", &PoolSettings::default()).await.expect("open");
        store.create_user(new_user("u1")).await.expect("create");
        // Another query, possibly on another pooled connection, sees the same database.
        let found = join_all((0..4).map(|_| store.get_user("u1"))).await;
        assert!(found.into_iter().all(|u| u.expect("get").is_some()));
    }

    #[test]
    fn test_database_urls_replace_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://u:p@h/test?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }
}

mod postgres {
    use super::*;

    behaviours!(stamp! { super::on_postgres });

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn startups_race_safely() {
        if let Some(db) = TestDatabase::postgres().await {
            concurrent_startups_migrate_once(db).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn another_instances_change_is_seen_within_a_second() {
        if let Some(db) = TestDatabase::postgres().await {
            another_instances_change_is_seen(db, std::time::Duration::from_secs(1), true).await;
        }
    }
}
