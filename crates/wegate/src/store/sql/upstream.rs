//! [`UpstreamStore`] on SQL: `upstream_tokens`, `leases`, `suite_tickets`, `authorized_corps` (permanent
//! codes, tokens and tickets sealed) and `callback_keys`; every rule one upsert or compare-and-delete.

use super::db::{Row, q};
use async_trait::async_trait;

use super::{SqlStore, all, col, one};
use crate::store::{AuthorizedCorp, CachedToken, StoreResult, SuiteTicket, Timestamp, UpstreamStore};

macro_rules! corp_cols {
    () => {
        "connection, corp_id, corp_name, agent_id, permanent_code, status, created_at, updated_at"
    };
}

fn corp_from_row(row: &Row, sealer: &crate::store::seal::Sealer) -> StoreResult<AuthorizedCorp> {
    Ok(AuthorizedCorp {
        connection: col(row, "connection")?,
        corp_id: col(row, "corp_id")?,
        corp_name: col(row, "corp_name")?,
        agent_id: col(row, "agent_id")?,
        permanent_code: {
            let row_name = permanent_code_row(&col::<String>(row, "connection")?, &col::<String>(row, "corp_id")?);
            col::<Option<String>>(row, "permanent_code")?.map(|c| sealer.open(c, &row_name)).transpose()?
        },
        status: col(row, "status")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

/// The rows sealed values are bound to (see `store::seal`).
pub(super) fn permanent_code_row(connection: &str, corp_id: &str) -> String {
    format!("authorized_corps.permanent_code|{connection}|{corp_id}")
}

pub(super) fn token_row(cache_key: &str) -> String {
    format!("upstream_tokens.token|{cache_key}")
}

pub(super) fn ticket_row(suite_id: &str) -> String {
    format!("suite_tickets.ticket|{suite_id}")
}

#[async_trait]
impl UpstreamStore for SqlStore {
    // --- shared upstream token cache

    async fn get_upstream_token(&self, key: &str) -> StoreResult<Option<CachedToken>> {
        let rows =
            self.fetch(q("SELECT token, expires_at FROM upstream_tokens WHERE cache_key = $1").bind(key)).await?;
        one(rows, |row| {
            let token = self.sealer.open(col(row, "token")?, &token_row(key))?;
            Ok(CachedToken { token, expires_at: col(row, "expires_at")? })
        })
    }

    async fn put_upstream_token(&self, key: &str, token: &CachedToken) -> StoreResult<()> {
        self.exec(
            q(concat!(
                "INSERT INTO upstream_tokens (cache_key, token, expires_at) VALUES ($1, $2, $3) ",
                "ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at"
            ))
            .bind(key)
            .bind(self.sealer.seal(&token.token, &token_row(key))?)
            .bind(token.expires_at),
        )
        .await
        .map(|_| ())
    }

    async fn invalidate_upstream_token(&self, key: &str, token: &str) -> StoreResult<()> {
        // Sealed values differ at every write: compare in the clear, then delete exactly the row read (another
        // instance may have stored a fresh token meanwhile).
        let rows = self.fetch(q("SELECT token FROM upstream_tokens WHERE cache_key = $1").bind(key)).await?;
        let Some(row) = rows.first() else { return Ok(()) };
        let stored: String = col(row, "token")?;
        if self.sealer.open(stored.clone(), &token_row(key))? != token {
            return Ok(());
        }
        self.exec(q("DELETE FROM upstream_tokens WHERE cache_key = $1 AND token = $2").bind(key).bind(stored))
            .await
            .map(|_| ())
    }

    async fn try_lease(&self, key: &str, owner: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool> {
        // One upsert: it inserts a free lease, or takes over an expired one or our own; a row comes back only
        // if it wrote, and then the lease is ours.
        let rows = self
            .fetch(
                q(concat!(
                    "INSERT INTO leases (lease_key, owner, expires_at) VALUES ($1, $2, $4) ",
                    "ON CONFLICT (lease_key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at ",
                    "WHERE leases.expires_at <= $3 OR leases.owner = excluded.owner RETURNING owner"
                ))
                .bind(key)
                .bind(owner)
                .bind(now)
                .bind(until),
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(col::<String>(row, "owner")? == owner),
            None => Ok(false),
        }
    }

    async fn release_lease(&self, key: &str, owner: &str) -> StoreResult<()> {
        self.exec(q("DELETE FROM leases WHERE lease_key = $1 AND owner = $2").bind(key).bind(owner)).await.map(|_| ())
    }

    // --- delegated development / service provider

    async fn put_suite_ticket(&self, ticket: SuiteTicket) -> StoreResult<()> {
        self.exec(
            q(concat!(
                "INSERT INTO suite_tickets (suite_id, ticket, received_at) VALUES ($1, $2, $3) ",
                "ON CONFLICT (suite_id) DO UPDATE SET ticket = excluded.ticket, received_at = excluded.received_at ",
                "WHERE excluded.received_at >= suite_tickets.received_at"
            ))
            .bind(ticket.suite_id.as_str())
            .bind(self.sealer.seal(&ticket.ticket, &ticket_row(&ticket.suite_id))?)
            .bind(ticket.received_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_suite_ticket(&self, suite_id: &str) -> StoreResult<Option<SuiteTicket>> {
        let rows = self
            .fetch(q("SELECT suite_id, ticket, received_at FROM suite_tickets WHERE suite_id = $1").bind(suite_id))
            .await?;
        one(rows, |row| {
            Ok(SuiteTicket {
                suite_id: col(row, "suite_id")?,
                ticket: self.sealer.open(col(row, "ticket")?, &ticket_row(suite_id))?,
                received_at: col(row, "received_at")?,
            })
        })
    }

    async fn upsert_authorized_corp(&self, corp: AuthorizedCorp) -> StoreResult<()> {
        self.exec(
            q(concat!(
                "INSERT INTO authorized_corps (",
                corp_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ",
                "ON CONFLICT (connection, corp_id) DO UPDATE SET corp_name = excluded.corp_name, ",
                "agent_id = excluded.agent_id, permanent_code = excluded.permanent_code, status = excluded.status, ",
                "updated_at = excluded.updated_at"
            ))
            .bind(corp.connection.as_str())
            .bind(corp.corp_id.as_str())
            .bind(corp.corp_name.as_deref())
            .bind(corp.agent_id)
            .bind(
                corp.permanent_code
                    .as_deref()
                    .map(|c| self.sealer.seal(c, &permanent_code_row(&corp.connection, &corp.corp_id)))
                    .transpose()?,
            )
            .bind(corp.status.as_str())
            .bind(corp.created_at)
            .bind(corp.updated_at),
        )
        .await
        .map(|_| ())
    }

    async fn get_authorized_corp(&self, connection: &str, corp_id: &str) -> StoreResult<Option<AuthorizedCorp>> {
        let rows = self
            .fetch(
                q(concat!("SELECT ", corp_cols!(), " FROM authorized_corps WHERE connection = $1 AND corp_id = $2"))
                    .bind(connection)
                    .bind(corp_id),
            )
            .await?;
        one(rows, |r| corp_from_row(r, &self.sealer))
    }

    async fn list_authorized_corps(&self, connection: &str) -> StoreResult<Vec<AuthorizedCorp>> {
        let rows = self
            .fetch(
                q(concat!("SELECT ", corp_cols!(), " FROM authorized_corps WHERE connection = $1 ORDER BY corp_id"))
                    .bind(connection),
            )
            .await?;
        all(rows, |r| corp_from_row(r, &self.sealer))
    }

    async fn remember_callback(&self, key: &str, expires_at: Timestamp) -> StoreResult<bool> {
        let inserted = self
            .exec(
                q(
                    "INSERT INTO callback_keys (callback_key, expires_at) VALUES ($1, $2) ON CONFLICT (callback_key) DO NOTHING",
                )
                .bind(key)
                .bind(expires_at),
            )
            .await?;
        Ok(inserted == 1)
    }

    async fn forget_callback(&self, key: &str) -> StoreResult<()> {
        self.exec(q("DELETE FROM callback_keys WHERE callback_key = $1").bind(key)).await.map(|_| ())
    }
}
