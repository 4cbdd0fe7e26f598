//! Conformance rules for upstream token cache, leases, suite tickets, authorized corps and callback keys.

use std::sync::Arc;

use super::fixtures::{NOW, corp, race};
use crate::store::prelude::*;
use crate::store::{AuthorizedCorp, CachedToken, SuiteTicket, Timestamp};

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
