//! The conformance suite of [`Store`]: what every backend must do, written once against `Arc<dyn Store>`.
//!
//! One `pub async fn` per rule, named after it. `behaviours!` lists them; `stamp!` turns the list into one
//! `#[tokio::test]` per rule and backend (so failures are reported per rule, and rules run in parallel), and
//! [`run_all`] runs the whole list against any other implementation. SQLite runs always, each test on a fresh
//! file; PostgreSQL runs when `WEGATE_TEST_POSTGRES_URL` names a server (each test creates, then drops, a
//! database of its own) and otherwise passes after saying it was skipped.
//!
//! Times are fixed ([`NOW`]) and passed in, as everywhere in the store. Concurrency rules spawn tasks on a
//! multi-threaded runtime against one shared store: the race goes through the pool to the database, as it
//! would between instances.

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::{BoxFuture, join_all};
use serde_json::json;

use super::sql::{PoolSettings, SqlStore};
use super::{
    App, AppKind, AppUpdate, AuditEvent, AuthCode, AuthorizedCorp, CachedToken, Connection, Consumed, Identity,
    LoginFailures, LoginTx, MatchQuery, NewUser, ProfileUpdate, RefreshToken, Session, SigningKey, Store, StoreError,
    SuiteTicket, Timestamp,
};

/// The clock of every rule.
pub const NOW: Timestamp = 1_700_000_000;

// ---------------------------------------------------------------- fixtures

fn app(client_id: &str) -> App {
    App {
        client_id: client_id.into(),
        name: format!("App {client_id}"),
        kind: AppKind::Web,
        client_secret_hash: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        redirect_uris: vec![format!("https://{client_id}.example.com/callback")],
        post_logout_redirect_uris: vec![],
        created_at: NOW,
        updated_at: NOW,
    }
}

fn connection(identifier: &str) -> Connection {
    Connection {
        identifier: identifier.into(),
        kind: "wecom_internal".into(),
        display_name: format!("WeCom {identifier}"),
        login_only: false,
        association: json!({"mode": "match", "fields": ["email"]}),
        settings: json!({"corp_id": "ww0123456789abcdef", "agent_id": 1000002}),
        secrets: json!({"secret": "s3cr3t"}),
        state: json!({}),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn new_user(id: &str) -> NewUser {
    NewUser { id: id.into(), claims: json!({}), created_at: NOW, ..NewUser::default() }
}

fn identity(upstream: &str, subject: &str, user_id: &str) -> Identity {
    Identity {
        upstream: upstream.into(),
        subject: subject.into(),
        user_id: user_id.into(),
        connection: "wecom".into(),
        profile: json!({"userid": subject}),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn signing_key(kid: &str) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "RS256".into(),
        private_pem: format!("-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----\n"),
        public_jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"}),
        created_at: NOW,
        retired_at: None,
    }
}

fn login_tx(id: &str, expires_at: Timestamp) -> LoginTx {
    LoginTx {
        id: id.into(),
        browser_hash: "b".repeat(64),
        client_id: "app".into(),
        redirect_uri: "https://app.example.com/callback".into(),
        scope: "openid profile".into(),
        state: Some("af0ifjsldkj".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        response_mode: None,
        prompt: None,
        max_age: Some(3600),
        ui_locales: Some("zh-CN".into()),
        connection: None,
        data: json!({}),
        created_at: NOW,
        expires_at,
    }
}

fn auth_code(code_hash: &str, expires_at: Timestamp) -> AuthCode {
    AuthCode {
        code_hash: code_hash.into(),
        grant_id: format!("grant-of-{code_hash}"),
        client_id: "app".into(),
        user_id: "user".into(),
        redirect_uri: "https://app.example.com/callback".into(),
        scope: "openid".into(),
        nonce: Some("nonce".into()),
        code_challenge: None,
        code_challenge_method: None,
        session_id: Some("session".into()),
        auth_time: NOW - 5,
        amr: "wecom_qrcode".into(),
        created_at: NOW,
        expires_at,
    }
}

fn refresh_token(token_hash: &str, grant_id: &str, expires_at: Timestamp) -> RefreshToken {
    RefreshToken {
        token_hash: token_hash.into(),
        grant_id: grant_id.into(),
        client_id: "app".into(),
        user_id: "user".into(),
        scope: "openid offline_access".into(),
        session_id: None,
        auth_time: NOW - 5,
        amr: "pwd".into(),
        created_at: NOW,
        expires_at,
    }
}

fn session(id_hash: &str, user_id: &str, expires_at: Timestamp) -> Session {
    Session {
        id_hash: id_hash.into(),
        user_id: user_id.into(),
        auth_time: NOW,
        amr: "pwd".into(),
        created_at: NOW,
        expires_at,
    }
}

fn corp(connection: &str, corp_id: &str) -> AuthorizedCorp {
    AuthorizedCorp {
        connection: connection.into(),
        corp_id: corp_id.into(),
        corp_name: Some(format!("Corp {corp_id}")),
        agent_id: Some(1000002),
        permanent_code: Some("permanent".into()),
        status: "active".into(),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn audit(at: Timestamp, event: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        at,
        event: event.into(),
        client_id: Some("app".into()),
        connection: None,
        user_id: None,
        upstream_subject: Some("wecom:ww1/zhangsan".into()),
        reason: None,
    }
}

fn conflict_on(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(field)) => field,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn is_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

/// Runs `n` copies of `f` at once on the runtime's threads and collects their results.
async fn race<T, F, Fut>(store: &Arc<dyn Store>, n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(store.clone(), i))).collect();
    join_all(tasks).await.into_iter().map(|r| r.expect("task panicked")).collect()
}

// ---------------------------------------------------------------- the rules

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

pub async fn each_algorithm_has_its_own_active_key(store: Arc<dyn Store>) {
    let rsa = store.ensure_active_signing_key(signing_key("rsa")).await.expect("rsa");
    let ec = SigningKey { alg: "ES256".into(), ..signing_key("ec") };
    let got = store.ensure_active_signing_key(ec.clone()).await.expect("ec");
    assert_eq!(got.kid, "ec", "an ES256 key does not take the RS256 slot");
    let again = store.ensure_active_signing_key(SigningKey { alg: "ES256".into(), ..signing_key("ec2") }).await;
    assert_eq!(again.expect("ec again").kid, "ec", "first ES256 key wins");
    assert_eq!(store.ensure_active_signing_key(signing_key("rsa2")).await.expect("rsa again").kid, rsa.kid);
    let kids: Vec<_> = store.list_signing_keys().await.expect("list").into_iter().map(|k| k.kid).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&"rsa".to_string()) && kids.contains(&"ec".to_string()));
}

pub async fn signing_key_bootstrap_races_to_one_key(store: Arc<dyn Store>) {
    let kids = race(&store, 8, |s, i| async move {
        s.ensure_active_signing_key(signing_key(&format!("kid-{i}"))).await.expect("ensure key").kid
    })
    .await;
    let winner = kids[0].clone();
    assert!(kids.iter().all(|k| *k == winner), "instances disagree on the active key: {kids:?}");

    let keys = store.list_signing_keys().await.expect("list keys");
    assert_eq!(keys.len(), 1, "exactly one key was stored");
    let expected = signing_key(&winner);
    assert_eq!(keys[0].kid, expected.kid);
    assert_eq!(keys[0].private_pem, expected.private_pem);
    assert_eq!(keys[0].public_jwk, expected.public_jwk);
    assert_eq!(keys[0].retired_at, None);

    let later = store.ensure_active_signing_key(signing_key("late")).await.expect("ensure again");
    assert_eq!(later.kid, winner, "a later candidate does not replace the active key");
    assert_eq!(store.list_signing_keys().await.expect("list keys").len(), 1);
}

