//! A directory's sign-in form (`ldap`): the login page's button, or `connection=`, shows it; its POST goes to
//! the same URL. The same rules as the local password form: one answer for a wrong login or password, the
//! lockout counted per directory entry before the bind, "busy" (429) beyond the binds in flight. A success
//! takes the transaction and goes on like any upstream's callback.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::callback::sign_in;
use super::password::locked_out_message;
use super::{page, tx};
use crate::app::AppState;
use crate::audit::Audit;
use crate::connectors::ldap::{self, Check};
use crate::store::{Connection, KindSettings, LoginTx};
use crate::web::error::{OrPage, PageError};
use crate::web::i18n::{Lang, Msg};

#[derive(Deserialize)]
pub struct DirectoryForm {
    pub username: String,
    pub password: String,
}

/// The form, with an error sentence when a try failed.
pub fn form(
    tx: &LoginTx,
    app_name: &str,
    connection: &Connection,
    lang: Lang,
    error: Option<&str>,
    username: &str,
) -> Result<Response, PageError> {
    let action = format!("/login/{}/connection/{}", tx.id, connection.identifier);
    let back = tx::pinned(tx).is_none().then(|| format!("/login/{}", tx.id));
    let ctx = minijinja::context! {
        app_name, directory => connection.display_name.clone(), action, error, username, back, here => action.clone(),
    };
    let body = crate::web::templates::render("directory.html", lang, ctx).map_err(|e| PageError::internal(lang, &e))?;
    let mut response = Html(body).into_response();
    // It echoes the login typed: never kept by a cache.
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /login/{tx}/connection/{identifier}`.
pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((tx_id, identifier)): Path<(String, String)>,
    Form(input): Form<DirectoryForm>,
) -> Response {
    let result = async {
        let tx = tx::load(&app, &headers, &tx_id, Lang::pick(None, &headers)).await?;
        let lang = tx::lang_of(&tx, &headers);
        let (client, connections) = page::client_and_connections(&app, &tx, lang).await?;
        let pinned_elsewhere = tx::pinned(&tx).is_some_and(|p| p != identifier);
        let connection = connections
            .into_iter()
            .find(|c| c.identifier == identifier && matches!(c.settings, KindSettings::Ldap(_)))
            .filter(|_| !pinned_elsewhere)
            .ok_or_else(|| PageError::bad_request(lang, Msg::ConnectionNotEnabled))?;
        let KindSettings::Ldap(settings) = &connection.settings else {
            return Err(PageError::bad_request(lang, Msg::ConnectionNotEnabled));
        };
        // The form was shown for this transaction and this directory (the GET that shows it records the
        // connection): what follows a success — the bind step, the session's amr, the grant's origin — reads
        // the transaction's connection, so a POST to another directory than the transaction went to is refused.
        if tx.connection.as_deref() != Some(identifier.as_str()) {
            tracing::warn!(connection = %identifier, "directory form posted for a transaction that went elsewhere");
            return Err(tx::stale_state(lang));
        }
        let check = ldap::sign_in(&app, &connection, settings, &input.username, &input.password).await.or_page(lang)?;
        // A loop of POSTs answered "busy" or "locked" writes no audit row each (the lockout's first only).
        let audited = match &check {
            Check::Busy => false,
            Check::LockedOut { first, .. } => *first,
            _ => true,
        };
        let (status, metric, why, message) = match check {
            Check::Valid(identity) => {
                let browser = tx::browser_hash(&headers).unwrap_or_default();
                let tx = app
                    .store
                    .take_login_tx_for(&tx.id, app.now(), &browser, &identifier)
                    .await
                    .or_page(lang)?
                    .ok_or_else(|| tx::stale_state(lang))?;
                let identity = crate::connectors::with_trust(&connection, *identity);
                return sign_in(&app, tx, &connection, identity, lang).await;
            }
            Check::Invalid => {
                (StatusCode::OK, "bad_password", "wrong login or password".to_string(), lang.t(Msg::BadPassword).to_string())
            }
            Check::LockedOut { retry_after, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "locked_out",
                "too many failed attempts".to_string(),
                locked_out_message(lang, retry_after),
            ),
            Check::Busy => (
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                "too many password checks in flight".to_string(),
                lang.t(Msg::Busy).to_string(),
            ),
            Check::Unavailable(e) => {
                tracing::warn!(connection = %identifier, error = %crate::util::loggable(&e.to_string()), "directory sign-in failed");
                (
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    crate::util::loggable(&e.to_string()),
                    lang.fmt(Msg::DirectoryUnavailable, &[("provider", &connection.display_name)]),
                )
            }
        };
        app.metrics.login(&tx.client_id, &identifier, metric);
        if audited {
            Audit::new("login.failure").client(&tx.client_id).connection(&identifier).reason(&why).write(&app).await;
        }
        let mut page = form(&tx, &client.name, &connection, lang, Some(&message), &input.username)?;
        *page.status_mut() = status;
        Ok(page)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
