//! [`GrantStore`] on SQL: `auth_codes` and `refresh_tokens` (consumed by one `UPDATE ... WHERE used_at IS
//! NULL`, kept [`REPLAY_MEMORY`](super::REPLAY_MEMORY) past expiry once used), `revoked_grants`,
//! `revoked_access_tokens`.

use super::db::{Row, Stmt, q};
use async_trait::async_trait;

use super::audit::insert_audit;
use super::sessions::upsert_session;
use super::users::{user_from_row, user_with_id_of};
use super::{SqlStore, all, col, one};
use crate::store::{
    AuditStore, AuthCode, Consumed, GrantOrigin, GrantStart, GrantStore, Redeemed, RefreshToken, StoreResult, Timestamp,
};

macro_rules! auth_code_cols {
    () => {
        "code_hash, grant_id, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
         code_challenge_method, session_id, auth_time, amr, created_at, expires_at"
    };
}
macro_rules! refresh_token_cols {
    () => {
        "token_hash, grant_id, client_id, user_id, scope, session_id, auth_time, amr, created_at, expires_at"
    };
}

/// A code or refresh token counts only while its grant is not revoked (one stored while the grant was being
/// revoked must not survive it; a code issued just before its person was signed out everywhere yields nothing).
macro_rules! grant_live {
    ($table:literal, $now:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM revoked_grants g WHERE g.grant_id = ",
            $table,
            ".grant_id AND g.expires_at > ",
            $now,
            ")"
        )
    };
}

macro_rules! origin_cols {
    () => {
        "grant_id, user_id, client_id, sid, connection, upstream, subject, checked_at, created_at, expires_at"
    };
}

/// Marks a code used — the database lets exactly one such UPDATE match `used_at IS NULL`, and that caller
/// gets the code. Another client's attempt matches nothing and leaves the code to its own client.
fn take_code(code_hash: &str, client_id: &str, now: Timestamp) -> Stmt {
    q(concat!(
        "UPDATE auth_codes SET used_at = $2 WHERE code_hash = $1 AND client_id = $3 AND used_at IS NULL ",
        "AND expires_at > $2 AND ",
        grant_live!("auth_codes", "$2"),
        " RETURNING ",
        auth_code_cols!()
    ))
    .bind(code_hash)
    .bind(now)
    .bind(client_id)
}

/// Marks a refresh token used (exactly one caller gets it).
fn take_refresh_token(token_hash: &str, now: Timestamp) -> Stmt {
    q(concat!(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 ",
        "AND ",
        grant_live!("refresh_tokens", "$2"),
        " RETURNING ",
        refresh_token_cols!()
    ))
    .bind(token_hash)
    .bind(now)
}