pub async fn app_crud_round_trips(store: Arc<dyn Store>) {
    let created = store.create_app(app("app-1")).await.expect("create");
    assert_eq!(created, app("app-1"));
    assert_eq!(store.get_app("app-1").await.expect("get"), Some(app("app-1")));
    assert_eq!(store.get_app("nope").await.expect("get"), None);
    assert_eq!(conflict_on(store.create_app(app("app-1")).await), "client_id");

    let renamed = store
        .update_app("app-1", AppUpdate { name: Some("Renamed".into()), ..AppUpdate::default() }, NOW + 10)
        .await
        .expect("update");
    assert_eq!(renamed.name, "Renamed");
    assert_eq!(renamed.redirect_uris, app("app-1").redirect_uris, "None keeps the stored value");
    assert_eq!(renamed.client_secret_hash, app("app-1").client_secret_hash);
    assert_eq!((renamed.created_at, renamed.updated_at), (NOW, NOW + 10));

    let update = AppUpdate {
        redirect_uris: Some(vec!["https://a.example/cb".into(), "https://b.example/cb".into()]),
        post_logout_redirect_uris: Some(vec!["https://a.example/".into()]),
        client_secret_hash: Some("new-hash".into()),
        ..AppUpdate::default()
    };
    store.update_app("app-1", update, NOW + 20).await.expect("update");
    let stored = store.get_app("app-1").await.expect("get").expect("present");
    assert_eq!(stored.name, "Renamed");
    assert_eq!(stored.redirect_uris, ["https://a.example/cb", "https://b.example/cb"]);
    assert_eq!(stored.post_logout_redirect_uris, ["https://a.example/"]);
    assert_eq!(stored.client_secret_hash.as_deref(), Some("new-hash"));
    assert!(is_not_found(store.update_app("nope", AppUpdate::default(), NOW).await));

    let mut spa = app("app-2");
    spa.kind = AppKind::Spa;
    spa.client_secret_hash = None;
    store.create_app(spa.clone()).await.expect("create spa");
    assert_eq!(store.get_app("app-2").await.expect("get"), Some(spa));

    store.delete_app("app-1").await.expect("delete");
    assert_eq!(store.get_app("app-1").await.expect("get"), None);
    assert!(is_not_found(store.delete_app("app-1").await));
}

pub async fn connection_crud_round_trips(store: Arc<dyn Store>) {
    let mut original = connection("corp");
    original.state = json!({"event_url_verified": true});
    assert_eq!(store.create_connection(original.clone()).await.expect("create"), original);
    assert_eq!(store.get_connection("corp").await.expect("get"), Some(original.clone()));
    assert_eq!(store.get_connection("nope").await.expect("get"), None);
    assert_eq!(conflict_on(store.create_connection(connection("corp")).await), "identifier");

    let mut changed = original.clone();
    changed.display_name = "Sign in with WeCom".into();
    changed.login_only = true;
    changed.association = json!({"mode": "none"});
    changed.settings = json!({"corp_id": "ww1", "agent_id": 7});
    changed.secrets = json!({"secret": "rotated"});
    changed.updated_at = NOW + 5;
    // What update_connection must not touch:
    changed.kind = "wecom_third_party".into();
    changed.state = json!({"overwritten": true});
    changed.created_at = NOW + 5;
    let updated = store.update_connection(changed.clone()).await.expect("update");
    let stored = store.get_connection("corp").await.expect("get").expect("present");
    assert_eq!(updated, stored);
    assert_eq!(stored.display_name, changed.display_name);
    assert!(stored.login_only);
    assert_eq!(stored.association, changed.association);
    assert_eq!(stored.settings, changed.settings);
    assert_eq!(stored.secrets, changed.secrets);
    assert_eq!(stored.updated_at, NOW + 5);
    assert_eq!(stored.kind, original.kind, "kind is kept");
    assert_eq!(stored.state, original.state, "state is kept");
    assert_eq!(stored.created_at, original.created_at, "created_at is kept");
    assert!(is_not_found(store.update_connection(connection("nope")).await));

    store.delete_connection("corp").await.expect("delete");
    assert_eq!(store.get_connection("corp").await.expect("get"), None);
    assert!(is_not_found(store.delete_connection("corp").await));
}

pub async fn connection_state_merge_is_shallow(store: Arc<dyn Store>) {
    let mut c = connection("corp");
    c.state = json!({"a": 1, "nested": {"x": 1}});
    store.create_connection(c).await.expect("create");

    store.merge_connection_state("corp", json!({"b": 2, "nested": {"y": 2}}), NOW + 3).await.expect("merge");
    let stored = store.get_connection("corp").await.expect("get").expect("present");
    assert_eq!(stored.state, json!({"a": 1, "b": 2, "nested": {"y": 2}}));
    assert_eq!(stored.updated_at, NOW + 3);
    assert!(is_not_found(store.merge_connection_state("nope", json!({"a": 1}), NOW).await));
}

pub async fn concurrent_state_merges_lose_nothing(store: Arc<dyn Store>) {
    store.create_connection(connection("corp")).await.expect("create");
    race(&store, 8, |s, i| async move {
        s.merge_connection_state("corp", json!({ format!("k{i}"): i }), NOW).await.expect("merge");
    })
    .await;
    let state = store.get_connection("corp").await.expect("get").expect("present").state;
    for i in 0..8 {
        assert_eq!(state[format!("k{i}")], json!(i), "merge {i} was lost: {state}");
    }
}

pub async fn app_association_is_ordered_and_idempotent(store: Arc<dyn Store>) {
    store.create_app(app("app")).await.expect("app");
    store.create_app(app("other")).await.expect("app");
    for id in ["c-b", "c-a", "c-c"] {
        store.create_connection(connection(id)).await.expect("connection");
    }
    for id in ["c-b", "c-a", "c-c"] {
        store.associate("app", id).await.expect("associate");
    }
    store.associate("app", "c-b").await.expect("associating twice is fine");
    store.associate("other", "c-a").await.expect("associate");

    let order = |list: Vec<Connection>| list.into_iter().map(|c| c.identifier).collect::<Vec<_>>();
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-b", "c-a", "c-c"], "association order");
    assert_eq!(store.app_connections("app").await.expect("list")[0], connection("c-b"), "whole connections");
    assert_eq!(store.connection_apps("c-a").await.expect("apps"), ["app", "other"]);
    assert_eq!(store.connection_apps("c-c").await.expect("apps"), ["app"]);

    store.dissociate("app", "c-a").await.expect("dissociate");
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-b", "c-c"]);
    assert!(is_not_found(store.dissociate("app", "c-a").await));
    store.associate("app", "c-a").await.expect("associate again");
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-b", "c-c", "c-a"], "re-added last");

    assert!(is_not_found(store.associate("missing-app", "c-a").await));
    assert!(is_not_found(store.associate("app", "missing-connection").await));
    assert!(store.app_connections("missing-app").await.expect("list").is_empty());
}

