//! The login transaction as the browser steps see it: read it back, refuse an expired one and one
//! started in another browser (login CSRF), and the page for a state that is no good.

use axum::http::HeaderMap;

use crate::app::App;
use crate::store::LoginTx;
use crate::util::{secure_eq, sha256_hex};
use crate::web::cookies;
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

/// The key in a transaction's data naming the connection the app asked for with `connection=`: the login
/// then goes through that connection only — no other button, no password form (CONTRACT.md).
pub const PINNED: &str = "pinned_connection";

/// The connection the app pinned the transaction to, if it did.
pub fn pinned(tx: &LoginTx) -> Option<&str> {
    tx.data.get(PINNED).and_then(serde_json::Value::as_str)
}

/// Loads a transaction for a browser step, refusing expired ones and ones started in another browser.
pub async fn load(app: &App, headers: &HeaderMap, tx_id: &str, lang: Lang) -> Result<LoginTx, PageError> {
    let tx = app
        .store
        .get_login_tx(tx_id, app.now())
        .await
        .or_page(lang)?
        .ok_or_else(|| PageError::bad_request(lang, Msg::TxExpired).hint(Msg::SignInAgain))?;
    check_browser(headers, &tx, lang)?;
    Ok(tx)
}

/// The hash of the browser's binding cookie, as transactions store it.
pub fn browser_hash(headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, cookies::BROWSER).map(sha256_hex)
}

/// The browser finishing a login must be the one that started it (login CSRF protection).
pub fn check_browser(headers: &HeaderMap, tx: &LoginTx, lang: Lang) -> Result<(), PageError> {
    let ok =
        cookies::get(headers, cookies::BROWSER).is_some_and(|value| secure_eq(&sha256_hex(value), &tx.browser_hash));
    if ok {
        return Ok(());
    }
    tracing::warn!(client_id = %tx.client_id, "login step from a browser other than the one that started it");
    Err(PageError::bad_request(lang, Msg::OtherBrowser).hint(Msg::OtherBrowserHint))
}

/// A `state` that names no usable transaction: unknown, expired, used, or for another connection.
pub fn stale_state(lang: Lang) -> PageError {
    PageError::bad_request(lang, Msg::StaleState).hint(Msg::SignInAgain)
}

/// The page language of a transaction's steps: its `ui_locales` first.
pub fn lang_of(tx: &LoginTx, headers: &HeaderMap) -> Lang {
    Lang::pick(tx.ui_locales.as_deref(), headers)
}