fn origin_from_row(row: &Row) -> StoreResult<GrantOrigin> {
    Ok(GrantOrigin {
        grant_id: col(row, "grant_id")?,
        user_id: col(row, "user_id")?,
        client_id: col(row, "client_id")?,
        sid: col(row, "sid")?,
        connection: col(row, "connection")?,
        upstream: col(row, "upstream")?,
        subject: col(row, "subject")?,
        checked_at: col(row, "checked_at")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn auth_code_from_row(row: &Row) -> StoreResult<AuthCode> {
    Ok(AuthCode {
        code_hash: col(row, "code_hash")?,
        grant_id: col(row, "grant_id")?,
        client_id: col(row, "client_id")?,
        user_id: col(row, "user_id")?,
        redirect_uri: col(row, "redirect_uri")?,
        scope: col(row, "scope")?,
        nonce: col(row, "nonce")?,
        code_challenge: col(row, "code_challenge")?,
        code_challenge_method: col(row, "code_challenge_method")?,
        session_id: col(row, "session_id")?,
        auth_time: col(row, "auth_time")?,
        amr: col(row, "amr")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn refresh_token_from_row(row: &Row) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: col(row, "token_hash")?,
        grant_id: col(row, "grant_id")?,
        client_id: col(row, "client_id")?,
        user_id: col(row, "user_id")?,
        scope: col(row, "scope")?,
        session_id: col(row, "session_id")?,
        auth_time: col(row, "auth_time")?,
        amr: col(row, "amr")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn insert_auth_code(code: &AuthCode) -> Stmt {
    q(concat!(
        "INSERT INTO auth_codes (",
        auth_code_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(code.code_hash.as_str())
    .bind(code.grant_id.as_str())
    .bind(code.client_id.as_str())
    .bind(code.user_id.as_str())
    .bind(code.redirect_uri.as_str())
    .bind(code.scope.as_str())
    .bind(code.nonce.as_deref())
    .bind(code.code_challenge.as_deref())
    .bind(code.code_challenge_method.as_deref())
    .bind(code.session_id.as_deref())
    .bind(code.auth_time)
    .bind(code.amr.as_str())
    .bind(code.created_at)
    .bind(code.expires_at)
}

fn insert_grant_origin(o: &GrantOrigin) -> Stmt {
    q(concat!(
        "INSERT INTO grant_origins (",
        origin_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (grant_id) DO NOTHING"
    ))
    .bind(o.grant_id.as_str())
    .bind(o.user_id.as_str())
    .bind(o.client_id.as_str())
    .bind(o.sid.as_deref())
    .bind(o.connection.as_deref())
    .bind(o.upstream.as_deref())
    .bind(o.subject.as_deref())
    .bind(o.checked_at)
    .bind(o.created_at)
    .bind(o.expires_at)
}

/// The lookups after a consume that took nothing: a used code or token is a replay (the caller revokes its
/// grant), anything else is not found.
impl SqlStore {
    async fn used_code(&self, code_hash: &str, client_id: &str) -> StoreResult<Consumed<AuthCode>> {
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    auth_code_cols!(),
                    " FROM auth_codes WHERE code_hash = $1 AND client_id = $2 AND used_at IS NOT NULL"
                ))
                .bind(code_hash)
                .bind(client_id),
            )
            .await?;
        Ok(one(rows, auth_code_from_row)?.map_or(Consumed::NotFound, Consumed::Replayed))
    }

    async fn used_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Consumed<RefreshToken>> {
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    refresh_token_cols!(),
                    " FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL AND ",
                    grant_live!("refresh_tokens", "$2")
                ))
                .bind(token_hash)
                .bind(now),
            )
            .await?;
        Ok(one(rows, refresh_token_from_row)?.map_or(Consumed::NotFound, Consumed::Replayed))
    }
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn put_auth_code(&self, code: AuthCode) -> StoreResult<()> {
        self.exec(insert_auth_code(&code)).await.map(|_| ())
    }

    async fn start_grant(&self, start: GrantStart) -> StoreResult<()> {
        let mut statements = vec![insert_grant_origin(&start.origin), insert_auth_code(&start.code)];
        statements.extend(start.session.as_ref().map(upsert_session));
        let audit = start.audit.map(|event| (self.audit_id(event.at, false), event));
        statements.extend(audit.as_ref().map(|(id, event)| insert_audit(*id, event)));
        let results = self.transaction(statements, false).await?;
        // An audit id taken by another instance in the same instant: the entry goes on its own, with the
        // usual retries. The grant is committed: a failure here is logged, as for any audit write.
        if let Some((_, event)) = audit
            && results.last().is_some_and(Vec::is_empty)
            && let Err(e) = self.append_audit(event).await
        {
            tracing::error!(error = %e, "could not write the audit log");
        }
        Ok(())
    }

    async fn consume_auth_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: Timestamp,
    ) -> StoreResult<Consumed<AuthCode>> {
        match one(self.fetch(take_code(code_hash, client_id, now)).await?, auth_code_from_row)? {
            Some(code) => Ok(Consumed::Fresh(code)),
            None => self.used_code(code_hash, client_id).await,
        }
    }

    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: Timestamp,
    ) -> StoreResult<Redeemed<AuthCode>> {
        let [taken, user] = self
            .in_order([
                take_code(code_hash, client_id, now),
                q(user_with_id_of("SELECT user_id FROM auth_codes WHERE code_hash = $1")).bind(code_hash),
            ])
            .await?;
        match one(taken, auth_code_from_row)? {
            Some(code) => {
                let user = one(user, user_from_row)?.filter(|user| user.id == code.user_id);
                Ok(Redeemed { consumed: Consumed::Fresh(code), user, origin: None })
            }
            None => Ok(Redeemed { consumed: self.used_code(code_hash, client_id).await?, user: None, origin: None }),
        }
    }

    async fn put_refresh_token(&self, token: RefreshToken) -> StoreResult<()> {
        self.exec(insert_refresh_token(&token)).await.map(|_| ())
    }

    async fn start_refresh_family(&self, token: RefreshToken, origin_until: Timestamp) -> StoreResult<()> {
        let statements = vec![insert_refresh_token(&token), extend_origin(&token.grant_id, origin_until)];
        self.transaction(statements, false).await.map(|_| ())
    }

    async fn consume_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Consumed<RefreshToken>> {
        match one(self.fetch(take_refresh_token(token_hash, now)).await?, refresh_token_from_row)? {
            Some(token) => Ok(Consumed::Fresh(token)),
            None => self.used_refresh_token(token_hash, now).await,
        }
    }

    async fn redeem_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Redeemed<RefreshToken>> {
        let [taken, user, origin] = self
            .in_order([
                take_refresh_token(token_hash, now),
                q(user_with_id_of("SELECT user_id FROM refresh_tokens WHERE token_hash = $1")).bind(token_hash),
                q(concat!(
                    "SELECT ",
                    origin_cols!(),
                    " FROM grant_origins WHERE grant_id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = $1)"
                ))
                .bind(token_hash),
            ])
            .await?;
        match one(taken, refresh_token_from_row)? {
            Some(token) => Ok(Redeemed {
                user: one(user, user_from_row)?.filter(|user| user.id == token.user_id),
                origin: one(origin, origin_from_row)?.filter(|origin| origin.grant_id == token.grant_id),
                consumed: Consumed::Fresh(token),
            }),
            None => {
                Ok(Redeemed { consumed: self.used_refresh_token(token_hash, now).await?, user: None, origin: None })
            }
        }
    }

    async fn get_refresh_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<RefreshToken>> {
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    refresh_token_cols!(),
                    " FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND ",
                    grant_live!("refresh_tokens", "$2")
                ))
                .bind(token_hash)
                .bind(now),
            )
            .await?;
        one(rows, refresh_token_from_row)
    }

    async fn revoke_grant(&self, grant_id: &str, now: Timestamp, expires_at: Timestamp) -> StoreResult<()> {
        // Revocation first, deletion second: a token stored in between is caught by the revocation check. The
        // origin goes too: a revoked grant has nothing left to re-check, and a later sign-out must not notify
        // its app again.
        self.in_order([
            q(concat!(
                "INSERT INTO revoked_grants (grant_id, revoked_at, expires_at) VALUES ($1, $2, $3) ",
                "ON CONFLICT (grant_id) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > revoked_grants.expires_at ",
                "THEN excluded.expires_at ELSE revoked_grants.expires_at END"
            ))
            .bind(grant_id)
            .bind(now)
            .bind(expires_at),
            q("DELETE FROM refresh_tokens WHERE grant_id = $1").bind(grant_id),
            q("DELETE FROM grant_origins WHERE grant_id = $1").bind(grant_id),
        ])
        .await
        .map(|_| ())
    }

    async fn is_grant_revoked(&self, grant_id: &str) -> StoreResult<bool> {
        // No clock here: a revocation answers true until the sweep removes it, which is after `expires_at`.
        let rows = self.fetch(q("SELECT grant_id FROM revoked_grants WHERE grant_id = $1").bind(grant_id)).await?;
        Ok(!rows.is_empty())
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: Timestamp) -> StoreResult<()> {
        self.exec(
            q(concat!(
                "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ",
                "ON CONFLICT (jti) DO UPDATE SET expires_at = CASE WHEN excluded.expires_at > revoked_access_tokens.expires_at ",
                "THEN excluded.expires_at ELSE revoked_access_tokens.expires_at END"
            ))
            .bind(jti)
            .bind(expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let rows = self.fetch(q("SELECT jti FROM revoked_access_tokens WHERE jti = $1").bind(jti)).await?;
        Ok(!rows.is_empty())
    }

    async fn put_grant_origin(&self, origin: GrantOrigin) -> StoreResult<()> {
        self.exec(insert_grant_origin(&origin)).await.map(|_| ())
    }

    async fn get_grant_origin(&self, grant_id: &str) -> StoreResult<Option<GrantOrigin>> {
        let rows = self
            .fetch(q(concat!("SELECT ", origin_cols!(), " FROM grant_origins WHERE grant_id = $1")).bind(grant_id))
            .await?;
        one(rows, origin_from_row)
    }

    async fn set_grant_checked(&self, grant_id: &str, checked_at: Timestamp) -> StoreResult<()> {
        self.exec(
            q("UPDATE grant_origins SET checked_at = $2 WHERE grant_id = $1 AND checked_at < $2")
                .bind(grant_id)
                .bind(checked_at),
        )
        .await
        .map(|_| ())
    }

    async fn extend_grant_origin(&self, grant_id: &str, expires_at: Timestamp) -> StoreResult<()> {
        self.exec(extend_origin(grant_id, expires_at)).await.map(|_| ())
    }

    async fn user_refresh_grants(&self, user_id: &str, now: Timestamp) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch(
                q(
                    "SELECT DISTINCT grant_id FROM refresh_tokens WHERE user_id = $1 AND expires_at > $2 ORDER BY grant_id",
                )
                .bind(user_id)
                .bind(now),
            )
            .await?;
        all(rows, |row| col(row, "grant_id"))
    }

    async fn user_grant_origins(&self, user_id: &str, now: Timestamp) -> StoreResult<Vec<GrantOrigin>> {
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    origin_cols!(),
                    " FROM grant_origins WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at"
                ))
                .bind(user_id)
                .bind(now),
            )
            .await?;
        all(rows, origin_from_row)
    }
}