pub async fn deletes_cascade_to_associations_and_corps(store: Arc<dyn Store>) {
    for a in ["app-1", "app-2"] {
        store.create_app(app(a)).await.expect("app");
    }
    for c in ["conn-1", "conn-2"] {
        store.create_connection(connection(c)).await.expect("connection");
        for a in ["app-1", "app-2"] {
            store.associate(a, c).await.expect("associate");
        }
    }
    store.upsert_authorized_corp(corp("conn-1", "ww1")).await.expect("corp");
    store.upsert_authorized_corp(corp("conn-2", "ww2")).await.expect("corp");
    store.create_user(new_user("u1")).await.expect("user");
    let mut linked = identity("wecom:ww1", "zhangsan", "u1");
    linked.connection = "conn-1".into();
    store.link_identity(linked.clone()).await.expect("link");

    store.delete_connection("conn-1").await.expect("delete connection");
    let ids = |list: Vec<Connection>| list.into_iter().map(|c| c.identifier).collect::<Vec<_>>();
    assert_eq!(ids(store.app_connections("app-1").await.expect("list")), ["conn-2"]);
    assert!(store.connection_apps("conn-1").await.expect("apps").is_empty());
    assert!(store.list_authorized_corps("conn-1").await.expect("corps").is_empty());
    assert_eq!(store.list_authorized_corps("conn-2").await.expect("corps").len(), 1);
    assert_eq!(store.get_identity("wecom:ww1", "zhangsan").await.expect("identity"), Some(linked), "identities stay");
    assert!(store.get_user("u1").await.expect("user").is_some(), "users stay");

    store.delete_app("app-1").await.expect("delete app");
    assert_eq!(store.connection_apps("conn-2").await.expect("apps"), ["app-2"]);
    // The identifier and client id are free again, with no stale association.
    store.create_connection(connection("conn-1")).await.expect("recreate connection");
    store.create_app(app("app-1")).await.expect("recreate app");
    assert!(store.app_connections("app-1").await.expect("list").is_empty());
    assert!(store.connection_apps("conn-1").await.expect("apps").is_empty());
}

pub async fn user_crud_round_trips(store: Arc<dyn Store>) {
    let full = NewUser {
        id: "u1".into(),
        username: Some("zhangsan".into()),
        email: Some("Zhang.San@Example.com".into()),
        phone: Some("+86 138 0013 8000".into()),
        name: Some("张三".into()),
        picture: Some("https://wework.qpic.cn/avatar/0".into()),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        claims: json!({"wecom_corp_id": "ww1", "wecom_department": [1, 2]}),
        created_at: NOW,
    };
    let created = store.create_user(full.clone()).await.expect("create");
    let stored = store.get_user("u1").await.expect("get").expect("present");
    assert_eq!(created, stored);
    assert_eq!(stored.email.as_deref(), Some("Zhang.San@Example.com"), "stored as given");
    assert_eq!(stored.phone.as_deref(), Some("+86 138 0013 8000"), "stored as given");
    assert_eq!(stored.name.as_deref(), Some("张三"));
    assert_eq!(stored.password_hash, full.password_hash);
    assert_eq!(stored.claims, full.claims);
    assert_eq!((stored.created_at, stored.updated_at), (NOW, NOW));

    let bare = store.create_user(new_user("u2")).await.expect("create bare");
    assert_eq!(store.get_user("u2").await.expect("get"), Some(bare));
    assert_eq!(store.get_user("nope").await.expect("get"), None);
    assert!(matches!(store.create_user(new_user("u2")).await, Err(StoreError::Conflict(_))), "ids are unique");

    store.delete_user("u1").await.expect("delete");
    assert_eq!(store.get_user("u1").await.expect("get"), None);
    assert!(is_not_found(store.delete_user("u1").await));
}

pub async fn user_uniqueness_is_normalised(store: Arc<dyn Store>) {
    let first = NewUser {
        username: Some("Alice".into()),
        email: Some("Alice@Example.com".into()),
        phone: Some("+86 138 0013 8000".into()),
        ..new_user("u1")
    };
    store.create_user(first).await.expect("create");

    let taken = |id: &str| new_user(id);
    assert_eq!(
        conflict_on(store.create_user(NewUser { username: Some(" alice".into()), ..taken("u2") }).await),
        "username"
    );
    assert_eq!(
        conflict_on(store.create_user(NewUser { email: Some("alice@example.COM ".into()), ..taken("u3") }).await),
        "email"
    );
    assert_eq!(
        conflict_on(store.create_user(NewUser { phone: Some("138-0013-8000".into()), ..taken("u4") }).await),
        "phone"
    );
    assert_eq!(
        conflict_on(store.create_user(NewUser { phone: Some("8613800138000".into()), ..taken("u5") }).await),
        "phone"
    );

    // Absent fields never collide.
    for id in ["u6", "u7", "u8"] {
        store.create_user(new_user(id)).await.expect("users without username, email or phone");
    }
    // Different values are fine.
    store
        .create_user(NewUser {
            username: Some("bob".into()),
            email: Some("bob@example.com".into()),
            phone: Some("13900139000".into()),
            ..new_user("u9")
        })
        .await
        .expect("distinct user");
    for id in ["u2", "u3", "u4", "u5"] {
        assert_eq!(store.get_user(id).await.expect("get"), None, "a refused user is not stored");
    }
}

pub async fn find_user_by_login_uses_normalised_fields(store: Arc<dyn Store>) {
    let user = NewUser {
        username: Some("Zhang.San".into()),
        email: Some("zs@Example.com".into()),
        phone: Some("13800138000".into()),
        ..new_user("u1")
    };
    store.create_user(user).await.expect("create");
    store.create_user(NewUser { username: Some("other".into()), ..new_user("u2") }).await.expect("create");

    for login in ["zhang.san", "ZHANG.SAN", "ZS@example.com", "+86 138-0013-8000", "13800138000"] {
        let found = store.find_user_by_login(login).await.expect("find");
        assert_eq!(found.map(|u| u.id).as_deref(), Some("u1"), "login {login:?}");
    }
    for login in ["nobody", "", "x13800138000", "zs"] {
        assert_eq!(store.find_user_by_login(login).await.expect("find"), None, "login {login:?}");
    }
}

pub async fn matching_ignores_absent_fields(store: Arc<dyn Store>) {
    store.create_user(NewUser { email: Some("a@x.com".into()), ..new_user("ua") }).await.expect("ua");
    store.create_user(NewUser { phone: Some("13900000000".into()), ..new_user("ub") }).await.expect("ub");
    store.create_user(NewUser { username: Some("carol".into()), ..new_user("uc") }).await.expect("uc");
    store
        .create_user(NewUser { email: Some("d@x.com".into()), phone: Some("13700000000".into()), ..new_user("ud") })
        .await
        .expect("ud");

    let ids = |users: Vec<super::User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    let matching = |q: MatchQuery| {
        let store = store.clone();
        async move { ids(store.find_users_matching(&q).await.expect("match")) }
    };
    assert!(matching(MatchQuery::default()).await.is_empty(), "nothing asked, nothing found");
    assert_eq!(matching(MatchQuery { email: Some("A@X.com".into()), ..Default::default() }).await, ["ua"]);
    assert_eq!(matching(MatchQuery { phone: Some("+86 139 0000 0000".into()), ..Default::default() }).await, ["ub"]);
    assert_eq!(matching(MatchQuery { username: Some("CAROL".into()), ..Default::default() }).await, ["uc"]);
    assert_eq!(
        matching(MatchQuery { email: Some("a@x.com".into()), phone: Some("13900000000".into()), username: None }).await,
        ["ua", "ub"],
        "any field may match"
    );
    assert_eq!(
        matching(MatchQuery { email: Some("d@x.com".into()), phone: Some("13700000000".into()), username: None }).await,
        ["ud"],
        "a user matching twice is listed once"
    );
    assert!(
        matching(MatchQuery { email: Some("".into()), phone: Some(" ".into()), username: Some("".into()) })
            .await
            .is_empty(),
        "blank values match nobody, not the users without the field"
    );
}

