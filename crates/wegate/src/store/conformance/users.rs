//! Conformance rules for users, identities and password lockout counts.

use std::sync::Arc;

use serde_json::json;

use super::fixtures::{NOW, conflict_on, grant_origin, identity, is_not_found, new_user, race, refresh_token, session};
use crate::store::prelude::*;
use crate::store::{Consumed, LoginFailures, MatchQuery, NewUser, ProfileUpdate, RefreshToken, StoreError, User};

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

    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
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

pub async fn an_identity_is_read_with_its_user(store: Arc<dyn Store>) {
    let user =
        store.create_user_with_identity(new_user("u1"), identity("wecom:ww1", "zhangsan", "u1")).await.expect("create");
    store.create_user_with_identity(new_user("u2"), identity("wecom:ww1", "lisi", "u2")).await.expect("create");
    let (found, with) =
        store.get_identity_with_user("wecom:ww1", "zhangsan").await.expect("read").expect("the identity is there");
    assert_eq!(found, store.get_identity("wecom:ww1", "zhangsan").await.expect("read").expect("there"));
    assert_eq!(with, Some(user), "its own user, not another identity's");
    let (_, with) = store.get_identity_with_user("wecom:ww1", "lisi").await.expect("read").expect("there");
    assert_eq!(with.map(|user| user.id), Some("u2".to_string()), "the second identity's user, not the first one made");
    assert!(store.get_identity_with_user("wecom:ww1", "ZHANGSAN").await.expect("read").is_none(), "subjects are exact");
    assert!(store.get_identity_with_user("wecom:ww2", "zhangsan").await.expect("read").is_none(), "per upstream");
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

pub async fn users_are_disabled_and_enabled(store: Arc<dyn Store>) {
    let created = store.create_user(new_user("u1")).await.expect("create");
    assert!(!created.disabled, "a new user is enabled");
    let disabled = store.set_user_disabled("u1", true, NOW + 5).await.expect("disable");
    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, NOW + 5);
    assert!(store.get_user("u1").await.expect("get").expect("present").disabled);
    assert!(store.find_user_by_login("u1").await.is_ok());
    assert!(!store.set_user_disabled("u1", false, NOW + 6).await.expect("enable").disabled);
    assert!(matches!(store.set_user_disabled("nope", true, NOW).await, Err(StoreError::NotFound)));

    assert!(!store.get_user("u1").await.expect("get").expect("present").admin, "not an admin by default");
    let admin = store.set_user_access("u1", Some(true), Some(Some("hash".into())), NOW + 7).await.expect("access");
    assert!(admin.admin && admin.password_hash.as_deref() == Some("hash"));
    let kept = store.set_user_access("u1", None, None, NOW + 8).await.expect("access");
    assert!(kept.admin && kept.password_hash.as_deref() == Some("hash"), "None keeps both");
    let cleared = store.set_user_access("u1", Some(false), Some(None), NOW + 9).await.expect("access");
    assert!(!cleared.admin && cleared.password_hash.is_none());
    assert!(matches!(store.set_user_access("nope", Some(true), None, NOW).await, Err(StoreError::NotFound)));
}

pub async fn identities_are_renamed_to_a_free_subject(store: Arc<dyn Store>) {
    store.create_user_with_identity(new_user("u1"), identity("wecom:ww1", "old", "u1")).await.expect("create");
    store.create_user_with_identity(new_user("u2"), identity("wecom:ww1", "taken", "u2")).await.expect("create");
    store.rename_identity("wecom:ww1", "old", "New", NOW + 1).await.expect("rename");
    assert_eq!(store.get_identity("wecom:ww1", "old").await.expect("get"), None);
    assert_eq!(store.get_identity("wecom:ww1", "New").await.expect("get").map(|i| i.user_id), Some("u1".into()));
    assert!(matches!(store.rename_identity("wecom:ww1", "gone", "x", NOW).await, Err(StoreError::NotFound)));
    assert!(matches!(store.rename_identity("wecom:ww1", "New", "taken", NOW).await, Err(StoreError::Conflict(_))));

    // The grants and sessions made with the old subject follow it (a re-check asks by the new userid).
    store.create_user_with_identity(new_user("u3"), identity("wecom:ww1", "zhangsan", "u3")).await.expect("create");
    store.put_grant_origin(grant_origin("g1", "u3", NOW + 100)).await.expect("origin");
    store.put_session(session("s1", "u3", NOW + 100)).await.expect("session");
    store.rename_identity("wecom:ww1", "zhangsan", "zhang.san", NOW + 1).await.expect("rename");
    let origin = store.get_grant_origin("g1").await.expect("get").expect("origin");
    assert_eq!(origin.subject.as_deref(), Some("zhang.san"));
    let moved = store.get_session("s1", NOW).await.expect("get").expect("session");
    assert_eq!(moved.subject.as_deref(), Some("zhang.san"));
}
