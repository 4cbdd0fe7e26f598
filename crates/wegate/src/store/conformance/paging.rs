//! Conformance rules for paging through apps, connections and users alike.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::fixtures::{app, connection, new_user};
use crate::store::Page;
use crate::store::prelude::*;

pub async fn pagination_walks_all_items(store: Arc<dyn Store>) {
    async fn walk<T>(
        mut page: impl FnMut(Option<String>) -> BoxFuture<'static, Page<T>>,
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