pub async fn profile_update_skips_conflicting_fields(store: Arc<dyn Store>) {
    store
        .create_user(NewUser { email: Some("a@x.com".into()), phone: Some("13800138000".into()), ..new_user("u1") })
        .await
        .expect("u1");
    store
        .create_user(NewUser { email: Some("b@x.com".into()), name: Some("Old".into()), ..new_user("u2") })
        .await
        .expect("u2");

    let update = ProfileUpdate {
        name: Some("New".into()),
        email: Some("A@X.com".into()),
        phone: Some("+86 138 0013 8000".into()),
        picture: Some("https://example.com/p.png".into()),
        claims: Some(json!({"wecom_userid": "LiSi"})),
    };
    let updated = store.update_user_profile("u2", update, NOW + 7).await.expect("conflicts are not errors");
    assert_eq!(updated.name.as_deref(), Some("New"));
    assert_eq!(updated.picture.as_deref(), Some("https://example.com/p.png"));
    assert_eq!(updated.claims, json!({"wecom_userid": "LiSi"}));
    assert_eq!(updated.email.as_deref(), Some("b@x.com"), "email held by u1 is skipped");
    assert_eq!(updated.phone, None, "phone held by u1 is skipped");
    assert_eq!(updated.updated_at, NOW + 7);
    assert_eq!(store.get_user("u2").await.expect("get"), Some(updated));

    let kept = store.update_user_profile("u2", ProfileUpdate::default(), NOW + 8).await.expect("no-op update");
    assert_eq!((kept.name.as_deref(), kept.email.as_deref()), (Some("New"), Some("b@x.com")), "None keeps");

    let moved = store
        .update_user_profile("u2", ProfileUpdate { email: Some("B2@x.com".into()), ..Default::default() }, NOW + 9)
        .await
        .expect("update");
    assert_eq!(moved.email.as_deref(), Some("B2@x.com"));
    let same = store
        .update_user_profile("u2", ProfileUpdate { email: Some("b2@X.COM".into()), ..Default::default() }, NOW + 9)
        .await
        .expect("update");
    assert_eq!(same.email.as_deref(), Some("b2@X.COM"), "a user does not conflict with itself");
    assert_eq!(
        conflict_on(store.create_user(NewUser { email: Some("B2@X.com".into()), ..new_user("u3") }).await),
        "email",
        "the normalised form moved with the email"
    );
    store
        .create_user(NewUser { email: Some("b@x.com".into()), ..new_user("u4") })
        .await
        .expect("the old email is free again");
    assert!(is_not_found(store.update_user_profile("nope", ProfileUpdate::default(), NOW).await));
}

pub async fn create_user_with_identity_is_all_or_nothing(store: Arc<dyn Store>) {
    let user = NewUser { email: Some("zs@x.com".into()), ..new_user("u1") };
    let created = store
        .create_user_with_identity(user, identity("wecom:ww1", "zhangsan", "u1"))
        .await
        .expect("create with identity");
    assert_eq!(created.id, "u1");
    assert_eq!(
        store.get_identity("wecom:ww1", "zhangsan").await.expect("get"),
        Some(identity("wecom:ww1", "zhangsan", "u1"))
    );
    assert_eq!(store.user_identities("u1").await.expect("list"), [identity("wecom:ww1", "zhangsan", "u1")]);

    // The identity is taken: the new user must not be left behind.
    let identity_taken = store.create_user_with_identity(new_user("u2"), identity("wecom:ww1", "zhangsan", "u2")).await;
    assert_eq!(conflict_on(identity_taken), "identity");
    assert_eq!(store.get_user("u2").await.expect("get"), None, "no user without its identity");

    // The email is taken: the identity must not be linked to anyone.
    let email_taken = store
        .create_user_with_identity(
            NewUser { email: Some("ZS@x.com".into()), ..new_user("u3") },
            identity("wecom:ww1", "lisi", "u3"),
        )
        .await;
    assert_eq!(conflict_on(email_taken), "email");
    assert_eq!(store.get_user("u3").await.expect("get"), None);
    assert_eq!(store.get_identity("wecom:ww1", "lisi").await.expect("get"), None, "no identity without its user");

    // Both retried without the conflict succeed.
    store.create_user_with_identity(new_user("u3"), identity("wecom:ww1", "lisi", "u3")).await.expect("retry");
    assert_eq!(store.get_identity("wecom:ww1", "lisi").await.expect("get").map(|i| i.user_id).as_deref(), Some("u3"));
}

pub async fn identity_links_are_unique(store: Arc<dyn Store>) {
    store.create_user(new_user("u1")).await.expect("u1");
    store.create_user(new_user("u2")).await.expect("u2");
    store.link_identity(identity("wecom:ww1", "zhangsan", "u1")).await.expect("link");
    store.link_identity(identity("wecom-open:ww1", "woAJ2GCAAA", "u1")).await.expect("second identity");
    assert_eq!(conflict_on(store.link_identity(identity("wecom:ww1", "zhangsan", "u2")).await), "identity");
    assert_eq!(conflict_on(store.link_identity(identity("wecom:ww1", "zhangsan", "u1")).await), "identity");
    assert!(is_not_found(store.link_identity(identity("wecom:ww1", "wangwu", "gone")).await));
    assert_eq!(store.get_identity("wecom:ww1", "wangwu").await.expect("get"), None);
    // Same subject in another identity space is another identity.
    store.link_identity(identity("wecom:ww2", "zhangsan", "u2")).await.expect("other corp");

    let mut ids = store.user_identities("u1").await.expect("list");
    ids.sort_by(|a, b| a.upstream.cmp(&b.upstream));
    assert_eq!(ids, [identity("wecom-open:ww1", "woAJ2GCAAA", "u1"), identity("wecom:ww1", "zhangsan", "u1")]);

    store
        .touch_identity("wecom:ww1", "zhangsan", "wecom-2", json!({"userid": "ZhangSan", "department": [3]}), NOW + 60)
        .await
        .expect("touch");
    let touched = store.get_identity("wecom:ww1", "zhangsan").await.expect("get").expect("present");
    assert_eq!(touched.connection, "wecom-2");
    assert_eq!(touched.profile, json!({"userid": "ZhangSan", "department": [3]}));
    assert_eq!((touched.created_at, touched.updated_at), (NOW, NOW + 60));
    assert_eq!(touched.user_id, "u1");
    assert!(is_not_found(store.touch_identity("wecom:ww1", "nobody", "wecom", json!({}), NOW).await));
}

