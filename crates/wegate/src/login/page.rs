//! The hosted login page of a transaction: a button per browser connection of the app, and the local
//! password form.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::tx;
use crate::app::{App, AppState};
use crate::connectors::{Presence, presence};
use crate::store::{App as Client, Connection, LoginTx};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};
use crate::web::templates;

/// The browser's User-Agent (empty when absent): the connectors decide what it means for them.
pub fn user_agent(headers: &HeaderMap) -> &str {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The page, with `error` above the form when a password attempt failed (`login` refills the field).
pub fn render(
    tx: &LoginTx,
    client: &Client,
    connections: &[Connection],
    headers: &HeaderMap,
    lang: Lang,
    error: Option<&str>,
    login: &str,
) -> Result<Response, PageError> {
    let ua = user_agent(headers);
    let pinned = tx::pinned(tx);
    let buttons: Vec<_> = connections
        .iter()
        .filter(|c| presence(&c.settings, ua) == Presence::Button && pinned.is_none_or(|p| p == c.identifier))
        .map(|c| {
            minijinja::context! {
                display_name => c.display_name.clone(),
                icon => c.icon_url.clone(),
                href => format!("/login/{}/connection/{}", tx.id, c.identifier),
            }
        })
        .collect();
    // Say why a WeCom sign-in the app has is not offered here, rather than show nothing.
    let only_inside_wecom =
        buttons.is_empty() && connections.iter().any(|c| presence(&c.settings, ua) == Presence::InsideItsClientOnly);
    let ctx = minijinja::context! {
        app_name => client.name.clone(),
        connections => buttons,
        only_inside_wecom => only_inside_wecom,
        show_password => pinned.is_none(),
        password_action => format!("/login/{}/password", tx.id),
        error => error,
        login => login,
        here => format!("/login/{}", tx.id),
    };
    let body = templates::render("login.html", lang, ctx).or_page(lang)?;
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The app of a transaction and its connections, for the page.
pub async fn client_and_connections(
    app: &App,
    tx: &LoginTx,
    lang: Lang,
) -> Result<(Client, Vec<Connection>), PageError> {
    let client = app
        .store
        .get_app(&tx.client_id)
        .await
        .or_page(lang)?
        .ok_or_else(|| PageError::bad_request(lang, Msg::AppRemoved))?;
    let connections = app.store.app_connections(&client.client_id).await.or_page(lang)?;
    Ok((client, connections))
}

/// `GET /login/{tx}`: the page again (after a language switch, or the browser's back button).
pub async fn show(State(app): State<AppState>, headers: HeaderMap, Path(tx_id): Path<String>) -> Response {
    let result = async {
        let tx = tx::load(&app, &headers, &tx_id, Lang::pick(None, &headers)).await?;
        let lang = tx::lang_of(&tx, &headers);
        let (client, connections) = client_and_connections(&app, &tx, lang).await?;
        render(&tx, &client, &connections, &headers, lang, None, "")
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
