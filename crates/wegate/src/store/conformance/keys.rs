//! Conformance rules for signing keys: one active key per algorithm, whoever stores it first.

use std::sync::Arc;

use super::fixtures::{race, signing_key};
use crate::store::SigningKey;
use crate::store::prelude::*;

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

pub async fn one_next_key_waits_per_algorithm_and_gives_its_slot_up_once_it_signs(store: Arc<dyn Store>) {
    let first = store.ensure_active_signing_key(signing_key("first")).await.expect("first");
    let next = SigningKey { activates_at: Some(2_000), ..signing_key("next") };
    let stored = store.add_next_signing_key(next, 1_000).await.expect("add").expect("stored as next");
    assert_eq!(stored.signs_from(), 2_000);
    // A second rotation while one waits changes nothing.
    let another = SigningKey { activates_at: Some(3_000), ..signing_key("another") };
    assert!(store.add_next_signing_key(another.clone(), 1_500).await.expect("add again").is_none());
    // Made to sign now: only a waiting key, once.
    assert!(store.activate_signing_key("next", 1_600).await.expect("activate"));
    assert!(!store.activate_signing_key("next", 1_700).await.expect("not waiting any more"));
    assert!(!store.activate_signing_key(&first.kid, 1_700).await.expect("first signs already"));
    // Once it signs, the next rotation may wait in its place; the sealed private key reads back.
    let later = store.add_next_signing_key(another, 1_700).await.expect("add later").expect("stored");
    assert_eq!(later.kid, "another");
    let keys = store.list_signing_keys().await.expect("list");
    let by_kid = |kid: &str| keys.iter().find(|k| k.kid == kid).cloned().expect("listed");
    assert_eq!(by_kid("next").signs_from(), 1_600);
    assert_eq!(by_kid("another").signs_from(), 3_000);
    assert_eq!(by_kid("another").private_pem, signing_key("another").private_pem);
    assert_eq!(by_kid("first").activates_at, None);
    // The ES256 slot is its own.
    let ec = SigningKey { alg: "ES256".into(), activates_at: Some(5_000), ..signing_key("ec-next") };
    assert!(store.add_next_signing_key(ec, 1_700).await.expect("ec").is_some());
}