pub async fn deleting_user_removes_identities_sessions_and_tokens(store: Arc<dyn Store>) {
    for id in ["u1", "u2"] {
        store.create_user(new_user(id)).await.expect("user");
        store.link_identity(identity("wecom:ww1", id, id)).await.expect("link");
        store.put_session(session(&format!("session-{id}"), id, NOW + 3600)).await.expect("session");
        store
            .put_refresh_token(RefreshToken {
                user_id: id.into(),
                ..refresh_token(&format!("rt-{id}"), "g", NOW + 3600)
            })
            .await
            .expect("token");
    }
    store.delete_user("u1").await.expect("delete");
    assert_eq!(store.get_identity("wecom:ww1", "u1").await.expect("identity"), None);
    assert!(store.user_identities("u1").await.expect("identities").is_empty());
    assert_eq!(store.get_session("session-u1", NOW).await.expect("session"), None);
    assert_eq!(store.get_refresh_token("rt-u1", NOW).await.expect("token"), None);
    assert_eq!(store.consume_refresh_token("rt-u1", NOW).await.expect("consume"), Consumed::NotFound);

    assert!(store.get_identity("wecom:ww1", "u2").await.expect("identity").is_some(), "other users untouched");
    assert!(store.get_session("session-u2", NOW).await.expect("session").is_some());
    assert!(store.get_refresh_token("rt-u2", NOW).await.expect("token").is_some());
    // The upstream identity can sign up again.
    store.create_user_with_identity(new_user("u3"), identity("wecom:ww1", "u1", "u3")).await.expect("identity is free");
}

pub async fn login_tx_round_trips_and_expires(store: Arc<dyn Store>) {
    let tx = login_tx("tx1", NOW + 600);
    store.put_login_tx(tx.clone()).await.expect("put");
    assert_eq!(store.get_login_tx("tx1", NOW).await.expect("get"), Some(tx.clone()));
    assert_eq!(store.get_login_tx("tx1", NOW + 599).await.expect("get").map(|t| t.id).as_deref(), Some("tx1"));
    assert_eq!(store.get_login_tx("tx1", NOW + 600).await.expect("get"), None, "expires_at <= now is expired");
    assert_eq!(store.get_login_tx("nope", NOW).await.expect("get"), None);

    let mut changed = tx.clone();
    changed.connection = Some("corp".into());
    changed.data = json!({"pending_bind": {"upstream": "wecom:ww1", "subject": "zhangsan"}});
    changed.expires_at = NOW + 1200;
    changed.scope = "openid email".into(); // not part of an update
    store.update_login_tx(&changed).await.expect("update");
    let stored = store.get_login_tx("tx1", NOW + 900).await.expect("get").expect("present");
    assert_eq!(stored.connection.as_deref(), Some("corp"));
    assert_eq!(stored.data, changed.data);
    assert_eq!(stored.expires_at, NOW + 1200);
    assert_eq!(stored.scope, tx.scope, "update_login_tx touches connection, data and expires_at only");
    assert!(is_not_found(store.update_login_tx(&login_tx("nope", NOW + 600)).await));

    // Taken and put back (as after a callback that needs a binding step).
    let taken = store.take_login_tx("tx1", NOW).await.expect("take").expect("present");
    store.put_login_tx(taken.clone()).await.expect("put back");
    assert_eq!(store.get_login_tx("tx1", NOW).await.expect("get"), Some(taken));
}

pub async fn login_tx_take_is_atomic(store: Arc<dyn Store>) {
    let tx = login_tx("tx1", NOW + 600);
    store.put_login_tx(tx.clone()).await.expect("put");
    let taken = race(&store, 16, |s, _| async move { s.take_login_tx("tx1", NOW).await.expect("take") }).await;
    let winners: Vec<_> = taken.into_iter().flatten().collect();
    assert_eq!(winners, [tx], "exactly one take gets the transaction");
    assert_eq!(store.get_login_tx("tx1", NOW).await.expect("get"), None);
    assert_eq!(store.take_login_tx("tx1", NOW).await.expect("take"), None);

    store.put_login_tx(login_tx("tx2", NOW + 600)).await.expect("put");
    assert_eq!(store.take_login_tx("tx2", NOW + 600).await.expect("take"), None, "an expired transaction is not taken");
}

pub async fn auth_code_is_single_use(store: Arc<dyn Store>) {
    let code = auth_code("c1", NOW + 60);
    store.put_auth_code(code.clone()).await.expect("put");
    assert_eq!(store.consume_auth_code("c1", NOW).await.expect("consume"), Consumed::Fresh(code.clone()));
    assert_eq!(store.consume_auth_code("c1", NOW + 1).await.expect("consume"), Consumed::Replayed(code.clone()));
    assert_eq!(
        store.consume_auth_code("c1", NOW + 3600).await.expect("consume"),
        Consumed::Replayed(code),
        "a used code stays replayed after it expires"
    );
    assert_eq!(store.consume_auth_code("unknown", NOW).await.expect("consume"), Consumed::NotFound);

    store.put_auth_code(auth_code("c2", NOW + 60)).await.expect("put");
    assert_eq!(
        store.consume_auth_code("c2", NOW + 60).await.expect("consume"),
        Consumed::NotFound,
        "expired and unused"
    );
    assert_eq!(store.consume_auth_code("c2", NOW + 61).await.expect("consume"), Consumed::NotFound);
    assert!(
        matches!(store.put_auth_code(auth_code("c1", NOW + 60)).await, Err(StoreError::Conflict(_))),
        "codes are unique"
    );
}

pub async fn concurrent_code_redemption_is_honoured_once(store: Arc<dyn Store>) {
    let code = auth_code("c1", NOW + 60);
    store.put_auth_code(code.clone()).await.expect("put");
    let outcomes = race(&store, 16, |s, _| async move { s.consume_auth_code("c1", NOW).await.expect("consume") }).await;
    let fresh = outcomes.iter().filter(|o| **o == Consumed::Fresh(code.clone())).count();
    let replayed = outcomes.iter().filter(|o| **o == Consumed::Replayed(code.clone())).count();
    assert_eq!((fresh, replayed), (1, 15), "one redemption, every other one a replay: {outcomes:?}");
}

pub async fn refresh_token_reuse_reports_replayed(store: Arc<dyn Store>) {
    let token = refresh_token("r1", "g1", NOW + 3600);
    store.put_refresh_token(token.clone()).await.expect("put");
    assert_eq!(store.get_refresh_token("r1", NOW).await.expect("get"), Some(token.clone()), "reading does not consume");
    assert_eq!(store.get_refresh_token("r1", NOW + 3600).await.expect("get"), None, "expired");
    assert_eq!(store.consume_refresh_token("r1", NOW).await.expect("consume"), Consumed::Fresh(token.clone()));
    assert_eq!(store.get_refresh_token("r1", NOW).await.expect("get"), None, "used");
    assert_eq!(store.consume_refresh_token("r1", NOW + 5).await.expect("consume"), Consumed::Replayed(token.clone()));
    assert_eq!(store.consume_refresh_token("r1", NOW + 7200).await.expect("consume"), Consumed::Replayed(token));
    assert_eq!(store.consume_refresh_token("unknown", NOW).await.expect("consume"), Consumed::NotFound);

    store.put_refresh_token(refresh_token("r2", "g1", NOW + 10)).await.expect("put");
    assert_eq!(
        store.consume_refresh_token("r2", NOW + 10).await.expect("consume"),
        Consumed::NotFound,
        "expired and unused"
    );
}

