//! Sealing anew, at start, the values of sealed columns that are not sealed for their row: plain ones
//! (stored before `WEGATE_ENCRYPTION_KEY` was set) and `enc:v1` ones (sealed before values were bound to
//! their row). After this pass the store opens nothing but bound values (`store::seal`).

use super::SqlStore;
use super::connections::secrets_row;
use super::db::q;
use super::upstream::{permanent_code_row, ticket_row, token_row};
use crate::store::seal::Sealer;
use crate::store::{StoreError, StoreResult};

/// A sealed column: its table, the columns that name a row, and the row name its values are bound to.
struct SealedColumn {
    table: &'static str,
    keys: &'static [&'static str],
    column: &'static str,
    row: fn(&[String]) -> String,
}

const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "signing_keys",
        keys: &["kid"],
        column: "private_pem",
        row: |k| format!("signing_keys.private_pem|{}", k[0]),
    },
    SealedColumn { table: "connections", keys: &["identifier"], column: "secrets", row: |k| secrets_row(&k[0]) },
    SealedColumn {
        table: "authorized_corps",
        keys: &["connection", "corp_id"],
        column: "permanent_code",
        row: |k| permanent_code_row(&k[0], &k[1]),
    },
    SealedColumn { table: "upstream_tokens", keys: &["cache_key"], column: "token", row: |k| token_row(&k[0]) },
    SealedColumn { table: "suite_tickets", keys: &["suite_id"], column: "ticket", row: |k| ticket_row(&k[0]) },
];

impl SqlStore {
    /// Seals every value of a sealed column that is not sealed for its row yet; a no-op without a key.
    /// Each row is rewritten only if it still holds what was read (instances starting together on one
    /// database do not undo each other). Returns how many values were sealed.
    pub async fn seal_legacy_values(&self) -> StoreResult<u64> {
        if !self.sealer.enabled() {
            return Ok(0);
        }
        let mut sealed = 0;
        for c in SEALED {
            let keys = c.keys.join(", ");
            let select = format!(
                "SELECT {keys}, {col} FROM {table} WHERE {col} IS NOT NULL AND {col} NOT LIKE 'enc:v2:%'",
                col = c.column,
                table = c.table
            );
            for row in self.fetch(q(select)).await? {
                let key: Vec<String> =
                    c.keys.iter().map(|k| super::col::<String>(&row, k)).collect::<StoreResult<_>>()?;
                let stored: String = super::col(&row, c.column)?;
                if Sealer::is_sealed(&stored) {
                    continue;
                }
                let name = (c.row)(&key);
                let plain = self
                    .sealer
                    .open_legacy(stored.clone(), &name)
                    .map_err(|e| StoreError::Backend(format!("sealing {}.{} anew: {e}", c.table, c.column)))?;
                let conditions: Vec<String> =
                    c.keys.iter().enumerate().map(|(i, k)| format!("{k} = ${}", i + 3)).collect();
                let update = format!(
                    "UPDATE {table} SET {col} = $1 WHERE {col} = $2 AND {conditions}",
                    table = c.table,
                    col = c.column,
                    conditions = conditions.join(" AND ")
                );
                let mut statement = q(update).bind(self.sealer.seal(&plain, &name)?).bind(stored.as_str());
                for k in &key {
                    statement = statement.bind(k.as_str());
                }
                sealed += self.exec(statement).await?;
            }
        }
        if sealed > 0 {
            tracing::info!(
                sealed,
                "values stored before WEGATE_ENCRYPTION_KEY (or before rows were bound) sealed anew"
            );
        }
        Ok(sealed)
    }
}
