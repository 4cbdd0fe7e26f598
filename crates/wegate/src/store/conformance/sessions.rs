//! Conformance rules for login transactions and browser sessions.

use std::sync::Arc;

use serde_json::json;

use super::fixtures::{NOW, is_not_found, login_tx, race, session};
use crate::store::Session;
use crate::store::prelude::*;

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

pub async fn login_tx_take_for_checks_browser_and_connection(store: Arc<dyn Store>) {
    let mut tx = login_tx("tx1", NOW + 600);
    tx.connection = Some("corp".into());
    store.put_login_tx(tx.clone()).await.expect("put");
    let browser = tx.browser_hash.clone();
    let other_browser = "c".repeat(64);
    assert_eq!(store.take_login_tx_for("tx1", NOW, &other_browser, "corp").await.expect("take"), None);
    assert_eq!(store.take_login_tx_for("tx1", NOW, &browser, "other").await.expect("take"), None);
    assert_eq!(store.take_login_tx_for("tx1", NOW + 600, &browser, "corp").await.expect("take"), None, "expired");
    assert_eq!(store.get_login_tx("tx1", NOW).await.expect("get"), Some(tx.clone()), "a mismatch leaves it");
    let taken = race(&store, 8, |s, _| {
        let browser = browser.clone();
        async move { s.take_login_tx_for("tx1", NOW, &browser, "corp").await.expect("take") }
    })
    .await;
    let winners: Vec<_> = taken.into_iter().flatten().collect();
    assert_eq!(winners, [tx], "exactly one take gets the transaction");
    assert_eq!(store.get_login_tx("tx1", NOW).await.expect("get"), None);

    store.put_login_tx(login_tx("tx2", NOW + 600)).await.expect("put");
    assert_eq!(
        store.take_login_tx_for("tx2", NOW, &browser, "corp").await.expect("take"),
        None,
        "a transaction that went to no connection is not a callback's"
    );
}

pub async fn sessions_expire_and_can_be_deleted(store: Arc<dyn Store>) {
    let s = session("s1", "u1", NOW + 3600);
    store.put_session(s.clone()).await.expect("put");
    assert_eq!(store.get_session("s1", NOW).await.expect("get"), Some(s));
    assert_eq!(store.get_session("s1", NOW + 3600).await.expect("get"), None, "expired");
    assert_eq!(store.get_session("nope", NOW).await.expect("get"), None);

    let renewed = Session {
        auth_time: NOW + 100,
        expires_at: NOW + 7200,
        amr: "pwd".into(),
        connection: None,
        upstream: None,
        subject: None,
        ..session("s1", "u1", 0)
    };
    store.put_session(renewed.clone()).await.expect("put again replaces");
    assert_eq!(store.get_session("s1", NOW + 3600).await.expect("get"), Some(renewed));

    store.delete_session("s1").await.expect("delete");
    assert_eq!(store.get_session("s1", NOW).await.expect("get"), None);
    store.delete_session("s1").await.expect("deleting a missing session is fine");
}

pub async fn a_browser_keeps_its_newest_login_transactions(store: Arc<dyn Store>) {
    for i in 0..5 {
        let mut tx = login_tx(&format!("tx{i}"), NOW + 600);
        tx.created_at = NOW + i;
        store.put_login_tx(tx).await.expect("put");
    }
    let mut other = login_tx("other", NOW + 600);
    other.browser_hash = "c".repeat(64);
    store.put_login_tx(other).await.expect("put");
    assert_eq!(store.trim_login_txs(&"b".repeat(64), 3).await.expect("trim"), 2);
    for (id, kept) in [("tx0", false), ("tx1", false), ("tx2", true), ("tx3", true), ("tx4", true), ("other", true)] {
        assert_eq!(store.get_login_tx(id, NOW).await.expect("get").is_some(), kept, "{id}");
    }
    assert_eq!(store.trim_login_txs(&"b".repeat(64), 3).await.expect("trim"), 0, "nothing more to trim");
}

pub async fn a_users_sessions_end_together(store: Arc<dyn Store>) {
    store.put_session(session("s1", "u1", NOW + 100)).await.expect("put");
    store.put_session(session("s2", "u1", NOW + 100)).await.expect("put");
    store.put_session(session("s3", "u2", NOW + 100)).await.expect("put");
    store.put_session(session("s4", "u1", NOW + 10)).await.expect("put");
    assert_eq!(store.user_sessions("u1", NOW + 20).await.expect("list").len(), 2, "live ones only");
    let mut ended: Vec<String> =
        store.delete_user_sessions("u1").await.expect("delete").into_iter().map(|s| s.sid).collect();
    ended.sort();
    assert_eq!(ended, ["sid-s1", "sid-s2", "sid-s4"], "expired ones go too");
    assert_eq!(store.get_session("s1", NOW).await.expect("get"), None);
    assert!(store.get_session("s3", NOW).await.expect("get").is_some(), "another user's session stays");
    assert!(store.delete_user_sessions("u1").await.expect("delete").is_empty());
}
