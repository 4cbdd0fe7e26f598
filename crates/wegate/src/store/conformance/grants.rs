//! Conformance rules for authorization codes, refresh tokens and revocations.

use std::sync::Arc;

use super::fixtures::{NOW, auth_code, grant_origin, new_user, race, refresh_token, session};
use crate::store::prelude::*;
use crate::store::{AuditEvent, AuthCode, Consumed, GrantStart, Redeemed, RefreshToken, Session, StoreError};

pub async fn auth_code_is_single_use(store: Arc<dyn Store>) {
    let code = auth_code("c1", NOW + 60);
    store.put_auth_code(code.clone()).await.expect("put");
    assert_eq!(store.consume_auth_code("c1", "app", NOW).await.expect("consume"), Consumed::Fresh(code.clone()));
    assert_eq!(store.consume_auth_code("c1", "app", NOW + 1).await.expect("consume"), Consumed::Replayed(code.clone()));
    assert_eq!(
        store.consume_auth_code("c1", "app", NOW + 3600).await.expect("consume"),
        Consumed::Replayed(code),
        "a used code stays replayed after it expires"
    );
    assert_eq!(store.consume_auth_code("unknown", "app", NOW).await.expect("consume"), Consumed::NotFound);

    store.put_auth_code(auth_code("c2", NOW + 60)).await.expect("put");
    assert_eq!(
        store.consume_auth_code("c2", "app", NOW + 60).await.expect("consume"),
        Consumed::NotFound,
        "expired and unused"
    );
    assert_eq!(store.consume_auth_code("c2", "app", NOW + 61).await.expect("consume"), Consumed::NotFound);
    assert!(
        matches!(store.put_auth_code(auth_code("c1", NOW + 60)).await, Err(StoreError::Conflict(_))),
        "codes are unique"
    );
}

pub async fn redeeming_reads_the_user_and_the_origin_with_the_consume(store: Arc<dyn Store>) {
    let user = store.create_user(new_user("user")).await.expect("user");
    fn nothing<T>(consumed: Consumed<T>) -> Redeemed<T> {
        Redeemed { consumed, user: None, origin: None }
    }

    let code = auth_code("c1", NOW + 60);
    store.put_auth_code(code.clone()).await.expect("put");
    assert_eq!(
        store.redeem_auth_code("c1", "other-app", NOW).await.expect("redeem"),
        nothing(Consumed::NotFound),
        "another client's code gives nothing"
    );
    assert_eq!(
        store.redeem_auth_code("c1", "app", NOW).await.expect("redeem"),
        Redeemed { consumed: Consumed::Fresh(code.clone()), user: Some(user.clone()), origin: None }
    );
    assert_eq!(
        store.redeem_auth_code("c1", "app", NOW + 1).await.expect("redeem"),
        nothing(Consumed::Replayed(code)),
        "a replay names the code (to revoke its grant), not its user"
    );
    assert_eq!(store.redeem_auth_code("unknown", "app", NOW).await.expect("redeem"), nothing(Consumed::NotFound));
    let orphan_code = AuthCode { user_id: "gone".into(), ..auth_code("c2", NOW + 60) };
    store.put_auth_code(orphan_code.clone()).await.expect("put");
    assert_eq!(
        store.redeem_auth_code("c2", "app", NOW).await.expect("redeem"),
        nothing(Consumed::Fresh(orphan_code)),
        "a code whose user is gone is fresh, with nobody"
    );
    store.put_auth_code(auth_code("c3", NOW + 60)).await.expect("put");
    store.revoke_grant("grant-of-c3", NOW, NOW + 7200).await.expect("revoke");
    assert_eq!(
        store.redeem_auth_code("c3", "app", NOW).await.expect("redeem"),
        nothing(Consumed::NotFound),
        "a code of a revoked grant is no code"
    );

    let origin = grant_origin("g1", "user", NOW + 3600);
    store.put_grant_origin(origin.clone()).await.expect("origin");
    let token = refresh_token("r1", "g1", NOW + 3600);
    store.put_refresh_token(token.clone()).await.expect("put");
    assert_eq!(
        store.redeem_refresh_token("r1", NOW).await.expect("redeem"),
        Redeemed { consumed: Consumed::Fresh(token.clone()), user: Some(user), origin: Some(origin) }
    );
    assert_eq!(store.redeem_refresh_token("r1", NOW + 1).await.expect("redeem"), nothing(Consumed::Replayed(token)));

    // A grant without an origin (a password sign-in) and a user deleted since: fresh, with nobody.
    let orphan = RefreshToken { user_id: "gone".into(), ..refresh_token("r2", "g2", NOW + 3600) };
    store.put_refresh_token(orphan.clone()).await.expect("put");
    assert_eq!(store.redeem_refresh_token("r2", NOW).await.expect("redeem"), nothing(Consumed::Fresh(orphan)));
    store.revoke_grant("g1", NOW, NOW + 7200).await.expect("revoke");
    assert_eq!(
        store.redeem_refresh_token("r1", NOW + 2).await.expect("redeem"),
        nothing(Consumed::NotFound),
        "a revoked grant's token is not found"
    );
}

