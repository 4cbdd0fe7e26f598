//! A button of the login page: the transaction records the connection chosen, and the browser goes to
//! the upstream (the connector's start, with the transaction id as `state`; what the connector keeps for
//! the callback — a PKCE verifier, a nonce — is stored in the transaction under [`CARRY`]).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Response};

use super::finalize::fail;
use super::outcome::Failure;
use super::tx;
use crate::app::{App, AppState};
use crate::connectors::{self, Start};
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

/// Where a transaction keeps what its connector's start handed over for the callback.
pub const CARRY: &str = "upstream_carry";

/// Our callback URL for a connection: where the upstream sends the browser back.
pub fn callback_url(app: &App, connection: &Connection) -> String {
    app.url(&format!("/connections/{}/callback", connection.identifier))
}

/// Sends the browser to the connection's upstream login for this transaction.
pub async fn start_login(app: &App, tx: &LoginTx, connection: &Connection, lang: Lang) -> Result<Response, PageError> {
    if !connectors::has_browser_login(&connection.settings) {
        return Err(PageError::bad_request(lang, Msg::MobileOnly));
    }
    let callback = callback_url(app, connection);
    // Upstream pages take a language (zh, en): set it only when the app asked for one.
    let upstream_lang =
        tx.ui_locales.as_deref().and_then(|l| l.split_whitespace().find_map(Lang::from_tag)).map(Lang::short);
    let request = connectors::StartRequest { state: &tx.id, callback: &callback, lang: upstream_lang };
    match connectors::start(app, connection, request).await {
        Ok(Start::Redirect { url, carry: None }) => Ok(redirect(&url)),
        Ok(Start::Redirect { url, carry: Some(carry) }) => {
            // Kept server-side, bound to this browser's transaction; only the kinds that carry pay the write.
            let mut kept = tx.clone();
            let mut data = kept.data.as_object().cloned().unwrap_or_default();
            data.insert(CARRY.into(), carry);
            kept.data = serde_json::Value::Object(data);
            app.store.update_login_tx(&kept).await.or_page(lang)?;
            Ok(redirect(&url))
        }
        Ok(Start::ClientCode { script, corp_id, client_id }) => {
            client_code_page(&script, &corp_id, &client_id, &callback, &tx.id, lang)
        }
        Ok(Start::Form) => {
            let (client, _) = super::page::client_and_connections(app, tx, lang).await?;
            super::directory::form(tx, &client.name, connection, lang, None, "")
        }
        Err(e) => {
            let failure = Failure::from_connector(&e).on(connection);
            Err(fail(app, tx, &connection.identifier, &failure, None, lang).await)
        }
    }
}

/// wegate's page inside a workplace app's browser: the app's JSAPI (allowed by its exact URL in this page's
/// CSP, and no other script but ours) gives a code, which `/static/client-code.js` takes to the callback.
fn client_code_page(
    script: &str,
    corp_id: &str,
    client_id: &str,
    callback: &str,
    state: &str,
    lang: Lang,
) -> Result<Response, PageError> {
    let Some(csp) = crate::web::csp_with_script(script) else {
        return Err(PageError::internal(lang, &"the JSAPI URL cannot go into a content security policy"));
    };
    let ctx = minijinja::context! { script, corp_id, client_id, callback, state };
    let body =
        crate::web::templates::render("client_code.html", lang, ctx).map_err(|e| PageError::internal(lang, &e))?;
    let mut response = Html(body).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    response.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}