pub async fn concurrent_refresh_redemption_is_honoured_once(store: Arc<dyn Store>) {
    let token = refresh_token("r1", "g1", NOW + 3600);
    store.put_refresh_token(token.clone()).await.expect("put");
    let outcomes =
        race(&store, 16, |s, _| async move { s.consume_refresh_token("r1", NOW).await.expect("consume") }).await;
    let fresh = outcomes.iter().filter(|o| matches!(o, Consumed::Fresh(_))).count();
    let replayed = outcomes.iter().filter(|o| matches!(o, Consumed::Replayed(_))).count();
    assert_eq!((fresh, replayed), (1, 15), "{outcomes:?}");
}

pub async fn revoked_grant_tokens_are_not_found(store: Arc<dyn Store>) {
    for (hash, grant) in [("r1", "g"), ("r2", "g"), ("r3", "h")] {
        store.put_refresh_token(refresh_token(hash, grant, NOW + 3600)).await.expect("put");
    }
    store.consume_refresh_token("r2", NOW).await.expect("consume");
    assert!(!store.is_grant_revoked("g").await.expect("revoked?"));

    store.revoke_grant("g", NOW, NOW + 7200).await.expect("revoke");
    store.revoke_grant("g", NOW + 1, NOW + 3600).await.expect("revoking again is fine");
    assert!(store.is_grant_revoked("g").await.expect("revoked?"));
    assert!(!store.is_grant_revoked("h").await.expect("revoked?"));
    assert_eq!(store.consume_refresh_token("r1", NOW + 2).await.expect("consume"), Consumed::NotFound);
    assert_eq!(store.consume_refresh_token("r2", NOW + 2).await.expect("consume"), Consumed::NotFound);
    assert_eq!(store.get_refresh_token("r1", NOW + 2).await.expect("get"), None);
    assert!(
        matches!(store.consume_refresh_token("r3", NOW + 2).await.expect("consume"), Consumed::Fresh(_)),
        "other grants live"
    );

    // A token stored while the grant was being revoked does not outlive the revocation.
    store.put_refresh_token(refresh_token("r4", "g", NOW + 3600)).await.expect("put");
    assert_eq!(store.get_refresh_token("r4", NOW + 3).await.expect("get"), None);
    assert_eq!(store.consume_refresh_token("r4", NOW + 3).await.expect("consume"), Consumed::NotFound);

    // The revocation lasts until its longest expiry.
    store.sweep_expired(NOW + 3600).await.expect("sweep");
    assert!(store.is_grant_revoked("g").await.expect("revoked?"), "the later expiry of the two revocations holds");
    store.sweep_expired(NOW + 7200).await.expect("sweep");
    assert!(!store.is_grant_revoked("g").await.expect("revoked?"));
}

pub async fn access_token_revocation_is_remembered(store: Arc<dyn Store>) {
    assert!(!store.is_access_token_revoked("jti-1").await.expect("revoked?"));
    store.revoke_access_token("jti-1", NOW + 300).await.expect("revoke");
    store.revoke_access_token("jti-1", NOW + 300).await.expect("idempotent");
    assert!(store.is_access_token_revoked("jti-1").await.expect("revoked?"));
    assert!(!store.is_access_token_revoked("jti-2").await.expect("revoked?"));
    store.sweep_expired(NOW + 299).await.expect("sweep");
    assert!(store.is_access_token_revoked("jti-1").await.expect("revoked?"), "remembered until it expires");
    store.sweep_expired(NOW + 300).await.expect("sweep");
    assert!(!store.is_access_token_revoked("jti-1").await.expect("revoked?"));
}

pub async fn sessions_expire_and_can_be_deleted(store: Arc<dyn Store>) {
    let s = session("s1", "u1", NOW + 3600);
    store.put_session(s.clone()).await.expect("put");
    assert_eq!(store.get_session("s1", NOW).await.expect("get"), Some(s));
    assert_eq!(store.get_session("s1", NOW + 3600).await.expect("get"), None, "expired");
    assert_eq!(store.get_session("nope", NOW).await.expect("get"), None);

    let renewed = Session { auth_time: NOW + 100, expires_at: NOW + 7200, ..session("s1", "u1", 0) };
    store.put_session(renewed.clone()).await.expect("put again replaces");
    assert_eq!(store.get_session("s1", NOW + 3600).await.expect("get"), Some(renewed));

    store.delete_session("s1").await.expect("delete");
    assert_eq!(store.get_session("s1", NOW).await.expect("get"), None);
    store.delete_session("s1").await.expect("deleting a missing session is fine");
}

pub async fn upstream_token_invalidation_is_compare_and_delete(store: Arc<dyn Store>) {
    let key = "wecom:ww1:1000002";
    assert_eq!(store.get_upstream_token(key).await.expect("get"), None);
    let first = CachedToken { token: "t1".into(), expires_at: NOW + 7200 };
    store.put_upstream_token(key, &first).await.expect("put");
    assert_eq!(store.get_upstream_token(key).await.expect("get"), Some(first));
    let second = CachedToken { token: "t2".into(), expires_at: NOW + 7300 };
    store.put_upstream_token(key, &second).await.expect("put replaces");
    assert_eq!(store.get_upstream_token(key).await.expect("get"), Some(second.clone()));

    store.invalidate_upstream_token(key, "t1").await.expect("invalidate a stale token");
    assert_eq!(store.get_upstream_token(key).await.expect("get"), Some(second), "another instance's refresh survives");
    store.invalidate_upstream_token(key, "t2").await.expect("invalidate");
    assert_eq!(store.get_upstream_token(key).await.expect("get"), None);
    assert_eq!(store.get_upstream_token("other").await.expect("get"), None);
}

pub async fn lease_excludes_other_owners_until_expiry(store: Arc<dyn Store>) {
    let key = "refresh:wecom:ww1";
    assert!(store.try_lease(key, "a", NOW, NOW + 30).await.expect("lease"), "a free lease is taken");
    assert!(!store.try_lease(key, "b", NOW + 1, NOW + 31).await.expect("lease"), "held by a");
    assert!(store.try_lease(key, "a", NOW + 2, NOW + 40).await.expect("lease"), "the owner renews");
    assert!(!store.try_lease(key, "b", NOW + 39, NOW + 69).await.expect("lease"), "the renewal holds");
    assert!(store.try_lease(key, "b", NOW + 40, NOW + 70).await.expect("lease"), "an expired lease is taken over");
    assert!(!store.try_lease(key, "a", NOW + 41, NOW + 71).await.expect("lease"), "a lost it");

    store.release_lease(key, "a").await.expect("release by a non-owner does nothing");
    assert!(!store.try_lease(key, "a", NOW + 42, NOW + 72).await.expect("lease"));
    store.release_lease(key, "b").await.expect("release");
    assert!(store.try_lease(key, "a", NOW + 43, NOW + 73).await.expect("lease"), "a released lease is free");
    assert!(store.try_lease("another", "b", NOW + 43, NOW + 73).await.expect("lease"), "leases are per key");

    let won = race(&store, 8, |s, i| async move {
        s.try_lease("contended", &format!("instance-{i}"), NOW, NOW + 30).await.expect("lease")
    })
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "one owner at a time: {won:?}");
}

