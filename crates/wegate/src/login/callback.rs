//! The browser's return from WeCom (`/connections/{identifier}/callback?code&state`). The `state` is the
//! login transaction's id: unguessable, bound to the browser, and single-use — a missing, expired, reused
//! or foreign state gets a page and changes nothing. The transaction is taken by one statement that checks
//! the browser and the connection too, so a callback from another browser or for another connection cannot
//! consume it; only when nothing was taken is it read, to say why.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::finalize::{SignedIn, complete_login, fail};
use super::outcome::Failure;
use super::{bind, tx};
use crate::accounts::{self, Resolution, UpstreamIdentity};
use crate::app::{App, AppState};
use crate::connectors::{self, ConnectorError};
use crate::store::{Connection, LoginTx, Timestamp};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

#[derive(Deserialize, Default)]
struct CallbackQuery {
    code: Option<String>,
    /// The service-provider login (`3rd_qrConnect`) names its code `auth_code`.
    auth_code: Option<String>,
    state: Option<String>,
}

/// `GET /connections/{identifier}/callback`.
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query: CallbackQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    handle(&app, &headers, &identifier, query).await.unwrap_or_else(IntoResponse::into_response)
}

async fn handle(app: &App, headers: &HeaderMap, identifier: &str, query: CallbackQuery) -> Result<Response, PageError> {
    let lang = Lang::pick(None, headers);
    let Some(state) = query.state.filter(|s| !s.is_empty()) else {
        tracing::warn!(connection = identifier, "callback without state");
        return Err(tx::stale_state(lang));
    };
    let now = app.now();
    // The usual callback takes its transaction in one statement; anything else is told apart afterwards.
    let taken = match tx::browser_hash(headers) {
        Some(browser_hash) => {
            app.store.take_login_tx_for(&state, now, &browser_hash, identifier).await.or_page(lang)?
        }
        None => None,
    };
    let tx = match taken {
        Some(tx) => tx,
        None => return Err(why_not_taken(app, headers, identifier, &state, now, lang).await),
    };
    let lang = tx::lang_of(&tx, headers);
    let Some(connection) = app.store.get_connection(identifier).await.or_page(lang)? else {
        return Err(PageError::bad_request(lang, Msg::ConnectionRemoved));
    };
    let Some(code) = query.code.or(query.auth_code).filter(|c| !c.is_empty()) else {
        let failure = Failure::from_connector(&ConnectorError::Cancelled);
        return Err(fail(app, &tx, identifier, &failure, None, lang).await);
    };
    match connectors::exchange(app, &connection, &code).await {
        Ok(identity) => sign_in(app, tx, &connection, identity, lang).await,
        Err(e) => Err(fail(app, &tx, identifier, &Failure::from_connector(&e).on(connection.kind()), None, lang).await),
    }
}

/// Why a callback's transaction could not be taken: the page for the first check it fails.
async fn why_not_taken(
    app: &App,
    headers: &HeaderMap,
    identifier: &str,
    state: &str,
    now: Timestamp,
    lang: Lang,
) -> PageError {
    let tx = match app.store.get_login_tx(state, now).await.or_page(lang) {
        Ok(Some(tx)) => tx,
        Ok(None) => {
            tracing::warn!(connection = identifier, "callback with an unknown, expired or used state");
            return tx::stale_state(lang);
        }
        Err(page) => return page,
    };
    let lang = tx::lang_of(&tx, headers);
    if let Err(page) = tx::check_browser(headers, &tx, lang) {
        return page;
    }
    if tx.connection.as_deref() != Some(identifier) {
        tracing::warn!(connection = identifier, expected = ?tx.connection, "callback state belongs to another connection");
    }
    // Or another request took it between the two statements.
    tx::stale_state(lang)
}

/// Applies the account rules and ends the login, or asks to bind.
async fn sign_in(
    app: &App,
    tx: LoginTx,
    connection: &Connection,
    identity: UpstreamIdentity,
    lang: Lang,
) -> Result<Response, PageError> {
    match accounts::resolve(app, connection, &identity).await.or_page(lang)? {
        Resolution::User(user) => {
            complete_login(app, tx, SignedIn::upstream(&user.id, connection, &identity), lang).await
        }
        Resolution::Refused(refusal) => {
            let failure = Failure::from_refusal(refusal);
            Err(fail(app, &tx, &connection.identifier, &failure, Some(&identity.reference()), lang).await)
        }
        Resolution::NeedsBinding { may_create } => bind::ask(app, tx, &identity, may_create, lang).await,
    }
}
