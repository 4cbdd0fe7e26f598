//! Conformance rules for apps and their associations with connections.

use std::sync::Arc;

use super::fixtures::{NOW, app, conflict_on, connection, corp, identity, is_not_found, new_user};
use crate::store::prelude::*;
use crate::store::{AppKind, AppUpdate, Connection};

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

pub async fn app_association_is_ordered_and_idempotent(store: Arc<dyn Store>) {
    store.create_app(app("app")).await.expect("app");
    store.create_app(app("other")).await.expect("app");
    for id in ["c-b", "c-a", "c-c"] {
        store.create_connection(connection(id)).await.expect("connection");
    }
    for id in ["c-b", "c-a", "c-c"] {
        store.associate("app", id, None).await.expect("associate");
    }
    store.associate("app", "c-b", None).await.expect("associating twice is fine");
    store.associate("other", "c-a", None).await.expect("associate");

    let order = |list: Vec<Connection>| list.into_iter().map(|c| c.identifier).collect::<Vec<_>>();
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-b", "c-a", "c-c"], "association order");
    assert_eq!(store.app_connections("app").await.expect("list")[0], connection("c-b"), "whole connections");
    assert_eq!(store.connection_apps("c-a").await.expect("apps"), ["app", "other"]);
    assert_eq!(store.connection_apps("c-c").await.expect("apps"), ["app"]);

    store.dissociate("app", "c-a").await.expect("dissociate");
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-b", "c-c"]);
    assert!(is_not_found(store.dissociate("app", "c-a").await));
    store.associate("app", "c-a", None).await.expect("associate again");
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-b", "c-c", "c-a"], "re-added last");

    // An explicit order comes first (ascending), ties and unset ones in association order; re-associating
    // without an order keeps it.
    store.associate("app", "c-a", Some(-1)).await.expect("order");
    store.associate("app", "c-c", Some(5)).await.expect("order");
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-a", "c-b", "c-c"]);
    store.associate("app", "c-a", None).await.expect("again");
    store.associate("app", "c-b", Some(5)).await.expect("tie");
    assert_eq!(order(store.app_connections("app").await.expect("list")), ["c-a", "c-b", "c-c"], "ties: association");

    assert!(is_not_found(store.associate("missing-app", "c-a", None).await));
    assert!(is_not_found(store.associate("app", "missing-connection", None).await));
    assert!(store.app_connections("missing-app").await.expect("list").is_empty());
}

pub async fn deletes_cascade_to_associations_and_corps(store: Arc<dyn Store>) {
    for a in ["app-1", "app-2"] {
        store.create_app(app(a)).await.expect("app");
    }
    for c in ["conn-1", "conn-2"] {
        store.create_connection(connection(c)).await.expect("connection");
        for a in ["app-1", "app-2"] {
            store.associate(a, c, None).await.expect("associate");
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

pub async fn an_apps_backchannel_logout_uri_is_set_and_removed(store: Arc<dyn Store>) {
    let mut with = app("app-1");
    with.backchannel_logout_uri = Some("https://app-1.example.com/bc".into());
    assert_eq!(store.create_app(with.clone()).await.expect("create"), with);
    let renamed = store
        .update_app("app-1", AppUpdate { name: Some("Renamed".into()), ..AppUpdate::default() }, NOW + 1)
        .await
        .expect("update");
    assert_eq!(renamed.backchannel_logout_uri, with.backchannel_logout_uri, "absent keeps it");
    let moved = AppUpdate { backchannel_logout_uri: Some(Some("https://b.example/bc".into())), ..AppUpdate::default() };
    let updated = store.update_app("app-1", moved, NOW + 2).await.expect("update");
    assert_eq!(updated.backchannel_logout_uri.as_deref(), Some("https://b.example/bc"));
    let removed = AppUpdate { backchannel_logout_uri: Some(None), ..AppUpdate::default() };
    assert_eq!(store.update_app("app-1", removed, NOW + 3).await.expect("update").backchannel_logout_uri, None);
}