pub async fn suite_ticket_newest_wins(store: Arc<dyn Store>) {
    let ticket = |t: &str, at: Timestamp| SuiteTicket { suite_id: "suite".into(), ticket: t.into(), received_at: at };
    assert_eq!(store.get_suite_ticket("suite").await.expect("get"), None);
    store.put_suite_ticket(ticket("t1", NOW)).await.expect("put");
    store.put_suite_ticket(ticket("t3", NOW + 1200)).await.expect("put");
    store.put_suite_ticket(ticket("t2", NOW + 600)).await.expect("a late delivery of an older ticket is accepted");
    assert_eq!(store.get_suite_ticket("suite").await.expect("get"), Some(ticket("t3", NOW + 1200)), "and ignored");
    store.put_suite_ticket(ticket("t4", NOW + 1800)).await.expect("put");
    assert_eq!(store.get_suite_ticket("suite").await.expect("get"), Some(ticket("t4", NOW + 1800)));
    assert_eq!(store.get_suite_ticket("other").await.expect("get"), None);
}

pub async fn authorized_corps_upsert_and_list(store: Arc<dyn Store>) {
    store.upsert_authorized_corp(corp("suite", "ww2")).await.expect("upsert");
    store.upsert_authorized_corp(corp("suite", "ww1")).await.expect("upsert");
    store.upsert_authorized_corp(corp("other", "ww1")).await.expect("same corp, other connection");
    assert_eq!(store.get_authorized_corp("suite", "ww1").await.expect("get"), Some(corp("suite", "ww1")));
    assert_eq!(store.get_authorized_corp("suite", "ww9").await.expect("get"), None);

    let cancelled = AuthorizedCorp {
        status: "cancelled".into(),
        permanent_code: None,
        corp_name: Some("Renamed".into()),
        agent_id: None,
        created_at: NOW + 100,
        updated_at: NOW + 100,
        ..corp("suite", "ww1")
    };
    store.upsert_authorized_corp(cancelled.clone()).await.expect("update");
    let stored = store.get_authorized_corp("suite", "ww1").await.expect("get").expect("present");
    assert_eq!(stored.status, "cancelled");
    assert_eq!(stored.permanent_code, None);
    assert_eq!(stored.corp_name.as_deref(), Some("Renamed"));
    assert_eq!(stored.agent_id, None);
    assert_eq!((stored.created_at, stored.updated_at), (NOW, NOW + 100), "created_at is the first authorization");

    let listed = store.list_authorized_corps("suite").await.expect("list");
    assert_eq!(listed.iter().map(|c| c.corp_id.as_str()).collect::<Vec<_>>(), ["ww1", "ww2"]);
    assert_eq!(store.list_authorized_corps("other").await.expect("list").len(), 1);
    assert!(store.list_authorized_corps("none").await.expect("list").is_empty());
}

pub async fn remember_callback_reports_first_sight_once(store: Arc<dyn Store>) {
    assert!(store.remember_callback("1700000000:nonce:sig", NOW + 300).await.expect("remember"));
    assert!(
        !store.remember_callback("1700000000:nonce:sig", NOW + 300).await.expect("remember"),
        "a replayed callback"
    );
    assert!(store.remember_callback("1700000001:nonce:sig", NOW + 300).await.expect("remember"));

    let firsts =
        race(&store, 8, |s, _| async move { s.remember_callback("raced", NOW + 300).await.expect("remember") }).await;
    assert_eq!(firsts.iter().filter(|f| **f).count(), 1, "one instance handles a callback: {firsts:?}");
}

pub async fn login_failures_count_within_a_window_and_clear(store: Arc<dyn Store>) {
    assert_eq!(store.login_failures("zhangsan", NOW).await.expect("read"), None);
    for expected in 1..=3 {
        let failures = store.record_login_failure("zhangsan", NOW + expected as i64, 600).await.expect("record");
        assert_eq!(failures, LoginFailures { failures: expected, expires_at: NOW + 1 + 600 }, "the window stays put");
    }
    assert_eq!(store.login_failures("zhangsan", NOW + 10).await.expect("read").map(|f| f.failures), Some(3));
    assert_eq!(store.login_failures("lisi", NOW + 10).await.expect("read"), None, "per login");

    // Past the window the count is forgotten and the next failure opens a new one.
    assert_eq!(store.login_failures("zhangsan", NOW + 601).await.expect("read"), None);
    let fresh = store.record_login_failure("zhangsan", NOW + 700, 600).await.expect("record");
    assert_eq!(fresh, LoginFailures { failures: 1, expires_at: NOW + 1300 });

    store.clear_login_failures("zhangsan").await.expect("clear");
    assert_eq!(store.login_failures("zhangsan", NOW + 701).await.expect("read"), None);

    // Concurrent failures from several instances are all counted.
    race(&store, 8, |s, _| async move { s.record_login_failure("raced", NOW, 600).await.expect("record") }).await;
    assert_eq!(store.login_failures("raced", NOW).await.expect("read").map(|f| f.failures), Some(8));
}

pub async fn audit_pages_newest_first(store: Arc<dyn Store>) {
    for i in 0..7 {
        store.append_audit(audit(NOW + i, &format!("event-{i}"))).await.expect("append");
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.list_audit(3, cursor.as_deref()).await.expect("list");
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let events: Vec<_> = seen.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["event-6", "event-5", "event-4", "event-3", "event-2", "event-1", "event-0"]);
    assert!(seen.windows(2).all(|w| w[0].id > w[1].id), "ids assigned, newest highest");
    let first = &seen[6];
    assert_eq!((first.at, first.client_id.as_deref(), first.connection.as_deref()), (NOW, Some("app"), None));
    assert_eq!(first.upstream_subject.as_deref(), Some("wecom:ww1/zhangsan"));

    race(
        &store,
        8,
        |s, i| async move { s.append_audit(audit(NOW + 100, &format!("raced-{i}"))).await.expect("append") },
    )
    .await;
    let all = store.list_audit(100, None).await.expect("list");
    assert_eq!(all.items.len(), 15);
    assert_eq!(all.next, None);
    let mut ids: Vec<_> = all.items.iter().map(|e| e.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 15, "concurrent appends get distinct ids");
}

pub async fn pagination_walks_all_items(store: Arc<dyn Store>) {
    async fn walk<T>(
        mut page: impl FnMut(Option<String>) -> BoxFuture<'static, super::Page<T>>,
        key: impl Fn(&T) -> String,
    ) -> (Vec<String>, usize) {
        let (mut keys, mut pages, mut cursor) = (Vec::new(), 0, None);
        loop {
            let p = page(cursor.take()).await;
            pages += 1;
            assert!(pages < 20, "paging does not end");
            if let Some(next) = &p.next {
                assert_eq!(Some(next), p.items.last().map(&key).as_ref(), "the cursor is the last key of the page");
            }
            keys.extend(p.items.iter().map(&key));
            match p.next {
                Some(next) => cursor = Some(next),
                None => return (keys, pages),
            }
        }
    }

    // Created out of order; listed by key.
    for n in [4, 1, 6, 0, 3, 5, 2] {
        store.create_app(app(&format!("app-{n:02}"))).await.expect("app");
    }
    for n in [5, 0, 3, 1, 4, 2] {
        store.create_connection(connection(&format!("conn-{n:02}"))).await.expect("connection");
    }
    for n in [2, 0, 4, 1, 3] {
        store.create_user(new_user(&format!("user-{n:02}"))).await.expect("user");
    }

    let s = store.clone();
    let (apps, pages) = walk(
        move |c| {
            let s = s.clone();
            Box::pin(async move { s.list_apps(3, c.as_deref()).await.expect("apps") })
        },
        |a| a.client_id.clone(),
    )
    .await;
    assert_eq!(apps, (0..7).map(|n| format!("app-{n:02}")).collect::<Vec<_>>());
    assert_eq!(pages, 3);

    let s = store.clone();
    let (connections, pages) = walk(
        move |c| {
            let s = s.clone();
            Box::pin(async move { s.list_connections(3, c.as_deref()).await.expect("connections") })
        },
        |c| c.identifier.clone(),
    )
    .await;
    assert_eq!(connections, (0..6).map(|n| format!("conn-{n:02}")).collect::<Vec<_>>());
    assert_eq!(pages, 2, "an exact multiple of the page size needs no empty last page");

    let s = store.clone();
    let (users, pages) = walk(
        move |c| {
            let s = s.clone();
            Box::pin(async move { s.list_users(2, c.as_deref()).await.expect("users") })
        },
        |u| u.id.clone(),
    )
    .await;
    assert_eq!(users, (0..5).map(|n| format!("user-{n:02}")).collect::<Vec<_>>());
    assert_eq!(pages, 3);

    let everything = store.list_apps(100, None).await.expect("apps");
    assert_eq!((everything.items.len(), everything.next), (7, None));
    assert!(store.list_apps(3, Some("app-06")).await.expect("apps").items.is_empty(), "past the end");
}

