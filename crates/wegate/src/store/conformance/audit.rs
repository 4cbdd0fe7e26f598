//! Conformance rules for the audit log and the housekeeping (ping, sweeping).

use std::sync::Arc;

use super::fixtures::{NOW, audit, auth_code, login_tx, race, refresh_token, session};
use crate::store::prelude::*;
use crate::store::{CachedToken, Consumed};

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
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
    assert_eq!(first.actor.as_deref(), Some("api"), "the actor of an admin change is kept");

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

pub async fn audit_ids_follow_the_event_time(store: Arc<dyn Store>) {
    // Appended out of order: listed by `at`, not by when they were appended (the store reads no clock).
    for (at, event) in [(NOW + 20, "late"), (NOW, "early"), (NOW + 10, "middle")] {
        store.append_audit(audit(at, event)).await.expect("append");
    }
    // One instance's events of one second: in the order they were appended.
    for event in ["first", "second", "third"] {
        store.append_audit(audit(NOW + 30, event)).await.expect("append");
    }
    let listed = store.list_audit(10, None).await.expect("list");
    let events: Vec<_> = listed.items.iter().map(|e| (e.event.as_str(), e.at)).collect();
    assert_eq!(
        events,
        [
            ("third", NOW + 30),
            ("second", NOW + 30),
            ("first", NOW + 30),
            ("late", NOW + 20),
            ("middle", NOW + 10),
            ("early", NOW)
        ]
    );
    let first = store.list_audit(2, None).await.expect("list");
    let second = store.list_audit(2, first.next.as_deref()).await.expect("list");
    let events: Vec<_> = second.items.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["first", "late"], "the cursor picks up after the last id of the page");
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
    assert!(matches!(store.consume_auth_code("code-live", "app", NOW).await.expect("code"), Consumed::Fresh(_)));
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

pub async fn audit_is_pruned_before_the_cutoff_only(store: Arc<dyn Store>) {
    for at in [NOW - 200, NOW - 100, NOW, NOW + 100] {
        store.append_audit(audit(at, "login.success")).await.expect("append");
    }
    assert_eq!(store.prune_audit(NOW).await.expect("prune"), 2);
    let left: Vec<_> = store.list_audit(10, None).await.expect("list").items.into_iter().map(|e| e.at).collect();
    assert_eq!(left, [NOW + 100, NOW]);
    assert_eq!(store.prune_audit(NOW).await.expect("prune"), 0);
}