pub async fn concurrent_code_redemption_is_honoured_once(store: Arc<dyn Store>) {
    let code = auth_code("c1", NOW + 60);
    store.put_auth_code(code.clone()).await.expect("put");
    let outcomes =
        race(&store, 16, |s, _| async move { s.consume_auth_code("c1", "app", NOW).await.expect("consume") }).await;
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

    // A code of a revoked grant yields nothing.
    let mut code = auth_code("c-revoked", NOW + 60);
    code.grant_id = "g".into();
    store.put_auth_code(code).await.expect("put");
    assert_eq!(store.consume_auth_code("c-revoked", "app", NOW + 3).await.expect("consume"), Consumed::NotFound);

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

pub async fn another_clients_code_is_not_consumed(store: Arc<dyn Store>) {
    let code = auth_code("c1", NOW + 60);
    store.put_auth_code(code.clone()).await.expect("put");
    assert_eq!(store.consume_auth_code("c1", "intruder", NOW).await.expect("consume"), Consumed::NotFound);
    assert_eq!(store.consume_auth_code("c1", "app", NOW).await.expect("consume"), Consumed::Fresh(code.clone()));
    assert_eq!(
        store.consume_auth_code("c1", "intruder", NOW).await.expect("consume"),
        Consumed::NotFound,
        "nor does another client learn of its use"
    );
}

pub async fn grant_origins_round_trip_and_list_the_users_live_grants(store: Arc<dyn Store>) {
    let first = grant_origin("g1", "u1", NOW + 100);
    store.put_grant_origin(first.clone()).await.expect("put");
    let mut again = first.clone();
    again.client_id = "other".into();
    store.put_grant_origin(again).await.expect("a second put of a grant keeps the first");
    assert_eq!(store.get_grant_origin("g1").await.expect("get"), Some(first.clone()));
    assert_eq!(store.get_grant_origin("nope").await.expect("get"), None);

    store.extend_grant_origin("g1", NOW + 300).await.expect("extend");
    store.extend_grant_origin("g1", NOW + 200).await.expect("never shortened");
    assert_eq!(store.get_grant_origin("g1").await.expect("get").map(|g| g.expires_at), Some(NOW + 300));
    store.set_grant_checked("g1", NOW + 50).await.expect("checked");
    store.set_grant_checked("g1", NOW + 10).await.expect("an older check never moves it back");
    assert_eq!(store.get_grant_origin("g1").await.expect("get").map(|g| g.checked_at), Some(NOW + 50));

    let mut password = grant_origin("g2", "u1", NOW + 200);
    (password.connection, password.upstream, password.subject, password.sid) = (None, None, None, None);
    store.put_grant_origin(password.clone()).await.expect("put");
    store.put_grant_origin(grant_origin("g3", "u2", NOW + 200)).await.expect("put");
    store.put_grant_origin(grant_origin("g4", "u1", NOW)).await.expect("put");
    let live: Vec<String> =
        store.user_grant_origins("u1", NOW).await.expect("list").into_iter().map(|g| g.grant_id).collect();
    assert_eq!(live, ["g1", "g2"], "the user's grants that have not expired");
    let mut token = refresh_token("rt-old", "g-before-origins", NOW + 100);
    token.user_id = "u1".into();
    store.put_refresh_token(token).await.expect("put");
    assert_eq!(store.user_refresh_grants("u1", NOW).await.expect("grants"), ["g-before-origins"]);
    assert!(store.user_refresh_grants("u1", NOW + 100).await.expect("grants").is_empty(), "expired tokens count not");
    assert!(store.sweep_expired(NOW + 250).await.expect("sweep") > 0);
    assert!(store.get_grant_origin("g1").await.expect("get").is_some(), "extended: kept");
    assert_eq!(store.get_grant_origin("g2").await.expect("get"), None, "swept once expired");
    let _ = password;
}

/// The first refresh token of a grant keeps its origin as long as the grant may live (never shorter); a
/// revocation deletes the origin (a later sign-out has nothing of it to notify or re-check).
pub async fn a_refresh_family_keeps_its_origin_and_revocation_drops_it(store: Arc<dyn Store>) {
    store.put_grant_origin(grant_origin("g1", "u1", NOW + 100)).await.expect("put");
    store.put_grant_origin(grant_origin("g2", "u1", NOW + 100)).await.expect("put");
    store.start_refresh_family(refresh_token("r1", "g1", NOW + 3600), NOW + 4000).await.expect("start");
    assert_eq!(store.get_grant_origin("g1").await.expect("get").map(|g| g.expires_at), Some(NOW + 4000));
    assert!(matches!(store.consume_refresh_token("r1", NOW).await.expect("consume"), Consumed::Fresh(_)));
    store.start_refresh_family(refresh_token("r2", "g1", NOW + 3600), NOW + 50).await.expect("start");
    assert_eq!(
        store.get_grant_origin("g1").await.expect("get").map(|g| g.expires_at),
        Some(NOW + 4000),
        "never shortened"
    );

    store.revoke_grant("g1", NOW, NOW + 4000).await.expect("revoke");
    assert_eq!(store.get_grant_origin("g1").await.expect("get"), None);
    let live: Vec<String> =
        store.user_grant_origins("u1", NOW).await.expect("list").into_iter().map(|g| g.grant_id).collect();
    assert_eq!(live, ["g2"], "only the grant not revoked is left to notify");
}

/// `start_grant` stores the origin and the first code together; when the code cannot be stored (its hash
/// is taken), the origin is not stored either.
pub async fn a_grant_starts_with_its_origin_and_code_or_not_at_all(store: Arc<dyn Store>) {
    let start = |grant: &str, code_hash: &str, session: Option<Session>, audit: Option<AuditEvent>| {
        let mut code = auth_code(code_hash, NOW + 60);
        code.grant_id = grant.into();
        GrantStart { origin: grant_origin(grant, "user", NOW + 100), code, session, audit }
    };
    let login = |user: &str| AuditEvent {
        id: 0,
        at: NOW,
        event: "login.success".into(),
        client_id: Some("app".into()),
        connection: None,
        user_id: Some(user.into()),
        upstream_subject: None,
        reason: None,
        actor: None,
    };
    store.start_grant(start("g1", "c1", None, None)).await.expect("start");
    assert!(store.get_grant_origin("g1").await.expect("get").is_some());
    assert!(
        matches!(store.consume_auth_code("c1", "app", NOW).await.expect("consume"), Consumed::Fresh(c) if c.grant_id == "g1")
    );

    // With a fresh session and the audit entry: all there.
    store
        .start_grant(start("g2", "c2", Some(session("s2", "user", NOW + 3600)), Some(login("u2"))))
        .await
        .expect("start");
    assert!(store.get_session("s2", NOW).await.expect("get").is_some());
    let audit = store.list_audit(100, None).await.expect("audit").items;
    assert!(audit.iter().any(|e| e.user_id.as_deref() == Some("u2") && e.event == "login.success"));

    // A code that clashes: nothing of it stays.
    let taken = start("g3", "c1", Some(session("s3", "user", NOW + 3600)), Some(login("u3")));
    assert!(matches!(store.start_grant(taken).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_grant_origin("g3").await.expect("get"), None, "no origin without its code");
    assert_eq!(store.get_session("s3", NOW).await.expect("get"), None, "no session without its grant");
    let audit = store.list_audit(100, None).await.expect("audit").items;
    assert!(!audit.iter().any(|e| e.user_id.as_deref() == Some("u3")), "no audit entry of a login that failed");
}
