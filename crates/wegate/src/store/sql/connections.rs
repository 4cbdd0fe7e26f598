//! [`ConnectionStore`] on SQL: `connections`, secrets sealed; the state merged by compare-and-swap.

use super::db::{Row, each_bound_to, q};
use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{SqlStore, all, col, json_col, limit_plus_one, one, paginate, to_json};
use crate::store::{
    Connection, ConnectionStore, DOMAIN_VERIFICATION, ICON_URL, KindSettings, Page, StoreError, StoreResult,
    TRUST_EMAIL, Timestamp,
};

macro_rules! connection_cols {
    () => {
        "identifier, kind, display_name, login_only, association, settings, secrets, state, created_at, updated_at"
    };
}
/// Also read by the app store (an app's connections).
pub(super) use connection_cols;

pub(super) fn connection_from_row(row: &Row, sealer: &crate::store::seal::Sealer) -> StoreResult<Connection> {
    let identifier: String = col(row, "identifier")?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Backend(format!("connection {identifier}: stored {what} unusable: {e}"))
    };
    let kind: String = col(row, "kind")?;
    let mut fields = object(json_col(row, "settings")?);
    let secrets: Value = serde_json::from_str(&sealer.open(col(row, "secrets")?, &secrets_row(&identifier))?)
        .map_err(|e| corrupt("secrets", &e))?;
    fields.extend(object(secrets));
    let domain_verification = match fields.remove(DOMAIN_VERIFICATION) {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value(v).map_err(|e| corrupt("domain_verification", &e))?),
    };
    let trust_email = match fields.remove(TRUST_EMAIL) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(corrupt("trust_email", &other)),
    };
    let icon_url = match fields.remove(ICON_URL) {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) => Some(url),
        Some(other) => return Err(corrupt("icon_url", &other)),
    };
    let settings = KindSettings::parse(&kind, &fields).map_err(|e| corrupt("settings", &e))?;
    let association = serde_json::from_value(json_col(row, "association")?).map_err(|e| corrupt("association", &e))?;
    Ok(Connection {
        display_name: col(row, "display_name")?,
        login_only: col::<i64>(row, "login_only")? != 0,
        association,
        settings,
        domain_verification,
        trust_email,
        icon_url,
        state: json_col(row, "state")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        identifier,
    })
}

