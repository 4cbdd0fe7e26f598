//! The browser's return from the upstream (`/connections/{identifier}/callback?code&state`, or the
//! provider's `error=`; the connector reads the answer, this file never does). The `state` is the
//! login transaction's id: unguessable, bound to the browser, and single-use — a missing, expired, reused
//! or foreign state gets a page and changes nothing. The transaction is taken by one statement that checks
//! the browser and the connection too, so a callback from another browser or for another connection cannot
//! consume it; only when nothing was taken is it read, to say why.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use super::finalize::{SignedIn, complete_login, fail};
use super::outcome::Failure;
use super::start::{CARRY, callback_url};
use super::{bind, tx};
use crate::accounts::{self, Resolution, UpstreamIdentity};
use crate::app::{App, AppState};
use crate::connectors::{self, Answer};
use crate::store::{Connection, LoginTx, Timestamp};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

/// `GET /connections/{identifier}/callback`.
pub async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    // The first of each name counts (RFC 6749 §3.1: a parameter is never sent twice).
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let mut params = BTreeMap::new();
    for (name, value) in pairs {
        params.entry(name).or_insert(value);
    }
    handle(&app, &headers, &identifier, params).await.unwrap_or_else(IntoResponse::into_response)
}

async fn handle(
    app: &App,
    headers: &HeaderMap,
    identifier: &str,
    params: BTreeMap<String, String>,
) -> Result<Response, PageError> {
    let lang = Lang::pick(None, headers);
    let Some(state) = params.get("state").filter(|s| !s.is_empty()).cloned() else {
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
    let callback = callback_url(app, &connection);
    let carry = tx.data.get(CARRY).cloned().unwrap_or_default();
    let answer = Answer { params: &params, callback: &callback, carry: &carry };
    match connectors::finish(app, &connection, &answer).await {
        Ok(identity) => sign_in(app, tx, &connection, identity, lang).await,
        Err(e) => Err(fail(app, &tx, identifier, &Failure::from_connector(&e).on(&connection), None, lang).await),
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
pub(super) async fn sign_in(
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