fn insert_refresh_token(token: &RefreshToken) -> Stmt {
    q(concat!(
        "INSERT INTO refresh_tokens (",
        refresh_token_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(token.token_hash.as_str())
    .bind(token.grant_id.as_str())
    .bind(token.client_id.as_str())
    .bind(token.user_id.as_str())
    .bind(token.scope.as_str())
    .bind(token.session_id.as_deref())
    .bind(token.auth_time)
    .bind(token.amr.as_str())
    .bind(token.created_at)
    .bind(token.expires_at)
}

/// An origin only ever lives longer.
fn extend_origin(grant_id: &str, expires_at: Timestamp) -> Stmt {
    q("UPDATE grant_origins SET expires_at = $2 WHERE grant_id = $1 AND expires_at < $2")
        .bind(grant_id)
        .bind(expires_at)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::REPLAY_MEMORY;
    use super::*;
    use crate::store::conformance::{NOW, TestDatabase, on_postgres, on_sqlite};
    use crate::store::prelude::*;

    fn code(hash: &str, expires_at: Timestamp) -> AuthCode {
        AuthCode {
            code_hash: hash.into(),
            grant_id: "grant".into(),
            client_id: "app".into(),
            user_id: "user".into(),
            redirect_uri: "https://app.example.com/cb".into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            code_challenge_method: None,
            session_id: None,
            auth_time: NOW,
            amr: "pwd".into(),
            created_at: NOW,
            expires_at,
        }
    }

    /// Used codes and refresh tokens outlive their expiry by REPLAY_MEMORY, so a late replay still revokes.
    async fn late_replays_are_still_reported(store: Arc<dyn Store>) {
        store.put_auth_code(code("c", NOW + 60)).await.expect("put");
        let token = RefreshToken {
            token_hash: "r".into(),
            grant_id: "g".into(),
            client_id: "app".into(),
            user_id: "user".into(),
            scope: "openid".into(),
            session_id: None,
            auth_time: NOW,
            amr: "pwd".into(),
            created_at: NOW,
            expires_at: NOW + 60,
        };
        store.put_refresh_token(token).await.expect("put");
        assert!(matches!(store.consume_auth_code("c", "app", NOW).await.expect("consume"), Consumed::Fresh(_)));
        assert!(matches!(store.consume_refresh_token("r", NOW).await.expect("consume"), Consumed::Fresh(_)));

        assert_eq!(store.sweep_expired(NOW + 61).await.expect("sweep"), 0, "used rows are kept");
        assert!(matches!(
            store.consume_auth_code("c", "app", NOW + 3600).await.expect("consume"),
            Consumed::Replayed(_)
        ));
        assert!(matches!(store.consume_refresh_token("r", NOW + 3600).await.expect("consume"), Consumed::Replayed(_)));

        assert_eq!(store.sweep_expired(NOW + 60 + REPLAY_MEMORY).await.expect("sweep"), 2);
        assert_eq!(
            store.consume_auth_code("c", "app", NOW + 60 + REPLAY_MEMORY).await.expect("consume"),
            Consumed::NotFound
        );
    }

    #[tokio::test]
    async fn late_replays_are_still_reported_on_sqlite() {
        on_sqlite(|store| Box::pin(late_replays_are_still_reported(store))).await;
    }

    #[tokio::test]
    async fn late_replays_are_still_reported_on_postgres() {
        on_postgres(|store| Box::pin(late_replays_are_still_reported(store))).await;
    }

    /// Two instances (two pools) on one database: a code is still redeemed once.
    async fn two_instances_redeem_a_code_once(db: TestDatabase) {
        let settings = crate::store::conformance::shared();
        let a: Arc<dyn Store> = Arc::new(SqlStore::connect(&db.url, &settings).await.expect("instance a"));
        let b: Arc<dyn Store> = Arc::new(SqlStore::connect(&db.url, &settings).await.expect("instance b"));
        a.put_auth_code(code("c", NOW + 60)).await.expect("put");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { store.consume_auth_code("c", "app", NOW).await })
            })
            .collect();
        let mut fresh = 0;
        for task in tasks {
            if let Consumed::Fresh(_) = task.await.expect("task").expect("consume") {
                fresh += 1;
            }
        }
        drop((a, b));
        db.remove().await;
        assert_eq!(fresh, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_redeem_a_code_once_on_sqlite() {
        two_instances_redeem_a_code_once(TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_redeem_a_code_once_on_postgres() {
        if let Some(db) = TestDatabase::postgres().await {
            two_instances_redeem_a_code_once(db).await;
        }
    }
}