/// The row a connection's sealed secrets are bound to.
pub(super) fn secrets_row(identifier: &str) -> String {
    format!("connections.secrets|{identifier}")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// (settings column, secrets column) of a connection: the non-secret fields with the domain file, and the
/// secret ones.
fn columns(connection: &Connection) -> (Value, Value) {
    let (mut settings, secrets) = connection.settings.split();
    if let Some(file) = &connection.domain_verification {
        settings.insert(DOMAIN_VERIFICATION.into(), serde_json::json!(file));
    }
    if connection.trust_email {
        settings.insert(TRUST_EMAIL.into(), Value::Bool(true));
    }
    if let Some(icon) = &connection.icon_url {
        settings.insert(ICON_URL.into(), Value::String(icon.clone()));
    }
    (Value::Object(settings), Value::Object(secrets))
}

#[async_trait]
impl ConnectionStore for SqlStore {
    async fn create_connection(&self, connection: Connection) -> StoreResult<Connection> {
        let (settings, secrets) = columns(&connection);
        self.exec(
            q(concat!(
                "INSERT INTO connections (",
                connection_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(connection.identifier.as_str())
            .bind(connection.kind())
            .bind(connection.display_name.as_str())
            .bind(i64::from(connection.login_only))
            .bind(to_json(&connection.association)?)
            .bind(to_json(&settings)?)
            .bind(self.sealer.seal(&to_json(&secrets)?, &secrets_row(&connection.identifier))?)
            .bind(to_json(&connection.state)?)
            .bind(connection.created_at)
            .bind(connection.updated_at),
        )
        .await?;
        Ok(connection)
    }

    async fn get_connection(&self, identifier: &str) -> StoreResult<Option<Connection>> {
        self.read_through(
            |cache| cache.connection(identifier).map(Some),
            async {
                let sql = concat!("SELECT ", connection_cols!(), " FROM connections WHERE identifier = $1");
                one(self.fetch(q(sql).bind(identifier)).await?, |r| connection_from_row(r, &self.sealer))
            },
            |cache, read_at, connection| {
                if let Some(connection) = connection {
                    cache.keep_connection(read_at, connection);
                }
            },
        )
        .await
    }

    async fn list_connections(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<Connection>> {
        let query = match cursor {
            None => q(concat!("SELECT ", connection_cols!(), " FROM connections ORDER BY identifier LIMIT $1"))
                .bind(limit_plus_one(limit)),
            Some(after) => q(concat!(
                "SELECT ",
                connection_cols!(),
                " FROM connections WHERE identifier > $1 ORDER BY identifier LIMIT $2"
            ))
            .bind(after)
            .bind(limit_plus_one(limit)),
        };
        let items = all(self.fetch(query).await?, |r| connection_from_row(r, &self.sealer))?;
        Ok(paginate(items, limit, |c| c.identifier.clone()))
    }

    async fn update_connection(&self, connection: Connection) -> StoreResult<Connection> {
        let (settings, secrets) = columns(&connection);
        let rows = self
            .fetch(
                q(concat!(
                    "UPDATE connections SET display_name = $2, login_only = $3, association = $4, settings = $5, ",
                    "secrets = $6, updated_at = $7 WHERE identifier = $1 AND kind = $8 RETURNING ",
                    connection_cols!()
                ))
                .bind(connection.identifier.as_str())
                .bind(connection.display_name.as_str())
                .bind(i64::from(connection.login_only))
                .bind(to_json(&connection.association)?)
                .bind(to_json(&settings)?)
                .bind(self.sealer.seal(&to_json(&secrets)?, &secrets_row(&connection.identifier))?)
                .bind(connection.updated_at)
                .bind(connection.kind()),
            )
            .await?;
        match one(rows, |r| connection_from_row(r, &self.sealer))? {
            Some(updated) => Ok(updated),
            // The kind never changes: settings of another kind would not parse back.
            None if self.get_connection(&connection.identifier).await?.is_some() => {
                Err(StoreError::Conflict("kind".into()))
            }
            None => Err(StoreError::NotFound),
        }
    }

    async fn merge_connection_state(&self, identifier: &str, patch: Value, now: Timestamp) -> StoreResult<()> {
        let Value::Object(patch) = patch else {
            return Err(StoreError::Backend("connection state patch must be a JSON object".into()));
        };
        self.change_state(identifier, now, |state| {
            for (key, value) in &patch {
                state.insert(key.clone(), value.clone());
            }
        })
        .await
    }

    async fn claim_connection_state(
        &self,
        identifier: &str,
        key: &str,
        value: Value,
        now: Timestamp,
    ) -> StoreResult<Value> {
        self.change_state(identifier, now, |state| match state.get(key) {
            Some(held) if !held.is_null() => held.clone(),
            _ => {
                state.insert(key.to_string(), value.clone());
                value.clone()
            }
        })
        .await
    }

    async fn delete_connection(&self, identifier: &str) -> StoreResult<()> {
        let statements = each_bound_to(
            &[
                "DELETE FROM connections WHERE identifier = $1",
                "DELETE FROM app_connections WHERE identifier = $1",
                "DELETE FROM authorized_corps WHERE connection = $1",
            ],
            identifier,
        );
        self.transaction(statements, true).await.map(|_| ())
    }
}

impl SqlStore {
    /// Applies `change` to a connection's state by compare-and-swap on the stored text: portable, and no
    /// lock is held while changing. A lost race re-reads and applies `change` again.
    async fn change_state<R>(
        &self,
        identifier: &str,
        now: Timestamp,
        change: impl Fn(&mut Map<String, Value>) -> R,
    ) -> StoreResult<R> {
        for _ in 0..32 {
            let rows = self.fetch(q("SELECT state FROM connections WHERE identifier = $1").bind(identifier)).await?;
            let Some(row) = rows.first() else {
                return Err(StoreError::NotFound);
            };
            let current: String = col(row, "state")?;
            let mut state = match serde_json::from_str::<Value>(&current) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            let result = change(&mut state);
            let swapped = self
                .exec(
                    q("UPDATE connections SET state = $2, updated_at = $3 WHERE identifier = $1 AND state = $4")
                        .bind(identifier)
                        .bind(to_json(&state)?)
                        .bind(now)
                        .bind(current),
                )
                .await?;
            if swapped == 1 {
                return Ok(result);
            }
            tokio::task::yield_now().await;
        }
        Err(StoreError::Backend("connection state kept changing during an update".into()))
    }
}
