//! [`AppStore`] on SQL: `apps`, and `app_connections` (one row per association, `ord` keeping their order).

use super::db::{Row, q};
use async_trait::async_trait;

use super::connections::{connection_cols, connection_from_row};
use super::{SqlStore, all, col, limit_plus_one, one, paginate, strings_col, to_json};
use crate::store::{App, AppKind, AppStore, AppUpdate, Connection, Page, StoreError, StoreResult, Timestamp};

macro_rules! app_cols {
    () => {
        "client_id, name, kind, client_secret_hash, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, \
         created_at, updated_at"
    };
}

fn app_from_row(row: &Row) -> StoreResult<App> {
    let kind: String = col(row, "kind")?;
    Ok(App {
        client_id: col(row, "client_id")?,
        name: col(row, "name")?,
        kind: AppKind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("unknown app kind {kind:?}")))?,
        client_secret_hash: col(row, "client_secret_hash")?,
        redirect_uris: strings_col(row, "redirect_uris")?,
        post_logout_redirect_uris: strings_col(row, "post_logout_redirect_uris")?,
        backchannel_logout_uri: col(row, "backchannel_logout_uri")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

#[async_trait]
impl AppStore for SqlStore {
    async fn create_app(&self, app: App) -> StoreResult<App> {
        self.exec(
            q(concat!("INSERT INTO apps (", app_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
                .bind(app.client_id.as_str())
                .bind(app.name.as_str())
                .bind(app.kind.as_str())
                .bind(app.client_secret_hash.as_deref())
                .bind(to_json(&app.redirect_uris)?)
                .bind(to_json(&app.post_logout_redirect_uris)?)
                .bind(app.backchannel_logout_uri.as_deref())
                .bind(app.created_at)
                .bind(app.updated_at),
        )
        .await?;
        Ok(app)
    }

    async fn get_app(&self, client_id: &str) -> StoreResult<Option<App>> {
        self.read_through(
            |cache| cache.app(client_id).map(Some),
            async {
                let sql = concat!("SELECT ", app_cols!(), " FROM apps WHERE client_id = $1");
                one(self.fetch(q(sql).bind(client_id)).await?, app_from_row)
            },
            |cache, read_at, app| {
                if let Some(app) = app {
                    cache.keep_app(read_at, app);
                }
            },
        )
        .await
    }

    async fn list_apps(&self, limit: u32, cursor: Option<&str>) -> StoreResult<Page<App>> {
        let query = match cursor {
            None => {
                q(concat!("SELECT ", app_cols!(), " FROM apps ORDER BY client_id LIMIT $1")).bind(limit_plus_one(limit))
            }
            Some(after) => {
                q(concat!("SELECT ", app_cols!(), " FROM apps WHERE client_id > $1 ORDER BY client_id LIMIT $2"))
                    .bind(after)
                    .bind(limit_plus_one(limit))
            }
        };
        let items = all(self.fetch(query).await?, app_from_row)?;
        Ok(paginate(items, limit, |app| app.client_id.clone()))
    }

    async fn update_app(&self, client_id: &str, update: AppUpdate, now: Timestamp) -> StoreResult<App> {
        let redirect_uris = update.redirect_uris.as_ref().map(to_json).transpose()?;
        let post_logout = update.post_logout_redirect_uris.as_ref().map(to_json).transpose()?;
        let rows = self
            .fetch(
                q(concat!(
                    "UPDATE apps SET name = COALESCE($2, name), redirect_uris = COALESCE($3, redirect_uris), ",
                    "post_logout_redirect_uris = COALESCE($4, post_logout_redirect_uris), ",
                    "client_secret_hash = COALESCE($5, client_secret_hash), updated_at = $6, ",
                    "backchannel_logout_uri = CASE WHEN $7 = 1 THEN $8 ELSE backchannel_logout_uri END ",
                    "WHERE client_id = $1 RETURNING ",
                    app_cols!()
                ))
                .bind(client_id)
                .bind(update.name)
                .bind(redirect_uris)
                .bind(post_logout)
                .bind(update.client_secret_hash)
                .bind(now)
                .bind(i64::from(update.backchannel_logout_uri.is_some()))
                .bind(update.backchannel_logout_uri.flatten()),
            )
            .await?;
        one(rows, app_from_row)?.ok_or(StoreError::NotFound)
    }

    async fn delete_app(&self, client_id: &str) -> StoreResult<()> {
        // The foreign key cascades too; saying it here keeps the rule visible.
        let statements = vec![
            q("DELETE FROM apps WHERE client_id = $1").bind(client_id),
            q("DELETE FROM app_connections WHERE client_id = $1").bind(client_id),
        ];
        self.transaction(statements, true).await.map(|_| ())
    }

    async fn associate(&self, client_id: &str, identifier: &str, order: Option<i64>) -> StoreResult<()> {
        // A missing app or connection fails the foreign key: NotFound.
        self.exec(
            q(concat!(
                "INSERT INTO app_connections (client_id, identifier, ord, position) ",
                "SELECT $1, $2, COALESCE(MAX(ord), 0) + 1, COALESCE($3, 0) FROM app_connections WHERE client_id = $1 ",
                "ON CONFLICT (client_id, identifier) DO UPDATE SET position = COALESCE($3, app_connections.position)"
            ))
            .bind(client_id)
            .bind(identifier)
            .bind(order),
        )
        .await
        .map(|_| ())
    }

    async fn dissociate(&self, client_id: &str, identifier: &str) -> StoreResult<()> {
        let deleted = self
            .exec(
                q("DELETE FROM app_connections WHERE client_id = $1 AND identifier = $2")
                    .bind(client_id)
                    .bind(identifier),
            )
            .await?;
        if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn app_connections(&self, client_id: &str) -> StoreResult<Vec<Connection>> {
        self.read_through(
            |cache| cache.app_connections(client_id),
            async {
                let sql = concat!(
                    "SELECT ",
                    connection_cols!(),
                    " FROM connections JOIN (SELECT identifier AS linked, ord, position FROM app_connections ",
                    "WHERE client_id = $1) a ON a.linked = connections.identifier ",
                    "ORDER BY a.position, a.ord, connections.identifier"
                );
                all(self.fetch(q(sql).bind(client_id)).await?, |r| connection_from_row(r, &self.sealer))
            },
            |cache, read_at, connections| cache.keep_app_connections(read_at, client_id, connections),
        )
        .await
    }

    async fn connection_apps(&self, identifier: &str) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch(q("SELECT client_id FROM app_connections WHERE identifier = $1 ORDER BY client_id").bind(identifier))
            .await?;
        rows.iter().map(|row| col(row, "client_id")).collect()
    }
}
