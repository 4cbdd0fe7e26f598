//! [`SessionStore`] on SQL: `login_tx` (taken by one `DELETE ... RETURNING`) and `sessions`.

use super::db::{Row, Stmt, q};
use async_trait::async_trait;

use super::{SqlStore, all, col, json_col, one, to_json};
use crate::store::{LoginTx, Session, SessionStore, StoreError, StoreResult, Timestamp};

macro_rules! login_tx_cols {
    () => {
        "id, browser_hash, client_id, redirect_uri, scope, state, nonce, code_challenge, code_challenge_method, \
         response_mode, prompt, max_age, ui_locales, connection, data, created_at, expires_at"
    };
}
macro_rules! session_cols {
    () => {
        "id_hash, user_id, auth_time, amr, created_at, expires_at, sid, connection, upstream, subject"
    };
}

fn login_tx_from_row(row: &Row) -> StoreResult<LoginTx> {
    Ok(LoginTx {
        id: col(row, "id")?,
        browser_hash: col(row, "browser_hash")?,
        client_id: col(row, "client_id")?,
        redirect_uri: col(row, "redirect_uri")?,
        scope: col(row, "scope")?,
        state: col(row, "state")?,
        nonce: col(row, "nonce")?,
        code_challenge: col(row, "code_challenge")?,
        code_challenge_method: col(row, "code_challenge_method")?,
        response_mode: col(row, "response_mode")?,
        prompt: col(row, "prompt")?,
        max_age: col(row, "max_age")?,
        ui_locales: col(row, "ui_locales")?,
        connection: col(row, "connection")?,
        data: json_col(row, "data")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn session_from_row(row: &Row) -> StoreResult<Session> {
    Ok(Session {
        id_hash: col(row, "id_hash")?,
        sid: col::<Option<String>>(row, "sid")?.unwrap_or_default(),
        user_id: col(row, "user_id")?,
        auth_time: col(row, "auth_time")?,
        amr: col(row, "amr")?,
        connection: col(row, "connection")?,
        upstream: col(row, "upstream")?,
        subject: col(row, "subject")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

/// A browser session, written over one with the same cookie hash.
pub(super) fn upsert_session(session: &Session) -> Stmt {
    q(concat!(
        "INSERT INTO sessions (",
        session_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ",
        "ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, auth_time = excluded.auth_time, ",
        "amr = excluded.amr, created_at = excluded.created_at, expires_at = excluded.expires_at, ",
        "sid = excluded.sid, connection = excluded.connection, upstream = excluded.upstream, ",
        "subject = excluded.subject"
    ))
    .bind(session.id_hash.as_str())
    .bind(session.user_id.as_str())
    .bind(session.auth_time)
    .bind(session.amr.as_str())
    .bind(session.created_at)
    .bind(session.expires_at)
    .bind(Some(session.sid.as_str()).filter(|s| !s.is_empty()))
    .bind(session.connection.as_deref())
    .bind(session.upstream.as_deref())
    .bind(session.subject.as_deref())
}

#[async_trait]
impl SessionStore for SqlStore {
    // --- login transactions

    async fn put_login_tx(&self, tx: LoginTx) -> StoreResult<()> {
        self.exec(
            q(concat!(
                "INSERT INTO login_tx (",
                login_tx_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ",
                "ON CONFLICT (id) DO UPDATE SET browser_hash = excluded.browser_hash, client_id = excluded.client_id, ",
                "redirect_uri = excluded.redirect_uri, scope = excluded.scope, state = excluded.state, ",
                "nonce = excluded.nonce, code_challenge = excluded.code_challenge, ",
                "code_challenge_method = excluded.code_challenge_method, response_mode = excluded.response_mode, ",
                "prompt = excluded.prompt, max_age = excluded.max_age, ui_locales = excluded.ui_locales, ",
                "connection = excluded.connection, data = excluded.data, created_at = excluded.created_at, ",
                "expires_at = excluded.expires_at"
            ))
            .bind(tx.id.as_str())
            .bind(tx.browser_hash.as_str())
            .bind(tx.client_id.as_str())
            .bind(tx.redirect_uri.as_str())
            .bind(tx.scope.as_str())
            .bind(tx.state.as_deref())
            .bind(tx.nonce.as_deref())
            .bind(tx.code_challenge.as_deref())
            .bind(tx.code_challenge_method.as_deref())
            .bind(tx.response_mode.as_deref())
            .bind(tx.prompt.as_deref())
            .bind(tx.max_age)
            .bind(tx.ui_locales.as_deref())
            .bind(tx.connection.as_deref())
            .bind(to_json(&tx.data)?)
            .bind(tx.created_at)
            .bind(tx.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>> {
        let rows = self
            .fetch(
                q(concat!("SELECT ", login_tx_cols!(), " FROM login_tx WHERE id = $1 AND expires_at > $2"))
                    .bind(id)
                    .bind(now),
            )
            .await?;
        one(rows, login_tx_from_row)
    }

    async fn take_login_tx(&self, id: &str, now: Timestamp) -> StoreResult<Option<LoginTx>> {
        // One DELETE: of any number of concurrent takes, exactly one gets the row back.
        let rows = self
            .fetch(
                q(concat!("DELETE FROM login_tx WHERE id = $1 AND expires_at > $2 RETURNING ", login_tx_cols!()))
                    .bind(id)
                    .bind(now),
            )
            .await?;
        one(rows, login_tx_from_row)
    }

    async fn take_login_tx_for(
        &self,
        id: &str,
        now: Timestamp,
        browser_hash: &str,
        connection: &str,
    ) -> StoreResult<Option<LoginTx>> {
        let rows = self
            .fetch(
                q(concat!(
                    "DELETE FROM login_tx WHERE id = $1 AND expires_at > $2 AND browser_hash = $3 AND connection = $4 ",
                    "RETURNING ",
                    login_tx_cols!()
                ))
                .bind(id)
                .bind(now)
                .bind(browser_hash)
                .bind(connection),
            )
            .await?;
        one(rows, login_tx_from_row)
    }

    async fn update_login_tx(&self, tx: &LoginTx) -> StoreResult<()> {
        let updated = self
            .exec(
                q("UPDATE login_tx SET connection = $2, data = $3, expires_at = $4 WHERE id = $1")
                    .bind(tx.id.as_str())
                    .bind(tx.connection.as_deref())
                    .bind(to_json(&tx.data)?)
                    .bind(tx.expires_at),
            )
            .await?;
        if updated == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn trim_login_txs(&self, browser_hash: &str, keep: u32) -> StoreResult<u64> {
        self.exec(
            q("DELETE FROM login_tx WHERE browser_hash = $1 AND id NOT IN \
                 (SELECT id FROM login_tx WHERE browser_hash = $1 ORDER BY created_at DESC, id DESC LIMIT $2)")
            .bind(browser_hash)
            .bind(i64::from(keep)),
        )
        .await
    }

    // --- sessions

    async fn put_session(&self, session: Session) -> StoreResult<()> {
        self.exec(upsert_session(&session)).await.map(|_| ())
    }

    async fn get_session(&self, id_hash: &str, now: Timestamp) -> StoreResult<Option<Session>> {
        let rows = self
            .fetch(
                q(concat!("SELECT ", session_cols!(), " FROM sessions WHERE id_hash = $1 AND expires_at > $2"))
                    .bind(id_hash)
                    .bind(now),
            )
            .await?;
        one(rows, session_from_row)
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        self.exec(q("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash)).await.map(|_| ())
    }

    async fn user_sessions(&self, user_id: &str, now: Timestamp) -> StoreResult<Vec<Session>> {
        let rows = self
            .fetch(
                q(concat!(
                    "SELECT ",
                    session_cols!(),
                    " FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC"
                ))
                .bind(user_id)
                .bind(now),
            )
            .await?;
        all(rows, session_from_row)
    }

    async fn delete_user_sessions(&self, user_id: &str) -> StoreResult<Vec<Session>> {
        let rows = self
            .fetch(q(concat!("DELETE FROM sessions WHERE user_id = $1 RETURNING ", session_cols!())).bind(user_id))
            .await?;
        all(rows, session_from_row)
    }
}
