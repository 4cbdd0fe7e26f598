//! Fixtures of the conformance rules: one value of each stored type at the fixed clock [`NOW`], and the
//! helpers the rules share.

use std::future::Future;
use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;

use crate::store::{
    App, AppKind, Association, AssociationMode, AuditEvent, AuthCode, AuthorizedCorp, Connection, GrantOrigin,
    Identity, KindSettings, LoginTx, MatchField, NewUser, QrCodeSettings, RefreshToken, Session, SigningKey, Store,
    StoreError, Timestamp,
};

/// The clock of every rule.
pub const NOW: Timestamp = 1_700_000_000;

pub(super) fn app(client_id: &str) -> App {
    App {
        client_id: client_id.into(),
        name: format!("App {client_id}"),
        kind: AppKind::Web,
        client_secret_hash: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        redirect_uris: vec![format!("https://{client_id}.example.com/callback")],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

pub(super) fn connection(identifier: &str) -> Connection {
    Connection {
        identifier: identifier.into(),
        display_name: format!("WeCom {identifier}"),
        login_only: false,
        association: Association { mode: AssociationMode::Match, fields: vec![MatchField::Email] },
        settings: KindSettings::QrCode(QrCodeSettings {
            corp_id: "ww0123456789abcdef".into(),
            agent_id: "1000002".into(),
            secret: "s3cr3t".into(),
            token: None,
            encoding_aes_key: None,
        }),
        domain_verification: None,
        trust_email: false,
        icon_url: None,
        state: json!({}),
        created_at: NOW,
        updated_at: NOW,
    }
}

pub(super) fn new_user(id: &str) -> NewUser {
    NewUser { id: id.into(), claims: json!({}), created_at: NOW, ..NewUser::default() }
}

pub(super) fn identity(upstream: &str, subject: &str, user_id: &str) -> Identity {
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

pub(super) fn signing_key(kid: &str) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg: "RS256".into(),
        private_pem: format!("-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----\n"),
        public_jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"}),
        created_at: NOW,
        retired_at: None,
        activates_at: None,
    }
}

pub(super) fn login_tx(id: &str, expires_at: Timestamp) -> LoginTx {
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

pub(super) fn auth_code(code_hash: &str, expires_at: Timestamp) -> AuthCode {
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

pub(super) fn refresh_token(token_hash: &str, grant_id: &str, expires_at: Timestamp) -> RefreshToken {
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

pub(super) fn grant_origin(grant_id: &str, user_id: &str, expires_at: Timestamp) -> GrantOrigin {
    GrantOrigin {
        grant_id: grant_id.into(),
        user_id: user_id.into(),
        client_id: "app".into(),
        sid: Some(format!("sid-{grant_id}")),
        connection: Some("wecom".into()),
        upstream: Some("wecom:ww1".into()),
        subject: Some("zhangsan".into()),
        checked_at: NOW,
        created_at: NOW,
        expires_at,
    }
}

pub(super) fn session(id_hash: &str, user_id: &str, expires_at: Timestamp) -> Session {
    Session {
        id_hash: id_hash.into(),
        sid: format!("sid-{id_hash}"),
        user_id: user_id.into(),
        auth_time: NOW,
        amr: "wecom_qrcode".into(),
        connection: Some("wecom".into()),
        upstream: Some("wecom:ww1".into()),
        subject: Some("zhangsan".into()),
        created_at: NOW,
        expires_at,
    }
}

pub(super) fn corp(connection: &str, corp_id: &str) -> AuthorizedCorp {
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

pub(super) fn audit(at: Timestamp, event: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        at,
        event: event.into(),
        client_id: Some("app".into()),
        connection: None,
        user_id: None,
        upstream_subject: Some("wecom:ww1/zhangsan".into()),
        reason: None,
        actor: Some("api".into()),
    }
}

pub(super) fn conflict_on(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(field)) => field,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub(super) fn is_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

/// Runs `n` copies of `f` at once on the runtime's threads and collects their results.
pub(super) async fn race<T, F, Fut>(store: &Arc<dyn Store>, n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Store>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(store.clone(), i))).collect();
    join_all(tasks).await.into_iter().map(|r| r.expect("task panicked")).collect()
}
