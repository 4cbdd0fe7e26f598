//! Conformance rules for connections and their run-time state.

use std::sync::Arc;

use serde_json::json;

use super::fixtures::{NOW, conflict_on, connection, is_not_found, race};
use crate::store::prelude::*;
use crate::store::{Association, DomainFile, KindSettings, MobileSettings, QrCodeSettings};

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
    changed.association = Association::default();
    changed.settings = KindSettings::QrCode(QrCodeSettings {
        corp_id: "ww1".into(),
        agent_id: "7".into(),
        secret: "rotated".into(),
        token: Some("t0ken".into()),
        encoding_aes_key: None,
    });
    changed.domain_verification = Some(DomainFile { filename: "WW_verify_abc.txt".into(), content: "abc".into() });
    changed.updated_at = NOW + 5;
    // What update_connection must not touch:
    changed.state = json!({"overwritten": true});
    changed.created_at = NOW + 5;
    let updated = store.update_connection(changed.clone()).await.expect("update");
    let stored = store.get_connection("corp").await.expect("get").expect("present");
    assert_eq!(updated, stored);
    assert_eq!(stored.display_name, changed.display_name);
    assert!(stored.login_only);
    assert_eq!(stored.association, changed.association);
    assert_eq!(stored.settings, changed.settings, "settings and secrets");
    assert_eq!(stored.domain_verification, changed.domain_verification);
    assert_eq!(stored.updated_at, NOW + 5);
    assert_eq!(stored.state, original.state, "state is kept");
    assert_eq!(stored.created_at, original.created_at, "created_at is kept");
    assert!(is_not_found(store.update_connection(connection("nope")).await));
    let mut other_kind = stored.clone();
    other_kind.settings = KindSettings::Mobile(MobileSettings {
        corp_id: "ww1".into(),
        agent_id: "7".into(),
        secret: "s".into(),
        schema: "wwauth1".into(),
        token: None,
        encoding_aes_key: None,
    });
    assert_eq!(conflict_on(store.update_connection(other_kind).await), "kind", "a kind never changes");

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

pub async fn the_first_claim_of_a_state_key_wins(store: Arc<dyn Store>) {
    store.create_connection(connection("corp")).await.expect("create");
    let claims = race(&store, 8, |s, i| async move {
        s.claim_connection_state("corp", "bound_corp_id", json!(format!("ww{i}")), NOW).await.expect("claim")
    })
    .await;
    let winner = claims[0].clone();
    assert!(claims.iter().all(|c| *c == winner), "every claimant learns the one winner: {claims:?}");
    let state = store.get_connection("corp").await.expect("get").expect("present").state;
    assert_eq!(state["bound_corp_id"], winner);
    let later = store.claim_connection_state("corp", "bound_corp_id", json!("wwlate"), NOW).await.expect("claim");
    assert_eq!(later, winner, "a later claim does not take over");
}
