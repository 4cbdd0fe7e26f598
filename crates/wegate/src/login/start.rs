//! A button of the login page: the transaction records the connection chosen, and the browser goes to
//! WeCom (the connector's login URL, with the transaction id as `state`).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::finalize::fail;
use super::outcome::Failure;
use super::tx;
use crate::app::{App, AppState};
use crate::connectors;
use crate::oidc::redirect::redirect;
use crate::store::{Connection, LoginTx};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

/// `GET /login/{tx}/connection/{identifier}`.
pub async fn start_connection(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((tx_id, identifier)): Path<(String, String)>,
) -> Response {
    let result = async {
        let mut tx = tx::load(&app, &headers, &tx_id, Lang::pick(None, &headers)).await?;
        let lang = tx::lang_of(&tx, &headers);
        let connections = app.store.app_connections(&tx.client_id).await.or_page(lang)?;
        // A login the app pinned to one connection goes through that one only.
        let pinned_elsewhere = tx::pinned(&tx).is_some_and(|p| p != identifier);
        let Some(connection) =
            connections.into_iter().find(|c| c.identifier == identifier).filter(|_| !pinned_elsewhere)
        else {
            return Err(PageError::bad_request(lang, Msg::ConnectionNotEnabled));
        };
        tx.connection = Some(connection.identifier.clone());
        app.store.update_login_tx(&tx).await.or_page(lang)?;
        start_login(&app, &tx, &connection, lang).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Sends the browser to the connection's upstream login for this transaction.
pub async fn start_login(app: &App, tx: &LoginTx, connection: &Connection, lang: Lang) -> Result<Response, PageError> {
    if !connectors::has_browser_login(&connection.settings) {
        return Err(PageError::bad_request(lang, Msg::MobileOnly));
    }
    let callback = app.url(&format!("/connections/{}/callback", connection.identifier));
    // WeCom's QR page takes `lang` (zh, en): set it only when the app asked for a language.
    let wecom_lang =
        tx.ui_locales.as_deref().and_then(|l| l.split_whitespace().find_map(Lang::from_tag)).map(Lang::short);
    let request = connectors::LoginRequest { state: &tx.id, callback: &callback, lang: wecom_lang };
    match connectors::login_url(app, connection, request).await {
        Ok(url) => Ok(redirect(&url)),
        Err(e) => {
            let failure = Failure::from_connector(&e).on(connection.kind());
            Err(fail(app, tx, &connection.identifier, &failure, None, lang).await)
        }
    }
}