pub async fn sweep_removes_only_expired(store: Arc<dyn Store>) {
    let (old, live) = (NOW - 1, NOW + 600);
    store.put_login_tx(login_tx("tx-old", old)).await.expect("tx");
    store.put_login_tx(login_tx("tx-live", live)).await.expect("tx");
    store.put_auth_code(auth_code("code-old", old)).await.expect("code");
    store.put_auth_code(auth_code("code-live", live)).await.expect("code");
    store.put_refresh_token(refresh_token("rt-old", "g-old", old)).await.expect("token");
    store.put_refresh_token(refresh_token("rt-live", "g-live", live)).await.expect("token");
    store.put_session(session("s-old", "u", old)).await.expect("session");
    store.put_session(session("s-live", "u", live)).await.expect("session");
    store.revoke_grant("grant-old", NOW - 100, old).await.expect("grant");
    store.revoke_grant("grant-live", NOW - 100, live).await.expect("grant");
    store.revoke_access_token("jti-old", old).await.expect("jti");
    store.revoke_access_token("jti-live", live).await.expect("jti");
    assert!(store.try_lease("lease-old", "a", NOW - 100, old).await.expect("lease"));
    assert!(store.try_lease("lease-live", "a", NOW - 100, live).await.expect("lease"));
    assert!(store.remember_callback("cb-old", old).await.expect("callback"));
    assert!(store.remember_callback("cb-live", live).await.expect("callback"));
    store.record_login_failure("login-old", old - 60, 60).await.expect("failure");
    store.record_login_failure("login-live", NOW, 600).await.expect("failure");
    // Not swept: long-lived state.
    store.put_upstream_token("upstream", &CachedToken { token: "t".into(), expires_at: old }).await.expect("token");
    store.append_audit(audit(old, "login.success")).await.expect("audit");

    let removed = store.sweep_expired(NOW).await.expect("sweep");
    assert_eq!(removed, 9, "one expired row of each kind");

    assert!(store.get_login_tx("tx-live", NOW).await.expect("tx").is_some());
    assert!(matches!(store.consume_auth_code("code-live", NOW).await.expect("code"), Consumed::Fresh(_)));
    assert!(store.get_refresh_token("rt-live", NOW).await.expect("token").is_some());
    assert!(store.get_session("s-live", NOW).await.expect("session").is_some());
    assert!(store.is_grant_revoked("grant-live").await.expect("grant"));
    assert!(!store.is_grant_revoked("grant-old").await.expect("grant"));
    assert!(store.is_access_token_revoked("jti-live").await.expect("jti"));
    assert!(!store.is_access_token_revoked("jti-old").await.expect("jti"));
    assert!(!store.try_lease("lease-live", "b", NOW, NOW + 30).await.expect("lease"), "the live lease is still held");
    assert!(store.try_lease("lease-old", "b", NOW, NOW + 30).await.expect("lease"));
    assert!(!store.remember_callback("cb-live", live).await.expect("callback"), "the live key is still remembered");
    assert!(store.remember_callback("cb-old", live).await.expect("callback"), "the expired key was forgotten");
    assert!(store.get_upstream_token("upstream").await.expect("token").is_some());
    assert!(store.login_failures("login-live", NOW).await.expect("failures").is_some());
    assert_eq!(store.list_audit(10, None).await.expect("audit").items.len(), 1);

    // Every instance sweeps: running again, or at once, is harmless.
    let again = race(&store, 4, |s, _| async move { s.sweep_expired(NOW).await.expect("sweep") }).await;
    assert_eq!(again.iter().sum::<u64>(), 0);
}

// ---------------------------------------------------------------- the list, and how it is run

/// Calls `$then!` with the name of every rule (after the tokens given). Add a rule here and it runs on
/// every backend.
macro_rules! behaviours {
    ($then:ident ! { $($args:tt)* }) => {
        $then! { $($args)* ;
            ping_answers,
            signing_key_bootstrap_races_to_one_key,
            each_algorithm_has_its_own_active_key,
            app_crud_round_trips,
            connection_crud_round_trips,
            connection_state_merge_is_shallow,
            concurrent_state_merges_lose_nothing,
            app_association_is_ordered_and_idempotent,
            deletes_cascade_to_associations_and_corps,
            user_crud_round_trips,
            user_uniqueness_is_normalised,
            find_user_by_login_uses_normalised_fields,
            matching_ignores_absent_fields,
            profile_update_skips_conflicting_fields,
            create_user_with_identity_is_all_or_nothing,
            identity_links_are_unique,
            deleting_user_removes_identities_sessions_and_tokens,
            login_tx_round_trips_and_expires,
            login_tx_take_is_atomic,
            auth_code_is_single_use,
            concurrent_code_redemption_is_honoured_once,
            refresh_token_reuse_reports_replayed,
            concurrent_refresh_redemption_is_honoured_once,
            revoked_grant_tokens_are_not_found,
            access_token_revocation_is_remembered,
            sessions_expire_and_can_be_deleted,
            upstream_token_invalidation_is_compare_and_delete,
            lease_excludes_other_owners_until_expiry,
            suite_ticket_newest_wins,
            authorized_corps_upsert_and_list,
            remember_callback_reports_first_sight_once,
            login_failures_count_within_a_window_and_clear,
            audit_pages_newest_first,
            pagination_walks_all_items,
            sweep_removes_only_expired,
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
        sqlx::any::install_default_drivers();
        let name = format!("wegate_t_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::AnyConnection::connect(&server).await.expect("connect to WEGATE_TEST_POSTGRES_URL");
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create the test database");
        let _ = admin.close().await;
        let url = with_database(&server, &name);
        Some(TestDatabase { url, _dir: None, postgres: Some((server, name)) })
    }

    /// Best effort: a database left behind is only litter.
    pub async fn remove(self) {
        use sqlx::{Connection as _, Executor as _};
        if let Some((server, name)) = &self.postgres
            && let Ok(mut admin) = sqlx::AnyConnection::connect(server).await
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

/// Several instances starting at once on a fresh database all come up (migrations are serialised).
async fn concurrent_startups_migrate_once(db: TestDatabase) {
    let url = db.url.clone();
    let started = join_all((0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { SqlStore::connect(&url, &PoolSettings::default()).await })
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

mod sqlite {
    use super::*;

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
}
